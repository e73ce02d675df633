package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// State is the write side's view of the ledger: just what commands need to
// decide (existence, uniqueness, current values). The single writer owns it;
// it is not safe for concurrent use.
//
// Changes made while deciding a batch are journaled so that a batch the
// stream refused can be rolled back (see Mark and Rollback).
type State struct {
	flows     map[string]*Flow
	flowNames map[string]string // scopedName -> flow id
	orgs      map[string]*Organisation
	// Trails and what compliance needs of them. A trailState is never
	// changed in place: a change replaces it (see trailState.with), so the
	// journal can restore the old one.
	trails       map[string]*trailState
	trailNames   map[string]string   // flowId/name -> trail id
	flowTrails   map[string][]string // flow id -> trail ids, oldest first
	artifacts    map[string]string   // artifact id -> trail id
	attestations map[string]string   // attestation id -> trail id
	// Environments: what commands check (names, snapshot indexes, the
	// active baseline, allow-list entries).
	envs      map[string]*envState
	envNames  map[string]string // org/name -> environment id
	snapshots map[string]snapRef
	allowlist map[string]allowRef
	logical   map[string]*LogicalEnvironment
	// Policies by org/name, and attestation type versions by org/name.
	policies         map[string]policyRef
	attestationTypes map[string]int
	undo             []func()
	// base is how many journal entries were committed before undo[0]:
	// marks stay valid while a prefix of the journal is committed.
	base int
}

// envState is an environment and its snapshot and baseline positions.
type envState struct {
	env          *Environment
	lastIndex    int
	lastSnapshot string
	lastSet      string // setKey of the latest snapshot
	baseline     string
	policies     []string // attached policy names
}

type policyRef struct {
	id      string
	version int
}

type snapRef struct {
	env   string
	index int
}

type allowRef struct {
	env     string
	removed bool
}

// trailState is a trail and the facts its compliance is judged on.
type trailState struct {
	trail *Trail
	facts TrailFacts
	// fill tracks the array facts.Attestations lives in (see appendFact).
	fill *factFill
}

// with returns a copy of ts changed by f (slices are copied on append by
// their owners, never written in place; attestations are appended with
// withAttestation).
func (ts *trailState) with(f func(*TrailFacts)) *trailState {
	next := &trailState{trail: ts.trail, facts: ts.facts, fill: ts.fill}
	f(&next.facts)
	next.facts.Trail = next.trail
	return next
}

// withAttestation returns a copy of ts with x appended to its attestation
// facts.
func (ts *trailState) withAttestation(x AttestationFact) *trailState {
	next := &trailState{trail: ts.trail, facts: ts.facts}
	next.facts.Trail = next.trail
	next.facts.Attestations, next.fill = appendFact(ts.facts.Attestations, ts.fill, x)
	return next
}

// factFill is how far the array behind a trail's attestation facts has
// been written. Every version of the trail's state (committed, decided in
// a batch in flight, or a command's look ahead) holds a prefix of it.
type factFill struct {
	base *AttestationFact // the array's first element
	n    int              // how many elements have been written
}

// appendFact returns s with x appended, and the fill of its array. Copying
// the facts on every attestation made recording one O(attestations on the
// trail) in time and garbage. Elements below fill.n are never written
// again and no version is longer than fill.n, so appending to the longest
// version writes where no version reads, and a version that is a prefix
// of a longer one with x next (the command's look ahead, then the event's
// application, append the same fact) simply grows over it. Any other
// append copies, so no version ever sees another's change, whether it is
// rolled back or not.
func appendFact(s []AttestationFact, fill *factFill, x AttestationFact) ([]AttestationFact, *factFill) {
	if fill != nil && cap(s) > len(s) && &s[:cap(s)][0] == fill.base {
		switch next := s[:len(s)+1]; {
		case len(s) == fill.n:
			next[len(s)] = x
			fill.n++
			return next, fill
		case len(s) < fill.n && sameFact(next[len(s)], x):
			return next, fill
		}
	}
	grown := make([]AttestationFact, len(s)+1, max(4, 2*(len(s)+1)))
	copy(grown, s)
	grown[len(s)] = x
	return grown, &factFill{base: &grown[:cap(grown)][0], n: len(grown)}
}

// sameFact reports whether a and b are the same attestation fact.
func sameFact(a, b AttestationFact) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Name == b.Name && a.Status == b.Status &&
		a.Fingerprint == b.Fingerprint && slices.Equal(a.Targets, b.Targets)
}

// withTrail sets the trail of a copy made by with.
func (ts *trailState) withTrail(t *Trail) *trailState {
	ts.trail, ts.facts.Trail = t, t
	return ts
}

func (ts *trailState) hasDigest(d string) bool {
	for _, a := range ts.facts.Artifacts {
		if a.Digest == d {
			return true
		}
	}
	return false
}

func (ts *trailState) artifact(id string) (ArtifactFact, bool) {
	for _, a := range ts.facts.Artifacts {
		if a.ID == id {
			return a, true
		}
	}
	return ArtifactFact{}, false
}

// NewState returns the state of an empty ledger.
func NewState() *State {
	return &State{
		flows: map[string]*Flow{}, flowNames: map[string]string{}, orgs: map[string]*Organisation{},
		trails: map[string]*trailState{}, trailNames: map[string]string{}, flowTrails: map[string][]string{},
		artifacts: map[string]string{}, attestations: map[string]string{},
		envs: map[string]*envState{}, envNames: map[string]string{}, snapshots: map[string]snapRef{},
		allowlist: map[string]allowRef{}, logical: map[string]*LogicalEnvironment{},
		policies: map[string]policyRef{}, attestationTypes: map[string]int{},
	}
}

// Mark returns a point Rollback can return to.
func (s *State) Mark() int { return s.base + len(s.undo) }

// Rollback undoes every change since mark.
func (s *State) Rollback(mark int) {
	for i := len(s.undo) - 1; i >= mark-s.base; i-- {
		s.undo[i]()
	}
	s.undo = s.undo[:mark-s.base]
}

// CommitTo forgets the journal up to mark: changes before it are durable,
// later ones can still be rolled back.
func (s *State) CommitTo(mark int) {
	n := mark - s.base
	s.undo = append(s.undo[:0:0], s.undo[n:]...)
	s.base = mark
}

// Commit forgets the journal: changes so far are durable.
func (s *State) Commit() {
	s.base += len(s.undo)
	s.undo = s.undo[:0]
}

// setMap sets m[k]=v (or deletes k when del) and journals the inverse.
func setMap[V any](s *State, m map[string]V, k string, v V, del bool) {
	old, had := m[k]
	s.undo = append(s.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
	if del {
		delete(m, k)
	} else {
		m[k] = v
	}
}

// Apply folds one stored event into the state. Unknown event types are
// ignored so that older builds can still read newer streams' known parts.
func (s *State) Apply(r Recorded) error {
	switch r.Type {
	case EventFlowCreated, EventFlowUpdated:
		var f Flow
		if err := json.Unmarshal(r.Data, &f); err != nil {
			return fmt.Errorf("domain: apply %s at %d: %w", r.Type, r.Seq, err)
		}
		s.putFlow(&f)
	case EventFlowDeleted:
		var d FlowDeleted
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return fmt.Errorf("domain: apply %s at %d: %w", r.Type, r.Seq, err)
		}
		s.dropFlow(d.ID)
	case EventOrganisationCreated, EventOrganisationUpdated:
		var o Organisation
		if err := json.Unmarshal(r.Data, &o); err != nil {
			return fmt.Errorf("domain: apply %s at %d: %w", r.Type, r.Seq, err)
		}
		setMap(s, s.orgs, o.Slug, &o, false)
	case EventOrganisationDeleted:
		var d OrganisationDeleted
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return fmt.Errorf("domain: apply %s at %d: %w", r.Type, r.Seq, err)
		}
		setMap(s, s.orgs, d.Slug, nil, true)
	default:
		data := payloadOf(r.Type)
		if data == nil {
			return nil
		}
		if err := json.Unmarshal(r.Data, data); err != nil {
			return fmt.Errorf("domain: apply %s at %d: %w", r.Type, r.Seq, err)
		}
		s.ApplyEvent(Event{Type: r.Type, Data: data})
	}
	return nil
}

// payloadOf returns a new payload value for the trail event types the
// state folds, or nil.
func payloadOf(eventType string) any {
	switch eventType {
	case EventTrailStarted, EventTrailUpdated:
		return new(Trail)
	case EventTrailStatusChanged:
		return new(TrailStatusChanged)
	case EventArtifactReported:
		return new(Artifact)
	case EventAttestationRecorded:
		return new(Attestation)
	case EventEvidenceAttached:
		return new(EvidenceAttached)
	case EventEnvironmentCreated, EventEnvironmentUpdated:
		return new(Environment)
	case EventEnvironmentDeleted:
		return new(EnvironmentDeleted)
	case EventSnapshotRecorded:
		return new(Snapshot)
	case EventBaselineApproved:
		return new(Baseline)
	case EventAllowlistAdded:
		return new(AllowlistEntry)
	case EventAllowlistRemoved:
		return new(AllowlistRemoved)
	case EventLogicalCreated, EventLogicalUpdated, EventLogicalMemberAdded, EventLogicalMemberRemoved:
		return new(LogicalEnvironment)
	case EventLogicalDeleted:
		return new(LogicalDeleted)
	case EventPolicySaved:
		return new(Policy)
	case EventPoliciesAttached, EventPoliciesDetached:
		return new(PoliciesAttached)
	case EventAttestationTypeSaved:
		return new(AttestationType)
	}
	return nil
}

// ApplyEvent folds an event this writer just decided, before it is stored,
// so later commands in the same batch see it.
func (s *State) ApplyEvent(e Event) {
	switch d := e.Data.(type) {
	case *Flow:
		s.putFlow(d)
	case *FlowDeleted:
		s.dropFlow(d.ID)
	case *Organisation:
		setMap(s, s.orgs, d.Slug, d, false)
	case *OrganisationDeleted:
		setMap(s, s.orgs, d.Slug, nil, true)
	case *Trail:
		if cur, ok := s.trails[d.ID]; ok {
			// trail.updated: the same trail with new fields, same facts.
			setMap(s, s.trails, d.ID, cur.with(func(*TrailFacts) {}).withTrail(d), false)
			return
		}
		setMap(s, s.trails, d.ID, &trailState{trail: d, facts: TrailFacts{Trail: d}}, false)
		setMap(s, s.trailNames, trailNameKey(d.FlowID, d.Name), d.ID, false)
		// A plain append: a rolled-back batch restores the shorter slice,
		// and nothing else holds this one, so sharing its array is safe.
		setMap(s, s.flowTrails, d.FlowID, append(s.flowTrails[d.FlowID], d.ID), false)
	case *TrailStatusChanged:
		if ts, ok := s.trails[d.TrailID]; ok {
			t := *ts.trail
			t.Status, t.UpdatedAt = d.Status, d.At
			setMap(s, s.trails, d.TrailID, &trailState{trail: &t, facts: TrailFacts{Trail: &t, Artifacts: ts.facts.Artifacts, Attestations: ts.facts.Attestations}, fill: ts.fill}, false)
		}
	case *Artifact:
		s.changeTrail(d.TrailID, func(f *TrailFacts) {
			f.Artifacts = append(slices.Clip(f.Artifacts), d.Fact())
		})
		setMap(s, s.artifacts, d.ID, d.TrailID, false)
	case *Attestation:
		if ts, ok := s.trails[d.TrailID]; ok {
			setMap(s, s.trails, d.TrailID, ts.withAttestation(AttestationFactOf(d)), false)
		}
		setMap(s, s.attestations, d.ID, d.TrailID, false)
	case *EvidenceAttached:
		if d.Status != nil {
			s.changeTrail(d.TrailID, func(f *TrailFacts) { f.setStatus(d.AttestationID, *d.Status) })
		}
	default:
		s.applyEnvironmentEvent(e.Data)
	}
}

// applyEnvironmentEvent folds environment and logical environment events.
func (s *State) applyEnvironmentEvent(data any) {
	switch d := data.(type) {
	case *Environment:
		next := &envState{env: d}
		if cur, ok := s.envs[d.ID]; ok {
			*next = *cur
			next.env = d
			setMap(s, s.envNames, cur.env.scopedName(), "", true)
		}
		setMap(s, s.envs, d.ID, next, false)
		setMap(s, s.envNames, d.scopedName(), d.ID, false)
	case *EnvironmentDeleted:
		if cur, ok := s.envs[d.ID]; ok {
			setMap(s, s.envNames, cur.env.scopedName(), "", true)
			setMap(s, s.envs, d.ID, nil, true)
		}
	case *Snapshot:
		if cur, ok := s.envs[d.EnvironmentID]; ok {
			next := *cur
			next.lastIndex, next.lastSnapshot, next.lastSet = d.SnapshotIndex, d.ID, setKey(d.Artifacts)
			setMap(s, s.envs, d.EnvironmentID, &next, false)
		}
		setMap(s, s.snapshots, d.ID, snapRef{env: d.EnvironmentID, index: d.SnapshotIndex}, false)
	case *Baseline:
		if cur, ok := s.envs[d.EnvironmentID]; ok {
			next := *cur
			next.baseline = d.ID
			setMap(s, s.envs, d.EnvironmentID, &next, false)
		}
	case *AllowlistEntry:
		setMap(s, s.allowlist, d.ID, allowRef{env: d.EnvironmentID}, false)
	case *AllowlistRemoved:
		setMap(s, s.allowlist, d.ID, allowRef{env: d.EnvironmentID, removed: true}, false)
	case *LogicalEnvironment:
		setMap(s, s.logical, d.ID, d, false)
	case *LogicalDeleted:
		setMap(s, s.logical, d.ID, nil, true)
	case *Policy:
		setMap(s, s.policies, d.Org+"/"+d.Name, policyRef{id: d.ID, version: d.Version}, false)
	case *PoliciesAttached:
		if cur, ok := s.envs[d.EnvironmentID]; ok {
			next := *cur
			next.policies = d.Policies
			setMap(s, s.envs, d.EnvironmentID, &next, false)
		}
	case *AttestationType:
		setMap(s, s.attestationTypes, d.Org+"/"+d.Name, d.Version, false)
	}
}

// changeTrail replaces a trail's state with a changed copy.
func (s *State) changeTrail(id string, f func(*TrailFacts)) {
	if ts, ok := s.trails[id]; ok {
		setMap(s, s.trails, id, ts.with(f), false)
	}
}

// statusEvents recomputes the status of a trail as it will be after the
// command (next) and returns a trail.status.changed event if it differs.
func (s *State) statusEvents(next *trailState, reason string, now time.Time) []Event {
	flow, ok := s.flows[next.trail.FlowID]
	if !ok {
		return nil
	}
	v := EvaluateTrail(flow, &next.facts)
	if v.Status == next.trail.Status {
		return nil
	}
	t := next.trail
	return []Event{{Type: EventTrailStatusChanged, Org: t.Org(), Aggregate: AggregateTrail, AggregateID: t.ID,
		Data: &TrailStatusChanged{TrailID: t.ID, FlowID: t.FlowID, Status: v.Status, Previous: t.Status, Reason: reason, At: now.UTC()}}}
}

// flowStatusEvents recomputes the status of every trail of a flow as it
// will be after flow changes to next.
func (s *State) flowStatusEvents(next *Flow, now time.Time) []Event {
	var out []Event
	for _, id := range s.flowTrails[next.ID] {
		ts := s.trails[id]
		v := EvaluateTrail(next, &ts.facts)
		if v.Status == ts.trail.Status {
			continue
		}
		t := ts.trail
		out = append(out, Event{Type: EventTrailStatusChanged, Org: t.Org(), Aggregate: AggregateTrail, AggregateID: t.ID,
			Data: &TrailStatusChanged{TrailID: t.ID, FlowID: t.FlowID, Status: v.Status, Previous: t.Status, Reason: "flow requirements changed", At: now.UTC()}})
	}
	return out
}

// Trail returns the trail with id, if it exists.
func (s *State) Trail(id string) (*Trail, bool) {
	ts, ok := s.trails[id]
	if !ok {
		return nil, false
	}
	return ts.trail, true
}

func (s *State) putFlow(f *Flow) {
	if old, ok := s.flows[f.ID]; ok {
		setMap(s, s.flowNames, old.scopedName(), "", true)
	}
	setMap(s, s.flows, f.ID, f, false)
	setMap(s, s.flowNames, f.scopedName(), f.ID, false)
}

func (s *State) dropFlow(id string) {
	if old, ok := s.flows[id]; ok {
		setMap(s, s.flowNames, old.scopedName(), "", true)
		setMap(s, s.flows, id, nil, true)
	}
}

// Flow returns the flow with id, if it exists.
func (s *State) Flow(id string) (*Flow, bool) {
	f, ok := s.flows[id]
	return f, ok
}
