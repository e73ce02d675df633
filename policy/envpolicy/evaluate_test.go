package envpolicy_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/policy/envpolicy"
)

// ruleWant is the part of a RuleEvaluation a scenario checks.
type ruleWant struct {
	Ignored     bool
	Satisfied   *bool
	Resolutions []string
}

var (
	yes = ruleWant{Satisfied: ptr(true), Resolutions: []string{"rule_satisfied"}}
	na  = ruleWant{Ignored: true, Resolutions: []string{"rule_not_applicable"}}
	na2 = ruleWant{Ignored: true, Resolutions: []string{"rule_not_applicable", "rule_not_applicable"}}
	// none is a rule with no context to apply to (an unknown artifact).
	none = ruleWant{Ignored: true, Resolutions: []string{}}
)

func ptr(b bool) *bool { return &b }

func fail(types ...string) ruleWant { return ruleWant{Satisfied: ptr(false), Resolutions: types} }

func pass(types ...string) ruleWant { return ruleWant{Satisfied: ptr(true), Resolutions: types} }

func summarise(ev envpolicy.Evaluation) []ruleWant {
	out := make([]ruleWant, len(ev.RuleEvaluations))
	for i, re := range ev.RuleEvaluations {
		types := make([]string, len(re.Resolutions))
		for j, r := range re.Resolutions {
			types[j] = r.Type
		}
		out[i] = ruleWant{Ignored: re.Ignored, Satisfied: re.Satisfied, Resolutions: types}
	}
	return out
}

func att(name, typ string, compliant bool) envpolicy.Attestation {
	return envpolicy.Attestation{Name: name, Type: typ, Compliant: compliant}
}

func decision(control string, compliant bool) envpolicy.Attestation {
	return envpolicy.Attestation{Name: "approval", Type: "decision", Compliant: compliant, ForControl: control}
}

// myflow is the context of the assert-artifact-* captures: myflow/trail-1.
func myflow(status string, atts ...envpolicy.Attestation) envpolicy.Context {
	return envpolicy.Context{FlowName: "myflow", TrailName: "trail-1", ArtifactStatus: status, Attestations: atts}
}

func buildCtx(trail, kind, status string, atts ...envpolicy.Attestation) envpolicy.Context {
	return envpolicy.Context{
		FlowName: "web-ci", FlowTags: map[string]string{"kind": kind}, TrailName: trail,
		ArtifactStatus: status, Attestations: atts,
	}
}

const fp = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestEvaluate(t *testing.T) {
	t.Parallel()
	const (
		compliant    = "COMPLIANT"
		nonCompliant = "NON-COMPLIANT"
	)
	allGood := []envpolicy.Attestation{
		att("unit-tests", "junit", true), att("pull-request", "pull_request", true), decision("CTL-7", true),
	}
	tests := []struct {
		name     string
		policy   string
		artifact string
		contexts []envpolicy.Context
		status   string
		rules    []ruleWant // provenance, trail-compliance, then attestation rules
	}{
		// The create-policy capture's policy against the assert-artifact captures' data.
		{
			name: "capture: compliant unit-test (assert-artifact-policy, -env)", policy: capturePolicy,
			contexts: []envpolicy.Context{myflow(compliant, att("unit-test", "junit", true))},
			status:   compliant, rules: []ruleWant{yes, na, yes},
		},
		{
			name: "capture: non-compliant unit-test (assert-artifact-noncompliant-table)", policy: capturePolicy,
			contexts: []envpolicy.Context{myflow(nonCompliant, att("unit-test", "junit", false))},
			status:   nonCompliant, rules: []ruleWant{yes, na, fail("non_compliant_attestation")},
		},
		{
			name: "capture: missing attestation", policy: capturePolicy,
			contexts: []envpolicy.Context{myflow(compliant, att("integration", "junit", true))},
			status:   nonCompliant, rules: []ruleWant{yes, na, fail("missing_attestation")},
		},
		{
			name: "capture: right name, wrong type", policy: capturePolicy,
			contexts: []envpolicy.Context{myflow(compliant, att("unit-test", "generic", true))},
			status:   nonCompliant, rules: []ruleWant{yes, na, fail("missing_attestation")},
		},
		{
			name: "capture: unknown artifact fails provenance", policy: capturePolicy,
			status: nonCompliant, rules: []ruleWant{fail("no_provenance"), none, none},
		},

		// The §C.1 example policy.
		{
			name: "example: everything satisfied", policy: examplePolicy, artifact: "web",
			contexts: []envpolicy.Context{buildCtx("abc123", "build", compliant, allGood...)},
			status:   compliant, rules: []ruleWant{yes, yes, yes, yes, yes},
		},
		{
			name: "example: if false everywhere is ignored", policy: examplePolicy, artifact: "web",
			contexts: []envpolicy.Context{
				buildCtx("t1", "deploy", compliant, att("unit-tests", "junit", true), decision("CTL-7", true)),
				buildCtx("t2", "lib", compliant, att("unit-tests", "junit", true), decision("CTL-7", true)),
			},
			status: compliant,
			rules: []ruleWant{pass("rule_satisfied", "rule_satisfied"), pass("rule_satisfied", "rule_satisfied"),
				pass("rule_satisfied", "rule_satisfied"),
				na2, pass("rule_satisfied", "rule_satisfied")},
		},
		{
			name: "example: if true in one context only", policy: examplePolicy, artifact: "web",
			contexts: []envpolicy.Context{
				buildCtx("t1", "build", compliant, allGood...),
				buildCtx("t2", "lib", compliant, att("unit-tests", "junit", true), decision("CTL-7", true)),
			},
			status: compliant,
			rules: []ruleWant{pass("rule_satisfied", "rule_satisfied"), pass("rule_satisfied", "rule_satisfied"),
				pass("rule_satisfied", "rule_satisfied"), pass("rule_satisfied", "rule_not_applicable"),
				pass("rule_satisfied", "rule_satisfied")},
		},
		{
			name: "example: every applicable context must pass", policy: examplePolicy, artifact: "web",
			contexts: []envpolicy.Context{
				buildCtx("t1", "build", compliant, allGood...),
				buildCtx("t2", "build", nonCompliant, att("pull-request", "pull_request", true), decision("CTL-7", true)),
			},
			status: nonCompliant,
			rules: []ruleWant{pass("rule_satisfied", "rule_satisfied"), fail("rule_satisfied", "non_compliant_in_trail"),
				fail("rule_satisfied", "missing_attestation"), pass("rule_satisfied", "rule_satisfied"),
				pass("rule_satisfied", "rule_satisfied")},
		},
		{
			name: "example: unknown artifact", policy: examplePolicy, artifact: "web",
			status: nonCompliant, rules: []ruleWant{fail("no_provenance"), none, none, none, none},
		},
		{
			name: "example: unknown artifact waived by exception", policy: examplePolicy, artifact: "datadog/agent:7",
			status: compliant, rules: []ruleWant{na, none, none, none, none},
		},
		{
			name: "example: exception waives provenance only", policy: examplePolicy, artifact: "datadog/agent:7",
			contexts: []envpolicy.Context{buildCtx("t1", "build", nonCompliant, allGood...)},
			status:   nonCompliant, rules: []ruleWant{na, fail("non_compliant_in_trail"), yes, yes, yes},
		},
		{
			name: "example: decision for another control", policy: examplePolicy, artifact: "web",
			contexts: []envpolicy.Context{buildCtx("t1", "build", compliant,
				att("unit-tests", "junit", true), att("pr", "pull_request", true), decision("CTL-8", true))},
			status: nonCompliant, rules: []ruleWant{yes, yes, yes, yes, fail("missing_attestation")},
		},
		{
			name: "example: non-compliant decision", policy: examplePolicy, artifact: "web",
			contexts: []envpolicy.Context{buildCtx("t1", "build", compliant,
				att("unit-tests", "junit", true), att("pr", "pull_request", true), decision("CTL-7", false))},
			status: nonCompliant, rules: []ruleWant{yes, yes, yes, yes, fail("non_compliant_attestation")},
		},
		{
			name: "example: pull_request rule missing", policy: examplePolicy, artifact: "web",
			contexts: []envpolicy.Context{buildCtx("t1", "build", compliant,
				att("unit-tests", "junit", true), att("pull-request", "generic", true), decision("CTL-7", true))},
			status: nonCompliant, rules: []ruleWant{yes, yes, yes, fail("missing_attestation"), yes},
		},

		// Attestation rule matching.
		{
			name: "must_be_compliant false: presence is enough",
			policy: `_schema: a/v1
artifacts: {attestations: [{name: scan, type: snyk, must_be_compliant: false}]}`,
			contexts: []envpolicy.Context{myflow(compliant, att("scan", "snyk", false))},
			status:   compliant, rules: []ruleWant{na, na, yes},
		},
		{
			name: "must_be_compliant false: still required",
			policy: `_schema: a/v1
artifacts: {attestations: [{name: scan, type: snyk, must_be_compliant: false}]}`,
			contexts: []envpolicy.Context{myflow(compliant)},
			status:   nonCompliant, rules: []ruleWant{na, na, fail("missing_attestation")},
		},
		{
			name:     "name *: any junit attestation",
			policy:   "_schema: a/v1\nartifacts: {attestations: [{name: '*', type: junit}]}",
			contexts: []envpolicy.Context{myflow(compliant, att("integration", "junit", true))},
			status:   compliant, rules: []ruleWant{na, na, yes},
		},
		{
			name:   "name *: every matching attestation must be compliant",
			policy: "_schema: a/v1\nartifacts: {attestations: [{type: junit}]}",
			contexts: []envpolicy.Context{myflow(compliant,
				att("unit", "junit", true), att("integration", "junit", false))},
			status: nonCompliant, rules: []ruleWant{na, na, fail("non_compliant_attestation")},
		},
		{
			name:     "type *: named attestation of any type",
			policy:   "_schema: a/v1\nartifacts: {attestations: [{name: sec, type: '*'}]}",
			contexts: []envpolicy.Context{myflow(compliant, att("sec", "custom:zap", true))},
			status:   compliant, rules: []ruleWant{na, na, yes},
		},
		{
			name:     "custom type",
			policy:   "_schema: a/v1\nartifacts: {attestations: [{name: cov, type: 'custom:coverage'}]}",
			contexts: []envpolicy.Context{myflow(compliant, att("cov", "custom:other", true))},
			status:   nonCompliant, rules: []ruleWant{na, na, fail("missing_attestation")},
		},
		{
			name:   "decision without for_control: any decision",
			policy: "_schema: a/v1\nartifacts: {attestations: [{type: decision}]}",
			contexts: []envpolicy.Context{myflow(compliant, decision("CTL-1", true)),
				{FlowName: "f2", TrailName: "t2", ArtifactStatus: compliant, Attestations: []envpolicy.Attestation{att("d", "decision", true)}}},
			status: compliant, rules: []ruleWant{na2, na2, pass("rule_satisfied", "rule_satisfied")},
		},

		// Required false, exceptions and expression bindings.
		{
			name:   "not required: unknown artifact is fine",
			policy: "_schema: a/v1\n", status: compliant, rules: []ruleWant{na, none},
		},
		{
			name:     "not required: never applicable",
			policy:   "_schema: a/v1\n",
			contexts: []envpolicy.Context{myflow(nonCompliant)},
			status:   compliant, rules: []ruleWant{na, na},
		},
		{
			name: "trail-compliance exception on trail name",
			policy: `_schema: a/v1
artifacts: {trail-compliance: {required: true, exceptions: [{if: '${{ trail.name == "hotfix" }}'}]}}`,
			contexts: []envpolicy.Context{
				{FlowName: "f", TrailName: "hotfix", ArtifactStatus: nonCompliant},
				{FlowName: "f", TrailName: "main", ArtifactStatus: compliant},
			},
			status: compliant,
			rules:  []ruleWant{na2, pass("rule_not_applicable", "rule_satisfied")},
		},
		{
			name: "exception sees the context's artifact name",
			policy: `_schema: a/v1
artifacts: {trail-compliance: {required: true, exceptions: [{if: 'artifact.name == "legacy"'}]}}`,
			artifact: "app",
			contexts: []envpolicy.Context{{FlowName: "f", TrailName: "t", ArtifactName: "legacy", ArtifactStatus: nonCompliant}},
			status:   compliant, rules: []ruleWant{na, na},
		},
		{
			name: "exception sees the fingerprint argument",
			policy: `_schema: a/v1
artifacts: {provenance: {required: true, exceptions: [{if: 'artifact.fingerprint == "` + fp + `"'}]}}`,
			status: compliant, rules: []ruleWant{na, none},
		},
		{
			name: "exception on an absent tag is false, not an error",
			policy: `_schema: a/v1
artifacts: {trail-compliance: {required: true, exceptions: [{if: 'flow.tags.waive == "yes"'}]}}`,
			contexts: []envpolicy.Context{myflow(nonCompliant)},
			status:   nonCompliant, rules: []ruleWant{na, fail("non_compliant_in_trail")},
		},
		{
			name: "exception that fails to evaluate waives nothing",
			policy: `_schema: a/v1
artifacts: {trail-compliance: {required: true, exceptions: [{if: '${{ flow.name }}'}]}}`,
			contexts: []envpolicy.Context{myflow(nonCompliant)},
			status:   nonCompliant, rules: []ruleWant{na, fail("non_compliant_in_trail")},
		},
		{
			name: "if that fails to evaluate makes the rule apply",
			policy: `_schema: a/v1
artifacts: {attestations: [{name: unit, type: junit, if: '${{ flow.tags.n > true }}'}]}`,
			contexts: []envpolicy.Context{{FlowName: "f", TrailName: "t", FlowTags: map[string]string{"n": "3"}}},
			status:   nonCompliant, rules: []ruleWant{na, na, fail("missing_attestation")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustParse(t, tt.policy)
			ev := p.Evaluate("prod-policy", 3, tt.artifact, fp, tt.contexts)
			assert.Equal(t, "prod-policy", ev.PolicyName)
			assert.Equal(t, 3, ev.PolicyVersion)
			assert.Equal(t, tt.status, ev.Status)
			require.Len(t, ev.RuleEvaluations, 2+len(p.Attestations), "always 2 + N rule evaluations")
			assert.Equal(t, tt.rules, summarise(ev))
			types := []string{"provenance", "trail-compliance"}
			for range p.Attestations {
				types = append(types, "attestation")
			}
			for i, re := range ev.RuleEvaluations {
				assert.Equal(t, types[i], re.Rule.Type)
			}
		})
	}
}

func TestEvaluate_resolutionContexts(t *testing.T) {
	t.Parallel()
	p := mustParse(t, examplePolicy)
	ctx := buildCtx("abc123", "build", "NON-COMPLIANT", att("unit-tests", "junit", true))
	ev := p.Evaluate("p", 1, "web", fp, []envpolicy.Context{ctx})
	want := []map[string]any{
		{"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": nil},
		{"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": "NON-COMPLIANT"},
		{"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": nil},
		{"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": nil},
		{"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": nil, "for_control": "CTL-7"},
	}
	require.Len(t, ev.RuleEvaluations, len(want))
	for i, re := range ev.RuleEvaluations {
		require.Len(t, re.Resolutions, 1)
		assert.Equal(t, want[i], re.Resolutions[0].Context, "rule %d", i)
	}
	assert.Equal(t, "missing_attestation", ev.RuleEvaluations[4].Resolutions[0].Type)

	unknown := p.Evaluate("p", 1, "web", fp, nil)
	require.Len(t, unknown.RuleEvaluations[0].Resolutions, 1)
	assert.Equal(t, envpolicy.Resolution{Type: "no_provenance", Context: map[string]any{}}, unknown.RuleEvaluations[0].Resolutions[0])
}

// TestEvaluate_wireShape reproduces the failing env-scope example of
// kosli-schemas.md §E and compares the JSON exactly.
func TestEvaluate_wireShape(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `_schema: https://kosli.com/schemas/policy/environment/v1
artifacts:
  provenance: {required: true}
  attestations:
    - {name: unit-tests, type: junit}
`)
	ev := p.Evaluate("prod-rules", 2, "web", fp, []envpolicy.Context{
		{FlowName: "web-ci", TrailName: "abc123", ArtifactStatus: "COMPLIANT"},
	})
	got, err := json.Marshal(ev)
	require.NoError(t, err)
	const want = `{"policy_name": "prod-rules", "policy_version": 2, "status": "NON-COMPLIANT",
   "rule_evaluations": [
     {"rule": {"type": "provenance", "definition": {"required": true, "exceptions": []}},
      "ignored": false, "satisfied": true,
      "resolutions": [{"type": "rule_satisfied", "context": {"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": null}}]},
     {"rule": {"type": "trail-compliance", "definition": {"required": false, "exceptions": []}},
      "ignored": true, "satisfied": null,
      "resolutions": [{"type": "rule_not_applicable", "context": {"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": "COMPLIANT"}}]},
     {"rule": {"type": "attestation", "definition": {"if": null, "name": "unit-tests", "type": "junit", "must_be_compliant": true}},
      "ignored": false, "satisfied": false,
      "resolutions": [{"type": "missing_attestation", "context": {"flow_name": "web-ci", "trail_name": "abc123", "artifact_status": null}}]}]}`
	assert.JSONEq(t, want, string(got))
}

func TestEvaluate_definitionsJSON(t *testing.T) {
	t.Parallel()
	p := mustParse(t, examplePolicy)
	ev := p.Evaluate("p", 1, "web", fp, nil)
	wants := []string{
		`{"type":"provenance","definition":{"required":true,"exceptions":[{"if":{"text":"matches(artifact.name, \"^datadog/.*\")"}}]}}`,
		`{"type":"trail-compliance","definition":{"required":true,"exceptions":[]}}`,
		`{"type":"attestation","definition":{"if":null,"name":"unit-tests","type":"junit","must_be_compliant":true}}`,
		`{"type":"attestation","definition":{"if":{"text":"flow.tags.kind == \"build\""},"name":"*","type":"pull_request","must_be_compliant":true}}`,
		`{"type":"attestation","definition":{"if":null,"name":"*","type":"decision","must_be_compliant":true,"for_control":"CTL-7"}}`,
	}
	require.Len(t, ev.RuleEvaluations, len(wants))
	for i, re := range ev.RuleEvaluations {
		got, err := json.Marshal(re.Rule)
		require.NoError(t, err)
		assert.JSONEq(t, wants[i], string(got), "rule %d", i)
	}
}

// TestEvaluate_requiredKeys checks that every field the CLI reads is present
// in the JSON, even when null or empty, for an unknown artifact.
func TestEvaluate_requiredKeys(t *testing.T) {
	t.Parallel()
	ev := mustParse(t, capturePolicy).Evaluate("p", 1, "web", fp, nil)
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.ElementsMatch(t, []string{"policy_name", "policy_version", "status", "rule_evaluations"}, keys(doc))
	rules, ok := doc["rule_evaluations"].([]any)
	require.True(t, ok)
	require.Len(t, rules, 3)
	for i, r := range rules {
		re, ok := r.(map[string]any)
		require.True(t, ok)
		assert.ElementsMatch(t, []string{"rule", "ignored", "satisfied", "resolutions"}, keys(re), "rule %d", i)
		assert.NotNil(t, re["resolutions"], "resolutions is a list, never null")
		rule, ok := re["rule"].(map[string]any)
		require.True(t, ok)
		assert.ElementsMatch(t, []string{"type", "definition"}, keys(rule))
	}
	assert.JSONEq(t, `[{"type":"no_provenance","context":{}}]`, mustJSON(t, ev.RuleEvaluations[0].Resolutions))
	assert.JSONEq(t, `[]`, mustJSON(t, ev.RuleEvaluations[1].Resolutions))
	assert.Equal(t, false, rules[0].(map[string]any)["satisfied"])
	assert.Nil(t, rules[1].(map[string]any)["satisfied"])
	assert.Equal(t, true, rules[1].(map[string]any)["ignored"])
}

func TestEvaluate_nilAndHandBuiltPolicy(t *testing.T) {
	t.Parallel()
	var nilPolicy *envpolicy.Policy
	ev := nilPolicy.Evaluate("p", 1, "web", fp, nil)
	assert.Equal(t, "COMPLIANT", ev.Status)
	assert.Len(t, ev.RuleEvaluations, 2)

	// Expressions in a Policy not built by Parse are compiled on use; one
	// that does not compile fails closed like one that fails to evaluate.
	hand := &envpolicy.Policy{
		Provenance: envpolicy.Rule{Required: true, Exceptions: []string{"not valid =="}},
		Attestations: []envpolicy.AttestationRule{
			{Name: "unit", Type: "junit", If: "((", MustBeCompliant: true},
			{Name: "lint", Type: "generic", If: `artifact.name == "other"`, MustBeCompliant: true},
		},
	}
	ev = hand.Evaluate("p", 1, "web", fp, []envpolicy.Context{myflow("COMPLIANT")})
	assert.Equal(t, "NON-COMPLIANT", ev.Status)
	assert.Equal(t, []ruleWant{yes, na, fail("missing_attestation"), na}, summarise(ev))
}

func TestEvaluate_concurrent(t *testing.T) {
	t.Parallel()
	p := mustParse(t, examplePolicy)
	ctx := buildCtx("t1", "build", "COMPLIANT", att("unit-tests", "junit", true))
	want := p.Evaluate("p", 1, "web", fp, []envpolicy.Context{ctx})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				assert.Equal(t, want, p.Evaluate("p", 1, "web", fp, []envpolicy.Context{ctx}))
			}
		}()
	}
	wg.Wait()
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
