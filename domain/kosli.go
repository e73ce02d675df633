package domain

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The commands below address flows, trails and environments by name
// within an organisation, the way Kosli's API does. They resolve the names
// and then decide exactly what the id-addressed commands decide, so a
// trail begun through either door is the same trail.

func (s *State) orgExists(org string) error {
	if _, ok := s.orgs[org]; !ok {
		return NotFound("organisation", org)
	}
	return nil
}

// flowByName finds a flow of an organisation by name.
func (s *State) flowByName(org, name string) (*Flow, error) {
	if err := s.orgExists(org); err != nil {
		return nil, err
	}
	id, ok := s.flowNames[org+"/"+name]
	if !ok {
		return nil, NotFound("flow", name)
	}
	return s.flows[id], nil
}

// trailByName finds a trail of a flow by name (or by id).
func (s *State) trailByName(flow *Flow, name string) (*trailState, bool) {
	if id, ok := s.trailNames[trailNameKey(flow.ID, name)]; ok {
		return s.trails[id], true
	}
	if ts, ok := s.trails[name]; ok && ts.trail.FlowID == flow.ID {
		return ts, true
	}
	return nil, false
}

// ResolveTrail returns the id of a trail addressed by organisation, flow
// name and trail name (or id).
func (s *State) ResolveTrail(org, flowName, trail string) (string, error) {
	flow, err := s.flowByName(org, flowName)
	if err != nil {
		return "", err
	}
	ts, ok := s.trailByName(flow, trail)
	if !ok {
		return "", NotFound("trail", trail)
	}
	return ts.trail.ID, nil
}

// SaveFlowByName creates a flow of an organisation, or updates the one of
// that name (the fields given replace the flow's).
type SaveFlowByName struct {
	ID, Org, Name string
	Description   *string
	TemplateYAML  *string
	RequiredTypes []string
}

// Decide implements Command.
func (c SaveFlowByName) Decide(s *State, now time.Time) ([]Event, error) {
	if err := s.orgExists(c.Org); err != nil {
		return nil, err
	}
	org := c.Org
	f := FlowFields{Description: c.Description, TemplateYAML: c.TemplateYAML, RequiredAttestationTypes: c.RequiredTypes}
	if id, ok := s.flowNames[org+"/"+strings.TrimSpace(c.Name)]; ok {
		return UpdateFlow{ID: id, Fields: f}.Decide(s, now) // unchanged: no events
	}
	name := c.Name
	f.Name, f.OrgSlug = &name, &org
	return CreateFlow{ID: c.ID, Fields: f}.Decide(s, now)
}

// SaveTrailByName begins a trail of a flow, or updates the trail of that
// name by merging: fields and extra keys the request does not mention stay
// as they were.
type SaveTrailByName struct {
	ID, Org, FlowName string
	Fields            TrailFields
}

// Decide implements Command.
func (c SaveTrailByName) Decide(s *State, now time.Time) ([]Event, error) {
	flow, err := s.flowByName(c.Org, c.FlowName)
	if err != nil {
		return nil, err
	}
	f := c.Fields
	f.FlowID, f.Lenient = flow.ID, true
	if f.Name == nil || strings.TrimSpace(*f.Name) == "" {
		return nil, Invalid("name", "is required")
	}
	ts, ok := s.trailByName(flow, strings.TrimSpace(*f.Name))
	if !ok {
		return BeginTrail{ID: c.ID, Fields: f}.Decide(s, now)
	}
	t := *ts.trail
	set := func(dst *string, v *string) {
		if v != nil && *v != "" {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&t.GitCommitSha, f.GitCommitSha)
	set(&t.GitBranch, f.GitBranch)
	set(&t.GitAuthor, f.GitAuthor)
	set(&t.GitAuthorEmail, f.GitAuthorEmail)
	if f.Description != nil {
		t.Description = f.Description
	}
	if f.TemplateYAML != nil && *f.TemplateYAML != "" {
		if _, err := ParseComplianceTemplate(*f.TemplateYAML); err != nil {
			return nil, err
		}
		t.TemplateYAML = f.TemplateYAML
	}
	if f.BuildURL != nil {
		t.BuildURL = f.BuildURL
	}
	if len(f.Extra) > 0 {
		t.Extra = maps.Clone(t.Extra)
		if t.Extra == nil {
			t.Extra = map[string]json.RawMessage{}
		}
		maps.Copy(t.Extra, f.Extra)
	}
	// The merged trail obeys the rules a new one does.
	check := TrailFields{FlowID: t.FlowID, Name: &t.Name, GitCommitSha: &t.GitCommitSha, GitBranch: &t.GitBranch,
		GitAuthor: &t.GitAuthor, GitAuthorEmail: &t.GitAuthorEmail, Description: t.Description, BuildURL: t.BuildURL, Lenient: true}
	if err := check.validate(); err != nil {
		return nil, err
	}
	if sameButUpdated(t, *ts.trail, func(v *Trail) { v.UpdatedAt = time.Time{} }) {
		return nil, nil // a pipeline run again begins the same trail
	}
	t.UpdatedAt = now.UTC()
	ev := Event{Type: EventTrailUpdated, Org: t.Org(), Aggregate: AggregateTrail, AggregateID: t.ID, Data: &t}
	next := ts.with(func(*TrailFacts) {}).withTrail(&t)
	return append([]Event{ev}, s.statusEvents(next, "trail updated", now)...), nil
}

// ReportArtifactByName reports an artifact on a trail addressed by names.
type ReportArtifactByName struct {
	Org, FlowName, Trail string
	Report               ReportArtifact
}

// Decide implements Command.
func (c ReportArtifactByName) Decide(s *State, now time.Time) ([]Event, error) {
	id, err := s.ResolveTrail(c.Org, c.FlowName, c.Trail)
	if err != nil {
		return nil, err
	}
	r := c.Report
	r.TrailID = id
	return r.Decide(s, now)
}

// RecordAttestationByName records an attestation on a trail addressed by
// names.
type RecordAttestationByName struct {
	Org, FlowName, Trail string
	Record               RecordAttestation
}

// Decide implements Command.
func (c RecordAttestationByName) Decide(s *State, now time.Time) ([]Event, error) {
	id, err := s.ResolveTrail(c.Org, c.FlowName, c.Trail)
	if err != nil {
		return nil, err
	}
	r := c.Record
	r.TrailID = id
	return r.Decide(s, now)
}

// SaveEnvironmentByName creates an environment of an organisation or
// updates the one of that name.
type SaveEnvironmentByName struct {
	ID, Org string
	Fields  EnvironmentFields
}

// Decide implements Command.
func (c SaveEnvironmentByName) Decide(s *State, now time.Time) ([]Event, error) {
	if err := s.orgExists(c.Org); err != nil {
		return nil, err
	}
	if c.Fields.Name == nil {
		return nil, Invalid("name", "is required")
	}
	org := c.Org
	f := c.Fields
	f.OrgSlug = &org
	if id, ok := s.envNames[org+"/"+strings.TrimSpace(*f.Name)]; ok {
		return UpdateEnvironment{ID: id, Fields: f}.Decide(s, now) // unchanged: no events
	}
	return CreateEnvironment{ID: c.ID, Fields: f}.Decide(s, now)
}

// EnvironmentByName returns the id of an organisation's environment.
func (s *State) EnvironmentByName(org, name string) (string, bool) {
	id, ok := s.envNames[org+"/"+name]
	return id, ok
}

// SaveLogicalByName creates or updates a logical environment whose members
// are an organisation's environments named in Included (all of them
// replace the current members).
type SaveLogicalByName struct {
	ID, Org, Name string
	Description   *string
	Included      []string
}

// Decide implements Command.
func (c SaveLogicalByName) Decide(s *State, now time.Time) ([]Event, error) {
	if err := s.orgExists(c.Org); err != nil {
		return nil, err
	}
	if err := validateShort("name", &c.Name, true); err != nil {
		return nil, err
	}
	if c.Description != nil && utf8.RuneCountInString(*c.Description) > MaxDescLen {
		return nil, Invalid("description", "must be at most %d characters", MaxDescLen)
	}
	members := []string{}
	for _, n := range c.Included {
		id, ok := s.envNames[c.Org+"/"+n]
		if !ok {
			return nil, NotFound("environment", n)
		}
		if !slices.Contains(members, id) {
			members = append(members, id)
		}
	}
	var l LogicalEnvironment
	var was *LogicalEnvironment
	typ := EventLogicalUpdated
	for _, cur := range s.logical {
		if cur.Name == strings.TrimSpace(c.Name) && cur.OrgSlug != nil && *cur.OrgSlug == c.Org {
			l, was = *cur, cur
		}
	}
	if l.ID == "" {
		typ = EventLogicalCreated
		org := c.Org
		l = LogicalEnvironment{ID: c.ID, Name: strings.TrimSpace(c.Name), OrgSlug: &org, CreatedAt: now.UTC()}
	}
	if c.Description != nil {
		l.Description = *c.Description
	}
	l.Members, l.UpdatedAt = members, now.UTC()
	if was != nil && sameButUpdated(l, *was, func(v *LogicalEnvironment) { v.UpdatedAt = time.Time{} }) {
		return nil, nil
	}
	return []Event{{Type: typ, Org: NoOrg, Aggregate: AggregateLogical, AggregateID: l.ID, Data: &l}}, nil
}

// LogicalByName returns a logical environment by name.
func (s *State) LogicalByName(name string) (*LogicalEnvironment, bool) {
	for _, l := range s.logical {
		if l.Name == name {
			return l, true
		}
	}
	return nil, false
}

// sameButUpdated reports whether next equals cur once clear has wiped what
// every update changes (its time). Kosli's create-or-update commands run in
// every pipeline; one that changes nothing appends nothing, so the ledger
// does not fill with updates that are not facts.
func sameButUpdated[T any](next, cur T, clear func(*T)) bool {
	clear(&next)
	clear(&cur)
	return reflect.DeepEqual(next, cur)
}
