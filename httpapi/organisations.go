package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
)

// organisationBody is the JSON of an organisation create or update.
type organisationBody struct {
	Slug        *string `json:"slug"`
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Type        *string `json:"type"`
}

func (b organisationBody) fields() domain.OrganisationFields {
	return domain.OrganisationFields{Name: b.Name, Description: b.Description, Type: b.Type}
}

func (s *Server) createOrganisation(w http.ResponseWriter, r *http.Request) {
	var b organisationBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	slug := ""
	if b.Slug != nil {
		slug = *b.Slug
	}
	s.command(w, r, domain.CreateOrganisation{ID: newID(), Slug: slug, Fields: b.fields()}, http.StatusCreated)
}

func (s *Server) listOrganisations(w http.ResponseWriter, r *http.Request) {
	orgs, err := s.cfg.Store.Organisations()
	answer(w, r, orgs, err)
}

func (s *Server) getOrganisation(w http.ResponseWriter, r *http.Request) {
	o, err := s.cfg.Store.Organisation(mux.Vars(r)["slug"])
	answer(w, r, o, err)
}

func (s *Server) updateOrganisation(w http.ResponseWriter, r *http.Request) {
	var b organisationBody
	if err := decodeUpdateJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	slug := mux.Vars(r)["slug"]
	if b.Slug != nil && *b.Slug != slug {
		writeError(w, r, domain.Invalid("slug", "cannot be changed"))
		return
	}
	s.update(w, r, domain.UpdateOrganisation{Slug: slug, Fields: b.fields()}, func() (any, error) { return s.cfg.Store.Organisation(slug) })
}

func (s *Server) deleteOrganisation(w http.ResponseWriter, r *http.Request) {
	out, err := s.write(w, r, domain.DeleteOrganisation{Slug: mux.Vars(r)["slug"]})
	if err != nil {
		writeError(w, r, err)
		return
	}
	respondDeleted(w, out)
}

// organisationFlows lists the flows of an existing organisation.
func (s *Server) organisationFlows(w http.ResponseWriter, r *http.Request) {
	slug := mux.Vars(r)["slug"]
	if _, err := s.cfg.Store.Organisation(slug); err != nil {
		writeError(w, r, err)
		return
	}
	flows, err := s.cfg.Store.Flows(slug)
	answer(w, r, flows, err)
}
