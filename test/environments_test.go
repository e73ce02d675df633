package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func digestOf(b byte) string { return "sha256:" + strings.Repeat(fmt.Sprintf("%02x", b), 32) }

func workload(name string, b byte) map[string]any {
	return map[string]any{"artifactName": name, "artifactTag": "v1", "artifactSha256": digestOf(b), "instanceCount": 2}
}

// driftReport is the part of a drift answer the test looks at.
type driftReport struct {
	HasDrift bool `json:"hasDrift"`
	Blocking bool `json:"blocking"`
	Added    []struct {
		ArtifactName string `json:"artifactName"`
	} `json:"added"`
	Allowed []struct {
		ArtifactName string `json:"artifactName"`
	} `json:"allowed"`
}

func (s *server) drift(envID string) driftReport {
	s.t.Helper()
	_, raw := s.mustDo(http.MethodGet, "/api/v1/environments/"+envID+"/drift", nil, http.StatusOK)
	var d driftReport
	if err := json.Unmarshal(raw, &d); err != nil {
		s.t.Fatal(err)
	}
	return d
}

// TestEnvironmentsLifecycle walks issue 4's acceptance through HTTP on the
// real binary: snapshots and their diff, running-artifact compliance,
// baseline and drift with the allow-list and its expiry, the three drift
// policies, the snapshot in force at a time, and identical answers after
// the read models are rebuilt from the ledger.
func TestEnvironmentsLifecycle(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	_, raw := srv.mustDo(http.MethodPost, "/api/v1/environments", map[string]any{"name": "prod", "type": "k8s", "driftPolicy": "WARN"}, http.StatusCreated)
	envID := decodeInto(t, raw)["id"].(string)

	// A compliant artifact: reported on a trail of a flow requiring nothing.
	_, raw = srv.mustDo(http.MethodPost, "/api/v1/flows", map[string]any{"name": "release"}, http.StatusCreated)
	flowID := decodeInto(t, raw)["id"].(string)
	_, raw = srv.mustDo(http.MethodPost, "/api/v1/trails", map[string]any{"flowId": flowID, "gitCommitSha": "abc", "gitBranch": "main",
		"gitAuthor": "Ada", "gitAuthorEmail": "ada@example.com"}, http.StatusCreated)
	trailID := decodeInto(t, raw)["id"].(string)
	srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/artifacts", map[string]any{"imageName": "api", "imageTag": "v1", "sha256Digest": digestOf(1)}, http.StatusCreated)

	// Snapshot 1: api (compliant), web, db. Snapshot 2: api, web updated, db removed, cache added.
	path := "/api/v1/environments/" + envID
	_, raw = srv.mustDo(http.MethodPost, path+"/snapshots", map[string]any{"recordedBy": "agent",
		"artifacts": []any{workload("api", 1), workload("web", 2), workload("db", 3)}}, http.StatusCreated)
	if idx := decodeInto(t, raw)["snapshotIndex"]; idx != float64(1) {
		t.Fatalf("first snapshot index %v", idx)
	}
	srv.mustDo(http.MethodPost, path+"/baselines", map[string]any{"approvedBy": "ops"}, http.StatusCreated)
	if d := srv.drift(envID); d.HasDrift {
		t.Fatalf("drift right after the baseline: %+v", d)
	}
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	srv.mustDo(http.MethodPost, path+"/snapshots", map[string]any{"recordedBy": "agent",
		"artifacts": []any{workload("api", 1), workload("web", 4), workload("cache", 5)}}, http.StatusCreated)

	_, raw = srv.mustDo(http.MethodGet, path+"/diff?from=1&to=2", nil, http.StatusOK)
	var diff map[string][]map[string]any
	_ = json.Unmarshal(raw, &diff)
	names := func(k string) string {
		var n []string
		for _, e := range diff[k] {
			n = append(n, e["artifactName"].(string))
		}
		return strings.Join(n, ",")
	}
	if names("added") != "cache" || names("removed") != "db" || names("updated") != "web" || names("unchanged") != "api" {
		t.Fatalf("diff: added %q removed %q updated %q unchanged %q", names("added"), names("removed"), names("updated"), names("unchanged"))
	}

	// The snapshot in force between the two is the first.
	_, raw = srv.mustDo(http.MethodGet, path+"/snapshots/at?time="+between.Format(time.RFC3339Nano), nil, http.StatusOK)
	if idx := decodeInto(t, raw)["snapshotIndex"]; idx != float64(1) {
		t.Fatalf("snapshot at %s: index %v, want 1", between, idx)
	}

	// Running compliance: api is COMPLIANT, cache (never reported) UNKNOWN.
	_, raw = srv.mustDo(http.MethodGet, path+"/snapshots/latest", nil, http.StatusOK)
	var latest struct {
		Artifacts []struct {
			ArtifactName     string `json:"artifactName"`
			ComplianceStatus string `json:"complianceStatus"`
			Provenance       any    `json:"provenance"`
		} `json:"artifacts"`
	}
	_ = json.Unmarshal(raw, &latest)
	status := map[string]string{}
	for _, a := range latest.Artifacts {
		status[a.ArtifactName] = a.ComplianceStatus
		if a.ArtifactName == "cache" && a.Provenance != "UNKNOWN" {
			t.Fatalf("cache provenance %v, want UNKNOWN", a.Provenance)
		}
	}
	if status["api"] != "COMPLIANT" || status["cache"] != "UNKNOWN" {
		t.Fatalf("running compliance: %v", status)
	}

	// Drift: web updated, db removed, cache added. Allow-listing cache
	// moves it to allowed; when the entry expires it is drift again.
	d := srv.drift(envID)
	if !d.HasDrift || d.Blocking || len(d.Added) != 1 {
		t.Fatalf("WARN drift: %+v", d)
	}
	expires := time.Now().Add(1500 * time.Millisecond).UTC()
	_, raw = srv.mustDo(http.MethodPost, path+"/allowlist", map[string]any{"sha256": digestOf(5), "reason": "canary",
		"approvedBy": "ops", "expiresAt": expires.Format(time.RFC3339Nano)}, http.StatusCreated)
	if decodeInto(t, raw)["isEffective"] != true {
		t.Fatalf("new allow-list entry not effective: %s", raw)
	}
	d = srv.drift(envID)
	if len(d.Added) != 0 || len(d.Allowed) != 1 || d.Allowed[0].ArtifactName != "cache" {
		t.Fatalf("drift with cache allow-listed: %+v", d)
	}
	_, raw = srv.mustDo(http.MethodPost, path+"/drift/check", nil, http.StatusCreated)
	recorded := decodeInto(t, raw)
	time.Sleep(time.Until(expires) + 50*time.Millisecond)
	if d = srv.drift(envID); len(d.Added) != 1 || len(d.Allowed) != 0 {
		t.Fatalf("drift after the allow-list entry expired: %+v", d)
	}

	// The policies: IGNORE reports none, BLOCK reports it as blocking.
	srv.mustDo(http.MethodPut, path, map[string]any{"driftPolicy": "IGNORE"}, http.StatusOK)
	if d = srv.drift(envID); d.HasDrift || d.Blocking {
		t.Fatalf("IGNORE drift: %+v", d)
	}
	srv.mustDo(http.MethodPut, path, map[string]any{"driftPolicy": "BLOCK"}, http.StatusOK)
	if d = srv.drift(envID); !d.HasDrift || !d.Blocking {
		t.Fatalf("BLOCK drift: %+v", d)
	}

	// The same answers after a rebuild from the ledger.
	answers := func() map[string]string {
		out := map[string]string{}
		for _, p := range []string{path, path + "/snapshots", path + "/snapshots/1", path + "/diff?from=1&to=2",
			path + "/baselines/current", path + "/drift/history", path + "/allowlist",
			path + "/snapshots/at?time=" + between.Format(time.RFC3339Nano)} {
			_, raw := srv.mustDo(http.MethodGet, p, nil, http.StatusOK)
			out[p] = string(raw)
		}
		return out
	}
	before := answers()
	if !strings.Contains(before[path+"/drift/history"], recorded["id"].(string)) {
		t.Fatalf("drift history lacks the recorded check: %s", before[path+"/drift/history"])
	}
	srv.stopGracefully()
	if out, code := runCLI(t, "rebuild", "--data-dir", dir); code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, out)
	}
	srv = startServer(t, dir)
	// isEffective depends on the clock, not the ledger: compare the rest.
	for p, want := range before {
		_, raw := srv.mustDo(http.MethodGet, p, nil, http.StatusOK)
		if string(raw) != want {
			t.Errorf("GET %s after rebuild:\n got %s\nwant %s", p, raw, want)
		}
	}
}
