package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upload POSTs a file as the multipart field "file" and returns status and body.
func (s *server) upload(path, fileName string, content []byte) (int, []byte) {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", fileName)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = fw.Write(content)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, s.base+path, &buf)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func decodeInto(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	return m
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "policy", "evidence", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertion is the part of an assert answer the test compares.
type assertion struct {
	Status                  string   `json:"status"`
	Compliant               bool     `json:"compliant"`
	LedgerSeq               uint64   `json:"ledgerSeq"`
	MissingAttestationTypes []string `json:"missingAttestationTypes"`
	FailedAttestationTypes  []string `json:"failedAttestationTypes"`
	Details                 string   `json:"details"`
	Explanation             []struct {
		Slot          string `json:"slot"`
		Outcome       string `json:"outcome"`
		AttestationID string `json:"attestationId"`
		Reason        string `json:"reason"`
	} `json:"explanation"`
}

func (s *server) assert(body map[string]any) assertion {
	s.t.Helper()
	_, raw := s.mustDo(http.MethodPost, "/api/v1/assert", body, http.StatusOK)
	var a assertion
	if err := json.Unmarshal(raw, &a); err != nil {
		s.t.Fatalf("assert answer %s: %v", raw, err)
	}
	return a
}

func (a assertion) outcome(slot string) string {
	for _, e := range a.Explanation {
		if e.Slot == slot {
			return e.Outcome + ": " + e.Reason
		}
	}
	return "no explanation for " + slot
}

// TestComplianceLifecycle walks the compliance core end to end through HTTP
// on the real binary: requirements, evidence processors, the trail status
// lifecycle, explained asserts, point-in-time asserts, and the same verdicts
// after `factstore rebuild`.
func TestComplianceLifecycle(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	_, raw := srv.mustDo(http.MethodPost, "/api/v1/flows", map[string]any{"name": "payments", "requiredAttestationTypes": []string{"junit", "snyk"}}, http.StatusCreated)
	flowID := decodeInto(t, raw)["id"].(string)
	_, raw = srv.mustDo(http.MethodPost, "/api/v1/trails", map[string]any{
		"flowId": flowID, "gitCommitSha": "0123456789abcdef", "gitBranch": "main", "gitAuthor": "Ada", "gitAuthorEmail": "ada@example.com",
	}, http.StatusCreated)
	trail := decodeInto(t, raw)
	trailID := trail["id"].(string)
	if trail["status"] != "PENDING" {
		t.Fatalf("new trail status %v, want PENDING", trail["status"])
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/artifacts", map[string]any{
		"imageName": "payments", "imageTag": "1.0.0", "sha256Digest": digest, "reportedBy": "ci"}, http.StatusCreated)

	// junit PASSED through its evidence: the processor decides.
	_, raw = srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", map[string]any{"type": "junit"}, http.StatusCreated)
	junitID := decodeInto(t, raw)["id"].(string)
	if st, body := srv.upload("/api/v1/trails/"+trailID+"/attestations/"+junitID+"/evidence", "junit.xml", sample(t, "junit-pass.xml")); st != http.StatusCreated {
		t.Fatalf("junit evidence: %d %s", st, body)
	}
	a := srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID})
	if a.Status != "NON_COMPLIANT" || a.Compliant || fmt.Sprint(a.MissingAttestationTypes) != "[snyk]" {
		t.Fatalf("after junit only: %+v", a)
	}
	if !strings.HasPrefix(a.outcome("snyk"), "MISSING") || !strings.HasPrefix(a.outcome("junit"), "SATISFIED") {
		t.Fatalf("explanation: snyk %q, junit %q", a.outcome("snyk"), a.outcome("junit"))
	}

	// SARIF with an error-level result: the snyk attestation FAILS.
	_, raw = srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", map[string]any{"type": "snyk", "status": "PENDING"}, http.StatusCreated)
	snykID := decodeInto(t, raw)["id"].(string)
	sarif := sample(t, "sarif-error.sarif")
	st, body := srv.upload("/api/v1/trails/"+trailID+"/attestations/"+snykID+"/evidence", "scan.sarif", sarif)
	if st != http.StatusCreated {
		t.Fatalf("sarif evidence: %d %s", st, body)
	}
	sum := sha256.Sum256(sarif)
	if got := decodeInto(t, body)["sha256Hash"]; got != hex.EncodeToString(sum[:]) {
		t.Fatalf("sha256Hash %v, want %x", got, sum)
	}
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/evidence/"+hex.EncodeToString(sum[:]), nil, http.StatusOK)
	if !bytes.Equal(raw, sarif) {
		t.Fatal("downloaded evidence differs from the upload")
	}
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/attestations/"+snykID, nil, http.StatusOK)
	if s := decodeInto(t, raw)["status"]; s != "FAILED" {
		t.Fatalf("snyk attestation after SARIF with an error: %v", s)
	}
	trailStatus := func() any {
		_, got := srv.mustDo(http.MethodGet, "/api/v1/trails/"+trailID, nil, http.StatusOK)
		return decodeInto(t, got)["status"]
	}
	if s := trailStatus(); s != "NON_COMPLIANT" {
		t.Fatalf("trail status after a failed snyk: %v", s)
	}
	a = srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID})
	if a.Status != "NON_COMPLIANT" || fmt.Sprint(a.FailedAttestationTypes) != "[snyk]" || !strings.HasPrefix(a.outcome("snyk"), "FAILED") {
		t.Fatalf("after failed snyk: %+v", a)
	}

	// A clean snyk run: COMPLIANT, and the trail too.
	srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", map[string]any{"type": "snyk", "status": "PASSED"}, http.StatusCreated)
	compliant := srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID})
	if compliant.Status != "COMPLIANT" || !compliant.Compliant {
		t.Fatalf("after clean snyk: %+v", compliant)
	}
	if s := trailStatus(); s != "COMPLIANT" {
		t.Fatalf("trail status after every requirement passed: %v", s)
	}
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)

	// A later junit FAILED: the latest of a type wins.
	srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", map[string]any{"type": "junit", "status": "FAILED"}, http.StatusCreated)
	a = srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID})
	if a.Status != "NON_COMPLIANT" || fmt.Sprint(a.FailedAttestationTypes) != "[junit]" {
		t.Fatalf("after a later junit FAILED: %+v", a)
	}
	if s := trailStatus(); s != "NON_COMPLIANT" {
		t.Fatalf("trail status after junit FAILED: %v", s)
	}
	asOf := srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID, "asOf": between.Format(time.RFC3339Nano)})
	if asOf.Status != "COMPLIANT" || asOf.LedgerSeq < compliant.LedgerSeq {
		t.Fatalf("asOf %s: %+v (compliant verdict was at %d)", between, asOf, compliant.LedgerSeq)
	}
	atSeq := srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID, "atSeq": compliant.LedgerSeq})
	if atSeq.Status != "COMPLIANT" || atSeq.LedgerSeq != compliant.LedgerSeq {
		t.Fatalf("atSeq %d: %+v", compliant.LedgerSeq, atSeq)
	}

	// Every assert is in the audit log as a gate decision.
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/audit?eventType=GATE_ALLOWED", nil, http.StatusOK)
	if n := decodeInto(t, raw)["totalElements"].(float64); n != 3 {
		t.Fatalf("GATE_ALLOWED audit events: %v, want 3", n)
	}

	// The same verdicts after the read models are rebuilt from the ledger.
	srv.stopGracefully()
	if out, code := runCLI(t, "rebuild", "--data-dir", dir); code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, out)
	}
	srv = startServer(t, dir)
	again := srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID, "asOf": between.Format(time.RFC3339Nano)})
	if again.Status != "COMPLIANT" || again.LedgerSeq != asOf.LedgerSeq || fmt.Sprint(again.Explanation) != fmt.Sprint(asOf.Explanation) {
		t.Fatalf("asOf after rebuild: %+v, before: %+v", again, asOf)
	}
	if now := srv.assert(map[string]any{"sha256Digest": digest, "flowId": flowID}); now.Status != "NON_COMPLIANT" {
		t.Fatalf("current verdict after rebuild: %+v", now)
	}
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/trails/"+trailID, nil, http.StatusOK)
	if s := decodeInto(t, raw)["status"]; s != "NON_COMPLIANT" {
		t.Fatalf("trail status after rebuild: %v", s)
	}
}
