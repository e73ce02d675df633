// Package app wires Factstore's parts into a running node: the NATS
// connection (embedded server or an existing cluster), the ledger stream, the
// signing key, the writer, the read models and the HTTP API. The factstore
// command and the in-process tests both start nodes through it.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/httpapi"
	"github.com/factstore/factstore/ledger"
	"github.com/factstore/factstore/projections"
)

// Config says where a node keeps its data and how it reaches NATS.
type Config struct {
	// DataDir holds the signing key, the read models and, when embedded, the
	// JetStream store (DataDir/nats).
	DataDir string
	// NATSListen is the embedded server's client address ("" = in-process only).
	NATSListen string
	// NATSURL, if set, uses an existing NATS server or cluster instead.
	NATSURL string
	// WriterInFlight overrides how many batches the writer pipelines on the
	// embedded server (0: the default, 3; 1: no pipelining).
	WriterInFlight int
	// Replicas is the stream's replica count when this node creates it.
	Replicas int
	// Stream is the ledger stream name (default eventstore.DefaultStream).
	Stream string
	// MaxBodyBytes bounds JSON request bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxEvidenceBytes bounds one evidence file upload (default 100 MiB).
	MaxEvidenceBytes int64
	// MaxSnapshotBytes bounds one snapshot report body (default 16 MiB).
	MaxSnapshotBytes int64
	// Logger receives logs (default slog.Default()).
	Logger *slog.Logger
}

// Conn is a connection to the ledger stream, without read models or API.
type Conn struct {
	NS     *server.Server // nil unless embedded
	NC     *nats.Conn
	JS     jetstream.JetStream
	Reader *eventstore.Reader
	Stream string
}

// Close closes the connection and stops an embedded server.
func (c *Conn) Close() {
	if c.NC != nil {
		c.NC.Close()
	}
	if c.NS != nil {
		c.NS.Shutdown()
		c.NS.WaitForShutdown()
	}
}

// formatFile records the envelope version a data directory was written with.
const formatFile = "factstore.json"

type dataFormat struct {
	EnvelopeVersion int `json:"envelopeVersion"`
}

// ErrNewerData means the data directory was written by a newer Factstore.
var ErrNewerData = errors.New("data was written by a newer Factstore (unknown envelope version); upgrade this binary")

// checkFormat refuses a data directory from a newer envelope version and
// marks a new one with ours.
func checkFormat(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, formatFile)
	raw, err := os.ReadFile(path) //nolint:gosec // operator-chosen data directory
	if errors.Is(err, os.ErrNotExist) {
		out, _ := json.Marshal(dataFormat{EnvelopeVersion: ledger.Version})
		return os.WriteFile(path, out, 0o600)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var f dataFormat
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if f.EnvelopeVersion > ledger.Version {
		return fmt.Errorf("%s: envelope version %d, this build understands %d: %w", dir, f.EnvelopeVersion, ledger.Version, ErrNewerData)
	}
	return nil
}

// Dial connects to the ledger stream: it starts the embedded server on
// cfg.DataDir, or connects to cfg.NATSURL, and ensures the stream exists.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Stream == "" {
		cfg.Stream = eventstore.DefaultStream
	}
	c := &Conn{Stream: cfg.Stream}
	var err error
	if cfg.NATSURL != "" {
		c.NC, err = nats.Connect(cfg.NATSURL, nats.Name("factstore"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", cfg.NATSURL, err)
		}
	} else {
		if c.NS, err = eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: cfg.DataDir, Listen: cfg.NATSListen}); err != nil {
			return nil, err
		}
		if c.NC, err = eventstore.ConnectInProcess(c.NS); err != nil {
			c.Close()
			return nil, err
		}
	}
	if c.JS, err = jetstream.New(c.NC); err != nil {
		c.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if _, err = eventstore.EnsureStream(ctx, c.JS, cfg.Stream, cfg.Replicas); err != nil {
		c.Close()
		return nil, err
	}
	c.Reader = eventstore.NewReader(c.JS, cfg.Stream)
	// Refuse a stream whose head was written by a newer envelope version.
	if last, err := c.Reader.LastSeq(ctx); err == nil && last > 0 {
		raw, err := c.Reader.Get(ctx, last)
		if err == nil {
			if _, err := ledger.Decode(raw); errors.Is(err, ledger.ErrUnsupportedVersion) {
				c.Close()
				return nil, fmt.Errorf("ledger head %d: %w: %w", last, err, ErrNewerData)
			}
		}
	}
	return c, nil
}

// pipelineDepth is how many batches the writer may have in flight: 3 when
// this node is the only writer (the embedded server), else 1.
func pipelineDepth(cfg Config) int {
	if cfg.NATSURL != "" || cfg.WriterInFlight == 1 {
		return 1
	}
	if cfg.WriterInFlight > 1 {
		return cfg.WriterInFlight
	}
	return 3
}

// SigningKeyPath is where a node keeps its Ed25519 signing key.
func SigningKeyPath(dataDir string) string { return filepath.Join(dataDir, "keys", "signing-key.json") }

// TrustedKeysDir holds public keys of other nodes writing to the same stream.
func TrustedKeysDir(dataDir string) string { return filepath.Join(dataDir, "keys", "trusted") }

// LoadKeyring trusts the data directory's signing key and every public key
// file (JSON, as served by /api/v1/ledger/public-keys) in TrustedKeysDir.
func LoadKeyring(dataDir string, signer *ledger.Signer) (*ledger.Keyring, error) {
	k, err := ledger.NewKeyring()
	if err != nil {
		return nil, err
	}
	if signer != nil {
		if err := k.Add(signer.Public()); err != nil {
			return nil, err
		}
	} else if s, _, err := loadSignerIfExists(dataDir); err == nil && s != nil {
		if err := k.Add(s.Public()); err != nil {
			return nil, err
		}
	}
	files, _ := filepath.Glob(filepath.Join(TrustedKeysDir(dataDir), "*.json"))
	for _, f := range files {
		if err := AddKeysFile(k, f); err != nil {
			return nil, err
		}
	}
	// A peer's key dropped into the trusted directory while we run is
	// picked up the first time one of its signatures is met.
	k.OnUnknownKey(func(string) []ledger.PublicKey { return trustedKeys(dataDir) })
	return k, nil
}

func trustedKeys(dataDir string) []ledger.PublicKey {
	files, _ := filepath.Glob(filepath.Join(TrustedKeysDir(dataDir), "*.json"))
	var out []ledger.PublicKey
	for _, f := range files {
		k, err := ledger.NewKeyring()
		if err == nil && AddKeysFile(k, f) == nil {
			out = append(out, k.Keys()...)
		}
	}
	return out
}

func loadSignerIfExists(dataDir string) (*ledger.Signer, bool, error) {
	if _, err := os.Stat(SigningKeyPath(dataDir)); err != nil {
		return nil, false, err
	}
	return ledger.LoadOrCreateSigner(SigningKeyPath(dataDir))
}

// AddKeysFile trusts the keys in a file holding one public key, a list of
// them, or {"keys": [...]}.
func AddKeysFile(k *ledger.Keyring, path string) error {
	raw, err := os.ReadFile(path) //nolint:gosec // operator-supplied key file
	if err != nil {
		return fmt.Errorf("read keys %s: %w", path, err)
	}
	var keys []ledger.PublicKey
	var wrapped struct {
		Keys []ledger.PublicKey `json:"keys"`
	}
	var one ledger.PublicKey
	switch s := strings.TrimSpace(string(raw)); {
	case strings.HasPrefix(s, "["):
		err = json.Unmarshal(raw, &keys)
	case json.Unmarshal(raw, &wrapped) == nil && len(wrapped.Keys) > 0:
		keys = wrapped.Keys
	default:
		err = json.Unmarshal(raw, &one)
		keys = []ledger.PublicKey{one}
	}
	if err != nil {
		return fmt.Errorf("read keys %s: %w", path, err)
	}
	for _, pk := range keys {
		if err := k.Add(pk); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// ReadModelPath is the bbolt file of the read models.
func ReadModelPath(dataDir string) string { return filepath.Join(dataDir, "readmodels.db") }

// Node is a running Factstore: connection, writer, read models and API.
type Node struct {
	*Conn
	Signer *ledger.Signer
	Keys   *ledger.Keyring
	Writer *eventstore.Writer
	Store  *projections.Store
	API    *httpapi.Server

	dataDir string
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start brings a node up: data directory checks, key, stream, read models
// caught up with the stream, writer, live projection and API.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Stream == "" {
		cfg.Stream = eventstore.DefaultStream
	}
	if err := checkFormat(cfg.DataDir); err != nil {
		return nil, err
	}
	signer, created, err := ledger.LoadOrCreateSigner(SigningKeyPath(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	if created {
		cfg.Logger.Info("created signing key", "keyId", signer.KeyID(), "path", SigningKeyPath(cfg.DataDir))
	}
	keys, err := LoadKeyring(cfg.DataDir, signer)
	if err != nil {
		return nil, err
	}
	conn, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{Conn: conn, Signer: signer, Keys: keys, dataDir: cfg.DataDir, done: make(chan struct{})}
	if n.Store, err = OpenReadModels(cfg.DataDir, cfg.Logger); err != nil {
		conn.Close()
		return nil, err
	}
	n.Store.SetKeys(keys)
	if err = n.Store.CatchUp(ctx, conn.Reader, nil); err != nil && !errors.Is(err, projections.ErrHalted) {
		n.closeParts()
		return nil, err
	}
	var metrics *httpapi.Metrics
	head := func() uint64 {
		if n.Writer == nil {
			return 0
		}
		return n.Writer.Head()
	}
	metrics = httpapi.NewMetrics(head, n.Store.Applied)
	metrics.RegisterSpeculation(n.Store.SpeculationStats)
	if n.Writer, err = eventstore.NewWriter(ctx, eventstore.WriterConfig{
		Conn: conn.NC, JS: conn.JS, Stream: cfg.Stream, Signer: signer, Logger: cfg.Logger,
		Keys: keys, Trusted: n.Store.Verified(),
		ObserveAppend: metrics.ObserveAppend,
		Staged:        n.Store.Stage,
		// On the embedded server this node is the stream's only writer
		// (outside clients may only read), which makes pipelining safe.
		MaxInFlight: pipelineDepth(cfg),
	}); err != nil {
		n.closeParts()
		return nil, err
	}
	n.Store.SetSealed(n.Writer.SealedAt)
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		defer close(n.done)
		for runCtx.Err() == nil {
			rerr := n.Store.Run(runCtx, projections.RunConfig{JS: conn.JS, Stream: cfg.Stream, ObserveApply: metrics.ObserveApply})
			if rerr == nil || errors.Is(rerr, projections.ErrHalted) {
				return
			}
			cfg.Logger.Error("projection runner stopped; restarting", "err", rerr)
			select {
			case <-runCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	ev, err := eventstore.OpenEvidenceStore(ctx, conn.JS, cfg.Replicas)
	if err != nil {
		n.Close()
		return nil, err
	}
	if n.API, err = httpapi.New(httpapi.Config{
		Writer: n.Writer, Store: n.Store, Reader: conn.Reader, Keys: keys, Metrics: metrics,
		Logger: cfg.Logger, MaxBodyBytes: cfg.MaxBodyBytes, Evidence: ev, MaxEvidenceBytes: cfg.MaxEvidenceBytes,
		MaxSnapshotBytes: cfg.MaxSnapshotBytes,
	}); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) closeParts() {
	if n.Writer != nil {
		n.Writer.Close()
	}
	if n.Store != nil {
		if err := CloseReadModels(n.dataDir, n.Store); err != nil {
			slog.Default().Error("close read models", "err", err)
		}
	}
	n.Conn.Close()
}

// Close stops the projection, the writer and the connection, in that order.
func (n *Node) Close() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
	}
	n.closeParts()
}
