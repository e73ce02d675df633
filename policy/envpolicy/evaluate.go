package envpolicy

import (
	"strings"

	"github.com/factstore/factstore/domain"
)

// Context is one (flow, trail) in which the artifact was reported.
type Context struct {
	// FlowName and FlowTags bind flow.name and flow.tags.<key>.
	FlowName string
	FlowTags map[string]string
	// TrailName binds trail.name.
	TrailName string
	// ArtifactName and Fingerprint bind artifact.name and
	// artifact.fingerprint; when empty, Evaluate's arguments are used.
	ArtifactName string
	Fingerprint  string
	// ArtifactStatus is the artifact's compliance status in that trail:
	// "COMPLIANT" or "NON-COMPLIANT".
	ArtifactStatus string
	// Attestations are the attestations that apply to the artifact in that
	// trail: trail-level ones and those bound to it. Pass the current one per
	// name (the latest report), not the history.
	Attestations []Attestation
}

// Attestation is one attestation an attestation rule can match.
type Attestation struct {
	// Name is the attestation name (the template slot it fills).
	Name string
	// Type is the attestation type, e.g. junit or custom:coverage.
	Type string
	// Compliant is the attestation's compliance.
	Compliant bool
	// ForControl is the control id of a decision attestation, else "".
	ForControl string
}

// Evaluation is a policy's verdict for one artifact (Kosli's policy_evaluations[i]).
type Evaluation struct {
	PolicyName    string `json:"policy_name"`
	PolicyVersion int    `json:"policy_version"`
	// Status is "COMPLIANT" when every rule that is not ignored is
	// satisfied, else "NON-COMPLIANT".
	Status string `json:"status"`
	// RuleEvaluations are provenance, trail-compliance, then one per
	// attestation rule in policy order; never null.
	RuleEvaluations []RuleEvaluation `json:"rule_evaluations"`
}

// RuleEvaluation is one rule's verdict (Kosli's rule_evaluations[j]).
type RuleEvaluation struct {
	Rule RuleRef `json:"rule"`
	// Ignored is true when the rule applied in no context. The Kosli CLI
	// requires the field.
	Ignored bool `json:"ignored"`
	// Satisfied is nil (JSON null) when Ignored, else whether every
	// context where the rule applied passed.
	Satisfied *bool `json:"satisfied"`
	// Resolutions hold one entry per context; never null.
	Resolutions []Resolution `json:"resolutions"`
}

// RuleRef names a rule and echoes its definition with defaults filled in:
// {required, exceptions: [{if: {text}}]} for provenance and
// trail-compliance, {if: {text} or null, name, type, must_be_compliant,
// for_control (when set)} for attestation rules. Expression texts are given
// without their ${{ }} wrapper.
type RuleRef struct {
	// Type is "provenance", "trail-compliance" or "attestation".
	Type       string `json:"type"`
	Definition any    `json:"definition"`
}

// Resolution is a rule's outcome in one context.
type Resolution struct {
	// Type is rule_satisfied, rule_not_applicable, missing_attestation,
	// non_compliant_attestation, non_compliant_in_trail, or no_provenance
	// (an unknown artifact under a required provenance rule).
	Type string `json:"type"`
	// Context holds flow_name, trail_name, artifact_status (null except for
	// trail-compliance) and for_control when the rule has one. It is empty
	// for an artifact known to no flow.
	Context map[string]any `json:"context"`
}

const (
	statusCompliant    = "COMPLIANT"
	statusNonCompliant = "NON-COMPLIANT"

	ruleProvenance      = "provenance"
	ruleTrailCompliance = "trail-compliance"
	ruleAttestation     = "attestation"

	resSatisfied           = "rule_satisfied"
	resNotApplicable       = "rule_not_applicable"
	resMissingAttestation  = "missing_attestation"
	resNonCompliantAttest  = "non_compliant_attestation"
	resNonCompliantInTrail = "non_compliant_in_trail"
	resNoProvenance        = "no_provenance"

	ctxFlowName       = "flow_name"
	ctxTrailName      = "trail_name"
	ctxArtifactStatus = "artifact_status"
	ctxForControl     = "for_control"
)

// Evaluate applies the policy to an artifact known in the given contexts
// (kosli-schemas §C.3). The result always holds 2 + len(p.Attestations) rule
// evaluations, each with one resolution per context:
//
//   - A rule that is not required, whose exception is true, or whose if: is
//     false in a context is rule_not_applicable there. A rule that applies in
//     no context is ignored (satisfied null); otherwise it is satisfied when it
//     passed in every context where it applied.
//   - Provenance passes in every context (the artifact is in that flow).
//     With no contexts at all (an unknown artifact) it gets one resolution
//     with an empty context: no_provenance when required, unless an exception
//     holds for the artifact's name and fingerprint alone.
//   - Trail-compliance passes where ArtifactStatus is "COMPLIANT".
//   - An attestation rule passes where an attestation matches its name and
//     type (and for_control); with must_be_compliant every matching
//     attestation must also be compliant.
//   - Trail-compliance and attestation rules have no resolutions, and so are
//     ignored, for an unknown artifact: only provenance speaks to it.
//
// Expressions see flow.name, flow.tags, trail.name, artifact.name and
// artifact.fingerprint of each context. An expression that fails to
// evaluate (e.g. a non-boolean result) fails closed: an if: that errors
// makes its rule apply, and an exception that errors waives nothing, so a
// broken expression can never silently relax the policy. A nil Policy
// evaluates as the all-defaults policy.
func (p *Policy) Evaluate(name string, version int, artifactName, fingerprint string, contexts []Context) Evaluation {
	if p == nil {
		p = &Policy{}
	}
	envs := make([]domain.ExprEnv, len(contexts))
	for i, c := range contexts {
		envs[i] = domain.ExprEnv{
			FlowName:            c.FlowName,
			FlowTags:            c.FlowTags,
			TrailName:           c.TrailName,
			ArtifactName:        orDefault(c.ArtifactName, artifactName),
			ArtifactFingerprint: orDefault(c.Fingerprint, fingerprint),
		}
	}
	ev := Evaluation{
		PolicyName:      name,
		PolicyVersion:   version,
		Status:          statusCompliant,
		RuleEvaluations: make([]RuleEvaluation, 0, 2+len(p.Attestations)),
	}
	ev.RuleEvaluations = append(ev.RuleEvaluations,
		p.provenance(artifactName, fingerprint, contexts, envs),
		p.trailCompliance(contexts, envs))
	for _, r := range p.Attestations {
		ev.RuleEvaluations = append(ev.RuleEvaluations, p.attestation(r, contexts, envs))
	}
	for _, re := range ev.RuleEvaluations {
		if !re.Ignored && (re.Satisfied == nil || !*re.Satisfied) {
			ev.Status = statusNonCompliant
		}
	}
	return ev
}

func (p *Policy) provenance(artifactName, fingerprint string, contexts []Context, envs []domain.ExprEnv) RuleEvaluation {
	r := p.Provenance
	ref := RuleRef{Type: ruleProvenance, Definition: r.definition()}
	if len(contexts) == 0 {
		typ := resNoProvenance
		env := domain.ExprEnv{ArtifactName: artifactName, ArtifactFingerprint: fingerprint}
		if !r.Required || p.waived(r.Exceptions, env) {
			typ = resNotApplicable
		}
		return conclude(ref, []Resolution{{Type: typ, Context: map[string]any{}}})
	}
	res := make([]Resolution, len(contexts))
	for i, c := range contexts {
		typ := resSatisfied
		if !r.Required || p.waived(r.Exceptions, envs[i]) {
			typ = resNotApplicable
		}
		res[i] = Resolution{Type: typ, Context: resolutionContext(c, nil, "")}
	}
	return conclude(ref, res)
}

func (p *Policy) trailCompliance(contexts []Context, envs []domain.ExprEnv) RuleEvaluation {
	r := p.TrailCompliance
	res := make([]Resolution, len(contexts))
	for i, c := range contexts {
		var typ string
		switch {
		case !r.Required || p.waived(r.Exceptions, envs[i]):
			typ = resNotApplicable
		case c.ArtifactStatus == statusCompliant:
			typ = resSatisfied
		default:
			typ = resNonCompliantInTrail
		}
		var status any
		if c.ArtifactStatus != "" {
			status = c.ArtifactStatus
		}
		res[i] = Resolution{Type: typ, Context: resolutionContext(c, status, "")}
	}
	return conclude(RuleRef{Type: ruleTrailCompliance, Definition: r.definition()}, res)
}

func (p *Policy) attestation(r AttestationRule, contexts []Context, envs []domain.ExprEnv) RuleEvaluation {
	res := make([]Resolution, len(contexts))
	for i, c := range contexts {
		typ := resNotApplicable
		if p.applies(r.If, envs[i]) {
			typ = r.check(c.Attestations)
		}
		res[i] = Resolution{Type: typ, Context: resolutionContext(c, nil, r.ForControl)}
	}
	return conclude(RuleRef{Type: ruleAttestation, Definition: r.definition()}, res)
}

// check tests one context's attestations against the rule.
func (r AttestationRule) check(atts []Attestation) string {
	found := false
	for _, a := range atts {
		if !r.matches(a) {
			continue
		}
		if r.MustBeCompliant && !a.Compliant {
			return resNonCompliantAttest
		}
		found = true
	}
	if !found {
		return resMissingAttestation
	}
	return resSatisfied
}

func (r AttestationRule) matches(a Attestation) bool {
	if r.Name != anyValue && r.Name != a.Name {
		return false
	}
	if r.Type != anyValue && r.Type != a.Type {
		return false
	}
	return r.ForControl == "" || r.ForControl == a.ForControl
}

// conclude derives ignored and satisfied from the resolutions (§C.3 step 3).
func conclude(ref RuleRef, res []Resolution) RuleEvaluation {
	re := RuleEvaluation{Rule: ref, Ignored: true, Resolutions: res}
	ok := true
	for _, r := range res {
		switch r.Type {
		case resNotApplicable:
		case resSatisfied:
			re.Ignored = false
		default:
			re.Ignored = false
			ok = false
		}
	}
	if !re.Ignored {
		re.Satisfied = &ok
	}
	return re
}

// waived reports whether any exception is true in env. An exception that
// fails to evaluate counts as false: it waives nothing.
func (p *Policy) waived(exceptions []string, env domain.ExprEnv) bool {
	for _, src := range exceptions {
		if ok, err := p.eval(src, env); err == nil && ok {
			return true
		}
	}
	return false
}

// applies reports whether an attestation rule's if: holds in env. A blank
// condition always holds, and one that fails to evaluate is treated as true
// (the rule applies) rather than letting a broken expression drop the rule.
func (p *Policy) applies(cond string, env domain.ExprEnv) bool {
	if strings.TrimSpace(cond) == "" {
		return true
	}
	ok, err := p.eval(cond, env)
	return ok || err != nil
}

// eval evaluates src, compiling it first when Parse did not.
func (p *Policy) eval(src string, env domain.ExprEnv) (bool, error) {
	e := p.exprs[src]
	if e == nil {
		var err error
		if e, err = domain.CompileExpr(src); err != nil {
			return false, err
		}
	}
	return e.Eval(env)
}

func resolutionContext(c Context, status any, forControl string) map[string]any {
	m := map[string]any{
		ctxFlowName:       c.FlowName,
		ctxTrailName:      c.TrailName,
		ctxArtifactStatus: status,
	}
	if forControl != "" {
		m[ctxForControl] = forControl
	}
	return m
}

func (r Rule) definition() map[string]any {
	ex := make([]any, 0, len(r.Exceptions))
	for _, src := range r.Exceptions {
		ex = append(ex, map[string]any{"if": map[string]any{"text": exprText(src)}})
	}
	return map[string]any{"required": r.Required, "exceptions": ex}
}

func (r AttestationRule) definition() map[string]any {
	var cond any
	if strings.TrimSpace(r.If) != "" {
		cond = map[string]any{"text": exprText(r.If)}
	}
	d := map[string]any{
		"if":                cond,
		"name":              r.Name,
		"type":              r.Type,
		"must_be_compliant": r.MustBeCompliant,
	}
	if r.ForControl != "" {
		d["for_control"] = r.ForControl
	}
	return d
}

// exprText is an expression as Kosli echoes it: without the ${{ }} wrapper.
func exprText(src string) string {
	s := strings.TrimSpace(src)
	if len(s) >= len("${{}}") && strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}") {
		s = strings.TrimSpace(s[3 : len(s)-2])
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
