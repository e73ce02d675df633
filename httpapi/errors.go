package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/policy/custom"
	"github.com/factstore/factstore/policy/evidence"
	"github.com/factstore/factstore/projections"
)

var (
	// errBadJSON is malformed JSON or a wrong JSON type.
	errBadJSON = errors.New("malformed request body")
	// errBadParam is an invalid query or path parameter.
	errBadParam = errors.New("invalid parameter")
	// errRouteNotFound is an unknown route.
	errRouteNotFound = errors.New("no such route")
	// errMethodNotAllowed is a known route with another method.
	errMethodNotAllowed = errors.New("method not allowed")
	// errNotReady means the read models have not caught up in time.
	errNotReady = errors.New("read models not caught up")
)

// statusOf is the one table from errors to HTTP statuses.
func statusOf(err error) int {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errBadJSON), errors.Is(err, errBadParam), errors.Is(err, domain.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, evidence.ErrUnparseable):
		return http.StatusUnprocessableEntity
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, errRouteNotFound), errors.Is(err, eventstore.ErrEvidenceNotFound):
		return http.StatusNotFound
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, domain.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, eventstore.ErrChainBroken), errors.Is(err, eventstore.ErrUnavailable),
		errors.Is(err, eventstore.ErrClosed), errors.Is(err, projections.ErrHalted), errors.Is(err, errNotReady),
		errors.Is(err, custom.ErrBusy):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// errorBody is the JSON error answer of every route.
type errorBody struct {
	Status    int    `json:"status"`
	Error     string `json:"error"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
	RequestID string `json:"requestId,omitempty"`
}

// answer writes v as the 200 answer of a query, or err.
func answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	writeJSON(w, status, errorBodyFor(w, r, err, status))
}

// errorBodyFor builds the JSON error body of err answered with status.
func errorBodyFor(w http.ResponseWriter, r *http.Request, err error, status int) errorBody {
	msg := err.Error()
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		msg = fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit)
	}
	if status == http.StatusInternalServerError {
		// Never leak internals; the log line has the detail.
		loggerFrom(r).Error("internal error", "err", err)
		msg = "internal error"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	return errorBody{
		Status: status, Error: http.StatusText(status), Message: msg,
		Timestamp: time.Now().UTC().Format(time.RFC3339Nano), RequestID: requestID(r),
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"status":500,"error":"Internal Server Error","message":"encode response"}`)
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
