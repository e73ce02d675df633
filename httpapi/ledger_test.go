package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/cmd/factstore/app"
	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/projections"
)

func TestAuditQueries(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	f := n.createFlow(t, map[string]any{"name": "a"})
	n.do(t, http.MethodPut, "/api/v1/flows/"+f["id"].(string), map[string]any{"description": "d"}, "X-Factstore-Actor", "alice")
	for i := 0; i < 5; i++ {
		n.createFlow(t, map[string]any{"name": fmt.Sprintf("f%d", i)})
	}
	all := n.do(t, http.MethodGet, "/api/v1/audit?size=100", nil).json(t)
	assert.InDelta(t, 7, all["totalElements"], 0)
	events := all["events"].([]any)
	first := events[0].(map[string]any)
	assert.InDelta(t, 7, first["seq"], 0, "sortDesc defaults to true: newest first")
	assert.Equal(t, "FLOW_CREATED", first["eventType"])
	assert.Contains(t, first["payload"], `"name":"f4"`)

	asc := n.do(t, http.MethodGet, "/api/v1/audit?sortDesc=false&size=2&page=1", nil).json(t)
	assert.InDelta(t, 7, asc["totalElements"], 0)
	assert.InDelta(t, 4, asc["totalPages"], 0)
	assert.InDelta(t, 3, asc["events"].([]any)[0].(map[string]any)["seq"], 0)

	upd := n.do(t, http.MethodGet, "/api/v1/audit?eventType=FLOW_UPDATED", nil).json(t)
	assert.InDelta(t, 1, upd["totalElements"], 0)
	ev := upd["events"].([]any)[0].(map[string]any)
	assert.Equal(t, "alice", ev["actor"])

	byActor := n.do(t, http.MethodGet, "/api/v1/audit?actor=alice", nil).json(t)
	assert.InDelta(t, 1, byActor["totalElements"], 0)

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	assert.InDelta(t, 0, n.do(t, http.MethodGet, "/api/v1/audit?from="+future, nil).json(t)["totalElements"], 0)
	assert.InDelta(t, 7, n.do(t, http.MethodGet, "/api/v1/audit?to="+future, nil).json(t)["totalElements"], 0)

	one := n.do(t, http.MethodGet, "/api/v1/audit/"+ev["id"].(string), nil)
	require.Equal(t, http.StatusOK, one.status)
	assert.Equal(t, ev["id"], one.json(t)["id"])

	for _, bad := range []string{"size=0", "size=101", "page=-1", "page=x", "from=yesterday", "sortDesc=maybe", "eventType=flow.created"} {
		requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/audit?"+bad, nil), http.StatusBadRequest)
	}
	requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/audit/nope", nil), http.StatusNotFound)
}

func TestLedgerAPI(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	var ids []string
	for i := 0; i < 12; i++ {
		ids = append(ids, n.createFlow(t, map[string]any{"name": fmt.Sprintf("l%d", i)})["id"].(string))
	}
	status := n.do(t, http.MethodGet, "/api/v1/ledger/status", nil).json(t)
	assert.InDelta(t, 12, status["headSequence"], 0)
	assert.Equal(t, true, status["chainValid"])
	assert.Len(t, status["headHash"], 64)

	keys := n.do(t, http.MethodGet, "/api/v1/ledger/public-keys", nil).json(t)["keys"].([]any)
	require.Len(t, keys, 1)
	assert.Equal(t, n.Signer.KeyID(), keys[0].(map[string]any)["keyId"])

	p := n.do(t, http.MethodGet, "/api/v1/ledger/entries?page=1&size=5", nil).json(t)
	assert.InDelta(t, 12, p["totalElements"], 0)
	assert.InDelta(t, 3, p["totalPages"], 0)
	entries := p["entries"].([]any)
	require.Len(t, entries, 5)
	assert.InDelta(t, 6, entries[0].(map[string]any)["seq"], 0)
	assert.Equal(t, ids[5], entries[0].(map[string]any)["recordId"])
	assert.Empty(t, n.do(t, http.MethodGet, "/api/v1/ledger/entries?page=9&size=5", nil).json(t)["entries"])

	v := n.do(t, http.MethodPost, "/api/v1/ledger/verify/"+ids[3], nil).json(t)
	assert.Equal(t, true, v["verified"], "%v", v)
	assert.InDelta(t, 4, v["chainPosition"], 0)
	requireErrorBody(t, n.do(t, http.MethodPost, "/api/v1/ledger/verify/nope", nil), http.StatusNotFound)
	requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/ledger/entries/nope", nil), http.StatusNotFound)

	full := n.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", nil).json(t)
	assert.Equal(t, true, full["valid"])
	assert.InDelta(t, 12, full["entriesChecked"], 0)

	rng := n.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", map[string]any{"fromSeq": 4, "toSeq": 9}).json(t)
	assert.Equal(t, true, rng["valid"])
	assert.InDelta(t, 6, rng["entriesChecked"], 0)

	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	byTime := n.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", map[string]any{"from": past, "to": future}).json(t)
	assert.InDelta(t, 12, byTime["entriesChecked"], 0)

	for _, bad := range []any{`{"from":"not a time"}`, `{"fromSeq":-1}`, `{"fromSeq":9,"toSeq":4}`, `{"from":"` + past + `","fromSeq":2}`, `{`} {
		requireErrorBody(t, n.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", bad), http.StatusBadRequest)
	}
	for _, bad := range []string{"size=0", "size=501", "page=-2"} {
		requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/ledger/entries?"+bad, nil), http.StatusBadRequest)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	n.createFlow(t, map[string]any{"name": "m"})
	assert.Equal(t, http.StatusOK, n.do(t, http.MethodGet, "/healthz", nil).status)
	ready := n.do(t, http.MethodGet, "/readyz", nil)
	require.Equal(t, http.StatusOK, ready.status)
	assert.Equal(t, "ready", ready.json(t)["status"])
	m := string(n.do(t, http.MethodGet, "/metrics", nil).body)
	for _, series := range []string{
		"factstore_append_duration_seconds_bucket", "factstore_projection_apply_duration_seconds_bucket",
		"factstore_ledger_head_sequence 1", "factstore_projection_applied_sequence 1", "factstore_projection_lag_events 0",
		`factstore_http_request_duration_seconds_count{method="POST",route="/api/v1/flows",status="201"} 1`,
		`factstore_projection_speculations_total{outcome="committed"}`,
		`factstore_projection_speculations_total{outcome="abandoned"} 0`,
	} {
		assert.Contains(t, m, series)
	}
}

// 200 flows survive a restart; nothing is applied twice; the chain holds.
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir)
	ids := map[string]bool{}
	for i := 0; i < 200; i++ {
		ids[n.createFlow(t, map[string]any{"name": fmt.Sprintf("r%d", i)})["id"].(string)] = true
	}
	n.stop()

	n2 := startNode(t, dir)
	assert.Equal(t, uint64(200), n2.Store.Applied())
	list := n2.do(t, http.MethodGet, "/api/v1/flows", nil).list(t)
	require.Len(t, list, 200)
	for _, f := range list {
		assert.True(t, ids[f["id"].(string)])
	}
	audit := n2.do(t, http.MethodGet, "/api/v1/audit", nil).json(t)
	assert.InDelta(t, 200, audit["totalElements"], 0, "each event applied once")
	assert.Equal(t, true, n2.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", nil).json(t)["valid"])
	// The writer resumed at the head: names are still unique, sequences continue.
	requireErrorBody(t, n2.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "r7"}), http.StatusConflict)
	r := n2.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "after"})
	assert.Equal(t, uint64(201), seqHeader(t, r))
}

// Dropping the read models and replaying the stream gives byte-identical buckets.
func TestRebuildIsDeterministic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir)
	var ids []string
	for i := 0; i < 150; i++ {
		ids = append(ids, n.createFlow(t, map[string]any{"name": fmt.Sprintf("d%d", i), "tags": map[string]string{"i": fmt.Sprint(i)}})["id"].(string))
	}
	for i := 0; i < 30; i++ {
		n.do(t, http.MethodPut, "/api/v1/flows/"+ids[i], map[string]any{"name": fmt.Sprintf("renamed%d", i)})
		n.do(t, http.MethodDelete, "/api/v1/flows/"+ids[i+50], nil)
	}
	for _, slug := range []string{"o1", "o2", "o3"} {
		require.Equal(t, http.StatusCreated, n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": slug, "name": slug}).status)
	}
	require.Equal(t, http.StatusOK, n.do(t, http.MethodPut, "/api/v1/organisations/o2", map[string]any{"name": "two"}).status)
	require.Equal(t, http.StatusNoContent, n.do(t, http.MethodDelete, "/api/v1/organisations/o3", nil).status)
	before, err := n.Store.Dump()
	require.NoError(t, err)
	require.Len(t, before["orgs"], 2)
	n.stop()

	store, err := projections.Open(app.ReadModelPath(dir), quietLogger())
	require.NoError(t, err)
	conn, err := app.Dial(context.Background(), app.Config{DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, store.Reset())
	empty, err := store.Dump()
	require.NoError(t, err)
	require.Empty(t, empty["flows"])
	require.NoError(t, store.CatchUp(context.Background(), conn.Reader, nil))
	after, err := store.Dump()
	require.NoError(t, err)
	require.NoError(t, store.Check())
	conn.Close()
	require.NoError(t, store.Close())
	require.Len(t, after, len(before))
	for name, b := range before {
		assert.Equal(t, b, after[name], "bucket %s differs after rebuild", name)
	}
	assert.Len(t, after["flows"], 120)
}

// Two nodes with their own read models append to one stream: their writes
// land in one unforked chain, and a name taken on one is taken on the other.
func TestTwoNodesOneChain(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a NATS server and two nodes")
	}
	natsDir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: natsDir, Listen: addr, AllowExternalWrites: true})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := "nats://" + addr

	dirA, dirB := t.TempDir(), t.TempDir()
	withURL := func(c *app.Config) { c.NATSURL = url }
	a := startNode(t, dirA, withURL)
	b := startNode(t, dirB, withURL)
	// Each node trusts the other's key, as an operator would configure.
	trust := func(dir string, other *node) {
		require.NoError(t, os.MkdirAll(app.TrustedKeysDir(dir), 0o700))
		r := other.do(t, http.MethodGet, "/api/v1/ledger/public-keys", nil)
		require.NoError(t, os.WriteFile(filepath.Join(app.TrustedKeysDir(dir), "peer.json"), r.body, 0o600))
	}
	trust(dirA, b)
	trust(dirB, a)

	var wg sync.WaitGroup
	created := make(chan int, 400)
	for w := 0; w < 8; w++ {
		nd := a
		if w%2 == 1 {
			nd = b
		}
		wg.Go(func() {
			for i := 0; i < 25; i++ {
				name := fmt.Sprintf("n%d", i) // every writer races for the same 25 names
				created <- nd.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": name}).status
			}
		})
	}
	wg.Wait()
	close(created)
	count := map[int]int{}
	for s := range created {
		count[s]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 25, http.StatusConflict: 175}, count)
	assert.Equal(t, uint64(25), a.head(t))
	// Whichever node won the race, each also appends on its own.
	a.createFlow(t, map[string]any{"name": "from-a"})
	b.createFlow(t, map[string]any{"name": "from-b"})

	// Restart both with the peer keys in place, then verify from either side.
	a.stop()
	b.stop()
	a2 := startNode(t, dirA, withURL)
	b2 := startNode(t, dirB, withURL)
	for _, nd := range []*node{a2, b2} {
		v := nd.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", nil).json(t)
		assert.Equal(t, true, v["valid"], "%v", v)
		assert.Len(t, nd.do(t, http.MethodGet, "/api/v1/flows", nil).list(t), 27)
	}
	signers := map[string]bool{}
	entries := a2.do(t, http.MethodGet, "/api/v1/ledger/entries?size=100", nil).json(t)["entries"].([]any)
	for _, e := range entries {
		signers[e.(map[string]any)["keyId"].(string)] = true
	}
	assert.Len(t, signers, 2, "both nodes appended to the one chain")
	assert.True(t, strings.HasPrefix(a2.Signer.KeyID(), "ed25519:"))
}
