package envpolicy_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/factstore/factstore/policy/envpolicy"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		examplePolicy,
		capturePolicy,
		"",
		"_schema: a/v1\n",
		"_schema: a/v2\n",
		"_schema: a/v1\nartifacts: {attestations: [{name: '*', type: '*'}]}\n",
		"_schema: a/v1\nartifacts: {attestations: [{type: junit, for_control: X}]}\n",
		"_schema: a/v1\nartifacts: {attestations: [{type: 'custom:x', if: '${{ flow.tags.a.b in [\"1\", 2] }}'}]}\n",
		"_schema: a/v1\nartifacts: {provenance: &r {required: true, exceptions: [{if: 'not exists(flow.tags.x)'}]}, trail-compliance: *r}\n",
		"_schema: a/v1\nartifacts: {provenance: {<<: {required: true}}}\n",
		"_schema: a/v1\nartifacts:\n  provenance: {required: true\n",
		"&a [*a]",
	} {
		f.Add([]byte(seed))
	}
	ctxs := []envpolicy.Context{{
		FlowName: "f", FlowTags: map[string]string{"kind": "build", "a.b": "1", "x": ""}, TrailName: "t",
		ArtifactStatus: "COMPLIANT",
		Attestations: []envpolicy.Attestation{
			{Name: "unit", Type: "junit", Compliant: true},
			{Name: "d", Type: "decision", ForControl: "X"},
		},
	}}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := envpolicy.Parse(src)
		if err != nil {
			if !errors.Is(err, envpolicy.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		for _, cs := range [][]envpolicy.Context{nil, ctxs} {
			ev := p.Evaluate("p", 1, "app", "fp", cs)
			if len(ev.RuleEvaluations) != 2+len(p.Attestations) {
				t.Fatalf("got %d rule evaluations for %d attestation rules", len(ev.RuleEvaluations), len(p.Attestations))
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
