package domain

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Artifact event types.
const (
	EventArtifactReported    = "artifact.reported"
	EventProvenanceRecorded  = "artifact.provenance.recorded"
	defaultProvenanceBuilder = "GENERIC"
)

// Artifact is a build output (an image, a binary) identified by its SHA-256
// digest, reported on a trail. The same shape is the payload of
// artifact.reported and the API's ArtifactResponse (which adds the
// current provenanceStatus).
type Artifact struct {
	ID               string    `json:"id"`
	TrailID          string    `json:"trailId"`
	FlowID           string    `json:"flowId"`
	ImageName        string    `json:"imageName"`
	ImageTag         string    `json:"imageTag"`
	Sha256Digest     string    `json:"sha256Digest"`
	Registry         *string   `json:"registry"`
	ReportedAt       time.Time `json:"reportedAt"`
	ReportedBy       string    `json:"reportedBy"`
	OrgSlug          *string   `json:"orgSlug"`
	ProvenanceStatus string    `json:"provenanceStatus"`
	// TemplateName is the artifact's name in the flow template (Kosli's
	// template_reference_name); templates match artifacts by it, else by
	// imageName.
	TemplateName *string `json:"templateReferenceName,omitempty"`
	// Extra keeps what a Kosli client sent beyond our fields (git commit,
	// build and commit URLs, annotations, external URLs).
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// Fact is the artifact as compliance sees it.
func (a *Artifact) Fact() ArtifactFact {
	name := a.ImageName
	if a.TemplateName != nil && *a.TemplateName != "" {
		name = *a.TemplateName
	}
	return ArtifactFact{ID: a.ID, Name: name, Digest: a.Sha256Digest}
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-fA-F]{64}$`)

// NormalizeDigest returns the canonical form of an artifact digest:
// "sha256:" and 64 lower-case hex digits. A bare 64-digit hex string is
// accepted too. ok is false for anything else.
func NormalizeDigest(d string) (string, bool) {
	d = strings.TrimSpace(d)
	if len(d) == 64 {
		d = "sha256:" + d
	}
	if !digestPattern.MatchString(d) {
		return "", false
	}
	return strings.ToLower(d), true
}

// ArtifactFields are the client-settable fields of an artifact report.
type ArtifactFields struct {
	ImageName, ImageTag, Sha256Digest, ReportedBy *string
	Registry                                      *string
	TemplateName                                  *string
	Extra                                         map[string]json.RawMessage
	// TagOptional accepts a report without imageTag (Kosli's API has none).
	TagOptional bool
}

// ReportArtifact records that a trail produced an artifact. The same digest
// may be reported on many trails.
type ReportArtifact struct {
	ID      string
	TrailID string
	Fields  ArtifactFields
	// Actor is the default reportedBy.
	Actor string
}

// Build validates the fields and returns the artifact the command would
// report, without looking at state.
func (c ReportArtifact) Build(now time.Time) (*Artifact, error) {
	f := c.Fields
	if err := validateShort("imageName", f.ImageName, true); err != nil {
		return nil, err
	}
	if err := validateShort("imageTag", f.ImageTag, !f.TagOptional); err != nil {
		return nil, err
	}
	if f.Sha256Digest == nil || *f.Sha256Digest == "" {
		return nil, Invalid("sha256Digest", "is required")
	}
	digest, ok := NormalizeDigest(*f.Sha256Digest)
	if !ok {
		return nil, Invalid("sha256Digest", "must be sha256: followed by 64 hex digits")
	}
	if err := validateShort("reportedBy", f.ReportedBy, false); err != nil {
		return nil, err
	}
	if err := validateShort("registry", f.Registry, false); err != nil {
		return nil, err
	}
	if err := validateShort("templateReferenceName", f.TemplateName, false); err != nil {
		return nil, err
	}
	a := &Artifact{
		ID: c.ID, TrailID: c.TrailID, ImageName: strings.TrimSpace(*f.ImageName), Sha256Digest: digest,
		Registry: emptyToNil(f.Registry), ReportedAt: now.UTC(), ReportedBy: c.Actor, ProvenanceStatus: ProvenanceNone,
		TemplateName: trimmedOrNil(f.TemplateName), Extra: f.Extra,
	}
	if f.ImageTag != nil {
		a.ImageTag = strings.TrimSpace(*f.ImageTag)
	}
	if f.ReportedBy != nil && strings.TrimSpace(*f.ReportedBy) != "" {
		a.ReportedBy = strings.TrimSpace(*f.ReportedBy)
	}
	return a, nil
}

// Decide implements Command.
func (c ReportArtifact) Decide(s *State, now time.Time) ([]Event, error) {
	a, err := c.Build(now)
	if err != nil {
		return nil, err
	}
	ts, ok := s.trails[c.TrailID]
	if !ok {
		return nil, NotFound("trail", c.TrailID)
	}
	if _, taken := s.artifacts[a.ID]; taken {
		return nil, Conflict("artifact id %q already exists", a.ID)
	}
	a.FlowID, a.OrgSlug = ts.trail.FlowID, ts.trail.OrgSlug
	ev := Event{Type: EventArtifactReported, Org: ts.trail.Org(), Aggregate: AggregateTrail, AggregateID: ts.trail.ID, Data: a}
	next := ts.with(func(f *TrailFacts) {
		f.Artifacts = append(slices.Clip(f.Artifacts), a.Fact())
	})
	return append([]Event{ev}, s.statusEvents(next, "artifact "+a.ImageName+" reported", now)...), nil
}

// Provenance is the build provenance of an artifact: who built it, from
// what, and the signed statement that says so. It is the payload of
// artifact.provenance.recorded and the API's BuildProvenanceResponse.
type Provenance struct {
	ID                  string     `json:"id"`
	ArtifactID          string     `json:"artifactId"`
	TrailID             string     `json:"trailId"`
	Sha256Digest        string     `json:"sha256Digest"`
	BuilderID           string     `json:"builderId"`
	BuilderType         string     `json:"builderType"`
	BuildConfigURI      *string    `json:"buildConfigUri"`
	SourceRepositoryURI *string    `json:"sourceRepositoryUri"`
	SourceCommitSha     *string    `json:"sourceCommitSha"`
	BuildStartedOn      *time.Time `json:"buildStartedOn"`
	BuildFinishedOn     *time.Time `json:"buildFinishedOn"`
	SlsaLevel           string     `json:"slsaLevel"`
	// LegacySignature is the original API's free-text signature field; it
	// is kept, never trusted.
	LegacySignature *string `json:"provenanceSignature"`
	ProvenanceSignature
	ProvenanceStatus    string    `json:"provenanceStatus"`
	VerificationMessage string    `json:"verificationMessage"`
	RecordedAt          time.Time `json:"recordedAt"`
}

var (
	builderTypes = map[string]bool{"GITHUB_ACTIONS": true, "JENKINS": true, "CIRCLE_CI": true, "GITLAB_CI": true, defaultProvenanceBuilder: true}
	slsaLevels   = map[string]bool{"L0": true, "L1": true, "L2": true, "L3": true}
)

// RecordProvenance attaches build provenance to an artifact and verifies its
// signature: the verdict is part of the recorded fact.
type RecordProvenance struct {
	ID         string
	TrailID    string
	ArtifactID string
	Fields     Provenance
}

// Decide implements Command.
func (c RecordProvenance) Decide(s *State, now time.Time) ([]Event, error) {
	p := c.Fields
	if err := validateShort("builderId", &p.BuilderID, true); err != nil {
		return nil, err
	}
	if p.BuilderType == "" {
		p.BuilderType = defaultProvenanceBuilder
	}
	if !builderTypes[p.BuilderType] {
		return nil, Invalid("builderType", "must be one of GITHUB_ACTIONS, GITLAB_CI, JENKINS, CIRCLE_CI, GENERIC")
	}
	if p.SlsaLevel == "" {
		p.SlsaLevel = "L0"
	}
	if !slsaLevels[p.SlsaLevel] {
		return nil, Invalid("slsaLevel", "must be one of L0, L1, L2, L3")
	}
	for field, v := range map[string]*string{"buildConfigUri": p.BuildConfigURI, "sourceRepositoryUri": p.SourceRepositoryURI} {
		if v != nil && len(*v) > MaxURLLen {
			return nil, Invalid(field, "must be at most %d bytes", MaxURLLen)
		}
	}
	if err := validateShort("sourceCommitSha", p.SourceCommitSha, false); err != nil {
		return nil, err
	}
	ts, ok := s.trails[c.TrailID]
	if !ok {
		return nil, NotFound("trail", c.TrailID)
	}
	art, ok := ts.artifact(c.ArtifactID)
	if !ok {
		return nil, NotFound("artifact", c.ArtifactID)
	}
	p.ID, p.ArtifactID, p.TrailID, p.Sha256Digest, p.RecordedAt = c.ID, art.ID, ts.trail.ID, art.Digest, now.UTC()
	p.ProvenanceStatus, p.VerificationMessage = VerifyProvenance(p.ProvenanceSignature, art.Digest)
	return []Event{{Type: EventProvenanceRecorded, Org: ts.trail.Org(), Aggregate: AggregateTrail, AggregateID: ts.trail.ID, Data: &p}}, nil
}
