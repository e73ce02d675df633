package domain

import (
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Flow event types.
const (
	EventFlowCreated = "flow.created"
	EventFlowUpdated = "flow.updated"
	EventFlowDeleted = "flow.deleted"
)

// AggregateFlow names the flow aggregate in envelopes.
const AggregateFlow = "flow"

// Flow is a kind of delivery process and the evidence it requires. The same
// shape is the payload of flow.created and flow.updated (the flow as it is
// after the event) and the API's FlowResponse.
type Flow struct {
	ID                       string            `json:"id"`
	Name                     string            `json:"name"`
	Description              string            `json:"description"`
	RequiredAttestationTypes []string          `json:"requiredAttestationTypes"`
	Tags                     map[string]string `json:"tags"`
	OrgSlug                  *string           `json:"orgSlug"`
	TemplateYAML             *string           `json:"templateYaml"`
	RequiresApproval         bool              `json:"requiresApproval"`
	RequiredApproverRoles    []string          `json:"requiredApproverRoles"`
	CreatedAt                time.Time         `json:"createdAt"`
	UpdatedAt                time.Time         `json:"updatedAt"`
}

// FlowDeleted is the payload of flow.deleted.
type FlowDeleted struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	OrgSlug *string `json:"orgSlug"`
}

// Org is the flow's organisation slug, or NoOrg.
func (f *Flow) Org() string {
	if f.OrgSlug == nil {
		return NoOrg
	}
	return orgOrNone(*f.OrgSlug)
}

// scopedName is the key under which a flow name must be unique: names are
// unique within their organisation.
func (f *Flow) scopedName() string { return f.Org() + "/" + f.Name }

// Limits on flow fields.
const (
	MaxNameLen     = 255
	MaxDescLen     = 4096
	MaxTags        = 50
	MaxTagKeyLen   = 64
	MaxTagValueLen = 256
	MaxListItems   = 100
	MaxTemplateLen = 256 * 1024
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidSlug reports whether s is an organisation slug: lower-case letters,
// digits and hyphens, 1–63 characters, not starting or ending with a hyphen.
func ValidSlug(s string) bool { return slugPattern.MatchString(s) }

// FlowFields are the client-settable fields of a flow. Nil means "not given".
type FlowFields struct {
	Name                     *string
	Description              *string
	RequiredAttestationTypes []string
	Tags                     map[string]string
	OrgSlug                  *string
	TemplateYAML             *string
	RequiresApproval         *bool
	RequiredApproverRoles    []string
}

func validateFlowFields(f FlowFields, create bool) error {
	if create || f.Name != nil {
		if f.Name == nil || strings.TrimSpace(*f.Name) == "" {
			return Invalid("name", "is required")
		}
		if utf8.RuneCountInString(*f.Name) > MaxNameLen {
			return Invalid("name", "must be at most %d characters", MaxNameLen)
		}
	}
	if f.Description != nil && utf8.RuneCountInString(*f.Description) > MaxDescLen {
		return Invalid("description", "must be at most %d characters", MaxDescLen)
	}
	if err := validateList("requiredAttestationTypes", f.RequiredAttestationTypes); err != nil {
		return err
	}
	if err := validateList("requiredApproverRoles", f.RequiredApproverRoles); err != nil {
		return err
	}
	if len(f.Tags) > MaxTags {
		return Invalid("tags", "at most %d tags", MaxTags)
	}
	for k, v := range f.Tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > MaxTagKeyLen {
			return Invalid("tags", "key %q must be 1-%d characters", k, MaxTagKeyLen)
		}
		if utf8.RuneCountInString(v) > MaxTagValueLen {
			return Invalid("tags", "value of %q must be at most %d characters", k, MaxTagValueLen)
		}
	}
	if f.OrgSlug != nil && *f.OrgSlug != "" && !ValidSlug(*f.OrgSlug) {
		return Invalid("orgSlug", "must be lower-case letters, digits and hyphens, 1-63 characters")
	}
	if f.TemplateYAML != nil && *f.TemplateYAML != "" {
		if len(*f.TemplateYAML) > MaxTemplateLen {
			return Invalid("templateYaml", "must be at most %d bytes", MaxTemplateLen)
		}
		if _, err := ParseComplianceTemplate(*f.TemplateYAML); err != nil {
			return err
		}
	}
	return nil
}

func validateList(field string, items []string) error {
	if len(items) > MaxListItems {
		return Invalid(field, "at most %d entries", MaxListItems)
	}
	for _, it := range items {
		if strings.TrimSpace(it) == "" || utf8.RuneCountInString(it) > MaxNameLen {
			return Invalid(field, "entries must be 1-%d characters", MaxNameLen)
		}
	}
	return nil
}

// ParseTemplate parses a flow template as YAML and returns it as plain data
// (maps, lists, scalars) suitable for JSON.
func ParseTemplate(src string) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		return nil, Invalid("templateYaml", "is not valid YAML: %v", err)
	}
	return jsonable(v), nil
}

// jsonable converts yaml.v3's map[string]any / map[any]any trees to JSON-safe values.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = jsonable(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[stringify(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = jsonable(x)
		}
		return t
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano)
	default:
		return v
	}
}

func stringify(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(k)
	return strings.TrimSpace(string(b))
}

func emptyToNil(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	s := *p
	return &s
}

// trimAll trims every entry: attestation types are trimmed when recorded,
// so a required " junit" must be "junit" to be fillable.
func trimAll(in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// CreateFlow defines a new flow.
type CreateFlow struct {
	ID     string
	Fields FlowFields
}

// Decide implements Command.
func (c CreateFlow) Decide(s *State, now time.Time) ([]Event, error) {
	f, err := c.Build(now)
	if err != nil {
		return nil, err
	}
	if _, taken := s.flowNames[f.scopedName()]; taken {
		return nil, Conflict("a flow named %q already exists", f.Name)
	}
	if _, taken := s.flows[f.ID]; taken {
		return nil, Conflict("flow id %q already exists", f.ID)
	}
	return []Event{{Type: EventFlowCreated, Org: f.Org(), Aggregate: AggregateFlow, AggregateID: f.ID, Data: f}}, nil
}

// Build validates the fields and returns the flow the command would create,
// without looking at state (used for dry runs too).
func (c CreateFlow) Build(now time.Time) (*Flow, error) {
	if err := validateFlowFields(c.Fields, true); err != nil {
		return nil, err
	}
	f := &Flow{
		ID:                       c.ID,
		Name:                     strings.TrimSpace(*c.Fields.Name),
		RequiredAttestationTypes: trimAll(c.Fields.RequiredAttestationTypes),
		Tags:                     c.Fields.Tags,
		OrgSlug:                  emptyToNil(c.Fields.OrgSlug),
		TemplateYAML:             emptyToNil(c.Fields.TemplateYAML),
		RequiredApproverRoles:    orEmpty(c.Fields.RequiredApproverRoles),
		CreatedAt:                now.UTC(),
		UpdatedAt:                now.UTC(),
	}
	if f.Tags == nil {
		f.Tags = map[string]string{}
	}
	if c.Fields.Description != nil {
		f.Description = *c.Fields.Description
	}
	if c.Fields.RequiresApproval != nil {
		f.RequiresApproval = *c.Fields.RequiresApproval
	}
	return f, nil
}

// UpdateFlow changes the given fields of a flow; fields not given stay.
type UpdateFlow struct {
	ID     string
	Fields FlowFields
}

// Decide implements Command.
func (c UpdateFlow) Decide(s *State, now time.Time) ([]Event, error) {
	if err := validateFlowFields(c.Fields, false); err != nil {
		return nil, err
	}
	cur, ok := s.flows[c.ID]
	if !ok {
		return nil, NotFound("flow", c.ID)
	}
	f := *cur
	p := c.Fields
	if p.Name != nil {
		f.Name = strings.TrimSpace(*p.Name)
	}
	if p.Description != nil {
		f.Description = *p.Description
	}
	if p.RequiredAttestationTypes != nil {
		f.RequiredAttestationTypes = trimAll(p.RequiredAttestationTypes)
	}
	if p.Tags != nil {
		f.Tags = p.Tags
	}
	if p.OrgSlug != nil {
		f.OrgSlug = emptyToNil(p.OrgSlug)
	}
	if p.TemplateYAML != nil {
		f.TemplateYAML = emptyToNil(p.TemplateYAML)
	}
	if p.RequiresApproval != nil {
		f.RequiresApproval = *p.RequiresApproval
	}
	if p.RequiredApproverRoles != nil {
		f.RequiredApproverRoles = p.RequiredApproverRoles
	}
	if id, taken := s.flowNames[f.scopedName()]; taken && id != f.ID {
		return nil, Conflict("a flow named %q already exists", f.Name)
	}
	if reflect.DeepEqual(f, *cur) {
		return nil, nil // nothing changes: no event
	}
	f.UpdatedAt = now.UTC()
	ev := Event{Type: EventFlowUpdated, Org: f.Org(), Aggregate: AggregateFlow, AggregateID: f.ID, Data: &f}
	return append([]Event{ev}, s.flowStatusEvents(&f, now)...), nil
}

// DeleteFlow removes a flow from the read models; its history stays in the ledger.
type DeleteFlow struct {
	ID string
}

// Decide implements Command.
func (c DeleteFlow) Decide(s *State, _ time.Time) ([]Event, error) {
	cur, ok := s.flows[c.ID]
	if !ok {
		return nil, NotFound("flow", c.ID)
	}
	if n := len(s.flowTrails[c.ID]); n > 0 {
		return nil, Conflict("flow %q has %d trail(s); their history would lose its flow", cur.Name, n)
	}
	d := &FlowDeleted{ID: cur.ID, Name: cur.Name, OrgSlug: cur.OrgSlug}
	return []Event{{Type: EventFlowDeleted, Org: cur.Org(), Aggregate: AggregateFlow, AggregateID: cur.ID, Data: d}}, nil
}
