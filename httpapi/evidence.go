package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/policy/evidence"
)

// evidenceUploadRoute names the upload route, whose body limit is the
// evidence limit instead of the JSON one.
const evidenceUploadRoute = "evidence-upload"

// multipartOverhead is the room a multipart body needs beyond its file.
const multipartOverhead = 64 << 10

// errNoFile is a multipart upload without a "file" part.
var errNoFile = errors.New("multipart field \"file\" is required")

// spooled is an uploaded file kept in a temporary file while it is judged
// and stored.
type spooled struct {
	f           *os.File
	name        string
	contentType string
	size        int64
	hash        string
}

func (s *spooled) close() {
	_ = s.f.Close()
	_ = os.Remove(s.f.Name()) //nolint:gosec // the name is of our own os.CreateTemp file, not client input

}

// spoolUpload reads the multipart field "file" into a temporary file,
// hashing it on the way; a file over the limit is a 413.
func (s *Server) spoolUpload(r *http.Request) (*spooled, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("%w: expected a multipart/form-data body: %w", errBadJSON, err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", errBadJSON, errNoFile)
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, &http.MaxBytesError{Limit: s.cfg.MaxEvidenceBytes}
			}
			return nil, fmt.Errorf("%w: multipart body: %w", errBadJSON, err)
		}
		if part.FormName() != "file" {
			_ = part.Close()
			continue
		}
		return s.spoolPart(part)
	}
}

func (s *Server) spoolPart(part *multipart.Part) (*spooled, error) {
	defer func() { _ = part.Close() }()
	f, err := os.CreateTemp("", "factstore-evidence-*")
	if err != nil {
		return nil, fmt.Errorf("httpapi: spool evidence: %w", err)
	}
	sp := &spooled{f: f, name: "evidence", contentType: part.Header.Get("Content-Type")}
	if n := filepath.Base(part.FileName()); part.FileName() != "" && n != "." && n != "/" {
		sp.name = n
	}
	if sp.contentType == "" || sp.contentType == "application/octet-stream" {
		if t := mime.TypeByExtension(filepath.Ext(sp.name)); t != "" {
			sp.contentType = t
		}
	}
	if sp.contentType == "" {
		sp.contentType = "application/octet-stream"
	}
	h := sha256.New()
	limit := s.cfg.MaxEvidenceBytes
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(part, limit+1))
	if err != nil {
		sp.close()
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		return nil, fmt.Errorf("%w: reading the file: %w", errBadJSON, err)
	}
	if n > limit {
		sp.close()
		return nil, &http.MaxBytesError{Limit: limit}
	}
	sp.size, sp.hash = n, hex.EncodeToString(h.Sum(nil))
	return sp, nil
}

// uploadEvidence stores an evidence file and attaches it to an
// attestation. A processor for the attestation's type judges the file
// first: a file it cannot parse is a 422 and nothing is stored.
func (s *Server) uploadEvidence(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	att, err := s.cfg.Store.Attestation(v["attestationId"])
	if err == nil && att.TrailID != v["trailId"] {
		err = domain.NotFound("attestation", v["attestationId"])
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	sp, err := s.spoolUpload(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer sp.close()
	cmd := domain.AttachEvidence{TrailID: att.TrailID, AttestationID: att.ID, Evidence: domain.Evidence{
		ID: newID(), FileName: sp.name, SHA256Hash: sp.hash, FileSizeBytes: sp.size, ContentType: sp.contentType,
	}}
	if cmd.Verdict, err = s.judge(att.Type, sp); err != nil {
		writeError(w, r, err)
		return
	}
	if !isDryRun(r) {
		// Store only what the ledger will accept: a file no event names
		// would take space nobody can see or reclaim.
		if err = s.precheck(r, cmd); err != nil {
			writeError(w, r, err)
			return
		}
		if err = s.store(r, sp); err != nil {
			writeError(w, r, err)
			return
		}
	}
	s.command(w, r, cmd, http.StatusCreated)
}

// store puts the spooled file into the evidence store (once per hash).
func (s *Server) store(r *http.Request, sp *spooled) error {
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("httpapi: rewind evidence: %w", err)
	}
	return s.cfg.Evidence.Put(r.Context(), sp.hash, sp.contentType, sp.f)
}

// judge runs the evidence processor for an attestation type, if one exists.
func (s *Server) judge(attType string, sp *spooled) (*domain.ProcessorVerdict, error) {
	if _, ok, _ := evidence.Process(attType, sp.name, nil); !ok {
		return nil, nil
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("httpapi: rewind spooled evidence: %w", err)
	}
	content, err := io.ReadAll(sp.f)
	if err != nil {
		return nil, fmt.Errorf("httpapi: read spooled evidence: %w", err)
	}
	res, _, err := evidence.Process(attType, sp.name, content)
	if err != nil {
		return nil, err
	}
	return &domain.ProcessorVerdict{Processor: res.Processor, Status: res.Status, Details: res.Details}, nil
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// downloadEvidence streams an evidence file by its hex SHA-256.
func (s *Server) downloadEvidence(w http.ResponseWriter, r *http.Request) {
	hash := mux.Vars(r)["sha256"]
	if !hexHash.MatchString(hash) {
		writeError(w, r, fmt.Errorf("%w: sha256 must be 64 lower-case hex digits", errBadParam))
		return
	}
	meta, err := s.cfg.Store.EvidenceByHash(hash)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, size, err := s.cfg.Evidence.Get(r.Context(), hash)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer func() { _ = body.Close() }()
	w.Header().Set("Content-Type", meta.ContentType)
	w.Header().Set("Content-Length", strconv.FormatUint(size, 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": meta.FileName}))
	w.Header().Set("Digest", "sha-256="+hash)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, body)
}

func (s *Server) trailEvidence(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.TrailEvidence(mux.Vars(r)["id"])
	answer(w, r, items, err)
}

func (s *Server) attestationEvidence(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.AttestationEvidence(mux.Vars(r)["id"])
	answer(w, r, items, err)
}
