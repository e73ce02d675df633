package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
)

// isV2 reports whether the request came in on the /api/v2 routes, which
// answer commands with a CommandResult instead of the resource.
func (s *Server) isV2(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/v2/") }

// commandResult is the v2 API's answer to a command.
type commandResult struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
}

// respondCommand answers a v2 command with {id, status, timestamp}: the id
// of the resource the first event created and when it was recorded.
func respondCommand(w http.ResponseWriter, out written, status string) {
	if out.dryRun {
		respondEvent(w, out, http.StatusOK)
		return
	}
	ev := out.res.Events[0]
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(ev.Data, &v)
	writeJSON(w, http.StatusCreated, commandResult{ID: v.ID, Status: status, Timestamp: ev.Time.UTC().Format(time.RFC3339Nano)})
}

// respondCreated answers a create: the resource (201) on v1, the
// CommandResult on v2.
func (s *Server) respondCreated(w http.ResponseWriter, r *http.Request, out written) {
	if s.isV2(r) {
		respondCommand(w, out, "created")
		return
	}
	respondEvent(w, out, http.StatusCreated)
}

// textOrJSON is a field the original typed as a string that clients also
// send as a JSON object or array (details): objects keep their JSON text.
type textOrJSON struct {
	v *string
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *textOrJSON) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		t.v = nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		t.v = &s
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		s := string(b)
		t.v = &s
	default:
		return fmt.Errorf("details must be a string or a JSON object")
	}
	return nil
}

// attestationBody is the JSON of an attestation. trailId is read by
// POST /api/v1/attestations only.
type attestationBody struct {
	TrailID             string     `json:"trailId"`
	Type                *string    `json:"type"`
	Status              *string    `json:"status"`
	Details             textOrJSON `json:"details"`
	Name                *string    `json:"name"`
	EvidenceURL         *string    `json:"evidenceUrl"`
	ArtifactFingerprint *string    `json:"artifactFingerprint"`
}

func (b attestationBody) fields() domain.AttestationFields {
	return domain.AttestationFields{Type: b.Type, Status: b.Status, Details: b.Details.v, Name: b.Name,
		EvidenceURL: b.EvidenceURL, ArtifactFingerprint: b.ArtifactFingerprint}
}

func (s *Server) recordAttestation(w http.ResponseWriter, r *http.Request) {
	var b attestationBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	trailID, ok := mux.Vars(r)["trailId"]
	if !ok {
		if b.TrailID == "" {
			writeError(w, r, domain.Invalid("trailId", "is required"))
			return
		}
		trailID = b.TrailID
	}
	out, err := s.write(w, r, domain.RecordAttestation{ID: newID(), TrailID: trailID, Fields: b.fields()})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.respondCreated(w, r, out)
}

// trailAttestations answers a PageResponse on v1 and a plain array on v2.
func (s *Server) trailAttestations(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["trailId"]
	if s.isV2(r) {
		items, _, err := s.cfg.Store.TrailAttestations(id, 0, 0)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, items)
		return
	}
	page, size, err := pageParams(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, total, err := s.cfg.Store.TrailAttestations(id, page, size)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageResponse{items, page, size, total, totalPages(total, size)})
}

func (s *Server) getAttestation(w http.ResponseWriter, r *http.Request) {
	a, err := s.cfg.Store.Attestation(mux.Vars(r)["id"])
	answer(w, r, a, err)
}
