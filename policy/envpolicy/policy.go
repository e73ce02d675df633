package envpolicy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/factstore/factstore/domain"
)

// ErrInvalid is wrapped by every error Parse returns: the policy is not valid
// YAML or does not follow schema v1. The message names where the problem is.
var ErrInvalid = errors.New("invalid environment policy")

// Policy is a parsed environment policy (schema v1).
type Policy struct {
	// Schema is the _schema URI as written; it ends in /v1.
	Schema string
	// Provenance requires the artifact to be known to at least one flow.
	Provenance Rule
	// TrailCompliance requires the artifact to be compliant in its trail.
	TrailCompliance Rule
	// Attestations are the required-attestation rules, in policy order.
	Attestations []AttestationRule

	// exprs holds the expressions Parse compiled, by source text. It is
	// read-only after Parse, so Evaluate may run concurrently; a text not
	// in it (a Policy built or changed by hand) is compiled on use.
	exprs map[string]*domain.Expr
}

// Rule is the provenance or trail-compliance rule.
type Rule struct {
	// Required turns the rule on; when false it is never applicable.
	Required bool
	// Exceptions are the raw if: texts of the rule's exceptions; the rule is
	// waived in a context where any of them is true.
	Exceptions []string
}

// AttestationRule requires an attestation in the artifact's trail.
type AttestationRule struct {
	// Name is the attestation name to match; "*" (the default) matches any.
	Name string
	// Type is the attestation type to match: generic, junit, snyk,
	// pull_request, jira, sonar, decision, custom:<name>, or "*" for any.
	Type string
	// If is the raw if: text; "" means the rule always applies.
	If string
	// MustBeCompliant requires the matching attestation to be compliant too;
	// when false its presence is enough. Parse defaults it to true.
	MustBeCompliant bool
	// ForControl, only with Type "decision", is the control id the decision
	// must be for; "" means any.
	ForControl string
}

const (
	// anyValue is the wildcard name or type.
	anyValue = "*"
	// typeDecision is the only type for_control may be used with.
	typeDecision = "decision"
	// maxPolicyLen caps the policy source, as templates are capped.
	maxPolicyLen = 256 * 1024
	// maxEntries caps exceptions plus attestation rules. YAML aliases let a
	// small document repeat a large list, so the byte cap alone does not
	// bound the work.
	maxEntries = 10000
	// maxAliasHops bounds alias chains.
	maxAliasHops = 100
)

// builtinTypes are the attestation types a rule may name besides custom:<name> and "*".
var builtinTypes = map[string]bool{
	"generic": true, "junit": true, "snyk": true, "pull_request": true,
	"jira": true, "sonar": true, typeDecision: true,
}

// customTypeName is the rule for custom attestation type names (kosli-schemas §D).
var customTypeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*$`)

// schemaVersion matches a version segment such as v2, to name it in errors.
var schemaVersion = regexp.MustCompile(`^v[0-9]+$`)

// Parse parses and validates policy YAML: _schema is required and must end in
// /v1; unknown keys are errors (additionalProperties false); an attestation
// rule's type is required and one of generic|junit|snyk|pull_request|jira|
// sonar|decision|custom:<name>|*; name and type are not both "*"; for_control
// is only allowed with type decision; every if and exception expression
// compiles. Errors wrap ErrInvalid and name the location, for example
// `artifacts.attestations[1].type: ...`; an expression error also wraps the
// *domain.ExprError.
//
// Defaults are filled in: required false, no exceptions, name "*",
// must_be_compliant true. An explicit null counts as absent, and an empty or
// blank attestation if: means no condition. Duplicate keys and YAML merge keys
// (<<) are rejected.
func Parse(src []byte) (*Policy, error) {
	if len(src) > maxPolicyLen {
		return nil, invalid("policy", "must be at most %d bytes", maxPolicyLen)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%w: not valid YAML: %w", ErrInvalid, err)
	}
	p := &parser{exprs: map[string]*domain.Expr{}}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	pol, err := p.policy(root)
	if err != nil {
		return nil, err
	}
	pol.exprs = p.exprs
	return pol, nil
}

// invalid builds the error for a problem at where.
func invalid(where, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, where, fmt.Sprintf(format, args...))
}

type parser struct {
	entries int
	exprs   map[string]*domain.Expr
}

func (p *parser) policy(root *yaml.Node) (*Policy, error) {
	if isNull(root) {
		return nil, invalid("_schema", "is required")
	}
	f, err := fields(root, "policy", "_schema", "artifacts")
	if err != nil {
		return nil, err
	}
	schema, ok, err := scalar(f["_schema"], "_schema")
	if err != nil {
		return nil, err
	}
	if !ok || strings.TrimSpace(schema) == "" {
		return nil, invalid("_schema", "is required")
	}
	if err = checkSchema(strings.TrimSpace(schema)); err != nil {
		return nil, err
	}
	pol := &Policy{Schema: strings.TrimSpace(schema)}
	if isNull(f["artifacts"]) {
		return pol, nil
	}
	arts, err := fields(f["artifacts"], "artifacts", "provenance", "trail-compliance", "attestations")
	if err != nil {
		return nil, err
	}
	if pol.Provenance, err = p.rule(arts["provenance"], "artifacts.provenance"); err != nil {
		return nil, err
	}
	if pol.TrailCompliance, err = p.rule(arts["trail-compliance"], "artifacts.trail-compliance"); err != nil {
		return nil, err
	}
	items, err := seq(arts["attestations"], "artifacts.attestations")
	if err != nil {
		return nil, err
	}
	for i, it := range items {
		at := fmt.Sprintf("artifacts.attestations[%d]", i)
		if err := p.count(at); err != nil {
			return nil, err
		}
		r, err := p.attestation(it, at)
		if err != nil {
			return nil, err
		}
		pol.Attestations = append(pol.Attestations, r)
	}
	return pol, nil
}

// checkSchema accepts any URI whose last path segment is v1 (several hosts
// are seen in the wild).
func checkSchema(s string) error {
	if strings.HasSuffix(s, "/v1") {
		return nil
	}
	if last := s[strings.LastIndex(s, "/")+1:]; strings.Contains(s, "/") && schemaVersion.MatchString(last) {
		return invalid("_schema", "version %s is not supported (only v1)", last)
	}
	return invalid("_schema", "must be a schema URI ending in /v1, got %q", s)
}

func (p *parser) rule(n *yaml.Node, where string) (Rule, error) {
	var r Rule
	if isNull(n) {
		return r, nil
	}
	f, err := fields(n, where, "required", "exceptions")
	if err != nil {
		return r, err
	}
	if r.Required, err = boolean(f["required"], where+".required", false); err != nil {
		return r, err
	}
	items, err := seq(f["exceptions"], where+".exceptions")
	if err != nil {
		return r, err
	}
	for i, it := range items {
		at := fmt.Sprintf("%s.exceptions[%d]", where, i)
		if err := p.count(at); err != nil {
			return r, err
		}
		ex, err := fields(it, at, "if")
		if err != nil {
			return r, err
		}
		cond, ok, err := scalar(ex["if"], at+".if")
		if err != nil {
			return r, err
		}
		if !ok || strings.TrimSpace(cond) == "" {
			return r, invalid(at+".if", "is required")
		}
		if err := p.compile(cond, at+".if"); err != nil {
			return r, err
		}
		r.Exceptions = append(r.Exceptions, cond)
	}
	return r, nil
}

func (p *parser) attestation(n *yaml.Node, where string) (AttestationRule, error) {
	r := AttestationRule{Name: anyValue, MustBeCompliant: true}
	f, err := fields(n, where, "name", "type", "if", "must_be_compliant", "for_control")
	if err != nil {
		return r, err
	}
	name, ok, err := scalar(f["name"], where+".name")
	if err != nil {
		return r, err
	}
	if ok {
		if r.Name = strings.TrimSpace(name); r.Name == "" {
			return r, invalid(where+".name", "must not be empty (omit it or use \"*\" for any)")
		}
	}
	typ, ok, err := scalar(f["type"], where+".type")
	if err != nil {
		return r, err
	}
	if r.Type = strings.TrimSpace(typ); !ok || r.Type == "" {
		return r, invalid(where+".type", "is required")
	}
	if err = checkType(r.Type, where+".type"); err != nil {
		return r, err
	}
	if r.Name == anyValue && r.Type == anyValue {
		return r, invalid(where, `name and type must not both be "*"`)
	}
	cond, ok, err := scalar(f["if"], where+".if")
	if err != nil {
		return r, err
	}
	if ok && strings.TrimSpace(cond) != "" {
		if err = p.compile(cond, where+".if"); err != nil {
			return r, err
		}
		r.If = cond
	}
	if r.MustBeCompliant, err = boolean(f["must_be_compliant"], where+".must_be_compliant", true); err != nil {
		return r, err
	}
	ctl, ok, err := scalar(f["for_control"], where+".for_control")
	if err != nil {
		return r, err
	}
	if ok {
		if r.Type != typeDecision {
			return r, invalid(where+".for_control", "is only allowed with type decision, not %q", r.Type)
		}
		if r.ForControl = strings.TrimSpace(ctl); r.ForControl == "" {
			return r, invalid(where+".for_control", "must not be empty")
		}
	}
	return r, nil
}

func checkType(t, where string) error {
	if t == anyValue || builtinTypes[t] {
		return nil
	}
	if name, ok := strings.CutPrefix(t, "custom:"); ok {
		if !customTypeName.MatchString(name) {
			return invalid(where, "custom type name %q must start with a letter or digit and hold only letters, digits, '.', '-', '_', '~'", name)
		}
		return nil
	}
	return invalid(where, "unknown type %q (want generic, junit, snyk, pull_request, jira, sonar, decision, custom:<name> or *)", t)
}

// compile compiles src once per distinct text and keeps it for Evaluate.
func (p *parser) compile(src, where string) error {
	if _, ok := p.exprs[src]; ok {
		return nil
	}
	e, err := domain.CompileExpr(src)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, where, err)
	}
	p.exprs[src] = e
	return nil
}

func (p *parser) count(where string) error {
	p.entries++
	if p.entries > maxEntries {
		return invalid(where, "too many entries (at most %d exceptions and attestation rules)", maxEntries)
	}
	return nil
}

// resolve follows aliases; the bound guards against alias chains.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasHops; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit YAML null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields returns a mapping's values by key. Keys outside allowed, duplicate
// keys and merge keys are errors. where names the mapping for errors.
func fields(n *yaml.Node, where string, allowed ...string) (map[string]*yaml.Node, error) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, invalid(where, "must be a mapping")
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			return nil, invalid(where, "keys must be strings")
		}
		if k.Tag == "!!merge" {
			return nil, invalid(where, "merge keys (<<) are not supported")
		}
		if !contains(allowed, k.Value) {
			return nil, invalid(where, "unknown key %q (allowed: %s)", k.Value, strings.Join(allowed, ", "))
		}
		if _, dup := m[k.Value]; dup {
			return nil, invalid(where, "duplicate key %q", k.Value)
		}
		m[k.Value] = n.Content[i+1]
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// seq returns a sequence's items; null or absent is empty.
func seq(n *yaml.Node, where string) ([]*yaml.Node, error) {
	if isNull(n) {
		return nil, nil
	}
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		return nil, invalid(where, "must be a list")
	}
	return n.Content, nil
}

// scalar returns a scalar's text; ok is false for null or absent.
func scalar(n *yaml.Node, where string) (s string, ok bool, err error) {
	if isNull(n) {
		return "", false, nil
	}
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		return "", false, invalid(where, "must be a string")
	}
	return n.Value, true, nil
}

// boolean reads a YAML boolean (true or false, not a string); null or absent gives def.
func boolean(n *yaml.Node, where string, def bool) (bool, error) {
	if isNull(n) {
		return def, nil
	}
	n = resolve(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		return false, invalid(where, "must be true or false")
	}
	return b, nil
}
