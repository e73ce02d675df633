package httpapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryWriteRouteRefusesGarbage walks the router, so a route added
// later is covered without anyone remembering to: every route that takes a
// POST, PUT, PATCH or DELETE is sent bodies no client should send (broken
// JSON, the wrong JSON types, a body over the limit), with its path
// variables naming things that exist and things that do not, with and
// without dry run. No answer may be a 5xx, every refusal carries the JSON
// error body, and no request appends anything. The per-area bad-input tests
// check the exact statuses; this one checks that none was forgotten.
func TestEveryWriteRouteRefusesGarbage(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	router, ok := n.API.Handler().(*mux.Router)
	require.True(t, ok, "the API's handler is the mux router")
	// Things for the path variables to name, so that handlers get as far as
	// reading the body.
	digest := "sha256:" + strings.Repeat("ab", 32)
	require.Equal(t, http.StatusCreated, n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme"}).status)
	flowID := n.createFlow(t, map[string]any{"name": "svc", "orgSlug": "acme", "requiredAttestationTypes": []string{"junit"}})["id"].(string)
	tr := n.do(t, http.MethodPost, "/api/v1/trails", map[string]any{"flowId": flowID, "name": "t1", "gitCommitSha": "0123456789abcdef",
		"gitBranch": "main", "gitAuthor": "Ada", "gitAuthorEmail": "ada@example.com"})
	require.Equal(t, http.StatusCreated, tr.status, "%s", tr.body)
	trailID := tr.json(t)["id"].(string)
	ar := n.do(t, http.MethodPost, "/api/v1/trails/"+trailID+"/artifacts", map[string]any{"imageName": "app", "imageTag": "1", "sha256Digest": digest})
	require.Equal(t, http.StatusCreated, ar.status, "%s", ar.body)
	existing := map[string]string{
		"org": "acme", "slug": "acme", "flow": "svc", "trail": "t1", "trailId": trailID, "artifactId": ar.json(t)["id"].(string),
		"sha256": digest, "fingerprint": strings.TrimPrefix(digest, "sha256:"), "fp": strings.TrimPrefix(digest, "sha256:"),
		"type": "junit", "recordId": flowID,
	}
	start := n.head(t)
	before := start

	type target struct{ method, path string }
	var targets []target
	err := router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		methods, err := route.GetMethods()
		if err != nil {
			return nil //nolint:nilerr // a route without methods (a subrouter) is walked into
		}
		tmpl, err := route.GetPathTemplate()
		if err != nil {
			return nil //nolint:nilerr // not a path route
		}
		named := maps.Clone(existing)
		if strings.Contains(tmpl, "/flows/{id}") {
			named["id"] = flowID
		}
		for _, m := range methods {
			if m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch || m == http.MethodDelete {
				for _, known := range []map[string]string{named, nil} {
					path, perr := fillPath(route, known)
					require.NoError(t, perr, "route %s %s", m, tmpl)
					if !slices.Contains(targets, target{m, path}) {
						targets = append(targets, target{m, path})
					}
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, len(targets), 40, "the walk finds the write routes")

	bodies := []struct{ name, body string }{
		{"malformed", `{"name":`},
		{"an array", `[1,2]`},
		{"a string", `"x"`},
		{"null", `null`},
		{"wrong types", `{"name":42,"type":[],"status":{},"sha256Digest":7,"flowId":true,"trailId":1.5}`},
		{"over the limit", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`},
	}
	for _, tg := range targets {
		for _, b := range bodies {
			for _, dry := range []bool{false, true} {
				var headers []string
				if dry {
					headers = []string{"X-Factstore-Dry-Run", "true"}
				}
				r := n.do(t, tg.method, tg.path, b.body, append(headers, "Content-Type", "application/json")...)
				what := fmt.Sprintf("%s %s with %s (dry run %t): %d %s", tg.method, tg.path, b.name, dry, r.status, clip(r.body))
				require.Less(t, r.status, 500, what)
				if h := n.head(t); !assert.Equal(t, before, h, "appended by %s", what) {
					before = h
				}
				if r.status < 400 {
					continue // a verification that reads no body (provenance, ledger)
				}
				var e map[string]any
				require.NoError(t, json.Unmarshal(r.body, &e), what)
				for _, k := range []string{"status", "error", "message", "timestamp"} {
					assert.Contains(t, e, k, what)
				}
				assert.EqualValues(t, r.status, e["status"], what)
			}
		}
	}
	assert.Equal(t, start, n.head(t), "nothing appended")
}

// fillPath fills route's path variables with values that match their
// patterns: the value known names, else one that names nothing stored.
func fillPath(route *mux.Route, known map[string]string) (string, error) {
	names, err := route.GetVarNames()
	if err != nil {
		return "", err
	}
	candidates := []string{
		"no-such-thing",
		"00000000-0000-4000-8000-000000000000",
		"sha256:" + strings.Repeat("0", 64),
		strings.Repeat("0", 64),
		"0",
	}
	// Try the candidates for each variable in turn until the route
	// accepts them all; variables are few, so the search is small.
	choice := make([]int, len(names))
	for {
		pairs := make([]string, 0, 2*len(names))
		for i, name := range names {
			v, ok := known[name]
			if !ok || choice[i] > 0 {
				v = candidates[choice[i]]
			}
			pairs = append(pairs, name, v)
		}
		u, err := route.URLPath(pairs...)
		if err == nil {
			return u.Path, nil
		}
		i := 0
		for i < len(choice) && choice[i] == len(candidates)-1 {
			choice[i] = 0
			i++
		}
		if i == len(choice) {
			return "", fmt.Errorf("no candidate fits %v: %w", names, err)
		}
		choice[i]++
	}
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	s := string(b)
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return strings.TrimSpace(s)
}
