package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

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
