package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKosliSnapshotInstances: what `kosli snapshot k8s` and `snapshot ecs`
// report of each instance (its start time, its pod or task) comes back in
// the snapshot as Kosli presents it: creationTimestamp with one entry per
// instance, pods by name for K8S, ecs_context for ECS, and an annotation
// saying how the instances changed since the previous snapshot, what
// exited included. A change of instance count alone makes no new
// snapshot; a new digest does.
func TestKosliSnapshotInstances(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	require.Equal(t, http.StatusCreated, n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme"}).status)
	kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme", map[string]any{"name": "prod", "type": "K8S"})
	kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme", map[string]any{"name": "tasks", "type": "ECS"})
	web, api, api2 := strings.Repeat("1a", 32), strings.Repeat("2b", 32), strings.Repeat("3c", 32)
	owners := []map[string]any{{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "3b1", "controller": true}}
	pod := func(name string, created int64, digests map[string]string) map[string]any {
		return map[string]any{"podName": name, "namespace": "shop", "creationTimestamp": created, "digests": digests, "owners": owners}
	}
	report := func(env, typ string, entries ...map[string]any) {
		kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme/"+env+"/report/"+typ, map[string]any{"artifacts": entries})
	}
	snapshot := func(env, id string) map[string]map[string]any {
		r := n.do(t, http.MethodGet, "/api/v2/snapshots/acme/"+env+"/"+id, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		byName := map[string]map[string]any{}
		for _, a := range r.json(t)["artifacts"].([]any) {
			m := a.(map[string]any)
			byName[m["name"].(string)] = m
		}
		return byName
	}

	// Two pods run web, one of them api as well.
	report("prod", "K8S",
		pod("web-a", 1767225600, map[string]string{"shop/web:1": web}),
		pod("web-b", 1767225660, map[string]string{"shop/web:1": web, "shop/api:1": api}))
	first := snapshot("prod", "-1")
	require.Len(t, first, 2)
	w := first["shop/web:1"]
	assert.EqualValues(t, 2, w["instance_count"])
	assert.Equal(t, []any{1767225600.0, 1767225660.0}, w["creationTimestamp"])
	assert.Equal(t, map[string]any{
		"web-a": map[string]any{"namespace": "shop", "creationTimestamp": 1767225600.0, "owners": []any{map[string]any{
			"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "3b1", "controller": true}}},
		"web-b": map[string]any{"namespace": "shop", "creationTimestamp": 1767225660.0, "owners": []any{map[string]any{
			"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "3b1", "controller": true}}},
	}, w["pods"])
	assert.Equal(t, map[string]any{"type": "started-non-compliant", "was": 0.0, "now": 2.0}, w["annotation"],
		"no flow vouches for web, so it started non-compliant")
	assert.Equal(t, []any{1767225660.0}, first["shop/api:1"]["creationTimestamp"])
	assert.NotContains(t, w, "ecs_context")

	// A third web pod alone is no new snapshot.
	report("prod", "K8S",
		pod("web-a", 1767225600, map[string]string{"shop/web:1": web}),
		pod("web-b", 1767225660, map[string]string{"shop/web:1": web, "shop/api:1": api}),
		pod("web-c", 1767225720, map[string]string{"shop/web:1": web}))
	assert.Len(t, snapshot("prod", "-1")["shop/web:1"]["creationTimestamp"], 2, "a count change alone is not a snapshot")

	// A new api digest is: web grew from 2 to 3, api is new, api:1 left.
	report("prod", "K8S",
		pod("web-a", 1767225600, map[string]string{"shop/web:1": web}),
		pod("web-b", 1767225660, map[string]string{"shop/web:1": web}),
		pod("web-c", 1767225720, map[string]string{"shop/web:1": web, "shop/api:2": api2}))
	second := snapshot("prod", "-1")
	assert.Equal(t, map[string]any{"type": "changed", "was": 2.0, "now": 3.0}, second["shop/web:1"]["annotation"])
	assert.Equal(t, map[string]any{"type": "started-non-compliant", "was": 0.0, "now": 1.0}, second["shop/api:2"]["annotation"])
	assert.Equal(t, map[string]any{"type": "exited", "was": 1.0, "now": 0.0}, second["shop/api:1"]["annotation"],
		"what ran before stays listed as exited")
	assert.Nil(t, second["shop/api:1"]["compliant"])
	assert.EqualValues(t, 0, second["shop/api:1"]["instance_count"])
	assert.Len(t, second["shop/web:1"]["pods"], 3)
	// The earlier snapshot is as it was.
	assert.Equal(t, first["shop/web:1"]["pods"], snapshot("prod", "1")["shop/web:1"]["pods"])

	// ECS: the first task's context; pods is null.
	report("tasks", "ECS",
		map[string]any{"taskArn": "arn:aws:ecs:eu-west-1:1:task/app/8d3e", "cluster_name": "app", "service_name": "web",
			"digests": map[string]string{"acme/web:1": web}, "creationTimestamp": 1767225600},
		map[string]any{"taskArn": "arn:aws:ecs:eu-west-1:1:task/app/9f4a", "cluster_name": "app", "service_name": "web",
			"digests": map[string]string{"acme/web:1": web}, "creationTimestamp": 1767225601})
	task := snapshot("tasks", "-1")["acme/web:1"]
	assert.Equal(t, map[string]any{"task_arn": "arn:aws:ecs:eu-west-1:1:task/app/8d3e", "cluster_name": "app", "service_name": "web"}, task["ecs_context"])
	assert.Nil(t, task["pods"])
	assert.Equal(t, []any{1767225600.0, 1767225601.0}, task["creationTimestamp"])
	assert.EqualValues(t, 2, task["instance_count"])
}

// TestKosliUnchangedDefinitionsAppendNothing: pipelines run `kosli create
// flow` and `kosli create environment` on every build; when the definition
// has not changed, nothing is appended, and a changed one is recorded.
func TestKosliUnchangedDefinitionsAppendNothing(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	require.Equal(t, http.StatusCreated, n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme"}).status)
	flow := map[string]any{"name": "svc", "description": "the service", "template": []string{"artifact", "junit"}}
	env := map[string]any{"name": "prod", "type": "K8S", "description": "production"}
	kosliJSON(t, n, http.MethodPut, "/api/v2/flows/acme", flow)
	kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme", env)
	head := n.head(t)
	for range 3 {
		kosliJSON(t, n, http.MethodPut, "/api/v2/flows/acme", flow)
		kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme", env)
	}
	assert.Equal(t, head, n.head(t), "unchanged definitions append nothing")

	flow["template"] = []string{"artifact", "junit", "snyk"}
	kosliJSON(t, n, http.MethodPut, "/api/v2/flows/acme", flow)
	env["description"] = "production, EU"
	kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme", env)
	assert.Equal(t, head+2, n.head(t), "each change is one event")
	r := n.do(t, http.MethodGet, "/api/v1/organisations/acme/flows", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), `"snyk"`)
}
