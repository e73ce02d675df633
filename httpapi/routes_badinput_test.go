package httpapi_test

import (
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
// JSON, the wrong JSON types, a body over the limit, broken multipart
// forms), with its path
// variables naming things that exist and things that do not, with and
// without dry run. No answer may be a 5xx, every refusal carries the JSON
// error body, and no request appends anything. The per-area bad-input tests
// check the exact statuses; this one checks that none was forgotten.
func TestEveryWriteRouteRefusesGarbage(t *testing.T) {
	t.Parallel()
	n, targets := walkRoutes(t, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete)
	require.Greater(t, len(targets), 40, "the walk finds the write routes")
	start := n.head(t)
	before := start
	const jsonType, formType = "application/json", "multipart/form-data; boundary=zzz"
	bodies := []struct{ name, body, contentType string }{
		{"malformed", `{"name":`, jsonType},
		{"an array", `[1,2]`, jsonType},
		{"a string", `"x"`, jsonType},
		{"null", `null`, jsonType},
		{"wrong types", `{"name":42,"type":[],"status":{},"sha256Digest":7,"flowId":true,"trailId":1.5}`, jsonType},
		{"over the limit", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, jsonType},
		{"a truncated form", "--zzz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xml\"\r\n\r\n<testsuite", formType},
		{"a form of garbage parts", "--zzz\r\nContent-Disposition: form-data; name=\"data_json\"\r\n\r\n{\"name\":\r\n" +
			"--zzz\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n[]\r\n--zzz--\r\n", formType},
		{"a form without a boundary", "--zzz--\r\n", "multipart/form-data"},
	}
	for _, tg := range targets {
		for _, b := range bodies {
			for _, dry := range []bool{false, true} {
				var headers []string
				if dry {
					headers = []string{"X-Factstore-Dry-Run", "true"}
				}
				r := n.do(t, tg.method, tg.path, b.body, append(headers, "Content-Type", b.contentType)...)
				what := fmt.Sprintf("%s %s with %s (dry run %t): %d %s", tg.method, tg.path, b.name, dry, r.status, clip(r.body))
				if h := n.head(t); !assert.Equal(t, before, h, "appended by %s", what) {
					before = h
				}
				if r.status < 400 && r.status >= 200 {
					continue // a verification that reads no body (provenance, ledger)
				}
				requireRefusal(t, r, what)
			}
		}
	}
	assert.Equal(t, start, n.head(t), "nothing appended")
}

// TestEveryReadRouteRefusesGarbageQueries walks the router's GET routes
// and sends each query parameters no client should send (negative pages,
// huge sizes, times and sequences that do not parse, flags that are not
// booleans), with path variables naming things that exist and things that
// do not. No answer may be a 5xx, and every refusal carries the JSON error
// body.
func TestEveryReadRouteRefusesGarbageQueries(t *testing.T) {
	t.Parallel()
	n, targets := walkRoutes(t, http.MethodGet)
	require.Greater(t, len(targets), 40, "the walk finds the read routes")
	queries := []string{
		"",
		"page=-1&size=-5",
		"page=99999999999999999999&size=1000000",
		"page=x&size=y&limit=z&offset=-1&per_page=0",
		"from=yesterday&to=tomorrow&asOf=nope&atSeq=-1&since=x&until=y",
		"sortDesc=maybe&dryRun=perhaps&latest=kind-of",
		"q=&type=nonsense&flowId=&trailId=%00&sha256=xyz&fingerprint=zz",
		"q=" + strings.Repeat("a", 10000),
		"from=2026-01-02T00:00:00Z&to=2025-01-01T00:00:00Z&fromSeq=10&toSeq=1",
		"seq=18446744073709551616&atSeq=18446744073709551615",
	}
	for _, tg := range targets {
		for _, q := range queries {
			path := tg.path
			if q != "" {
				path += "?" + q
			}
			r := n.do(t, tg.method, path, nil)
			what := fmt.Sprintf("%s %s: %d %s", tg.method, clip([]byte(path)), r.status, clip(r.body))
			if r.status < 400 && r.status >= 200 {
				continue
			}
			requireRefusal(t, r, what)
		}
	}
}

// requireRefusal checks that r is a 4xx carrying the JSON error body
// (requireErrorBody); what names the request in a failure.
func requireRefusal(t *testing.T, r reply, what string) {
	t.Helper()
	require.Less(t, r.status, 500, what)
	require.GreaterOrEqual(t, r.status, 400, what)
	t.Run(what, func(t *testing.T) { requireErrorBody(t, r, r.status) })
}

// routeTarget is one request to send: a method and a path with its
// variables filled in.
type routeTarget struct{ method, path string }

// walkRoutes starts a node holding an organisation, a flow in it, a trail
// and an artifact, and lists a request for every route of the router that
// takes one of methods: once with the path variables naming those things
// (so that handlers get as far as reading the body or query), once naming
// nothing stored.
func walkRoutes(t *testing.T, methods ...string) (*node, []routeTarget) {
	t.Helper()
	n := newNode(t)
	router, ok := n.API.Handler().(*mux.Router)
	require.True(t, ok, "the API's handler is the mux router")
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

	var targets []routeTarget
	err := router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		ms, err := route.GetMethods()
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
		for _, m := range ms {
			if !slices.Contains(methods, m) {
				continue
			}
			for _, known := range []map[string]string{named, nil} {
				path, perr := fillPath(route, known)
				require.NoError(t, perr, "route %s %s", m, tmpl)
				if !slices.Contains(targets, routeTarget{m, path}) {
					targets = append(targets, routeTarget{m, path})
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	return n, targets
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
