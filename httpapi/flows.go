package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
)

// flowBody is the JSON of a flow create or update. Absent fields are nil;
// requiredAttestations is the API reference's spelling of
// requiredAttestationTypes.
type flowBody struct {
	Name                     *string           `json:"name"`
	Description              *string           `json:"description"`
	RequiredAttestationTypes []string          `json:"requiredAttestationTypes"`
	RequiredAttestations     []string          `json:"requiredAttestations"`
	Tags                     map[string]string `json:"tags"`
	OrgSlug                  *string           `json:"orgSlug"`
	TemplateYAML             *string           `json:"templateYaml"`
	RequiresApproval         *bool             `json:"requiresApproval"`
	RequiredApproverRoles    []string          `json:"requiredApproverRoles"`
}

func (b flowBody) fields() domain.FlowFields {
	types := b.RequiredAttestationTypes
	if types == nil {
		types = b.RequiredAttestations
	}
	return domain.FlowFields{
		Name: b.Name, Description: b.Description, RequiredAttestationTypes: types, Tags: b.Tags,
		OrgSlug: b.OrgSlug, TemplateYAML: b.TemplateYAML, RequiresApproval: b.RequiresApproval,
		RequiredApproverRoles: b.RequiredApproverRoles,
	}
}

func (s *Server) createFlow(w http.ResponseWriter, r *http.Request) {
	var b flowBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	out, err := s.write(w, r, domain.CreateFlow{ID: newID(), Fields: b.fields()})
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The answer is the event's payload itself, so a replayed request gets
	// byte-identical bytes.
	respondEvent(w, out, http.StatusCreated)
}

// command runs cmd and answers with its first event's payload and status.
func (s *Server) command(w http.ResponseWriter, r *http.Request, cmd domain.Command, status int) {
	out, err := s.write(w, r, cmd)
	if err != nil {
		writeError(w, r, err)
		return
	}
	respondEvent(w, out, status)
}

// update runs an update command. One that changes nothing appends no
// event (PUTting a resource as it stands is common: pipelines re-apply
// their definitions on every run); its answer is the resource as it
// stands, which current reads.
func (s *Server) update(w http.ResponseWriter, r *http.Request, cmd domain.Command, current func() (any, error)) {
	out, err := s.write(w, r, cmd)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(out.res.Events) > 0 {
		respondEvent(w, out, http.StatusOK)
		return
	}
	v, err := current()
	switch {
	case err != nil:
		writeError(w, r, err)
	case out.dryRun:
		writeJSON(w, http.StatusOK, dryRunBody{DryRun: true, WouldCreate: v})
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// respondEvent answers with the payload of the request's first event.
func respondEvent(w http.ResponseWriter, out written, status int) {
	data := out.res.Events[0].Data
	if out.dryRun {
		writeJSON(w, http.StatusOK, dryRunBody{DryRun: true, WouldCreate: json.RawMessage(data)})
		return
	}
	writeRaw(w, status, data)
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) {
	flows, err := s.cfg.Store.Flows(r.URL.Query().Get("orgSlug"))
	answer(w, r, flows, err)
}

func (s *Server) getFlow(w http.ResponseWriter, r *http.Request) {
	f, err := s.cfg.Store.Flow(mux.Vars(r)["id"])
	answer(w, r, f, err)
}

func (s *Server) updateFlow(w http.ResponseWriter, r *http.Request) {
	var b flowBody
	if err := decodeUpdateJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	id := mux.Vars(r)["id"]
	s.update(w, r, domain.UpdateFlow{ID: id, Fields: b.fields()}, func() (any, error) { return s.cfg.Store.Flow(id) })
}

func (s *Server) deleteFlow(w http.ResponseWriter, r *http.Request) {
	out, err := s.write(w, r, domain.DeleteFlow{ID: mux.Vars(r)["id"]})
	if err != nil {
		writeError(w, r, err)
		return
	}
	respondDeleted(w, out)
}

// respondDeleted answers a delete: 204, or for a dry run 200 with the
// deletion event's payload.
func respondDeleted(w http.ResponseWriter, out written) {
	if out.dryRun {
		writeJSON(w, http.StatusOK, map[string]any{"dryRun": true, "wouldDelete": json.RawMessage(out.res.Events[0].Data)})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// flowTemplate answers {flowId, templateYaml, effectiveTemplate}: the YAML
// text and its parsed form (null when the flow has no template).
func (s *Server) flowTemplate(w http.ResponseWriter, r *http.Request) {
	f, err := s.cfg.Store.Flow(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	var effective any
	if f.TemplateYAML != nil {
		if effective, err = domain.ParseTemplate(*f.TemplateYAML); err != nil {
			writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"flowId": f.ID, "templateYaml": f.TemplateYAML, "effectiveTemplate": effective})
}
