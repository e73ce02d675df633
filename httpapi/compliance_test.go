package httpapi_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/cmd/factstore/app"
	"github.com/factstore/factstore/domain/provenancetest"
	"github.com/factstore/factstore/eventstore"
)

// complianceNode is a node with helpers for the compliance core: trails,
// artifacts, attestations, evidence and assertions.
type complianceNode struct {
	*node
}

func newComplianceNode(t *testing.T, mod ...func(*app.Config)) complianceNode {
	t.Helper()
	return complianceNode{startNode(t, t.TempDir(), mod...)}
}

// digestFor is a deterministic artifact digest ("sha256:<hex>") per label.
func digestFor(label string) string {
	return "sha256:" + sha256Hex([]byte(label))
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// evidenceSample reads a real report from the evidence processors' testdata.
func evidenceSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "policy", "evidence", "testdata", name))
	require.NoError(t, err)
	return b
}

// trailFields are the fields every trail needs, plus extra (which wins).
func trailFields(flowID string, extra map[string]any) map[string]any {
	body := map[string]any{
		"flowId": flowID, "gitCommitSha": "0123456789abcdef0123456789abcdef01234567", "gitBranch": "main",
		"gitAuthor": "Ada Lovelace", "gitAuthorEmail": "ada@example.com",
	}
	maps.Copy(body, extra)
	return body
}

func (c complianceNode) trail(t *testing.T, flowID string, extra map[string]any) map[string]any {
	t.Helper()
	r := c.do(t, http.MethodPost, "/api/v1/trails", trailFields(flowID, extra))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	return r.json(t)
}

func artifactFields(name, digest string) map[string]any {
	return map[string]any{"imageName": name, "imageTag": "1.0.0", "sha256Digest": digest, "reportedBy": "ci"}
}

func (c complianceNode) artifact(t *testing.T, trailID, name, digest string) map[string]any {
	t.Helper()
	r := c.do(t, http.MethodPost, "/api/v1/trails/"+trailID+"/artifacts", artifactFields(name, digest))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	return r.json(t)
}

func (c complianceNode) attest(t *testing.T, trailID string, body map[string]any) map[string]any {
	t.Helper()
	r := c.do(t, http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", body)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	return r.json(t)
}

// assertion posts an assertion and returns the verdict.
func (c complianceNode) assertion(t *testing.T, flowID, digest string) map[string]any {
	t.Helper()
	r := c.do(t, http.MethodPost, "/api/v1/assert", map[string]any{"sha256Digest": digest, "flowId": flowID})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	return r.json(t)
}

// ledgerHead is the head sequence GET /api/v1/ledger/status reports.
func (c complianceNode) ledgerHead(t *testing.T) uint64 {
	t.Helper()
	r := c.do(t, http.MethodGet, "/api/v1/ledger/status", nil)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	head, ok := r.json(t)["headSequence"].(float64)
	require.True(t, ok, "headSequence in %s", r.body)
	return uint64(head)
}

func (c complianceNode) auditCount(t *testing.T, eventType string) int {
	t.Helper()
	r := c.do(t, http.MethodGet, "/api/v1/audit?eventType="+eventType, nil)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	return int(r.json(t)["totalElements"].(float64))
}

func evidencePath(trailID, attestationID string) string {
	return "/api/v1/trails/" + trailID + "/attestations/" + attestationID + "/evidence"
}

// upload posts content as the multipart field "file".
func (c complianceNode) upload(t *testing.T, trailID, attestationID, fileName string, content []byte) reply {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", fileName)
	require.NoError(t, err)
	_, err = fw.Write(content)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return c.do(t, http.MethodPost, evidencePath(trailID, attestationID), buf.Bytes(), "Content-Type", mw.FormDataContentType())
}

// fillerBlock repeats to make filler files of any size.
var fillerBlock = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*31 + i>>9)
	}
	return b
}()

// fillerReader endlessly yields fillerBlock, so a filler file of n bytes is
// the first n bytes it reads.
type fillerReader struct{ off int }

func (f *fillerReader) Read(p []byte) (int, error) {
	n := copy(p, fillerBlock[f.off%len(fillerBlock):])
	f.off += n
	return n, nil
}

// fillerHash is the hex SHA-256 of the filler file of size bytes.
func fillerHash(t *testing.T, size int64) string {
	t.Helper()
	h := sha256.New()
	_, err := io.Copy(h, io.LimitReader(&fillerReader{}, size))
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// uploadFiller streams a filler file of size bytes as a multipart upload
// without holding it in memory.
func (c complianceNode) uploadFiller(t *testing.T, trailID, attestationID string, size int64) reply {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	contentType := mw.FormDataContentType()
	done := make(chan struct{})
	go func() {
		defer close(done)
		part, err := mw.CreateFormFile("file", "filler.bin")
		if err == nil {
			_, err = io.Copy(part, io.LimitReader(&fillerReader{}, size))
		}
		if err == nil {
			err = mw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.srv.URL+evidencePath(trailID, attestationID), pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	resp, err := c.srv.Client().Do(req)
	// Unblock the writer if the server stopped reading early.
	_ = pr.CloseWithError(io.ErrClosedPipe)
	<-done
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// evidenceObjects returns the JetStream object store that holds evidence.
func (c complianceNode) evidenceObjects(t *testing.T) jetstream.ObjectStore {
	t.Helper()
	obs, err := c.JS.ObjectStore(t.Context(), eventstore.EvidenceBucket)
	require.NoError(t, err)
	return obs
}

// storedObject returns the NUID of the stored object named hash, or "" if
// none is stored.
func (c complianceNode) storedObject(t *testing.T, hash string) string {
	t.Helper()
	info, err := c.evidenceObjects(t).GetInfo(t.Context(), hash)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ""
	}
	require.NoError(t, err)
	return info.NUID
}

func (c complianceNode) storedObjectCount(t *testing.T) int {
	t.Helper()
	list, err := c.evidenceObjects(t).List(t.Context())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	require.NoError(t, err)
	return len(list)
}

// requireNothingStored checks that a rejected upload left no trace: no
// event appended, no object stored, nothing to download.
func (c complianceNode) requireNothingStored(t *testing.T, headBefore uint64, hash string) {
	t.Helper()
	assert.Equal(t, headBefore, c.ledgerHead(t), "a rejected upload must append nothing")
	assert.Empty(t, c.storedObject(t, hash), "a rejected upload must store nothing")
	requireErrorBody(t, c.do(t, http.MethodGet, "/api/v1/evidence/"+hash, nil), http.StatusNotFound)
}

// strs turns a decoded JSON array into strings.
func strs(t *testing.T, v any) []string {
	t.Helper()
	arr, ok := v.([]any)
	require.True(t, ok, "not an array: %#v", v)
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		require.True(t, ok, "not a string: %#v", e)
		out = append(out, s)
	}
	return out
}

func objects(t *testing.T, v any) []map[string]any {
	t.Helper()
	arr, ok := v.([]any)
	require.True(t, ok, "not an array: %#v", v)
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		m, ok := e.(map[string]any)
		require.True(t, ok, "not an object: %#v", e)
		out = append(out, m)
	}
	return out
}

func ids(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, m := range items {
		out = append(out, fmt.Sprint(m["id"]))
	}
	return out
}

func byID(t *testing.T, items []map[string]any, id string) map[string]any {
	t.Helper()
	for _, m := range items {
		if m["id"] == id {
			return m
		}
	}
	require.Failf(t, "not found", "no item with id %s in %v", id, items)
	return nil
}

// reasons joins the reasons of an assertion's explanation.
func reasons(t *testing.T, verdict map[string]any) string {
	t.Helper()
	var out []string
	for _, s := range objects(t, verdict["explanation"]) {
		out = append(out, fmt.Sprint(s["reason"]))
	}
	return strings.Join(out, "\n")
}

// signingKey is a provenance signer and another key of the same kind.
type signingKey struct {
	name        string
	priv, other crypto.Signer
}

func signingKeys(t *testing.T) []signingKey {
	t.Helper()
	ed := func() crypto.Signer {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		return k
	}
	ec := func() crypto.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	rs := func() crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		return k
	}
	return []signingKey{
		{"ed25519", ed(), ed()},
		{"ecdsa-p256", ec(), ec()},
		{"rsa-2048", rs(), rs()},
	}
}

// envelope returns a DSSE envelope over the statement for digest, signed
// with priv, as a JSON object, and priv's public key as PEM.
func envelope(t *testing.T, priv crypto.Signer, digest string) (map[string]any, string) {
	t.Helper()
	raw, pemText := provenancetest.SignDSSE(t, priv, digest)
	var env map[string]any
	require.NoError(t, json.Unmarshal(raw, &env))
	return env, pemText
}

// flipByte flips one bit in the middle of base64-encoded bytes.
func flipByte(t *testing.T, b64 string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

// detached returns a detached payload (the statement for digest) and its
// signature by priv, both base64.
func detached(t *testing.T, priv crypto.Signer, digest string) (payload, signature string) {
	t.Helper()
	stmt := provenancetest.Statement(digest)
	return base64.StdEncoding.EncodeToString(stmt), base64.StdEncoding.EncodeToString(provenancetest.Sign(t, priv, stmt))
}

func provenancePath(trailID, artifactID string) string {
	return "/api/v1/trails/" + trailID + "/artifacts/" + artifactID + "/provenance"
}

// requireArtifactProvenance checks the provenance status both artifact
// listings show.
func (c complianceNode) requireArtifactProvenance(t *testing.T, trailID, artifactID, digest, status string) {
	t.Helper()
	onTrail := byID(t, c.do(t, http.MethodGet, "/api/v1/trails/"+trailID+"/artifacts", nil).list(t), artifactID)
	assert.Equal(t, status, onTrail["provenanceStatus"], "GET /trails/{id}/artifacts")
	byDigest := c.do(t, http.MethodGet, "/api/v1/artifacts?sha256="+url.QueryEscape(digest), nil).list(t)
	assert.Equal(t, status, byID(t, byDigest, artifactID)["provenanceStatus"], "GET /artifacts?sha256=")
}

// --- Provenance -------------------------------------------------------------

func TestProvenanceVerification(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	flow := c.createFlow(t, map[string]any{"name": "provenance"})
	trailID := c.trail(t, flow["id"].(string), nil)["id"].(string)
	keys := signingKeys(t)

	type sigFields func(t *testing.T, k signingKey, digest string) map[string]any
	cases := []struct {
		name   string
		fields sigFields
		status string
		msg    string
	}{
		{"DSSE envelope", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			env, pemText := envelope(t, k.priv, d)
			return map[string]any{"dsseEnvelope": env, "publicKey": pemText}
		}, "PROVENANCE_VERIFIED", "signature verified"},
		{"DSSE payload byte flipped", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			env, pemText := envelope(t, k.priv, d)
			env["payload"] = flipByte(t, env["payload"].(string))
			return map[string]any{"dsseEnvelope": env, "publicKey": pemText}
		}, "PROVENANCE_FAILED", "signature does not verify"},
		{"DSSE signature byte flipped", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			env, pemText := envelope(t, k.priv, d)
			sig := env["signatures"].([]any)[0].(map[string]any)
			sig["sig"] = flipByte(t, sig["sig"].(string))
			return map[string]any{"dsseEnvelope": env, "publicKey": pemText}
		}, "PROVENANCE_FAILED", "signature does not verify"},
		{"DSSE wrong key", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			env, _ := envelope(t, k.priv, d)
			return map[string]any{"dsseEnvelope": env, "publicKey": provenancetest.PublicKeyPEM(t, k.other.Public())}
		}, "PROVENANCE_FAILED", "signature does not verify"},
		{"DSSE subject is another artifact", func(t *testing.T, k signingKey, _ string) map[string]any {
			t.Helper()
			env, pemText := envelope(t, k.priv, digestFor("some other artifact"))
			return map[string]any{"dsseEnvelope": env, "publicKey": pemText}
		}, "PROVENANCE_FAILED", "no subject with digest"},
		{"DSSE without public key", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			env, _ := envelope(t, k.priv, d)
			return map[string]any{"dsseEnvelope": env}
		}, "PROVENANCE_FAILED", "public key is required"},
		{"detached", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			payload, sig := detached(t, k.priv, d)
			return map[string]any{"payload": payload, "signature": sig, "publicKey": provenancetest.PublicKeyPEM(t, k.priv.Public())}
		}, "PROVENANCE_VERIFIED", "signature verified"},
		{"detached payload byte flipped", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			payload, sig := detached(t, k.priv, d)
			return map[string]any{"payload": flipByte(t, payload), "signature": sig, "publicKey": provenancetest.PublicKeyPEM(t, k.priv.Public())}
		}, "PROVENANCE_FAILED", "signature does not verify"},
		{"detached signature byte flipped", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			payload, sig := detached(t, k.priv, d)
			return map[string]any{"payload": payload, "signature": flipByte(t, sig), "publicKey": provenancetest.PublicKeyPEM(t, k.priv.Public())}
		}, "PROVENANCE_FAILED", "signature does not verify"},
		{"detached wrong key", func(t *testing.T, k signingKey, d string) map[string]any {
			t.Helper()
			payload, sig := detached(t, k.priv, d)
			return map[string]any{"payload": payload, "signature": sig, "publicKey": provenancetest.PublicKeyPEM(t, k.other.Public())}
		}, "PROVENANCE_FAILED", "signature does not verify"},
		{"detached subject is another artifact", func(t *testing.T, k signingKey, _ string) map[string]any {
			t.Helper()
			payload, sig := detached(t, k.priv, digestFor("some other artifact"))
			return map[string]any{"payload": payload, "signature": sig, "publicKey": provenancetest.PublicKeyPEM(t, k.priv.Public())}
		}, "PROVENANCE_FAILED", "no subject with digest"},
		{"no signature", func(*testing.T, signingKey, string) map[string]any {
			return map[string]any{}
		}, "PROVENANCE_UNVERIFIED", "no signature supplied"},
	}
	for _, k := range keys {
		for _, tc := range cases {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				digest := digestFor("provenance " + k.name + " " + tc.name)
				art := c.artifact(t, trailID, "app-"+k.name, digest)
				artID := art["id"].(string)
				assert.Equal(t, "NO_PROVENANCE", art["provenanceStatus"])

				body := map[string]any{"builderId": "https://github.com/acme/app/.github/workflows/build.yml",
					"builderType": "GITHUB_ACTIONS", "slsaLevel": "L3"}
				maps.Copy(body, tc.fields(t, k, digest))
				r := c.do(t, http.MethodPost, provenancePath(trailID, artID), body)
				require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
				rec := r.json(t)
				assert.Equal(t, tc.status, rec["provenanceStatus"])
				assert.Contains(t, rec["verificationMessage"], tc.msg)
				assert.Equal(t, digest, rec["sha256Digest"])
				if tc.status == "PROVENANCE_FAILED" && strings.Contains(tc.msg, "subject") {
					// The message names the digest the artifact has.
					assert.Contains(t, rec["verificationMessage"], digest)
				}

				c.requireArtifactProvenance(t, trailID, artID, digest, tc.status)

				got := c.do(t, http.MethodGet, provenancePath(trailID, artID), nil)
				require.Equal(t, http.StatusOK, got.status, "body: %s", got.body)
				assert.Equal(t, rec, got.json(t))

				all := c.do(t, http.MethodGet, "/api/v1/artifacts/"+digest+"/provenance", nil).list(t)
				require.Len(t, all, 1)
				assert.Equal(t, rec["id"], all[0]["id"])
				assert.Equal(t, tc.status, all[0]["provenanceStatus"])

				v := c.do(t, http.MethodPost, provenancePath(trailID, artID)+"/verify", nil)
				require.Equal(t, http.StatusOK, v.status, "body: %s", v.body)
				verdict := v.json(t)
				assert.Equal(t, artID, verdict["artifactId"])
				assert.Equal(t, tc.status, verdict["provenanceStatus"])
				assert.Equal(t, rec["verificationMessage"], verdict["message"])
			})
		}
	}

	t.Run("artifact without provenance", func(t *testing.T) {
		digest := digestFor("provenance none")
		artID := c.artifact(t, trailID, "bare", digest)["id"].(string)
		c.requireArtifactProvenance(t, trailID, artID, digest, "NO_PROVENANCE")
		requireErrorBody(t, c.do(t, http.MethodGet, provenancePath(trailID, artID), nil), http.StatusNotFound)
		assert.Empty(t, c.do(t, http.MethodGet, "/api/v1/artifacts/"+digest+"/provenance", nil).list(t))
		v := c.do(t, http.MethodPost, provenancePath(trailID, artID)+"/verify", nil).json(t)
		assert.Equal(t, "NO_PROVENANCE", v["provenanceStatus"])
		assert.Equal(t, artID, v["artifactId"])
		assert.NotEmpty(t, v["message"])
	})

	t.Run("unknown artifact or trail", func(t *testing.T) {
		body := map[string]any{"builderId": "b"}
		artID := c.artifact(t, trailID, "x", digestFor("provenance unknown"))["id"].(string)
		otherTrail := c.trail(t, flow["id"].(string), nil)["id"].(string)
		before := c.ledgerHead(t)
		requireErrorBody(t, c.do(t, http.MethodPost, provenancePath(trailID, "nope"), body), http.StatusNotFound)
		requireErrorBody(t, c.do(t, http.MethodPost, provenancePath(otherTrail, artID), body), http.StatusNotFound)
		requireErrorBody(t, c.do(t, http.MethodPost, provenancePath(otherTrail, artID)+"/verify", nil), http.StatusNotFound)
		assert.Equal(t, before, c.ledgerHead(t))
	})
}

// --- Evidence ---------------------------------------------------------------

func TestEvidenceUpload(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	flowID := c.createFlow(t, map[string]any{"name": "evidence"})["id"].(string)
	trailID := c.trail(t, flowID, nil)["id"].(string)

	// The processor's verdict overrides the status the attestation was
	// recorded with.
	processed := []struct {
		name, attType, recorded, file, want string
	}{
		{"junit pass", "junit", "FAILED", "junit-pass.xml", "PASSED"},
		{"junit fail", "junit", "PASSED", "junit-fail.xml", "FAILED"},
		{"SARIF with an error to snyk", "snyk", "PASSED", "sarif-error.sarif", "FAILED"},
		{"clean SARIF to snyk", "snyk", "FAILED", "sarif-clean.sarif", "PASSED"},
	}
	for _, tc := range processed {
		t.Run(tc.name, func(t *testing.T) {
			att := c.attest(t, trailID, map[string]any{"type": tc.attType, "status": tc.recorded})
			attID := att["id"].(string)
			content := evidenceSample(t, tc.file)
			hash := sha256Hex(content)
			before := c.ledgerHead(t)

			r := c.upload(t, trailID, attID, tc.file, content)
			require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
			ev := r.json(t)
			assert.Equal(t, hash, ev["sha256Hash"])
			assert.InDelta(t, len(content), ev["fileSizeBytes"], 0)
			assert.Equal(t, tc.file, ev["fileName"])
			assert.Equal(t, attID, ev["attestationId"])
			assert.Greater(t, c.ledgerHead(t), before)

			got := c.do(t, http.MethodGet, "/api/v1/attestations/"+attID, nil).json(t)
			assert.Equal(t, tc.want, got["status"])
			assert.Equal(t, tc.want == "PASSED", got["compliant"])
			assert.Equal(t, hash, got["evidenceFileHash"])
			assert.Equal(t, tc.file, got["evidenceFileName"])
			assert.NotEmpty(t, got["details"], "the processor's summary")

			dl := c.do(t, http.MethodGet, "/api/v1/evidence/"+hash, nil)
			require.Equal(t, http.StatusOK, dl.status, "body: %s", dl.body)
			assert.Equal(t, content, dl.body, "downloaded bytes are the uploaded bytes")
			assert.Equal(t, "sha-256="+hash, dl.header.Get("Digest"))
			assert.NotEmpty(t, c.storedObject(t, hash))
		})
	}

	t.Run("same bytes on two attestations are stored once", func(t *testing.T) {
		content := []byte(`<testsuite name="dedupe" tests="1" failures="0"><testcase name="once"/></testsuite>`)
		hash := sha256Hex(content)
		t1 := c.trail(t, flowID, nil)["id"].(string)
		t2 := c.trail(t, flowID, nil)["id"].(string)
		a1 := c.attest(t, t1, map[string]any{"type": "junit"})["id"].(string)
		a2 := c.attest(t, t2, map[string]any{"type": "junit"})["id"].(string)
		objectsBefore := c.storedObjectCount(t)

		r1 := c.upload(t, t1, a1, "report.xml", content)
		require.Equal(t, http.StatusCreated, r1.status, "body: %s", r1.body)
		nuid := c.storedObject(t, hash)
		require.NotEmpty(t, nuid)
		r2 := c.upload(t, t2, a2, "copy.xml", content)
		require.Equal(t, http.StatusCreated, r2.status, "body: %s", r2.body)

		e1, e2 := r1.json(t), r2.json(t)
		assert.Equal(t, hash, e1["sha256Hash"])
		assert.Equal(t, hash, e2["sha256Hash"])
		assert.NotEqual(t, e1["id"], e2["id"], "two evidence records")
		assert.Equal(t, objectsBefore+1, c.storedObjectCount(t), "one object")
		assert.Equal(t, nuid, c.storedObject(t, hash), "the second upload did not store the bytes again")

		for _, tc := range []struct{ path, attID string }{
			{"/api/v1/trails/" + t1 + "/evidence", a1},
			{"/api/v1/trails/" + t2 + "/evidence", a2},
			{"/api/v1/attestations/" + a1 + "/evidence", a1},
			{"/api/v1/attestations/" + a2 + "/evidence", a2},
		} {
			list := c.do(t, http.MethodGet, tc.path, nil).list(t)
			require.Len(t, list, 1, tc.path)
			assert.Equal(t, hash, list[0]["sha256Hash"], tc.path)
			assert.Equal(t, tc.attID, list[0]["attestationId"], tc.path)
		}
		for _, a := range []string{a1, a2} {
			assert.Equal(t, "PASSED", c.do(t, http.MethodGet, "/api/v1/attestations/"+a, nil).json(t)["status"])
		}
		dl := c.do(t, http.MethodGet, "/api/v1/evidence/"+hash, nil)
		require.Equal(t, http.StatusOK, dl.status)
		assert.Equal(t, content, dl.body)
	})

	t.Run("unparseable reports are refused", func(t *testing.T) {
		for _, file := range []string{"junit-malformed.xml", "junit-not-junit.xml"} {
			t.Run(file, func(t *testing.T) {
				attID := c.attest(t, trailID, map[string]any{"type": "junit", "status": "PENDING"})["id"].(string)
				content := evidenceSample(t, file)
				before := c.ledgerHead(t)

				r := c.upload(t, trailID, attID, file, content)
				requireErrorBody(t, r, http.StatusUnprocessableEntity)
				c.requireNothingStored(t, before, sha256Hex(content))
				got := c.do(t, http.MethodGet, "/api/v1/attestations/"+attID, nil).json(t)
				assert.Equal(t, "PENDING", got["status"])
				assert.Nil(t, got["evidenceFileHash"])
				assert.Empty(t, c.do(t, http.MethodGet, "/api/v1/attestations/"+attID+"/evidence", nil).list(t))
			})
		}
	})

	t.Run("bad uploads", func(t *testing.T) {
		attID := c.attest(t, trailID, map[string]any{"type": "manual"})["id"].(string)
		otherTrail := c.trail(t, flowID, nil)["id"].(string)
		content := []byte("manual sign-off")
		before := c.ledgerHead(t)
		requireErrorBody(t, c.upload(t, otherTrail, attID, "a.txt", content), http.StatusNotFound)
		requireErrorBody(t, c.upload(t, trailID, "nope", "a.txt", content), http.StatusNotFound)
		requireErrorBody(t, c.do(t, http.MethodPost, evidencePath(trailID, attID), `{"file":"x"}`,
			"Content-Type", "application/json"), http.StatusBadRequest)
		// A file name the ledger refuses is refused before the bytes are
		// stored, so no object is left that no event names.
		requireErrorBody(t, c.upload(t, trailID, attID, strings.Repeat("n", 300)+".txt", content), http.StatusBadRequest)
		c.requireNothingStored(t, before, sha256Hex(content))
		requireErrorBody(t, c.do(t, http.MethodGet, "/api/v1/evidence/not-a-hash", nil), http.StatusBadRequest)
	})
}

func TestEvidenceUploadLimit(t *testing.T) {
	t.Parallel()
	// fresh gives a trail and an attestation without an evidence processor,
	// so any bytes are accepted.
	fresh := func(t *testing.T, c complianceNode) (trailID, attID string) {
		t.Helper()
		flowID := c.createFlow(t, map[string]any{"name": "limits"})["id"].(string)
		trailID = c.trail(t, flowID, nil)["id"].(string)
		return trailID, c.attest(t, trailID, map[string]any{"type": "manual"})["id"].(string)
	}

	t.Run("default limit is 100 MiB", func(t *testing.T) {
		t.Parallel()
		c := newComplianceNode(t)
		trailID, attID := fresh(t, c)
		size := int64(100<<20) + 1
		hash := fillerHash(t, size)
		before := c.ledgerHead(t)

		r := c.uploadFiller(t, trailID, attID, size)
		requireErrorBody(t, r, http.StatusRequestEntityTooLarge)
		assert.Contains(t, r.json(t)["message"], "104857600")
		c.requireNothingStored(t, before, hash)
		assert.Empty(t, c.do(t, http.MethodGet, "/api/v1/attestations/"+attID+"/evidence", nil).list(t))
	})

	t.Run("configured limit", func(t *testing.T) {
		t.Parallel()
		const limit = 1 << 20
		c := newComplianceNode(t, func(cfg *app.Config) { cfg.MaxEvidenceBytes = limit })
		trailID, attID := fresh(t, c)
		for _, tc := range []struct {
			name   string
			size   int64
			status int
		}{
			{"just under", limit - 1, http.StatusCreated},
			{"exactly the limit", limit, http.StatusCreated},
			{"one byte over", limit + 1, http.StatusRequestEntityTooLarge},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hash := fillerHash(t, tc.size)
				before := c.ledgerHead(t)
				r := c.uploadFiller(t, trailID, attID, tc.size)
				if tc.status != http.StatusCreated {
					requireErrorBody(t, r, tc.status)
					c.requireNothingStored(t, before, hash)
					return
				}
				require.Equal(t, tc.status, r.status, "body: %s", r.body)
				ev := r.json(t)
				assert.Equal(t, hash, ev["sha256Hash"])
				assert.InDelta(t, tc.size, ev["fileSizeBytes"], 0)
				dl := c.do(t, http.MethodGet, "/api/v1/evidence/"+hash, nil)
				require.Equal(t, http.StatusOK, dl.status)
				assert.Equal(t, hash, sha256Hex(dl.body))
			})
		}
	})
}

// --- Dry runs ---------------------------------------------------------------

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	strict := c.createFlow(t, map[string]any{"name": "dry-strict", "requiredAttestationTypes": []string{"junit"}})["id"].(string)
	open := c.createFlow(t, map[string]any{"name": "dry-open"})["id"].(string)
	trailID := c.trail(t, strict, nil)["id"].(string)
	digest := digestFor("dry run")
	c.artifact(t, trailID, "web", digest)

	modes := []struct {
		name, query string
		headers     []string
	}{
		{"X-Factstore-Dry-Run", "", []string{"X-Factstore-Dry-Run", "true"}},
		{"X-Dry-Run", "", []string{"X-Dry-Run", "True"}},
		{"dryRun query", "?dryRun=true", nil},
	}
	writes := []struct {
		name, path string
		body       map[string]any
		want       map[string]any
	}{
		{"trail v1", "/api/v1/trails", trailFields(strict, nil), map[string]any{"status": "PENDING", "flowId": strict}},
		{"trail v1 of a flow requiring nothing", "/api/v1/trails", trailFields(open, nil), map[string]any{"status": "COMPLIANT", "flowId": open}},
		{"trail v2", "/api/v2/trails", trailFields(strict, nil), map[string]any{"status": "PENDING"}},
		{"artifact v1", "/api/v1/trails/" + trailID + "/artifacts", artifactFields("api", digestFor("dry api")),
			map[string]any{"sha256Digest": digestFor("dry api"), "provenanceStatus": "NO_PROVENANCE", "trailId": trailID}},
		{"artifact v2", "/api/v2/trails/" + trailID + "/artifacts", artifactFields("api", digestFor("dry api")),
			map[string]any{"imageName": "api"}},
		{"attestation v1 passed", "/api/v1/trails/" + trailID + "/attestations", map[string]any{"type": "junit", "status": "PASSED"},
			map[string]any{"compliant": true, "status": "PASSED", "trailId": trailID}},
		{"attestation v1 failed", "/api/v1/trails/" + trailID + "/attestations", map[string]any{"type": "junit", "status": "FAILED"},
			map[string]any{"compliant": false}},
		{"attestation v2", "/api/v2/trails/" + trailID + "/attestations", map[string]any{"type": "junit", "status": "PASSED"},
			map[string]any{"compliant": true}},
		{"attestation with trailId in the body", "/api/v1/attestations", map[string]any{"trailId": trailID, "type": "junit", "status": "PASSED"},
			map[string]any{"compliant": true, "trailId": trailID}},
		{"assert", "/api/v1/assert", map[string]any{"sha256Digest": digest, "flowId": strict},
			map[string]any{"status": "NON_COMPLIANT", "compliant": false, "missingAttestationTypes": []any{"junit"}}},
	}

	before := c.ledgerHead(t)
	for _, w := range writes {
		for _, m := range modes {
			t.Run(w.name+"/"+m.name, func(t *testing.T) {
				r := c.do(t, http.MethodPost, w.path+m.query, w.body, m.headers...)
				require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
				assert.Empty(t, r.header.Get("X-Factstore-Seq"))
				got := r.json(t)
				assert.Equal(t, true, got["dryRun"])
				would, ok := got["wouldCreate"].(map[string]any)
				require.True(t, ok, "wouldCreate in %s", r.body)
				for k, v := range w.want {
					assert.Equal(t, v, would[k], k)
				}
			})
		}
	}
	// A dry run is decided like a real write: it fails the same way.
	requireErrorBody(t, c.do(t, http.MethodPost, "/api/v1/trails/nope/artifacts?dryRun=true", artifactFields("x", digest)), http.StatusNotFound)
	requireErrorBody(t, c.do(t, http.MethodPost, "/api/v1/assert?dryRun=true", map[string]any{"sha256Digest": digest, "flowId": "nope"}), http.StatusNotFound)

	assert.Equal(t, before, c.ledgerHead(t), "dry runs append nothing")
	assert.Len(t, c.do(t, http.MethodGet, "/api/v1/trails", nil).list(t), 1)
	assert.Len(t, c.do(t, http.MethodGet, "/api/v1/trails/"+trailID+"/artifacts", nil).list(t), 1)
	assert.Empty(t, c.do(t, http.MethodGet, "/api/v2/trails/"+trailID+"/attestations", nil).list(t))
	assert.Zero(t, c.auditCount(t, "GATE_BLOCKED")+c.auditCount(t, "GATE_ALLOWED"), "a dry-run assert records no decision")

	// A real assert records exactly one compliance.asserted event.
	r := c.do(t, http.MethodPost, "/api/v1/assert", map[string]any{"sha256Digest": digest, "flowId": strict})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	assert.Equal(t, "NON_COMPLIANT", r.json(t)["status"])
	assert.Equal(t, before+1, c.ledgerHead(t))
	assert.Equal(t, before+1, seqHeader(t, r))
	blocked := c.do(t, http.MethodGet, "/api/v1/audit?eventType=GATE_BLOCKED", nil).json(t)
	events := objects(t, blocked["events"])
	require.Len(t, events, 1)
	assert.Equal(t, "compliance.asserted", events[0]["type"])
	assert.Equal(t, digest, events[0]["artifactSha256"])

	c.attest(t, trailID, map[string]any{"type": "junit", "status": "PASSED"})
	assert.Equal(t, "COMPLIANT", c.assertion(t, strict, digest)["status"])
	assert.Equal(t, 1, c.auditCount(t, "GATE_ALLOWED"))
	assert.Equal(t, 1, c.auditCount(t, "GATE_BLOCKED"))
}

// --- Trails -----------------------------------------------------------------

func TestTrails(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	flowA := c.createFlow(t, map[string]any{"name": "trails-a"})["id"].(string)
	flowB := c.createFlow(t, map[string]any{"name": "trails-b"})["id"].(string)
	var trailsOfA []string

	github := map[string]string{"GITHUB_SHA": "1111111111111111111111111111111111111111", "GITHUB_REF_NAME": "release/2.0",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/pay", "GITHUB_RUN_ID": "4242"}
	gitlab := map[string]string{"CI_COMMIT_SHA": "2222222222222222222222222222222222222222", "CI_COMMIT_REF_NAME": "develop",
		"CI_JOB_URL": "https://gitlab.example/acme/pay/-/jobs/77"}
	author := map[string]any{"flowId": flowA, "gitAuthor": "Ada Lovelace", "gitAuthorEmail": "ada@example.com"}
	with := func(extra map[string]any) map[string]any {
		b := maps.Clone(author)
		maps.Copy(b, extra)
		return b
	}

	t.Run("CI context", func(t *testing.T) {
		cases := []struct {
			name   string
			header string
			body   map[string]any
			status int
			want   map[string]any
		}{
			{"github-actions fills what is absent", "github-actions", with(map[string]any{"ciEnvironment": github}), http.StatusCreated,
				map[string]any{"gitCommitSha": github["GITHUB_SHA"], "gitBranch": "release/2.0", "buildUrl": "https://github.com/acme/pay/actions/runs/4242"}},
			{"github-actions keeps what is given", "github-actions",
				with(map[string]any{"ciEnvironment": github, "gitCommitSha": "abcabcabc", "buildUrl": "https://ci.example/given"}), http.StatusCreated,
				map[string]any{"gitCommitSha": "abcabcabc", "gitBranch": "release/2.0", "buildUrl": "https://ci.example/given"}},
			{"gitlab-ci", "gitlab-ci", with(map[string]any{"ciEnvironment": gitlab}), http.StatusCreated,
				map[string]any{"gitCommitSha": gitlab["CI_COMMIT_SHA"], "gitBranch": "develop", "buildUrl": gitlab["CI_JOB_URL"]}},
			{"header is case-insensitive", "GitLab_CI", with(map[string]any{"ciEnvironment": gitlab, "gitBranch": "hotfix"}), http.StatusCreated,
				map[string]any{"gitCommitSha": gitlab["CI_COMMIT_SHA"], "gitBranch": "hotfix", "buildUrl": gitlab["CI_JOB_URL"]}},
			{"no header, no fill", "", with(map[string]any{"ciEnvironment": github}), http.StatusBadRequest, nil},
			{"unknown provider, no fill", "teamcity", with(map[string]any{"ciEnvironment": github}), http.StatusBadRequest, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var hdr []string
				if tc.header != "" {
					hdr = []string{"X-Factstore-CI-Context", tc.header}
				}
				r := c.do(t, http.MethodPost, "/api/v1/trails", tc.body, hdr...)
				if tc.status != http.StatusCreated {
					requireErrorBody(t, r, tc.status)
					assert.Contains(t, r.json(t)["message"], "gitCommitSha")
					return
				}
				require.Equal(t, tc.status, r.status, "body: %s", r.body)
				created := r.json(t)
				trailsOfA = append(trailsOfA, created["id"].(string))
				stored := c.do(t, http.MethodGet, "/api/v1/trails/"+created["id"].(string), nil).json(t)
				for k, v := range tc.want {
					assert.Equal(t, v, created[k], k)
					assert.Equal(t, v, stored[k], "stored "+k)
				}
			})
		}
	})

	t.Run("names", func(t *testing.T) {
		unnamed := c.trail(t, flowA, nil)
		trailsOfA = append(trailsOfA, unnamed["id"].(string))
		assert.Equal(t, unnamed["id"], unnamed["name"], "the name defaults to the id")

		named := c.trail(t, flowA, map[string]any{"name": "release-1"})
		trailsOfA = append(trailsOfA, named["id"].(string))
		assert.Equal(t, "release-1", named["name"])

		before := c.ledgerHead(t)
		dup := c.do(t, http.MethodPost, "/api/v1/trails", trailFields(flowA, map[string]any{"name": "release-1"}))
		requireErrorBody(t, dup, http.StatusConflict)
		assert.Contains(t, dup.json(t)["message"], "release-1")
		assert.Equal(t, before, c.ledgerHead(t))

		inB := c.trail(t, flowB, map[string]any{"name": "release-1"})
		assert.Equal(t, "release-1", inB["name"])
		assert.Equal(t, flowB, inB["flowId"])
	})

	t.Run("listing", func(t *testing.T) {
		const size = 2
		var seen []string
		totalPages := 1
		for page := 0; page < totalPages; page++ {
			r := c.do(t, http.MethodGet, fmt.Sprintf("/api/v1/flows/%s/trails?page=%d&size=%d", flowA, page, size), nil)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			p := r.json(t)
			assert.InDelta(t, page, p["page"], 0)
			assert.InDelta(t, size, p["size"], 0)
			assert.InDelta(t, len(trailsOfA), p["totalItems"], 0)
			totalPages = int(p["totalPages"].(float64))
			items := objects(t, p["items"])
			assert.LessOrEqual(t, len(items), size)
			seen = append(seen, ids(items)...)
		}
		assert.Equal(t, (len(trailsOfA)+size-1)/size, totalPages)
		assert.ElementsMatch(t, trailsOfA, seen, "every trail once over the pages")

		assert.ElementsMatch(t, trailsOfA, ids(c.do(t, http.MethodGet, "/api/v1/trails?flowId="+flowA, nil).list(t)))
		inB := c.do(t, http.MethodGet, "/api/v1/trails?flowId="+flowB, nil).list(t)
		require.Len(t, inB, 1)
		assert.Equal(t, "release-1", inB[0]["name"])
		assert.Len(t, c.do(t, http.MethodGet, "/api/v1/trails", nil).list(t), len(trailsOfA)+1)
		requireErrorBody(t, c.do(t, http.MethodGet, "/api/v1/trails?flowId=nope", nil), http.StatusNotFound)
	})

	t.Run("audit", func(t *testing.T) {
		trailID := c.trail(t, flowB, nil)["id"].(string)
		digest := digestFor("trail audit")
		c.artifact(t, trailID, "web", digest)
		c.attest(t, trailID, map[string]any{"type": "junit", "status": "PASSED"})
		// The decision is an event of the flow that names the trail.
		c.assertion(t, flowB, digest)

		r := c.do(t, http.MethodGet, "/api/v1/trails/"+trailID+"/audit", nil)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		events := r.list(t)
		var types []string
		for _, e := range events {
			types = append(types, fmt.Sprint(e["eventType"]))
			assert.Equal(t, trailID, e["trailId"])
		}
		assert.Equal(t, []string{"TRAIL_STARTED", "ARTIFACT_DEPLOYED", "ATTESTATION_RECORDED", "GATE_ALLOWED"},
			slices.DeleteFunc(types, func(s string) bool { return s == "TRAIL_STATUS_CHANGED" }), "each once, oldest first")

		r = c.do(t, http.MethodGet, "/api/v1/audit?trailId="+trailID+"&sortDesc=true&size=2", nil)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		desc := r.json(t)
		assert.EqualValues(t, len(events), desc["totalElements"])
		page := desc["events"].([]any)
		require.Len(t, page, 2)
		assert.Equal(t, "GATE_ALLOWED", page[0].(map[string]any)["eventType"], "newest first")
		requireErrorBody(t, c.do(t, http.MethodGet, "/api/v1/trails/nope/audit", nil), http.StatusNotFound)
	})
}

// --- Attestations -----------------------------------------------------------

func TestAttestations(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	flowID := c.createFlow(t, map[string]any{"name": "attestations", "requiredAttestationTypes": []string{"junit"}})["id"].(string)
	trailID := c.trail(t, flowID, nil)["id"].(string)
	var recorded []string

	t.Run("v1 with object details", func(t *testing.T) {
		details := `{"tests":12,"tool":"surefire","modules":["api","core"]}`
		r := c.do(t, http.MethodPost, "/api/v1/trails/"+trailID+"/attestations",
			`{"type":"junit","status":"PASSED","name":"unit","details":`+details+`}`)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		a := r.json(t)
		recorded = append(recorded, a["id"].(string))
		stored, ok := a["details"].(string)
		require.True(t, ok, "details is stored as text: %s", r.body)
		assert.JSONEq(t, details, stored)
		assert.Equal(t, true, a["compliant"])
		assert.Equal(t, trailID, a["trailId"])
		assert.Equal(t, flowID, a["flowId"])
		assert.Equal(t, a, c.do(t, http.MethodGet, "/api/v1/attestations/"+a["id"].(string), nil).json(t))
	})

	t.Run("v2 answers a command result", func(t *testing.T) {
		r := c.do(t, http.MethodPost, "/api/v2/trails/"+trailID+"/attestations", map[string]any{"type": "snyk", "status": "FAILED", "details": "2 high"})
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		res := r.json(t)
		assert.Len(t, res, 3, "only id, status and timestamp: %s", r.body)
		assert.Equal(t, "created", res["status"])
		_, err := time.Parse(time.RFC3339Nano, res["timestamp"].(string))
		require.NoError(t, err)
		id := res["id"].(string)
		recorded = append(recorded, id)
		a := c.do(t, http.MethodGet, "/api/v1/attestations/"+id, nil).json(t)
		assert.Equal(t, "snyk", a["type"])
		assert.Equal(t, "2 high", a["details"])
		assert.Equal(t, false, a["compliant"])
	})

	t.Run("trailId in the body", func(t *testing.T) {
		r := c.do(t, http.MethodPost, "/api/v1/attestations", map[string]any{"trailId": trailID, "type": "sonar", "status": "PENDING"})
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		a := r.json(t)
		recorded = append(recorded, a["id"].(string))
		assert.Equal(t, trailID, a["trailId"])
		assert.Equal(t, "PENDING", a["status"])

		before := c.ledgerHead(t)
		requireErrorBody(t, c.do(t, http.MethodPost, "/api/v1/attestations", map[string]any{"type": "sonar"}), http.StatusBadRequest)
		requireErrorBody(t, c.do(t, http.MethodPost, "/api/v1/attestations", map[string]any{"trailId": "nope", "type": "sonar"}), http.StatusNotFound)
		requireErrorBody(t, c.do(t, http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", map[string]any{"type": "junit", "status": "passed"}), http.StatusBadRequest)
		assert.Equal(t, before, c.ledgerHead(t))
	})

	t.Run("listing", func(t *testing.T) {
		require.Len(t, recorded, 3)
		var seen []string
		for page := 0; page < 2; page++ {
			r := c.do(t, http.MethodGet, fmt.Sprintf("/api/v1/trails/%s/attestations?page=%d&size=2", trailID, page), nil)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			p := r.json(t)
			assert.InDelta(t, 3, p["totalItems"], 0)
			assert.InDelta(t, 2, p["totalPages"], 0)
			assert.InDelta(t, page, p["page"], 0)
			assert.InDelta(t, 2, p["size"], 0)
			seen = append(seen, ids(objects(t, p["items"]))...)
		}
		assert.Equal(t, recorded, seen, "oldest first, each once")
		assert.Equal(t, recorded, ids(c.do(t, http.MethodGet, "/api/v2/trails/"+trailID+"/attestations", nil).list(t)), "v2 is a plain array")
	})

	t.Run("bound to one artifact", func(t *testing.T) {
		bound := c.trail(t, flowID, nil)["id"].(string)
		a, b := digestFor("bound A"), digestFor("bound B")
		c.artifact(t, bound, "api", a)
		c.artifact(t, bound, "worker", b)
		att := c.attest(t, bound, map[string]any{"type": "junit", "status": "PASSED", "artifactFingerprint": a})
		assert.Equal(t, a, att["artifactFingerprint"])

		forA := c.assertion(t, flowID, a)
		assert.Equal(t, "COMPLIANT", forA["status"], "%v", forA)
		forB := c.assertion(t, flowID, b)
		assert.Equal(t, "NON_COMPLIANT", forB["status"])
		assert.Equal(t, []string{"junit"}, strs(t, forB["missingAttestationTypes"]))
		assert.Contains(t, reasons(t, forB), "different artifact")
		assert.Contains(t, reasons(t, forB), a)

		before := c.ledgerHead(t)
		r := c.do(t, http.MethodPost, "/api/v1/trails/"+bound+"/attestations",
			map[string]any{"type": "junit", "status": "PASSED", "artifactFingerprint": digestFor("never reported")})
		requireErrorBody(t, r, http.StatusBadRequest)
		assert.Equal(t, before, c.ledgerHead(t))
	})
}

// --- Assert -----------------------------------------------------------------

func TestAssert(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	required := []string{"junit", "snyk"}
	target := c.createFlow(t, map[string]any{"name": "assert-target", "requiredAttestationTypes": required})["id"].(string)
	other := c.createFlow(t, map[string]any{"name": "assert-other", "requiredAttestationTypes": required})["id"].(string)
	shared := digestFor("assert shared")
	otherTrail := c.trail(t, other, nil)["id"].(string)
	c.artifact(t, otherTrail, "svc", shared)
	c.attest(t, otherTrail, map[string]any{"type": "junit", "status": "PASSED"})
	c.attest(t, otherTrail, map[string]any{"type": "snyk", "status": "PASSED"})

	t.Run("legacy required types", func(t *testing.T) {
		cases := []struct {
			name, flow, digest, status string
			missing                    []string
			reason, details            string
		}{
			{"attested only on another flow's trail", target, shared, "NON_COMPLIANT", required, other, "other flows"},
			{"attested on its own flow's trail", other, shared, "COMPLIANT", []string{}, "PASSED", "All required attestations passed"},
			{"never reported", target, digestFor("never reported"), "NON_COMPLIANT", required, "not reported", "No artifacts found"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				v := c.assertion(t, tc.flow, tc.digest)
				assert.Equal(t, tc.status, v["status"])
				assert.Equal(t, tc.status == "COMPLIANT", v["compliant"])
				assert.Equal(t, tc.digest, v["sha256Digest"])
				assert.Equal(t, tc.flow, v["flowId"])
				assert.Equal(t, tc.missing, strs(t, v["missingAttestationTypes"]))
				assert.Empty(t, strs(t, v["failedAttestationTypes"]))
				assert.Contains(t, reasons(t, v), tc.reason)
				assert.Contains(t, v["details"], tc.details)
			})
		}
	})

	t.Run("errors", func(t *testing.T) {
		before := c.ledgerHead(t)
		for _, tc := range []struct {
			name   string
			body   any
			status int
		}{
			{"unknown flow", map[string]any{"sha256Digest": shared, "flowId": "nope"}, http.StatusNotFound},
			{"bad digest", map[string]any{"sha256Digest": "sha256:xyz", "flowId": target}, http.StatusBadRequest},
			{"no digest", map[string]any{"flowId": target}, http.StatusBadRequest},
			{"no flow", map[string]any{"sha256Digest": shared}, http.StatusBadRequest},
		} {
			t.Run(tc.name, func(t *testing.T) {
				requireErrorBody(t, c.do(t, http.MethodPost, "/api/v1/assert", tc.body), tc.status)
			})
		}
		assert.Equal(t, before, c.ledgerHead(t), "refused assertions record nothing")
	})

	t.Run("flow requiring nothing", func(t *testing.T) {
		open := c.createFlow(t, map[string]any{"name": "assert-open"})["id"].(string)
		d := digestFor("assert open")
		assert.Equal(t, "NON_COMPLIANT", c.assertion(t, open, d)["status"], "not reported yet")
		trailID := c.trail(t, open, nil)["id"].(string)
		c.artifact(t, trailID, "svc", d)
		v := c.assertion(t, open, d)
		assert.Equal(t, "COMPLIANT", v["status"])
		assert.Equal(t, trailID, v["trailId"])
		assert.Empty(t, strs(t, v["missingAttestationTypes"]))
	})

	t.Run("template judged by attestation names", func(t *testing.T) {
		const tmpl = `version: 1
trail:
  attestations:
    - name: unit-tests
      type: junit
    - name: prod-scan
      type: snyk
      if: ${{ flow.tags.tier == "prod" }}
    - name: staging-signoff
      type: manual
      if: ${{ flow.tags.tier == "staging" }}
artifacts:
  - name: web
    attestations:
      - name: image-signed
`
		prod := c.createFlow(t, map[string]any{"name": "tmpl-prod", "tags": map[string]string{"tier": "prod"},
			"requiredAttestationTypes": []string{"ignored-by-template"}, "templateYaml": tmpl})["id"].(string)
		trailID := c.trail(t, prod, nil)["id"].(string)
		web, worker := digestFor("tmpl web"), digestFor("tmpl worker")
		c.artifact(t, trailID, "web", web)
		c.artifact(t, trailID, "worker", worker)
		c.attest(t, trailID, map[string]any{"type": "junit", "name": "unit-tests", "status": "PASSED"})
		c.attest(t, trailID, map[string]any{"type": "snyk", "name": "prod-scan", "status": "FAILED"})

		v := c.assertion(t, prod, web)
		assert.Equal(t, "NON_COMPLIANT", v["status"])
		assert.Equal(t, []string{"image-signed"}, strs(t, v["missingAttestationNames"]))
		assert.Equal(t, []string{"prod-scan"}, strs(t, v["failedAttestationNames"]))
		assert.Empty(t, strs(t, v["missingAttestationTypes"]), "types are not judged under a template")
		assert.Empty(t, strs(t, v["failedAttestationTypes"]))
		assert.NotContains(t, reasons(t, v), "staging-signoff", "its if: is false for a prod flow")

		// The artifact entry "web" does not apply to the worker artifact.
		v = c.assertion(t, prod, worker)
		assert.Empty(t, strs(t, v["missingAttestationNames"]))
		assert.Equal(t, []string{"prod-scan"}, strs(t, v["failedAttestationNames"]))

		// The right name with the wrong type does not fill a typed slot;
		// the latest attestation of a slot wins.
		c.attest(t, trailID, map[string]any{"type": "manual", "name": "unit-tests", "status": "FAILED"})
		c.attest(t, trailID, map[string]any{"type": "cosign", "name": "image-signed", "status": "PASSED"})
		c.attest(t, trailID, map[string]any{"type": "snyk", "name": "prod-scan", "status": "PASSED"})
		v = c.assertion(t, prod, web)
		assert.Equal(t, "COMPLIANT", v["status"], "%v", v)
		assert.Empty(t, strs(t, v["missingAttestationNames"]))
		assert.Empty(t, strs(t, v["failedAttestationNames"]))

		// The same template on a staging flow asks for the staging slot
		// instead of the prod one.
		staging := c.createFlow(t, map[string]any{"name": "tmpl-staging", "tags": map[string]string{"tier": "staging"}, "templateYaml": tmpl})["id"].(string)
		st := c.trail(t, staging, nil)["id"].(string)
		sd := digestFor("tmpl staging web")
		c.artifact(t, st, "web", sd)
		c.attest(t, st, map[string]any{"type": "junit", "name": "unit-tests", "status": "PASSED"})
		c.attest(t, st, map[string]any{"type": "cosign", "name": "image-signed", "status": "PASSED"})
		v = c.assertion(t, staging, sd)
		assert.Equal(t, "NON_COMPLIANT", v["status"])
		assert.Equal(t, []string{"staging-signoff"}, strs(t, v["missingAttestationNames"]))
		assert.Empty(t, strs(t, v["failedAttestationNames"]))
	})
}

// --- Search -----------------------------------------------------------------

func TestSearch(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	flow := c.createFlow(t, map[string]any{"name": "Payments-Gateway", "description": "Settles CARD transactions",
		"tags": map[string]string{"team": "Falcon"}})["id"].(string)
	trail := c.trail(t, flow, map[string]any{"gitCommitSha": "c0ffee1234567890c0ffee1234567890c0ffee12",
		"gitBranch": "feature/Zebra-login", "gitAuthor": "Grace Hopper", "gitAuthorEmail": "grace@navy.example"})["id"].(string)
	digest := digestFor("search quokka")
	art := c.do(t, http.MethodPost, "/api/v1/trails/"+trail+"/artifacts", map[string]any{"imageName": "registry.example/Quokka-api",
		"imageTag": "v9.8.7", "sha256Digest": digest, "reportedBy": "bot-Ocelot"})
	require.Equal(t, http.StatusCreated, art.status, "body: %s", art.body)
	artifact := art.json(t)["id"].(string)
	att := c.attest(t, trail, map[string]any{"type": "Trivy-Scan", "name": "nightly-Yak", "status": "PASSED"})["id"].(string)

	// One word shared by one resource of each type.
	orionFlow := c.createFlow(t, map[string]any{"name": "orion-flow"})["id"].(string)
	orionTrail := c.trail(t, orionFlow, map[string]any{"gitBranch": "orion/release"})["id"].(string)
	c.artifact(t, orionTrail, "orion-api", digestFor("orion"))
	c.attest(t, orionTrail, map[string]any{"type": "manual", "name": "orion-check"})

	search := func(t *testing.T, query string) map[string]any {
		t.Helper()
		r := c.do(t, http.MethodGet, "/api/v1/search?"+query, nil)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		return r.json(t)
	}

	t.Run("each field, case-insensitively", func(t *testing.T) {
		hexDigest := strings.TrimPrefix(digest, "sha256:")
		cases := []struct {
			field, q, typ, id, title string
		}{
			{"flow name", "PAYMENTS-gateway", "flow", flow, "Payments-Gateway"},
			{"flow description", "card trans", "flow", flow, "Payments-Gateway"},
			{"flow tag", "falcon", "flow", flow, "Payments-Gateway"},
			{"trail commit", "C0FFEE12345", "trail", trail, "c0ffee12 — feature/Zebra-login"},
			{"trail branch", "zebra-LOGIN", "trail", trail, "c0ffee12 — feature/Zebra-login"},
			{"trail author", "grace hopper", "trail", trail, "c0ffee12 — feature/Zebra-login"},
			{"trail email", "NAVY.Example", "trail", trail, "c0ffee12 — feature/Zebra-login"},
			{"artifact name", "quokka", "artifact", artifact, "registry.example/Quokka-api:v9.8.7"},
			{"artifact tag", "V9.8.7", "artifact", artifact, "registry.example/Quokka-api:v9.8.7"},
			{"artifact digest", strings.ToUpper(hexDigest[20:44]), "artifact", artifact, "registry.example/Quokka-api:v9.8.7"},
			{"artifact reportedBy", "OCELOT", "artifact", artifact, "registry.example/Quokka-api:v9.8.7"},
			{"attestation type", "trivy-scan", "attestation", att, "Trivy-Scan (nightly-Yak)"},
			{"attestation name", "NIGHTLY-yak", "attestation", att, "Trivy-Scan (nightly-Yak)"},
		}
		for _, tc := range cases {
			t.Run(tc.field, func(t *testing.T) {
				res := search(t, "q="+url.QueryEscape(tc.q))
				assert.Equal(t, tc.q, res["query"])
				assert.Nil(t, res["type"])
				assert.InDelta(t, 1, res["total"], 0)
				hits := objects(t, res["results"])
				require.Len(t, hits, 1)
				hit := hits[0]
				assert.Equal(t, tc.typ, hit["type"])
				assert.Equal(t, tc.id, hit["id"])
				assert.Equal(t, tc.title, hit["title"])
				assert.Contains(t, hit, "description")
				assert.IsType(t, map[string]any{}, hit["metadata"])
			})
		}
	})

	t.Run("a flow hit shows the flow's current description", func(t *testing.T) {
		hits := objects(t, search(t, "q=card+trans&type=flow")["results"])
		require.Len(t, hits, 1)
		assert.Equal(t, "Settles CARD transactions", hits[0]["description"])
		assert.Equal(t, map[string]any{"orgSlug": ""}, hits[0]["metadata"], "a flow without an organisation")
		require.Equal(t, http.StatusCreated, c.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "lynx-org", "name": "Lynx"}).status)
		c.createFlow(t, map[string]any{"name": "lynx-flow", "orgSlug": "lynx-org"})
		hits = objects(t, search(t, "q=lynx-flow")["results"])
		require.Len(t, hits, 1)
		assert.Equal(t, map[string]any{"orgSlug": "lynx-org"}, hits[0]["metadata"])

		described := c.createFlow(t, map[string]any{"name": "described-flow", "description": "First words"})["id"].(string)
		r := c.do(t, http.MethodPut, "/api/v1/flows/"+described, map[string]any{"description": "Second words"})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		assert.Empty(t, objects(t, search(t, "q=first+words")["results"]))
		hits = objects(t, search(t, "q=second+WORDS")["results"])
		require.Len(t, hits, 1)
		assert.Equal(t, described, hits[0]["id"])
		assert.Equal(t, "Second words", hits[0]["description"])
	})

	t.Run("type narrows", func(t *testing.T) {
		all := search(t, "q=ORION")
		assert.InDelta(t, 4, all["total"], 0)
		var types []string
		for _, h := range objects(t, all["results"]) {
			types = append(types, h["type"].(string))
		}
		assert.ElementsMatch(t, []string{"flow", "trail", "artifact", "attestation"}, types)

		for _, typ := range []string{"flow", "trail", "artifact", "attestation"} {
			res := search(t, "q=orion&type="+typ)
			assert.Equal(t, typ, res["type"])
			assert.InDelta(t, 1, res["total"], 0)
			hits := objects(t, res["results"])
			require.Len(t, hits, 1)
			assert.Equal(t, typ, hits[0]["type"])
		}
		assert.Equal(t, "trail", search(t, "q=orion&type=TRAIL")["type"])
	})

	t.Run("edge cases", func(t *testing.T) {
		none := search(t, "q=no-such-thing-anywhere")
		assert.Empty(t, objects(t, none["results"]))
		assert.InDelta(t, 0, none["total"], 0)
		blank := search(t, "q=")
		assert.Empty(t, objects(t, blank["results"]))
		assert.InDelta(t, 0, blank["total"], 0)
		requireErrorBody(t, c.do(t, http.MethodGet, "/api/v1/search", nil), http.StatusBadRequest)
		requireErrorBody(t, c.do(t, http.MethodGet, "/api/v1/search?q=orion&type=environment", nil), http.StatusBadRequest)
	})
}

// TestAssertFollowsFlowVersions: an assert judges by the flow as it stands at
// the verdict's sequence. Decoded flow versions are cached, so this also
// shows a cached version is never served for a later one.
func TestAssertFollowsFlowVersions(t *testing.T) {
	t.Parallel()
	c := newComplianceNode(t)
	flow := c.createFlow(t, map[string]any{"name": "versioned", "requiredAttestationTypes": []string{"junit"}})["id"].(string)
	digest := digestFor("versioned artifact")
	trail := c.trail(t, flow, nil)["id"].(string)
	c.artifact(t, trail, "svc", digest)
	c.attest(t, trail, map[string]any{"type": "junit", "status": "PASSED"})

	before := c.assertion(t, flow, digest)
	require.Equal(t, "COMPLIANT", before["status"], "body: %v", before)
	seqBefore := uint64(before["ledgerSeq"].(float64))

	r := c.do(t, http.MethodPut, "/api/v1/flows/"+flow, map[string]any{"requiredAttestationTypes": []string{"junit", "sonar"}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	after := c.assertion(t, flow, digest)
	assert.Equal(t, "NON_COMPLIANT", after["status"])
	assert.Equal(t, []string{"sonar"}, strs(t, after["missingAttestationTypes"]))

	r = c.do(t, http.MethodPost, "/api/v1/assert", map[string]any{"sha256Digest": digest, "flowId": flow, "atSeq": seqBefore})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	assert.Equal(t, "COMPLIANT", r.json(t)["status"], "as of %d the flow required only junit", seqBefore)
}
