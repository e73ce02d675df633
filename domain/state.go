package domain

import (
	"encoding/json"
	"fmt"
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
	undo      []func()
}

// NewState returns the state of an empty ledger.
func NewState() *State {
	return &State{flows: map[string]*Flow{}, flowNames: map[string]string{}, orgs: map[string]*Organisation{}}
}

// Mark returns a point Rollback can return to.
func (s *State) Mark() int { return len(s.undo) }

// Rollback undoes every change since mark.
func (s *State) Rollback(mark int) {
	for i := len(s.undo) - 1; i >= mark; i-- {
		s.undo[i]()
	}
	s.undo = s.undo[:mark]
}

// Commit forgets the journal: changes so far are durable.
func (s *State) Commit() { s.undo = s.undo[:0] }

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
	}
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
