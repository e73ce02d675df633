package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/cmd/factstore/app"
)

// node is a full Factstore (embedded JetStream with SyncAlways, real bbolt
// file) behind an httptest server.
type node struct {
	*app.Node
	dir string
	srv *httptest.Server
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startNode(t testing.TB, dir string, mod ...func(*app.Config)) *node {
	t.Helper()
	cfg := app.Config{DataDir: dir, Logger: quietLogger()}
	for _, m := range mod {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := app.Start(ctx, cfg)
	require.NoError(t, err)
	nd := &node{Node: n, dir: dir, srv: httptest.NewServer(n.API.Handler())}
	t.Cleanup(nd.stop)
	return nd
}

func newNode(t testing.TB) *node {
	t.Helper()
	return startNode(t, t.TempDir())
}

func (n *node) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Close()
	n.Close()
	n.srv = nil
}

// reply is a decoded HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r reply) list(t *testing.T) []map[string]any {
	t.Helper()
	var l []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &l), "body: %s", r.body)
	return l
}

func (n *node) do(t testing.TB, method, path string, body any, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, n.srv.URL+path, rd)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := n.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// head is the ledger's last sequence as the stream reports it.
func (n *node) head(t *testing.T) uint64 {
	t.Helper()
	last, err := n.Reader.LastSeq(context.Background())
	require.NoError(t, err)
	return last
}

func (n *node) createFlow(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	r := n.do(t, http.MethodPost, "/api/v1/flows", body)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	return r.json(t)
}

func seqHeader(t *testing.T, r reply) uint64 {
	t.Helper()
	s, err := strconv.ParseUint(r.header.Get("X-Factstore-Seq"), 10, 64)
	require.NoError(t, err, "X-Factstore-Seq %q", r.header.Get("X-Factstore-Seq"))
	return s
}

// requireErrorBody checks the JSON error body every failure carries.
func requireErrorBody(t *testing.T, r reply, status int) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	m := r.json(t)
	require.InDelta(t, float64(status), m["status"], 0)
	require.NotEmpty(t, m["error"])
	require.NotEmpty(t, m["message"])
	_, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
	require.NoError(t, err)
}
