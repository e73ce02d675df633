package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxLogger
)

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxRequestID).(string)
	return id
}

func loggerFrom(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(ctxLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// observe assigns a request id, and logs and measures every request once.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requestID(r) != "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		log := s.cfg.Logger.With("requestId", id)
		ctx := context.WithValue(context.WithValue(r.Context(), ctxRequestID, id), ctxLogger, log)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		route := "unmatched"
		if cur := mux.CurrentRoute(r.WithContext(ctx)); cur != nil {
			if t, err := cur.GetPathTemplate(); err == nil {
				route = t
			}
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		s.cfg.Metrics.Requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Observe(d.Seconds())
		log.Info("request", "method", r.Method, "route", route, "path", r.URL.Path, "status", rec.status, "duration", d)
	})
}

// recoverPanics turns a panic into a 500 with the JSON error body.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body; reading past it gives 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			limit := s.cfg.MaxBodyBytes
			if cur := mux.CurrentRoute(r); cur != nil {
				switch cur.GetName() {
				case evidenceUploadRoute, kosliAttestRoute:
					limit = s.cfg.MaxEvidenceBytes + multipartOverhead
				case snapshotRoute:
					limit = s.cfg.MaxSnapshotBytes
				}
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}
