package domain

import (
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Logical environment event types.
const (
	EventLogicalCreated       = "logical-environment.created"
	EventLogicalUpdated       = "logical-environment.updated"
	EventLogicalDeleted       = "logical-environment.deleted"
	EventLogicalMemberAdded   = "logical-environment.member.added"
	EventLogicalMemberRemoved = "logical-environment.member.removed"
)

// AggregateLogical names the logical environment aggregate.
const AggregateLogical = "logical-environment"

// LogicalEnvironment groups physical environments (say, the regions of
// "production") into one view. The same shape is the payload of its
// created/updated/member events (the state after the event).
type LogicalEnvironment struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
	// OrgSlug is set for logical environments made through the Kosli door,
	// whose names are scoped by organisation.
	OrgSlug   *string   `json:"orgSlug,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// LogicalDeleted is the payload of logical-environment.deleted.
type LogicalDeleted struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SaveLogicalEnvironment creates (Create) or updates a logical
// environment; nil fields are left unchanged on update.
type SaveLogicalEnvironment struct {
	ID          string
	Create      bool
	Name        *string
	Description *string
}

// Decide implements Command. Names are unique among logical environments
// of no organisation.
func (c SaveLogicalEnvironment) Decide(s *State, now time.Time) ([]Event, error) {
	var l LogicalEnvironment
	typ := EventLogicalUpdated
	if c.Create {
		l = LogicalEnvironment{ID: c.ID, Members: []string{}, CreatedAt: now.UTC()}
		typ = EventLogicalCreated
		if err := validateShort("name", c.Name, true); err != nil {
			return nil, err
		}
	} else {
		cur, ok := s.logical[c.ID]
		if !ok {
			return nil, NotFound("logical environment", c.ID)
		}
		l = *cur
		if err := validateShort("name", c.Name, false); err != nil {
			return nil, err
		}
	}
	if c.Name != nil && strings.TrimSpace(*c.Name) != "" {
		l.Name = strings.TrimSpace(*c.Name)
	}
	if c.Description != nil {
		if utf8.RuneCountInString(*c.Description) > MaxDescLen {
			return nil, Invalid("description", "must be at most %d characters", MaxDescLen)
		}
		l.Description = *c.Description
	}
	for id, other := range s.logical {
		if id != l.ID && other.Name == l.Name && other.OrgSlug == nil && l.OrgSlug == nil {
			return nil, Conflict("a logical environment named %q already exists", l.Name)
		}
	}
	if !c.Create && reflect.DeepEqual(l, *s.logical[c.ID]) {
		return nil, nil // nothing changes: no event
	}
	l.UpdatedAt = now.UTC()
	return []Event{{Type: typ, Org: NoOrg, Aggregate: AggregateLogical, AggregateID: l.ID, Data: &l}}, nil
}

// DeleteLogicalEnvironment removes a logical environment.
type DeleteLogicalEnvironment struct{ ID string }

// Decide implements Command.
func (c DeleteLogicalEnvironment) Decide(s *State, _ time.Time) ([]Event, error) {
	cur, ok := s.logical[c.ID]
	if !ok {
		return nil, NotFound("logical environment", c.ID)
	}
	return []Event{{Type: EventLogicalDeleted, Org: NoOrg, Aggregate: AggregateLogical, AggregateID: c.ID,
		Data: &LogicalDeleted{ID: c.ID, Name: cur.Name}}}, nil
}

// SetLogicalMember adds (Add) or removes a physical environment.
type SetLogicalMember struct {
	LogicalID, EnvironmentID string
	Add                      bool
}

// Decide implements Command. Adding a member twice conflicts; removing one
// that is not a member is not found.
func (c SetLogicalMember) Decide(s *State, now time.Time) ([]Event, error) {
	cur, ok := s.logical[c.LogicalID]
	if !ok {
		return nil, NotFound("logical environment", c.LogicalID)
	}
	if _, ok := s.envs[c.EnvironmentID]; !ok && c.Add {
		return nil, NotFound("environment", c.EnvironmentID)
	}
	l := *cur
	has := slices.Contains(l.Members, c.EnvironmentID)
	typ := EventLogicalMemberAdded
	switch {
	case c.Add && has:
		return nil, Conflict("environment %q is already a member", c.EnvironmentID)
	case c.Add:
		l.Members = append(slices.Clone(l.Members), c.EnvironmentID)
	case !has:
		return nil, NotFound("member", c.EnvironmentID)
	default:
		typ = EventLogicalMemberRemoved
		l.Members = slices.DeleteFunc(slices.Clone(l.Members), func(m string) bool { return m == c.EnvironmentID })
	}
	l.UpdatedAt = now.UTC()
	return []Event{{Type: typ, Org: NoOrg, Aggregate: AggregateLogical, AggregateID: l.ID, Data: &l}}, nil
}
