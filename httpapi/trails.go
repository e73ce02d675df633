package httpapi

import (
	"net/http"
	"os"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/projections"
)

// trailBody is the JSON of a trail create. ciEnvironment carries the
// client's CI variables for X-Factstore-CI-Context (our extension: the
// original read the server's own environment, which only works when the
// server runs inside the CI job; that remains the fallback).
type trailBody struct {
	FlowID              string            `json:"flowId"`
	Name                *string           `json:"name"`
	GitCommitSha        *string           `json:"gitCommitSha"`
	GitBranch           *string           `json:"gitBranch"`
	GitAuthor           *string           `json:"gitAuthor"`
	GitAuthorEmail      *string           `json:"gitAuthorEmail"`
	PullRequestID       *string           `json:"pullRequestId"`
	PullRequestReviewer *string           `json:"pullRequestReviewer"`
	DeploymentActor     *string           `json:"deploymentActor"`
	OrgSlug             *string           `json:"orgSlug"`
	TemplateYAML        *string           `json:"templateYaml"`
	BuildURL            *string           `json:"buildUrl"`
	CIEnvironment       map[string]string `json:"ciEnvironment"`
}

// ciLookup returns the CI variable lookup of a request: the body's
// ciEnvironment when given, else the server's environment.
func (b trailBody) ciLookup() func(string) string {
	if b.CIEnvironment != nil {
		return func(k string) string { return b.CIEnvironment[k] }
	}
	return os.Getenv
}

func (s *Server) createTrail(w http.ResponseWriter, r *http.Request) {
	var b trailBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	f := domain.TrailFields{
		FlowID: b.FlowID, Name: b.Name, GitCommitSha: b.GitCommitSha, GitBranch: b.GitBranch, GitAuthor: b.GitAuthor,
		GitAuthorEmail: b.GitAuthorEmail, PullRequestID: b.PullRequestID, PullRequestReviewer: b.PullRequestReviewer,
		DeploymentActor: b.DeploymentActor, OrgSlug: b.OrgSlug, TemplateYAML: b.TemplateYAML, BuildURL: b.BuildURL,
	}
	if h := r.Header.Get("X-Factstore-CI-Context"); h != "" {
		if v, ok := domain.ResolveCIContext(h, b.ciLookup()); ok {
			f.FillFromCI(v)
		}
	}
	out, err := s.write(w, r, domain.BeginTrail{ID: newID(), Fields: f})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.respondCreated(w, r, out)
}

func (s *Server) listTrails(w http.ResponseWriter, r *http.Request) {
	trails, err := s.cfg.Store.Trails(r.URL.Query().Get("flowId"))
	answer(w, r, trails, err)
}

func (s *Server) getTrail(w http.ResponseWriter, r *http.Request) {
	t, err := s.cfg.Store.Trail(mux.Vars(r)["id"])
	answer(w, r, t, err)
}

// pageParams reads page (default 0) and size (default 20, 1..100).
func pageParams(r *http.Request) (page, size int, err error) {
	if page, err = intParam(r, "page", 0, 0, 1<<30); err != nil {
		return 0, 0, err
	}
	size, err = intParam(r, "size", 20, 1, 100)
	return page, size, err
}

// pageResponse is the original's PageResponse.
type pageResponse struct {
	Items      any `json:"items"`
	Page       int `json:"page"`
	Size       int `json:"size"`
	TotalItems int `json:"totalItems"`
	TotalPages int `json:"totalPages"`
}

func (s *Server) flowTrails(w http.ResponseWriter, r *http.Request) {
	page, size, err := pageParams(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, total, err := s.cfg.Store.FlowTrails(mux.Vars(r)["id"], page, size)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageResponse{items, page, size, total, totalPages(total, size)})
}

// trailAudit answers every audit event of a trail, oldest first, as an
// array (the original's shape).
func (s *Server) trailAudit(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, err := s.cfg.Store.Trail(id); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.cfg.Store.Audit(projections.AuditQuery{TrailID: id, Size: 1 << 20})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAuditEvents(p.Events))
}
