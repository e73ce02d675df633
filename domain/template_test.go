package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
)

// tmplSlots strips the compiled condition so slots compare by their public fields.
func tmplSlots(in []domain.TemplateSlot) [][3]string {
	out := [][3]string{}
	for _, s := range in {
		out = append(out, [3]string{s.Name, s.Type, s.If})
	}
	return out
}

func TestParseComplianceTemplate(t *testing.T) {
	t.Parallel()
	type art struct {
		name  string
		slots [][3]string
	}
	tests := []struct {
		name      string
		src       string
		trail     [][3]string
		artifacts []art
	}{
		{"empty source", "", [][3]string{}, nil},
		{"comment only", "# nothing\n", [][3]string{}, nil},
		{"version only", "version: 1\n", [][3]string{}, nil},
		{"null trail", "version: 1\ntrail:\n", [][3]string{}, nil},
		{
			name: "kosli v1 layout",
			src: `version: 1
trail:
  attestations:
    - name: jira-ticket
      type: jira
    - name: risk
      type: custom:risk-level
  artifacts:
    - name: backend
      attestations:
        - name: unit-tests
          type: junit
        - name: sbom
          type: "*"
    - name: frontend
`,
			trail: [][3]string{{"jira-ticket", "jira", ""}, {"risk", "custom:risk-level", ""}},
			artifacts: []art{
				{"backend", [][3]string{{"unit-tests", "junit", ""}, {"sbom", "*", ""}}},
				{"frontend", [][3]string{}},
			},
		},
		{
			name: "artifacts at the root with if",
			src: `trail:
  attestations:
    - name: pr
      if: '${{ flow.tags.kind == "build" }}'
artifacts:
  - name: app
    attestations:
      - name: scan
        if: matches(artifact.name, "^app")
`,
			trail:     [][3]string{{"pr", "*", `${{ flow.tags.kind == "build" }}`}},
			artifacts: []art{{"app", [][3]string{{"scan", "*", `matches(artifact.name, "^app")`}}}},
		},
		{
			name: "both layouts are joined, trail first",
			src: `artifacts:
  - name: root-art
trail:
  artifacts:
    - name: trail-art
`,
			trail:     [][3]string{},
			artifacts: []art{{"trail-art", [][3]string{}}, {"root-art", [][3]string{}}},
		},
		{
			name: "unknown keys ignored, type absent is any, blank if is always",
			src: `version: 1
owner: someone
trail:
  color: blue
  attestations:
    - {name: a, extra: 1, if: "  "}
    - {name: 42, type: generic}
`,
			trail: [][3]string{{"a", "*", ""}, {"42", "generic", ""}},
		},
		{
			name: "unquoted wrapped expression and anchors",
			src: `base: &slot {name: shared, type: junit}
trail:
  attestations:
    - *slot
    - name: gated
      if: ${{ flow.name != "x" }}
`,
			trail: [][3]string{{"shared", "junit", ""}, {"gated", "*", `${{ flow.name != "x" }}`}},
		},
		{
			name: "same slot name on different levels",
			src: `trail:
  attestations: [{name: t}]
  artifacts:
    - {name: a, attestations: [{name: t}]}
    - {name: b, attestations: [{name: t}]}
`,
			trail: [][3]string{{"t", "*", ""}},
			artifacts: []art{
				{"a", [][3]string{{"t", "*", ""}}},
				{"b", [][3]string{{"t", "*", ""}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseComplianceTemplate(tc.src)
			require.NoError(t, err)
			assert.Equal(t, 1, got.Version)
			assert.Equal(t, tc.trail, tmplSlots(got.Trail))
			var arts []art
			for _, a := range got.Artifacts {
				arts = append(arts, art{a.Name, tmplSlots(a.Attestations)})
			}
			assert.Equal(t, tc.artifacts, arts)
		})
	}
}

func TestParseComplianceTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"bad yaml", "trail: [", "templateYaml: is not valid YAML"},
		{"root not a mapping", "- a\n- b\n", "templateYaml: template: must be a mapping"},
		{"bad version", "version: 2\n", `templateYaml: version: must be 1, got "2"`},
		{"version not scalar", "version: [1]\n", "templateYaml: version: must be 1"},
		{"trail not a mapping", "trail: [a]\n", "templateYaml: trail: must be a mapping"},
		{"attestations not a list", "trail: {attestations: {name: a}}\n", "templateYaml: trail.attestations: must be a list"},
		{"slot not a mapping", "trail: {attestations: [a]}\n", "templateYaml: trail.attestations[0]: must be a mapping"},
		{"missing name", "trail: {attestations: [{name: a}, {type: junit}]}\n", "templateYaml: trail.attestations[1].name: is required"},
		{"null name", "trail: {attestations: [{name: null}]}\n", "templateYaml: trail.attestations[0].name: is required"},
		{"empty name", `trail: {attestations: [{name: ""}]}`, "templateYaml: trail.attestations[0].name: is required"},
		{"blank name", `trail: {attestations: [{name: "  "}]}`, "templateYaml: trail.attestations[0].name: is required"},
		{"name not scalar", "trail: {attestations: [{name: [a]}]}\n", "templateYaml: trail.attestations[0].name: must be a string"},
		{"empty type", `trail: {attestations: [{name: a, type: ""}]}`, "templateYaml: trail.attestations[0].type: must not be empty"},
		{"duplicate slot", "trail: {attestations: [{name: a}, {name: b}, {name: a}]}\n", `templateYaml: trail.attestations[2].name: duplicate name "a" (also at [0])`},
		{
			"bad if",
			"trail:\n  attestations:\n    - {name: a}\n    - {name: b, if: 'flow.name == == \"x\"'}\n",
			`templateYaml: trail.attestations[1].if: unexpected token "==" at 14`,
		},
		{"unknown variable in if", "trail: {attestations: [{name: a, if: 'env.X == 1'}]}\n", `templateYaml: trail.attestations[0].if: unknown variable "env.X" at 1`},
		{"bad regex in if", `trail: {attestations: [{name: a, if: 'matches(flow.name, "[")'}]}`, "templateYaml: trail.attestations[0].if: invalid regular expression"},
		{"artifact missing name", "artifacts: [{attestations: []}]\n", "templateYaml: artifacts[0].name: is required"},
		{"artifact not a mapping", "trail: {artifacts: [x]}\n", "templateYaml: trail.artifacts[0]: must be a mapping"},
		{"artifacts not a list", "artifacts: x\n", "templateYaml: artifacts: must be a list"},
		{"duplicate artifact", "artifacts: [{name: a}, {name: a}]\n", `templateYaml: artifacts[1].name: duplicate artifact name "a" (also at artifacts[0])`},
		{"duplicate artifact across layouts", "trail: {artifacts: [{name: a}]}\nartifacts: [{name: a}]\n", `templateYaml: artifacts[0].name: duplicate artifact name "a" (also at trail.artifacts[0])`},
		{
			"artifact slot errors name the path",
			"trail:\n  artifacts:\n    - name: app\n      attestations:\n        - {name: x, if: 'exists()'}\n",
			"templateYaml: trail.artifacts[0].attestations[0].if: exists takes 1 argument, got 0 at 1",
		},
		{"duplicate artifact slot", "artifacts: [{name: a, attestations: [{name: s}, {name: s}]}]\n", `templateYaml: artifacts[0].attestations[1].name: duplicate name "s"`},
		{"duplicate key", "trail:\n  attestations: []\n  attestations: []\n", `templateYaml: trail: duplicate key "attestations"`},
		{"merge key", "base: &b {attestations: [{name: a}]}\ntrail:\n  <<: *b\n", "templateYaml: trail: merge keys (<<) are not supported"},
		{"too large", strings.Repeat("#", domain.MaxTemplateLen+1), "templateYaml: must be at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseComplianceTemplate(tc.src)
			require.ErrorIs(t, err, domain.ErrInvalid)
			assert.Nil(t, got)
			var fe *domain.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "templateYaml", fe.Field)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseComplianceTemplateAliasBomb(t *testing.T) {
	t.Parallel()
	// 200 artifacts each naming the same 200-slot list: small text, 40k slots.
	var b strings.Builder
	b.WriteString("slots: &s [")
	for i := range 200 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{name: s")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("}")
	}
	b.WriteString("]\nartifacts:\n")
	for i := range 200 {
		b.WriteString("  - {name: a" + strings.Repeat("y", i) + ", attestations: *s}\n")
	}
	_, err := domain.ParseComplianceTemplate(b.String())
	require.ErrorIs(t, err, domain.ErrInvalid)
	assert.Contains(t, err.Error(), "too many entries")
}

const tmplRequirementsYAML = `version: 1
trail:
  attestations:
    - name: jira
      type: jira
    - name: pr
      type: pull_request
      if: ${{ flow.tags.kind == "build" }}
    - name: prod-only
      if: trail.name in ["release", "hotfix"]
    - name: broken
      if: flow.tags.missing
  artifacts:
    - name: backend
      attestations:
        - name: unit-tests
          type: junit
        - name: sbom
          if: exists(artifact.fingerprint)
        - name: signed
          if: matches(artifact.fingerprint, "^sha256:")
    - name: frontend
      attestations:
        - name: lint
          if: not matches(flow.name, "^legacy-")
        - name: ui-tests
          if: artifact.name == "frontend"
artifacts:
  - name: docs
    attestations:
      - name: spellcheck
        if: flow.tags.docs == "true"
`

func TestTemplateRequirements(t *testing.T) {
	t.Parallel()
	tmpl, err := domain.ParseComplianceTemplate(tmplRequirementsYAML)
	require.NoError(t, err)

	brokenErr := `trail attestation "broken": if: result is null, not a boolean at 1`
	tests := []struct {
		name      string
		flow      *domain.Flow
		trail     string
		artifacts []domain.ArtifactRef
		want      []domain.Required
		errs      []string
	}{
		{
			name:  "build flow, all artifacts reported",
			flow:  &domain.Flow{Name: "shop", Tags: map[string]string{"kind": "build", "docs": "true"}},
			trail: "release",
			artifacts: []domain.ArtifactRef{
				{Name: "frontend", Fingerprint: "f1"},
				{Name: "backend", Fingerprint: "sha256:abc"},
				{Name: "docs", Fingerprint: "d1"},
				{Name: "unexpected", Fingerprint: "u1"},
			},
			want: []domain.Required{
				{Name: "jira", Type: "jira"},
				{Name: "pr", Type: "pull_request"},
				{Name: "prod-only", Type: "*"},
				{Name: "broken", Type: "*"},
				{Name: "unit-tests", Type: "junit", Artifact: "backend"},
				{Name: "sbom", Type: "*", Artifact: "backend"},
				{Name: "signed", Type: "*", Artifact: "backend"},
				{Name: "lint", Type: "*", Artifact: "frontend"},
				{Name: "ui-tests", Type: "*", Artifact: "frontend"},
				{Name: "spellcheck", Type: "*", Artifact: "docs"},
			},
			errs: []string{brokenErr},
		},
		{
			name:  "if: false slots are left out, missing artifacts still apply",
			flow:  &domain.Flow{Name: "legacy-shop"},
			trail: "feature-1",
			want: []domain.Required{
				{Name: "jira", Type: "jira"},
				{Name: "broken", Type: "*"},
				{Name: "unit-tests", Type: "junit", Artifact: "backend"},
				{Name: "ui-tests", Type: "*", Artifact: "frontend"},
			},
			errs: []string{brokenErr},
		},
		{
			name:      "fingerprint of the matching artifact is seen, last report wins",
			flow:      &domain.Flow{Name: "shop", Tags: map[string]string{"kind": "test"}},
			trail:     "hotfix",
			artifacts: []domain.ArtifactRef{{Name: "backend", Fingerprint: "sha256:old"}, {Name: "backend", Fingerprint: "plain"}},
			want: []domain.Required{
				{Name: "jira", Type: "jira"},
				{Name: "prod-only", Type: "*"},
				{Name: "broken", Type: "*"},
				{Name: "unit-tests", Type: "junit", Artifact: "backend"},
				{Name: "sbom", Type: "*", Artifact: "backend"},
				{Name: "lint", Type: "*", Artifact: "frontend"},
				{Name: "ui-tests", Type: "*", Artifact: "frontend"},
			},
			errs: []string{brokenErr},
		},
		{
			name: "nil flow",
			want: []domain.Required{
				{Name: "jira", Type: "jira"},
				{Name: "broken", Type: "*"},
				{Name: "unit-tests", Type: "junit", Artifact: "backend"},
				{Name: "lint", Type: "*", Artifact: "frontend"},
				{Name: "ui-tests", Type: "*", Artifact: "frontend"},
			},
			errs: []string{brokenErr},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, errs := tmpl.Requirements(tc.flow, tc.trail, tc.artifacts)
			assert.Equal(t, tc.want, req)
			var msgs []string
			for _, e := range errs {
				var xe *domain.ExprError
				require.ErrorAs(t, e, &xe)
				msgs = append(msgs, e.Error())
			}
			assert.Equal(t, tc.errs, msgs)

			// Same input, same output: nothing depends on map order.
			req2, errs2 := tmpl.Requirements(tc.flow, tc.trail, tc.artifacts)
			assert.Equal(t, req, req2)
			assert.Equal(t, errs, errs2)
		})
	}
}

func TestTemplateRequirementsArtifactEvalError(t *testing.T) {
	t.Parallel()
	tmpl, err := domain.ParseComplianceTemplate(`artifacts:
  - name: app
    attestations:
      - {name: ok}
      - {name: bad, type: junit, if: 'artifact.fingerprint > true'}
`)
	require.NoError(t, err)
	req, errs := tmpl.Requirements(&domain.Flow{Name: "f"}, "t", []domain.ArtifactRef{{Name: "app", Fingerprint: "x"}})
	assert.Equal(t, []domain.Required{
		{Name: "ok", Type: "*", Artifact: "app"},
		{Name: "bad", Type: "junit", Artifact: "app"},
	}, req)
	require.Len(t, errs, 1)
	assert.EqualError(t, errs[0], `artifact "app" attestation "bad": if: cannot order a string and a boolean at 22`)
}

func TestTemplateRequirementsHandBuiltTemplate(t *testing.T) {
	t.Parallel()
	// Slots not built by ParseComplianceTemplate carry only the raw If.
	tmpl := &domain.ComplianceTemplate{
		Version: 1,
		Trail: []domain.TemplateSlot{
			{Name: "always"},
			{Name: "never", Type: "generic", If: "false"},
			{Name: "yes", Type: "generic", If: `flow.name == "f"`},
			{Name: "bad", If: "flow.name =="},
		},
	}
	req, errs := tmpl.Requirements(&domain.Flow{Name: "f"}, "t", nil)
	assert.Equal(t, []domain.Required{
		{Name: "always", Type: "*"},
		{Name: "yes", Type: "generic"},
		{Name: "bad", Type: "*"},
	}, req)
	require.Len(t, errs, 1)
	require.EqualError(t, errs[0], `trail attestation "bad": if: unexpected end of expression at 13`)

	var none *domain.ComplianceTemplate
	req, errs = none.Requirements(nil, "", nil)
	assert.Empty(t, req)
	assert.Empty(t, errs)
}
