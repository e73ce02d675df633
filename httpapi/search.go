package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/factstore/factstore/projections"
)

// searchLimit bounds the results one search returns; total still counts
// every match.
const searchLimit = 100

// search matches q over flows, trails, artifacts and attestations; type
// narrows it to one kind.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q, ok := r.URL.Query()["q"]
	if !ok {
		writeError(w, r, fmt.Errorf("%w: q is required", errBadParam))
		return
	}
	query := strings.TrimSpace(q[0])
	typ := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("type")))
	var types []string
	if typ != "" {
		if !slices.Contains(projections.SearchTypes, typ) {
			writeError(w, r, fmt.Errorf("%w: type must be one of %s", errBadParam, strings.Join(projections.SearchTypes, ", ")))
			return
		}
		types = []string{typ}
	}
	if len(query) > 256 {
		writeError(w, r, fmt.Errorf("%w: q must be at most 256 characters", errBadParam))
		return
	}
	results, total := []projections.SearchResult{}, 0
	if query != "" {
		var err error
		if results, total, err = s.cfg.Store.Search(query, types, searchLimit); err != nil {
			writeError(w, r, err)
			return
		}
	}
	var typeOut *string
	if typ != "" {
		typeOut = &typ
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "total": total, "query": query, "type": typeOut})
}
