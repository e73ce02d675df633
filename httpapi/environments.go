package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
)

// snapshotRoute names the snapshot upload route, whose body limit is the
// snapshot limit (large clusters report thousands of workloads).
const snapshotRoute = "snapshot-upload"

// environmentBody is the JSON of an environment create or update.
type environmentBody struct {
	Name        *string       `json:"name"`
	Type        *string       `json:"type"`
	Description *string       `json:"description"`
	OrgSlug     *string       `json:"orgSlug"`
	DriftPolicy *string       `json:"driftPolicy"`
	Scope       *domain.Scope `json:"scope"`
}

func (b environmentBody) fields() domain.EnvironmentFields {
	return domain.EnvironmentFields{Name: b.Name, Type: b.Type, Description: b.Description, OrgSlug: b.OrgSlug,
		DriftPolicy: b.DriftPolicy, Scope: b.Scope}
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request) {
	var b environmentBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	s.command(w, r, domain.CreateEnvironment{ID: newID(), Fields: b.fields()}, http.StatusCreated)
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) {
	page, size, err := pageParams(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, total, err := s.cfg.Store.Environments(page, size)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageResponse{items, page, size, total, totalPages(total, size)})
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request) {
	e, err := s.cfg.Store.Environment(mux.Vars(r)["id"])
	answer(w, r, e, err)
}

func (s *Server) updateEnvironment(w http.ResponseWriter, r *http.Request) {
	var b environmentBody
	if err := decodeUpdateJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	id := mux.Vars(r)["id"]
	s.update(w, r, domain.UpdateEnvironment{ID: id, Fields: b.fields()}, func() (any, error) { return s.cfg.Store.Environment(id) })
}

func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request) {
	out, err := s.write(w, r, domain.DeleteEnvironment{ID: mux.Vars(r)["id"]})
	if err != nil {
		writeError(w, r, err)
		return
	}
	respondDeleted(w, out)
}

// snapshotBody is the JSON of a snapshot report.
type snapshotBody struct {
	RecordedBy *string                   `json:"recordedBy"`
	Artifacts  []domain.SnapshotArtifact `json:"artifacts"`
}

func (s *Server) recordSnapshot(w http.ResponseWriter, r *http.Request) {
	var b snapshotBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	s.command(w, r, domain.RecordSnapshot{ID: newID(), EnvironmentID: mux.Vars(r)["id"], RecordedBy: b.RecordedBy, Artifacts: b.Artifacts}, http.StatusCreated)
}

// runningArtifact is a snapshot artifact with what the ledger knows of it:
// the flows whose trails reported its digest and how each judges it (or
// provenance "UNKNOWN"), and whether the allow-list excuses it.
type runningArtifact struct {
	domain.SnapshotArtifact
	Provenance       any    `json:"provenance"`
	ComplianceStatus string `json:"complianceStatus"`
	Allowlisted      bool   `json:"allowlisted"`
	EnvironmentID    string `json:"environmentId,omitempty"`
}

// Running-artifact statuses.
const (
	runningCompliant    = "COMPLIANT"
	runningNonCompliant = "NON_COMPLIANT"
	runningUnknown      = "UNKNOWN"
)

// snapshotView is a snapshot answer with its artifacts judged.
type snapshotView struct {
	ID            string            `json:"id"`
	EnvironmentID string            `json:"environmentId"`
	SnapshotIndex int               `json:"snapshotIndex"`
	RecordedAt    time.Time         `json:"recordedAt"`
	RecordedBy    string            `json:"recordedBy"`
	Excluded      int               `json:"excluded"`
	Compliant     bool              `json:"compliant"`
	Artifacts     []runningArtifact `json:"artifacts"`
}

// judgeSnapshot attaches provenance and compliance to a snapshot's artifacts. An
// artifact is COMPLIANT when a flow that reported it judges it so, UNKNOWN
// when no trail reported it.
func (s *Server) judgeSnapshot(snap *domain.Snapshot) (snapshotView, error) {
	v := snapshotView{ID: snap.ID, EnvironmentID: snap.EnvironmentID, SnapshotIndex: snap.SnapshotIndex, RecordedAt: snap.RecordedAt,
		RecordedBy: snap.RecordedBy, Excluded: snap.Excluded, Compliant: true, Artifacts: make([]runningArtifact, 0, len(snap.Artifacts))}
	digests := make([]string, len(snap.Artifacts))
	for i, a := range snap.Artifacts {
		digests[i] = a.ArtifactSha256
	}
	verdicts, err := s.cfg.Store.RunningCompliance(digests)
	if err != nil {
		return v, err
	}
	allow, err := s.cfg.Store.Allowlist(snap.EnvironmentID)
	if err != nil {
		return v, err
	}
	now := time.Now()
	for _, a := range snap.Artifacts {
		ra := runningArtifact{SnapshotArtifact: a, ComplianceStatus: runningUnknown, Provenance: "UNKNOWN"}
		if vs := verdicts[a.ArtifactSha256]; len(vs) > 0 {
			ra.Provenance, ra.ComplianceStatus = vs, runningNonCompliant
			for _, fv := range vs {
				if fv.Status == domain.TrailCompliant {
					ra.ComplianceStatus = runningCompliant
				}
			}
		}
		for i := range allow {
			if allow[i].EffectiveAt(now) && allow[i].Matches(a.ArtifactSha256, a.ArtifactName) {
				ra.Allowlisted = true
			}
		}
		if ra.ComplianceStatus != runningCompliant && !ra.Allowlisted {
			v.Compliant = false
		}
		v.Artifacts = append(v.Artifacts, ra)
	}
	return v, nil
}

func (s *Server) respondSnapshot(w http.ResponseWriter, r *http.Request, snap *domain.Snapshot, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	v, err := s.judgeSnapshot(snap)
	answer(w, r, v, err)
}

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.Snapshots(mux.Vars(r)["id"])
	answer(w, r, items, err)
}

func (s *Server) latestSnapshot(w http.ResponseWriter, r *http.Request) {
	snap, err := s.cfg.Store.Snapshot(mux.Vars(r)["id"], -1)
	s.respondSnapshot(w, r, snap, err)
}

func (s *Server) snapshotByIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.Atoi(mux.Vars(r)["index"])
	if err != nil || idx == 0 {
		writeError(w, r, fmt.Errorf("%w: index must be a snapshot number (1, 2, ...) or negative to count back from the latest (-1)", errBadParam))
		return
	}
	snap, err := s.cfg.Store.Snapshot(mux.Vars(r)["id"], idx)
	s.respondSnapshot(w, r, snap, err)
}

func (s *Server) snapshotAt(w http.ResponseWriter, r *http.Request) {
	t, err := timeParam(r, "time")
	if err == nil && t.IsZero() {
		err = fmt.Errorf("%w: time is required (RFC 3339)", errBadParam)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	snap, err := s.cfg.Store.SnapshotAt(mux.Vars(r)["id"], t)
	s.respondSnapshot(w, r, snap, err)
}

// environmentCompliance summarises the latest snapshot: how many running
// artifacts are compliant, non-compliant, unknown and allow-listed, and
// which offend.
func (s *Server) environmentCompliance(w http.ResponseWriter, r *http.Request) {
	snap, err := s.cfg.Store.Snapshot(mux.Vars(r)["id"], -1)
	if err != nil {
		writeError(w, r, err)
		return
	}
	v, err := s.judgeSnapshot(snap)
	if err != nil {
		writeError(w, r, err)
		return
	}
	sum := map[string]any{"environmentId": v.EnvironmentID, "snapshotId": v.ID, "snapshotIndex": v.SnapshotIndex, "total": len(v.Artifacts)}
	counts := map[string]int{runningCompliant: 0, runningNonCompliant: 0, runningUnknown: 0}
	allowed, offenders := 0, []runningArtifact{}
	for _, a := range v.Artifacts {
		counts[a.ComplianceStatus]++
		if a.Allowlisted {
			allowed++
		} else if a.ComplianceStatus != runningCompliant {
			offenders = append(offenders, a)
		}
	}
	status := runningCompliant
	if !v.Compliant {
		status = runningNonCompliant
	}
	sum["compliant"], sum["nonCompliant"], sum["unknown"], sum["allowlisted"] = counts[runningCompliant], counts[runningNonCompliant], counts[runningUnknown], allowed
	sum["complianceStatus"], sum["offenders"] = status, offenders
	writeJSON(w, http.StatusOK, sum)
}

func (s *Server) diffSnapshots(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	var idx [2]int
	for i, name := range []string{"from", "to"} {
		v := r.URL.Query().Get(name)
		n, err := strconv.Atoi(v)
		if err != nil || n == 0 {
			writeError(w, r, fmt.Errorf("%w: %s must be a snapshot index (negative counts back from the latest)", errBadParam, name))
			return
		}
		idx[i] = n
	}
	from, err := s.cfg.Store.Snapshot(id, idx[0])
	if err != nil {
		writeError(w, r, err)
		return
	}
	to, err := s.cfg.Store.Snapshot(id, idx[1])
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, domain.DiffSnapshots(from, to))
}

// baselineBody is the JSON of a baseline approval.
type baselineBody struct {
	SnapshotID  *string `json:"snapshotId"`
	ApprovedBy  *string `json:"approvedBy"`
	Description *string `json:"description"`
}

func (s *Server) approveBaseline(w http.ResponseWriter, r *http.Request) {
	var b baselineBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	s.command(w, r, domain.ApproveBaseline{ID: newID(), EnvironmentID: mux.Vars(r)["id"], SnapshotID: b.SnapshotID,
		ApprovedBy: b.ApprovedBy, Description: b.Description}, http.StatusCreated)
}

func (s *Server) currentBaseline(w http.ResponseWriter, r *http.Request) {
	b, err := s.cfg.Store.CurrentBaseline(mux.Vars(r)["id"])
	answer(w, r, b, err)
}

// computeDrift compares the active baseline with the latest snapshot.
func (s *Server) computeDrift(envID string) (domain.DriftReport, error) {
	env, err := s.cfg.Store.Environment(envID)
	if err != nil {
		return domain.DriftReport{}, err
	}
	b, err := s.cfg.Store.CurrentBaseline(envID)
	if err != nil {
		return domain.DriftReport{}, err
	}
	if b.SnapshotID == nil {
		return domain.DriftReport{}, domain.NotFound("snapshot of baseline", b.ID)
	}
	base, err := s.cfg.Store.SnapshotByID(*b.SnapshotID)
	if err != nil {
		return domain.DriftReport{}, err
	}
	latest, err := s.cfg.Store.Snapshot(envID, -1)
	if err != nil {
		return domain.DriftReport{}, err
	}
	allow, err := s.cfg.Store.Allowlist(envID)
	if err != nil {
		return domain.DriftReport{}, err
	}
	return domain.ComputeDrift(env, b, base, latest, allow, time.Now()), nil
}

// drift answers the drift of now without recording it.
func (s *Server) drift(w http.ResponseWriter, r *http.Request) {
	rep, err := s.computeDrift(mux.Vars(r)["id"])
	answer(w, r, rep, err)
}

// checkDrift computes the drift and records it in the ledger.
func (s *Server) checkDrift(w http.ResponseWriter, r *http.Request) {
	rep, err := s.computeDrift(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	rep.ID = newID()
	s.command(w, r, domain.RecordDriftCheck{Report: rep}, http.StatusCreated)
}

func (s *Server) driftHistory(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.DriftHistory(mux.Vars(r)["id"])
	answer(w, r, items, err)
}

// allowlistBody is the JSON of an allow-list entry.
type allowlistBody struct {
	Sha256      *string    `json:"sha256"`
	NamePattern *string    `json:"namePattern"`
	Reason      *string    `json:"reason"`
	ApprovedBy  *string    `json:"approvedBy"`
	ExpiresAt   *time.Time `json:"expiresAt"`
}

// allowlistView is an entry with isEffective worked out now.
type allowlistView struct {
	domain.AllowlistEntry
	IsEffective bool `json:"isEffective"`
}

func viewOf(a domain.AllowlistEntry) allowlistView {
	return allowlistView{AllowlistEntry: a, IsEffective: a.EffectiveAt(time.Now())}
}

func (s *Server) addAllowlistEntry(w http.ResponseWriter, r *http.Request) {
	var b allowlistBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	out, err := s.write(w, r, domain.AddAllowlistEntry{ID: newID(), EnvironmentID: mux.Vars(r)["id"], Sha256: b.Sha256,
		NamePattern: b.NamePattern, Reason: b.Reason, ApprovedBy: b.ApprovedBy, ExpiresAt: b.ExpiresAt})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if out.dryRun {
		respondEvent(w, out, http.StatusOK)
		return
	}
	a, err := s.cfg.Store.AllowlistEntry(eventID(out))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewOf(*a))
}

// eventID is the "id" of the first event's payload.
func eventID(out written) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(out.res.Events[0].Data, &v)
	return v.ID
}

func (s *Server) listAllowlist(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.Allowlist(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]allowlistView, 0, len(items))
	for _, a := range items {
		out = append(out, viewOf(a))
	}
	writeJSON(w, http.StatusOK, out)
}

// removeAllowlistEntry soft-deletes an entry and answers it (200).
func (s *Server) removeAllowlistEntry(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	out, err := s.write(w, r, domain.RemoveAllowlistEntry{EnvironmentID: v["id"], EntryID: v["entryId"]})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if out.dryRun {
		respondEvent(w, out, http.StatusOK)
		return
	}
	a, err := s.cfg.Store.AllowlistEntry(v["entryId"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(*a))
}

// logicalBody is the JSON of a logical environment.
type logicalBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (s *Server) saveLogical(w http.ResponseWriter, r *http.Request) {
	var b logicalBody
	if err := decodeUpdateJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	if r.Method != http.MethodPost {
		id := mux.Vars(r)["id"]
		s.update(w, r, domain.SaveLogicalEnvironment{ID: id, Name: b.Name, Description: b.Description},
			func() (any, error) { return s.cfg.Store.LogicalEnvironment(id) })
		return
	}
	out, err := s.write(w, r, domain.SaveLogicalEnvironment{ID: newID(), Create: true, Name: b.Name, Description: b.Description})
	if err != nil {
		writeError(w, r, err)
		return
	}
	respondEvent(w, out, http.StatusCreated)
}

func (s *Server) listLogical(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.LogicalEnvironments()
	answer(w, r, items, err)
}

func (s *Server) getLogical(w http.ResponseWriter, r *http.Request) {
	l, err := s.cfg.Store.LogicalEnvironment(mux.Vars(r)["id"])
	answer(w, r, l, err)
}

func (s *Server) deleteLogical(w http.ResponseWriter, r *http.Request) {
	out, err := s.write(w, r, domain.DeleteLogicalEnvironment{ID: mux.Vars(r)["id"]})
	if err != nil {
		writeError(w, r, err)
		return
	}
	respondDeleted(w, out)
}

func (s *Server) setLogicalMember(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	add := r.Method == http.MethodPost
	s.command(w, r, domain.SetLogicalMember{LogicalID: v["id"], EnvironmentID: v["envId"], Add: add}, http.StatusOK)
}

// logicalLatest merges the latest snapshot of every member. It is
// COMPLIANT only when every member has a snapshot and none runs a
// non-compliant or unknown artifact the allow-list does not excuse.
func (s *Server) logicalLatest(w http.ResponseWriter, r *http.Request) {
	l, err := s.cfg.Store.LogicalEnvironment(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	type member struct {
		EnvironmentID   string  `json:"environmentId"`
		EnvironmentName string  `json:"environmentName"`
		SnapshotID      *string `json:"snapshotId"`
		SnapshotIndex   *int    `json:"snapshotIndex"`
		Compliant       bool    `json:"compliant"`
		Deleted         bool    `json:"deleted,omitempty"`
	}
	members, merged := []member{}, []runningArtifact{}
	compliant := true
	for _, envID := range l.Members {
		env, err := s.cfg.Store.Environment(envID)
		if err != nil {
			// A deleted member: listed, so the answer says why it is not compliant.
			compliant = false
			members = append(members, member{EnvironmentID: envID, Deleted: true})
			continue
		}
		m := member{EnvironmentID: envID, EnvironmentName: env.Name}
		snap, err := s.cfg.Store.Snapshot(envID, -1)
		if err != nil {
			compliant = false
			members = append(members, m)
			continue
		}
		view, err := s.judgeSnapshot(snap)
		if err != nil {
			writeError(w, r, err)
			return
		}
		m.SnapshotID, m.SnapshotIndex, m.Compliant = &view.ID, &view.SnapshotIndex, view.Compliant
		compliant = compliant && view.Compliant
		for _, a := range view.Artifacts {
			a.EnvironmentID = envID
			merged = append(merged, a)
		}
		members = append(members, m)
	}
	status := runningCompliant
	if !compliant {
		status = runningNonCompliant
	}
	writeJSON(w, http.StatusOK, map[string]any{"logicalEnvId": l.ID, "logicalEnvName": l.Name, "complianceStatus": status,
		"memberSnapshots": members, "mergedArtifacts": merged})
}
