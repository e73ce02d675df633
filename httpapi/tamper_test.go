package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/ledger"
)

// An event appended behind Factstore's back (a forged copy of a real one with
// one byte changed) halts the projector at its sequence, fails readiness and
// verification at that sequence, and stops the writer after a restart.
func TestForgedEventHaltsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		n.createFlow(t, map[string]any{"name": name})
	}
	raw, err := n.Reader.Get(context.Background(), 5)
	require.NoError(t, err)
	forged := append([]byte(nil), raw...)
	e, err := ledger.Decode(raw)
	require.NoError(t, err)
	// Re-use event 5 at position 6 with one byte of its payload changed.
	copy(forged[len(`{"actor":"`):], "X")
	_, err = n.JS.Publish(context.Background(), eventstore.Subject(e.Org, e.Aggregate, e.Type), forged)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return n.Store.Halted() != nil }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(6), n.Store.Halted().Seq)
	assert.Equal(t, uint64(5), n.Store.Applied(), "the good events before it stay applied")

	ready := n.do(t, http.MethodGet, "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, ready.status)
	assert.InDelta(t, 6, ready.json(t)["seq"], 0)

	v := n.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", nil).json(t)
	assert.Equal(t, false, v["valid"])
	assert.InDelta(t, 6, v["firstBadSeq"], 0)
	assert.InDelta(t, 5, v["entriesChecked"], 0)
	status := n.do(t, http.MethodGet, "/api/v1/ledger/status", nil).json(t)
	assert.Equal(t, false, status["chainValid"])

	// After a restart the writer sees the broken chain and refuses writes.
	n.stop()
	n2 := startNode(t, dir)
	requireErrorBody(t, n2.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "f"}), http.StatusServiceUnavailable)
	assert.Equal(t, http.StatusServiceUnavailable, n2.do(t, http.MethodGet, "/readyz", nil).status)
	// Reads of what was applied still work.
	assert.Len(t, n2.do(t, http.MethodGet, "/api/v1/flows", nil).list(t), 5)
}

// A forger with write access to the stream appends an event with the right
// seq, prev and hash, signed by a key nobody trusts: it is never applied,
// readiness fails at its sequence and no write is chained onto it.
func TestEventSignedByUntrustedKeyIsRefused(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	n.createFlow(t, map[string]any{"name": "genuine"})
	raw, err := n.Reader.Get(context.Background(), 1)
	require.NoError(t, err)
	e, err := ledger.Decode(raw)
	require.NoError(t, err)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	forger := ledger.NewSigner(priv, time.Now())
	e.ID, e.AggregateID = uuid.NewString(), "forged-flow"
	e.Data = json.RawMessage(strings.ReplaceAll(string(e.Data), `"name":"genuine"`, `"name":"forged"`))
	e.Data = json.RawMessage(strings.Replace(string(e.Data), `"id":"`, `"id":"forged-flow","x":"`, 1))
	d, err := ledger.NewDraft(*e, "")
	require.NoError(t, err)
	sealed := forger.Seal(d, 2, e.Hash)
	_, err = n.JS.Publish(context.Background(), eventstore.Subject(e.Org, e.Aggregate, e.Type), sealed.Raw)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return n.Store.Halted() != nil }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(2), n.Store.Halted().Seq)
	assert.Contains(t, n.Store.Halted().Reason, "unknown signing key")
	requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/flows/forged-flow", nil), http.StatusNotFound)
	ready := n.do(t, http.MethodGet, "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, ready.status)
	assert.InDelta(t, 2, ready.json(t)["seq"], 0)

	// The running writer does not know about the forgery until it loses an
	// expected-sequence race; it then catches up, sees it, and refuses.
	requireErrorBody(t, n.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "on-top"}), http.StatusServiceUnavailable)
	last, err := n.Reader.LastSeq(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(2), last, "nothing chained onto the forgery")
}
