package domain

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// TrailFacts is what compliance is judged on: a trail, its artifacts and
// its attestations in the order they were recorded (with the status
// evidence processors gave them).
type TrailFacts struct {
	Trail        *Trail
	Artifacts    []ArtifactFact
	Attestations []AttestationFact
}

// ArtifactFact is an artifact as compliance sees it.
type ArtifactFact struct {
	ID, Name, Digest string
}

// AttestationFact is an attestation as compliance sees it.
type AttestationFact struct {
	ID, Type, Name, Status string
	// Fingerprint is the digest of the artifact it is bound to, or "".
	Fingerprint string
	// Targets are the template artifact names it is bound to, if any.
	Targets []string
}

// setStatus changes one attestation's status, copying the slice so that
// other holders of the facts are unaffected.
func (f *TrailFacts) setStatus(id, status string) {
	f.Attestations = slices.Clone(f.Attestations)
	for i := range f.Attestations {
		if f.Attestations[i].ID == id {
			f.Attestations[i].Status = status
		}
	}
}

// Slot outcomes in an explanation.
const (
	SlotSatisfied = "SATISFIED"
	SlotMissing   = "MISSING"
	SlotFailed    = "FAILED"
	SlotPending   = "PENDING"
)

// SlotResult explains one required slot: the attestation that satisfied
// it, or why none did.
type SlotResult struct {
	// Kind is "type" (a flow's requiredAttestationTypes) or "name" (a
	// template slot).
	Kind string `json:"kind"`
	// Slot is the required type or name.
	Slot string `json:"slot"`
	// Type is the type a template slot requires ("*": any).
	Type string `json:"type,omitempty"`
	// Artifact is the artifact template name of an artifact-level slot.
	Artifact      string `json:"artifact,omitempty"`
	Outcome       string `json:"outcome"`
	TrailID       string `json:"trailId,omitempty"`
	AttestationID string `json:"attestationId,omitempty"`
	Reason        string `json:"reason"`
}

// TrailVerdict is a trail's (or one artifact's) compliance and why.
type TrailVerdict struct {
	Status         string
	Slots          []SlotResult
	TemplateErrors []string
	// Template is true when a template, not requiredAttestationTypes, set
	// the slots.
	Template bool
}

// requirement is one slot to fill.
type requirement struct {
	kind, slot, typ, artifact string
}

// template returns the template that governs a trail: its own, else its
// flow's, else nil (legacy requiredAttestationTypes).
func governingTemplate(flow *Flow, t *Trail) (*ComplianceTemplate, string, error) {
	src := ""
	switch {
	case t != nil && t.TemplateYAML != nil && *t.TemplateYAML != "":
		src = *t.TemplateYAML
	case flow.TemplateYAML != nil && *flow.TemplateYAML != "":
		src = *flow.TemplateYAML
	default:
		return nil, "", nil
	}
	tmpl, err := parseTemplateCached(src)
	return tmpl, src, err
}

// templateCache holds parsed templates by source: a trail's status is
// recomputed on every attestation and an assert judges several trails,
// and parsing YAML each time would dominate both. Parsed templates are
// never changed, so sharing them is safe.
var templateCache = struct {
	sync.Mutex
	m map[string]templateParse
}{m: map[string]templateParse{}}

type templateParse struct {
	t   *ComplianceTemplate
	err error
}

const templateCacheSize = 1024

func parseTemplateCached(src string) (*ComplianceTemplate, error) {
	templateCache.Lock()
	p, ok := templateCache.m[src]
	templateCache.Unlock()
	if ok {
		return p.t, p.err
	}
	t, err := ParseComplianceTemplate(src)
	templateCache.Lock()
	if len(templateCache.m) >= templateCacheSize {
		clear(templateCache.m)
	}
	templateCache.m[src] = templateParse{t, err}
	templateCache.Unlock()
	return t, err
}

// requirements lists what a trail must carry; digest, if not empty,
// narrows artifact-level slots to the artifacts with that digest.
func requirements(flow *Flow, facts *TrailFacts, digest string) (reqs []requirement, templ bool, errs []string) {
	tmpl, _, err := governingTemplate(flow, facts.Trail)
	if err != nil {
		// A template that no longer parses (a stricter build) must not
		// silently pass: its error is reported and the legacy types apply.
		errs = append(errs, err.Error())
	}
	if tmpl == nil {
		for _, t := range flow.RequiredAttestationTypes {
			reqs = append(reqs, requirement{kind: "type", slot: t})
		}
		return reqs, false, errs
	}
	var refs []ArtifactRef
	names := map[string]bool{}
	for _, a := range facts.Artifacts {
		if digest == "" || a.Digest == digest {
			names[a.Name] = true
		}
		refs = append(refs, ArtifactRef{Name: a.Name, Fingerprint: a.Digest})
	}
	trailName := ""
	if facts.Trail != nil {
		trailName = facts.Trail.Name
	}
	req, evalErrs := tmpl.Requirements(flow, trailName, refs)
	for _, e := range evalErrs {
		errs = append(errs, e.Error())
	}
	for _, r := range req {
		if r.Artifact != "" && digest != "" && !names[r.Artifact] {
			continue
		}
		reqs = append(reqs, requirement{kind: "name", slot: r.Name, typ: r.Type, artifact: r.Artifact})
	}
	return reqs, true, errs
}

// EvaluateTrail judges a whole trail: COMPLIANT when every required slot's
// latest attestation PASSED, NON_COMPLIANT when any required slot's latest
// FAILED, PENDING otherwise.
func EvaluateTrail(flow *Flow, facts *TrailFacts) TrailVerdict {
	return evaluate(flow, facts, "")
}

// evaluate judges a trail, or with digest the artifact with that digest on
// it: attestations bound to another artifact then do not count.
func evaluate(flow *Flow, facts *TrailFacts, digest string) TrailVerdict {
	reqs, templ, errs := requirements(flow, facts, digest)
	v := TrailVerdict{Status: TrailCompliant, TemplateErrors: errs, Template: templ, Slots: []SlotResult{}}
	artifactDigests := map[string][]string{}
	for _, a := range facts.Artifacts {
		artifactDigests[a.Name] = append(artifactDigests[a.Name], a.Digest)
	}
	failed, pending := false, false
	for _, r := range reqs {
		res := fillSlot(r, facts, digest, artifactDigests)
		switch res.Outcome {
		case SlotFailed:
			failed = true
		case SlotMissing, SlotPending:
			pending = true
		}
		v.Slots = append(v.Slots, res)
	}
	switch {
	case failed:
		v.Status = TrailNonCompliant
	case pending:
		v.Status = TrailPending
	}
	return v
}

// fillSlot finds the latest attestation that fills r.
func fillSlot(r requirement, facts *TrailFacts, digest string, artifactDigests map[string][]string) SlotResult {
	res := SlotResult{Kind: r.kind, Slot: r.slot, Type: r.typ, Artifact: r.artifact}
	if facts.Trail != nil {
		res.TrailID = facts.Trail.ID
	}
	var latest *AttestationFact
	boundElsewhere := ""
	for i := len(facts.Attestations) - 1; i >= 0; i-- {
		a := &facts.Attestations[i]
		if !r.matches(a) {
			continue
		}
		if !boundTo(a, r, digest, artifactDigests) {
			if boundElsewhere == "" {
				boundElsewhere = a.Fingerprint
			}
			continue
		}
		latest = a
		break
	}
	what := r.describe()
	switch {
	case latest == nil && boundElsewhere != "":
		res.Outcome, res.Reason = SlotMissing, fmt.Sprintf("the only %s attestations are bound to a different artifact (%s)", what, boundElsewhere)
	case latest == nil:
		res.Outcome, res.Reason = SlotMissing, fmt.Sprintf("no %s attestation recorded", what)
	case latest.Status == AttestationPassed:
		res.Outcome, res.AttestationID, res.Reason = SlotSatisfied, latest.ID, fmt.Sprintf("latest %s attestation PASSED", what)
	case latest.Status == AttestationFailed:
		res.Outcome, res.AttestationID, res.Reason = SlotFailed, latest.ID, fmt.Sprintf("latest %s attestation FAILED", what)
	default:
		res.Outcome, res.AttestationID, res.Reason = SlotPending, latest.ID, fmt.Sprintf("latest %s attestation is %s", what, latest.Status)
	}
	return res
}

func (r requirement) matches(a *AttestationFact) bool {
	if r.kind == "type" {
		return a.Type == r.slot
	}
	return a.Name == r.slot && (r.typ == "" || r.typ == "*" || r.typ == a.Type)
}

func (r requirement) describe() string {
	if r.kind == "type" {
		return r.slot
	}
	if r.artifact != "" {
		return fmt.Sprintf("%q (artifact %s)", r.slot, r.artifact)
	}
	return fmt.Sprintf("%q", r.slot)
}

// boundTo reports whether a counts for the slot: an attestation bound to
// an artifact counts only for that artifact (the asserted digest, or for
// artifact-level template slots an artifact reported under that name).
func boundTo(a *AttestationFact, r requirement, digest string, artifactDigests map[string][]string) bool {
	if len(a.Targets) > 0 && a.Fingerprint == "" {
		// Bound to template artifact slots: it fills only their slots,
		// and for an asserted digest only if an artifact of that name
		// has the digest.
		if r.artifact != "" {
			return slices.Contains(a.Targets, r.artifact)
		}
		if digest == "" {
			return false
		}
		for _, t := range a.Targets {
			if slices.Contains(artifactDigests[t], digest) {
				return true
			}
		}
		return false
	}
	if a.Fingerprint == "" {
		return true
	}
	if digest != "" && a.Fingerprint != digest {
		return false
	}
	if r.artifact != "" {
		return slices.Contains(artifactDigests[r.artifact], a.Fingerprint)
	}
	return true
}

// AssertInput is what an assertion looks at.
type AssertInput struct {
	Flow   *Flow
	Digest string
	// Trails are the trails of Flow that reported Digest, oldest first.
	Trails []*TrailFacts
	// Elsewhere are trails of other flows that reported Digest; they never
	// count, but the explanation mentions them.
	Elsewhere []*TrailFacts
}

// Assessment is the verdict of an assertion: the original's fields plus
// the explanation.
type Assessment struct {
	Sha256Digest            string       `json:"sha256Digest"`
	FlowID                  string       `json:"flowId"`
	Status                  string       `json:"status"`
	Compliant               bool         `json:"compliant"`
	MissingAttestationTypes []string     `json:"missingAttestationTypes"`
	FailedAttestationTypes  []string     `json:"failedAttestationTypes"`
	MissingAttestationNames []string     `json:"missingAttestationNames"`
	FailedAttestationNames  []string     `json:"failedAttestationNames"`
	Details                 string       `json:"details"`
	TrailID                 *string      `json:"trailId"`
	Explanation             []SlotResult `json:"explanation"`
	TemplateErrors          []string     `json:"templateErrors"`
}

// Assert decides whether the artifact with in.Digest complies with
// in.Flow. Only trails of that flow count; on each, the latest attestation
// of a slot wins. The trail chosen is the latest compliant one, else the
// one with the fewest unfilled slots (the latest among equals).
func Assert(in AssertInput) Assessment {
	as := Assessment{
		Sha256Digest: in.Digest, FlowID: in.Flow.ID, Status: TrailNonCompliant,
		MissingAttestationTypes: []string{}, FailedAttestationTypes: []string{},
		MissingAttestationNames: []string{}, FailedAttestationNames: []string{},
		Explanation: []SlotResult{}, TemplateErrors: []string{},
	}
	if len(in.Trails) == 0 {
		return assertUnreported(in, as)
	}
	var best TrailVerdict
	bestTrail, bestOpen := -1, 0
	for i := len(in.Trails) - 1; i >= 0; i-- {
		v := evaluate(in.Flow, in.Trails[i], in.Digest)
		open := 0
		for _, s := range v.Slots {
			if s.Outcome != SlotSatisfied {
				open++
			}
		}
		if bestTrail < 0 || open < bestOpen {
			best, bestTrail, bestOpen = v, i, open
		}
		if open == 0 {
			break
		}
	}
	trail := in.Trails[bestTrail].Trail
	as.TrailID = &trail.ID
	as.Explanation, as.TemplateErrors = best.Slots, orEmpty(best.TemplateErrors)
	var missing, failed []string
	for _, s := range best.Slots {
		switch s.Outcome {
		case SlotFailed:
			failed = append(failed, s.Slot)
		case SlotMissing, SlotPending:
			missing = append(missing, s.Slot)
		}
	}
	if best.Template {
		as.MissingAttestationNames, as.FailedAttestationNames = orEmpty(missing), orEmpty(failed)
	} else {
		as.MissingAttestationTypes, as.FailedAttestationTypes = orEmpty(missing), orEmpty(failed)
	}
	if len(missing) == 0 && len(failed) == 0 {
		as.Status, as.Compliant = TrailCompliant, true
		as.Details = fmt.Sprintf("All required attestations passed on trail %s", trail.ID)
		if len(best.Slots) == 0 {
			as.Details = fmt.Sprintf("Flow requires no attestations; artifact reported on trail %s", trail.ID)
		}
		return as
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "Missing required attestations: "+strings.Join(missing, ", "))
	}
	if len(failed) > 0 {
		parts = append(parts, "Failed attestations: "+strings.Join(failed, ", "))
	}
	as.Details = strings.Join(parts, "; ") + fmt.Sprintf(" (trail %s)", trail.ID)
	return as
}

// assertUnreported answers for a digest no trail of the flow reported:
// every slot is missing, and trails of other flows are named.
func assertUnreported(in AssertInput, as Assessment) Assessment {
	v := evaluate(in.Flow, &TrailFacts{}, in.Digest)
	as.TemplateErrors = orEmpty(v.TemplateErrors)
	var missing []string
	for _, s := range v.Slots {
		s.Outcome, s.TrailID, s.AttestationID = SlotMissing, "", ""
		s.Reason = "the artifact was not reported on any trail of this flow"
		for _, other := range in.Elsewhere {
			if o := evaluate(in.Flow, other, in.Digest); o.Template == v.Template {
				for _, os := range o.Slots {
					if os.Slot == s.Slot && os.Outcome != SlotMissing {
						s.Reason = fmt.Sprintf("present only on trail %s of another flow (%s), which does not count", other.Trail.ID, other.Trail.FlowID)
					}
				}
			}
		}
		missing = append(missing, s.Slot)
		as.Explanation = append(as.Explanation, s)
	}
	if v.Template {
		as.MissingAttestationNames = orEmpty(missing)
	} else {
		as.MissingAttestationTypes = orEmpty(missing)
	}
	as.Details = fmt.Sprintf("No artifacts found with digest %s in flow %s", in.Digest, in.Flow.Name)
	if len(in.Elsewhere) > 0 {
		as.Details += fmt.Sprintf(" (it was reported on %d trail(s) of other flows, which do not count)", len(in.Elsewhere))
	}
	return as
}
