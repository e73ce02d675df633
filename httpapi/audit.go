package httpapi

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
	"github.com/factstore/factstore/projections"
)

// auditEvent is the original API's AuditEventResponse, plus the ledger
// position and envelope type.
type auditEvent struct {
	ID             string  `json:"id"`
	EventType      string  `json:"eventType"`
	Type           string  `json:"type"`
	Seq            uint64  `json:"seq"`
	Org            string  `json:"org"`
	Aggregate      string  `json:"aggregate"`
	AggregateID    string  `json:"aggregateId"`
	EnvironmentID  *string `json:"environmentId"`
	TrailID        *string `json:"trailId"`
	ArtifactSha256 *string `json:"artifactSha256"`
	Actor          string  `json:"actor"`
	Payload        string  `json:"payload"`
	OccurredAt     string  `json:"occurredAt"`
	Region         *string `json:"region"`
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toAuditEvent(e *ledger.Envelope) auditEvent {
	trail, env, sha := domain.AuditSubjects(e.Aggregate, e.AggregateID, e.Data)
	return auditEvent{
		ID: e.ID, EventType: domain.AuditEventType(e.Type, e.Data), Type: e.Type, Seq: e.Seq, Org: e.Org,
		Aggregate: e.Aggregate, AggregateID: e.AggregateID, EnvironmentID: nilIfEmpty(env), TrailID: nilIfEmpty(trail),
		ArtifactSha256: nilIfEmpty(sha), Actor: e.Actor, Payload: string(e.Data), OccurredAt: e.Time,
	}
}

func toAuditEvents(envs []*ledger.Envelope) []auditEvent {
	out := make([]auditEvent, 0, len(envs))
	for _, e := range envs {
		out = append(out, toAuditEvent(e))
	}
	return out
}

var auditTypePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,99}$`)

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := projections.AuditQuery{
		EventType: r.URL.Query().Get("eventType"),
		TrailID:   r.URL.Query().Get("trailId"),
		Actor:     r.URL.Query().Get("actor"),
	}
	var err error
	if q.EventType != "" && !auditTypePattern.MatchString(q.EventType) {
		writeError(w, r, fmt.Errorf("%w: eventType must be an upper-case event name such as FLOW_CREATED", errBadParam))
		return
	}
	if q.From, err = timeParam(r, "from"); err == nil {
		if q.To, err = timeParam(r, "to"); err == nil {
			if q.Page, err = intParam(r, "page", 0, 0, 1<<30); err == nil {
				if q.Size, err = intParam(r, "size", 20, 1, 100); err == nil {
					q.SortDesc, err = boolParam(r, "sortDesc", true)
				}
			}
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.cfg.Store.Audit(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"events": toAuditEvents(p.Events), "page": q.Page, "size": q.Size, "totalElements": p.Total, "totalPages": totalPages(p.Total, q.Size),
	})
}

func totalPages(total, size int) int {
	if size <= 0 {
		return 0
	}
	return (total + size - 1) / size
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) {
	e, err := s.cfg.Store.EventByID(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAuditEvent(e))
}
