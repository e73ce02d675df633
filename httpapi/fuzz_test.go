package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzFlowBodies sends arbitrary bodies to the flow write routes: the answer
// is never a 5xx, and every 4xx carries the JSON error body.
func FuzzFlowBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"svc","requiredAttestationTypes":["junit"]}`,
		`{"name":"svc","tags":{"a":"b"},"orgSlug":"acme","templateYaml":"version: 1\n"}`,
		`{"name":1}`, `{"name":"x","tags":[1]}`, `{"templateYaml":"{"}`, `[]`, `null`, `"str"`, `{`, ``,
		`{"name":"\u0000","description":"\ud800"}`, `{"name":"a","requiresApproval":"yes"}`,
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	n := newNode(f)
	existing := n.createFlow(f, map[string]any{"name": "existing"})["id"].(string)
	f.Fuzz(func(t *testing.T, body string, create bool) {
		method, path := http.MethodPost, "/api/v1/flows"
		if !create {
			method, path = http.MethodPut, "/api/v1/flows/"+existing
		}
		r := n.do(t, method, path, body)
		if r.status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", method, path, body, r.status, r.body)
		}
		if r.status >= 400 {
			var e struct {
				Status  int    `json:"status"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Status != r.status || e.Message == "" {
				t.Fatalf("%d without the JSON error body: %s", r.status, r.body)
			}
		}
	})
}
