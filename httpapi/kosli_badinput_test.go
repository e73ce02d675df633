package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/cmd/factstore/app"
)

// Issue 5's acceptance for the Kosli door: bad input on every /api/v2 route
// is a 4xx the kosli CLI does not retry (never 409, 429 or 5xx), with a JSON
// body carrying `message` (and `errors` where a field is named), and
// nothing is appended to the ledger.

const (
	// kbiEvidenceLimit keeps the attestation route's body limit (evidence
	// limit plus multipart overhead) small enough to exceed cheaply.
	kbiEvidenceLimit = 16 << 10
	// kbiSnapshotLimit does the same for the snapshot report route.
	kbiSnapshotLimit = 64 << 10
	// kbiFP is the artifact reported on trail t1 of flow svc.
	kbiFP = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	// kbiTemplate declares the artifact the fixture reports.
	kbiTemplate = "version: 1\ntrail:\n  artifacts:\n  - name: backend\n"
	// kbiPolicy is a valid policy (schema v1).
	kbiPolicy = "_schema: https://kosli.com/schemas/policy/environment/v1\nartifacts:\n  provenance:\n    required: true\n"
	// kbiSchema is the JSON Schema of the custom type ct.
	kbiSchema = `{"type":"object","required":["x"],"properties":{"x":{"type":"number"}}}`
)

// kbiOtherFP is well formed but names no artifact anywhere.
var kbiOtherFP = strings.Repeat("c", 64)

// kbiPart is one part of a multipart body; a file name makes it a file part.
type kbiPart struct {
	name, file, body string
}

func kbiData(body string) kbiPart { return kbiPart{name: "data_json", body: body} }

func kbiFile(name, body string) kbiPart { return kbiPart{name: name, file: name + ".yml", body: body} }

func kbiMultipart(parts []kbiPart) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.file == "" {
			w, err = mw.CreateFormField(p.name)
		} else {
			w, err = mw.CreateFormFile(p.name, p.file)
		}
		if err != nil {
			return nil, "", err
		}
		if _, err = io.WriteString(w, p.body); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// kbiJSON is v as JSON text.
func kbiJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// kbiWith returns a copy of body with the given keys set; a nil value
// deletes the key.
func kbiWith(body map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

// kbiHuge is a string that alone exceeds the 1 MiB JSON body limit.
func kbiHuge() string { return strings.Repeat("x", 1<<20+1) }

// kbiCase is one request the Kosli door must refuse.
type kbiCase struct {
	name, method, path string
	// body is a JSON body: a string or []byte is sent as is, anything else
	// is marshalled.
	body any
	// form, when not nil, is a multipart body instead (an empty, non-nil
	// form has no parts at all).
	form []kbiPart
	// contentType overrides the Content-Type the CLI would send.
	contentType string
	headers     []string
	// status is the expected status; 0 accepts any 4xx the CLI does not
	// retry.
	status int
	// field, if set, is a key the `errors` map must carry; alternatives
	// are separated by "|".
	field string
}

// kbiFixture is one organisation with a flow, a trail, an artifact, two
// environments (prod with a snapshot) and a logical one over prod, a policy
// and a custom type.
type kbiFixture struct {
	n *node
}

func newKbiFixture(t testing.TB) *kbiFixture {
	t.Helper()
	n := startNode(t, t.TempDir(), func(c *app.Config) {
		c.MaxEvidenceBytes, c.MaxSnapshotBytes = kbiEvidenceLimit, kbiSnapshotLimit
	})
	fx := &kbiFixture{n: n}
	r := n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	fx.must(t, http.MethodPut, "/api/v2/flows/acme/template_file", nil,
		[]kbiPart{kbiData(`{"name":"svc","description":""}`), kbiFile("template_file", kbiTemplate)})
	fx.must(t, http.MethodPut, "/api/v2/trails/acme/svc", nil, []kbiPart{kbiData(`{"name":"t1"}`)})
	fx.must(t, http.MethodPost, "/api/v2/artifacts/acme/svc", map[string]any{"fingerprint": kbiFP, "filename": "backend:1",
		"template_reference_name": "backend", "trail_name": "t1"}, nil)
	fx.must(t, http.MethodPut, "/api/v2/environments/acme", map[string]any{"name": "prod", "type": "server", "description": ""}, nil)
	fx.must(t, http.MethodPut, "/api/v2/environments/acme", map[string]any{"name": "stage", "type": "server", "description": ""}, nil)
	fx.must(t, http.MethodPut, "/api/v2/environments/acme", map[string]any{"name": "virt", "type": "logical", "description": "",
		"included_environments": []string{"prod"}}, nil)
	fx.must(t, http.MethodPut, "/api/v2/environments/acme/prod/report/server", map[string]any{"artifacts": []any{
		map[string]any{"digests": map[string]string{"backend": kbiFP}, "creationTimestamp": 1767225600}}}, nil)
	fx.must(t, http.MethodPut, "/api/v2/policies/acme", nil,
		[]kbiPart{{name: "payload", body: `{"name":"p1","description":"","comment":"","type":"env"}`}, kbiFile("policy_file", kbiPolicy)})
	fx.must(t, http.MethodPost, "/api/v2/custom-attestation-types/acme", nil,
		[]kbiPart{kbiData(`{"name":"ct","description":"","evaluator":{"content_type":"jq","rules":[".x > 0"]}}`),
			{name: "type_schema", file: "schema.json", body: kbiSchema}})
	return fx
}

// send makes the request the way the kosli CLI does.
func (fx *kbiFixture) send(t testing.TB, method, path string, body any, form []kbiPart, contentType string, headers ...string) reply {
	t.Helper()
	ct := "application/json; charset=utf-8"
	if form != nil {
		raw, mct, err := kbiMultipart(form)
		require.NoError(t, err)
		body, ct = raw, mct
	}
	if contentType != "" {
		ct = contentType
	}
	return fx.n.do(t, method, path, body, append([]string{"Content-Type", ct, "Authorization", "Bearer test-token"}, headers...)...)
}

func (fx *kbiFixture) must(t testing.TB, method, path string, body any, form []kbiPart) {
	t.Helper()
	r := fx.send(t, method, path, body, form, "")
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "%s %s: %s", method, path, r.body)
}

// seqs is the stream head and the applied sequence from
// GET /api/v1/ledger/status: a refused request moves neither.
func (fx *kbiFixture) seqs(t *testing.T) [2]float64 {
	t.Helper()
	r := fx.n.do(t, http.MethodGet, "/api/v1/ledger/status", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	m := r.json(t)
	head, ok := m["headSequence"].(float64)
	require.True(t, ok, "headSequence in %s", r.body)
	applied, ok := m["appliedSequence"].(float64)
	require.True(t, ok, "appliedSequence in %s", r.body)
	return [2]float64{head, applied}
}

func (fx *kbiFixture) reject(t *testing.T, tc kbiCase) {
	t.Helper()
	before := fx.seqs(t)
	r := fx.send(t, tc.method, tc.path, tc.body, tc.form, tc.contentType, tc.headers...)
	what := tc.method + " " + tc.path
	assert.Less(t, r.status, 500, "%s answered %d: %s", what, r.status, r.body)
	assert.NotContains(t, []int{http.StatusConflict, http.StatusTooManyRequests}, r.status,
		"%s answered %d, which the kosli CLI retries: %s", what, r.status, r.body)
	if tc.status != 0 {
		assert.Equal(t, tc.status, r.status, "%s: %s", what, r.body)
	} else {
		assert.True(t, r.status >= 400 && r.status < 500, "%s answered %d: %s", what, r.status, r.body)
	}
	assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"), "Content-Type %q", r.header.Get("Content-Type"))
	var m map[string]any
	if assert.NoError(t, json.Unmarshal(r.body, &m), "%s: body is not a JSON object: %s", what, r.body) {
		msg, _ := m["message"].(string)
		assert.NotEmpty(t, strings.TrimSpace(msg), "%s: no message in %s", what, r.body)
		if tc.field != "" {
			errs, _ := m["errors"].(map[string]any)
			found := false
			for _, f := range strings.Split(tc.field, "|") {
				_, ok := errs[f]
				found = found || ok
			}
			assert.True(t, found, "%s: errors should name %s: %s", what, tc.field, r.body)
		}
	}
	assert.Equal(t, before, fx.seqs(t), "%s was refused but the ledger moved", what)
}

func (fx *kbiFixture) run(t *testing.T, cases []kbiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { fx.reject(t, tc) })
	}
}

func TestKosliBadInput(t *testing.T) {
	t.Parallel()
	fx := newKbiFixture(t)
	trailBefore := fx.send(t, http.MethodGet, "/api/v2/trails/acme/svc/t1", nil, nil, "")
	require.Equal(t, http.StatusOK, trailBefore.status, "%s", trailBefore.body)

	t.Run("flows", func(t *testing.T) { fx.run(t, kbiFlowCases(t)) })
	t.Run("flow template", func(t *testing.T) { fx.run(t, kbiFlowTemplateCases(t)) })
	t.Run("trails", func(t *testing.T) { fx.run(t, kbiTrailCases(t)) })
	t.Run("trail reads", func(t *testing.T) { fx.run(t, kbiTrailReadCases()) })
	t.Run("artifacts", func(t *testing.T) { fx.run(t, kbiArtifactCases(t)) })
	for _, typ := range []string{"generic", "junit", "snyk", "pull_request", "jira", "sonar", "decision", "override", "custom"} {
		t.Run("attest "+typ, func(t *testing.T) { fx.run(t, kbiAttestCases(t, typ)) })
	}
	t.Run("attest custom data", func(t *testing.T) { fx.run(t, kbiCustomAttestCases(t)) })
	t.Run("attest type-specific", func(t *testing.T) { fx.run(t, kbiTypedAttestCases(t)) })
	t.Run("attest legacy", func(t *testing.T) { fx.run(t, kbiLegacyAttestCases(t)) })
	t.Run("custom types", func(t *testing.T) { fx.run(t, kbiCustomTypeCases(t)) })
	t.Run("environments", func(t *testing.T) { fx.run(t, kbiEnvironmentCases(t)) })
	t.Run("environment reports", func(t *testing.T) { fx.run(t, kbiReportCases(t)) })
	t.Run("attach policies", func(t *testing.T) { fx.run(t, kbiAttachPolicyCases(t)) })
	t.Run("snapshots", func(t *testing.T) { fx.run(t, kbiSnapshotCases()) })
	t.Run("policies", func(t *testing.T) { fx.run(t, kbiPolicyCases(t)) })
	t.Run("asserts", func(t *testing.T) { fx.run(t, kbiAssertCases()) })
	t.Run("search", func(t *testing.T) { fx.run(t, kbiSearchCases()) })
	t.Run("methods", func(t *testing.T) { fx.run(t, kbiMethodCases()) })

	// The fixture is untouched: the same trail (same events), one snapshot.
	trailAfter := fx.send(t, http.MethodGet, "/api/v2/trails/acme/svc/t1", nil, nil, "")
	assert.JSONEq(t, string(trailBefore.body), string(trailAfter.body))
	r := fx.send(t, http.MethodGet, "/api/v2/snapshots/acme/prod/2", nil, nil, "")
	assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
}

func kbiFlowCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/flows/acme"
	valid := map[string]any{"name": "fresh-flow", "description": "", "template": []string{"artifact", "unit-test"}}
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/flows/nope", body: valid, status: http.StatusNotFound},
		{name: "malformed", body: `{"name":`, status: http.StatusBadRequest},
		{name: "empty body", body: "", status: http.StatusBadRequest},
		{name: "an array", body: `[1,2]`, status: http.StatusBadRequest},
		{name: "a string", body: `"svc"`, status: http.StatusBadRequest},
		{name: "trailing data", body: `{"name":"x"} {}`, status: http.StatusBadRequest},
		{name: "name a number", body: kbiWith(valid, "name", 7), status: http.StatusBadRequest},
		{name: "template a string", body: kbiWith(valid, "template", "artifact"), status: http.StatusBadRequest},
		{name: "template of numbers", body: kbiWith(valid, "template", []int{1}), status: http.StatusBadRequest},
		{name: "description an object", body: kbiWith(valid, "description", map[string]any{}), status: http.StatusBadRequest},
		{name: "null", body: `null`, status: http.StatusBadRequest, field: "name"},
		{name: "missing name", body: kbiWith(valid, "name", nil), status: http.StatusBadRequest, field: "name"},
		{name: "blank name", body: kbiWith(valid, "name", "   "), status: http.StatusBadRequest, field: "name"},
		{name: "name too long", body: kbiWith(valid, "name", strings.Repeat("n", 256)), status: http.StatusBadRequest, field: "name"},
		{name: "oversized", body: kbiWith(valid, "description", kbiHuge()), status: http.StatusRequestEntityTooLarge},
		{name: "Idempotency-Key too long", body: valid, headers: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: http.StatusBadRequest},
	}
	return kbiDefaults(cases, http.MethodPut, path)
}

func kbiFlowTemplateCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/flows/acme/template_file"
	data := func(name string) kbiPart { return kbiData(kbiJSON(t, map[string]any{"name": name, "description": ""})) }
	tmpl := func(yaml string) kbiPart { return kbiFile("template_file", yaml) }
	var cases []kbiCase
	// Both a new flow and the existing one (an update) refuse a bad template.
	for _, name := range []string{"fresh-flow", "svc"} {
		for _, bad := range []struct{ label, yaml string }{
			{"not YAML", "a: [unclosed"},
			{"a list", "- a\n- b\n"},
			{"version 2", "version: 2\n"},
			{"unknown variable in an if", "version: 1\ntrail: {attestations: [{name: a, if: 'env.X == 1'}]}\n"},
			{"artifacts not a list", "version: 1\ntrail:\n  artifacts: yes\n"},
		} {
			cases = append(cases, kbiCase{name: name + ": template " + bad.label, form: []kbiPart{data(name), tmpl(bad.yaml)},
				status: http.StatusBadRequest})
		}
	}
	cases = append(cases,
		kbiCase{name: "unknown org", path: "/api/v2/flows/nope/template_file", form: []kbiPart{data("x"), tmpl("version: 1")}, status: http.StatusNotFound},
		kbiCase{name: "JSON instead of multipart", body: map[string]any{"name": "x"}, status: http.StatusBadRequest},
		kbiCase{name: "multipart without a boundary", body: "--x\r\n", contentType: "multipart/form-data", status: http.StatusBadRequest},
		kbiCase{name: "broken multipart", body: "not a multipart body", contentType: "multipart/form-data; boundary=zzz", status: http.StatusBadRequest},
		kbiCase{name: "missing data_json", form: []kbiPart{tmpl("version: 1")}, status: http.StatusBadRequest, field: "data_json"},
		kbiCase{name: "no parts", form: []kbiPart{}, status: http.StatusBadRequest, field: "data_json"},
		kbiCase{name: "malformed data_json", form: []kbiPart{kbiData(`{"name":`), tmpl("version: 1")}, status: http.StatusBadRequest},
		kbiCase{name: "data_json an array", form: []kbiPart{kbiData(`[]`)}, status: http.StatusBadRequest},
		kbiCase{name: "name a number", form: []kbiPart{kbiData(`{"name":1}`), tmpl("version: 1")}, status: http.StatusBadRequest},
		kbiCase{name: "missing name", form: []kbiPart{kbiData(`{"description":"d"}`), tmpl("version: 1")}, status: http.StatusBadRequest, field: "name"},
		kbiCase{name: "oversized template", form: []kbiPart{data("x"), tmpl("version: 1\n#" + kbiHuge())}, status: http.StatusRequestEntityTooLarge},
	)
	return kbiDefaults(cases, http.MethodPut, path)
}

func kbiTrailCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/trails/acme/svc"
	valid := kbiData(`{"name":"fresh-trail","description":"d"}`)
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/trails/nope/svc", form: []kbiPart{valid}, status: http.StatusNotFound},
		{name: "unknown flow", path: "/api/v2/trails/acme/nope", form: []kbiPart{valid}, status: http.StatusNotFound},
		{name: "JSON instead of multipart", body: map[string]any{"name": "fresh-trail"}, status: http.StatusBadRequest},
		{name: "missing data_json", form: []kbiPart{kbiFile("template_file", "version: 1")}, status: http.StatusBadRequest, field: "data_json"},
		{name: "malformed data_json", form: []kbiPart{kbiData(`{"name":"x",`)}, status: http.StatusBadRequest},
		{name: "data_json a string", form: []kbiPart{kbiData(`"fresh-trail"`)}, status: http.StatusBadRequest},
		{name: "data_json null", form: []kbiPart{kbiData(`null`)}, status: http.StatusBadRequest, field: "name"},
		{name: "name a number", form: []kbiPart{kbiData(`{"name":5}`)}, status: http.StatusBadRequest},
		{name: "description a list", form: []kbiPart{kbiData(`{"name":"fresh-trail","description":["d"]}`)}, status: http.StatusBadRequest},
		{name: "git_commit_info a string", form: []kbiPart{kbiData(`{"name":"fresh-trail","git_commit_info":"abc"}`)}, status: http.StatusBadRequest},
		{name: "git_commit_info.sha1 a number", form: []kbiPart{kbiData(`{"name":"fresh-trail","git_commit_info":{"sha1":1}}`)}, status: http.StatusBadRequest},
		{name: "missing name", form: []kbiPart{kbiData(`{"description":"d"}`)}, status: http.StatusBadRequest, field: "name"},
		{name: "blank name", form: []kbiPart{kbiData(`{"name":"  "}`)}, status: http.StatusBadRequest, field: "name"},
		{name: "name too long", form: []kbiPart{kbiData(kbiJSON(t, map[string]any{"name": strings.Repeat("n", 256)}))}, status: http.StatusBadRequest, field: "name"},
		{name: "new trail, bad template", form: []kbiPart{valid, kbiFile("template_file", "a: [unclosed")}, status: http.StatusBadRequest},
		{name: "existing trail, bad template", form: []kbiPart{kbiData(`{"name":"t1"}`), kbiFile("template_file", "version: 2\n")}, status: http.StatusBadRequest},
		{name: "oversized", form: []kbiPart{kbiData(kbiJSON(t, map[string]any{"name": "fresh-trail", "description": kbiHuge()}))}, status: http.StatusRequestEntityTooLarge},
	}
	return kbiDefaults(cases, http.MethodPut, path)
}

func kbiTrailReadCases() []kbiCase {
	cases := []kbiCase{
		{name: "get: unknown org", path: "/api/v2/trails/nope/svc/t1", status: http.StatusNotFound},
		{name: "get: unknown flow", path: "/api/v2/trails/acme/nope/t1", status: http.StatusNotFound},
		{name: "get: unknown trail", path: "/api/v2/trails/acme/svc/nope", status: http.StatusNotFound},
		{name: "list: unknown org", path: "/api/v2/trails/nope", status: http.StatusNotFound},
		{name: "list: unknown flow", path: "/api/v2/trails/acme?flow=nope", status: http.StatusNotFound},
		{name: "list: page 0", path: "/api/v2/trails/acme?page=0", status: http.StatusBadRequest},
		{name: "list: page not a number", path: "/api/v2/trails/acme?page=one", status: http.StatusBadRequest},
		{name: "list: per_page 0", path: "/api/v2/trails/acme?per_page=0", status: http.StatusBadRequest},
		{name: "list: per_page too big", path: "/api/v2/trails/acme?per_page=1000", status: http.StatusBadRequest},
		{name: "list: bad fingerprint", path: "/api/v2/trails/acme?fingerprint=xyz", status: http.StatusBadRequest, field: "fingerprint"},
	}
	return kbiDefaults(cases, http.MethodGet, "")
}

func kbiArtifactCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/artifacts/acme/svc"
	valid := map[string]any{"fingerprint": kbiOtherFP, "filename": "backend:2", "template_reference_name": "backend",
		"trail_name": "t1", "git_commit": "81722e2b", "build_url": "https://ci.example.com/1"}
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/artifacts/nope/svc", body: valid, status: http.StatusNotFound},
		{name: "unknown flow", path: "/api/v2/artifacts/acme/nope", body: valid, status: http.StatusNotFound},
		{name: "unknown trail", body: kbiWith(valid, "trail_name", "nope"), status: http.StatusNotFound},
		{name: "malformed", body: `{"fingerprint":`, status: http.StatusBadRequest},
		{name: "empty body", body: "", status: http.StatusBadRequest},
		{name: "an array", body: `[]`, status: http.StatusBadRequest},
		{name: "trailing data", body: kbiJSON(t, valid) + ` {}`, status: http.StatusBadRequest},
		{name: "fingerprint a number", body: kbiWith(valid, "fingerprint", 5), status: http.StatusBadRequest},
		{name: "trail_name a list", body: kbiWith(valid, "trail_name", []string{"t1"}), status: http.StatusBadRequest},
		{name: "filename an object", body: kbiWith(valid, "filename", map[string]any{}), status: http.StatusBadRequest},
		{name: "missing trail_name", body: kbiWith(valid, "trail_name", nil), status: http.StatusBadRequest, field: "trail_name"},
		{name: "null", body: `null`, status: http.StatusBadRequest, field: "trail_name"},
		// The errors map should name the wire's field, fingerprint; one case
		// insists, the others accept the internal name too.
		{name: "fingerprint not hex", body: kbiWith(valid, "fingerprint", strings.Repeat("z", 64)), status: http.StatusBadRequest, field: "fingerprint"},
		{name: "missing fingerprint", body: kbiWith(valid, "fingerprint", nil), status: http.StatusBadRequest, field: "fingerprint|sha256Digest"},
		{name: "fingerprint too short", body: kbiWith(valid, "fingerprint", kbiOtherFP[:63]), status: http.StatusBadRequest, field: "fingerprint|sha256Digest"},
		{name: "fingerprint too long", body: kbiWith(valid, "fingerprint", kbiOtherFP+"c"), status: http.StatusBadRequest, field: "fingerprint|sha256Digest"},
		{name: "oversized", body: kbiWith(valid, "build_url", kbiHuge()), status: http.StatusRequestEntityTooLarge},
		{name: "dry run still validated", body: kbiWith(valid, "fingerprint", "xyz"), headers: []string{"X-Factstore-Dry-Run", "true"},
			status: http.StatusBadRequest},
	}
	return kbiDefaults(cases, http.MethodPost, path)
}

// kbiAttestBody is a valid data_json of an attestation of typ.
func kbiAttestBody(typ string) map[string]any {
	b := map[string]any{"attestation_name": "check", "user_data": map[string]any{}}
	switch typ {
	case "generic":
		b["is_compliant"] = true
	case "junit":
		b["junit_results"] = []any{map[string]any{"name": "unit", "failures": 0, "errors": 0, "skipped": 0, "total": 1}}
	case "snyk":
		b["snyk_results"] = map[string]any{"schema_version": 1, "results": []any{map[string]any{"high_count": 0, "medium_count": 0}}}
	case "pull_request":
		b["git_provider"], b["pull_requests"] = "github", []any{map[string]any{"url": "https://example.com/pr/1"}}
	case "custom":
		b["type_name"], b["attestation_data"] = "ct", map[string]any{"x": 1}
	}
	return b
}

func kbiAttestCases(t *testing.T, typ string) []kbiCase {
	t.Helper()
	path := "/api/v2/attestations/acme/svc/trail/t1/" + typ
	valid := kbiAttestBody(typ)
	form := func(b map[string]any) []kbiPart { return []kbiPart{kbiData(kbiJSON(t, b))} }
	// The errors map should use the wire's names (attestation_name,
	// artifact_fingerprint). Every type shares the code that names them, so
	// only generic insists; the others accept the internal names too.
	nameKey, fpKey := "attestation_name", "artifact_fingerprint"
	if typ != "generic" {
		nameKey, fpKey = "attestation_name|name", "artifact_fingerprint|artifactFingerprint"
	}
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/attestations/nope/svc/trail/t1/" + typ, form: form(valid), status: http.StatusNotFound},
		{name: "unknown flow", path: "/api/v2/attestations/acme/nope/trail/t1/" + typ, form: form(valid), status: http.StatusNotFound},
		{name: "unknown trail", path: "/api/v2/attestations/acme/svc/trail/nope/" + typ, form: form(valid), status: http.StatusNotFound},
		{name: "JSON instead of multipart", body: valid, status: http.StatusBadRequest},
		{name: "missing data_json", form: []kbiPart{kbiFile("attachment_file", "x")}, status: http.StatusBadRequest, field: "data_json"},
		{name: "malformed data_json", form: []kbiPart{kbiData(`{"attestation_name":`)}, status: http.StatusBadRequest},
		{name: "data_json an array", form: []kbiPart{kbiData(`[]`)}, status: http.StatusBadRequest},
		{name: "missing attestation_name", form: form(kbiWith(valid, "attestation_name", nil)), status: http.StatusBadRequest, field: "attestation_name"},
		{name: "blank attestation_name", form: form(kbiWith(valid, "attestation_name", " ")), status: http.StatusBadRequest, field: "attestation_name"},
		{name: "data_json null", form: []kbiPart{kbiData(`null`)}, status: http.StatusBadRequest, field: "attestation_name"},
		{name: "attestation_name too long", form: form(kbiWith(valid, "attestation_name", strings.Repeat("n", 256))), status: http.StatusBadRequest, field: nameKey},
		{name: "attestation_name a number", form: form(kbiWith(valid, "attestation_name", 1)), status: http.StatusBadRequest},
		{name: "is_compliant a string", form: form(kbiWith(valid, "is_compliant", "yes")), status: http.StatusBadRequest},
		{name: "target_artifacts a string", form: form(kbiWith(valid, "target_artifacts", "backend")), status: http.StatusBadRequest},
		{name: "artifact_fingerprint a number", form: form(kbiWith(valid, "artifact_fingerprint", 1)), status: http.StatusBadRequest},
		{name: "artifact_fingerprint not 64 hex", form: form(kbiWith(valid, "artifact_fingerprint", "xyz")), status: http.StatusBadRequest, field: fpKey},
		{name: "artifact_fingerprint not on the trail", form: form(kbiWith(valid, "artifact_fingerprint", kbiOtherFP)), status: http.StatusBadRequest, field: fpKey},
		{name: "oversized attachment", form: append(form(valid), kbiFile("attachment_file", strings.Repeat("a", kbiEvidenceLimit+64<<10+1))),
			status: http.StatusRequestEntityTooLarge},
	}
	return kbiDefaults(cases, http.MethodPost, path)
}

// kbiCustomAttestCases are custom attestations whose type or data is wrong.
func kbiCustomAttestCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/attestations/acme/svc/trail/t1/custom"
	valid := kbiAttestBody("custom")
	form := func(b map[string]any) []kbiPart { return []kbiPart{kbiData(kbiJSON(t, b))} }
	cases := []kbiCase{
		{name: "missing type_name", form: form(kbiWith(valid, "type_name", nil)), status: http.StatusBadRequest, field: "type_name"},
		{name: "type_name a number", form: form(kbiWith(valid, "type_name", 1)), status: http.StatusBadRequest},
		{name: "unknown type_name", form: form(kbiWith(valid, "type_name", "nope")), status: http.StatusNotFound},
		{name: "data failing the schema (wrong type)", form: form(kbiWith(valid, "attestation_data", map[string]any{"x": "one"})),
			status: http.StatusBadRequest, field: "attestation_data"},
		{name: "data failing the schema (required key)", form: form(kbiWith(valid, "attestation_data", map[string]any{"y": 1})),
			status: http.StatusBadRequest, field: "attestation_data"},
		{name: "data not an object", form: form(kbiWith(valid, "attestation_data", []int{1})), status: http.StatusBadRequest, field: "attestation_data"},
		{name: "missing attestation_data", form: form(kbiWith(valid, "attestation_data", nil)), status: http.StatusBadRequest, field: "attestation_data"},
	}
	return kbiDefaults(cases, http.MethodPost, path)
}

// kbiTypedAttestCases are wrong shapes of the type-specific keys, an
// unknown type path and attachments the evidence store must refuse.
func kbiTypedAttestCases(t *testing.T) []kbiCase {
	t.Helper()
	const base = "/api/v2/attestations/acme/svc/trail/t1/"
	form := func(typ string, kv ...any) []kbiPart {
		return []kbiPart{kbiData(kbiJSON(t, kbiWith(kbiAttestBody(typ), kv...)))}
	}
	cases := []kbiCase{
		{name: "unknown type path", path: base + "bogus", form: form("generic"), status: http.StatusNotFound},
		{name: "type path in another case", path: base + "Generic", form: form("generic"), status: http.StatusNotFound},
		{name: "junit_results a string", path: base + "junit", form: form("junit", "junit_results", "x"), status: http.StatusBadRequest},
		{name: "junit failures a string", path: base + "junit", form: form("junit", "junit_results", []any{map[string]any{"failures": "1"}}),
			status: http.StatusBadRequest},
		{name: "snyk_results a list", path: base + "snyk", form: form("snyk", "snyk_results", []any{}), status: http.StatusBadRequest},
		{name: "snyk results an object", path: base + "snyk", form: form("snyk", "snyk_results", map[string]any{"results": map[string]any{}}),
			status: http.StatusBadRequest},
		{name: "snyk high_count a string", path: base + "snyk",
			form: form("snyk", "snyk_results", map[string]any{"results": []any{map[string]any{"high_count": "many"}}}), status: http.StatusBadRequest},
		{name: "pull_requests an object", path: base + "pull_request", form: form("pull_request", "pull_requests", map[string]any{}),
			status: http.StatusBadRequest},
		// The evidence limit holds for an attachment as it does for
		// /api/v1 uploads, though the body limit leaves room above it.
		{name: "attachment over the evidence limit", path: base + "generic",
			form: append(form("generic"), kbiFile("attachment_file", strings.Repeat("a", kbiEvidenceLimit+1))), status: http.StatusRequestEntityTooLarge},
		// The attachment's name is refused by AttachEvidence: the
		// attestation must not be recorded without it.
		{name: "attachment file name too long", path: base + "generic",
			form:   append(form("generic"), kbiPart{name: "attachment_file", file: strings.Repeat("f", 300) + ".xml", body: "<testsuites/>"}),
			status: http.StatusBadRequest},
	}
	return kbiDefaults(cases, http.MethodPost, "")
}

func kbiLegacyAttestCases(t *testing.T) []kbiCase {
	t.Helper()
	// The fingerprint segment is free text by design (the original's
	// contract test sends "sha256:abc123"), so it is not bad input here.
	path := "/api/v2/attestations/acme/svc/t1/" + kbiFP
	valid := map[string]any{"type": "generic", "status": "PASSED", "name": "legacy"}
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/attestations/nope/svc/t1/" + kbiFP, body: valid, status: http.StatusNotFound},
		{name: "unknown flow", path: "/api/v2/attestations/acme/nope/t1/" + kbiFP, body: valid, status: http.StatusNotFound},
		{name: "unknown trail", path: "/api/v2/attestations/acme/svc/nope/" + kbiFP, body: valid, status: http.StatusNotFound},
		{name: "malformed", body: `{"type":`, status: http.StatusBadRequest},
		{name: "empty body", body: "", status: http.StatusBadRequest},
		{name: "an array", body: `[]`, status: http.StatusBadRequest},
		{name: "type a number", body: kbiWith(valid, "type", 1), status: http.StatusBadRequest},
		{name: "status a bool", body: kbiWith(valid, "status", true), status: http.StatusBadRequest},
		{name: "details a number", body: kbiWith(valid, "details", 5), status: http.StatusBadRequest},
		{name: "missing type", body: kbiWith(valid, "type", nil), status: http.StatusBadRequest, field: "type"},
		{name: "unknown status", body: kbiWith(valid, "status", "MAYBE"), status: http.StatusBadRequest, field: "status"},
		{name: "oversized", body: kbiWith(valid, "details", kbiHuge()), status: http.StatusRequestEntityTooLarge},
	}
	return kbiDefaults(cases, http.MethodPost, path)
}

func kbiCustomTypeCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/custom-attestation-types/acme"
	valid := map[string]any{"name": "fresh-type", "description": "", "evaluator": map[string]any{"content_type": "jq", "rules": []string{".x > 0"}}}
	form := func(b map[string]any, parts ...kbiPart) []kbiPart {
		return append([]kbiPart{kbiData(kbiJSON(t, b))}, parts...)
	}
	schema := func(s string) kbiPart { return kbiPart{name: "type_schema", file: "schema.json", body: s} }
	// The definition's errors are reported against the part they came in.
	const def, sch = "data_json|name|evaluator|summary", "type_schema|data_json"
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/custom-attestation-types/nope", form: form(valid), status: http.StatusNotFound},
		{name: "JSON instead of multipart", body: valid, status: http.StatusBadRequest},
		{name: "missing data_json", form: []kbiPart{schema(kbiSchema)}, status: http.StatusBadRequest, field: "data_json"},
		{name: "malformed data_json", form: []kbiPart{kbiData(`{"name":`)}, status: http.StatusBadRequest},
		{name: "name a number", form: form(kbiWith(valid, "name", 1)), status: http.StatusBadRequest},
		{name: "evaluator a string", form: form(kbiWith(valid, "evaluator", "jq")), status: http.StatusBadRequest},
		{name: "rules a string", form: form(kbiWith(valid, "evaluator", map[string]any{"content_type": "jq", "rules": ".x"})), status: http.StatusBadRequest},
		{name: "summary an object", form: form(kbiWith(valid, "summary", map[string]any{})), status: http.StatusBadRequest},
		{name: "missing name", form: form(kbiWith(valid, "name", nil)), status: http.StatusBadRequest, field: def},
		{name: "bad name", form: form(kbiWith(valid, "name", "bad name!")), status: http.StatusBadRequest, field: def},
		{name: "rule does not compile", form: form(kbiWith(valid, "evaluator", map[string]any{"content_type": "jq", "rules": []string{".x >"}})),
			status: http.StatusBadRequest, field: def},
		{name: "rule calls an unknown function", form: form(kbiWith(valid, "evaluator", map[string]any{"content_type": "jq", "rules": []string{"nosuchfn(.x)"}})),
			status: http.StatusBadRequest, field: def},
		{name: "evaluator not jq", form: form(kbiWith(valid, "evaluator", map[string]any{"content_type": "python", "rules": []string{"True"}})),
			status: http.StatusBadRequest, field: def},
		{name: "summary does not compile", form: form(kbiWith(valid, "summary", []any{map[string]any{"name": "s", "expression": "{"}})),
			status: http.StatusBadRequest, field: def},
		{name: "schema not JSON", form: form(valid, schema("{")), status: http.StatusBadRequest, field: sch},
		{name: "schema does not compile", form: form(valid, schema(`{"type":5}`)), status: http.StatusBadRequest, field: sch},
		{name: "schema with a dangling $ref", form: form(valid, schema(`{"$ref":"#/definitions/nope"}`)), status: http.StatusBadRequest, field: sch},
		{name: "schema a string", form: form(valid, schema(`"object"`)), status: http.StatusBadRequest, field: sch},
		{name: "oversized", form: form(valid, schema(`{"description":"`+kbiHuge()+`"}`)), status: http.StatusRequestEntityTooLarge},
	}
	return kbiDefaults(cases, http.MethodPost, path)
}

func kbiEnvironmentCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/environments/acme"
	valid := map[string]any{"name": "fresh-env", "type": "server", "description": ""}
	logical := map[string]any{"name": "fresh-logical", "type": "logical", "description": "", "included_environments": []string{"prod"}}
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/environments/nope", body: valid, status: http.StatusNotFound},
		{name: "unknown org, logical", path: "/api/v2/environments/nope", body: logical, status: http.StatusNotFound},
		{name: "malformed", body: `{"name":`, status: http.StatusBadRequest},
		{name: "empty body", body: "", status: http.StatusBadRequest},
		{name: "name a number", body: kbiWith(valid, "name", 1), status: http.StatusBadRequest},
		{name: "type a bool", body: kbiWith(valid, "type", true), status: http.StatusBadRequest},
		{name: "included_environments a string", body: kbiWith(logical, "included_environments", "prod"), status: http.StatusBadRequest},
		{name: "missing name", body: kbiWith(valid, "name", nil), status: http.StatusBadRequest, field: "name"},
		{name: "null", body: `null`, status: http.StatusBadRequest},
		{name: "name too long", body: kbiWith(valid, "name", strings.Repeat("n", 256)), status: http.StatusBadRequest, field: "name"},
		{name: "missing type", body: kbiWith(valid, "type", nil), status: http.StatusBadRequest, field: "type"},
		{name: "unknown type", body: kbiWith(valid, "type", "mainframe"), status: http.StatusBadRequest, field: "type"},
		{name: "existing environment, unknown type", body: kbiWith(valid, "name", "prod", "type", "mainframe"), status: http.StatusBadRequest, field: "type"},
		{name: "logical, missing name", body: kbiWith(logical, "name", nil), status: http.StatusBadRequest, field: "name"},
		{name: "logical, unknown member", body: kbiWith(logical, "included_environments", []string{"prod", "nope"}), status: http.StatusNotFound},
		{name: "oversized", body: kbiWith(valid, "description", kbiHuge()), status: http.StatusRequestEntityTooLarge},
	}
	cases = kbiDefaults(cases, http.MethodPut, path)
	cases = append(cases,
		kbiCase{name: "get: unknown org", method: http.MethodGet, path: "/api/v2/environments/nope/prod", status: http.StatusNotFound},
		kbiCase{name: "get: unknown environment", method: http.MethodGet, path: "/api/v2/environments/acme/nope", status: http.StatusNotFound},
	)
	return cases
}

func kbiReportCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/environments/acme/stage/report/server"
	entry := func(name, fp string) map[string]any {
		return map[string]any{"artifacts": []any{map[string]any{"digests": map[string]string{name: fp}, "creationTimestamp": 1767225600}}}
	}
	valid := entry("backend", kbiFP)
	big := strings.Repeat(`{"digests":{"backend":"`+kbiFP+`"},"creationTimestamp":1},`, kbiSnapshotLimit/80+1)
	cases := []kbiCase{
		{name: "unknown report type", path: "/api/v2/environments/acme/stage/report/mainframe", body: valid, status: http.StatusNotFound},
		{name: "report type in another case", path: "/api/v2/environments/acme/stage/report/SERVER", body: valid, status: http.StatusNotFound},
		{name: "unknown org", path: "/api/v2/environments/nope/stage/report/server", body: valid, status: http.StatusNotFound},
		{name: "unknown environment", path: "/api/v2/environments/acme/nope/report/server", body: valid, status: http.StatusNotFound},
		{name: "malformed", body: `{"artifacts":[`, status: http.StatusBadRequest},
		{name: "empty body", body: "", status: http.StatusBadRequest},
		{name: "an array", body: `[]`, status: http.StatusBadRequest},
		{name: "artifacts an object", body: map[string]any{"artifacts": map[string]any{}}, status: http.StatusBadRequest},
		{name: "digests a list", body: map[string]any{"artifacts": []any{map[string]any{"digests": []string{kbiFP}}}}, status: http.StatusBadRequest},
		{name: "digest a number", body: map[string]any{"artifacts": []any{map[string]any{"digests": map[string]any{"backend": 1}}}}, status: http.StatusBadRequest},
		{name: "creationTimestamp a string", body: map[string]any{"artifacts": []any{map[string]any{"digests": map[string]string{"backend": kbiFP},
			"creationTimestamp": "yesterday"}}}, status: http.StatusBadRequest},
		{name: "digest not 64 hex", body: entry("backend", "xyz"), status: http.StatusBadRequest},
		{name: "digest too short", body: entry("backend", kbiFP[:63]), status: http.StatusBadRequest},
		{name: "empty artifact name", body: entry("", kbiFP), status: http.StatusBadRequest},
		{name: "an entry not an object", body: `{"artifacts":[1]}`, status: http.StatusBadRequest},
		{name: "instance context too large", body: map[string]any{"artifacts": []any{map[string]any{"digests": map[string]string{"backend": kbiFP},
			"podName": "web-a", "owners": strings.Repeat("o", 9<<10)}}}, status: http.StatusBadRequest},
		// A logical environment has no snapshots of its own.
		{name: "logical environment", path: "/api/v2/environments/acme/virt/report/server", body: valid},
		{name: "oversized", body: `{"artifacts":[` + big + `{}]}`, status: http.StatusRequestEntityTooLarge},
	}
	return kbiDefaults(cases, http.MethodPut, path)
}

func kbiAttachPolicyCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/environments/acme/stage/policies"
	valid := map[string]any{"policy_names": []string{"p1"}}
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/environments/nope/stage/policies", body: valid, status: http.StatusNotFound},
		{name: "unknown environment", path: "/api/v2/environments/acme/nope/policies", body: valid, status: http.StatusNotFound},
		{name: "unknown policy", body: map[string]any{"policy_names": []string{"nope"}}, status: http.StatusNotFound},
		{name: "one unknown policy of two", body: map[string]any{"policy_names": []string{"p1", "nope"}}, status: http.StatusNotFound},
		{name: "logical environment", path: "/api/v2/environments/acme/virt/policies", body: valid},
		{name: "malformed", body: `{"policy_names":[`, status: http.StatusBadRequest},
		{name: "empty body", body: "", status: http.StatusBadRequest},
		{name: "policy_names a string", body: map[string]any{"policy_names": "p1"}, status: http.StatusBadRequest},
		{name: "policy_names of numbers", body: map[string]any{"policy_names": []int{1}}, status: http.StatusBadRequest},
		{name: "missing policy_names", body: map[string]any{}, status: http.StatusBadRequest, field: "policy_names"},
		{name: "empty policy_names", body: map[string]any{"policy_names": []string{}}, status: http.StatusBadRequest, field: "policy_names"},
		{name: "oversized", body: map[string]any{"policy_names": []string{kbiHuge()}}, status: http.StatusRequestEntityTooLarge},
	}
	cases = kbiDefaults(cases, http.MethodPost, path)
	cases = append(cases,
		kbiCase{name: "detach: unknown policy", method: http.MethodDelete, path: path, body: map[string]any{"policy_names": []string{"nope"}},
			status: http.StatusNotFound},
		kbiCase{name: "detach: missing policy_names", method: http.MethodDelete, path: path, body: map[string]any{}, status: http.StatusBadRequest,
			field: "policy_names"},
	)
	return cases
}

func kbiSnapshotCases() []kbiCase {
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/snapshots/nope/prod/-1", status: http.StatusNotFound},
		{name: "unknown environment", path: "/api/v2/snapshots/acme/nope/-1", status: http.StatusNotFound},
		{name: "id 0", path: "/api/v2/snapshots/acme/prod/0", status: http.StatusBadRequest},
		{name: "id not a number", path: "/api/v2/snapshots/acme/prod/latest", status: http.StatusBadRequest},
		{name: "id a fraction", path: "/api/v2/snapshots/acme/prod/1.5", status: http.StatusBadRequest},
		{name: "id overflows", path: "/api/v2/snapshots/acme/prod/99999999999999999999", status: http.StatusBadRequest},
		{name: "id past the latest", path: "/api/v2/snapshots/acme/prod/2", status: http.StatusNotFound},
		{name: "id before the first", path: "/api/v2/snapshots/acme/prod/-2", status: http.StatusNotFound},
		{name: "no snapshot yet", path: "/api/v2/snapshots/acme/stage/-1", status: http.StatusNotFound},
		{name: "logical environment", path: "/api/v2/snapshots/acme/virt/-1"},
	}
	return kbiDefaults(cases, http.MethodGet, "")
}

func kbiPolicyCases(t *testing.T) []kbiCase {
	t.Helper()
	const path = "/api/v2/policies/acme"
	payload := func(b map[string]any) kbiPart { return kbiPart{name: "payload", body: kbiJSON(t, b)} }
	valid := map[string]any{"name": "fresh-policy", "description": "", "comment": "", "type": "env"}
	file := func(yaml string) kbiPart { return kbiFile("policy_file", yaml) }
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/policies/nope", form: []kbiPart{payload(valid), file(kbiPolicy)}, status: http.StatusNotFound},
		{name: "JSON instead of multipart", body: valid, status: http.StatusBadRequest},
		{name: "missing payload", form: []kbiPart{file(kbiPolicy)}, status: http.StatusBadRequest, field: "payload"},
		{name: "data_json instead of payload", form: []kbiPart{kbiData(kbiJSON(t, valid)), file(kbiPolicy)}, status: http.StatusBadRequest, field: "payload"},
		{name: "malformed payload", form: []kbiPart{{name: "payload", body: `{"name":`}, file(kbiPolicy)}, status: http.StatusBadRequest},
		{name: "name a number", form: []kbiPart{payload(kbiWith(valid, "name", 1)), file(kbiPolicy)}, status: http.StatusBadRequest},
		{name: "missing name", form: []kbiPart{payload(kbiWith(valid, "name", nil)), file(kbiPolicy)}, status: http.StatusBadRequest, field: "name"},
		{name: "name too long", form: []kbiPart{payload(kbiWith(valid, "name", strings.Repeat("n", 256))), file(kbiPolicy)},
			status: http.StatusBadRequest, field: "name"},
		{name: "missing policy_file", form: []kbiPart{payload(valid)}, status: http.StatusBadRequest, field: "policy_file"},
		{name: "oversized", form: []kbiPart{payload(valid), file(kbiPolicy + "#" + kbiHuge())}, status: http.StatusRequestEntityTooLarge},
	}
	for _, bad := range []struct{ label, yaml string }{
		{"empty", ""},
		{"not YAML", "_schema: [unclosed"},
		{"a list", "- a\n"},
		{"unknown key", kbiPolicy + "bogus: 1\n"},
		{"unknown artifacts key", "_schema: https://kosli.com/schemas/policy/environment/v1\nartifacts:\n  bogus: {}\n"},
		{"missing _schema", "artifacts:\n  provenance:\n    required: true\n"},
		{"_schema v2", "_schema: https://kosli.com/schemas/policy/environment/v2\n"},
		{"bad expression", "_schema: https://kosli.com/schemas/policy/environment/v1\nartifacts:\n  provenance:\n    required: true\n" +
			"    exceptions:\n      - if: '${{ matches(artifact.name, }}'\n"},
		{"bad attestation if", "_schema: x/v1\nartifacts:\n  attestations:\n    - {name: a, type: junit, if: '${{ flow.name == }}'}\n"},
		{"attestation without type", "_schema: x/v1\nartifacts:\n  attestations:\n    - {name: a}\n"},
		{"unknown attestation type", "_schema: x/v1\nartifacts:\n  attestations:\n    - {name: a, type: bogus}\n"},
		{"name and type both any", "_schema: x/v1\nartifacts:\n  attestations:\n    - {name: '*', type: '*'}\n"},
		{"for_control without decision", "_schema: x/v1\nartifacts:\n  attestations:\n    - {type: junit, for_control: C-1}\n"},
		{"required not a bool", "_schema: x/v1\nartifacts:\n  provenance: {required: maybe}\n"},
	} {
		cases = append(cases, kbiCase{name: "policy " + bad.label, form: []kbiPart{payload(valid), file(bad.yaml)},
			status: http.StatusBadRequest, field: "policy_file"})
	}
	return kbiDefaults(cases, http.MethodPut, path)
}

func kbiAssertCases() []kbiCase {
	base := "/api/v2/asserts/acme/fingerprint/"
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/asserts/nope/fingerprint/" + kbiFP, status: http.StatusNotFound},
		{name: "fingerprint not hex", path: base + strings.Repeat("z", 64), status: http.StatusBadRequest, field: "fingerprint"},
		{name: "fingerprint too short", path: base + kbiFP[:63], status: http.StatusBadRequest, field: "fingerprint"},
		{name: "unknown fingerprint", path: base + kbiOtherFP, status: http.StatusNotFound},
		{name: "unknown flow_name", path: base + kbiFP + "?flow_name=nope", status: http.StatusNotFound},
		{name: "unknown environment_name", path: base + kbiFP + "?environment_name=nope", status: http.StatusNotFound},
		{name: "unknown policy_name", path: base + kbiFP + "?policy_name=nope", status: http.StatusNotFound},
		{name: "one unknown policy_name of two", path: base + kbiFP + "?policy_name=p1&policy_name=nope", status: http.StatusNotFound},
	}
	return kbiDefaults(cases, http.MethodGet, "")
}

func kbiSearchCases() []kbiCase {
	cases := []kbiCase{
		{name: "unknown org", path: "/api/v2/search/nope/sha/" + kbiFP, status: http.StatusNotFound},
		{name: "not hex", path: "/api/v2/search/acme/sha/xyz", status: http.StatusBadRequest, field: "sha"},
		{name: "escaped garbage", path: "/api/v2/search/acme/sha/%00%ff", status: http.StatusBadRequest, field: "sha"},
		{name: "nothing found", path: "/api/v2/search/acme/sha/" + kbiOtherFP, status: http.StatusNotFound},
	}
	return kbiDefaults(cases, http.MethodGet, "")
}

// kbiMethodCases are known paths with a method they do not take.
func kbiMethodCases() []kbiCase {
	return []kbiCase{
		{name: "POST /ready", method: http.MethodPost, path: "/ready", body: "{}", status: http.StatusMethodNotAllowed},
		{name: "DELETE a flow", method: http.MethodDelete, path: "/api/v2/flows/acme", status: http.StatusMethodNotAllowed},
		{name: "GET policies", method: http.MethodGet, path: "/api/v2/policies/acme", status: http.StatusMethodNotAllowed},
		{name: "PUT an artifact", method: http.MethodPut, path: "/api/v2/artifacts/acme/svc", body: "{}", status: http.StatusMethodNotAllowed},
		{name: "GET an attestation route", method: http.MethodGet, path: "/api/v2/attestations/acme/svc/trail/t1/generic", status: http.StatusMethodNotAllowed},
		{name: "POST a snapshot", method: http.MethodPost, path: "/api/v2/snapshots/acme/prod/-1", body: "{}", status: http.StatusMethodNotAllowed},
	}
}

// kbiDefaults fills in the method and path a group's cases share.
func kbiDefaults(cases []kbiCase, method, path string) []kbiCase {
	for i := range cases {
		if cases[i].method == "" {
			cases[i].method = method
		}
		if cases[i].path == "" {
			cases[i].path = path
		}
	}
	return cases
}

// kbiFuzzRoute is a write route of the Kosli door: the fuzzed bytes are its
// JSON body, or the JSON part (with the other parts valid) of its
// multipart body.
type kbiFuzzRoute struct {
	method, path string
	jsonPart     string // "" for a JSON body
	files        []kbiPart
}

var kbiFuzzRoutes = []kbiFuzzRoute{
	{method: http.MethodPut, path: "/api/v2/flows/acme"},
	{method: http.MethodPut, path: "/api/v2/flows/acme/template_file", jsonPart: "data_json", files: []kbiPart{kbiFile("template_file", kbiTemplate)}},
	{method: http.MethodPut, path: "/api/v2/trails/acme/svc", jsonPart: "data_json"},
	{method: http.MethodPost, path: "/api/v2/artifacts/acme/svc"},
	{method: http.MethodPost, path: "/api/v2/attestations/acme/svc/trail/t1/generic", jsonPart: "data_json"},
	{method: http.MethodPost, path: "/api/v2/attestations/acme/svc/trail/t1/junit", jsonPart: "data_json", files: []kbiPart{kbiFile("attachment_file", "<testsuites/>")}},
	{method: http.MethodPost, path: "/api/v2/attestations/acme/svc/trail/t1/snyk", jsonPart: "data_json"},
	{method: http.MethodPost, path: "/api/v2/attestations/acme/svc/trail/t1/pull_request", jsonPart: "data_json"},
	{method: http.MethodPost, path: "/api/v2/attestations/acme/svc/trail/t1/custom", jsonPart: "data_json"},
	{method: http.MethodPost, path: "/api/v2/attestations/acme/svc/t1/" + kbiFP},
	{method: http.MethodPost, path: "/api/v2/custom-attestation-types/acme", jsonPart: "data_json"},
	{method: http.MethodPost, path: "/api/v2/custom-attestation-types/acme", jsonPart: "data_json", files: []kbiPart{{name: "type_schema", file: "s.json", body: kbiSchema}}},
	{method: http.MethodPut, path: "/api/v2/environments/acme"},
	{method: http.MethodPut, path: "/api/v2/environments/acme/prod/report/server"},
	{method: http.MethodPost, path: "/api/v2/environments/acme/prod/policies"},
	{method: http.MethodDelete, path: "/api/v2/environments/acme/prod/policies"},
	{method: http.MethodPut, path: "/api/v2/policies/acme", jsonPart: "payload", files: []kbiPart{kbiFile("policy_file", kbiPolicy)}},
}

// FuzzKosliBodies sends arbitrary bytes to the Kosli door's write routes,
// as the JSON body or as the JSON part of the multipart body: the answer is
// never a 5xx nor a 409 (both make the kosli CLI retry), and every 4xx
// carries a JSON body with a message.
func FuzzKosliBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"svc","description":"","template":["artifact","unit-test"]}`,
		`{"name":"fz","git_commit_info":{"sha1":"abc","author":"Ada <ada@example.com>","timestamp":1,"branch":"main"}}`,
		`{"fingerprint":"` + kbiFP + `","filename":"b","template_reference_name":"backend","trail_name":"t1"}`,
		`{"attestation_name":"a","is_compliant":false,"artifact_fingerprint":"` + kbiFP + `","target_artifacts":["backend"]}`,
		`{"attestation_name":"a","junit_results":[{"failures":1,"errors":0}]}`,
		`{"attestation_name":"a","snyk_results":{"results":[{"high_count":1e308,"medium_count":1e308}]}}`,
		`{"attestation_name":"a","type_name":"ct","attestation_data":{"x":1}}`,
		`{"attestation_name":"a","type_name":"ct","attestation_data":{"x":"\u0000"}}`,
		`{"type":"generic","status":"PASSED","details":{"a":1}}`,
		`{"name":"fz","evaluator":{"content_type":"jq","rules":["[range(1e9)] | length > 0"]},"summary":[{"name":"s","expression":".x"}]}`,
		`{"name":"fz","typeSchema":{"type":"object"}}`,
		`{"name":"fz","type":"logical","included_environments":["prod","prod"]}`,
		`{"name":"fz","type":"K8S"}`,
		`{"artifacts":[{"digests":{"a":"` + kbiFP + `","b":""},"creationTimestamp":-1}]}`,
		`{"policy_names":["p1","p1"]}`,
		`{"name":"p2","type":"env"}`,
		`{}`, `[]`, `null`, `"x"`, `1`, `{`, ``, `{"name":"\ud800"}`, `{"name":1e999}`,
	} {
		for i := range kbiFuzzRoutes {
			f.Add(uint8(i), []byte(seed))
		}
	}
	fx := newKbiFixture(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := kbiFuzzRoutes[int(route)%len(kbiFuzzRoutes)]
		var r reply
		if rt.jsonPart == "" {
			r = fx.send(t, rt.method, rt.path, body, nil, "")
		} else {
			r = fx.send(t, rt.method, rt.path, nil, append([]kbiPart{{name: rt.jsonPart, body: string(body)}}, rt.files...), "")
		}
		what := rt.method + " " + rt.path
		if r.status >= 500 || r.status == http.StatusConflict || r.status == http.StatusTooManyRequests {
			t.Fatalf("%s with %q: %d %s", what, body, r.status, r.body)
		}
		if r.status >= 400 {
			var e struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || strings.TrimSpace(e.Message) == "" {
				t.Fatalf("%s with %q: %d without a JSON message: %s", what, body, r.status, r.body)
			}
		}
	})
}
