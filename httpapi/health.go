package httpapi

import "net/http"

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the read models have applied everything this
// process has stored and the chain is intact; 503 otherwise, with the reason.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	applied, head := s.cfg.Store.Applied(), s.cfg.Writer.Head()
	if h := s.cfg.Store.Halted(); h != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "halted", "seq": h.Seq, "reason": h.Reason, "appliedSequence": applied})
		return
	}
	if b := s.cfg.Writer.Broken(); b != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "broken", "reason": b.Error(), "appliedSequence": applied})
		return
	}
	if applied < head {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "catching-up", "appliedSequence": applied, "headSequence": head})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "appliedSequence": applied, "headSequence": head})
}
