// Package eventstoretest starts the real parts the eventstore's consumers are
// tested against: an embedded nats-server with JetStream file storage in
// t.TempDir() and sync always, the ledger stream, and a signing key.
package eventstoretest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/ledger"
)

// Env is a running embedded JetStream with the ledger stream and a key.
type Env struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Reader *eventstore.Reader
	Signer *ledger.Signer
	// Keys trusts Signer's key.
	Keys *ledger.Keyring
}

// Start brings an Env up; t.Cleanup stops it.
func Start(t testing.TB) *Env {
	t.Helper()
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := eventstore.ConnectInProcess(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = eventstore.EnsureStream(context.Background(), js, eventstore.DefaultStream, 1); err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := ledger.NewSigner(priv, time.Now())
	keys, err := ledger.NewKeyring(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &Env{NC: nc, JS: js, Reader: eventstore.NewReader(js, eventstore.DefaultStream), Signer: signer, Keys: keys}
}

// WriterConfig is a writer configuration for the Env's stream and key.
func (e *Env) WriterConfig() eventstore.WriterConfig {
	return eventstore.WriterConfig{Conn: e.NC, JS: e.JS, Signer: e.Signer}
}
