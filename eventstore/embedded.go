package eventstore

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the in-process nats-server.
type EmbeddedConfig struct {
	// DataDir is Factstore's data directory; JetStream stores under DataDir/nats.
	DataDir string
	// Listen is the client listener ("host:port"); empty means in-process only.
	Listen string
	// MaxPayload bounds one message (default 32 MiB; large snapshots need it).
	MaxPayload int32
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
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
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
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("factstore"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("eventstore: connect in-process: %w", err)
	}
	return nc, nil
}
