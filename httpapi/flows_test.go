package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlowLifecycle(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	created := n.createFlow(t, map[string]any{
		"name": "payments", "description": "card payments", "requiredAttestationTypes": []string{"junit", "snyk"},
		"tags": map[string]string{"team": "pay"}, "orgSlug": "acme", "requiresApproval": true,
		"requiredApproverRoles": []string{"lead"}, "templateYaml": "version: 1\ntrail:\n  attestations:\n    - name: unit\n      type: junit\n",
		"someFieldClientsSend": "ignored",
	})
	id := created["id"].(string)
	assert.Equal(t, "payments", created["name"])
	assert.Equal(t, []any{"junit", "snyk"}, created["requiredAttestationTypes"])
	assert.Equal(t, "acme", created["orgSlug"])
	assert.Equal(t, true, created["requiresApproval"])
	assert.NotEmpty(t, created["createdAt"])

	got := n.do(t, http.MethodGet, "/api/v1/flows/"+id, nil)
	require.Equal(t, http.StatusOK, got.status)
	assert.Equal(t, created, got.json(t))

	tpl := n.do(t, http.MethodGet, "/api/v1/flows/"+id+"/template", nil).json(t)
	assert.Equal(t, id, tpl["flowId"])
	assert.Contains(t, tpl["templateYaml"], "type: junit")
	eff := tpl["effectiveTemplate"].(map[string]any)
	assert.InDelta(t, 1, eff["version"], 0)

	// Partial update: only the description changes.
	upd := n.do(t, http.MethodPut, "/api/v1/flows/"+id, map[string]any{"description": "new"})
	require.Equal(t, http.StatusOK, upd.status, "%s", upd.body)
	u := upd.json(t)
	assert.Equal(t, "new", u["description"])
	assert.Equal(t, "payments", u["name"])
	assert.Equal(t, []any{"junit", "snyk"}, u["requiredAttestationTypes"])
	assert.Equal(t, created["createdAt"], u["createdAt"])

	// The reference's alias spelling sets the required types.
	alias := n.createFlow(t, map[string]any{"name": "alias", "requiredAttestations": []string{"sonar"}})
	assert.Equal(t, []any{"sonar"}, alias["requiredAttestationTypes"])

	// Renaming onto an existing name is a conflict; nothing is appended.
	before := n.head(t)
	requireErrorBody(t, n.do(t, http.MethodPut, "/api/v1/flows/"+alias["id"].(string), map[string]any{"name": "payments", "orgSlug": "acme"}), http.StatusConflict)
	assert.Equal(t, before, n.head(t))

	list := n.do(t, http.MethodGet, "/api/v1/flows", nil).list(t)
	assert.Len(t, list, 2)
	assert.Len(t, n.do(t, http.MethodGet, "/api/v1/flows?orgSlug=acme", nil).list(t), 1)

	del := n.do(t, http.MethodDelete, "/api/v1/flows/"+id, nil)
	require.Equal(t, http.StatusNoContent, del.status)
	requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/flows/"+id, nil), http.StatusNotFound)
	requireErrorBody(t, n.do(t, http.MethodDelete, "/api/v1/flows/"+id, nil), http.StatusNotFound)

	// The deleted flow's history stays in the ledger: created, updated, deleted.
	entries := n.do(t, http.MethodGet, "/api/v1/ledger/entries/"+id, nil).list(t)
	require.Len(t, entries, 3)
	assert.Equal(t, []any{"flow.created", "flow.updated", "flow.deleted"},
		[]any{entries[0]["eventType"], entries[1]["eventType"], entries[2]["eventType"]})

	// The name is free again after deletion.
	n.createFlow(t, map[string]any{"name": "payments", "orgSlug": "acme"})
}

func TestFlowNamesAreScopedByOrg(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	n.createFlow(t, map[string]any{"name": "svc", "orgSlug": "a"})
	n.createFlow(t, map[string]any{"name": "svc", "orgSlug": "b"})
	requireErrorBody(t, n.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "svc", "orgSlug": "a"}), http.StatusConflict)
}

// Every flow endpoint answers bad input with a 4xx JSON error and appends nothing.
func TestFlowBadInput(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	flow := n.createFlow(t, map[string]any{"name": "existing"})
	id := flow["id"].(string)
	big := `{"name":"x","description":"` + strings.Repeat("a", 2<<20) + `"}`
	cases := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"create malformed", http.MethodPost, "/api/v1/flows", `{"name":`, http.StatusBadRequest},
		{"create not an object", http.MethodPost, "/api/v1/flows", `[1,2]`, http.StatusBadRequest},
		{"create empty body", http.MethodPost, "/api/v1/flows", nil, http.StatusBadRequest},
		{"create trailing data", http.MethodPost, "/api/v1/flows", `{"name":"a"} {"name":"b"}`, http.StatusBadRequest},
		{"create wrong type name", http.MethodPost, "/api/v1/flows", `{"name":42}`, http.StatusBadRequest},
		{"create wrong type list", http.MethodPost, "/api/v1/flows", `{"name":"a","requiredAttestationTypes":"junit"}`, http.StatusBadRequest},
		{"create wrong type tags", http.MethodPost, "/api/v1/flows", `{"name":"a","tags":["x"]}`, http.StatusBadRequest},
		{"create missing name", http.MethodPost, "/api/v1/flows", `{"description":"d"}`, http.StatusBadRequest},
		{"create blank name", http.MethodPost, "/api/v1/flows", `{"name":"   "}`, http.StatusBadRequest},
		{"create name too long", http.MethodPost, "/api/v1/flows", map[string]any{"name": strings.Repeat("n", 256)}, http.StatusBadRequest},
		{"create bad yaml", http.MethodPost, "/api/v1/flows", map[string]any{"name": "y", "templateYaml": "a: [unclosed"}, http.StatusBadRequest},
		{"create bad org slug", http.MethodPost, "/api/v1/flows", map[string]any{"name": "o", "orgSlug": "Not A Slug"}, http.StatusBadRequest},
		{"create too many tags", http.MethodPost, "/api/v1/flows", map[string]any{"name": "t", "tags": manyTags(51)}, http.StatusBadRequest},
		{"create blank required type", http.MethodPost, "/api/v1/flows", map[string]any{"name": "t", "requiredAttestationTypes": []string{""}}, http.StatusBadRequest},
		{"create 2 MiB body", http.MethodPost, "/api/v1/flows", big, http.StatusRequestEntityTooLarge},
		{"create duplicate", http.MethodPost, "/api/v1/flows", map[string]any{"name": "existing"}, http.StatusConflict},
		{"update malformed", http.MethodPut, "/api/v1/flows/" + id, `{"name"`, http.StatusBadRequest},
		{"update wrong type", http.MethodPut, "/api/v1/flows/" + id, `{"requiresApproval":"yes"}`, http.StatusBadRequest},
		{"update null", http.MethodPut, "/api/v1/flows/" + id, ` null `, http.StatusBadRequest},
		{"create null", http.MethodPost, "/api/v1/flows", `null`, http.StatusBadRequest},
		{"update blank name", http.MethodPut, "/api/v1/flows/" + id, `{"name":""}`, http.StatusBadRequest},
		{"update bad yaml", http.MethodPut, "/api/v1/flows/" + id, map[string]any{"templateYaml": "{"}, http.StatusBadRequest},
		{"update 2 MiB body", http.MethodPut, "/api/v1/flows/" + id, big, http.StatusRequestEntityTooLarge},
		{"update unknown id", http.MethodPut, "/api/v1/flows/nope", `{"description":"d"}`, http.StatusNotFound},
		{"get unknown id", http.MethodGet, "/api/v1/flows/nope", nil, http.StatusNotFound},
		{"template unknown id", http.MethodGet, "/api/v1/flows/nope/template", nil, http.StatusNotFound},
		{"delete unknown id", http.MethodDelete, "/api/v1/flows/nope", nil, http.StatusNotFound},
		{"unknown route", http.MethodGet, "/api/v1/nothing", nil, http.StatusNotFound},
		{"wrong method", http.MethodPatch, "/api/v1/flows", nil, http.StatusMethodNotAllowed},
	}
	before := n.head(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireErrorBody(t, n.do(t, tc.method, tc.path, tc.body), tc.status)
		})
	}
	assert.Equal(t, before, n.head(t), "rejected commands must append nothing")
	// The flow is untouched.
	assert.Equal(t, flow, n.do(t, http.MethodGet, "/api/v1/flows/"+id, nil).json(t))
}

func manyTags(k int) map[string]string {
	m := map[string]string{}
	for i := 0; i < k; i++ {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

func TestDryRunAppendsNothing(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	existing := n.createFlow(t, map[string]any{"name": "taken"})
	before := n.head(t)
	for _, hdr := range [][]string{{"X-Factstore-Dry-Run", "true"}, {"X-Dry-Run", "TRUE"}, {}} {
		path := "/api/v1/flows"
		if len(hdr) == 0 {
			path += "?dryRun=true"
		}
		r := n.do(t, http.MethodPost, path, map[string]any{"name": "dry"}, hdr...)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		m := r.json(t)
		assert.Equal(t, true, m["dryRun"])
		assert.Equal(t, "dry", m["wouldCreate"].(map[string]any)["name"])
		assert.Empty(t, r.header.Get("X-Factstore-Seq"))
	}
	// Dry runs are validated like real writes.
	requireErrorBody(t, n.do(t, http.MethodPost, "/api/v1/flows?dryRun=true", `{"name":`), http.StatusBadRequest)
	requireErrorBody(t, n.do(t, http.MethodPost, "/api/v1/flows?dryRun=true", map[string]any{"name": "taken"}), http.StatusConflict)
	r := n.do(t, http.MethodPut, "/api/v1/flows/"+existing["id"].(string)+"?dryRun=true", map[string]any{"description": "x"})
	require.Equal(t, http.StatusOK, r.status)
	r = n.do(t, http.MethodDelete, "/api/v1/flows/"+existing["id"].(string)+"?dryRun=true", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, before, n.head(t))
	assert.Len(t, n.do(t, http.MethodGet, "/api/v1/flows", nil).list(t), 1)
	assert.Equal(t, existing, n.do(t, http.MethodGet, "/api/v1/flows/"+existing["id"].(string), nil).json(t))
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	const k = 50
	statuses := make([]int, k)
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		wg.Go(func() {
			statuses[i] = n.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "race"}).status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: k - 1}, count)
	assert.Equal(t, uint64(1), n.head(t), "exactly one event")
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	const k = 20
	replies := make([]reply, k)
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		wg.Go(func() {
			replies[i] = n.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "once"}, "Idempotency-Key", "key-1")
		})
	}
	wg.Wait()
	for _, r := range replies {
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, string(replies[0].body), string(r.body), "identical answers")
		assert.Equal(t, "1", r.header.Get("X-Factstore-Seq"))
	}
	assert.Equal(t, uint64(1), n.head(t), "one event")

	// A later retry, even after a restart, still appends nothing.
	n.stop()
	n2 := startNode(t, n.dir)
	r := n2.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "once"}, "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusCreated, r.status)
	assert.Equal(t, string(replies[0].body), string(r.body))
	assert.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	assert.Equal(t, uint64(1), n2.head(t))

	// Another key is another request.
	r = n2.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": "twice"}, "Idempotency-Key", "key-2")
	require.Equal(t, http.StatusCreated, r.status)
	assert.Equal(t, uint64(2), n2.head(t))
}

func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	for i := 0; i < 100; i++ {
		r := n.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": fmt.Sprintf("ryw-%d", i)})
		require.Equal(t, http.StatusCreated, r.status)
		assert.Equal(t, uint64(i+1), seqHeader(t, r))
		id := r.json(t)["id"].(string)
		require.Equal(t, http.StatusOK, n.do(t, http.MethodGet, "/api/v1/flows/"+id, nil).status, "flow %d not visible right after its 201", i)
	}
}

// Many concurrent writers produce one contiguous, unforked chain.
func TestConcurrentWritersOneChain(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	writers, per := 32, 200
	if testing.Short() {
		per = 20
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Go(func() {
			for i := 0; i < per; i++ {
				r := n.do(t, http.MethodPost, "/api/v1/flows", map[string]any{"name": fmt.Sprintf("w%d-%d", w, i)})
				if r.status != http.StatusCreated {
					errs <- fmt.Errorf("writer %d flow %d: %d %s", w, i, r.status, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	total := uint64(writers * per)
	assert.Equal(t, total, n.head(t))
	v := n.do(t, http.MethodPost, "/api/v1/ledger/verify-chain", nil).json(t)
	assert.Equal(t, true, v["valid"], "%v", v)
	assert.InDelta(t, float64(total), v["entriesChecked"], 0)
	// Unforked: every prev is the hash of the event before it, no hash repeats.
	seen := map[string]bool{}
	prev := strings.Repeat("0", 64)
	for page := 0; ; page++ {
		p := n.do(t, http.MethodGet, fmt.Sprintf("/api/v1/ledger/entries?page=%d&size=500", page), nil).json(t)
		entries := p["entries"].([]any)
		for _, e := range entries {
			m := e.(map[string]any)
			require.Equal(t, prev, m["previousHash"])
			require.False(t, seen[m["hash"].(string)])
			seen[m["hash"].(string)] = true
			prev = m["hash"].(string)
		}
		if len(entries) < 500 {
			break
		}
	}
	assert.Len(t, seen, int(total))
	assert.Len(t, n.do(t, http.MethodGet, "/api/v1/flows", nil).list(t), int(total))
}
