package custom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/policy/custom"
)

// captureType is the type `kosli create attestation-type vuln-scan` sends:
// data_json decoded into a Type, type_schema as uploaded.
func captureType(t *testing.T) *custom.Type {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "vuln-scan.data_json"))
	require.NoError(t, err)
	var typ custom.Type
	require.NoError(t, json.Unmarshal(raw, &typ))
	typ.Schema, err = os.ReadFile(filepath.Join("testdata", "vuln-scan.schema.json"))
	require.NoError(t, err)
	return &typ
}

func jqType(rules ...string) *custom.Type {
	return &custom.Type{Name: "t", Evaluator: &custom.Evaluator{ContentType: "jq", Rules: rules}}
}

func schemaType(schema string) *custom.Type {
	return &custom.Type{Name: "t", Schema: json.RawMessage(schema)}
}

func TestType_decodesCapture(t *testing.T) {
	t.Parallel()
	typ := captureType(t)
	assert.Equal(t, "vuln-scan", typ.Name)
	assert.Equal(t, "vuln scan", typ.Description)
	assert.Equal(t, &custom.Evaluator{ContentType: "jq", Rules: []string{".critical == 0", ".high < 5"}}, typ.Evaluator)
	assert.Equal(t, []custom.SummaryItem{{Name: "Critical", Expression: ".critical"}}, typ.Summary)
	require.NoError(t, typ.Validate())

	// Without --jq the CLI omits evaluator, without --summary summary.
	var bare custom.Type
	require.NoError(t, json.Unmarshal([]byte(`{"name":"bare","description":""}`), &bare))
	assert.Nil(t, bare.Evaluator)
	assert.Nil(t, bare.Summary)
	require.NoError(t, bare.Validate())
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     *custom.Type
		wantErr string // "" means valid
	}{
		{"capture", captureType(t), ""},
		{"no evaluator", &custom.Type{Name: "t"}, ""},
		{"evaluator without rules", jqType(), ""},

		{"name single letter", &custom.Type{Name: "a"}, ""},
		{"name leading digit", &custom.Type{Name: "9lives"}, ""},
		{"name all punctuation", &custom.Type{Name: "a.b-c_d~e"}, ""},
		{"name 255 chars", &custom.Type{Name: strings.Repeat("a", 255)}, ""},
		{"name empty", &custom.Type{Name: ""}, "type name"},
		{"name 256 chars", &custom.Type{Name: strings.Repeat("a", 256)}, "type name"},
		{"name leading dash", &custom.Type{Name: "-a"}, "type name"},
		{"name leading dot", &custom.Type{Name: ".a"}, "type name"},
		{"name leading underscore", &custom.Type{Name: "_a"}, "type name"},
		{"name space", &custom.Type{Name: "a b"}, "type name"},
		{"name slash", &custom.Type{Name: "a/b"}, "type name"},
		{"name colon", &custom.Type{Name: "custom:a"}, "type name"},
		{"name non-ASCII", &custom.Type{Name: "résumé"}, "type name"},

		{"content type rego", &custom.Type{Name: "t", Evaluator: &custom.Evaluator{ContentType: "rego"}}, "content_type"},
		{"content type empty", &custom.Type{Name: "t", Evaluator: &custom.Evaluator{Rules: []string{"true"}}}, "content_type"},
		{"rule syntax error", jqType(".critical == 0", ".high <"), `rule 2 ".high <"`},
		{"rule unknown function", jqType("nosuchfunc(1)"), "nosuchfunc"},
		{"rule unknown variable", jqType("$x"), "$x"},
		{"rule reading input", jqType("input"), "not allowed"},
		{"rule importing a module", jqType(`import "m" as m; true`), "m"},
		{"rule blank", jqType("  "), "empty jq expression"},
		{"too many rules", jqType(make([]string, 101)...), "101 rules"},
		{"summary syntax error", &custom.Type{Name: "t", Summary: []custom.SummaryItem{{Name: "x", Expression: ".a |"}}}, "summary expression 1"},
		{"summary empty expression", &custom.Type{Name: "t", Summary: []custom.SummaryItem{{Name: "x"}}}, "empty jq expression"},
		{"summary empty name", &custom.Type{Name: "t", Summary: []custom.SummaryItem{{Expression: "."}}}, "empty name"},

		{"schema 2020-12", schemaType(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`), ""},
		{"schema draft-07", schemaType(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`), ""},
		{"schema without $schema", schemaType(`{"type":"object"}`), ""},
		{"schema boolean", schemaType(`true`), ""},
		{"schema null is none", schemaType(`null`), ""},
		{"schema with BOM", schemaType("\xef\xbb\xbf{\"type\":\"object\"}"), ""},
		{"schema internal ref", schemaType(`{"$defs":{"n":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/n"}}}`), ""},
		{"schema not JSON", schemaType(`{"type":`), "not JSON"},
		{"schema trailing garbage", schemaType(`{} {}`), "not JSON"},
		{"schema bad type 2020-12", schemaType(`{"type":"objekt"}`), "metaschema"},
		{"schema bad type draft-07", schemaType(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"objekt"}`), "metaschema"},
		{"schema bad regexp", schemaType(`{"pattern":"("}`), "schema"},
		{"schema unknown draft", schemaType(`{"$schema":"https://example.com/my-draft"}`), "schema"},
		{"schema file ref", schemaType(`{"$ref":"file:///etc/passwd"}`), "file:///etc/passwd"},
		{"schema http ref", schemaType(`{"$ref":"http://127.0.0.1:1/s.json"}`), "http://127.0.0.1:1/s.json"},
		{"schema dangling ref", schemaType(`{"$ref":"#/$defs/missing"}`), "schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.typ.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, custom.ErrInvalid)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// outcome is a RuleOutcome without the rule text, for compact tables.
type outcome struct {
	passed bool
	err    string // substring of RuleOutcome.Error; "" means no error
}

func TestEvaluate_capture(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		data      string
		compliant bool
		rules     []outcome
		critical  any
	}{
		{"captured attestation", `{"critical": 0, "high": 2}`, true, []outcome{{true, ""}, {true, ""}}, json.Number("0")},
		{"critical found", `{"critical": 1, "high": 2}`, false, []outcome{{false, ""}, {true, ""}}, json.Number("1")},
		{"too many high", `{"critical": 0, "high": 5}`, false, []outcome{{true, ""}, {false, ""}}, json.Number("0")},
		{"both failing", `{"critical": 3, "high": 9}`, false, []outcome{{false, ""}, {false, ""}}, json.Number("3")},
		// high is optional in the schema; null < 5 is true in jq.
		{"high missing", `{"critical": 0}`, true, []outcome{{true, ""}, {true, ""}}, json.Number("0")},
	}
	typ := captureType(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := typ.Evaluate(context.Background(), json.RawMessage(tt.data))
			require.NoError(t, err)
			assert.Equal(t, tt.compliant, res.Compliant)
			require.Len(t, res.Rules, len(tt.rules))
			for i, want := range tt.rules {
				assert.Equal(t, typ.Evaluator.Rules[i], res.Rules[i].Rule)
				assert.Equal(t, want.passed, res.Rules[i].Passed, "rule %d", i)
				assert.Empty(t, res.Rules[i].Error, "rule %d", i)
			}
			assert.Equal(t, []custom.SummaryValue{{Name: "Critical", Value: tt.critical}}, res.Summary)
		})
	}
}

func TestEvaluate_rules(t *testing.T) {
	t.Parallel()
	ctrf := `{"results":{"tool":{"name":"jest"},"summary":{"tests":12,"passed":12,"failed":0}}}`
	tests := []struct {
		name string
		rule string
		data any
		want outcome
	}{
		{"coverage met", ".coverage >= 80", map[string]any{"coverage": 92}, outcome{true, ""}},
		{"coverage exactly", ".coverage >= 80", map[string]any{"coverage": 80}, outcome{true, ""}},
		{"coverage short", ".coverage >= 80", map[string]any{"coverage": 79.5}, outcome{false, ""}},
		{"coverage from raw JSON", ".coverage >= 80", json.RawMessage(`{"coverage": 80.0}`), outcome{true, ""}},
		{"coverage missing", ".coverage >= 80", map[string]any{}, outcome{false, ""}},
		{"ctrf no failures", ".results.summary.failed == 0", json.RawMessage(ctrf), outcome{true, ""}},
		{"big integer kept exact", ". == 9007199254740993", json.RawMessage(`9007199254740993`), outcome{true, ""}},
		{"struct data", ".Coverage > 50", struct{ Coverage int }{60}, outcome{true, ""}},

		{"all outputs true", ".items[] | .ok", json.RawMessage(`{"items":[{"ok":true},{"ok":true}]}`), outcome{true, ""}},
		{"one output false", ".items[] | .ok", json.RawMessage(`{"items":[{"ok":true},{"ok":false}]}`), outcome{false, ""}},
		{"true then non-boolean", "true, 1", nil, outcome{false, "not a boolean: 1"}},
		{"no output", "empty", nil, outcome{false, "no output"}},
		{"no output from empty list", ".items[] | .ok", json.RawMessage(`{"items":[]}`), outcome{false, "no output"}},
		{"number", ".coverage", map[string]any{"coverage": 92}, outcome{false, "not a boolean: 92"}},
		{"string true", `"true"`, nil, outcome{false, `not a boolean: "true"`}},
		{"null", ".missing", map[string]any{}, outcome{false, "not a boolean: null"}},
		{"object", ".", map[string]any{"a": true}, outcome{false, "not a boolean"}},
		{"jq type error", ".name + 1 > 0", map[string]any{"name": "x"}, outcome{false, "cannot add"}},
		{"jq error()", `error("boom")`, nil, outcome{false, "boom"}},
		{"true then error", `true, error("late")`, nil, outcome{false, "late"}},
		{"halt", "halt", nil, outcome{false, "halted"}},
		{"halt_error", `"bye" | halt_error`, nil, outcome{false, "halted"}},
		{"environment hidden", "$ENV | length == 0", nil, outcome{true, ""}},
		{"env hidden", "env | length == 0", nil, outcome{true, ""}},
		{"too many outputs", "range(20000) | true", nil, outcome{false, "too many outputs"}},
		{"endless outputs", "repeat(true)", nil, outcome{false, "too many outputs"}},
		{"huge error message truncated", `error("x" * 100000)`, nil, outcome{false, "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			typ := jqType(tt.rule)
			require.NoError(t, typ.Validate())
			res, err := typ.Evaluate(context.Background(), tt.data)
			require.NoError(t, err)
			require.Len(t, res.Rules, 1)
			got := res.Rules[0]
			assert.Equal(t, tt.rule, got.Rule)
			assert.Equal(t, tt.want.passed, got.Passed)
			assert.Equal(t, tt.want.passed, res.Compliant)
			if tt.want.err == "" {
				assert.Empty(t, got.Error)
			} else {
				assert.Contains(t, got.Error, tt.want.err)
				assert.LessOrEqual(t, len(got.Error), 600)
			}
		})
	}
}

func TestEvaluate_compliance(t *testing.T) {
	t.Parallel()
	data := map[string]any{"coverage": 92, "failed": 0}
	tests := []struct {
		name      string
		typ       *custom.Type
		compliant bool
	}{
		{"no evaluator", &custom.Type{Name: "t"}, true},
		{"no rules", jqType(), true},
		{"all true", jqType(".coverage >= 80", ".failed == 0"), true},
		{"one false", jqType(".coverage >= 80", ".failed > 0"), false},
		{"one erroring", jqType(".coverage >= 80", "error"), false},
		{"summary cannot make it non-compliant", &custom.Type{
			Name:      "t",
			Evaluator: &custom.Evaluator{ContentType: "jq", Rules: []string{".coverage >= 80"}},
			Summary:   []custom.SummaryItem{{Name: "bad", Expression: "error"}, {Name: "false", Expression: "false"}},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := tt.typ.Evaluate(context.Background(), data)
			require.NoError(t, err)
			assert.Equal(t, tt.compliant, res.Compliant)
			assert.NotNil(t, res.Rules, "rules encode as [] not null")
			assert.NotNil(t, res.Summary, "summary encodes as [] not null")
		})
	}
}

func TestEvaluate_schema(t *testing.T) {
	t.Parallel()
	const (
		draft07 = `{"$schema":"http://json-schema.org/draft-07/schema#",
			"type":"object","required":["coverage"],
			"properties":{"coverage":{"type":"number","minimum":0,"maximum":100},
				"tool":{"type":"object","properties":{"name":{"type":"string"}}}},
			"additionalProperties":false}`
		draft2020 = `{"$schema":"https://json-schema.org/draft/2020-12/schema",
			"type":"object","required":["results"],
			"properties":{"results":{"type":"array","items":{"$ref":"#/$defs/result"}}},
			"$defs":{"result":{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}}}`
		// No $schema: read as 2020-12, so prefixItems is enforced (draft-07 ignores it).
		noDraft = `{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]}`
		// Draft-07 tuple form: items as an array.
		draft07Tuple = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"},{"type":"integer"}]}`
	)
	tests := []struct {
		name    string
		schema  string
		data    string
		wantErr []string // substrings; none means valid
	}{
		{"draft-07 valid", draft07, `{"coverage": 92, "tool": {"name": "jest"}}`, nil},
		{"draft-07 missing property", draft07, `{"tool": {}}`, []string{"at (root)", "missing property 'coverage'"}},
		{"draft-07 wrong type", draft07, `{"coverage": "92"}`, []string{"at '/coverage'", "got string, want number"}},
		{"draft-07 out of range", draft07, `{"coverage": 101}`, []string{"at '/coverage'", "maximum"}},
		{"draft-07 nested", draft07, `{"coverage": 1, "tool": {"name": 7}}`, []string{"at '/tool/name'"}},
		{"draft-07 additional property", draft07, `{"coverage": 1, "extra": 1}`, []string{"extra"}},
		{"draft-07 not an object", draft07, `[1]`, []string{"at (root)", "want object"}},
		{"draft-07 tuple valid", draft07Tuple, `["a", 1]`, nil},
		{"draft-07 tuple invalid", draft07Tuple, `["a", "b"]`, []string{"at '/1'"}},
		{"2020-12 valid", draft2020, `{"results": [{"id": "a"}, {"id": "b"}]}`, nil},
		{"2020-12 ref invalid", draft2020, `{"results": [{"id": "a"}, {"id": 2}]}`, []string{"at '/results/1/id'", "want string"}},
		{"2020-12 ref missing", draft2020, `{"results": [{}]}`, []string{"at '/results/0'", "missing property 'id'"}},
		{"default draft valid", noDraft, `["a", 1, true]`, nil},
		{"default draft is 2020-12", noDraft, `["a", "b"]`, []string{"at '/1'"}},
		{"capture schema", string(captureType(t).Schema), `{"critical": 0.5}`, []string{"at '/critical'", "want integer"}},
		{"many failures summarised", `{"items":{"type":"integer"}}`, `["a","b","c","d","e","f","g"]`, []string{"at '/0'", "and 2 more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			typ := schemaType(tt.schema)
			typ.Evaluator = &custom.Evaluator{ContentType: "jq", Rules: []string{"true"}}
			require.NoError(t, typ.Validate())
			res, err := typ.Evaluate(context.Background(), json.RawMessage(tt.data))
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				assert.True(t, res.Compliant)
				return
			}
			require.ErrorIs(t, err, custom.ErrInvalid)
			assert.NotContains(t, err.Error(), "\n")
			for _, want := range tt.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestEvaluate_summary(t *testing.T) {
	t.Parallel()
	data := json.RawMessage(`{"critical": 2, "url": "https://ci.example/run/7", "scans": [{"name": "a"}, {"name": "b"}]}`)
	tests := []struct {
		expr    string
		want    string // the row's value as JSON
		wantErr string
	}{
		{".critical", `2`, ""},
		{".url", `"https://ci.example/run/7"`, ""},
		{".scans", `[{"name":"a"},{"name":"b"}]`, ""},
		{".scans[] | .name", `["a","b"]`, ""}, // several outputs become an array
		{".missing", `null`, ""},
		{"empty", `null`, ""},
		{"nan, infinite, -infinite", `[null,1.7976931348623157e+308,-1.7976931348623157e+308]`, ""},
		{".critical + 0.5", `2.5`, ""},
		{`error("no")`, `null`, "no"},
		{"range(2000)", `null`, "too many outputs"},
		{`"x" * 70000`, `null`, "larger than"},
		{"last(range(1e12))", `null`, "time limit"},
	}
	items := make([]custom.SummaryItem, len(tests))
	for i, tt := range tests {
		items[i] = custom.SummaryItem{Name: fmt.Sprintf("row %d", i), Expression: tt.expr}
	}
	typ := &custom.Type{Name: "t", Summary: items}
	res, err := typ.Evaluate(context.Background(), data)
	require.NoError(t, err)
	assert.True(t, res.Compliant)
	assert.Empty(t, res.Rules)
	require.Len(t, res.Summary, len(tests))
	for i, tt := range tests {
		row := res.Summary[i]
		assert.Equal(t, items[i].Name, row.Name, "rows keep their order")
		got, err := json.Marshal(row.Value)
		require.NoError(t, err, tt.expr)
		assert.JSONEq(t, tt.want, string(got), tt.expr)
		if tt.wantErr == "" {
			assert.Empty(t, row.Error, tt.expr)
		} else {
			assert.Contains(t, row.Error, tt.wantErr, tt.expr)
		}
	}
	_, err = json.Marshal(res)
	require.NoError(t, err)
}

func TestEvaluate_slowRulesStopped(t *testing.T) {
	tests := []string{
		"[range(1e9)] | length > 0",
		"last(range(1e12)) > 0",
		"def f: f; f",
		"[limit(1e9; repeat(1))] | length > 0",
	}
	for _, rule := range tests {
		t.Run(rule, func(t *testing.T) {
			t.Parallel()
			res, err := jqType(rule).Evaluate(context.Background(), map[string]any{})
			require.NoError(t, err)
			assert.False(t, res.Compliant)
			assert.Contains(t, res.Rules[0].Error, "time limit of 1s per expression exceeded")
		})
	}
}

func TestEvaluate_callerCancel(t *testing.T) {
	t.Parallel()
	typ := jqType("last(range(1e12)) > 0")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := typ.Evaluate(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, custom.ErrInvalid)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = typ.Evaluate(ctx, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestEvaluate_badInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		typ  *custom.Type
		data any
		want string
	}{
		{"unencodable data", jqType("true"), map[string]any{"c": make(chan int)}, "attestation data"},
		{"NaN data", jqType("true"), math.NaN(), "attestation data"},
		{"invalid raw JSON", jqType("true"), json.RawMessage(`{"a":`), "attestation data"},
		{"invalid type", jqType(".a =="), map[string]any{}, "rule 1"},
		{"invalid name", &custom.Type{Name: ""}, map[string]any{}, "type name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.typ.Evaluate(context.Background(), tt.data)
			require.ErrorIs(t, err, custom.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// TestEvaluate_modifiedType: compiled forms are cached by content, so a
// changed definition is never evaluated with stale rules.
func TestEvaluate_modifiedType(t *testing.T) {
	t.Parallel()
	typ := jqType(".n > 1")
	res, err := typ.Evaluate(context.Background(), map[string]any{"n": 2})
	require.NoError(t, err)
	assert.True(t, res.Compliant)

	typ.Evaluator.Rules[0] = ".n > 5"
	res, err = typ.Evaluate(context.Background(), map[string]any{"n": 2})
	require.NoError(t, err)
	assert.False(t, res.Compliant)

	typ.Schema = json.RawMessage(`{"required":["m"]}`)
	_, err = typ.Evaluate(context.Background(), map[string]any{"n": 2})
	require.ErrorIs(t, err, custom.ErrInvalid)
}

func TestEvaluate_concurrent(t *testing.T) {
	t.Parallel()
	typ := captureType(t)
	const workers, rounds = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := *typ // copies share the cached compiled form
			for r := range rounds {
				critical := (w + r) % 3
				data := map[string]any{"critical": critical, "high": r % 7}
				res, err := own.Evaluate(context.Background(), data)
				switch {
				case err != nil:
					errs <- err
				case res.Compliant != (critical == 0 && r%7 < 5):
					errs <- fmt.Errorf("critical=%d high=%d: compliant=%v", critical, r%7, res.Compliant)
				case res.Summary[0].Value != json.Number(fmt.Sprint(critical)):
					errs <- fmt.Errorf("summary %v, want %d", res.Summary[0].Value, critical)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// TestEvaluate_overallBudget: slow expressions share one budget, so many
// of them cannot add up to minutes: once it is spent, the remaining
// expressions stop at once and say so.
func TestEvaluate_overallBudget(t *testing.T) {
	rules := make([]string, 15)
	for i := range rules {
		rules[i] = "last(range(1e12)) > 0"
	}
	typ := jqType(rules...)
	typ.Summary = []custom.SummaryItem{{Name: "slow", Expression: "last(range(1e12))"}}
	res, err := typ.Evaluate(context.Background(), nil)
	require.NoError(t, err)
	assert.False(t, res.Compliant)
	ranOut := 0
	for i, r := range res.Rules {
		switch {
		case strings.Contains(r.Error, "per expression exceeded"):
			assert.Zero(t, ranOut, "rule %d ran its full second after the budget was spent", i)
		case strings.Contains(r.Error, "per attestation exhausted"):
			ranOut++
		default:
			t.Errorf("rule %d: %q", i, r.Error)
		}
	}
	// 10 s of budget holds at most ten 1 s expressions.
	assert.GreaterOrEqual(t, ranOut, 5)
	assert.Contains(t, res.Summary[0].Error, "per attestation exhausted")
}

// TestEvaluate_memoryHog: a rule that allocates without bound is stopped
// by the heap watchdog and fails the evaluation as a bad definition
// (ErrInvalid, answered 400), not as a stored non-compliant attestation.
// Not parallel: the watchdog sees the whole process's heap.
func TestEvaluate_memoryHog(t *testing.T) {
	defer custom.SetHeapLimit(32 << 20)()
	// 100 strings of 10 MB: a gigabyte unless stopped.
	_, err := jqType(`[range(100)] | map("xxxxxxxxxx" * 1000000) | length > 0`).Evaluate(context.Background(), nil)
	require.ErrorIs(t, err, custom.ErrInvalid)
	assert.Contains(t, err.Error(), "memory limit (the heap grew 32 MiB past its expected size")

	// The same type with a modest rule still evaluates.
	res, err := jqType(`[range(100)] | map("x" * 1000) | length == 100`).Evaluate(context.Background(), nil)
	require.NoError(t, err)
	assert.True(t, res.Compliant)
}
