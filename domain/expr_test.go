package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
)

var exprTestEnv = domain.ExprEnv{
	FlowName: "backend",
	FlowTags: map[string]string{
		"kind":          "build",
		"team.name":     "core",
		"key.with.dots": "d",
		"app-tier":      "web",
		"replicas":      "10",
		"ver":           "9",
		"word":          "abc",
		"empty":         "",
		"flag":          "true",
		"weird key":     "x",
	},
	TrailName:           "main-123",
	ArtifactName:        "app",
	ArtifactFingerprint: "abc123",
}

func TestExprEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want bool
	}{
		// literals and wrapper
		{"true literal", "true", true},
		{"false literal", "false", false},
		{"wrapped", `${{ flow.name == "backend" }}`, true},
		{"wrapped with spaces", `  ${{flow.name=="backend"}}  `, true},
		{"single quotes", `flow.name == 'backend'`, true},
		{"escaped quote", `"a\"b" == 'a"b'`, true},
		{"backslash kept", `matches("v12", "^v\d+$")`, true},

		// variables
		{"flow name", `flow.name == "backend"`, true},
		{"trail name", `trail.name == "main-123"`, true},
		{"artifact name", `artifact.name == "app"`, true},
		{"artifact fingerprint", `artifact.fingerprint == "abc123"`, true},
		{"tag dotted form", `flow.tags.kind == "build"`, true},
		{"tag key with dots", `flow.tags.team.name == "core"`, true},
		{"tag key with many dots", `flow.tags.key.with.dots == "d"`, true},
		{"tag key with dash", `flow.tags.app-tier == "web"`, true},
		{"tag bracket form", `flow.tags["kind"] == "build"`, true},
		{"tag bracket key with space", `flow.tags['weird key'] == "x"`, true},
		{"tag bracket dotted key", `flow.tags["team.name"] == "core"`, true},

		// == and !=
		{"eq false", `flow.name == "frontend"`, false},
		{"ne", `flow.name != "frontend"`, true},
		{"ne false", `flow.name != "backend"`, false},
		{"eq is case sensitive", `flow.name == "Backend"`, false},
		{"number eq numeric tag", `flow.tags.replicas == 10`, true},
		{"number eq numeric tag float", `flow.tags.replicas == 10.0`, true},
		{"number ne non-numeric tag", `flow.tags.word == 10`, false},
		{"string eq is exact", `flow.tags.replicas == "10.0"`, false},
		{"bool eq true tag", `flow.tags.flag == true`, true},
		{"bool ne string", `flow.tags.kind == true`, false},
		{"bool eq bool", `true == true`, true},
		{"bool eq number", `true == 1`, false},

		// null handling
		{"absent tag eq string", `flow.tags.missing == "x"`, false},
		{"absent tag ne string", `flow.tags.missing != "x"`, true},
		{"absent tag eq null", `flow.tags.missing == null`, true},
		{"null eq null", `null == null`, true},
		{"present tag ne null", `flow.tags.kind != null`, true},
		{"empty tag is not null", `flow.tags.empty == ""`, true},
		{"absent tag ordering false", `flow.tags.missing < 3`, false},
		{"absent tag ordering false both ways", `flow.tags.missing >= 3`, false},

		// ordering
		{"numeric strings compare as numbers", `flow.tags.replicas > flow.tags.ver`, true},
		{"numeric tag lt number", `flow.tags.ver < 10`, true},
		{"numeric le", `flow.tags.replicas <= 10`, true},
		{"numeric ge", `flow.tags.replicas >= 11`, false},
		{"numeric gt", `2 > 1.5`, true},
		{"negative number", `-1 < 0`, true},
		{"exponent", `1e3 == 1000`, true},
		{"strings compare as strings", `flow.name < "c"`, true},
		{"non-numeric string vs number", `flow.tags.word > 10`, true},
		{"numeric string literal pair", `"10" > "9"`, true},

		// logic and precedence
		{"and", `flow.name == "backend" and artifact.name == "app"`, true},
		{"and false", `flow.name == "backend" and artifact.name == "x"`, false},
		{"or", `flow.name == "x" or artifact.name == "app"`, true},
		{"or false", `flow.name == "x" or artifact.name == "y"`, false},
		{"not", `not flow.name == "x"`, true},
		{"double not", `not not true`, true},
		{"bang", `!(flow.name == "x")`, true},
		{"bang binds looser than ==", `! flow.name == "x"`, true},
		{"and symbol", `true && false`, false},
		{"or symbol", `false || true`, true},
		{"and binds tighter than or", `true or true and false`, true},
		{"and binds tighter than or, left", `false and true or true`, true},
		{"parentheses override", `(true or true) and false`, false},
		{"not binds tighter than and", `not false and false`, false},
		{"not binds tighter than or", `not true or true`, true},
		{"long chain", `false or false or false or true`, true},
		{"short-circuit and", `false and (1 == 1) and not 1`, false},
		{"short-circuit or", `exists(flow.tags.missing) or true`, true},
		{"guarded comparison", `exists(flow.tags.missing) and flow.tags.missing > 3`, false},

		// in
		{"in list", `flow.tags.kind in ["build", "release"]`, true},
		{"not in list", `flow.tags.kind in ["release"]`, false},
		{"not in operator", `flow.tags.kind not in ["release"]`, true},
		{"not in operator false", `flow.tags.kind not in ["build"]`, false},
		{"in empty list", `flow.name in []`, false},
		{"in trailing comma", `flow.name in ["backend",]`, true},
		{"in numbers", `flow.tags.replicas in [1, 10]`, true},
		{"null in list", `flow.tags.missing in ["a"]`, false},
		{"null in list with null", `flow.tags.missing in [null]`, true},
		{"in with variables", `"app" in [flow.name, artifact.name]`, true},

		// exists
		{"exists present", `exists(flow.tags.kind)`, true},
		{"exists absent", `exists(flow.tags.missing)`, false},
		{"exists empty tag", `exists(flow.tags.empty)`, true},
		{"exists bracket", `exists(flow.tags["weird key"])`, true},
		{"exists literal", `exists("x")`, true},

		// matches
		{"matches search semantics", `matches(flow.name, "end")`, true},
		{"matches anchored", `matches(flow.name, "^back")`, true},
		{"matches anchored miss", `matches(flow.name, "^end")`, false},
		{"matches full", `matches(artifact.name, "^datadog/.*")`, false},
		{"matches null input", `matches(flow.tags.missing, ".*")`, false},
		{"matches number input", `matches(10, "^1")`, true},
		{"matches variable pattern", `matches(flow.name, flow.tags.word)`, false},
		{"matches variable pattern hit", `matches("xabcx", flow.tags.word)`, true},
		{"not matches", `not matches(flow.name, "^front")`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := domain.CompileExpr(tc.src)
			require.NoError(t, err)
			got, err := e.Eval(exprTestEnv)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.src, e.String())
		})
	}
}

func TestExprEmptyContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want bool
	}{
		{`exists(artifact.name)`, false},
		{`exists(artifact.fingerprint)`, false},
		{`exists(trail.name)`, false},
		{`flow.tags.kind == "build"`, false},
		{`flow.name == null`, true},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			e, err := domain.CompileExpr(tc.src)
			require.NoError(t, err)
			got, err := e.Eval(domain.ExprEnv{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestExprCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		msg  string
		pos  int
	}{
		{"empty", ``, "empty expression", 1},
		{"empty wrapper", `${{ }}`, "empty expression", 5},
		{"unclosed wrapper", `  ${{ true `, `"${{" without closing "}}"`, 3},
		{"chained comparison", `a.b == c == d`, `unknown variable "a.b"`, 1},
		{"chained comparison known vars", `flow.name == "a" == "b"`, `unexpected token "=="`, 18},
		{"double operator", `flow.name == == "x"`, `unexpected token "=="`, 14},
		{"single equals", `flow.name = "x"`, `unexpected character '=' (use "==")`, 11},
		{"unknown variable", `flow.owner == "x"`, `unknown variable "flow.owner"`, 1},
		{"unknown root", `env.FOO == "x"`, `unknown variable "env.FOO"`, 1},
		{"bare tags", `flow.tags == "x"`, "flow.tags needs a key", 1},
		{"empty tag key", `flow.tags. == "x"`, `unknown variable "flow.tags."`, 1},
		{"bracket key not literal", `flow.tags[flow.name] == "x"`, "tag key must be a string literal", 11},
		{"bracket unclosed", `flow.tags["a" == "x"`, `expected "]", found "=="`, 15},
		{"unknown function", `contains(flow.name, "x")`, `unknown function "contains"`, 1},
		{"exists arity", `exists(flow.name, flow.name)`, "exists takes 1 argument, got 2", 1},
		{"exists no args", `exists()`, "exists takes 1 argument, got 0", 1},
		{"matches arity", `matches(flow.name)`, "matches takes 2 arguments, got 1", 1},
		{"matches bad regex", `matches(flow.name, "([")`, "invalid regular expression", 20},
		{"matches non-string literal", `matches(flow.name, 3)`, "matches pattern must be a string", 20},
		{"unterminated string", `flow.name == "abc`, "unterminated string", 14},
		{"unclosed paren", `(true and false`, `expected ")", found end of expression`, 16},
		{"stray close paren", `true)`, `unexpected token ")"`, 5},
		{"dangling and", `true and`, "unexpected end of expression", 9},
		{"leading or", `or true`, `unexpected token "or"`, 1},
		{"in without list", `flow.name in "abc"`, `expected "[", found "\"abc\""`, 14},
		{"unclosed list", `flow.name in ["a"`, `expected "]", found end of expression`, 18},
		{"bad character", `flow.name == "a" # comment`, "unexpected character '#'", 18},
		{"number out of range", `1e999 > 1`, "bad number", 1},
		{"position counts runes", `"é" == "é" ==`, `unexpected token "=="`, 12},
		{"position inside wrapper", `${{ flow.name === "x" }}`, "unexpected character '='", 17},
		{"position after wrapper", `${{ flow.name == }}`, "unexpected end of expression", 18},
		{"trailing comma in call", `exists(flow.name,)`, `unexpected token ","`, 17},
		{"too deep", deepParens(100), "nested too deeply", 65},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := domain.CompileExpr(tc.src)
			require.Error(t, err)
			assert.Nil(t, e)
			var xe *domain.ExprError
			require.ErrorAs(t, err, &xe)
			assert.Contains(t, xe.Msg, tc.msg)
			assert.Equal(t, tc.pos, xe.Pos, err.Error())
		})
	}
}

func deepParens(n int) string {
	return strings.Repeat("(", n) + "true" + strings.Repeat(")", n)
}

func TestExprEvalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		msg  string
	}{
		{"string result", `flow.name`, "result is a string, not a boolean at 1"},
		{"null result", `flow.tags.missing`, "result is null, not a boolean"},
		{"number result", `(42)`, "result is a number, not a boolean at 2"},
		{"and on string", `true and flow.name`, "and needs booleans, got a string at 10"},
		{"or on null", `false or flow.tags.missing`, "or needs booleans, got null"},
		{"not on string", `not flow.tags.flag`, "not needs a boolean, got a string at 1"},
		{"ordering booleans", `true < false`, "cannot order a boolean and a boolean at 6"},
		{"matches boolean input", `matches(true, "x")`, "matches needs a string, got a boolean"},
		{"matches bad variable pattern", `matches(flow.name, flow.tags.re)`, "invalid regular expression"},
		{"matches non-string variable pattern", `matches(flow.name, flow.tags.missing)`, "matches pattern must be a string, got null"},
	}
	env := exprTestEnv
	env.FlowTags = map[string]string{"flag": "true", "re": "(["}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := domain.CompileExpr(tc.src)
			require.NoError(t, err)
			got, err := e.Eval(env)
			require.Error(t, err)
			assert.False(t, got)
			var xe *domain.ExprError
			require.ErrorAs(t, err, &xe)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestExprNilIsTrue(t *testing.T) {
	t.Parallel()
	var e *domain.Expr
	got, err := e.Eval(domain.ExprEnv{})
	require.NoError(t, err)
	assert.True(t, got)
	assert.Empty(t, e.String())
}

func FuzzCompileExpr(f *testing.F) {
	for _, s := range []string{
		`flow.name == "x"`,
		`${{ flow.tags.kind in ["a", 'b'] and not exists(artifact.name) }}`,
		`matches(flow.tags["k.x"], "^v\d+") || trail.name != null`,
		`flow.tags.replicas >= 3.5e1 && !(artifact.fingerprint < "z")`,
		`flow.tags.a not in [1, true, null,]`,
		`(((true)))`,
		`"\'\\"`,
		`${{`,
		`-1 < .5`,
	} {
		f.Add(s)
	}
	env := exprTestEnv
	f.Fuzz(func(t *testing.T, src string) {
		e, err := domain.CompileExpr(src)
		if err != nil {
			var xe *domain.ExprError
			require.ErrorAs(t, err, &xe)
			return
		}
		_, _ = e.Eval(env)
		_, _ = e.Eval(domain.ExprEnv{})
	})
}
