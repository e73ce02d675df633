package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/cmd/factstore/app"
	"github.com/factstore/factstore/eventstore"
)

// badInputEvidenceLimit is the evidence limit of the bad-input node: small,
// so that an oversized upload costs kilobytes, not 100 MiB.
const badInputEvidenceLimit = 16 << 10

// badInputFixture is the state every bad request runs against: two flows,
// two trails of the first with one artifact and one attestation each.
type badInputFixture struct {
	n                  *node
	otherFlow, flow    string
	trail1, trail2     string
	art1, art2         string
	digest1, digest2   string
	junitAtt, plainAtt string // junitAtt is on trail1, plainAtt (no processor) on trail2
	evidence           *eventstore.EvidenceStore
}

func newBadInputFixture(t *testing.T) *badInputFixture {
	t.Helper()
	n := startNode(t, t.TempDir(), func(c *app.Config) { c.MaxEvidenceBytes = badInputEvidenceLimit })
	fx := &badInputFixture{n: n, digest1: "sha256:" + strings.Repeat("a1", 32), digest2: "sha256:" + strings.Repeat("b2", 32)}
	// The other flow is created first, so that sequence 1 predates fx.flow.
	fx.otherFlow = n.createFlow(t, map[string]any{"name": "badinput-other"})["id"].(string)
	fx.flow = n.createFlow(t, map[string]any{"name": "badinput", "requiredAttestationTypes": []string{"junit"}})["id"].(string)
	fx.trail1 = fx.created(t, "/api/v1/trails", fx.trailBody("t1"))
	fx.trail2 = fx.created(t, "/api/v1/trails", fx.trailBody("t2"))
	fx.art1 = fx.created(t, "/api/v1/trails/"+fx.trail1+"/artifacts", map[string]any{"imageName": "app", "imageTag": "1", "sha256Digest": fx.digest1})
	fx.art2 = fx.created(t, "/api/v1/trails/"+fx.trail2+"/artifacts", map[string]any{"imageName": "app", "imageTag": "2", "sha256Digest": fx.digest2})
	fx.junitAtt = fx.created(t, "/api/v1/trails/"+fx.trail1+"/attestations", map[string]any{"type": "junit"})
	fx.plainAtt = fx.created(t, "/api/v1/trails/"+fx.trail2+"/attestations", map[string]any{"type": "manual-review"})
	// A second handle on the evidence bucket sees what the API cannot: an
	// object stored without an event describing it.
	ev, err := eventstore.OpenEvidenceStore(context.Background(), n.JS, 1)
	require.NoError(t, err)
	fx.evidence = ev
	return fx
}

// trailBody is a valid trail create body; tests break one field at a time.
func (fx *badInputFixture) trailBody(name string) map[string]any {
	return map[string]any{
		"flowId": fx.flow, "name": name, "gitCommitSha": "0123456789abcdef", "gitBranch": "main",
		"gitAuthor": "Ada", "gitAuthorEmail": "ada@example.com",
	}
}

func (fx *badInputFixture) created(t *testing.T, path string, body any) string {
	t.Helper()
	r := fx.n.do(t, http.MethodPost, path, body)
	require.Equal(t, http.StatusCreated, r.status, "POST %s: %s", path, r.body)
	return r.json(t)["id"].(string)
}

// ledgerSeqs reads the stream head and the applied sequence from
// GET /api/v1/ledger/status: a rejected request must move neither.
func (fx *badInputFixture) ledgerSeqs(t *testing.T) [2]float64 {
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

// badInputCase is one request that must be refused with status.
type badInputCase struct {
	name, method, path string
	body               any
	headers            []string
	status             int
}

// reject sends tc and checks the answer is the JSON error body with the
// expected status, never a 5xx, and that the ledger did not move.
func (fx *badInputFixture) reject(t *testing.T, tc badInputCase) {
	t.Helper()
	before := fx.ledgerSeqs(t)
	r := fx.n.do(t, tc.method, tc.path, tc.body, tc.headers...)
	assert.Less(t, r.status, 500, "%s %s answered %d: %s", tc.method, tc.path, r.status, r.body)
	requireErrorBody(t, r, tc.status)
	assert.Equal(t, before, fx.ledgerSeqs(t), "%s %s was refused but appended to the ledger", tc.method, tc.path)
}

func (fx *badInputFixture) run(t *testing.T, cases []badInputCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { fx.reject(t, tc) })
	}
}

// with returns a copy of body with the given keys set; a nil value deletes
// the key.
func badInputWith(body map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

// badInputOversized is a syntactically valid object just over the 1 MiB JSON
// limit, so only its size can be the reason for refusing it.
func badInputOversized(field string) string {
	return `{"` + field + `":"` + strings.Repeat("x", 1<<20) + `"}`
}

func TestComplianceBadInput(t *testing.T) {
	t.Parallel()
	fx := newBadInputFixture(t)
	trailBefore := fx.n.do(t, http.MethodGet, "/api/v1/trails/"+fx.trail1, nil).json(t)

	t.Run("trails", func(t *testing.T) { fx.trailCases(t) })
	t.Run("artifacts", func(t *testing.T) { fx.artifactCases(t) })
	t.Run("provenance", func(t *testing.T) { fx.provenanceCases(t) })
	t.Run("attestations", func(t *testing.T) { fx.attestationCases(t) })
	t.Run("evidence", func(t *testing.T) { fx.evidenceCases(t) })
	t.Run("assert", func(t *testing.T) { fx.assertCases(t) })
	t.Run("search", func(t *testing.T) { fx.searchCases(t) })
	t.Run("reads", func(t *testing.T) { fx.readCases(t) })

	// The fixture is untouched: same trail, one artifact and one
	// attestation on it, no evidence.
	assert.Equal(t, trailBefore, fx.n.do(t, http.MethodGet, "/api/v1/trails/"+fx.trail1, nil).json(t))
	assert.Len(t, fx.n.do(t, http.MethodGet, "/api/v1/trails/"+fx.trail1+"/artifacts", nil).list(t), 1)
	assert.Len(t, fx.n.do(t, http.MethodGet, "/api/v2/trails/"+fx.trail1+"/attestations", nil).list(t), 1)
	assert.Empty(t, fx.n.do(t, http.MethodGet, "/api/v1/trails/"+fx.trail1+"/evidence", nil).list(t))
	assert.Len(t, fx.n.do(t, http.MethodGet, "/api/v1/trails?flowId="+fx.flow, nil).list(t), 2)
}

func (fx *badInputFixture) trailCases(t *testing.T) {
	t.Helper()
	valid := fx.trailBody("fresh")
	noSha := badInputWith(valid, "gitCommitSha", nil)
	body := []badInputCase{
		{name: "malformed", body: `{"flowId":`, status: http.StatusBadRequest},
		{name: "not an object", body: `[1,2]`, status: http.StatusBadRequest},
		{name: "null", body: `null`, status: http.StatusBadRequest},
		{name: "empty body", status: http.StatusBadRequest},
		{name: "trailing data", body: `{"flowId":"x"} {}`, status: http.StatusBadRequest},
		{name: "flowId a number", body: badInputWith(valid, "flowId", 42), status: http.StatusBadRequest},
		{name: "gitAuthor a bool", body: badInputWith(valid, "gitAuthor", true), status: http.StatusBadRequest},
		{name: "name an array", body: badInputWith(valid, "name", []string{"a"}), status: http.StatusBadRequest},
		{name: "ciEnvironment a string", body: badInputWith(valid, "ciEnvironment", "GITHUB_SHA=1"), status: http.StatusBadRequest},
		{name: "ciEnvironment value a number", body: badInputWith(valid, "ciEnvironment", map[string]any{"GITHUB_SHA": 1}), status: http.StatusBadRequest},
		{name: "missing flowId", body: badInputWith(valid, "flowId", nil), status: http.StatusBadRequest},
		{name: "blank flowId", body: badInputWith(valid, "flowId", "  "), status: http.StatusBadRequest},
		{name: "missing gitAuthor", body: badInputWith(valid, "gitAuthor", nil), status: http.StatusBadRequest},
		{name: "blank gitAuthor", body: badInputWith(valid, "gitAuthor", " "), status: http.StatusBadRequest},
		{name: "gitAuthor too long", body: badInputWith(valid, "gitAuthor", strings.Repeat("a", 256)), status: http.StatusBadRequest},
		{name: "missing gitAuthorEmail", body: badInputWith(valid, "gitAuthorEmail", nil), status: http.StatusBadRequest},
		{name: "gitAuthorEmail not an email", body: badInputWith(valid, "gitAuthorEmail", "not-an-email"), status: http.StatusBadRequest},
		{name: "gitAuthorEmail with display name", body: badInputWith(valid, "gitAuthorEmail", "Ada <ada@example.com>"), status: http.StatusBadRequest},
		{name: "missing gitCommitSha without CI context", body: noSha, status: http.StatusBadRequest},
		{name: "missing gitBranch without CI context", body: badInputWith(valid, "gitBranch", nil), status: http.StatusBadRequest},
		{name: "missing gitCommitSha, unknown CI provider", body: noSha,
			headers: []string{"X-Factstore-CI-Context", "travis"}, status: http.StatusBadRequest},
		{name: "missing gitCommitSha, CI context without the variable", body: badInputWith(noSha, "ciEnvironment", map[string]string{"GITHUB_REF_NAME": "main"}),
			headers: []string{"X-Factstore-CI-Context", "github-actions"}, status: http.StatusBadRequest},
		{name: "bad orgSlug", body: badInputWith(valid, "orgSlug", "Not A Slug"), status: http.StatusBadRequest},
		{name: "orgSlug not the flow's", body: badInputWith(valid, "orgSlug", "elsewhere"), status: http.StatusBadRequest},
		{name: "bad templateYaml", body: badInputWith(valid, "templateYaml", "a: [unclosed"), status: http.StatusBadRequest},
		{name: "unknown flow", body: badInputWith(valid, "flowId", "no-such-flow"), status: http.StatusNotFound},
		{name: "oversized", body: badInputOversized("gitAuthor"), status: http.StatusRequestEntityTooLarge},
		{name: "Idempotency-Key too long", body: valid, headers: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: http.StatusBadRequest},
		{name: "dry run still validated", body: badInputWith(valid, "gitAuthorEmail", "nope"), headers: []string{"X-Factstore-Dry-Run", "true"}, status: http.StatusBadRequest},
	}
	var cases []badInputCase
	for _, version := range []string{"v1", "v2"} {
		for _, tc := range body {
			tc.name, tc.method, tc.path = version+" "+tc.name, http.MethodPost, "/api/"+version+"/trails"
			cases = append(cases, tc)
		}
	}
	cases = append(cases,
		// The v2 route ignores name in the original, so only v1 must refuse it.
		badInputCase{name: "v1 duplicate name in flow", method: http.MethodPost, path: "/api/v1/trails", body: fx.trailBody("t1"), status: http.StatusConflict},
		badInputCase{name: "wrong method", method: http.MethodDelete, path: "/api/v1/trails/" + fx.trail1, status: http.StatusMethodNotAllowed},
	)
	fx.run(t, cases)
}

func (fx *badInputFixture) artifactCases(t *testing.T) {
	t.Helper()
	valid := map[string]any{"imageName": "svc", "imageTag": "1.0", "sha256Digest": fx.digest1}
	hex64 := strings.Repeat("c", 64)
	body := []badInputCase{
		{name: "malformed", body: `{"imageName":`, status: http.StatusBadRequest},
		{name: "not an object", body: `"svc"`, status: http.StatusBadRequest},
		{name: "empty body", status: http.StatusBadRequest},
		{name: "imageName a number", body: badInputWith(valid, "imageName", 1), status: http.StatusBadRequest},
		{name: "sha256Digest a number", body: badInputWith(valid, "sha256Digest", 123), status: http.StatusBadRequest},
		{name: "missing imageName", body: badInputWith(valid, "imageName", nil), status: http.StatusBadRequest},
		{name: "blank imageName", body: badInputWith(valid, "imageName", "  "), status: http.StatusBadRequest},
		{name: "missing imageTag", body: badInputWith(valid, "imageTag", nil), status: http.StatusBadRequest},
		{name: "imageTag too long", body: badInputWith(valid, "imageTag", strings.Repeat("t", 256)), status: http.StatusBadRequest},
		{name: "missing sha256Digest", body: badInputWith(valid, "sha256Digest", nil), status: http.StatusBadRequest},
		{name: "empty sha256Digest", body: badInputWith(valid, "sha256Digest", ""), status: http.StatusBadRequest},
		{name: "sha256Digest not hex", body: badInputWith(valid, "sha256Digest", "sha256:"+strings.Repeat("z", 64)), status: http.StatusBadRequest},
		{name: "sha256Digest 63 hex", body: badInputWith(valid, "sha256Digest", "sha256:"+hex64[:63]), status: http.StatusBadRequest},
		{name: "sha256Digest 63 hex bare", body: badInputWith(valid, "sha256Digest", hex64[:63]), status: http.StatusBadRequest},
		{name: "sha256Digest 65 hex", body: badInputWith(valid, "sha256Digest", "sha256:"+hex64+"c"), status: http.StatusBadRequest},
		{name: "sha256Digest other algorithm", body: badInputWith(valid, "sha256Digest", "sha512:"+hex64), status: http.StatusBadRequest},
		{name: "sha256Digest prefix garbage", body: badInputWith(valid, "sha256Digest", "xsha256:"+hex64), status: http.StatusBadRequest},
		{name: "sha256Digest suffix garbage", body: badInputWith(valid, "sha256Digest", "sha256:"+hex64+"!"), status: http.StatusBadRequest},
		{name: "reportedBy too long", body: badInputWith(valid, "reportedBy", strings.Repeat("r", 256)), status: http.StatusBadRequest},
		{name: "oversized", body: badInputOversized("imageName"), status: http.StatusRequestEntityTooLarge},
	}
	var cases []badInputCase
	for _, version := range []string{"v1", "v2"} {
		for _, tc := range body {
			tc.name, tc.method, tc.path = version+" "+tc.name, http.MethodPost, "/api/"+version+"/trails/"+fx.trail1+"/artifacts"
			cases = append(cases, tc)
		}
		cases = append(cases, badInputCase{name: version + " unknown trail", method: http.MethodPost,
			path: "/api/" + version + "/trails/no-such-trail/artifacts", body: valid, status: http.StatusNotFound})
	}
	fx.run(t, cases)
}

func (fx *badInputFixture) provenanceCases(t *testing.T) {
	t.Helper()
	path := "/api/v1/trails/" + fx.trail1 + "/artifacts/" + fx.art1 + "/provenance"
	valid := map[string]any{"builderId": "https://ci.example/builder", "builderType": "GITHUB_ACTIONS", "slsaLevel": "L2"}
	post := func(name string, body any, status int) badInputCase {
		return badInputCase{name: name, method: http.MethodPost, path: path, body: body, status: status}
	}
	fx.run(t, []badInputCase{
		post("malformed", `{"builderId":`, http.StatusBadRequest),
		post("empty body", nil, http.StatusBadRequest),
		post("builderId a number", badInputWith(valid, "builderId", 1), http.StatusBadRequest),
		post("buildStartedOn not a time", badInputWith(valid, "buildStartedOn", "yesterday"), http.StatusBadRequest),
		post("dsseEnvelope a string", badInputWith(valid, "dsseEnvelope", "envelope"), http.StatusBadRequest),
		post("missing builderId", badInputWith(valid, "builderId", nil), http.StatusBadRequest),
		post("unknown builderType", badInputWith(valid, "builderType", "TRAVIS"), http.StatusBadRequest),
		post("lower-case builderType", badInputWith(valid, "builderType", "jenkins"), http.StatusBadRequest),
		post("slsaLevel L4", badInputWith(valid, "slsaLevel", "L4"), http.StatusBadRequest),
		post("slsaLevel without L", badInputWith(valid, "slsaLevel", "3"), http.StatusBadRequest),
		post("sourceCommitSha too long", badInputWith(valid, "sourceCommitSha", strings.Repeat("s", 256)), http.StatusBadRequest),
		post("oversized", badInputOversized("builderId"), http.StatusRequestEntityTooLarge),
		{name: "unknown artifact", method: http.MethodPost, path: "/api/v1/trails/" + fx.trail1 + "/artifacts/nope/provenance", body: valid, status: http.StatusNotFound},
		{name: "artifact of another trail", method: http.MethodPost, path: "/api/v1/trails/" + fx.trail1 + "/artifacts/" + fx.art2 + "/provenance", body: valid, status: http.StatusNotFound},
		{name: "unknown trail", method: http.MethodPost, path: "/api/v1/trails/nope/artifacts/" + fx.art1 + "/provenance", body: valid, status: http.StatusNotFound},
		{name: "get none recorded", method: http.MethodGet, path: path, status: http.StatusNotFound},
		{name: "get artifact of another trail", method: http.MethodGet, path: "/api/v1/trails/" + fx.trail1 + "/artifacts/" + fx.art2 + "/provenance", status: http.StatusNotFound},
		{name: "get unknown artifact", method: http.MethodGet, path: "/api/v1/trails/" + fx.trail1 + "/artifacts/nope/provenance", status: http.StatusNotFound},
		{name: "verify unknown artifact", method: http.MethodPost, path: "/api/v1/trails/" + fx.trail1 + "/artifacts/nope/provenance/verify", status: http.StatusNotFound},
		{name: "verify artifact of another trail", method: http.MethodPost, path: "/api/v1/trails/" + fx.trail1 + "/artifacts/" + fx.art2 + "/provenance/verify", status: http.StatusNotFound},
		{name: "by digest, bad digest", method: http.MethodGet, path: "/api/v1/artifacts/sha256:xyz/provenance", status: http.StatusBadRequest},
		{name: "by digest, 63 hex", method: http.MethodGet, path: "/api/v1/artifacts/" + strings.Repeat("a", 63) + "/provenance", status: http.StatusBadRequest},
	})
}

func (fx *badInputFixture) attestationCases(t *testing.T) {
	t.Helper()
	valid := map[string]any{"type": "junit", "status": "PASSED"}
	body := []badInputCase{
		{name: "malformed", body: `{"type":`, status: http.StatusBadRequest},
		{name: "not an object", body: `[]`, status: http.StatusBadRequest},
		{name: "empty body", status: http.StatusBadRequest},
		{name: "type a number", body: badInputWith(valid, "type", 1), status: http.StatusBadRequest},
		{name: "status a bool", body: badInputWith(valid, "status", true), status: http.StatusBadRequest},
		{name: "details a number", body: badInputWith(valid, "details", 42), status: http.StatusBadRequest},
		{name: "missing type", body: badInputWith(valid, "type", nil), status: http.StatusBadRequest},
		{name: "blank type", body: badInputWith(valid, "type", " "), status: http.StatusBadRequest},
		{name: "type too long", body: badInputWith(valid, "type", strings.Repeat("t", 256)), status: http.StatusBadRequest},
		{name: "status lower-case", body: badInputWith(valid, "status", "passed"), status: http.StatusBadRequest},
		{name: "status unknown", body: badInputWith(valid, "status", "SUCCESS"), status: http.StatusBadRequest},
		{name: "status empty", body: badInputWith(valid, "status", ""), status: http.StatusBadRequest},
		{name: "details object not UTF-8", body: `{"type":"junit","details":{"a":"` + "\xff" + `"}}`, status: http.StatusBadRequest},
		{name: "details too long", body: badInputWith(valid, "details", strings.Repeat("d", 64<<10+1)), status: http.StatusBadRequest},
		{name: "artifactFingerprint not a digest", body: badInputWith(valid, "artifactFingerprint", "sha256:abc123"), status: http.StatusBadRequest},
		{name: "artifactFingerprint of another trail's artifact", body: badInputWith(valid, "artifactFingerprint", fx.digest2), status: http.StatusBadRequest},
		{name: "artifactFingerprint never reported", body: badInputWith(valid, "artifactFingerprint", "sha256:"+strings.Repeat("e", 64)), status: http.StatusBadRequest},
		{name: "oversized", body: badInputOversized("details"), status: http.StatusRequestEntityTooLarge},
	}
	var cases []badInputCase
	for _, version := range []string{"v1", "v2"} {
		for _, tc := range body {
			tc.name, tc.method, tc.path = version+" "+tc.name, http.MethodPost, "/api/"+version+"/trails/"+fx.trail1+"/attestations"
			cases = append(cases, tc)
		}
		cases = append(cases,
			badInputCase{name: version + " unknown trail", method: http.MethodPost, path: "/api/" + version + "/trails/nope/attestations", body: valid, status: http.StatusNotFound},
			badInputCase{name: version + " list unknown trail", method: http.MethodGet, path: "/api/" + version + "/trails/nope/attestations", status: http.StatusNotFound},
		)
	}
	for _, tc := range body {
		// POST /api/v1/attestations reads the trail from the body.
		if m, ok := tc.body.(map[string]any); ok {
			tc.body = badInputWith(m, "trailId", fx.trail1)
		}
		tc.name, tc.method, tc.path = "trailId in body "+tc.name, http.MethodPost, "/api/v1/attestations"
		cases = append(cases, tc)
	}
	cases = append(cases,
		badInputCase{name: "trailId in body missing", method: http.MethodPost, path: "/api/v1/attestations", body: valid, status: http.StatusBadRequest},
		badInputCase{name: "trailId in body a number", method: http.MethodPost, path: "/api/v1/attestations", body: badInputWith(valid, "trailId", 7), status: http.StatusBadRequest},
		badInputCase{name: "trailId in body unknown", method: http.MethodPost, path: "/api/v1/attestations", body: badInputWith(valid, "trailId", "nope"), status: http.StatusNotFound},
		badInputCase{name: "v1 list page negative", method: http.MethodGet, path: "/api/v1/trails/" + fx.trail1 + "/attestations?page=-1", status: http.StatusBadRequest},
		badInputCase{name: "v1 list size 0", method: http.MethodGet, path: "/api/v1/trails/" + fx.trail1 + "/attestations?size=0", status: http.StatusBadRequest},
		badInputCase{name: "v1 list size 101", method: http.MethodGet, path: "/api/v1/trails/" + fx.trail1 + "/attestations?size=101", status: http.StatusBadRequest},
		badInputCase{name: "get unknown", method: http.MethodGet, path: "/api/v1/attestations/nope", status: http.StatusNotFound},
	)
	fx.run(t, cases)
}

// badInputMultipart builds a multipart/form-data body with one part named
// field holding content under fileName.
func badInputMultipart(t *testing.T, field, fileName string, content []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, fileName))
	h.Set("Content-Type", "application/octet-stream")
	part, err := w.CreatePart(h)
	require.NoError(t, err)
	_, err = part.Write(content)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes(), w.FormDataContentType()
}

// badEvidenceCase is an upload that must be refused; content is the file it
// carries (if any), which must not be stored.
type badEvidenceCase struct {
	name        string
	trail, att  string
	body        []byte
	contentType string
	headers     []string
	content     []byte
	status      int
}

func (fx *badInputFixture) evidenceCases(t *testing.T) {
	t.Helper()
	upload := func(name, trail, att, fileName string, content []byte, status int, headers ...string) badEvidenceCase {
		b, ct := badInputMultipart(t, "file", fileName, content)
		return badEvidenceCase{name: name, trail: trail, att: att, body: b, contentType: ct, headers: headers, content: content, status: status}
	}
	junitGarbage := []byte("this is not JUnit XML <testsuite")
	plain := []byte("a plain evidence file that nothing parses")
	otherField, otherCT := badInputMultipart(t, "attachment", "report.xml", []byte(`<testsuite tests="1"><testcase name="a"/></testsuite>`))
	cases := []badEvidenceCase{
		{name: "JSON body, not multipart", trail: fx.trail1, att: fx.junitAtt, body: []byte(`{"file":"x"}`), contentType: "application/json", status: http.StatusBadRequest},
		{name: "no content type", trail: fx.trail1, att: fx.junitAtt, body: []byte("raw bytes"), status: http.StatusBadRequest},
		{name: "multipart without boundary", trail: fx.trail1, att: fx.junitAtt, body: []byte("--x\r\n"), contentType: "multipart/form-data", status: http.StatusBadRequest},
		{name: "multipart garbage", trail: fx.trail1, att: fx.junitAtt, body: []byte("not multipart at all"), contentType: "multipart/form-data; boundary=xyz", status: http.StatusBadRequest},
		{name: "multipart without parts", trail: fx.trail1, att: fx.junitAtt, body: []byte("--xyz--\r\n"), contentType: "multipart/form-data; boundary=xyz", status: http.StatusBadRequest},
		{name: "multipart without the file part", trail: fx.trail1, att: fx.junitAtt, body: otherField, contentType: otherCT, status: http.StatusBadRequest},
		upload("junit garbage", fx.trail1, fx.junitAtt, "report.xml", junitGarbage, http.StatusUnprocessableEntity),
		upload("junit empty file", fx.trail1, fx.junitAtt, "report.xml", nil, http.StatusUnprocessableEntity),
		upload("junit garbage, dry run", fx.trail1, fx.junitAtt, "report.xml", []byte("<html>dry</html>"), http.StatusUnprocessableEntity, "X-Factstore-Dry-Run", "true"),
		upload("attestation of another trail", fx.trail1, fx.plainAtt, "notes.txt", []byte("cross-trail evidence"), http.StatusNotFound),
		upload("unknown attestation", fx.trail1, "nope", "notes.txt", []byte("unknown attestation"), http.StatusNotFound),
		upload("unknown trail", "nope", fx.plainAtt, "notes.txt", []byte("unknown trail"), http.StatusNotFound),
		upload("file over the evidence limit", fx.trail2, fx.plainAtt, "big.bin", bytes.Repeat([]byte("b"), badInputEvidenceLimit+1), http.StatusRequestEntityTooLarge),
		// The domain refuses names over 255 bytes; the file must not be
		// kept when the event is refused.
		upload("file name too long", fx.trail2, fx.plainAtt, strings.Repeat("n", 300)+".txt", plain, http.StatusBadRequest),
		upload("Idempotency-Key too long", fx.trail2, fx.plainAtt, "notes.txt", []byte("idempotency key too long"), http.StatusBadRequest,
			"Idempotency-Key", strings.Repeat("k", 256)),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			headers := tc.headers
			if tc.contentType != "" {
				headers = append([]string{"Content-Type", tc.contentType}, headers...)
			}
			fx.reject(t, badInputCase{method: http.MethodPost, body: tc.body, headers: headers, status: tc.status,
				path: "/api/v1/trails/" + tc.trail + "/attestations/" + tc.att + "/evidence"})
			if tc.content == nil && tc.status != http.StatusUnprocessableEntity {
				return
			}
			sum := sha256.Sum256(tc.content)
			hash := hex.EncodeToString(sum[:])
			requireErrorBody(t, fx.n.do(t, http.MethodGet, "/api/v1/evidence/"+hash, nil), http.StatusNotFound)
			stored, err := fx.evidence.Has(context.Background(), hash)
			require.NoError(t, err)
			assert.False(t, stored, "the refused file %s was stored in the evidence bucket", hash)
		})
	}
	fx.run(t, []badInputCase{
		{name: "download bad hash", method: http.MethodGet, path: "/api/v1/evidence/xyz", status: http.StatusBadRequest},
		{name: "download upper-case hash", method: http.MethodGet, path: "/api/v1/evidence/" + strings.Repeat("A", 64), status: http.StatusBadRequest},
		{name: "download sha256: prefix", method: http.MethodGet, path: "/api/v1/evidence/sha256:" + strings.Repeat("a", 64), status: http.StatusBadRequest},
		{name: "download unknown hash", method: http.MethodGet, path: "/api/v1/evidence/" + strings.Repeat("a", 64), status: http.StatusNotFound},
		{name: "list unknown trail", method: http.MethodGet, path: "/api/v1/trails/nope/evidence", status: http.StatusNotFound},
		{name: "list unknown attestation", method: http.MethodGet, path: "/api/v1/attestations/nope/evidence", status: http.StatusNotFound},
	})
}

func (fx *badInputFixture) assertCases(t *testing.T) {
	t.Helper()
	valid := map[string]any{"sha256Digest": fx.digest1, "flowId": fx.flow}
	head := uint64(fx.ledgerSeqs(t)[1])
	post := func(name string, body any, status int, headers ...string) badInputCase {
		return badInputCase{name: name, method: http.MethodPost, path: "/api/v1/assert", body: body, headers: headers, status: status}
	}
	fx.run(t, []badInputCase{
		post("malformed", `{"sha256Digest":`, http.StatusBadRequest),
		post("empty body", nil, http.StatusBadRequest),
		post("not an object", `[]`, http.StatusBadRequest),
		post("sha256Digest a number", badInputWith(valid, "sha256Digest", 1), http.StatusBadRequest),
		post("atSeq a string", badInputWith(valid, "atSeq", "1"), http.StatusBadRequest),
		post("atSeq negative", badInputWith(valid, "atSeq", -1), http.StatusBadRequest),
		post("atSeq fractional", badInputWith(valid, "atSeq", 1.5), http.StatusBadRequest),
		post("asOf a number", badInputWith(valid, "asOf", 5), http.StatusBadRequest),
		post("missing sha256Digest", badInputWith(valid, "sha256Digest", nil), http.StatusBadRequest),
		post("empty sha256Digest", badInputWith(valid, "sha256Digest", ""), http.StatusBadRequest),
		post("bad sha256Digest", badInputWith(valid, "sha256Digest", "sha256:"+strings.Repeat("a", 63)), http.StatusBadRequest),
		post("missing flowId", badInputWith(valid, "flowId", nil), http.StatusBadRequest),
		post("empty flowId", badInputWith(valid, "flowId", ""), http.StatusBadRequest),
		post("asOf not a time", badInputWith(valid, "asOf", "yesterday"), http.StatusBadRequest),
		post("asOf a date only", badInputWith(valid, "asOf", "2024-01-01"), http.StatusBadRequest),
		post("atSeq 0", badInputWith(valid, "atSeq", 0), http.StatusBadRequest),
		post("atSeq beyond head", badInputWith(valid, "atSeq", head+1), http.StatusBadRequest),
		post("atSeq far beyond head", badInputWith(valid, "atSeq", uint64(1)<<63), http.StatusBadRequest),
		post("asOf and atSeq", badInputWith(valid, "asOf", time.Now().UTC().Format(time.RFC3339Nano), "atSeq", 1), http.StatusBadRequest),
		post("unknown flow", badInputWith(valid, "flowId", "no-such-flow"), http.StatusNotFound),
		// Sequence 1 is the other flow's creation: this flow did not exist yet.
		post("atSeq before the flow existed", badInputWith(valid, "atSeq", 1), http.StatusNotFound),
		post("asOf before the ledger began", badInputWith(valid, "asOf", "2000-01-01T00:00:00Z"), http.StatusNotFound),
		post("oversized", badInputOversized("flowId"), http.StatusRequestEntityTooLarge),
		post("dry run still validated", badInputWith(valid, "flowId", nil), http.StatusBadRequest, "X-Factstore-Dry-Run", "true"),
		post("Idempotency-Key too long", valid, http.StatusBadRequest, "Idempotency-Key", strings.Repeat("k", 256)),
		{name: "wrong method", method: http.MethodGet, path: "/api/v1/assert", status: http.StatusMethodNotAllowed},
	})
}

func (fx *badInputFixture) searchCases(t *testing.T) {
	t.Helper()
	fx.run(t, []badInputCase{
		{name: "without q", method: http.MethodGet, path: "/api/v1/search", status: http.StatusBadRequest},
		{name: "without q, with type", method: http.MethodGet, path: "/api/v1/search?type=trail", status: http.StatusBadRequest},
		{name: "unknown type", method: http.MethodGet, path: "/api/v1/search?q=app&type=widget", status: http.StatusBadRequest},
		{name: "q too long", method: http.MethodGet, path: "/api/v1/search?q=" + strings.Repeat("q", 257), status: http.StatusBadRequest},
	})
}

func (fx *badInputFixture) readCases(t *testing.T) {
	t.Helper()
	get := func(name, path string, status int) badInputCase {
		return badInputCase{name: name, method: http.MethodGet, path: path, status: status}
	}
	flowTrails := "/api/v1/flows/" + fx.flow + "/trails"
	fx.run(t, []badInputCase{
		get("trails of unknown flow", "/api/v1/trails?flowId=no-such-flow", http.StatusNotFound),
		get("unknown trail", "/api/v1/trails/nope", http.StatusNotFound),
		get("audit of unknown trail", "/api/v1/trails/nope/audit", http.StatusNotFound),
		get("paged trails of unknown flow", "/api/v1/flows/nope/trails", http.StatusNotFound),
		get("page negative", flowTrails+"?page=-1", http.StatusBadRequest),
		get("page not a number", flowTrails+"?page=one", http.StatusBadRequest),
		get("page overflowing", flowTrails+"?page=99999999999999999999", http.StatusBadRequest),
		get("size 0", flowTrails+"?size=0", http.StatusBadRequest),
		get("size 101", flowTrails+"?size=101", http.StatusBadRequest),
		get("size not a number", flowTrails+"?size=ten", http.StatusBadRequest),
		get("artifacts of unknown trail", "/api/v1/trails/nope/artifacts", http.StatusNotFound),
		get("artifacts by digest without digest", "/api/v1/artifacts", http.StatusBadRequest),
		get("artifacts by digest, bad digest", "/api/v1/artifacts?sha256=sha256:xyz", http.StatusBadRequest),
		get("artifacts by digest, 63 hex", "/api/v1/artifacts?sha256="+strings.Repeat("a", 63), http.StatusBadRequest),
	})
}

// FuzzComplianceBodies sends arbitrary bodies to the compliance write
// routes: the answer is never a 5xx, and every 4xx carries the JSON error
// body.
func FuzzComplianceBodies(f *testing.F) {
	n := newNode(f)
	flow := n.createFlow(f, map[string]any{"name": "fuzz", "requiredAttestationTypes": []string{"junit"}})["id"].(string)
	r := n.do(f, http.MethodPost, "/api/v1/trails", map[string]any{"flowId": flow, "name": "fuzz", "gitCommitSha": "abc",
		"gitBranch": "main", "gitAuthor": "Ada", "gitAuthorEmail": "ada@example.com"})
	if r.status != http.StatusCreated {
		f.Fatalf("create trail: %d %s", r.status, r.body)
	}
	trail := r.json(f)["id"].(string)
	digest := "sha256:" + strings.Repeat("f", 64)
	r = n.do(f, http.MethodPost, "/api/v1/trails/"+trail+"/artifacts", map[string]any{"imageName": "app", "imageTag": "1", "sha256Digest": digest})
	if r.status != http.StatusCreated {
		f.Fatalf("report artifact: %d %s", r.status, r.body)
	}
	artifact := r.json(f)["id"].(string)
	routes := []string{
		"/api/v1/trails", "/api/v2/trails",
		"/api/v1/trails/" + trail + "/artifacts", "/api/v2/trails/" + trail + "/artifacts",
		"/api/v1/trails/" + trail + "/artifacts/" + artifact + "/provenance",
		"/api/v1/trails/" + trail + "/attestations", "/api/v2/trails/" + trail + "/attestations",
		"/api/v1/attestations", "/api/v1/assert",
	}
	seeds := []string{
		`{"flowId":"` + flow + `","gitCommitSha":"a","gitBranch":"b","gitAuthor":"c","gitAuthorEmail":"c@d.e"}`,
		`{"flowId":"` + flow + `","gitAuthor":"c","gitAuthorEmail":"c@d.e","ciEnvironment":{"GITHUB_SHA":"1"}}`,
		`{"imageName":"app","imageTag":"2","sha256Digest":"` + digest + `"}`, `{"name":"app","tag":"2","sha256Digest":"sha256:12"}`,
		`{"builderId":"b","builderType":"GENERIC","slsaLevel":"L1","dsseEnvelope":{"payload":"e30=","signatures":[{"sig":"x"}]}}`,
		`{"builderId":"b","payload":"x","signature":"y","publicKey":"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----"}`,
		`{"provenanceSignature":"{\"payload\":\"e30=\"}","builderId":"b"}`, `{"buildStartedOn":"2024-01-01T00:00:00Z","builderId":"b"}`,
		`{"type":"junit","status":"PASSED","details":{"a":[1]}}`, `{"type":"x","artifactFingerprint":"` + digest + `"}`,
		`{"trailId":"` + trail + `","type":"snyk","details":"\u0000"}`, `{"trailId":1}`,
		`{"sha256Digest":"` + digest + `","flowId":"` + flow + `"}`, `{"sha256Digest":"` + digest + `","flowId":"` + flow + `","atSeq":1}`,
		`{"sha256Digest":"` + digest + `","flowId":"` + flow + `","asOf":"1970-01-01T00:00:00Z"}`,
		`[]`, `null`, `"str"`, `{`, ``, `{"details":"\ud800"}`, `{"atSeq":18446744073709551615}`, `{"atSeq":18446744073709551616}`,
	}
	for i, seed := range seeds {
		f.Add(seed, uint8(i))
	}
	f.Fuzz(func(t *testing.T, body string, route uint8) {
		path := routes[int(route)%len(routes)]
		r := n.do(t, http.MethodPost, path, body)
		if r.status >= 500 {
			t.Fatalf("POST %s with %q: %d %s", path, body, r.status, r.body)
		}
		if r.status >= 400 {
			var e struct {
				Status  int    `json:"status"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Status != r.status || e.Message == "" {
				t.Fatalf("POST %s: %d without the JSON error body: %s", path, r.status, r.body)
			}
		}
	})
}
