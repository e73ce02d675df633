package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// dumpBuckets reads every key and value of every bucket of a bbolt file.
func dumpBuckets(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := map[string]string{}
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRebuildCommandIsByteIdentical: after `factstore rebuild` every bucket of
// the read models holds exactly the bytes it held before.
func TestRebuildCommandIsByteIdentical(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	var ids []string
	for i := 0; i < 60; i++ {
		f, _ := srv.createFlow(fmt.Sprintf("rb-%d", i))
		ids = append(ids, f.ID)
	}
	for i := 0; i < 10; i++ {
		if code, _, raw, err := srv.do(http.MethodPut, "/api/v1/flows/"+ids[i], map[string]any{"description": "changed"}); err != nil || code != http.StatusOK {
			t.Fatalf("update: %d %v %s", code, err, raw)
		}
		if code, _, raw, err := srv.do(http.MethodDelete, "/api/v1/flows/"+ids[30+i], nil); err != nil || code != http.StatusNoContent {
			t.Fatalf("delete: %d %v %s", code, err, raw)
		}
	}
	// The compliance read models too: a trail whose status changes, an
	// artifact, attestations, evidence and a recorded assert.
	_, raw := srv.mustDo(http.MethodPost, "/api/v1/trails", map[string]any{"flowId": ids[1], "gitCommitSha": "abc", "gitBranch": "main",
		"gitAuthor": "Ada", "gitAuthorEmail": "ada@example.com"}, http.StatusCreated)
	trailID := decodeInto(t, raw)["id"].(string)
	digest := "sha256:" + strings.Repeat("cd", 32)
	srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/artifacts", map[string]any{"imageName": "svc", "imageTag": "1", "sha256Digest": digest}, http.StatusCreated)
	_, raw = srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", map[string]any{"type": "junit"}, http.StatusCreated)
	attID := decodeInto(t, raw)["id"].(string)
	if st, body := srv.upload("/api/v1/trails/"+trailID+"/attestations/"+attID+"/evidence", "junit.xml", sample(t, "junit-pass.xml")); st != http.StatusCreated {
		t.Fatalf("evidence: %d %s", st, body)
	}
	srv.mustDo(http.MethodPost, "/api/v1/trails/"+trailID+"/attestations", map[string]any{"type": "snyk", "status": "FAILED"}, http.StatusCreated)
	if a := srv.assert(map[string]any{"sha256Digest": digest, "flowId": ids[1]}); a.Status != "COMPLIANT" {
		t.Fatalf("assert: %+v", a)
	}
	// 80 flow events, then trail, artifact, attestation, evidence, the
	// trail's status change, the second attestation and the decision.
	const events = 87
	srv.stopGracefully()
	path := filepath.Join(dir, "readmodels.db")
	before := dumpBuckets(t, path)
	if len(before["flows"]) != 50 || len(before["events"]) != events || len(before["trails"]) != 1 || len(before["search"]) != 54 {
		t.Fatalf("unexpected read models before rebuild: %d flows, %d events, %d trails, %d search docs",
			len(before["flows"]), len(before["events"]), len(before["trails"]), len(before["search"]))
	}

	out, code := runCLI(t, "rebuild", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, out)
	}
	if !bytes.Contains([]byte(out), []byte(fmt.Sprintf("rebuilt read models: %d events", events))) {
		t.Fatalf("rebuild did not replay the %d events: %s", events, out)
	}
	after := dumpBuckets(t, path)
	if len(after) != len(before) {
		t.Fatalf("bucket count %d after rebuild, %d before", len(after), len(before))
	}
	for name, b := range before {
		a := after[name]
		if len(a) != len(b) {
			t.Errorf("bucket %s: %d keys after rebuild, %d before", name, len(a), len(b))
			continue
		}
		for k, v := range b {
			if !bytes.Equal([]byte(a[k]), []byte(v)) {
				t.Errorf("bucket %s key %q differs after rebuild", name, k)
			}
		}
	}
}

// TestRebuildAfterAMachineCrashDuringARebuild: `factstore rebuild` writes
// the read models without fsync, as a serving node does; a machine crash
// in the middle leaves a torn file and the marker of an earlier boot, and
// the next rebuild (or start) discards that file instead of failing on it.
func TestRebuildAfterAMachineCrashDuringARebuild(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	for i := 0; i < 5; i++ {
		srv.createFlow(fmt.Sprintf("mc-%d", i))
	}
	srv.stopGracefully()

	marker := filepath.Join(dir, "readmodels.dirty")
	if err := os.WriteFile(marker, []byte("a-previous-boot"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "readmodels.db"), bytes.Repeat([]byte{0xAB}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "rebuild", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, out)
	}
	if !strings.Contains(out, "rebuilt read models: 5 events") {
		t.Fatalf("rebuild did not replay the 5 events: %s", out)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("a finished rebuild leaves the marker behind (stat: %v)", err)
	}
	if n := len(dumpBuckets(t, filepath.Join(dir, "readmodels.db"))["flows"]); n != 5 {
		t.Fatalf("%d flows in the rebuilt read models, want 5", n)
	}
}
