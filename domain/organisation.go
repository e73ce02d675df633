package domain

import (
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Organisation event types.
const (
	EventOrganisationCreated = "organisation.created"
	EventOrganisationUpdated = "organisation.updated"
	EventOrganisationDeleted = "organisation.deleted"
)

// AggregateOrganisation names the organisation aggregate in envelopes.
const AggregateOrganisation = "organisation"

// Organisation types.
const (
	OrgShared   = "SHARED"
	OrgPersonal = "PERSONAL"
)

// Organisation is a tenant: flows, trails and environments belong to one by
// its slug. The same shape is the payload of organisation.created and
// organisation.updated (the organisation after the event) and the API's
// response.
type Organisation struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Type        string    `json:"type"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// OrganisationDeleted is the payload of organisation.deleted.
type OrganisationDeleted struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

// OrganisationFields are the client-settable fields; nil means "not given".
type OrganisationFields struct {
	Name        *string
	Description *string
	Type        *string
}

func validateOrganisationFields(f OrganisationFields, create bool) error {
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
	if f.Type != nil {
		if t := strings.ToUpper(*f.Type); t != OrgShared && t != OrgPersonal {
			return Invalid("type", "must be SHARED or PERSONAL")
		}
	}
	return nil
}

// CreateOrganisation creates an organisation with a unique slug.
type CreateOrganisation struct {
	ID     string
	Slug   string
	Fields OrganisationFields
}

// Decide implements Command.
func (c CreateOrganisation) Decide(s *State, now time.Time) ([]Event, error) {
	if !ValidSlug(c.Slug) {
		return nil, Invalid("slug", "must be lower-case letters, digits and hyphens, 1-63 characters, not starting or ending with a hyphen")
	}
	if err := validateOrganisationFields(c.Fields, true); err != nil {
		return nil, err
	}
	if _, taken := s.orgs[c.Slug]; taken {
		return nil, Conflict("an organisation with slug %q already exists", c.Slug)
	}
	o := &Organisation{ID: c.ID, Slug: c.Slug, Name: strings.TrimSpace(*c.Fields.Name), Type: OrgShared,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	if c.Fields.Description != nil {
		o.Description = *c.Fields.Description
	}
	if c.Fields.Type != nil {
		o.Type = strings.ToUpper(*c.Fields.Type)
	}
	return []Event{{Type: EventOrganisationCreated, Org: o.Slug, Aggregate: AggregateOrganisation, AggregateID: o.Slug, Data: o}}, nil
}

// UpdateOrganisation changes the given fields; the slug never changes.
type UpdateOrganisation struct {
	Slug   string
	Fields OrganisationFields
}

// Decide implements Command.
func (c UpdateOrganisation) Decide(s *State, now time.Time) ([]Event, error) {
	if err := validateOrganisationFields(c.Fields, false); err != nil {
		return nil, err
	}
	cur, ok := s.orgs[c.Slug]
	if !ok {
		return nil, NotFound("organisation", c.Slug)
	}
	o := *cur
	if c.Fields.Name != nil {
		o.Name = strings.TrimSpace(*c.Fields.Name)
	}
	if c.Fields.Description != nil {
		o.Description = *c.Fields.Description
	}
	if c.Fields.Type != nil {
		o.Type = strings.ToUpper(*c.Fields.Type)
	}
	if reflect.DeepEqual(o, *cur) {
		return nil, nil // nothing changes: no event
	}
	o.UpdatedAt = now.UTC()
	return []Event{{Type: EventOrganisationUpdated, Org: o.Slug, Aggregate: AggregateOrganisation, AggregateID: o.Slug, Data: &o}}, nil
}

// DeleteOrganisation removes an organisation that owns no flows; its
// history stays in the ledger.
type DeleteOrganisation struct {
	Slug string
}

// Decide implements Command.
func (c DeleteOrganisation) Decide(s *State, _ time.Time) ([]Event, error) {
	cur, ok := s.orgs[c.Slug]
	if !ok {
		return nil, NotFound("organisation", c.Slug)
	}
	for _, f := range s.flows {
		if f.Org() == c.Slug {
			return nil, Conflict("organisation %q still has flows (e.g. %q); delete them first", c.Slug, f.Name)
		}
	}
	d := &OrganisationDeleted{ID: cur.ID, Slug: cur.Slug}
	return []Event{{Type: EventOrganisationDeleted, Org: cur.Slug, Aggregate: AggregateOrganisation, AggregateID: cur.Slug, Data: d}}, nil
}
