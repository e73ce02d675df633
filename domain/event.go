package domain

import (
	"encoding/json"
	"time"
)

// NoOrg is the org of events that belong to no organisation.
const NoOrg = "_"

// Event is a fact a command produced, before the ledger seals it.
type Event struct {
	// Type is the past-tense event name, e.g. "flow.created".
	Type string
	// Org is the organisation slug, or NoOrg.
	Org string
	// Aggregate and AggregateID name what the event is about.
	Aggregate   string
	AggregateID string
	// Data is the payload; it must marshal to a JSON object.
	Data any
}

// Recorded is an event as the ledger stored it.
type Recorded struct {
	Seq         uint64
	ID          string
	Type        string
	Org         string
	Aggregate   string
	AggregateID string
	Actor       string
	Time        time.Time
	Data        json.RawMessage
}

// Command is a request to change state. Decide must be pure: it reads s and
// returns the events the command causes, or an error and no events.
type Command interface {
	Decide(s *State, now time.Time) ([]Event, error)
}

// orgOrNone maps an empty slug to NoOrg.
func orgOrNone(slug string) string {
	if slug == "" {
		return NoOrg
	}
	return slug
}
