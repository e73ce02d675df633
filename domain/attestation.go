package domain

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Attestation event types.
const (
	EventAttestationRecorded = "attestation.recorded"
	EventEvidenceAttached    = "attestation.evidence.attached"
)

// Attestation statuses.
const (
	AttestationPassed  = "PASSED"
	AttestationFailed  = "FAILED"
	AttestationPending = "PENDING"
)

// Attestation is a fact about a trail (or one artifact of it): a test run,
// a scan, a review. The same shape is the payload of attestation.recorded
// and the API's AttestationResponse; evidence attached later fills the
// evidence fields and may override status and details.
type Attestation struct {
	ID                    string    `json:"id"`
	TrailID               string    `json:"trailId"`
	FlowID                string    `json:"flowId"`
	Type                  string    `json:"type"`
	Status                string    `json:"status"`
	EvidenceFileHash      *string   `json:"evidenceFileHash"`
	EvidenceFileName      *string   `json:"evidenceFileName"`
	EvidenceFileSizeBytes *int64    `json:"evidenceFileSizeBytes"`
	Details               *string   `json:"details"`
	Name                  *string   `json:"name"`
	EvidenceURL           *string   `json:"evidenceUrl"`
	Compliant             bool      `json:"compliant"`
	OrgSlug               *string   `json:"orgSlug"`
	ArtifactFingerprint   *string   `json:"artifactFingerprint"`
	CreatedAt             time.Time `json:"createdAt"`
	// TargetArtifacts binds the attestation to the template's artifact
	// slots of these names (Kosli's --name artifact.attestation).
	TargetArtifacts []string `json:"targetArtifacts,omitempty"`
	// Extra keeps what a Kosli client sent beyond our fields (junit or
	// snyk results, pull requests, custom data, user data, git commit).
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// AttestationFields are the client-settable fields of an attestation.
type AttestationFields struct {
	Type                *string
	Status              *string
	Details             *string
	Name                *string
	EvidenceURL         *string
	ArtifactFingerprint *string
	TargetArtifacts     []string
	Extra               map[string]json.RawMessage
}

// ValidAttestationStatus reports whether s is PASSED, FAILED or PENDING.
func ValidAttestationStatus(s string) bool {
	return s == AttestationPassed || s == AttestationFailed || s == AttestationPending
}

// RecordAttestation records an attestation on a trail.
type RecordAttestation struct {
	ID      string
	TrailID string
	Fields  AttestationFields
	// Evidence, if set, is a stored file attached in the same append (a
	// Kosli attestation's attachment_file): both facts land, or neither.
	Evidence *Evidence
}

// Build validates the fields and returns the attestation the command would
// record, without looking at state.
func (c RecordAttestation) Build(now time.Time) (*Attestation, error) {
	f := c.Fields
	if err := validateShort("type", f.Type, true); err != nil {
		return nil, err
	}
	status := AttestationPending
	if f.Status != nil {
		status = *f.Status
	}
	if !ValidAttestationStatus(status) {
		return nil, Invalid("status", "must be PASSED, FAILED or PENDING")
	}
	if err := validateShort("name", f.Name, false); err != nil {
		return nil, err
	}
	if f.Details != nil && len(*f.Details) > MaxDetailsLen {
		return nil, Invalid("details", "must be at most %d bytes", MaxDetailsLen)
	}
	if f.Details != nil && !utf8.ValidString(*f.Details) {
		return nil, Invalid("details", "must be UTF-8 text")
	}
	if f.EvidenceURL != nil && len(*f.EvidenceURL) > MaxURLLen {
		return nil, Invalid("evidenceUrl", "must be at most %d bytes", MaxURLLen)
	}
	a := &Attestation{
		ID: c.ID, TrailID: c.TrailID, Type: strings.TrimSpace(*f.Type), Status: status,
		Details: f.Details, Name: trimmedOrNil(f.Name), EvidenceURL: emptyToNil(f.EvidenceURL),
		Compliant: status == AttestationPassed, CreatedAt: now.UTC(), Extra: f.Extra,
	}
	if err := validateList("targetArtifacts", f.TargetArtifacts); err != nil {
		return nil, err
	}
	a.TargetArtifacts = trimAll(f.TargetArtifacts)
	if len(a.TargetArtifacts) == 0 {
		a.TargetArtifacts = nil
	}
	if f.ArtifactFingerprint != nil && *f.ArtifactFingerprint != "" {
		d, ok := NormalizeDigest(*f.ArtifactFingerprint)
		if !ok {
			return nil, Invalid("artifactFingerprint", "must be sha256: followed by 64 hex digits")
		}
		a.ArtifactFingerprint = &d
	}
	return a, nil
}

// Decide implements Command. An attestation bound to an artifact
// (artifactFingerprint) needs that artifact on the trail. The trail's
// status is recomputed.
func (c RecordAttestation) Decide(s *State, now time.Time) ([]Event, error) {
	a, err := c.Build(now)
	if err != nil {
		return nil, err
	}
	ts, ok := s.trails[c.TrailID]
	if !ok {
		return nil, NotFound("trail", c.TrailID)
	}
	if _, taken := s.attestations[a.ID]; taken {
		return nil, Conflict("attestation id %q already exists", a.ID)
	}
	if a.ArtifactFingerprint != nil && !ts.hasDigest(*a.ArtifactFingerprint) {
		return nil, Invalid("artifactFingerprint", "no artifact with digest %s was reported on trail %s", *a.ArtifactFingerprint, ts.trail.ID)
	}
	a.FlowID, a.OrgSlug = ts.trail.FlowID, ts.trail.OrgSlug
	events := []Event{{Type: EventAttestationRecorded, Org: ts.trail.Org(), Aggregate: AggregateTrail, AggregateID: ts.trail.ID, Data: a}}
	if c.Evidence != nil {
		e, err := newEvidence(*c.Evidence, a.ID, ts.trail.ID, now)
		if err != nil {
			return nil, err
		}
		events = append(events, Event{Type: EventEvidenceAttached, Org: ts.trail.Org(), Aggregate: AggregateTrail, AggregateID: ts.trail.ID, Data: e})
	}
	next := ts.withAttestation(AttestationFactOf(a))
	return append(events, s.statusEvents(next, a.Type+" attestation "+a.Status, now)...), nil
}

func trimmedOrNil(p *string) *string {
	if p == nil || strings.TrimSpace(*p) == "" {
		return nil
	}
	s := strings.TrimSpace(*p)
	return &s
}

// AttestationFactOf is what compliance needs of an attestation.
func AttestationFactOf(a *Attestation) AttestationFact {
	f := AttestationFact{ID: a.ID, Type: a.Type, Status: a.Status}
	if a.Name != nil {
		f.Name = *a.Name
	}
	if a.ArtifactFingerprint != nil {
		f.Fingerprint = *a.ArtifactFingerprint
	}
	f.Targets = a.TargetArtifacts
	return f
}

// Evidence describes a stored evidence file; the bytes live in the object
// store under SHA256Hash, never in the ledger.
type Evidence struct {
	ID            string    `json:"id"`
	AttestationID string    `json:"attestationId"`
	TrailID       string    `json:"trailId"`
	FileName      string    `json:"fileName"`
	SHA256Hash    string    `json:"sha256Hash"`
	FileSizeBytes int64     `json:"fileSizeBytes"`
	ContentType   string    `json:"contentType"`
	StoredAt      time.Time `json:"storedAt"`
	ExternalURL   *string   `json:"externalUrl"`
}

// EvidenceAttached is the payload of attestation.evidence.attached. When a
// processor judged the file, Processor, Status and Details carry its
// verdict, which overrides the attestation's.
type EvidenceAttached struct {
	Evidence
	Processor *string `json:"processor"`
	Status    *string `json:"status"`
	Details   *string `json:"details"`
}

// ProcessorVerdict is what an evidence processor concluded.
type ProcessorVerdict struct {
	Processor, Status, Details string
}

// newEvidence validates a stored file's description for an attestation.
func newEvidence(ev Evidence, attestationID, trailID string, now time.Time) (*EvidenceAttached, error) {
	e := &EvidenceAttached{Evidence: ev}
	e.AttestationID, e.TrailID, e.StoredAt = attestationID, trailID, now.UTC()
	if strings.TrimSpace(e.FileName) == "" {
		e.FileName = "evidence"
	}
	if len(e.FileName) > MaxShortLen {
		return nil, Invalid("file", "file name must be at most %d bytes", MaxShortLen)
	}
	return e, nil
}

// AttachEvidence attaches a stored evidence file to an attestation.
type AttachEvidence struct {
	TrailID       string
	AttestationID string
	Evidence      Evidence
	// Verdict, if not nil, overrides the attestation's status and details.
	Verdict *ProcessorVerdict
}

// Decide implements Command.
func (c AttachEvidence) Decide(s *State, now time.Time) ([]Event, error) {
	ts, ok := s.trails[c.TrailID]
	if !ok {
		return nil, NotFound("trail", c.TrailID)
	}
	if s.attestations[c.AttestationID] != c.TrailID {
		return nil, NotFound("attestation", c.AttestationID)
	}
	e, err := newEvidence(c.Evidence, c.AttestationID, c.TrailID, now)
	if err != nil {
		return nil, err
	}
	ev := Event{Type: EventEvidenceAttached, Org: ts.trail.Org(), Aggregate: AggregateTrail, AggregateID: ts.trail.ID, Data: e}
	if c.Verdict == nil {
		return []Event{ev}, nil
	}
	if !ValidAttestationStatus(c.Verdict.Status) {
		return nil, Invalid("status", "processor verdict %q is not an attestation status", c.Verdict.Status)
	}
	v := *c.Verdict
	e.Processor, e.Status, e.Details = &v.Processor, &v.Status, &v.Details
	next := ts.with(func(f *TrailFacts) { f.setStatus(c.AttestationID, c.Verdict.Status) })
	return append([]Event{ev}, s.statusEvents(next, c.Verdict.Processor+" evidence "+c.Verdict.Status, now)...), nil
}
