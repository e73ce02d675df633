package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpdatesThatChangeNothingAppendNothing: pipelines PUT their
// definitions on every run. A PUT that changes nothing answers the
// resource as it stands and appends nothing (no X-Factstore-Seq, updatedAt
// unchanged); a dry run of it says so too; a PUT that changes something is
// still one event.
func TestUpdatesThatChangeNothingAppendNothing(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	n.created(t, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme", "description": "the org"})
	flow := n.created(t, "/api/v1/flows", map[string]any{"name": "svc", "description": "the service",
		"requiredAttestationTypes": []string{"junit"}, "tags": map[string]string{"team": "a"}, "orgSlug": "acme"})["id"].(string)
	env := n.environment(t, map[string]any{"name": "prod", "type": "K8S", "description": "production", "orgSlug": "acme"})
	logical := n.created(t, "/api/v1/logical-environments", map[string]any{"name": "all", "description": "every region"})["id"].(string)

	cases := []struct {
		name, path    string
		same, changed map[string]any
	}{
		{"flow", "/api/v1/flows/" + flow,
			map[string]any{"name": "svc", "description": "the service", "requiredAttestationTypes": []string{"junit"}},
			map[string]any{"requiredAttestationTypes": []string{"junit", "snyk"}}},
		{"flow, empty body", "/api/v1/flows/" + flow, map[string]any{}, map[string]any{"description": "v2"}},
		{"organisation", "/api/v1/organisations/acme",
			map[string]any{"name": "Acme", "description": "the org"}, map[string]any{"description": "Acme Inc."}},
		{"environment", "/api/v1/environments/" + env,
			map[string]any{"name": "prod", "type": "K8S", "description": "production"}, map[string]any{"description": "production, EU"}},
		{"logical environment", "/api/v1/logical-environments/" + logical,
			map[string]any{"name": "all", "description": "every region"}, map[string]any{"description": "all regions"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := n.ok(t, http.MethodGet, tc.path, nil)
			head := n.head(t)

			same := n.ok(t, http.MethodPut, tc.path, tc.same)
			assert.Empty(t, same.header.Get("X-Factstore-Seq"), "nothing was appended")
			assert.JSONEq(t, string(before.body), string(same.body), "the answer is the resource as it stands")
			dry := n.okWith(t, http.MethodPut, tc.path, tc.same, "X-Factstore-Dry-Run", "true")
			var d struct {
				DryRun      bool            `json:"dryRun"`
				WouldCreate json.RawMessage `json:"wouldCreate"`
			}
			require.NoError(t, json.Unmarshal(dry.body, &d), "body: %s", dry.body)
			assert.True(t, d.DryRun)
			assert.JSONEq(t, string(before.body), string(d.WouldCreate))
			assert.Equal(t, head, n.head(t), "no event for an update that changes nothing")

			changed := n.ok(t, http.MethodPut, tc.path, tc.changed)
			assert.Equal(t, head+1, seqHeader(t, changed), "a change is one event")
			after := n.ok(t, http.MethodGet, tc.path, nil).json(t)
			for k, v := range tc.changed {
				want, err := json.Marshal(v)
				require.NoError(t, err)
				got, err := json.Marshal(after[k])
				require.NoError(t, err)
				assert.JSONEq(t, string(want), string(got), k)
			}
			assert.NotEqual(t, before.json(t)["updatedAt"], after["updatedAt"])
		})
	}
}

// okWith is envAPI.ok with request headers.
func (n envAPI) okWith(t testing.TB, method, path string, body any, headers ...string) reply {
	t.Helper()
	r := n.do(t, method, path, body, headers...)
	require.Equal(t, http.StatusOK, r.status, "%s %s: %s", method, path, r.body)
	return r
}
