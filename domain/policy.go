package domain

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Policy and attestation type event types.
const (
	EventPolicySaved           = "policy.saved"
	EventPoliciesAttached      = "environment.policies.attached"
	EventPoliciesDetached      = "environment.policies.detached"
	EventAttestationTypeSaved  = "attestation-type.saved"
	AggregatePolicy            = "policy"
	AggregateAttestationType   = "attestation-type"
	maxPolicyBytes             = 256 * 1024
	maxAttestationTypeDefBytes = 256 * 1024
)

// Policy is an environment policy (Kosli's policy YAML, schema v1), one
// version of it: the payload of policy.saved.
type Policy struct {
	ID          string    `json:"id"`
	Org         string    `json:"org"`
	Name        string    `json:"name"`
	Version     int       `json:"version"`
	Description string    `json:"description"`
	Comment     string    `json:"comment"`
	Type        string    `json:"type"`
	YAML        string    `json:"yaml"`
	CreatedAt   time.Time `json:"createdAt"`
}

// SavePolicy stores a new version of a policy (the first creates it). The
// caller has validated the YAML (package policy parses it).
type SavePolicy struct {
	ID     string
	Policy Policy
}

// Decide implements Command.
func (c SavePolicy) Decide(s *State, now time.Time) ([]Event, error) {
	p := c.Policy
	if err := s.orgExists(p.Org); err != nil {
		return nil, err
	}
	if err := validateShort("name", &p.Name, true); err != nil {
		return nil, err
	}
	if len(p.YAML) > maxPolicyBytes {
		return nil, Invalid("policy_file", "must be at most %d bytes", maxPolicyBytes)
	}
	if p.Type == "" {
		p.Type = "env"
	}
	key := p.Org + "/" + strings.TrimSpace(p.Name)
	cur, ok := s.policies[key]
	p.ID, p.Version = c.ID, 1
	if ok {
		p.ID, p.Version = cur.id, cur.version+1
	}
	p.Name, p.CreatedAt = strings.TrimSpace(p.Name), now.UTC()
	return []Event{{Type: EventPolicySaved, Org: p.Org, Aggregate: AggregatePolicy, AggregateID: p.ID, Data: &p}}, nil
}

// PoliciesAttached is the payload of environment.policies.attached and
// .detached: the environment's policy names after the change.
type PoliciesAttached struct {
	EnvironmentID string   `json:"environmentId"`
	Changed       []string `json:"changed"`
	Policies      []string `json:"policies"`
}

// AttachPolicies attaches (or with Detach, detaches) named policies to an
// organisation's environment.
type AttachPolicies struct {
	Org, Environment string
	Names            []string
	Detach           bool
}

// Decide implements Command.
func (c AttachPolicies) Decide(s *State, _ time.Time) ([]Event, error) {
	if err := s.orgExists(c.Org); err != nil {
		return nil, err
	}
	id, ok := s.envNames[c.Org+"/"+c.Environment]
	if !ok {
		return nil, NotFound("environment", c.Environment)
	}
	if len(c.Names) == 0 {
		return nil, Invalid("policy_names", "is required")
	}
	cur := s.envs[id]
	next := slices.Clone(cur.policies)
	for _, n := range c.Names {
		if _, ok := s.policies[c.Org+"/"+n]; !ok {
			return nil, NotFound("policy", n)
		}
		if c.Detach {
			next = slices.DeleteFunc(next, func(p string) bool { return p == n })
		} else if !slices.Contains(next, n) {
			next = append(next, n)
		}
	}
	typ := EventPoliciesAttached
	if c.Detach {
		typ = EventPoliciesDetached
	}
	return []Event{{Type: typ, Org: c.Org, Aggregate: AggregateEnvironment, AggregateID: id,
		Data: &PoliciesAttached{EnvironmentID: id, Changed: c.Names, Policies: orEmpty(next)}}}, nil
}

// AttestationType is a custom attestation type, one version of it: the
// payload of attestation-type.saved. Definition is the type as the client
// defined it (name, description, evaluator, summary, schema).
type AttestationType struct {
	Org        string          `json:"org"`
	Name       string          `json:"name"`
	Version    int             `json:"version"`
	Definition json.RawMessage `json:"definition"`
	CreatedAt  time.Time       `json:"createdAt"`
}

// SaveAttestationType stores a new version of a custom attestation type.
// The caller has validated the definition (package policy checks it).
type SaveAttestationType struct {
	Type AttestationType
}

// Decide implements Command.
func (c SaveAttestationType) Decide(s *State, now time.Time) ([]Event, error) {
	t := c.Type
	t.Name = strings.TrimSpace(t.Name)
	if err := s.orgExists(t.Org); err != nil {
		return nil, err
	}
	if err := validateShort("name", &t.Name, true); err != nil {
		return nil, err
	}
	if len(t.Definition) > maxAttestationTypeDefBytes {
		return nil, Invalid("type_schema", "the definition must be at most %d bytes", maxAttestationTypeDefBytes)
	}
	t.Version = s.attestationTypes[t.Org+"/"+t.Name] + 1
	t.CreatedAt = now.UTC()
	return []Event{{Type: EventAttestationTypeSaved, Org: t.Org, Aggregate: AggregateAttestationType, AggregateID: t.Org + "/" + t.Name, Data: &t}}, nil
}
