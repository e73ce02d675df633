package eventstore

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// EmbeddedConfig configures the in-process nats-server.
type EmbeddedConfig struct {
	// DataDir is Factstore's data directory; JetStream stores under DataDir/nats.
	DataDir string
	// Listen is the client listener ("host:port"); empty means in-process only.
	Listen string
	// MaxPayload bounds one message (default 32 MiB; large snapshots need it).
	MaxPayload int32
	// AllowExternalWrites lets clients of the Listen address publish and
	// manage streams. By default they may only read: subscribe to events,
	// create consumers and fetch messages. Only Factstore's in-process
	// connection appends to the ledger.
	AllowExternalWrites bool
}

// readOnlyUser is who a client of the listener is when it presents no
// credentials: it may read the ledger, never write it.
const readOnlyUser = "reader"

// inProcessCreds holds the random credentials of each embedded server's
// privileged in-process user.
var inProcessCreds sync.Map // *server.Server -> [2]string

func readOnlyPermissions() *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{"$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "_INBOX.>"},
			Deny: []string{SubjectPrefix + ">",
				"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
				"$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>", "$JS.API.STREAM.RESTORE.>",
				"$JS.API.STREAM.SNAPSHOT.>", "$JS.API.STREAM.PEER.>", "$JS.API.STREAM.LEADER.>",
				"$JS.API.META.>", "$JS.API.ACCOUNT.>", "$JS.API.SERVER.>"},
		},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}},
	}
}

// StartEmbedded starts a nats-server with JetStream file storage and
// SyncAlways: every stored message is fsynced before it is acknowledged, so an
// acknowledged event survives power loss (the default two-minute sync
// interval does not guarantee that; see nats-server#7564).
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 32 << 20
	}
	opts := &server.Options{
		ServerName:         "factstore",
		JetStream:          true,
		StoreDir:           filepath.Join(cfg.DataDir, "nats"),
		SyncAlways:         true,
		MaxPayload:         cfg.MaxPayload,
		NoSigs:             true,
		NoLog:              true,
		JetStreamMaxMemory: 256 << 20,
	}
	var creds [2]string
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		if !cfg.AllowExternalWrites {
			creds = [2]string{"factstore", nuid.Next() + nuid.Next()}
			opts.Users = []*server.User{
				{Username: creds[0], Password: creds[1]},
				{Username: readOnlyUser, Permissions: readOnlyPermissions()},
			}
			opts.NoAuthUser = readOnlyUser
		}
		host, portStr, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("eventstore: nats listen address %q: %w", cfg.Listen, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, fmt.Errorf("eventstore: nats listen port %q: %w", portStr, err)
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("eventstore: start nats-server: %w", err)
	}
	if creds[0] != "" {
		inProcessCreds.Store(ns, creds)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("eventstore: embedded nats-server did not become ready")
	}
	return ns, nil
}

// ConnectInProcess opens a client connection to an embedded server without
// going through TCP (about twice as fast for synchronous publishes).
func ConnectInProcess(ns *server.Server) (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(ns), nats.Name("factstore"), nats.MaxReconnects(-1)}
	if c, ok := inProcessCreds.Load(ns); ok {
		creds := c.([2]string)
		opts = append(opts, nats.UserInfo(creds[0], creds[1]))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("eventstore: connect in-process: %w", err)
	}
	return nc, nil
}
