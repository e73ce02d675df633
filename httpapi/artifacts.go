package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/factstore/factstore/domain"
)

// artifactBody is the JSON of an artifact report; name and tag are the API
// reference's spellings of imageName and imageTag.
type artifactBody struct {
	ImageName    *string `json:"imageName"`
	Name         *string `json:"name"`
	ImageTag     *string `json:"imageTag"`
	Tag          *string `json:"tag"`
	Sha256Digest *string `json:"sha256Digest"`
	Registry     *string `json:"registry"`
	ReportedBy   *string `json:"reportedBy"`
}

func firstSet(ps ...*string) *string {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func (s *Server) reportArtifact(w http.ResponseWriter, r *http.Request) {
	var b artifactBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	f := domain.ArtifactFields{ImageName: firstSet(b.ImageName, b.Name), ImageTag: firstSet(b.ImageTag, b.Tag),
		Sha256Digest: b.Sha256Digest, Registry: b.Registry, ReportedBy: b.ReportedBy}
	out, err := s.write(w, r, domain.ReportArtifact{ID: newID(), TrailID: mux.Vars(r)["trailId"], Fields: f, Actor: actorOf(r)})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.respondCreated(w, r, out)
}

func (s *Server) trailArtifacts(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.TrailArtifacts(mux.Vars(r)["trailId"])
	answer(w, r, items, err)
}

// digestParam reads a digest from a query parameter or path variable; the
// "sha256:" prefix is optional.
func digestParam(name, v string) (string, error) {
	d, ok := domain.NormalizeDigest(v)
	if !ok {
		return "", domain.Invalid(name, "must be sha256: followed by 64 hex digits")
	}
	return d, nil
}

func (s *Server) artifactsByDigest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("sha256")
	if q == "" {
		q = r.URL.Query().Get("sha256Digest")
	}
	d, err := digestParam("sha256", q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, err := s.cfg.Store.ArtifactsByDigest(d)
	answer(w, r, items, err)
}

// provenanceBody is the JSON of a build provenance record. The signature
// material is a DSSE envelope (dsseEnvelope) or a detached signature
// (payload, signature), with the signer's publicKey (PEM). The original's
// provenanceSignature string is kept; when it holds a DSSE envelope's JSON
// it is verified as one.
type provenanceBody struct {
	BuilderID           *string        `json:"builderId"`
	BuilderType         *string        `json:"builderType"`
	BuildConfigURI      *string        `json:"buildConfigUri"`
	SourceRepositoryURI *string        `json:"sourceRepositoryUri"`
	SourceCommitSha     *string        `json:"sourceCommitSha"`
	BuildStartedOn      *time.Time     `json:"buildStartedOn"`
	BuildFinishedOn     *time.Time     `json:"buildFinishedOn"`
	SlsaLevel           *string        `json:"slsaLevel"`
	ProvenanceSignature *string        `json:"provenanceSignature"`
	DSSEEnvelope        *dsse.Envelope `json:"dsseEnvelope"`
	Payload             *string        `json:"payload"`
	Signature           *string        `json:"signature"`
	PublicKey           *string        `json:"publicKey"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (b provenanceBody) provenance() domain.Provenance {
	p := domain.Provenance{
		BuilderID: deref(b.BuilderID), BuilderType: deref(b.BuilderType), BuildConfigURI: b.BuildConfigURI,
		SourceRepositoryURI: b.SourceRepositoryURI, SourceCommitSha: b.SourceCommitSha, BuildStartedOn: b.BuildStartedOn,
		BuildFinishedOn: b.BuildFinishedOn, SlsaLevel: deref(b.SlsaLevel), LegacySignature: b.ProvenanceSignature,
	}
	p.Envelope, p.Payload, p.Signature, p.PublicKey = b.DSSEEnvelope, deref(b.Payload), deref(b.Signature), deref(b.PublicKey)
	if p.Envelope == nil && b.ProvenanceSignature != nil && strings.HasPrefix(strings.TrimSpace(*b.ProvenanceSignature), "{") {
		var env dsse.Envelope
		if json.Unmarshal([]byte(*b.ProvenanceSignature), &env) == nil && env.Payload != "" {
			p.Envelope = &env
		}
	} else if p.Envelope == nil && p.Signature == "" && b.ProvenanceSignature != nil && p.Payload != "" {
		// The original's field holding a detached signature.
		p.Signature = *b.ProvenanceSignature
	}
	return p
}

func (s *Server) recordProvenance(w http.ResponseWriter, r *http.Request) {
	var b provenanceBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	v := mux.Vars(r)
	s.command(w, r, domain.RecordProvenance{ID: newID(), TrailID: v["trailId"], ArtifactID: v["artifactId"], Fields: b.provenance()}, http.StatusCreated)
}

// artifactOnTrail returns the artifact of a path's {trailId}/{artifactId}.
func (s *Server) artifactOnTrail(r *http.Request) (*domain.Artifact, error) {
	v := mux.Vars(r)
	a, err := s.cfg.Store.Artifact(v["artifactId"])
	if err != nil {
		return nil, err
	}
	if a.TrailID != v["trailId"] {
		return nil, domain.NotFound("artifact", v["artifactId"])
	}
	return a, nil
}

func (s *Server) getProvenance(w http.ResponseWriter, r *http.Request) {
	a, err := s.artifactOnTrail(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.cfg.Store.Provenance(a.ID)
	answer(w, r, p, err)
}

func (s *Server) provenanceByDigest(w http.ResponseWriter, r *http.Request) {
	d, err := digestParam("sha256", mux.Vars(r)["sha256"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, err := s.cfg.Store.ProvenanceByDigest(d)
	answer(w, r, items, err)
}

// verifyProvenance checks the recorded provenance's signature again, with
// today's code, and answers {artifactId, provenanceStatus, message}. It
// changes nothing: the recorded verdict stays in the ledger.
func (s *Server) verifyProvenance(w http.ResponseWriter, r *http.Request) {
	a, err := s.artifactOnTrail(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.cfg.Store.Provenance(a.ID)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"artifactId": a.ID, "provenanceStatus": domain.ProvenanceNone,
			"message": "no provenance recorded"})
		return
	}
	status, msg := domain.VerifyProvenance(p.ProvenanceSignature, a.Sha256Digest)
	writeJSON(w, http.StatusOK, map[string]any{"artifactId": a.ID, "provenanceStatus": status, "message": msg,
		"recordedStatus": p.ProvenanceStatus, "provenanceId": p.ID})
}
