package custom_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/factstore/factstore/policy/custom"
)

// FuzzEvaluate: arbitrary rules, summaries and data never panic, and an
// evaluation either succeeds or fails with ErrInvalid.
func FuzzEvaluate(f *testing.F) {
	f.Add(".critical == 0", `{"critical": 0, "high": 2}`)
	f.Add(".coverage >= 80", `{"coverage": 92}`)
	f.Add(".results.summary.failed == 0", `{"results":{"summary":{"failed":1}}}`)
	f.Add(".[] | . > 1", `[1, 2, 3]`)
	f.Add(`.a | tostring | test("^[0-9]+$")`, `{"a": 12}`)
	f.Add("path(..) | length > 0", `{"a":[{"b":null}]}`)
	f.Add("getpath([\"a\",0]) | not", `{"a":[false]}`)
	f.Add("halt_error", `"x"`)
	f.Add(".a =", `{}`)
	f.Add("[splits(\"a\")] | length", `"banana"`)
	f.Add("tojson | fromjson | . == .", `1e1000`)
	f.Fuzz(func(t *testing.T, rule, data string) {
		typ := &custom.Type{
			Name:      "fuzz",
			Evaluator: &custom.Evaluator{ContentType: "jq", Rules: []string{rule}},
			Summary:   []custom.SummaryItem{{Name: "value", Expression: rule}},
		}
		if err := typ.Validate(); err != nil {
			if !errors.Is(err, custom.ErrInvalid) {
				t.Fatalf("Validate(%q): %v does not wrap ErrInvalid", rule, err)
			}
			return
		}
		res, err := typ.Evaluate(context.Background(), json.RawMessage(data))
		if err != nil {
			if !errors.Is(err, custom.ErrInvalid) {
				t.Fatalf("Evaluate(%q, %q): %v does not wrap ErrInvalid", rule, data, err)
			}
			return
		}
		if len(res.Rules) != 1 || len(res.Summary) != 1 {
			t.Fatalf("got %d rules and %d summary rows", len(res.Rules), len(res.Summary))
		}
		if res.Compliant != res.Rules[0].Passed {
			t.Fatalf("compliant %v but rule passed %v", res.Compliant, res.Rules[0].Passed)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
	})
}
