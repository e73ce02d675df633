package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// kosliDo sends a request the way the kosli CLI does: a Bearer token, and
// either a JSON body or multipart parts (data_json first, then files).
func (s *server) kosliDo(method, path string, jsonBody any, parts [][2]string) (int, []byte) {
	s.t.Helper()
	var body io.Reader
	ct := "application/json; charset=utf-8"
	switch {
	case parts != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, p := range parts {
			var w io.Writer
			var err error
			if p[0] == "data_json" || p[0] == "payload" {
				w, err = mw.CreateFormField(p[0])
			} else {
				w, err = mw.CreateFormFile(p[0], p[0]+".yml")
			}
			if err != nil {
				s.t.Fatal(err)
			}
			_, _ = io.WriteString(w, p[1])
		}
		_ = mw.Close()
		body, ct = &buf, mw.FormDataContentType()
	case jsonBody != nil:
		raw, _ := json.Marshal(jsonBody)
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	req.Header.Set("User-Agent", "Kosli/v2.38.0")
	req.Header.Set("Content-Type", ct)
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (s *server) kosliMust(method, path string, jsonBody any, parts [][2]string, want ...int) []byte {
	s.t.Helper()
	st, raw := s.kosliDo(method, path, jsonBody, parts)
	for _, w := range want {
		if st == w {
			return raw
		}
	}
	s.t.Fatalf("%s %s: status %d, want %v; body %s", method, path, st, want, raw)
	return nil
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestKosliDoor walks issue 5's end-to-end path through /api/v2 only (the
// organisation is the one prepared fact): a flow from a template file, a
// trail, an artifact, a failing then a passing junit attestation with the
// assert following, a server snapshot, and the same facts seen through
// /api/v1 and the audit log.
func TestKosliDoor(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.mustDo(http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme"}, http.StatusCreated)
	const fp = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	template := "version: 1\ntrail:\n  artifacts:\n  - name: backend\n    attestations:\n    - name: unit-test\n      type: junit\n"

	srv.kosliMust(http.MethodPut, "/api/v2/flows/acme/template_file", nil,
		[][2]string{{"data_json", `{"name":"my flow","description":"d"}`}, {"template_file", template}}, http.StatusCreated)
	srv.kosliMust(http.MethodPut, "/api/v2/trails/acme/my%20flow", nil,
		[][2]string{{"data_json", `{"name":"trail-1","description":"first","user_data":{"build":"42"}}`}}, http.StatusCreated)
	// A re-run merges: the description stays, user_data stays.
	srv.kosliMust(http.MethodPut, "/api/v2/trails/acme/my%20flow", nil,
		[][2]string{{"data_json", `{"name":"trail-1","origin_url":"https://ci.example.com/1"}`}}, http.StatusOK)
	srv.kosliMust(http.MethodPost, "/api/v2/artifacts/acme/my%20flow", map[string]any{"fingerprint": fp, "filename": "backend:1.0",
		"template_reference_name": "backend", "trail_name": "trail-1", "git_commit": "81722e2b"}, nil, http.StatusCreated)

	junit := func(failures int) string {
		return jsonString(map[string]any{"attestation_name": "unit-test", "target_artifacts": []string{"backend"}, "user_data": map[string]any{},
			"junit_results": []map[string]any{{"name": "unit", "failures": failures, "errors": 0, "skipped": 0, "total": 3}}})
	}
	assertFP := func() map[string]any {
		return decodeInto(t, srv.kosliMust(http.MethodGet, "/api/v2/asserts/acme/fingerprint/"+fp+"?flow_name=my+flow", nil, nil, http.StatusOK))
	}
	srv.kosliMust(http.MethodPost, "/api/v2/attestations/acme/my%20flow/trail/trail-1/junit", nil,
		[][2]string{{"data_json", junit(1)}, {"attachment_file", "<testsuites/>"}}, http.StatusCreated)
	if a := assertFP(); a["compliant"] != false || a["scope"] != "flow" {
		t.Fatalf("assert after a failing junit: %v", a)
	}
	srv.kosliMust(http.MethodPost, "/api/v2/attestations/acme/my%20flow/trail/trail-1/junit", nil,
		[][2]string{{"data_json", junit(0)}}, http.StatusCreated)
	a := assertFP()
	if a["compliant"] != true || a["html_url"] == nil {
		t.Fatalf("assert after a passing junit: %v", a)
	}

	// The trail as `kosli get trail` reads it.
	tr := decodeInto(t, srv.kosliMust(http.MethodGet, "/api/v2/trails/acme/my%20flow/trail-1", nil, nil, http.StatusOK))
	if tr["compliance_state"] != "COMPLIANT" || tr["description"] != "first" || tr["origin_url"] != "https://ci.example.com/1" {
		t.Fatalf("trail: %v", tr)
	}
	if evs, _ := tr["events"].([]any); len(evs) < 4 {
		t.Fatalf("trail events: %v", tr["events"])
	}

	// A server snapshot running the artifact: compliant.
	srv.kosliMust(http.MethodPut, "/api/v2/environments/acme", map[string]any{"name": "prod", "type": "server", "description": ""}, nil, http.StatusCreated)
	srv.kosliMust(http.MethodPut, "/api/v2/environments/acme/prod/report/server", map[string]any{"artifacts": []any{
		map[string]any{"digests": map[string]string{"backend": fp}, "creationTimestamp": 1767225600}}}, nil, http.StatusCreated)
	snap := decodeInto(t, srv.kosliMust(http.MethodGet, "/api/v2/snapshots/acme/prod/-1", nil, nil, http.StatusOK))
	if snap["compliant"] != true || snap["index"] != float64(1) {
		t.Fatalf("snapshot -1: %v", snap)
	}
	if st, _ := srv.kosliDo(http.MethodGet, "/api/v2/environments/acme/nope", nil, nil); st != http.StatusNotFound {
		t.Fatalf("unknown environment: %d, want 404 (the CLI's --auto-environment relies on it)", st)
	}

	// One model, two doors: /api/v1 shows the same facts, and audit lists them.
	_, raw := srv.mustDo(http.MethodGet, "/api/v1/organisations/acme/flows", nil, http.StatusOK)
	var flows []map[string]any
	_ = json.Unmarshal(raw, &flows)
	if len(flows) != 1 || flows[0]["name"] != "my flow" || !strings.Contains(flows[0]["templateYaml"].(string), "backend") {
		t.Fatalf("v1 flows of acme: %s", raw)
	}
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/trails?flowId="+flows[0]["id"].(string), nil, http.StatusOK)
	var trails []map[string]any
	_ = json.Unmarshal(raw, &trails)
	if len(trails) != 1 || trails[0]["name"] != "trail-1" || trails[0]["status"] != "COMPLIANT" {
		t.Fatalf("v1 trails: %s", raw)
	}
	trailID := trails[0]["id"].(string)
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/artifacts?sha256=sha256:"+fp, nil, http.StatusOK)
	if !strings.Contains(string(raw), trailID) {
		t.Fatalf("v1 artifacts by digest: %s", raw)
	}
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/trails/"+trailID+"/attestations", nil, http.StatusOK)
	if n := decodeInto(t, raw)["totalItems"]; n != float64(2) {
		t.Fatalf("v1 attestations: %s", raw)
	}
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/trails/"+trailID+"/evidence", nil, http.StatusOK)
	if !strings.Contains(string(raw), "sha256Hash") {
		t.Fatalf("the attachment is not the attestation's evidence: %s", raw)
	}
	// The original's "Kosli v2" route still works as its contract test
	// calls it: trail by id, a free-text fingerprint.
	_, raw = srv.mustDo(http.MethodPost, "/api/v2/attestations/acme/my%20flow/"+trailID+"/sha256:abc123",
		map[string]any{"type": "junit", "status": "PASSED", "name": "junit-test", "details": "ok"}, http.StatusCreated)
	if got := decodeInto(t, raw); got["compliant"] != true || got["name"] != "junit-test" || got["type"] != "junit" {
		t.Fatalf("legacy attestation route: %s", raw)
	}
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/trails/"+trailID+"/audit", nil, http.StatusOK)
	for _, want := range []string{"TRAIL_STARTED", "TRAIL_UPDATED", "ARTIFACT_DEPLOYED", "ATTESTATION_RECORDED"} {
		if !strings.Contains(string(raw), want) {
			t.Fatalf("trail audit lacks %s: %s", want, raw)
		}
	}
}
