package domain

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ComplianceTemplate is a parsed flow or trail template: the attestations a trail and its artifacts must carry.
type ComplianceTemplate struct {
	Version   int                // always 1; an absent version means 1
	Trail     []TemplateSlot     // attestations expected on the trail itself
	Artifacts []ArtifactTemplate // per artifact template name
}

// TemplateSlot is one expected attestation.
type TemplateSlot struct {
	Name string
	Type string // "*" when any type will do
	If   string // raw expression, "" = always
	cond *Expr
}

// ArtifactTemplate lists the attestations expected on one artifact, matched by its name.
type ArtifactTemplate struct {
	Name         string
	Attestations []TemplateSlot
}

// Required is one slot a trail must fill, after if: evaluation.
type Required struct {
	Name     string // slot name, matched against attestation name
	Type     string // "*" or the type the attestation must have
	Artifact string // "" for trail-level slots, else the artifact template name
}

// ArtifactRef names one artifact reported on the trail.
type ArtifactRef struct {
	Name, Fingerprint string
}

// tmplAnyType is the slot type that any attestation type satisfies.
const tmplAnyType = "*"

// tmplMaxEntries caps artifacts plus slots in one template. YAML aliases let a
// small document name the same large list many times, so the byte limit
// alone does not bound the work.
const tmplMaxEntries = 10000

// ParseComplianceTemplate parses and validates template YAML; every problem (YAML syntax, missing name, duplicate name, if: that does not compile) is an Invalid("templateYaml", ...) error naming where it is (e.g. `trail.attestations[1].if: unexpected token "==" at 7`).
//
// Both layouts are accepted: Kosli's v1 (artifacts under trail) and the
// original's (artifacts at the root, next to trail); when both are given
// the lists are joined, trail.artifacts first, and names must be unique
// across them. A missing type means "*". Unknown keys are ignored, but YAML
// merge keys (<<) are rejected: ignoring them would silently drop slots.
// Empty or null YAML gives an empty template.
func ParseComplianceTemplate(src string) (*ComplianceTemplate, error) {
	if len(src) > MaxTemplateLen {
		return nil, Invalid("templateYaml", "must be at most %d bytes", MaxTemplateLen)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, Invalid("templateYaml", "is not valid YAML: %v", err)
	}
	p := &tmplParser{}
	return p.template(&doc)
}

type tmplParser struct {
	entries int
}

// tmplErr builds the error for a problem at path where.
func tmplErr(where, format string, args ...any) error {
	return Invalid("templateYaml", "%s: %s", where, fmt.Sprintf(format, args...))
}

// tmplResolve follows aliases; the bound guards against alias chains.
func tmplResolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// tmplIsNull reports whether n is absent or an explicit YAML null.
func tmplIsNull(n *yaml.Node) bool {
	n = tmplResolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// tmplFields returns the values of a mapping by key, rejecting duplicate and
// merge keys. where names the mapping for errors.
func tmplFields(n *yaml.Node, where string) (map[string]*yaml.Node, error) {
	n = tmplResolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, tmplErr(where, "must be a mapping")
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := tmplResolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue // a non-scalar key cannot be one we know, so it is an unknown key
		}
		if k.Tag == "!!merge" {
			return nil, tmplErr(where, "merge keys (<<) are not supported")
		}
		if _, dup := m[k.Value]; dup {
			return nil, tmplErr(where, "duplicate key %q", k.Value)
		}
		m[k.Value] = n.Content[i+1]
	}
	return m, nil
}

// tmplSeq returns the items of a sequence; null or absent is empty.
func tmplSeq(n *yaml.Node, where string) ([]*yaml.Node, error) {
	if tmplIsNull(n) {
		return nil, nil
	}
	n = tmplResolve(n)
	if n.Kind != yaml.SequenceNode {
		return nil, tmplErr(where, "must be a list")
	}
	return n.Content, nil
}

// tmplScalar returns a scalar's text; ok is false for null or absent.
func tmplScalar(n *yaml.Node, where string) (s string, ok bool, err error) {
	if tmplIsNull(n) {
		return "", false, nil
	}
	n = tmplResolve(n)
	if n.Kind != yaml.ScalarNode {
		return "", false, tmplErr(where, "must be a string")
	}
	return n.Value, true, nil
}

func (p *tmplParser) count(where string) error {
	p.entries++
	if p.entries > tmplMaxEntries {
		return tmplErr(where, "too many entries (at most %d artifacts and attestations)", tmplMaxEntries)
	}
	return nil
}

func (p *tmplParser) template(doc *yaml.Node) (*ComplianceTemplate, error) {
	t := &ComplianceTemplate{Version: 1}
	if len(doc.Content) == 0 || tmplIsNull(doc.Content[0]) {
		return t, nil
	}
	root, err := tmplFields(doc.Content[0], "template")
	if err != nil {
		return nil, err
	}
	if v, ok, err := tmplScalar(root["version"], "version"); err != nil {
		return nil, tmplErr("version", "must be 1")
	} else if ok {
		if n, convErr := strconv.Atoi(strings.TrimSpace(v)); convErr != nil || n != 1 {
			return nil, tmplErr("version", "must be 1, got %q", v)
		}
	}
	var trailArtifacts *yaml.Node
	if !tmplIsNull(root["trail"]) {
		trail, err := tmplFields(root["trail"], "trail")
		if err != nil {
			return nil, err
		}
		if t.Trail, err = p.slots(trail["attestations"], "trail.attestations"); err != nil {
			return nil, err
		}
		trailArtifacts = trail["artifacts"]
	}
	seen := map[string]string{}
	for _, src := range []struct {
		n     *yaml.Node
		where string
	}{{trailArtifacts, "trail.artifacts"}, {root["artifacts"], "artifacts"}} {
		items, err := tmplSeq(src.n, src.where)
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			where := fmt.Sprintf("%s[%d]", src.where, i)
			a, err := p.artifact(it, where)
			if err != nil {
				return nil, err
			}
			if prev, dup := seen[a.Name]; dup {
				return nil, tmplErr(where+".name", "duplicate artifact name %q (also at %s)", a.Name, prev)
			}
			seen[a.Name] = where
			t.Artifacts = append(t.Artifacts, a)
		}
	}
	return t, nil
}

func (p *tmplParser) artifact(n *yaml.Node, where string) (ArtifactTemplate, error) {
	if err := p.count(where); err != nil {
		return ArtifactTemplate{}, err
	}
	f, err := tmplFields(n, where)
	if err != nil {
		return ArtifactTemplate{}, err
	}
	name, err := tmplName(f["name"], where+".name")
	if err != nil {
		return ArtifactTemplate{}, err
	}
	slots, err := p.slots(f["attestations"], where+".attestations")
	if err != nil {
		return ArtifactTemplate{}, err
	}
	return ArtifactTemplate{Name: name, Attestations: slots}, nil
}

func tmplName(n *yaml.Node, where string) (string, error) {
	name, ok, err := tmplScalar(n, where)
	if err != nil {
		return "", err
	}
	if !ok || strings.TrimSpace(name) == "" {
		return "", tmplErr(where, "is required")
	}
	// Attestation and artifact names are trimmed when recorded; trim here
	// too, or " unit" could never be filled.
	return strings.TrimSpace(name), nil
}

// slots parses a list of {name, type, if} with names unique in the list.
func (p *tmplParser) slots(n *yaml.Node, where string) ([]TemplateSlot, error) {
	items, err := tmplSeq(n, where)
	if err != nil {
		return nil, err
	}
	var out []TemplateSlot
	seen := map[string]int{}
	for i, it := range items {
		at := fmt.Sprintf("%s[%d]", where, i)
		if err := p.count(at); err != nil {
			return nil, err
		}
		s, err := tmplSlot(it, at)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[s.Name]; dup {
			return nil, tmplErr(at+".name", "duplicate name %q (also at [%d])", s.Name, prev)
		}
		seen[s.Name] = i
		out = append(out, s)
	}
	return out, nil
}

func tmplSlot(n *yaml.Node, where string) (TemplateSlot, error) {
	f, err := tmplFields(n, where)
	if err != nil {
		return TemplateSlot{}, err
	}
	s := TemplateSlot{Type: tmplAnyType}
	if s.Name, err = tmplName(f["name"], where+".name"); err != nil {
		return TemplateSlot{}, err
	}
	typ, ok, err := tmplScalar(f["type"], where+".type")
	if err != nil {
		return TemplateSlot{}, err
	}
	if ok {
		if strings.TrimSpace(typ) == "" {
			return TemplateSlot{}, tmplErr(where+".type", "must not be empty (omit it for any type)")
		}
		s.Type = strings.TrimSpace(typ)
	}
	cond, ok, err := tmplScalar(f["if"], where+".if")
	if err != nil {
		return TemplateSlot{}, err
	}
	if ok && strings.TrimSpace(cond) != "" {
		if s.cond, err = CompileExpr(cond); err != nil {
			return TemplateSlot{}, tmplErr(where+".if", "%v", err)
		}
		s.If = cond
	}
	return s, nil
}

// Requirements returns the slots that apply to a trail of flow whose reported artifacts have the given names (artifact templates whose name matches none of them still apply when their if: holds: a missing artifact means missing slots, with ArtifactName set to the template name). Slots whose if: is false are left out; an if: that fails to evaluate is returned in errs (the slot is then treated as required, never silently dropped), each error naming the slot.
//
// Order follows the template: trail slots, then each artifact's slots. When
// several reported artifacts share a template name the last one is used,
// as the latest report of an artifact wins. A TemplateSlot built by hand
// (not by ParseComplianceTemplate) has its If compiled here; a compile error
// is then reported like an evaluation error.
func (t *ComplianceTemplate) Requirements(flow *Flow, trailName string, artifacts []ArtifactRef) (req []Required, errs []error) {
	req = []Required{}
	if t == nil {
		return req, nil
	}
	env := ExprEnv{TrailName: trailName}
	if flow != nil {
		env.FlowName, env.FlowTags = flow.Name, flow.Tags
	}
	for _, s := range t.Trail {
		ok, err := s.applies(env)
		if err != nil {
			errs = append(errs, fmt.Errorf("trail attestation %q: if: %w", s.Name, err))
		}
		if ok || err != nil {
			req = append(req, Required{Name: s.Name, Type: s.slotType()})
		}
	}
	for _, a := range t.Artifacts {
		aenv := env
		aenv.ArtifactName = a.Name
		for _, r := range artifacts {
			if r.Name == a.Name {
				aenv.ArtifactFingerprint = r.Fingerprint
			}
		}
		for _, s := range a.Attestations {
			ok, err := s.applies(aenv)
			if err != nil {
				errs = append(errs, fmt.Errorf("artifact %q attestation %q: if: %w", a.Name, s.Name, err))
			}
			if ok || err != nil {
				req = append(req, Required{Name: s.Name, Type: s.slotType(), Artifact: a.Name})
			}
		}
	}
	return req, errs
}

// applies evaluates the slot's condition; no condition means it applies.
func (s *TemplateSlot) applies(env ExprEnv) (bool, error) {
	cond := s.cond
	if cond == nil {
		if strings.TrimSpace(s.If) == "" {
			return true, nil
		}
		var err error
		if cond, err = CompileExpr(s.If); err != nil {
			return false, err
		}
	}
	return cond.Eval(env)
}

func (s *TemplateSlot) slotType() string {
	if s.Type == "" {
		return tmplAnyType
	}
	return s.Type
}
