package envpolicy_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/policy/envpolicy"
)

// examplePolicy is the example of kosli-schemas.md §C.1.
const examplePolicy = `_schema: https://kosli.com/schemas/policy/environment/v1
artifacts:
  provenance: {required: true, exceptions: [{if: '${{ matches(artifact.name, "^datadog/.*") }}'}]}
  trail-compliance: {required: true}
  attestations:
    - {name: unit-tests, type: junit}
    - {name: "*", type: pull_request, if: '${{ flow.tags.kind == "build" }}'}
    - {type: decision, for_control: CTL-7}
`

// capturePolicy is the policy.yml uploaded in kosli-captures/create-policy.txt.
const capturePolicy = `_schema: https://kosli.com/schemas/policy/environment/v1
artifacts:
  provenance:
    required: true
  attestations:
    - name: unit-test
      type: junit
`

func mustParse(t *testing.T, src string) *envpolicy.Policy {
	t.Helper()
	p, err := envpolicy.Parse([]byte(src))
	require.NoError(t, err)
	return p
}

func TestParse_valid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		src             string
		provenance      envpolicy.Rule
		trailCompliance envpolicy.Rule
		attestations    []envpolicy.AttestationRule
	}{
		{
			name: "example policy",
			src:  examplePolicy,
			provenance: envpolicy.Rule{Required: true,
				Exceptions: []string{`${{ matches(artifact.name, "^datadog/.*") }}`}},
			trailCompliance: envpolicy.Rule{Required: true},
			attestations: []envpolicy.AttestationRule{
				{Name: "unit-tests", Type: "junit", MustBeCompliant: true},
				{Name: "*", Type: "pull_request", If: `${{ flow.tags.kind == "build" }}`, MustBeCompliant: true},
				{Name: "*", Type: "decision", MustBeCompliant: true, ForControl: "CTL-7"},
			},
		},
		{
			name:         "create-policy capture",
			src:          capturePolicy,
			provenance:   envpolicy.Rule{Required: true},
			attestations: []envpolicy.AttestationRule{{Name: "unit-test", Type: "junit", MustBeCompliant: true}},
		},
		{name: "schema only", src: "_schema: https://docs.kosli.com/schemas/policy/v1\n"},
		{name: "mintlify schema", src: "_schema: https://kosli.mintlify.app/schemas/policy/v1\n"},
		{name: "null parts take defaults", src: "_schema: x/v1\nartifacts:\n  provenance:\n  trail-compliance: null\n  attestations:\n"},
		{name: "null artifacts", src: "_schema: x/v1\nartifacts: null\n"},
		{
			name: "explicit values and custom type",
			src: `_schema: https://kosli.com/schemas/policy/environment/v1
artifacts:
  provenance: {required: false, exceptions: []}
  trail-compliance:
    required: true
    exceptions:
      - if: ${{ flow.name == "legacy" }}
  attestations:
    - name: coverage
      type: custom:coverage-v2
      must_be_compliant: false
      if: null
    - name: sec
      type: "*"
      if: ""
    - type: decision
      for_control: null
`,
			trailCompliance: envpolicy.Rule{Required: true, Exceptions: []string{`${{ flow.name == "legacy" }}`}},
			attestations: []envpolicy.AttestationRule{
				{Name: "coverage", Type: "custom:coverage-v2"},
				{Name: "sec", Type: "*", MustBeCompliant: true},
				{Name: "*", Type: "decision", MustBeCompliant: true},
			},
		},
		{
			name: "every builtin type",
			src: `_schema: a/v1
artifacts:
  attestations:
    - {type: generic}
    - {type: junit}
    - {type: snyk}
    - {type: pull_request}
    - {type: jira}
    - {type: sonar}
    - {type: decision}
`,
			attestations: []envpolicy.AttestationRule{
				{Name: "*", Type: "generic", MustBeCompliant: true},
				{Name: "*", Type: "junit", MustBeCompliant: true},
				{Name: "*", Type: "snyk", MustBeCompliant: true},
				{Name: "*", Type: "pull_request", MustBeCompliant: true},
				{Name: "*", Type: "jira", MustBeCompliant: true},
				{Name: "*", Type: "sonar", MustBeCompliant: true},
				{Name: "*", Type: "decision", MustBeCompliant: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustParse(t, tt.src)
			assert.True(t, strings.HasSuffix(p.Schema, "/v1"))
			assert.Equal(t, tt.provenance, p.Provenance)
			assert.Equal(t, tt.trailCompliance, p.TrailCompliance)
			assert.Equal(t, tt.attestations, p.Attestations)
		})
	}
}

func TestParse_invalid(t *testing.T) {
	t.Parallel()
	const schema = "_schema: https://kosli.com/schemas/policy/environment/v1\n"
	tests := []struct {
		name    string
		src     string
		wantErr string // substring naming the location and the problem
	}{
		{"empty document", "", "_schema: is required"},
		{"missing _schema", "artifacts:\n  provenance: {required: true}\n", "_schema: is required"},
		{"blank _schema", "_schema: ' '\n", "_schema: is required"},
		{"schema v2", "_schema: https://kosli.com/schemas/policy/environment/v2\n", "_schema: version v2 is not supported"},
		{"schema without version", "_schema: https://kosli.com/schemas/policy\n", "_schema: must be a schema URI ending in /v1"},
		{"schema not a string", "_schema: [a]\n", "_schema: must be a string"},
		{"root not a mapping", "- a\n", "policy: must be a mapping"},
		{"unknown top-level key", schema + "rules: []\n", `policy: unknown key "rules"`},
		{"unknown artifacts key", schema + "artifacts: {approvals: true}\n", `artifacts: unknown key "approvals"`},
		{"unknown provenance key", schema + "artifacts: {provenance: {requird: true}}\n", `artifacts.provenance: unknown key "requird"`},
		{"unknown exception key", schema + "artifacts: {provenance: {exceptions: [{when: 'true'}]}}\n",
			`artifacts.provenance.exceptions[0]: unknown key "when"`},
		{"unknown attestation key", schema + "artifacts: {attestations: [{type: junit, compliant: true}]}\n",
			`artifacts.attestations[0]: unknown key "compliant"`},
		{"trail_compliance spelled with underscore", schema + "artifacts: {trail_compliance: {required: true}}\n",
			`artifacts: unknown key "trail_compliance"`},
		{"duplicate key", schema + "artifacts: {}\nartifacts: {}\n", `duplicate key "artifacts"`},
		{"merge key in rule", schema + "artifacts: {provenance: {<<: {required: true}}}\n", "artifacts.provenance: merge keys (<<) are not supported"},
		{"required not a bool", schema + "artifacts: {provenance: {required: 'yes'}}\n", "artifacts.provenance.required: must be true or false"},
		{"must_be_compliant not a bool", schema + "artifacts: {attestations: [{type: junit, must_be_compliant: 1}]}\n",
			"artifacts.attestations[0].must_be_compliant: must be true or false"},
		{"attestations not a list", schema + "artifacts: {attestations: {type: junit}}\n", "artifacts.attestations: must be a list"},
		{"exception not a mapping", schema + "artifacts: {provenance: {exceptions: ['true']}}\n",
			"artifacts.provenance.exceptions[0]: must be a mapping"},
		{"exception without if", schema + "artifacts: {trail-compliance: {exceptions: [{if: null}]}}\n",
			"artifacts.trail-compliance.exceptions[0].if: is required"},
		{"missing type", schema + "artifacts: {attestations: [{name: unit}]}\n", "artifacts.attestations[0].type: is required"},
		{"bad type", schema + "artifacts: {attestations: [{name: a, type: junit}, {name: unit, type: unittest}]}\n",
			`artifacts.attestations[1].type: unknown type "unittest"`},
		{"custom type without name", schema + "artifacts: {attestations: [{type: 'custom:'}]}\n",
			`artifacts.attestations[0].type: custom type name ""`},
		{"custom type bad name", schema + "artifacts: {attestations: [{type: 'custom:-x'}]}\n",
			`artifacts.attestations[0].type: custom type name "-x"`},
		{"name and type both *", schema + "artifacts: {attestations: [{name: '*', type: '*'}]}\n",
			`artifacts.attestations[0]: name and type must not both be "*"`},
		{"type * with default name", schema + "artifacts: {attestations: [{type: '*'}]}\n",
			`artifacts.attestations[0]: name and type must not both be "*"`},
		{"empty name", schema + "artifacts: {attestations: [{name: '', type: junit}]}\n",
			"artifacts.attestations[0].name: must not be empty"},
		{"for_control on non-decision", schema + "artifacts: {attestations: [{type: junit, for_control: CTL-1}]}\n",
			"artifacts.attestations[0].for_control: is only allowed with type decision"},
		{"empty for_control", schema + "artifacts: {attestations: [{type: decision, for_control: ''}]}\n",
			"artifacts.attestations[0].for_control: must not be empty"},
		{"bad if expression", schema + "artifacts: {attestations: [{type: junit, if: '${{ flow.name = \"x\" }}'}]}\n",
			"artifacts.attestations[0].if: unexpected character"},
		{"unknown variable in if", schema + "artifacts: {attestations: [{type: junit, if: '${{ env.name == \"x\" }}'}]}\n",
			`artifacts.attestations[0].if: unknown variable "env.name"`},
		{"bad exception expression", schema + "artifacts: {provenance: {exceptions: [{if: '${{ matches(artifact.name, \"(\") }}'}]}}\n",
			"artifacts.provenance.exceptions[0].if: invalid regular expression"},
		{"unclosed wrapper", schema + "artifacts: {provenance: {exceptions: [{if: '${{ true'}]}}\n",
			"artifacts.provenance.exceptions[0].if:"},
		{"YAML syntax", schema + "artifacts:\n  provenance: {required: true\n", "not valid YAML"},
		{"YAML tab indentation", schema + "artifacts:\n\tprovenance: {}\n", "not valid YAML"},
		{"too large", schema + "#" + strings.Repeat("x", 300*1024) + "\n", "must be at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := envpolicy.Parse([]byte(tt.src))
			require.Error(t, err)
			assert.Nil(t, p)
			require.ErrorIs(t, err, envpolicy.ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParse_expressionErrorIsExprError(t *testing.T) {
	t.Parallel()
	_, err := envpolicy.Parse([]byte("_schema: a/v1\nartifacts: {attestations: [{type: junit, if: 'flow.name =='}]}\n"))
	require.ErrorIs(t, err, envpolicy.ErrInvalid)
	var exprErr *domain.ExprError
	require.ErrorAs(t, err, &exprErr)
	assert.Positive(t, exprErr.Pos)
}

func TestParse_tooManyEntries(t *testing.T) {
	t.Parallel()
	src := "_schema: a/v1\nartifacts:\n  attestations:\n" + strings.Repeat("    - {type: junit}\n", 10001)
	_, err := envpolicy.Parse([]byte(src))
	require.ErrorIs(t, err, envpolicy.ErrInvalid)
	assert.Contains(t, err.Error(), "artifacts.attestations[10000]: too many entries")
}

func TestParse_aliasesAreFollowed(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `_schema: a/v1
artifacts:
  provenance: &rule {required: true, exceptions: [{if: 'flow.name == "x"'}]}
  trail-compliance: *rule
`)
	assert.Equal(t, p.Provenance, p.TrailCompliance)
	assert.True(t, p.TrailCompliance.Required)
}
