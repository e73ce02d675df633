package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/ledger"
	"github.com/factstore/factstore/projections"
)

// Config wires the server to the rest of the system. Writer, Store, Reader
// and Keys are required.
type Config struct {
	// Writer appends commands' events.
	Writer *eventstore.Writer
	// Store answers queries and provides read-your-writes.
	Store *projections.Store
	// Reader reads the stream itself, for verification.
	Reader *eventstore.Reader
	// Keys are the trusted signing keys served and used for verification.
	Keys *ledger.Keyring
	// Metrics, if nil, are created.
	Metrics *Metrics
	// Logger gets one line per request (default slog.Default()).
	Logger *slog.Logger
	// MaxBodyBytes bounds JSON bodies (default 1 MiB).
	MaxBodyBytes int64
	// WriteTimeout bounds a write's wait for storage and projection (default 30 s).
	WriteTimeout time.Duration
	// Evidence stores evidence files; required.
	Evidence *eventstore.EvidenceStore
	// MaxEvidenceBytes bounds one evidence file (default 100 MiB).
	MaxEvidenceBytes int64
	// MaxSnapshotBytes bounds one snapshot report body (default 16 MiB).
	MaxSnapshotBytes int64
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	router *mux.Router

	verifyMu   sync.Mutex
	lastVerify *verification
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Writer == nil {
		errs = append(errs, errors.New("writer is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if cfg.Reader == nil {
		errs = append(errs, errors.New("reader is required"))
	}
	if cfg.Keys == nil {
		errs = append(errs, errors.New("keys is required"))
	}
	if cfg.Evidence == nil {
		errs = append(errs, errors.New("evidence store is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxSnapshotBytes <= 0 {
		cfg.MaxSnapshotBytes = 16 << 20
	}
	if cfg.MaxEvidenceBytes <= 0 {
		cfg.MaxEvidenceBytes = 100 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Writer.Head, cfg.Store.Applied)
	}
	s := &Server{cfg: cfg}
	s.routes()
	return s, nil
}

// Handler returns the root handler with every middleware applied.
func (s *Server) Handler() http.Handler { return s.router }

func (s *Server) routes() {
	r := mux.NewRouter()
	r.Use(s.observe, s.recoverPanics, s.limitBody)
	notFound := s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, fmt.Errorf("%w: %s %s", errRouteNotFound, r.Method, r.URL.Path))
	}))
	notAllowed := s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, fmt.Errorf("%w: %s %s", errMethodNotAllowed, r.Method, r.URL.Path))
	}))
	r.NotFoundHandler, r.MethodNotAllowedHandler = notFound, notAllowed

	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{})).Methods(http.MethodGet)

	// Full paths, not a PathPrefix subrouter: mux answers a method mismatch
	// inside a subrouter with 404 instead of 405.
	v1 := routePrefix{r, "/api/v1"}
	v1.HandleFunc("/flows", s.createFlow).Methods(http.MethodPost)
	v1.HandleFunc("/flows", s.listFlows).Methods(http.MethodGet)
	v1.HandleFunc("/flows/{id}", s.getFlow).Methods(http.MethodGet)
	v1.HandleFunc("/flows/{id}", s.updateFlow).Methods(http.MethodPut)
	v1.HandleFunc("/flows/{id}", s.deleteFlow).Methods(http.MethodDelete)
	v1.HandleFunc("/flows/{id}/template", s.flowTemplate).Methods(http.MethodGet)

	v1.HandleFunc("/organisations", s.createOrganisation).Methods(http.MethodPost)
	v1.HandleFunc("/organisations", s.listOrganisations).Methods(http.MethodGet)
	v1.HandleFunc("/organisations/{slug}", s.getOrganisation).Methods(http.MethodGet)
	v1.HandleFunc("/organisations/{slug}", s.updateOrganisation).Methods(http.MethodPut)
	v1.HandleFunc("/organisations/{slug}", s.deleteOrganisation).Methods(http.MethodDelete)
	v1.HandleFunc("/organisations/{slug}/flows", s.organisationFlows).Methods(http.MethodGet)

	v1.HandleFunc("/trails", s.createTrail).Methods(http.MethodPost)
	v1.HandleFunc("/trails", s.listTrails).Methods(http.MethodGet)
	v1.HandleFunc("/trails/{id}", s.getTrail).Methods(http.MethodGet)
	v1.HandleFunc("/trails/{id}/audit", s.trailAudit).Methods(http.MethodGet)
	v1.HandleFunc("/flows/{id}/trails", s.flowTrails).Methods(http.MethodGet)

	v1.HandleFunc("/trails/{trailId}/artifacts", s.reportArtifact).Methods(http.MethodPost)
	v1.HandleFunc("/trails/{trailId}/artifacts", s.trailArtifacts).Methods(http.MethodGet)
	v1.HandleFunc("/artifacts", s.artifactsByDigest).Methods(http.MethodGet)
	v1.HandleFunc("/trails/{trailId}/artifacts/{artifactId}/provenance", s.recordProvenance).Methods(http.MethodPost)
	v1.HandleFunc("/trails/{trailId}/artifacts/{artifactId}/provenance", s.getProvenance).Methods(http.MethodGet)
	v1.HandleFunc("/trails/{trailId}/artifacts/{artifactId}/provenance/verify", s.verifyProvenance).Methods(http.MethodPost)
	v1.HandleFunc("/artifacts/{sha256}/provenance", s.provenanceByDigest).Methods(http.MethodGet)

	v1.HandleFunc("/trails/{trailId}/attestations", s.recordAttestation).Methods(http.MethodPost)
	v1.HandleFunc("/trails/{trailId}/attestations", s.trailAttestations).Methods(http.MethodGet)
	v1.HandleFunc("/attestations", s.recordAttestation).Methods(http.MethodPost)
	v1.HandleFunc("/attestations/{id}", s.getAttestation).Methods(http.MethodGet)
	v1.HandleFunc("/trails/{trailId}/attestations/{attestationId}/evidence", s.uploadEvidence).
		Methods(http.MethodPost).Name(evidenceUploadRoute)
	v1.HandleFunc("/evidence/{sha256}", s.downloadEvidence).Methods(http.MethodGet)
	v1.HandleFunc("/trails/{id}/evidence", s.trailEvidence).Methods(http.MethodGet)
	v1.HandleFunc("/attestations/{id}/evidence", s.attestationEvidence).Methods(http.MethodGet)

	v1.HandleFunc("/assert", s.assert).Methods(http.MethodPost)
	v1.HandleFunc("/search", s.search).Methods(http.MethodGet)

	v1.HandleFunc("/environments", s.createEnvironment).Methods(http.MethodPost)
	v1.HandleFunc("/environments", s.listEnvironments).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}", s.getEnvironment).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}", s.updateEnvironment).Methods(http.MethodPut)
	v1.HandleFunc("/environments/{id}", s.deleteEnvironment).Methods(http.MethodDelete)
	v1.HandleFunc("/environments/{id}/snapshots", s.recordSnapshot).Methods(http.MethodPost).Name(snapshotRoute)
	v1.HandleFunc("/environments/{id}/snapshots", s.listSnapshots).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/snapshots/latest", s.latestSnapshot).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/snapshots/at", s.snapshotAt).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/snapshots/{index}", s.snapshotByIndex).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/compliance", s.environmentCompliance).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/diff", s.diffSnapshots).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/baselines", s.approveBaseline).Methods(http.MethodPost)
	v1.HandleFunc("/environments/{id}/baselines/current", s.currentBaseline).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/drift", s.drift).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/drift/check", s.checkDrift).Methods(http.MethodPost)
	v1.HandleFunc("/environments/{id}/drift/history", s.driftHistory).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/allowlist", s.addAllowlistEntry).Methods(http.MethodPost)
	v1.HandleFunc("/environments/{id}/allowlist", s.listAllowlist).Methods(http.MethodGet)
	v1.HandleFunc("/environments/{id}/allowlist/{entryId}", s.removeAllowlistEntry).Methods(http.MethodDelete)
	v1.HandleFunc("/logical-environments", s.saveLogical).Methods(http.MethodPost)
	v1.HandleFunc("/logical-environments", s.listLogical).Methods(http.MethodGet)
	v1.HandleFunc("/logical-environments/{id}", s.getLogical).Methods(http.MethodGet)
	v1.HandleFunc("/logical-environments/{id}", s.saveLogical).Methods(http.MethodPut)
	v1.HandleFunc("/logical-environments/{id}", s.deleteLogical).Methods(http.MethodDelete)
	v1.HandleFunc("/logical-environments/{id}/members/{envId}", s.setLogicalMember).Methods(http.MethodPost, http.MethodDelete)
	v1.HandleFunc("/logical-environments/{id}/snapshots/latest", s.logicalLatest).Methods(http.MethodGet)

	r.HandleFunc("/ready", s.ready).Methods(http.MethodGet)
	// /api/v2: the Kosli CLI's routes, then the seed's v2 writes.
	v2 := routePrefix{r, "/api/v2"}
	v2.HandleFunc("/flows/{org}", s.kosliPutFlow).Methods(http.MethodPut)
	v2.HandleFunc("/flows/{org}/template_file", s.kosliPutFlowTemplate).Methods(http.MethodPut)
	v2.HandleFunc("/trails/{org}/{flow}", s.kosliPutTrail).Methods(http.MethodPut)
	// A trail name may hold "/" (the CLI does not escape it): the trail is
	// the rest of the path.
	v2.HandleFunc("/trails/{org}/{flow}/{trail:.+}", s.kosliGetTrail).Methods(http.MethodGet)
	v2.HandleFunc("/trails/{org}", s.kosliListTrails).Methods(http.MethodGet)
	v2.HandleFunc("/artifacts/{org}/{flow}", s.kosliReportArtifact).Methods(http.MethodPost)
	v2.HandleFunc("/attestations/{org}/{flow}/trail/{trail:.+}/{type}", s.kosliAttest).Methods(http.MethodPost).Name(kosliAttestRoute)
	v2.HandleFunc("/attestations/{org}/{flow}/{trail}/{fingerprint}", s.kosliLegacyAttest).Methods(http.MethodPost)
	v2.HandleFunc("/custom-attestation-types/{org}", s.kosliCreateAttestationType).Methods(http.MethodPost)
	v2.HandleFunc("/environments/{org}", s.kosliPutEnvironment).Methods(http.MethodPut)
	v2.HandleFunc("/environments/{org}/{env}", s.kosliGetEnvironment).Methods(http.MethodGet)
	v2.HandleFunc("/environments/{org}/{env}/report/{type}", s.kosliReportSnapshot).Methods(http.MethodPut).Name(snapshotRoute)
	v2.HandleFunc("/environments/{org}/{env}/policies", s.kosliAttachPolicies).Methods(http.MethodPost, http.MethodDelete)
	v2.HandleFunc("/snapshots/{org}/{env}/{id}", s.kosliSnapshot).Methods(http.MethodGet)
	v2.HandleFunc("/policies/{org}", s.kosliPutPolicy).Methods(http.MethodPut)
	v2.HandleFunc("/asserts/{org}/fingerprint/{fp}", s.kosliAssert).Methods(http.MethodGet)
	v2.HandleFunc("/search/{org}/sha/{value}", s.kosliSearch).Methods(http.MethodGet)

	v2.HandleFunc("/trails", s.createTrail).Methods(http.MethodPost)
	v2.HandleFunc("/trails/{trailId}/artifacts", s.reportArtifact).Methods(http.MethodPost)
	v2.HandleFunc("/trails/{trailId}/attestations", s.recordAttestation).Methods(http.MethodPost)
	v2.HandleFunc("/trails/{trailId}/attestations", s.trailAttestations).Methods(http.MethodGet)

	v1.HandleFunc("/audit", s.listAudit).Methods(http.MethodGet)
	v1.HandleFunc("/audit/{id}", s.getAudit).Methods(http.MethodGet)

	v1.HandleFunc("/ledger/status", s.ledgerStatus).Methods(http.MethodGet)
	v1.HandleFunc("/ledger/public-keys", s.publicKeys).Methods(http.MethodGet)
	v1.HandleFunc("/ledger/entries", s.ledgerEntries).Methods(http.MethodGet)
	v1.HandleFunc("/ledger/entries/{recordId}", s.ledgerRecordEntries).Methods(http.MethodGet)
	v1.HandleFunc("/ledger/verify/{recordId}", s.verifyRecord).Methods(http.MethodPost)
	v1.HandleFunc("/ledger/verify-chain", s.verifyChain).Methods(http.MethodPost)
	s.router = r
}

// routePrefix registers routes under a path prefix on the root router.
type routePrefix struct {
	r      *mux.Router
	prefix string
}

func (p routePrefix) HandleFunc(path string, h http.HandlerFunc) *mux.Route {
	return p.r.HandleFunc(p.prefix+path, h)
}

// actorOf names who caused a write. Until authentication lands every
// request acts as "anonymous"; an X-Factstore-Actor header is recorded as a
// claim, not a verified identity.
func actorOf(r *http.Request) string {
	if a := r.Header.Get("X-Factstore-Actor"); a != "" && len(a) <= 200 {
		return a
	}
	return "anonymous"
}

// written is what a write handler gets back: the events, and whether this
// was a dry run.
type written struct {
	res    eventstore.Result
	dryRun bool
}

// write runs cmd through the writer: dry runs are decided and discarded;
// real writes return after the events are stored durably and applied to
// the read models, with X-Factstore-Seq set (a command that appends
// nothing waits for the state it was decided on instead). An
// Idempotency-Key header makes a retried request return the first one's
// events and append nothing.
func (s *Server) write(w http.ResponseWriter, r *http.Request, cmd domain.Command) (written, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
	defer cancel()
	req := eventstore.Request{Command: cmd, Actor: actorOf(r), DryRun: isDryRun(r)}
	if key := r.Header.Get("Idempotency-Key"); key != "" && !req.DryRun {
		if err := checkIdempotencyKey(r); err != nil {
			return written{}, err
		}
		// Scope the key so that different clients and routes never collide.
		route := r.Method + " " + r.URL.Path
		if t, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
			route = r.Method + " " + t
		}
		sum := sha256.Sum256([]byte(req.Actor + "\x00" + route + "\x00" + key))
		req.IdempotencyKey = hex.EncodeToString(sum[:])
	}
	res, err := s.cfg.Writer.Submit(ctx, req)
	if err != nil {
		return written{}, err
	}
	last := res.LastSeq() // 0 for a dry run
	if last > 0 {
		w.Header().Set("X-Factstore-Seq", strconv.FormatUint(last, 10))
		if res.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
	}
	// Answer once the read models hold what was appended or, when nothing
	// was (a dry run, an update that changes nothing), the state the command
	// was decided on: a read after the answer sees it.
	wait := last
	if wait == 0 {
		wait = res.StateSeq
	}
	if wait > 0 {
		if err := s.cfg.Store.WaitFor(ctx, wait); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return written{}, fmt.Errorf("%w: stored at %d but not yet visible: %w", errNotReady, wait, err)
			}
			return written{}, err
		}
	}
	return written{res: res, dryRun: req.DryRun}, nil
}

// checkIdempotencyKey rejects an Idempotency-Key header too long to keep.
func checkIdempotencyKey(r *http.Request) error {
	if len(r.Header.Get("Idempotency-Key")) > 255 {
		return fmt.Errorf("%w: Idempotency-Key must be at most 255 characters", errBadParam)
	}
	return nil
}

// precheck decides cmd without appending it, so that a handler with a
// side effect outside the ledger (storing a file) can refuse first what
// the write would refuse.
func (s *Server) precheck(r *http.Request, cmd domain.Command) error {
	if err := checkIdempotencyKey(r); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
	defer cancel()
	_, err := s.cfg.Writer.Submit(ctx, eventstore.Request{Command: cmd, Actor: actorOf(r), DryRun: true})
	return err
}

// dryRunBody is the answer to a dry run.
type dryRunBody struct {
	DryRun      bool `json:"dryRun"`
	WouldCreate any  `json:"wouldCreate"`
}

// newID returns a fresh resource id: a time-ordered UUID (version 7), so
// the read models' indexes by id grow at the end instead of at random.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
