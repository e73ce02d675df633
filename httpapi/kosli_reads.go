package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
	"github.com/factstore/factstore/policy/envpolicy"
	"github.com/factstore/factstore/projections"
)

// kosliState is Kosli's spelling of a compliance status.
func kosliState(status string) string {
	switch status {
	case domain.TrailCompliant:
		return "COMPLIANT"
	case domain.TrailNonCompliant:
		return "NON-COMPLIANT"
	}
	return "INCOMPLETE"
}

func unixSeconds(t string) float64 {
	e := ledger.Envelope{Time: t}
	return float64(e.OccurredAt().UnixNano()) / 1e9
}

// kosliTrail is a trail as `kosli get trail` reads it.
func kosliTrail(t *domain.Trail, flowName string, events []*ledger.Envelope) map[string]any {
	out := map[string]any{
		"name": t.Name, "flow_name": flowName, "id": t.ID, "compliance_state": kosliState(t.Status),
		"is_compliant": t.Status == domain.TrailCompliant, "last_modified_at": float64(t.UpdatedAt.UnixNano()) / 1e9,
		"created_at": float64(t.CreatedAt.UnixNano()) / 1e9, "description": "",
	}
	if t.Description != nil {
		out["description"] = *t.Description
	}
	for k, v := range t.Extra {
		out[k] = v
	}
	if t.GitCommitSha != "" && t.Extra["git_commit_info"] == nil {
		out["git_commit_info"] = map[string]any{"sha1": t.GitCommitSha, "author": t.GitAuthor, "message": "", "timestamp": 0, "branch": t.GitBranch}
	}
	evs := []map[string]any{}
	slotOf := map[string]string{} // artifact digest -> its template name
	for _, e := range events {
		ev := map[string]any{"timestamp": unixSeconds(e.Time), "user": e.Actor}
		switch e.Type {
		case domain.EventTrailStarted:
			ev["type"] = "trail_reported"
		case domain.EventTrailUpdated:
			ev["type"] = "trail_updated"
		case domain.EventArtifactReported:
			var a domain.Artifact
			_ = json.Unmarshal(e.Data, &a)
			ev["type"], ev["artifact_name"], ev["fingerprint"] = "artifact_creation_reported", a.ImageName, strings.TrimPrefix(a.Sha256Digest, "sha256:")
			ev["template_reference_name"] = a.Fact().Name
			slotOf[a.Sha256Digest] = a.Fact().Name
		case domain.EventAttestationRecorded:
			var a domain.Attestation
			_ = json.Unmarshal(e.Data, &a)
			ev["type"], ev["attestation_type"], ev["attestation_id"], ev["is_compliant"] = "trail_attestation_reported", a.Type, a.ID, a.Compliant
			name := a.Type
			if a.Name != nil {
				name = *a.Name
			}
			// The CLI prints "<target>.<template_reference_name>".
			ev["attestation_name"], ev["template_reference_name"] = name, name
			if a.ArtifactFingerprint != nil {
				ev["type"], ev["artifact_fingerprint"] = "artifact_attestation_reported", strings.TrimPrefix(*a.ArtifactFingerprint, "sha256:")
				ev["target_artifact"] = slotOf[*a.ArtifactFingerprint]
			} else if len(a.TargetArtifacts) > 0 {
				ev["type"], ev["target_artifact"] = "trail_attestation_for_artifact_reported", a.TargetArtifacts[0]
			}
		default:
			continue
		}
		evs = append(evs, ev)
	}
	out["events"] = evs
	return out
}

func (s *Server) kosliGetTrail(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if _, err := s.cfg.Store.Organisation(v["org"]); err != nil {
		writeKosliError(w, r, err)
		return
	}
	flow, err := s.cfg.Store.FlowByName(v["org"], v["flow"])
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	t, err := s.cfg.Store.TrailByName(flow.ID, v["trail"])
	if err != nil {
		if t2, err2 := s.cfg.Store.Trail(v["trail"]); err2 == nil && t2.FlowID == flow.ID {
			t, err = t2, nil
		}
	}
	if err != nil {
		writeKosliError(w, r, fmt.Errorf("%w: trail with name '%s' does not exist in flow '%s'", domain.ErrNotFound, v["trail"], v["flow"]))
		return
	}
	events, err := s.cfg.Store.TrailEvents(t.ID)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, kosliTrail(t, flow.Name, events))
}

func (s *Server) kosliListTrails(w http.ResponseWriter, r *http.Request) {
	org := mux.Vars(r)["org"]
	if _, err := s.cfg.Store.Organisation(org); err != nil {
		writeKosliError(w, r, err)
		return
	}
	page, err := intParam(r, "page", 1, 1, 1<<30)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	perPage, err := intParam(r, "per_page", 20, 1, 100)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	var flows []domain.Flow
	if name := r.URL.Query().Get("flow"); name != "" {
		f, ferr := s.cfg.Store.FlowByName(org, name)
		if ferr != nil {
			writeKosliError(w, r, ferr)
			return
		}
		flows = []domain.Flow{*f}
	} else if flows, err = s.cfg.Store.Flows(org); err != nil {
		writeKosliError(w, r, err)
		return
	}
	var trails []domain.Trail
	names := map[string]string{}
	for _, f := range flows {
		names[f.ID] = f.Name
		ts, err := s.cfg.Store.Trails(f.ID)
		if err != nil {
			writeKosliError(w, r, err)
			return
		}
		trails = append(trails, ts...)
	}
	if fp := r.URL.Query().Get("fingerprint"); fp != "" {
		d, ok := domain.NormalizeDigest(fp)
		if !ok {
			writeKosliError(w, r, domain.Invalid("fingerprint", "must be 64 hex digits"))
			return
		}
		arts, err := s.cfg.Store.ArtifactsByDigest(d)
		if err != nil {
			writeKosliError(w, r, err)
			return
		}
		has := map[string]bool{}
		for _, a := range arts {
			has[a.TrailID] = true
		}
		trails = filterTrails(trails, func(t domain.Trail) bool { return has[t.ID] })
	}
	// Newest first, as Kosli lists them.
	sort.SliceStable(trails, func(i, j int) bool { return trails[i].CreatedAt.After(trails[j].CreatedAt) })
	data := []map[string]any{}
	for i := (page - 1) * perPage; i < len(trails) && len(data) < perPage; i++ {
		t := trails[i]
		data = append(data, kosliTrail(&t, names[t.FlowID], nil))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "pagination": map[string]any{
		"page": page, "per_page": perPage, "page_count": totalPages(len(trails), perPage), "total": len(trails)}})
}

func filterTrails(ts []domain.Trail, keep func(domain.Trail) bool) []domain.Trail {
	out := ts[:0]
	for _, t := range ts {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// kosliEnvironment answers GET /api/v2/environments/{org}/{env}: 404 when
// absent (the CLI's --auto-environment creates it then).
func (s *Server) kosliGetEnvironment(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if _, err := s.cfg.Store.Organisation(v["org"]); err != nil {
		writeKosliError(w, r, err)
		return
	}
	e, err := s.cfg.Store.EnvironmentByName(v["org"], v["env"])
	if err != nil {
		for _, l := range s.logicalByName(v["env"]) {
			writeJSON(w, http.StatusOK, map[string]any{"name": l.Name, "type": "logical", "description": l.Description, "id": l.ID})
			return
		}
		writeKosliError(w, r, fmt.Errorf("%w: environment named '%s' does not exist for organization '%s'", domain.ErrNotFound, v["env"], v["org"]))
		return
	}
	policies, _ := s.cfg.Store.EnvironmentPolicies(e.ID)
	writeJSON(w, http.StatusOK, map[string]any{"name": e.Name, "type": kosliTypeOf(e.Type), "description": e.Description,
		"id": e.ID, "policies": policies, "last_modified_at": float64(e.UpdatedAt.UnixNano()) / 1e9})
}

func (s *Server) logicalByName(name string) []domain.LogicalEnvironment {
	all, _ := s.cfg.Store.LogicalEnvironments()
	var out []domain.LogicalEnvironment
	for _, l := range all {
		if l.Name == name {
			out = append(out, l)
		}
	}
	return out
}

// policyContexts builds, for one digest, the (flow, trail) contexts a
// Kosli policy is evaluated in.
func policyContexts(trails []projections.DigestTrail, digest string) (artifactName string, ctxs []envpolicy.Context) {
	for _, dt := range trails {
		a := domain.Assert(domain.AssertInput{Flow: dt.Flow, Digest: digest, Trails: []*domain.TrailFacts{dt.Facts}})
		c := envpolicy.Context{FlowName: dt.Flow.Name, FlowTags: dt.Flow.Tags, TrailName: dt.Facts.Trail.Name,
			Fingerprint: strings.TrimPrefix(digest, "sha256:"), ArtifactStatus: "NON-COMPLIANT"}
		if a.Compliant {
			c.ArtifactStatus = "COMPLIANT"
		}
		names := map[string]bool{}
		for _, art := range dt.Facts.Artifacts {
			if art.Digest == digest {
				c.ArtifactName, artifactName = art.Name, art.Name
				names[art.Name] = true
			}
		}
		// The latest attestation of each name that applies to the
		// artifact: trail-level ones, and those bound to it.
		seen := map[string]bool{}
		atts := dt.Facts.Attestations
		for i := len(atts) - 1; i >= 0; i-- {
			at := atts[i]
			applies := (at.Fingerprint == "" && len(at.Targets) == 0) || at.Fingerprint == digest
			for _, t := range at.Targets {
				applies = applies || names[t]
			}
			key := at.Name + "\x00" + at.Type
			if !applies || seen[key] {
				continue
			}
			seen[key] = true
			c.Attestations = append(c.Attestations, envpolicy.Attestation{Name: at.Name, Type: at.Type, Compliant: at.Status == domain.AttestationPassed})
		}
		ctxs = append(ctxs, c)
	}
	return artifactName, ctxs
}

// evaluatePolicies evaluates the named policies of an organisation for a
// digest; ok is true when every one is COMPLIANT.
func (s *Server) evaluatePolicies(org string, names []string, digest, name string, trails []projections.DigestTrail) ([]envpolicy.Evaluation, bool, error) {
	known, ctxs := policyContexts(trails, digest)
	if name == "" {
		name = known
	}
	evals := []envpolicy.Evaluation{}
	ok := true
	for _, n := range names {
		p, err := s.cfg.Store.Policy(org, n)
		if err != nil {
			return nil, false, err
		}
		parsed, err := envpolicy.Parse([]byte(p.YAML))
		if err != nil {
			return nil, false, fmt.Errorf("httpapi: stored policy %s v%d no longer parses: %w", n, p.Version, err)
		}
		ev := parsed.Evaluate(p.Name, p.Version, name, strings.TrimPrefix(digest, "sha256:"), ctxs)
		ok = ok && ev.Status == "COMPLIANT"
		evals = append(evals, ev)
	}
	return evals, ok, nil
}

// kosliFlows is the flows[] block of an assert answer, and whether every
// flow judges the artifact compliant.
func kosliFlows(trails []projections.DigestTrail, digest, flowName string) ([]map[string]any, bool) {
	byFlow := map[string][]*domain.TrailFacts{}
	flows := map[string]*domain.Flow{}
	var order []string
	for _, dt := range trails {
		if flowName != "" && dt.Flow.Name != flowName {
			continue
		}
		if _, ok := flows[dt.Flow.ID]; !ok {
			order = append(order, dt.Flow.ID)
			flows[dt.Flow.ID] = dt.Flow
		}
		byFlow[dt.Flow.ID] = append(byFlow[dt.Flow.ID], dt.Facts)
	}
	out := []map[string]any{}
	all := len(order) > 0
	for _, id := range order {
		a := domain.Assert(domain.AssertInput{Flow: flows[id], Digest: digest, Trails: byFlow[id]})
		trailName := ""
		for _, f := range byFlow[id] {
			if a.TrailID != nil && f.Trail.ID == *a.TrailID {
				trailName = f.Trail.Name
			}
		}
		statuses := []map[string]any{}
		for _, slot := range a.Explanation {
			st := "COMPLETE"
			if slot.Outcome == domain.SlotMissing {
				st = "MISSING"
			}
			typ := slot.Type
			if slot.Kind == "type" {
				typ = slot.Slot
			}
			var attID any
			if slot.AttestationID != "" {
				attID = slot.AttestationID
			}
			statuses = append(statuses, map[string]any{"attestation_name": slot.Slot, "attestation_type": typ, "attestation_id": attID,
				"status": st, "is_compliant": slot.Outcome == domain.SlotSatisfied, "unexpected": false, "reason": slot.Reason})
		}
		all = all && a.Compliant
		out = append(out, map[string]any{"flow": flows[id].Name, "trail": trailName, "compliant": a.Compliant,
			"compliance_status": map[string]any{"status": kosliState(a.Status), "is_compliant": a.Compliant, "attestations_statuses": statuses}})
	}
	return out, all
}

func (s *Server) htmlURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// kosliAssert answers `kosli assert artifact`: scope flow (template
// compliance in each flow that reported the artifact), environment (the
// environment's policies) or policy (the named policies, in order).
func (s *Server) kosliAssert(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	org := v["org"]
	if _, err := s.cfg.Store.Organisation(org); err != nil {
		writeKosliError(w, r, err)
		return
	}
	digest, ok := domain.NormalizeDigest(v["fp"])
	if !ok {
		writeKosliError(w, r, domain.Invalid("fingerprint", "must be 64 hex digits"))
		return
	}
	q := r.URL.Query()
	flowName, envName, policies := q.Get("flow_name"), q.Get("environment_name"), q["policy_name"]
	trails, err := s.cfg.Store.DigestTrails(digest, org)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	flows, flowsOK := kosliFlows(trails, digest, flowName)
	if len(flows) == 0 && envName == "" && len(policies) == 0 {
		where := "any flow"
		if flowName != "" {
			where = "flow '" + flowName + "'"
		}
		writeKosliError(w, r, fmt.Errorf("%w: Artifact with fingerprint '%s' does not exist in %s belonging to organization '%s'",
			domain.ErrNotFound, v["fp"], where, org))
		return
	}
	out := map[string]any{"scope": "flow", "flows": flows, "compliant": flowsOK,
		"html_url": s.htmlURL(r, "/api/v1/artifacts?sha256="+digest), "fingerprint": v["fp"]}
	if envName != "" || len(policies) > 0 {
		out["scope"] = "policy"
		if envName != "" {
			env, err := s.cfg.Store.EnvironmentByName(org, envName)
			if err != nil {
				writeKosliError(w, r, err)
				return
			}
			if policies, err = s.cfg.Store.EnvironmentPolicies(env.ID); err != nil {
				writeKosliError(w, r, err)
				return
			}
			out["scope"], out["environment"] = "environment", envName
		}
		evals, ok, err := s.evaluatePolicies(org, policies, digest, "", trails)
		if err != nil {
			writeKosliError(w, r, err)
			return
		}
		// An environment without policies has no rules to pass: Kosli
		// calls that Unknown, which is not compliant.
		out["policy_evaluations"], out["compliant"] = evals, ok && len(policies) > 0
	}
	writeJSON(w, http.StatusOK, out)
}

// kosliSnapshot answers `kosli assert snapshot`: GET
// /api/v2/snapshots/{org}/{env}/{id} (id -1 latest, -2 the one before).
// With policies attached an artifact is compliant when every policy is;
// without, when a flow judges it compliant or the allow-list excuses it.
func (s *Server) kosliSnapshot(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	org := v["org"]
	if _, err := s.cfg.Store.Organisation(org); err != nil {
		writeKosliError(w, r, err)
		return
	}
	env, err := s.cfg.Store.EnvironmentByName(org, v["env"])
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	idx, err := strconv.Atoi(v["id"])
	if err != nil || idx == 0 {
		writeKosliError(w, r, fmt.Errorf("%w: snapshot id must be an index, or negative to count back from the latest", errBadParam))
		return
	}
	snap, err := s.cfg.Store.Snapshot(env.ID, idx)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	latest, _ := s.cfg.Store.LatestSnapshotIndex(env.ID)
	policies, err := s.cfg.Store.EnvironmentPolicies(env.ID)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	view, err := s.judgeSnapshot(snap)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	prev, err := s.previousArtifacts(env.ID, snap.SnapshotIndex)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	was := map[string]int{}
	for _, a := range prev {
		was[runKey(a)] += a.InstanceCount
	}
	counts := map[string]int{"true": 0, "false": 0, "null": 0}
	arts := []map[string]any{}
	compliant := true
	for _, a := range view.Artifacts {
		ok := a.ComplianceStatus == runningCompliant || a.Allowlisted
		entry := map[string]any{"name": a.ArtifactName, "fingerprint": strings.TrimPrefix(a.ArtifactSha256, "sha256:"),
			"instance_count": a.InstanceCount, "flows": a.Provenance, "allowlisted": a.Allowlisted}
		kosliInstances(entry, env.Type, a.SnapshotArtifact)
		if len(policies) > 0 && a.ArtifactSha256 != "" {
			trails, err := s.cfg.Store.DigestTrails(a.ArtifactSha256, org)
			if err != nil {
				writeKosliError(w, r, err)
				return
			}
			evals, pok, err := s.evaluatePolicies(org, policies, a.ArtifactSha256, a.ArtifactName, trails)
			if err != nil {
				writeKosliError(w, r, err)
				return
			}
			ok = pok || a.Allowlisted
			entry["policy_decisions"] = evals
		}
		entry["compliant"] = ok
		entry["annotation"] = kosliAnnotation(was[runKey(a.SnapshotArtifact)], a.InstanceCount, ok)
		counts[strconv.FormatBool(ok)]++
		compliant = compliant && ok
		arts = append(arts, entry)
		delete(was, runKey(a.SnapshotArtifact))
	}
	// What ran before and runs no more stays listed as exited, judged by
	// nothing (compliant null), as Kosli lists it; it does not count
	// towards the snapshot's compliance.
	for _, a := range prev {
		k := runKey(a)
		n, gone := was[k]
		if !gone {
			continue
		}
		delete(was, k)
		entry := map[string]any{"name": a.ArtifactName, "fingerprint": strings.TrimPrefix(a.ArtifactSha256, "sha256:"),
			"instance_count": 0, "creationTimestamp": []int64{}, "pods": nil, "flows": nil, "allowlisted": false, "compliant": nil,
			"annotation": map[string]any{"type": "exited", "was": n, "now": 0}}
		counts["null"]++
		arts = append(arts, entry)
	}
	writeJSON(w, http.StatusOK, map[string]any{"index": snap.SnapshotIndex, "is_latest": snap.SnapshotIndex == latest,
		"timestamp": float64(snap.RecordedAt.UnixNano()) / 1e9, "type": kosliTypeOf(env.Type), "compliant": compliant,
		"html_url":                  s.htmlURL(r, "/api/v1/environments/"+env.ID+"/snapshots/"+strconv.Itoa(snap.SnapshotIndex)),
		"artifact_compliance_count": counts, "applied_policies": policies, "artifacts": arts})
}

// runKey identifies a running artifact across snapshots: its name and
// digest.
func runKey(a domain.SnapshotArtifact) string { return a.ArtifactName + "\x00" + a.ArtifactSha256 }

// previousArtifacts returns the artifacts of the snapshot before index;
// none for the first.
func (s *Server) previousArtifacts(envID string, index int) ([]domain.SnapshotArtifact, error) {
	if index <= 1 {
		return nil, nil
	}
	prev, err := s.cfg.Store.Snapshot(envID, index-1)
	if err != nil {
		return nil, err
	}
	return prev.Artifacts, nil
}

// kosliAnnotation says how an artifact's instances changed since the
// previous snapshot, as Kosli's snapshot answer does.
func kosliAnnotation(was, now int, compliant bool) map[string]any {
	typ := "changed"
	switch {
	case was == 0 && compliant:
		typ = "started-compliant"
	case was == 0:
		typ = "started-non-compliant"
	case was == now:
		typ = "unchanged"
	}
	return map[string]any{"type": typ, "was": was, "now": now}
}

// kosliInstances adds what Kosli's snapshot answer says of an artifact's
// instances: creationTimestamp (one per instance), pods for a K8S
// environment (by pod name: namespace, creationTimestamp, owners), and
// ecs_context for an ECS one (the first task's ARN, cluster and service).
func kosliInstances(entry map[string]any, envType string, a domain.SnapshotArtifact) {
	times := make([]int64, len(a.Instances))
	for i, in := range a.Instances {
		times[i] = in.CreatedAt
	}
	entry["creationTimestamp"] = times
	entry["pods"] = nil
	switch envType {
	case "K8S":
		pods := map[string]any{}
		for _, in := range a.Instances {
			var ctx struct {
				PodName   string          `json:"podName"`
				Namespace string          `json:"namespace"`
				Owners    json.RawMessage `json:"owners"`
			}
			if json.Unmarshal(in.Context, &ctx) == nil && ctx.PodName != "" {
				pods[ctx.PodName] = map[string]any{"namespace": ctx.Namespace, "creationTimestamp": in.CreatedAt, "owners": ctx.Owners}
			}
		}
		entry["pods"] = pods
	case "ECS":
		for _, in := range a.Instances {
			var ctx struct {
				TaskArn     string `json:"taskArn"`
				ClusterName string `json:"cluster_name"`
				ServiceName string `json:"service_name"`
			}
			if json.Unmarshal(in.Context, &ctx) == nil && ctx.TaskArn != "" {
				entry["ecs_context"] = map[string]any{"task_arn": ctx.TaskArn, "cluster_name": ctx.ClusterName, "service_name": ctx.ServiceName}
				break
			}
		}
	}
}

// kosliSearch answers `kosli search`: a fingerprint or a commit (prefix).
func (s *Server) kosliSearch(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	org, value := v["org"], strings.ToLower(v["value"])
	if _, err := s.cfg.Store.Organisation(org); err != nil {
		writeKosliError(w, r, err)
		return
	}
	if value == "" || strings.Trim(value, "0123456789abcdef") != "" {
		writeKosliError(w, r, domain.Invalid("sha", "must be a fingerprint or a commit sha (hex)"))
		return
	}
	results, _, err := s.cfg.Store.Search(value, []string{"artifact", "trail"}, 1000)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	var fps, commits []string
	var arts []domain.Artifact
	seen := map[string]bool{}
	for _, res := range results {
		switch res.Type {
		case "artifact":
			fp := strings.TrimPrefix(res.Description, "sha256:")
			if !strings.HasPrefix(fp, value) {
				continue
			}
			if a, err := s.cfg.Store.Artifact(res.ID); err == nil {
				arts = append(arts, *a)
			}
			if !seen[fp] {
				fps, seen[fp] = append(fps, fp), true
			}
		case "trail":
			if sha := res.Metadata["gitCommitSha"]; strings.HasPrefix(strings.ToLower(sha), value) && !seen[sha] {
				commits, seen[sha] = append(commits, sha), true
			}
		}
	}
	if len(fps) == 0 && len(commits) == 0 {
		writeKosliError(w, r, fmt.Errorf("%w: no fingerprint or commit starting with '%s' in organization '%s'", domain.ErrNotFound, value, org))
		return
	}
	resolved, full := "commit", ""
	switch {
	case len(fps) == 1:
		resolved, full = "fingerprint", fps[0]
	case len(fps) > 1:
		resolved = "fingerprint"
	case len(commits) == 1:
		full = commits[0]
	}
	running := s.runningIn(org)
	artifacts := []map[string]any{}
	for _, a := range arts {
		artifacts = append(artifacts, s.kosliSearchArtifact(r, a, running[a.Sha256Digest]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"resolved_to": map[string]any{"type": resolved, "full_match": full,
		"fingerprints": map[string]any{"type": "fingerprint", "count": len(fps), "matches": orEmptyStrings(fps)},
		"commits":      map[string]any{"type": "commit", "count": len(commits), "matches": orEmptyStrings(commits)}},
		"artifacts": artifacts})
}

// kosliSearchArtifact is one artifact of a search answer.
func (s *Server) kosliSearchArtifact(r *http.Request, a domain.Artifact, runningIn []string) map[string]any {
	extra := func(k string) any {
		var v any
		if raw, ok := a.Extra[k]; ok {
			_ = json.Unmarshal(raw, &v)
		}
		return v
	}
	flowName, state := "", "INCOMPLETE"
	if f, err := s.cfg.Store.Flow(a.FlowID); err == nil {
		flowName = f.Name
		if in, _, err := s.cfg.Store.AssertFacts(f.ID, a.Sha256Digest, 0); err == nil {
			state = kosliState(domain.Assert(in).Status)
		}
	}
	return map[string]any{"fingerprint": strings.TrimPrefix(a.Sha256Digest, "sha256:"), "name": a.ImageName,
		"flow": flowName, "pipeline": flowName, "has_provenance": true, "git_commit": extra("git_commit"),
		"commit_url": extra("commit_url"), "build_url": extra("build_url"), "compliance_state": state,
		"html_url": s.htmlURL(r, "/api/v1/artifacts?sha256="+a.Sha256Digest), "running_in": orEmptyStrings(runningIn),
		"exited_from": []string{}, "history": []map[string]any{{"event": "artifact reported", "timestamp": float64(a.ReportedAt.UnixNano()) / 1e9}}}
}

// runningIn maps each digest running in an organisation's environments
// (their latest snapshots) to "env#index" names.
func (s *Server) runningIn(org string) map[string][]string {
	out := map[string][]string{}
	envs, _, err := s.cfg.Store.Environments(0, 1<<20)
	if err != nil {
		return out
	}
	for _, e := range envs {
		if e.Org() != org {
			continue
		}
		snap, err := s.cfg.Store.Snapshot(e.ID, -1)
		if err != nil {
			continue
		}
		for _, a := range snap.Artifacts {
			out[a.ArtifactSha256] = append(out[a.ArtifactSha256], e.Name+"#"+strconv.Itoa(snap.SnapshotIndex))
		}
	}
	return out
}

func orEmptyStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ready answers GET /ready (kosli status).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if h := s.cfg.Store.Halted(); h != nil {
		writeKosliError(w, r, fmt.Errorf("%w: ledger broken at %d", errNotReady, h.Seq))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}
