package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/cmd/factstore/app"
)

// envSnapshotLimit is the snapshot body limit of the bad-input node: small,
// so that an oversized snapshot costs kilobytes, not 16 MiB.
const envSnapshotLimit = 64 << 10

func envDigest(label string) string {
	sum := sha256.Sum256([]byte(label))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// envArtifact is one workload of a snapshot report.
func envArtifact(name, digest string) map[string]any {
	return map[string]any{"artifactSha256": digest, "artifactName": name, "artifactTag": "1.0", "instanceCount": 2}
}

// envSnapshotBody is a snapshot report of n distinct workloads.
func envSnapshotBody(n int) map[string]any {
	arts := make([]map[string]any, n)
	for i := range arts {
		name := fmt.Sprintf("workload-%06d", i)
		arts[i] = envArtifact(name, envDigest(name))
	}
	return map[string]any{"recordedBy": "cluster-agent", "artifacts": arts}
}

// envAPI drives the environment routes of one node.
type envAPI struct{ *node }

func newEnvAPI(t testing.TB, mod ...func(*app.Config)) envAPI {
	t.Helper()
	return envAPI{startNode(t, t.TempDir(), mod...)}
}

// created POSTs body and requires 201.
func (n envAPI) created(t testing.TB, path string, body any) map[string]any {
	t.Helper()
	r := n.do(t, http.MethodPost, path, body)
	require.Equal(t, http.StatusCreated, r.status, "POST %s: %s", path, r.body)
	return r.json(t)
}

// ok sends a request and requires 200.
func (n envAPI) ok(t testing.TB, method, path string, body any) reply {
	t.Helper()
	r := n.do(t, method, path, body)
	require.Equal(t, http.StatusOK, r.status, "%s %s: %s", method, path, r.body)
	return r
}

func (n envAPI) environment(t testing.TB, body map[string]any) string {
	t.Helper()
	return n.created(t, "/api/v1/environments", body)["id"].(string)
}

func (n envAPI) snapshot(t testing.TB, envID string, artifacts ...map[string]any) map[string]any {
	t.Helper()
	if artifacts == nil {
		artifacts = []map[string]any{}
	}
	return n.created(t, "/api/v1/environments/"+envID+"/snapshots", map[string]any{"recordedBy": "cluster-agent", "artifacts": artifacts})
}

// flow creates a flow requiring the given attestation types; a flow
// requiring nothing judges every artifact its trails report compliant.
func (n envAPI) flow(t testing.TB, name string, required ...string) string {
	t.Helper()
	if required == nil {
		required = []string{}
	}
	return n.created(t, "/api/v1/flows", map[string]any{"name": name, "requiredAttestationTypes": required})["id"].(string)
}

// report reports digest as an artifact of a new trail of flowID.
func (n envAPI) report(t testing.TB, flowID, name, digest string) {
	t.Helper()
	trail := n.created(t, "/api/v1/trails", map[string]any{
		"flowId": flowID, "gitCommitSha": "0123456789abcdef0123456789abcdef01234567", "gitBranch": "main",
		"gitAuthor": "Ada Lovelace", "gitAuthorEmail": "ada@example.com",
	})["id"].(string)
	n.created(t, "/api/v1/trails/"+trail+"/artifacts", map[string]any{
		"imageName": name, "imageTag": "1.0", "sha256Digest": digest, "reportedBy": "ci",
	})
}

// ledgerSeqs is the stream head and the applied sequence from GET
// /api/v1/ledger/status.
func (n envAPI) ledgerSeqs(t testing.TB) [2]float64 {
	t.Helper()
	m := n.ok(t, http.MethodGet, "/api/v1/ledger/status", nil).json(t)
	head, ok := m["headSequence"].(float64)
	require.True(t, ok, "headSequence in %v", m)
	applied, ok := m["appliedSequence"].(float64)
	require.True(t, ok, "appliedSequence in %v", m)
	return [2]float64{head, applied}
}

// envNames returns the artifactName of each artifact in list, sorted.
func envNames(t testing.TB, list any) []string {
	t.Helper()
	items, ok := list.([]any)
	require.True(t, ok, "not a list: %v", list)
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.(map[string]any)["artifactName"].(string))
	}
	sort.Strings(out)
	return out
}

// envByName indexes a list of artifacts (or drift entries) by artifactName.
func envByName(t testing.TB, list any) map[string]map[string]any {
	t.Helper()
	items, ok := list.([]any)
	require.True(t, ok, "not a list: %v", list)
	out := make(map[string]map[string]any, len(items))
	for _, it := range items {
		m := it.(map[string]any)
		out[m["artifactName"].(string)] = m
	}
	return out
}

// envBadCase is one request that must be refused with status.
type envBadCase struct {
	name, method, path string
	body               any
	headers            []string
	status             int
}

// envOversizedSnapshot is a valid snapshot report just over limit bytes, so
// only its size can be the reason for refusing it.
func envOversizedSnapshot(t testing.TB, limit int) []byte {
	t.Helper()
	for n := limit / 256; ; n += 4 {
		raw, err := json.Marshal(envSnapshotBody(n))
		require.NoError(t, err)
		if len(raw) > limit {
			return raw
		}
	}
}

func TestEnvironmentBadInput(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t, func(c *app.Config) { c.MaxSnapshotBytes = envSnapshotLimit })

	// prod (org acme) has a snapshot, an allow-list entry, a removed entry
	// and no baseline; other has a snapshot of its own; bare has nothing;
	// unapproved has a baseline approved before any snapshot.
	prod := n.environment(t, map[string]any{"name": "prod", "type": "K8S", "orgSlug": "acme"})
	other := n.environment(t, map[string]any{"name": "other", "type": "ECS"})
	bare := n.environment(t, map[string]any{"name": "bare", "type": "GENERIC"})
	unapproved := n.environment(t, map[string]any{"name": "unapproved", "type": "S3"})
	n.snapshot(t, prod, envArtifact("api", envDigest("api")))
	otherSnap := n.snapshot(t, other, envArtifact("web", envDigest("web")))["id"].(string)
	allowBody := map[string]any{"sha256": envDigest("api"), "reason": "hotfix", "approvedBy": "security"}
	entry := n.created(t, "/api/v1/environments/"+prod+"/allowlist", allowBody)["id"].(string)
	removed := n.created(t, "/api/v1/environments/"+prod+"/allowlist", allowBody)["id"].(string)
	n.ok(t, http.MethodDelete, "/api/v1/environments/"+prod+"/allowlist/"+removed, nil)
	n.created(t, "/api/v1/environments/"+unapproved+"/baselines", map[string]any{"approvedBy": "ops"})
	logical := n.created(t, "/api/v1/logical-environments", map[string]any{"name": "production"})["id"].(string)
	n.ok(t, http.MethodPost, "/api/v1/logical-environments/"+logical+"/members/"+prod, nil)

	envs, env := "/api/v1/environments", "/api/v1/environments/"+prod
	logicals, lenv := "/api/v1/logical-environments", "/api/v1/logical-environments/"+logical
	const unknown = "00000000-0000-0000-0000-000000000000"
	valid := map[string]any{"name": "fresh", "type": "K8S"}
	with := func(kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range valid {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
				continue
			}
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	scope := func(side, key string, v any) map[string]any {
		return map[string]any{side: map[string]any{key: v}}
	}
	snap := func(arts ...map[string]any) map[string]any {
		return map[string]any{"recordedBy": "agent", "artifacts": arts}
	}
	art := envArtifact("api", envDigest("api"))
	artWith := func(k string, v any) map[string]any {
		out := map[string]any{}
		for key, val := range art {
			out[key] = val
		}
		out[k] = v
		return out
	}
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	cases := []envBadCase{
		// Create and update environment bodies.
		{name: "create malformed", method: http.MethodPost, path: envs, body: `{"name":`, status: http.StatusBadRequest},
		{name: "create empty body", method: http.MethodPost, path: envs, status: http.StatusBadRequest},
		{name: "create not an object", method: http.MethodPost, path: envs, body: `[1]`, status: http.StatusBadRequest},
		{name: "create trailing data", method: http.MethodPost, path: envs, body: `{"name":"a","type":"K8S"} {}`, status: http.StatusBadRequest},
		{name: "create name a number", method: http.MethodPost, path: envs, body: with("name", 42), status: http.StatusBadRequest},
		{name: "create type a bool", method: http.MethodPost, path: envs, body: with("type", true), status: http.StatusBadRequest},
		{name: "create scope a string", method: http.MethodPost, path: envs, body: with("scope", "all"), status: http.StatusBadRequest},
		{name: "create scope patterns a string", method: http.MethodPost, path: envs, body: with("scope", scope("include", "patterns", "api-.*")), status: http.StatusBadRequest},
		{name: "create driftPolicy a number", method: http.MethodPost, path: envs, body: with("driftPolicy", 1), status: http.StatusBadRequest},
		{name: "create missing name", method: http.MethodPost, path: envs, body: with("name", nil), status: http.StatusBadRequest},
		{name: "create blank name", method: http.MethodPost, path: envs, body: with("name", "   "), status: http.StatusBadRequest},
		{name: "create missing type", method: http.MethodPost, path: envs, body: with("type", nil), status: http.StatusBadRequest},
		{name: "create unknown type", method: http.MethodPost, path: envs, body: with("type", "MAINFRAME"), status: http.StatusBadRequest},
		{name: "create empty type", method: http.MethodPost, path: envs, body: with("type", ""), status: http.StatusBadRequest},
		{name: "create invalid driftPolicy", method: http.MethodPost, path: envs, body: with("driftPolicy", "PANIC"), status: http.StatusBadRequest},
		{name: "create invalid include pattern", method: http.MethodPost, path: envs, body: with("scope", scope("include", "patterns", []string{"api-("})), status: http.StatusBadRequest},
		{name: "create invalid exclude pattern", method: http.MethodPost, path: envs, body: with("scope", scope("exclude", "patterns", []string{"*debug"})), status: http.StatusBadRequest},
		// "api)|(zzz" is no regular expression, but "^(?:api)|(zzz)$" is one,
		// and it matches any name starting with "api": not a full match.
		{name: "create pattern that only compiles once wrapped", method: http.MethodPost, path: envs, body: with("scope", scope("include", "patterns", []string{"api)|(zzz"})), status: http.StatusBadRequest},
		{name: "create blank scope name", method: http.MethodPost, path: envs, body: with("scope", scope("exclude", "names", []string{" "})), status: http.StatusBadRequest},
		{name: "create bad orgSlug", method: http.MethodPost, path: envs, body: with("orgSlug", "Not A Slug"), status: http.StatusBadRequest},
		{name: "create duplicate name in the same org", method: http.MethodPost, path: envs, body: with("name", "prod", "orgSlug", "acme"), status: http.StatusConflict},
		{name: "create duplicate name without org", method: http.MethodPost, path: envs, body: with("name", "other", "type", "k8s"), status: http.StatusConflict},
		{name: "create dry run still validated", method: http.MethodPost, path: envs, body: with("type", "VM"), headers: []string{"X-Factstore-Dry-Run", "true"}, status: http.StatusBadRequest},
		{name: "update malformed", method: http.MethodPut, path: env, body: `{`, status: http.StatusBadRequest},
		{name: "update null", method: http.MethodPut, path: env, body: `null`, status: http.StatusBadRequest},
		{name: "update unknown type", method: http.MethodPut, path: env, body: map[string]any{"type": "VM"}, status: http.StatusBadRequest},
		{name: "update blank name", method: http.MethodPut, path: env, body: map[string]any{"name": ""}, status: http.StatusBadRequest},
		{name: "update invalid driftPolicy", method: http.MethodPut, path: env, body: map[string]any{"driftPolicy": "sometimes"}, status: http.StatusBadRequest},
		{name: "update invalid pattern", method: http.MethodPut, path: env, body: map[string]any{"scope": scope("include", "patterns", []string{"["})}, status: http.StatusBadRequest},
		{name: "update rename onto another in the org", method: http.MethodPut, path: "/api/v1/environments/" + other, body: map[string]any{"name": "prod", "orgSlug": "acme"}, status: http.StatusConflict},
		{name: "list page negative", method: http.MethodGet, path: envs + "?page=-1", status: http.StatusBadRequest},
		{name: "list size zero", method: http.MethodGet, path: envs + "?size=0", status: http.StatusBadRequest},
		{name: "list size not a number", method: http.MethodGet, path: envs + "?size=ten", status: http.StatusBadRequest},

		// Snapshots.
		{name: "snapshot malformed", method: http.MethodPost, path: env + "/snapshots", body: `{"recordedBy":"a","artifacts":[`, status: http.StatusBadRequest},
		{name: "snapshot empty body", method: http.MethodPost, path: env + "/snapshots", status: http.StatusBadRequest},
		{name: "snapshot without recordedBy", method: http.MethodPost, path: env + "/snapshots", body: map[string]any{"artifacts": []any{art}}, status: http.StatusBadRequest},
		{name: "snapshot blank recordedBy", method: http.MethodPost, path: env + "/snapshots", body: map[string]any{"recordedBy": " ", "artifacts": []any{art}}, status: http.StatusBadRequest},
		{name: "snapshot artifacts an object", method: http.MethodPost, path: env + "/snapshots", body: map[string]any{"recordedBy": "a", "artifacts": art}, status: http.StatusBadRequest},
		{name: "snapshot instanceCount a string", method: http.MethodPost, path: env + "/snapshots", body: snap(artWith("instanceCount", "two")), status: http.StatusBadRequest},
		{name: "snapshot negative instanceCount", method: http.MethodPost, path: env + "/snapshots", body: snap(artWith("instanceCount", -1)), status: http.StatusBadRequest},
		{name: "snapshot digest too short", method: http.MethodPost, path: env + "/snapshots", body: snap(art, artWith("artifactSha256", "sha256:abc")), status: http.StatusBadRequest},
		{name: "snapshot digest not hex", method: http.MethodPost, path: env + "/snapshots", body: snap(artWith("artifactSha256", "sha256:"+strings.Repeat("z", 64))), status: http.StatusBadRequest},
		{name: "snapshot digest of another algorithm", method: http.MethodPost, path: env + "/snapshots", body: snap(artWith("artifactSha256", "md5:"+strings.Repeat("a", 64))), status: http.StatusBadRequest},
		{name: "snapshot digest missing", method: http.MethodPost, path: env + "/snapshots", body: snap(artWith("artifactSha256", "")), status: http.StatusBadRequest},
		{name: "snapshot artifactName missing", method: http.MethodPost, path: env + "/snapshots", body: snap(artWith("artifactName", "")), status: http.StatusBadRequest},
		{name: "snapshot over the configured limit", method: http.MethodPost, path: env + "/snapshots", body: envOversizedSnapshot(t, envSnapshotLimit), status: http.StatusRequestEntityTooLarge},
		{name: "snapshot of unknown environment", method: http.MethodPost, path: envs + "/" + unknown + "/snapshots", body: snap(art), status: http.StatusNotFound},
		{name: "snapshot index 0", method: http.MethodGet, path: env + "/snapshots/0", status: http.StatusBadRequest},
		{name: "snapshot index not a number", method: http.MethodGet, path: env + "/snapshots/first", status: http.StatusBadRequest},
		{name: "snapshot index a fraction", method: http.MethodGet, path: env + "/snapshots/1.5", status: http.StatusBadRequest},
		{name: "snapshot index past the latest", method: http.MethodGet, path: env + "/snapshots/2", status: http.StatusNotFound},
		{name: "snapshot index before the first", method: http.MethodGet, path: env + "/snapshots/-2", status: http.StatusNotFound},
		{name: "latest snapshot of an environment without any", method: http.MethodGet, path: envs + "/" + bare + "/snapshots/latest", status: http.StatusNotFound},
		{name: "snapshot at without time", method: http.MethodGet, path: env + "/snapshots/at", status: http.StatusBadRequest},
		{name: "snapshot at a date", method: http.MethodGet, path: env + "/snapshots/at?time=2024-01-02", status: http.StatusBadRequest},
		{name: "snapshot at not a time", method: http.MethodGet, path: env + "/snapshots/at?time=yesterday", status: http.StatusBadRequest},
		{name: "snapshot at before the first", method: http.MethodGet, path: env + "/snapshots/at?time=2000-01-01T00:00:00Z", status: http.StatusNotFound},
		{name: "snapshot at centuries before the first", method: http.MethodGet, path: env + "/snapshots/at?time=1600-01-01T00:00:00Z", status: http.StatusNotFound},
		{name: "compliance without snapshots", method: http.MethodGet, path: envs + "/" + bare + "/compliance", status: http.StatusNotFound},

		// Diff.
		{name: "diff without from and to", method: http.MethodGet, path: env + "/diff", status: http.StatusBadRequest},
		{name: "diff without to", method: http.MethodGet, path: env + "/diff?from=1", status: http.StatusBadRequest},
		{name: "diff without from", method: http.MethodGet, path: env + "/diff?to=1", status: http.StatusBadRequest},
		{name: "diff from 0", method: http.MethodGet, path: env + "/diff?from=0&to=1", status: http.StatusBadRequest},
		{name: "diff to not a number", method: http.MethodGet, path: env + "/diff?from=1&to=last", status: http.StatusBadRequest},
		{name: "diff to an unknown snapshot", method: http.MethodGet, path: env + "/diff?from=1&to=7", status: http.StatusNotFound},
		{name: "diff from an unknown snapshot", method: http.MethodGet, path: env + "/diff?from=-5&to=1", status: http.StatusNotFound},

		// Baselines and drift.
		{name: "baseline malformed", method: http.MethodPost, path: env + "/baselines", body: `{"approvedBy"`, status: http.StatusBadRequest},
		{name: "baseline without approvedBy", method: http.MethodPost, path: env + "/baselines", body: map[string]any{"description": "release 7"}, status: http.StatusBadRequest},
		{name: "baseline blank approvedBy", method: http.MethodPost, path: env + "/baselines", body: map[string]any{"approvedBy": "  "}, status: http.StatusBadRequest},
		{name: "baseline approvedBy a number", method: http.MethodPost, path: env + "/baselines", body: map[string]any{"approvedBy": 7}, status: http.StatusBadRequest},
		{name: "baseline of another environment's snapshot", method: http.MethodPost, path: env + "/baselines", body: map[string]any{"approvedBy": "ops", "snapshotId": otherSnap}, status: http.StatusNotFound},
		{name: "baseline of an unknown snapshot", method: http.MethodPost, path: env + "/baselines", body: map[string]any{"approvedBy": "ops", "snapshotId": unknown}, status: http.StatusNotFound},
		{name: "current baseline when none", method: http.MethodGet, path: env + "/baselines/current", status: http.StatusNotFound},
		{name: "drift with no baseline", method: http.MethodGet, path: env + "/drift", status: http.StatusNotFound},
		{name: "drift check with no baseline", method: http.MethodPost, path: env + "/drift/check", status: http.StatusNotFound},
		{name: "drift of a baseline without a snapshot", method: http.MethodGet, path: envs + "/" + unapproved + "/drift", status: http.StatusNotFound},
		{name: "drift check of a baseline without a snapshot", method: http.MethodPost, path: envs + "/" + unapproved + "/drift/check", status: http.StatusNotFound},

		// Allow-list.
		{name: "allowlist malformed", method: http.MethodPost, path: env + "/allowlist", body: `{"sha256":1`, status: http.StatusBadRequest},
		{name: "allowlist neither sha256 nor namePattern", method: http.MethodPost, path: env + "/allowlist", body: map[string]any{"reason": "r", "approvedBy": "a"}, status: http.StatusBadRequest},
		{name: "allowlist empty sha256 and namePattern", method: http.MethodPost, path: env + "/allowlist", body: map[string]any{"sha256": "", "namePattern": "", "reason": "r", "approvedBy": "a"}, status: http.StatusBadRequest},
		{name: "allowlist invalid namePattern", method: http.MethodPost, path: env + "/allowlist", body: map[string]any{"namePattern": "api-(", "reason": "r", "approvedBy": "a"}, status: http.StatusBadRequest},
		{name: "allowlist malformed sha256", method: http.MethodPost, path: env + "/allowlist", body: map[string]any{"sha256": "sha256:xyz", "reason": "r", "approvedBy": "a"}, status: http.StatusBadRequest},
		{name: "allowlist without reason", method: http.MethodPost, path: env + "/allowlist", body: map[string]any{"namePattern": "api", "approvedBy": "a"}, status: http.StatusBadRequest},
		{name: "allowlist without approvedBy", method: http.MethodPost, path: env + "/allowlist", body: map[string]any{"namePattern": "api", "reason": "r"}, status: http.StatusBadRequest},
		{name: "allowlist expiresAt not a time", method: http.MethodPost, path: env + "/allowlist", body: map[string]any{"namePattern": "api", "reason": "r", "approvedBy": "a", "expiresAt": "tomorrow"}, status: http.StatusBadRequest},
		{name: "allowlist remove twice", method: http.MethodDelete, path: env + "/allowlist/" + removed, status: http.StatusConflict},
		{name: "allowlist remove unknown entry", method: http.MethodDelete, path: env + "/allowlist/" + unknown, status: http.StatusNotFound},
		{name: "allowlist remove through another environment", method: http.MethodDelete, path: envs + "/" + other + "/allowlist/" + entry, status: http.StatusNotFound},

		// Logical environments.
		{name: "logical malformed", method: http.MethodPost, path: logicals, body: `{"name":`, status: http.StatusBadRequest},
		{name: "logical missing name", method: http.MethodPost, path: logicals, body: map[string]any{"description": "d"}, status: http.StatusBadRequest},
		{name: "logical blank name", method: http.MethodPost, path: logicals, body: map[string]any{"name": " "}, status: http.StatusBadRequest},
		{name: "logical name a number", method: http.MethodPost, path: logicals, body: map[string]any{"name": 1}, status: http.StatusBadRequest},
		{name: "logical duplicate name", method: http.MethodPost, path: logicals, body: map[string]any{"name": "production"}, status: http.StatusConflict},
		{name: "logical update malformed", method: http.MethodPut, path: lenv, body: `nope`, status: http.StatusBadRequest},
		{name: "logical update null", method: http.MethodPut, path: lenv, body: `null`, status: http.StatusBadRequest},
		{name: "logical add unknown environment", method: http.MethodPost, path: lenv + "/members/" + unknown, status: http.StatusNotFound},
		{name: "logical add member twice", method: http.MethodPost, path: lenv + "/members/" + prod, status: http.StatusConflict},
		{name: "logical remove non-member", method: http.MethodDelete, path: lenv + "/members/" + other, status: http.StatusNotFound},
	}

	// Unknown ids on every {id} route.
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "", nil},
		{http.MethodPut, "", map[string]any{"description": "x"}},
		{http.MethodDelete, "", nil},
		{http.MethodPost, "/snapshots", snap(art)},
		{http.MethodGet, "/snapshots", nil},
		{http.MethodGet, "/snapshots/latest", nil},
		{http.MethodGet, "/snapshots/1", nil},
		{http.MethodGet, "/snapshots/-1", nil},
		{http.MethodGet, "/snapshots/at?time=" + url.QueryEscape(soon), nil},
		{http.MethodGet, "/compliance", nil},
		{http.MethodGet, "/diff?from=1&to=1", nil},
		{http.MethodPost, "/baselines", map[string]any{"approvedBy": "ops"}},
		{http.MethodGet, "/baselines/current", nil},
		{http.MethodGet, "/drift", nil},
		{http.MethodPost, "/drift/check", nil},
		{http.MethodGet, "/drift/history", nil},
		{http.MethodPost, "/allowlist", map[string]any{"namePattern": "api", "reason": "r", "approvedBy": "a"}},
		{http.MethodGet, "/allowlist", nil},
		{http.MethodDelete, "/allowlist/" + entry, nil},
	} {
		cases = append(cases, envBadCase{name: "unknown environment " + r.method + " " + r.path, method: r.method,
			path: envs + "/" + unknown + r.path, body: r.body, status: http.StatusNotFound})
	}
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "", nil},
		{http.MethodPut, "", map[string]any{"description": "x"}},
		{http.MethodDelete, "", nil},
		{http.MethodPost, "/members/" + prod, nil},
		{http.MethodDelete, "/members/" + prod, nil},
		{http.MethodGet, "/snapshots/latest", nil},
	} {
		cases = append(cases, envBadCase{name: "unknown logical environment " + r.method + " " + r.path, method: r.method,
			path: logicals + "/" + unknown + r.path, body: r.body, status: http.StatusNotFound})
	}

	prodBefore := n.ok(t, http.MethodGet, env, nil).json(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := n.ledgerSeqs(t)
			r := n.do(t, tc.method, tc.path, tc.body, tc.headers...)
			assert.Less(t, r.status, 500, "%s %s answered %d: %s", tc.method, tc.path, r.status, r.body)
			requireErrorBody(t, r, tc.status)
			assert.Equal(t, before, n.ledgerSeqs(t), "%s %s was refused but appended to the ledger", tc.method, tc.path)
		})
	}

	// Nothing refused above changed prod: same environment, one snapshot,
	// no baseline, two allow-list entries.
	assert.Equal(t, prodBefore, n.ok(t, http.MethodGet, env, nil).json(t))
	assert.Len(t, n.ok(t, http.MethodGet, env+"/snapshots", nil).list(t), 1)
	assert.Len(t, n.ok(t, http.MethodGet, env+"/allowlist", nil).list(t), 2)
	assert.Equal(t, []any{prod}, n.ok(t, http.MethodGet, lenv, nil).json(t)["members"])

	t.Run("accepted", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			body     map[string]any
			wantType string
		}{
			{"lower-case type", map[string]any{"name": "lower", "type": "k8s"}, "K8S"},
			{"mixed-case type", map[string]any{"name": "mixed", "type": "Cloud_Run"}, "CLOUD_RUN"},
			{"type with spaces", map[string]any{"name": "spaced", "type": " azure_apps "}, "AZURE_APPS"},
			{"taken name in another org", map[string]any{"name": "prod", "type": "ECS", "orgSlug": "beta"}, "ECS"},
			{"taken name without org", map[string]any{"name": "prod", "type": "LAMBDA"}, "LAMBDA"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := n.created(t, envs, tc.body)
				assert.Equal(t, tc.wantType, got["type"])
				assert.Equal(t, tc.body["name"], got["name"])
				assert.Equal(t, got, n.ok(t, http.MethodGet, envs+"/"+got["id"].(string), nil).json(t))
			})
		}
		// Just under the snapshot limit is accepted, though it is more
		// than any other route's limit would matter for.
		raw := envOversizedSnapshot(t, envSnapshotLimit-4<<10)
		require.Less(t, len(raw), envSnapshotLimit)
		got := n.created(t, env+"/snapshots", raw)
		assert.InDelta(t, 2, got["snapshotIndex"], 0)
	})
}

// FuzzEnvironmentBodies sends arbitrary bodies to the environment write
// routes: the answer is never a 5xx, and every 4xx carries the JSON error
// body.
func FuzzEnvironmentBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"prod","type":"k8s","driftPolicy":"block","scope":{"include":{"names":["a"],"patterns":["api-.*"]},"exclude":{"patterns":["(x"]}}}`,
		`{"recordedBy":"agent","artifacts":[{"artifactSha256":"sha256:` + strings.Repeat("ab", 32) + `","artifactName":"api","instanceCount":3}]}`,
		`{"recordedBy":"agent","artifacts":[{"artifactSha256":"nope","artifactName":""}]}`,
		`{"approvedBy":"ops","snapshotId":"x","description":"d"}`,
		`{"sha256":"` + strings.Repeat("AB", 32) + `","namePattern":"(?i)api","reason":"r","approvedBy":"a","expiresAt":"2000-01-01T00:00:00Z"}`,
		`{"name":"production","description":"\ud800"}`,
		`{"scope":{"include":{"patterns":["a{1001}"]}}}`, `{"artifacts":{}}`, `{"expiresAt":1}`,
		`[]`, `null`, `"str"`, `{`, ``, `{"name":"\u0000","type":"GENERIC"}`,
	} {
		for route := range uint8(6) {
			f.Add(seed, route)
		}
	}
	n := newEnvAPI(f)
	envID := n.environment(f, map[string]any{"name": "fuzzed", "type": "K8S", "scope": map[string]any{
		"include": map[string]any{"patterns": []string{"api-.*", "web"}}, "exclude": map[string]any{"names": []string{"api-debug"}},
	}})
	n.snapshot(f, envID, envArtifact("api-1", envDigest("api-1")))
	routes := []struct{ method, path string }{
		{http.MethodPost, "/api/v1/environments"},
		{http.MethodPut, "/api/v1/environments/" + envID},
		{http.MethodPost, "/api/v1/environments/" + envID + "/snapshots"},
		{http.MethodPost, "/api/v1/environments/" + envID + "/baselines"},
		{http.MethodPost, "/api/v1/environments/" + envID + "/allowlist"},
		{http.MethodPost, "/api/v1/logical-environments"},
	}
	f.Fuzz(func(t *testing.T, body string, route uint8) {
		rt := routes[int(route)%len(routes)]
		r := n.do(t, rt.method, rt.path, body)
		if r.status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, r.status, r.body)
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

func TestEnvironmentsHTTPLifecycle(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	created := n.created(t, "/api/v1/environments", map[string]any{"name": "prod-eu", "type": "k8s", "description": "EU cluster", "orgSlug": "acme"})
	id := created["id"].(string)
	assert.Equal(t, "K8S", created["type"])
	assert.Equal(t, "WARN", created["driftPolicy"], "the default drift policy")
	assert.Equal(t, map[string]any{
		"include": map[string]any{"names": []any{}, "patterns": []any{}},
		"exclude": map[string]any{"names": []any{}, "patterns": []any{}},
	}, created["scope"])
	assert.Equal(t, created, n.ok(t, http.MethodGet, "/api/v1/environments/"+id, nil).json(t))
	second := n.environment(t, map[string]any{"name": "prod-us", "type": "ECS"})
	third := n.environment(t, map[string]any{"name": "staging", "type": "GENERIC"})

	t.Run("paged list", func(t *testing.T) {
		for _, tc := range []struct {
			query                       string
			ids                         []string
			page, size, total, numPages float64
		}{
			{"", []string{id, second, third}, 0, 20, 3, 1},
			{"?size=2", []string{id, second}, 0, 2, 3, 2},
			{"?size=2&page=1", []string{third}, 1, 2, 3, 2},
			{"?size=2&page=5", []string{}, 5, 2, 3, 2},
		} {
			t.Run(tc.query, func(t *testing.T) {
				m := n.ok(t, http.MethodGet, "/api/v1/environments"+tc.query, nil).json(t)
				ids := []string{}
				for _, it := range m["items"].([]any) {
					ids = append(ids, it.(map[string]any)["id"].(string))
				}
				assert.Equal(t, tc.ids, ids)
				assert.InDelta(t, tc.page, m["page"], 0)
				assert.InDelta(t, tc.size, m["size"], 0)
				assert.InDelta(t, tc.total, m["totalItems"], 0)
				assert.InDelta(t, tc.numPages, m["totalPages"], 0)
			})
		}
	})

	t.Run("partial update", func(t *testing.T) {
		updated := n.ok(t, http.MethodPut, "/api/v1/environments/"+id, map[string]any{"driftPolicy": "block", "scope": map[string]any{
			"exclude": map[string]any{"names": []string{"debug"}},
		}}).json(t)
		assert.Equal(t, "BLOCK", updated["driftPolicy"])
		for _, k := range []string{"id", "name", "type", "description", "orgSlug", "createdAt"} {
			assert.Equal(t, created[k], updated[k], "%s is left unchanged", k)
		}
		assert.Equal(t, []any{"debug"}, updated["scope"].(map[string]any)["exclude"].(map[string]any)["names"])
		assert.Equal(t, updated, n.ok(t, http.MethodGet, "/api/v1/environments/"+id, nil).json(t))

		renamed := n.ok(t, http.MethodPut, "/api/v1/environments/"+id, map[string]any{"name": "prod-eu-1"}).json(t)
		assert.Equal(t, "prod-eu-1", renamed["name"])
		assert.Equal(t, "BLOCK", renamed["driftPolicy"], "the earlier update stays")
		// The old name is free again.
		n.environment(t, map[string]any{"name": "prod-eu", "type": "K8S", "orgSlug": "acme"})
	})

	t.Run("delete", func(t *testing.T) {
		r := n.do(t, http.MethodDelete, "/api/v1/environments/"+third, nil)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		assert.Empty(t, r.body)
		requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/environments/"+third, nil), http.StatusNotFound)
		requireErrorBody(t, n.do(t, http.MethodDelete, "/api/v1/environments/"+third, nil), http.StatusNotFound)
		requireErrorBody(t, n.do(t, http.MethodPost, "/api/v1/environments/"+third+"/snapshots",
			map[string]any{"recordedBy": "agent", "artifacts": []any{}}), http.StatusNotFound)
		list := n.ok(t, http.MethodGet, "/api/v1/environments?size=100", nil).json(t)
		assert.InDelta(t, 3, list["totalItems"], 0, "prod-eu-1, prod-us and the new prod-eu")
		// Its name can be used again.
		n.environment(t, map[string]any{"name": "staging", "type": "GENERIC"})
	})

	t.Run("audit lists environment creation", func(t *testing.T) {
		m := n.ok(t, http.MethodGet, "/api/v1/audit?eventType=ENVIRONMENT_CREATED&sortDesc=false&size=100", nil).json(t)
		assert.InDelta(t, 5, m["totalElements"], 0)
		events := m["events"].([]any)
		require.Len(t, events, 5)
		first := events[0].(map[string]any)
		assert.Equal(t, "ENVIRONMENT_CREATED", first["eventType"])
		assert.Equal(t, id, first["environmentId"])
		assert.Equal(t, "acme", first["org"])
		var payload map[string]any
		require.NoError(t, json.Unmarshal([]byte(first["payload"].(string)), &payload))
		assert.Equal(t, "prod-eu", payload["name"])
		deleted := n.ok(t, http.MethodGet, "/api/v1/audit?eventType=ENVIRONMENT_DELETED", nil).json(t)
		assert.InDelta(t, 1, deleted["totalElements"], 0)
		assert.Equal(t, third, deleted["events"].([]any)[0].(map[string]any)["environmentId"])
	})
}

func TestEnvironmentsHTTPScope(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	rules := func(names, patterns []string) map[string]any {
		return map[string]any{"names": names, "patterns": patterns}
	}
	reported := []string{"api", "api-v2", "my-api", "web", "web-debug", "worker", "db"}
	for _, tc := range []struct {
		name             string
		envType          string
		include, exclude map[string]any
		kept             []string
	}{
		{"no rules keep everything", "K8S", nil, nil, reported},
		{"include patterns match the whole name", "K8S", rules(nil, []string{"api", "web.*"}), nil,
			[]string{"api", "web", "web-debug"}},
		{"include names and patterns", "ECS", rules([]string{"db"}, []string{"api-v[0-9]+"}), nil,
			[]string{"api-v2", "db"}},
		{"exclude wins over include", "K8S", rules(nil, []string{"web.*", "api.*"}), rules([]string{"api"}, []string{".*-debug"}),
			[]string{"api-v2", "web"}},
		{"exclude alone", "LAMBDA", nil, rules([]string{"db"}, []string{"w.*"}),
			[]string{"api", "api-v2", "my-api"}},
		{"DOCKER uses names only", "DOCKER", rules([]string{"web", "db"}, []string{"api.*"}), rules(nil, []string{"d.*"}),
			[]string{"db", "web"}},
		{"DOCKER patterns alone include everything", "DOCKER", rules(nil, []string{"api"}), nil, reported},
		{"GENERIC ignores scope", "GENERIC", rules([]string{"api"}, nil), rules([]string{"web"}, []string{".*"}), reported},
		{"S3 ignores scope", "S3", rules(nil, []string{"nothing"}), nil, reported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scope := map[string]any{}
			if tc.include != nil {
				scope["include"] = tc.include
			}
			if tc.exclude != nil {
				scope["exclude"] = tc.exclude
			}
			id := n.environment(t, map[string]any{"name": tc.name, "type": tc.envType, "scope": scope})
			arts := make([]map[string]any, 0, len(reported))
			for _, name := range reported {
				arts = append(arts, envArtifact(name, envDigest(name)))
			}
			want := append([]string(nil), tc.kept...)
			sort.Strings(want)

			posted := n.snapshot(t, id, arts...)
			assert.Equal(t, want, envNames(t, posted["artifacts"]), "POST answer")
			assert.InDelta(t, len(reported)-len(tc.kept), posted["excluded"], 0, "POST answer")
			latest := n.ok(t, http.MethodGet, "/api/v1/environments/"+id+"/snapshots/latest", nil).json(t)
			assert.Equal(t, want, envNames(t, latest["artifacts"]), "GET latest")
			assert.InDelta(t, len(reported)-len(tc.kept), latest["excluded"], 0, "GET latest")
		})
	}
}

func TestEnvironmentsHTTPSnapshots(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	id := n.environment(t, map[string]any{"name": "prod", "type": "K8S"})
	base := "/api/v1/environments/" + id
	api1, api2, web, db, cache := envDigest("api 1"), envDigest("api 2"), envDigest("web"), envDigest("db"), envDigest("cache")

	upper := "sha256:" + strings.ToUpper(strings.TrimPrefix(api1, "sha256:"))
	first := n.snapshot(t, id, envArtifact("api", upper), envArtifact("web", web),
		map[string]any{"artifactSha256": strings.TrimPrefix(db, "sha256:"), "artifactName": " db ", "artifactTag": "15"})
	time.Sleep(20 * time.Millisecond)
	second := n.snapshot(t, id, envArtifact("api", api2), envArtifact("web", web), envArtifact("cache", cache))
	time.Sleep(20 * time.Millisecond)
	third := n.snapshot(t, id)

	t.Run("indexes count up from 1", func(t *testing.T) {
		for i, s := range []map[string]any{first, second, third} {
			assert.InDelta(t, i+1, s["snapshotIndex"], 0)
			assert.Equal(t, id, s["environmentId"])
			assert.Equal(t, "cluster-agent", s["recordedBy"])
		}
		other := n.environment(t, map[string]any{"name": "other", "type": "K8S"})
		assert.InDelta(t, 1, n.snapshot(t, other)["snapshotIndex"], 0, "each environment counts on its own")
	})

	t.Run("artifacts are normalised", func(t *testing.T) {
		byName := envByName(t, first["artifacts"])
		assert.Equal(t, api1, byName["api"]["artifactSha256"], "digest lower-cased")
		assert.Equal(t, db, byName["db"]["artifactSha256"], "bare hex gets the sha256: prefix")
		assert.InDelta(t, 1, byName["db"]["instanceCount"], 0, "instanceCount defaults to 1")
		assert.InDelta(t, 2, byName["web"]["instanceCount"], 0)
	})

	t.Run("by index", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want map[string]any
		}{
			{"/snapshots/1", first},
			{"/snapshots/2", second},
			{"/snapshots/3", third},
			{"/snapshots/latest", third},
			{"/snapshots/-1", third},
			{"/snapshots/-2", second},
			{"/snapshots/-3", first},
		} {
			t.Run(tc.path, func(t *testing.T) {
				got := n.ok(t, http.MethodGet, base+tc.path, nil).json(t)
				assert.Equal(t, tc.want["id"], got["id"])
				assert.Equal(t, tc.want["snapshotIndex"], got["snapshotIndex"])
				assert.Equal(t, envNames(t, tc.want["artifacts"]), envNames(t, got["artifacts"]))
			})
		}
		list := n.ok(t, http.MethodGet, base+"/snapshots", nil).list(t)
		require.Len(t, list, 3)
		for i, s := range list {
			assert.InDelta(t, i+1, s["snapshotIndex"], 0, "oldest first")
		}
	})

	t.Run("at a time", func(t *testing.T) {
		at := func(s map[string]any, d time.Duration) string {
			ts, err := time.Parse(time.RFC3339Nano, s["recordedAt"].(string))
			require.NoError(t, err)
			return url.QueryEscape(ts.Add(d).Format(time.RFC3339Nano))
		}
		for _, tc := range []struct {
			name, time string
			want       map[string]any
		}{
			{"exactly the first", at(first, 0), first},
			{"between the first and second", at(first, 10*time.Millisecond), first},
			{"just before the third", at(third, -time.Millisecond), second},
			{"long after", at(third, time.Hour), third},
			{"in the year 9999", "9999-01-01T00:00:00Z", third},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := n.ok(t, http.MethodGet, base+"/snapshots/at?time="+tc.time, nil).json(t)
				assert.Equal(t, tc.want["snapshotIndex"], got["snapshotIndex"])
				assert.Equal(t, tc.want["id"], got["id"])
			})
		}
	})

	t.Run("diff", func(t *testing.T) {
		d := n.ok(t, http.MethodGet, base+"/diff?from=1&to=2", nil).json(t)
		assert.Equal(t, id, d["environmentId"])
		assert.InDelta(t, 1, d["fromSnapshotIndex"], 0)
		assert.InDelta(t, 2, d["toSnapshotIndex"], 0)
		entry := func(name, tag string, from, to any) map[string]any {
			return map[string]any{"artifactName": name, "artifactTag": tag, "sha256From": from, "sha256To": to}
		}
		assert.Equal(t, []any{entry("cache", "1.0", nil, cache)}, d["added"])
		assert.Equal(t, []any{entry("db", "15", db, nil)}, d["removed"])
		assert.Equal(t, []any{entry("api", "1.0", api1, api2)}, d["updated"])
		assert.Equal(t, []any{entry("web", "1.0", web, web)}, d["unchanged"])

		same := n.ok(t, http.MethodGet, base+"/diff?from=-3&to=-2", nil).json(t)
		assert.Equal(t, d, same, "negative indexes count back from the latest")

		toEmpty := n.ok(t, http.MethodGet, base+"/diff?from=2&to=3", nil).json(t)
		assert.Equal(t, []string{"api", "cache", "web"}, envNames(t, toEmpty["removed"]))
		assert.Empty(t, toEmpty["added"])
	})
}

// TestEnvironmentsHTTPLargeSnapshot checks that a snapshot well over the
// 1 MiB JSON limit of the other routes is accepted under the default
// snapshot limit (16 MiB): large clusters report thousands of workloads.
func TestEnvironmentsHTTPLargeSnapshot(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	id := n.environment(t, map[string]any{"name": "big", "type": "K8S"})
	raw, err := json.Marshal(envSnapshotBody(10000))
	require.NoError(t, err)
	require.Greater(t, len(raw), 1<<20)
	posted := n.created(t, "/api/v1/environments/"+id+"/snapshots", raw)
	assert.Len(t, posted["artifacts"], 10000)
	latest := n.ok(t, http.MethodGet, "/api/v1/environments/"+id+"/snapshots/latest", nil).json(t)
	assert.Len(t, latest["artifacts"], 10000)
	assert.Equal(t, posted["id"], latest["id"])
}

func TestEnvironmentsHTTPAllowlist(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	id := n.environment(t, map[string]any{"name": "prod", "type": "K8S"})
	path := "/api/v1/environments/" + id + "/allowlist"
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	digest := envDigest("hotfix")

	for _, tc := range []struct {
		name      string
		body      map[string]any
		effective bool
	}{
		{"by digest", map[string]any{"sha256": strings.ToUpper(strings.TrimPrefix(digest, "sha256:")), "reason": "hotfix", "approvedBy": "sec"}, true},
		{"by pattern until tomorrow", map[string]any{"namePattern": "^debug-", "reason": "triage", "approvedBy": "sec", "expiresAt": future}, true},
		{"expired", map[string]any{"namePattern": "legacy", "reason": "old", "approvedBy": "sec", "expiresAt": past}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := n.created(t, path, tc.body)
			assert.Equal(t, tc.effective, got["isEffective"])
			assert.Equal(t, "ACTIVE", got["status"])
			assert.Equal(t, id, got["environmentId"])
		})
	}

	list := n.ok(t, http.MethodGet, path, nil).list(t)
	require.Len(t, list, 3)
	assert.Equal(t, digest, list[0]["sha256"], "the digest is normalised")
	assert.Equal(t, []any{true, true, false}, []any{list[0]["isEffective"], list[1]["isEffective"], list[2]["isEffective"]})

	removed := n.ok(t, http.MethodDelete, path+"/"+list[1]["id"].(string), nil).json(t)
	assert.Equal(t, "REMOVED", removed["status"])
	assert.Equal(t, false, removed["isEffective"])
	assert.NotEmpty(t, removed["removedAt"])

	after := n.ok(t, http.MethodGet, path, nil).list(t)
	require.Len(t, after, 3, "removed entries are still listed")
	statuses := map[string]string{}
	for _, e := range after {
		statuses[e["id"].(string)] = e["status"].(string)
	}
	assert.Equal(t, map[string]string{
		list[0]["id"].(string): "ACTIVE", list[1]["id"].(string): "REMOVED", list[2]["id"].(string): "ACTIVE",
	}, statuses)
	requireErrorBody(t, n.do(t, http.MethodDelete, path+"/"+list[1]["id"].(string), nil), http.StatusConflict)
}

func TestEnvironmentsHTTPDrift(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	api, web, extra := envDigest("api"), envDigest("web"), envDigest("extra")

	// newDrifted is an environment whose baseline runs api and web and
	// whose latest snapshot adds extra.
	newDrifted := func(t *testing.T, name, policy string) string {
		t.Helper()
		id := n.environment(t, map[string]any{"name": name, "type": "K8S", "driftPolicy": policy})
		n.snapshot(t, id, envArtifact("api", api), envArtifact("web", web))
		n.created(t, "/api/v1/environments/"+id+"/baselines", map[string]any{"approvedBy": "ops"})
		n.snapshot(t, id, envArtifact("api", api), envArtifact("web", web), envArtifact("extra", extra))
		return id
	}

	t.Run("policies", func(t *testing.T) {
		for _, tc := range []struct {
			policy             string
			hasDrift, blocking bool
		}{
			{"IGNORE", false, false},
			{"WARN", true, false},
			{"BLOCK", true, true},
		} {
			t.Run(tc.policy, func(t *testing.T) {
				id := newDrifted(t, "policy-"+tc.policy, tc.policy)
				d := n.ok(t, http.MethodGet, "/api/v1/environments/"+id+"/drift", nil).json(t)
				assert.Equal(t, tc.hasDrift, d["hasDrift"])
				assert.Equal(t, tc.blocking, d["blocking"])
				assert.Equal(t, tc.policy, d["driftPolicy"])
				assert.Equal(t, []string{"extra"}, envNames(t, d["added"]))
			})
		}
	})

	t.Run("check records, GET does not", func(t *testing.T) {
		id := newDrifted(t, "recorded", "WARN")
		base := "/api/v1/environments/" + id
		before := n.ledgerSeqs(t)
		d := n.ok(t, http.MethodGet, base+"/drift", nil).json(t)
		assert.Equal(t, true, d["hasDrift"])
		assert.Equal(t, before, n.ledgerSeqs(t), "GET drift appended to the ledger")
		assert.Empty(t, n.ok(t, http.MethodGet, base+"/drift/history", nil).list(t))

		checked := n.created(t, base+"/drift/check", nil)
		after := n.ledgerSeqs(t)
		assert.InDelta(t, before[0]+1, after[0], 0, "a drift check is one event")
		assert.Equal(t, true, checked["hasDrift"])
		assert.Equal(t, []string{"extra"}, envNames(t, checked["added"]))
		history := n.ok(t, http.MethodGet, base+"/drift/history", nil).list(t)
		require.Len(t, history, 1)
		assert.Equal(t, checked["id"], history[0]["id"])
		assert.Equal(t, true, history[0]["hasDrift"])
		assert.Len(t, history[0]["added"], 1)

		audit := n.ok(t, http.MethodGet, "/api/v1/audit?eventType=ENVIRONMENT_DRIFT_CHECKED", nil).json(t)
		assert.InDelta(t, 1, audit["totalElements"], 0)
	})

	t.Run("allow-list excuses drift until it expires", func(t *testing.T) {
		id := newDrifted(t, "allowed", "BLOCK")
		base := "/api/v1/environments/" + id
		n.created(t, base+"/allowlist", map[string]any{"sha256": extra, "reason": "canary", "approvedBy": "sec",
			"expiresAt": time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)})
		d := n.ok(t, http.MethodGet, base+"/drift", nil).json(t)
		assert.Equal(t, false, d["hasDrift"])
		assert.Equal(t, false, d["blocking"])
		assert.Empty(t, d["added"])
		assert.Equal(t, []string{"extra"}, envNames(t, d["allowed"]))

		require.Eventually(t, func() bool {
			d := n.ok(t, http.MethodGet, base+"/drift", nil).json(t)
			return d["hasDrift"] == true && d["blocking"] == true
		}, 10*time.Second, 100*time.Millisecond, "the drift comes back once the entry expires")
	})
}

func TestEnvironmentsHTTPRunningCompliance(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	open := n.flow(t, "open")
	strict := n.flow(t, "strict", "junit")
	good, bad, unreported, excused := envDigest("good"), envDigest("bad"), envDigest("unreported"), envDigest("excused")
	n.report(t, open, "good", good)
	n.report(t, strict, "bad", bad)

	id := n.environment(t, map[string]any{"name": "prod", "type": "K8S"})
	base := "/api/v1/environments/" + id
	n.created(t, base+"/allowlist", map[string]any{"namePattern": "excused", "reason": "vendor image", "approvedBy": "sec"})
	snap := n.snapshot(t, id, envArtifact("good", good), envArtifact("bad", bad),
		envArtifact("unreported", unreported), envArtifact("excused", excused))

	t.Run("snapshot artifacts carry provenance", func(t *testing.T) {
		v := n.ok(t, http.MethodGet, base+"/snapshots/latest", nil).json(t)
		assert.Equal(t, false, v["compliant"])
		arts := envByName(t, v["artifacts"])
		for _, tc := range []struct {
			name, status string
			allowlisted  bool
			flow         string
		}{
			{"good", "COMPLIANT", false, "open"},
			{"bad", "NON_COMPLIANT", false, "strict"},
			{"unreported", "UNKNOWN", false, ""},
			{"excused", "UNKNOWN", true, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := arts[tc.name]
				require.NotNil(t, a)
				assert.Equal(t, tc.status, a["complianceStatus"])
				assert.Equal(t, tc.allowlisted, a["allowlisted"])
				if tc.flow == "" {
					assert.Equal(t, "UNKNOWN", a["provenance"])
					return
				}
				prov, ok := a["provenance"].([]any)
				require.True(t, ok, "provenance %v", a["provenance"])
				require.Len(t, prov, 1)
				assert.Equal(t, tc.flow, prov[0].(map[string]any)["flowName"])
				assert.Equal(t, tc.status, prov[0].(map[string]any)["status"])
			})
		}
	})

	t.Run("compliance summary", func(t *testing.T) {
		c := n.ok(t, http.MethodGet, base+"/compliance", nil).json(t)
		assert.Equal(t, snap["id"], c["snapshotId"])
		assert.Equal(t, "NON_COMPLIANT", c["complianceStatus"])
		assert.InDelta(t, 4, c["total"], 0)
		assert.InDelta(t, 1, c["compliant"], 0)
		assert.InDelta(t, 1, c["nonCompliant"], 0)
		assert.InDelta(t, 2, c["unknown"], 0)
		assert.InDelta(t, 1, c["allowlisted"], 0)
		assert.Equal(t, []string{"bad", "unreported"}, envNames(t, c["offenders"]))
	})

	t.Run("compliant once every offender is fixed", func(t *testing.T) {
		n.snapshot(t, id, envArtifact("good", good), envArtifact("excused", excused))
		c := n.ok(t, http.MethodGet, base+"/compliance", nil).json(t)
		assert.Equal(t, "COMPLIANT", c["complianceStatus"])
		assert.Empty(t, c["offenders"])
		assert.InDelta(t, 1, c["allowlisted"], 0)
	})
}

func TestEnvironmentsHTTPLogical(t *testing.T) {
	t.Parallel()
	n := newEnvAPI(t)
	open := n.flow(t, "open")
	good, vendor, stray := envDigest("good"), envDigest("vendor"), envDigest("stray")
	n.report(t, open, "good", good)

	eu := n.environment(t, map[string]any{"name": "prod-eu", "type": "K8S"})
	us := n.environment(t, map[string]any{"name": "prod-us", "type": "ECS"})
	empty := n.environment(t, map[string]any{"name": "prod-ap", "type": "K8S"})
	rogue := n.environment(t, map[string]any{"name": "prod-sa", "type": "K8S"})
	n.snapshot(t, eu, envArtifact("good", good))
	n.created(t, "/api/v1/environments/"+us+"/allowlist", map[string]any{"sha256": vendor, "reason": "vendor", "approvedBy": "sec"})
	n.snapshot(t, us, envArtifact("good", good), envArtifact("vendor", vendor))
	n.snapshot(t, rogue, envArtifact("good", good), envArtifact("stray", stray))

	created := n.created(t, "/api/v1/logical-environments", map[string]any{"name": "production", "description": "all regions"})
	id := created["id"].(string)
	base := "/api/v1/logical-environments/" + id
	assert.Equal(t, []any{}, created["members"])
	member := func(t *testing.T, method, envID string) {
		t.Helper()
		n.ok(t, method, base+"/members/"+envID, nil)
	}
	latest := func(t *testing.T) map[string]any {
		t.Helper()
		return n.ok(t, http.MethodGet, base+"/snapshots/latest", nil).json(t)
	}

	member(t, http.MethodPost, eu)
	member(t, http.MethodPost, us)
	assert.Equal(t, []any{eu, us}, n.ok(t, http.MethodGet, base, nil).json(t)["members"])

	for _, tc := range []struct {
		name    string
		method  string
		envID   string
		status  string
		members []string
	}{
		{"members run only compliant or allow-listed artifacts", "", "", "COMPLIANT", []string{eu, us}},
		{"a member without a snapshot", http.MethodPost, empty, "NON_COMPLIANT", []string{eu, us, empty}},
		{"that member removed", http.MethodDelete, empty, "COMPLIANT", []string{eu, us}},
		{"a member running an unknown artifact", http.MethodPost, rogue, "NON_COMPLIANT", []string{eu, us, rogue}},
		{"that member removed too", http.MethodDelete, rogue, "COMPLIANT", []string{eu, us}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.method != "" {
				member(t, tc.method, tc.envID)
			}
			l := latest(t)
			assert.Equal(t, id, l["logicalEnvId"])
			assert.Equal(t, "production", l["logicalEnvName"])
			assert.Equal(t, tc.status, l["complianceStatus"])
			got := []string{}
			for _, m := range l["memberSnapshots"].([]any) {
				got = append(got, m.(map[string]any)["environmentId"].(string))
			}
			assert.Equal(t, tc.members, got)
		})
	}

	t.Run("merged artifacts name their environment", func(t *testing.T) {
		l := latest(t)
		type placed struct{ env, name, status string }
		var got []placed
		for _, a := range l["mergedArtifacts"].([]any) {
			m := a.(map[string]any)
			got = append(got, placed{m["environmentId"].(string), m["artifactName"].(string), m["complianceStatus"].(string)})
		}
		assert.ElementsMatch(t, []placed{{eu, "good", "COMPLIANT"}, {us, "good", "COMPLIANT"}, {us, "vendor", "UNKNOWN"}}, got)
	})

	t.Run("update and delete", func(t *testing.T) {
		updated := n.ok(t, http.MethodPut, base, map[string]any{"description": "EU and US"}).json(t)
		assert.Equal(t, "production", updated["name"], "a partial update keeps the name")
		assert.Equal(t, "EU and US", updated["description"])
		assert.Equal(t, []any{eu, us}, updated["members"])
		r := n.do(t, http.MethodDelete, base, nil)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		requireErrorBody(t, n.do(t, http.MethodGet, base, nil), http.StatusNotFound)
		requireErrorBody(t, n.do(t, http.MethodGet, base+"/snapshots/latest", nil), http.StatusNotFound)
		assert.Empty(t, n.ok(t, http.MethodGet, "/api/v1/logical-environments", nil).list(t))
	})
}
