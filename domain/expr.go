package domain

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ExprEnv is what an if: expression can see. Empty TrailName, ArtifactName
// and ArtifactFingerprint mean "not in scope" and read as null, so that
// exists(artifact.name) is false for a trail-level slot.
type ExprEnv struct {
	FlowName            string
	FlowTags            map[string]string
	TrailName           string
	ArtifactName        string
	ArtifactFingerprint string
}

// Expr is a compiled if: expression. It is immutable, so one Expr may be
// evaluated from many goroutines at once.
type Expr struct {
	src  string
	root exprNode
}

// ExprError is a compile or evaluation error of an if: expression.
type ExprError struct {
	// Pos is the 1-based character column in the expression source (counting
	// any ${{ wrapper), or 0 when the error is not tied to one place.
	Pos int
	Msg string
}

func (e *ExprError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("%s at %d", e.Msg, e.Pos)
	}
	return e.Msg
}

// exprMaxDepth bounds nesting (parentheses, not, calls, lists) so a hostile
// template cannot exhaust the stack of the recursive-descent parser.
const exprMaxDepth = 64

// CompileExpr compiles an if: expression, Kosli's C.2 dialect with && || !
// accepted as aliases; an optional ${{ ... }} wrapper is stripped. Syntax
// errors, unknown variables or functions and invalid literal regular
// expressions are *ExprError values carrying the position.
//
// Precedence, loosest first: or/||, and/&&, not/!, comparisons (== != < > <=
// >= in, "not in"), then literals, variables, calls and parentheses. As in
// Python, "not a == b" means "not (a == b)". Comparisons do not chain.
func CompileExpr(src string) (*Expr, error) {
	inner, off, err := exprUnwrap(src)
	if err != nil {
		return nil, err
	}
	toks, err := exprLex(src, inner, off)
	if err != nil {
		return nil, err
	}
	p := &exprParser{src: src, toks: toks}
	if p.peek().kind == exprTokEOF {
		return nil, p.errAt(p.peek().pos, "empty expression")
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != exprTokEOF {
		return nil, p.unexpected(t)
	}
	return &Expr{src: src, root: root}, nil
}

// String returns the source the expression was compiled from.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Eval evaluates the expression against env. A nil Expr is true (no
// condition). A result that is not a boolean, or an operation on the wrong
// kind of value (ordering booleans, and/or/not on a non-boolean, a pattern
// that is not a valid regular expression), is an *ExprError.
func (e *Expr) Eval(env ExprEnv) (bool, error) {
	if e == nil || e.root == nil {
		return true, nil
	}
	v, err := e.root.eval(&env)
	if err != nil {
		return false, err
	}
	if v.kind != exprBool {
		return false, &ExprError{Pos: e.root.position(), Msg: fmt.Sprintf("result is %s, not a boolean", v.describe())}
	}
	return v.b, nil
}

// exprUnwrap strips an optional ${{ ... }} wrapper and returns the inner text
// with its byte offset in src, so positions still point into what the user wrote.
func exprUnwrap(src string) (string, int, error) {
	lead := len(src) - len(strings.TrimLeftFunc(src, unicode.IsSpace))
	body := strings.TrimRightFunc(src[lead:], unicode.IsSpace)
	if !strings.HasPrefix(body, "${{") {
		return src, 0, nil
	}
	if !strings.HasSuffix(body, "}}") || len(body) < len("${{}}") {
		return "", 0, &ExprError{Pos: exprColumn(src, lead), Msg: `"${{" without closing "}}"`}
	}
	return body[3 : len(body)-2], lead + 3, nil
}

// exprColumn converts a byte offset in src to a 1-based character column.
func exprColumn(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}

// ---- lexer ----

type exprTokKind uint8

const (
	exprTokEOF exprTokKind = iota
	exprTokIdent
	exprTokString
	exprTokNumber
	exprTokOp
)

type exprToken struct {
	kind exprTokKind
	text string // identifier/path, operator, or the unescaped string literal
	num  float64
	pos  int // 1-based column
	raw  string
}

// exprLex splits inner (which starts at byte off of src) into tokens.
func exprLex(src, inner string, off int) ([]exprToken, error) {
	var toks []exprToken
	i := 0
	for i < len(inner) {
		r, w := utf8.DecodeRuneInString(inner[i:])
		pos := exprColumn(src, off+i)
		switch {
		case unicode.IsSpace(r):
			i += w
		case r == '"' || r == '\'':
			s, n, ok := exprLexString(inner[i:], byte(r))
			if !ok {
				return nil, &ExprError{Pos: pos, Msg: "unterminated string"}
			}
			toks = append(toks, exprToken{kind: exprTokString, text: s, pos: pos, raw: inner[i : i+n]})
			i += n
		case exprIsDigit(r) || ((r == '-' || r == '.') && i+1 < len(inner) && exprIsDigit(rune(inner[i+1]))):
			n := exprLexNumber(inner[i:])
			f, err := strconv.ParseFloat(inner[i:i+n], 64)
			if err != nil || math.IsInf(f, 0) {
				return nil, &ExprError{Pos: pos, Msg: fmt.Sprintf("bad number %q", inner[i:i+n])}
			}
			toks = append(toks, exprToken{kind: exprTokNumber, num: f, pos: pos, raw: inner[i : i+n]})
			i += n
		case r == '_' || unicode.IsLetter(r):
			n := exprLexPath(inner[i:])
			toks = append(toks, exprToken{kind: exprTokIdent, text: inner[i : i+n], pos: pos, raw: inner[i : i+n]})
			i += n
		default:
			op := exprLexOp(inner[i:])
			if op == "" {
				msg := fmt.Sprintf("unexpected character %q", r)
				if r == '=' {
					msg += ` (use "==")`
				}
				return nil, &ExprError{Pos: pos, Msg: msg}
			}
			toks = append(toks, exprToken{kind: exprTokOp, text: op, pos: pos, raw: op})
			i += len(op)
		}
	}
	return append(toks, exprToken{kind: exprTokEOF, pos: exprColumn(src, off+len(inner)), raw: "end of expression"}), nil
}

func exprIsDigit(r rune) bool { return r >= '0' && r <= '9' }

// exprLexString reads a quoted literal. A backslash escapes the quote or a
// backslash; any other backslash is kept, so regular expressions such as
// "^v\d+" need no doubling.
func exprLexString(s string, q byte) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == q:
			return b.String(), i + 1, true
		case c == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// exprLexNumber returns the length of the number at the start of s:
// [-]digits[.digits][e[+-]digits].
func exprLexNumber(s string) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	digits()
	if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
		i++
		digits()
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			i = j
			digits()
		}
	}
	return i
}

// exprLexPath reads an identifier or dotted path. Dashes and dots are part
// of it because tag keys may hold them (flow.tags.key.with-dots); the
// language has no minus or member-call operators they could clash with.
func exprLexPath(s string) int {
	i := 0
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r != '_' && r != '-' && r != '.' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		i += w
	}
	return i
}

var exprOps = []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ","}

func exprLexOp(s string) string {
	for _, op := range exprOps {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

// ---- parser ----

type exprParser struct {
	src   string
	toks  []exprToken
	i     int
	depth int
}

func (p *exprParser) peek() exprToken { return p.toks[p.i] }

func (p *exprParser) peekAt(n int) exprToken {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *exprParser) next() exprToken {
	t := p.toks[p.i]
	if t.kind != exprTokEOF {
		p.i++
	}
	return t
}

// is reports whether the next token is the operator or keyword word.
func (p *exprParser) is(words ...string) bool {
	t := p.peek()
	if t.kind != exprTokOp && t.kind != exprTokIdent {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func (p *exprParser) errAt(pos int, format string, args ...any) error {
	return &ExprError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *exprParser) unexpected(t exprToken) error {
	if t.kind == exprTokEOF {
		return p.errAt(t.pos, "unexpected end of expression")
	}
	return p.errAt(t.pos, "unexpected token %q", t.raw)
}

func (p *exprParser) expect(op string) (exprToken, error) {
	t := p.peek()
	if t.kind != exprTokOp || t.text != op {
		if t.kind == exprTokEOF {
			return t, p.errAt(t.pos, "expected %q, found end of expression", op)
		}
		return t, p.errAt(t.pos, "expected %q, found %q", op, t.raw)
	}
	return p.next(), nil
}

// enter guards recursion depth; every caller pairs it with p.depth--.
func (p *exprParser) enter(pos int) error {
	p.depth++
	if p.depth > exprMaxDepth {
		return p.errAt(pos, "expression nested too deeply")
	}
	return nil
}

func (p *exprParser) parseOr() (exprNode, error) {
	return p.parseLogic(false)
}

// parseLogic parses an or-chain (and=false) or and-chain (and=true) into one
// n-ary node, which keeps long chains from building deep trees.
func (p *exprParser) parseLogic(and bool) (exprNode, error) {
	words := []string{"or", "||"}
	sub := func() (exprNode, error) { return p.parseLogic(true) }
	if and {
		words = []string{"and", "&&"}
		sub = p.parseNot
	}
	first, err := sub()
	if err != nil {
		return nil, err
	}
	if !p.is(words...) {
		return first, nil
	}
	n := &exprLogic{pos: p.peek().pos, and: and, xs: []exprNode{first}}
	for p.is(words...) {
		p.next()
		x, err := sub()
		if err != nil {
			return nil, err
		}
		n.xs = append(n.xs, x)
	}
	return n, nil
}

func (p *exprParser) parseNot() (exprNode, error) {
	if !p.is("not", "!") {
		return p.parseCmp()
	}
	t := p.next()
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return &exprNot{pos: t.pos, x: x}, nil
}

func (p *exprParser) parseCmp() (exprNode, error) {
	l, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == exprTokOp && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" || t.text == "<=" || t.text == ">="):
		p.next()
		r, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		return &exprCmp{pos: t.pos, op: t.text, l: l, r: r}, nil
	case p.is("in"):
		p.next()
		return p.parseIn(t.pos, l, false)
	case p.is("not") && p.peekAt(1).kind == exprTokIdent && p.peekAt(1).text == "in":
		p.next()
		p.next()
		return p.parseIn(t.pos, l, true)
	}
	return l, nil
}

func (p *exprParser) parseIn(pos int, x exprNode, negate bool) (exprNode, error) {
	items, err := p.parseList("[", "]")
	if err != nil {
		return nil, err
	}
	return &exprIn{pos: pos, x: x, list: items, negate: negate}, nil
}

// parseList parses open item {, item} [,] close; a trailing comma is allowed
// in lists but not in calls.
func (p *exprParser) parseList(open, closing string) ([]exprNode, error) {
	t, err := p.expect(open)
	if err != nil {
		return nil, err
	}
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var items []exprNode
	for !p.is(closing) {
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		items = append(items, x)
		if !p.is(",") {
			break
		}
		comma := p.next()
		if closing == ")" && p.is(closing) {
			return nil, p.unexpected(comma)
		}
	}
	if _, err := p.expect(closing); err != nil {
		return nil, err
	}
	return items, nil
}

func (p *exprParser) parsePrimary() (exprNode, error) {
	t := p.peek()
	switch t.kind {
	case exprTokString:
		p.next()
		return &exprLit{pos: t.pos, v: exprValue{kind: exprStr, s: t.text}}, nil
	case exprTokNumber:
		p.next()
		return &exprLit{pos: t.pos, v: exprValue{kind: exprNum, n: t.num}}, nil
	case exprTokOp:
		if t.text != "(" {
			return nil, p.unexpected(t)
		}
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return x, nil
	case exprTokIdent:
		return p.parseIdent()
	default:
		return nil, p.unexpected(t)
	}
}

func (p *exprParser) parseIdent() (exprNode, error) {
	t := p.peek()
	switch t.text {
	case "true", "false":
		p.next()
		return &exprLit{pos: t.pos, v: exprValue{kind: exprBool, b: t.text == "true"}}, nil
	case "null":
		p.next()
		return &exprLit{pos: t.pos, v: exprValue{kind: exprNull}}, nil
	case "and", "or", "not", "in":
		return nil, p.unexpected(t)
	}
	p.next()
	if p.is("(") {
		return p.parseCall(t)
	}
	switch t.text {
	case "flow.name":
		return &exprVar{pos: t.pos, which: exprVarFlowName}, nil
	case "trail.name":
		return &exprVar{pos: t.pos, which: exprVarTrailName}, nil
	case "artifact.name":
		return &exprVar{pos: t.pos, which: exprVarArtifactName}, nil
	case "artifact.fingerprint":
		return &exprVar{pos: t.pos, which: exprVarArtifactFingerprint}, nil
	case "flow.tags":
		if !p.is("[") {
			return nil, p.errAt(t.pos, `flow.tags needs a key: flow.tags.<key> or flow.tags["key"]`)
		}
		p.next()
		k := p.peek()
		if k.kind != exprTokString {
			return nil, p.errAt(k.pos, "tag key must be a string literal")
		}
		p.next()
		if _, err := p.expect("]"); err != nil {
			return nil, err
		}
		return &exprVar{pos: t.pos, which: exprVarFlowTag, key: k.text}, nil
	}
	if key, ok := strings.CutPrefix(t.text, "flow.tags."); ok && key != "" {
		return &exprVar{pos: t.pos, which: exprVarFlowTag, key: key}, nil
	}
	return nil, p.errAt(t.pos, "unknown variable %q", t.text)
}

func (p *exprParser) parseCall(name exprToken) (exprNode, error) {
	args, err := p.parseList("(", ")")
	if err != nil {
		return nil, err
	}
	switch name.text {
	case "exists":
		if len(args) != 1 {
			return nil, p.errAt(name.pos, "exists takes 1 argument, got %d", len(args))
		}
		return &exprExists{pos: name.pos, x: args[0]}, nil
	case "matches":
		if len(args) != 2 {
			return nil, p.errAt(name.pos, "matches takes 2 arguments, got %d", len(args))
		}
		m := &exprMatches{pos: name.pos, x: args[0], pat: args[1]}
		// A literal pattern is compiled once, here, so a typo in it is a
		// template error rather than a failure at every evaluation.
		if lit, ok := args[1].(*exprLit); ok {
			if lit.v.kind != exprStr {
				return nil, p.errAt(lit.pos, "matches pattern must be a string")
			}
			re, err := regexp.Compile(lit.v.s)
			if err != nil {
				return nil, p.errAt(lit.pos, "invalid regular expression: %v", err)
			}
			m.re = re
		}
		return m, nil
	default:
		return nil, p.errAt(name.pos, "unknown function %q", name.text)
	}
}

// ---- values ----

type exprKind uint8

const (
	exprNull exprKind = iota
	exprBool
	exprNum
	exprStr
)

type exprValue struct {
	kind exprKind
	b    bool
	n    float64
	s    string
}

func (v exprValue) describe() string {
	switch v.kind {
	case exprBool:
		return "a boolean"
	case exprNum:
		return "a number"
	case exprStr:
		return "a string"
	default:
		return "null"
	}
}

// exprNumeric matches strings that compare as numbers. It is stricter than
// strconv.ParseFloat, which would also take "NaN", "Inf" and hex floats.
var exprNumeric = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// asNumber reports v as a number when it is one or is a numeric-looking string.
func (v exprValue) asNumber() (float64, bool) {
	switch v.kind {
	case exprNum:
		return v.n, true
	case exprStr:
		if !exprNumeric.MatchString(v.s) {
			return 0, false
		}
		f, err := strconv.ParseFloat(v.s, 64)
		return f, err == nil
	default:
		return 0, false
	}
}

// text is the string form used for string comparison and matching.
func (v exprValue) text() string {
	if v.kind == exprNum {
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	}
	return v.s
}

// exprEqual is == : null equals only null; a number equals a numeric-looking
// string of the same value; a boolean equals the string "true"/"false"
// (tags are always strings).
func exprEqual(a, b exprValue) bool {
	if a.kind == exprNull || b.kind == exprNull {
		return a.kind == b.kind
	}
	if a.kind == b.kind {
		switch a.kind {
		case exprBool:
			return a.b == b.b
		case exprNum:
			return a.n == b.n
		default:
			return a.s == b.s
		}
	}
	if a.kind == exprBool || b.kind == exprBool {
		if a.kind == exprBool {
			a, b = b, a
		}
		return a.kind == exprStr && a.s == strconv.FormatBool(b.b)
	}
	x, okx := a.asNumber()
	y, oky := b.asNumber()
	return okx && oky && x == y
}

// exprOrder compares a and b for < > <= >=. Null on either side gives false
// (an absent tag is neither bigger nor smaller than anything).
func exprOrder(op string, a, b exprValue, pos int) (bool, error) {
	if a.kind == exprNull || b.kind == exprNull {
		return false, nil
	}
	if a.kind == exprBool || b.kind == exprBool {
		return false, &ExprError{Pos: pos, Msg: fmt.Sprintf("cannot order %s and %s", a.describe(), b.describe())}
	}
	c := 0
	x, okx := a.asNumber()
	y, oky := b.asNumber()
	if okx && oky {
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	} else {
		c = strings.Compare(a.text(), b.text())
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	default:
		return c >= 0, nil
	}
}

// ---- nodes ----

type exprNode interface {
	eval(env *ExprEnv) (exprValue, error)
	position() int
}

type exprLit struct {
	pos int
	v   exprValue
}

func (n *exprLit) eval(*ExprEnv) (exprValue, error) { return n.v, nil }
func (n *exprLit) position() int                    { return n.pos }

type exprVarWhich uint8

const (
	exprVarFlowName exprVarWhich = iota
	exprVarFlowTag
	exprVarTrailName
	exprVarArtifactName
	exprVarArtifactFingerprint
)

type exprVar struct {
	pos   int
	which exprVarWhich
	key   string
}

func (n *exprVar) position() int { return n.pos }

func (n *exprVar) eval(env *ExprEnv) (exprValue, error) {
	var s string
	switch n.which {
	case exprVarFlowTag:
		v, ok := env.FlowTags[n.key]
		if !ok {
			return exprValue{}, nil
		}
		// A tag set to "" exists, unlike the context fields below.
		return exprValue{kind: exprStr, s: v}, nil
	case exprVarFlowName:
		s = env.FlowName
	case exprVarTrailName:
		s = env.TrailName
	case exprVarArtifactName:
		s = env.ArtifactName
	case exprVarArtifactFingerprint:
		s = env.ArtifactFingerprint
	}
	if s == "" {
		return exprValue{}, nil
	}
	return exprValue{kind: exprStr, s: s}, nil
}

type exprNot struct {
	pos int
	x   exprNode
}

func (n *exprNot) position() int { return n.pos }

func (n *exprNot) eval(env *ExprEnv) (exprValue, error) {
	v, err := n.x.eval(env)
	if err != nil {
		return exprValue{}, err
	}
	if v.kind != exprBool {
		return exprValue{}, &ExprError{Pos: n.pos, Msg: fmt.Sprintf("not needs a boolean, got %s", v.describe())}
	}
	return exprValue{kind: exprBool, b: !v.b}, nil
}

type exprLogic struct {
	pos int
	and bool
	xs  []exprNode
}

func (n *exprLogic) position() int { return n.pos }

// eval short-circuits left to right, so exists(x) and x > 3 is safe.
func (n *exprLogic) eval(env *ExprEnv) (exprValue, error) {
	name := "or"
	if n.and {
		name = "and"
	}
	for _, x := range n.xs {
		v, err := x.eval(env)
		if err != nil {
			return exprValue{}, err
		}
		if v.kind != exprBool {
			return exprValue{}, &ExprError{Pos: x.position(), Msg: fmt.Sprintf("%s needs booleans, got %s", name, v.describe())}
		}
		if v.b != n.and {
			return v, nil
		}
	}
	return exprValue{kind: exprBool, b: n.and}, nil
}

type exprCmp struct {
	pos  int
	op   string
	l, r exprNode
}

func (n *exprCmp) position() int { return n.pos }

func (n *exprCmp) eval(env *ExprEnv) (exprValue, error) {
	a, err := n.l.eval(env)
	if err != nil {
		return exprValue{}, err
	}
	b, err := n.r.eval(env)
	if err != nil {
		return exprValue{}, err
	}
	var res bool
	switch n.op {
	case "==":
		res = exprEqual(a, b)
	case "!=":
		res = !exprEqual(a, b)
	default:
		if res, err = exprOrder(n.op, a, b, n.pos); err != nil {
			return exprValue{}, err
		}
	}
	return exprValue{kind: exprBool, b: res}, nil
}

type exprIn struct {
	pos    int
	x      exprNode
	list   []exprNode
	negate bool
}

func (n *exprIn) position() int { return n.pos }

func (n *exprIn) eval(env *ExprEnv) (exprValue, error) {
	v, err := n.x.eval(env)
	if err != nil {
		return exprValue{}, err
	}
	found := false
	for _, it := range n.list {
		w, err := it.eval(env)
		if err != nil {
			return exprValue{}, err
		}
		if exprEqual(v, w) {
			found = true
			break
		}
	}
	return exprValue{kind: exprBool, b: found != n.negate}, nil
}

type exprExists struct {
	pos int
	x   exprNode
}

func (n *exprExists) position() int { return n.pos }

func (n *exprExists) eval(env *ExprEnv) (exprValue, error) {
	v, err := n.x.eval(env)
	if err != nil {
		return exprValue{}, err
	}
	return exprValue{kind: exprBool, b: v.kind != exprNull}, nil
}

type exprMatches struct {
	pos    int
	x, pat exprNode
	re     *regexp.Regexp // set when pat is a literal
}

func (n *exprMatches) position() int { return n.pos }

// eval uses search semantics (the pattern may match anywhere); anchor with ^
// and $ for a full match. A null input does not match.
func (n *exprMatches) eval(env *ExprEnv) (exprValue, error) {
	v, err := n.x.eval(env)
	if err != nil {
		return exprValue{}, err
	}
	re := n.re
	if re == nil {
		p, err := n.pat.eval(env)
		if err != nil {
			return exprValue{}, err
		}
		if p.kind != exprStr {
			return exprValue{}, &ExprError{Pos: n.pat.position(), Msg: fmt.Sprintf("matches pattern must be a string, got %s", p.describe())}
		}
		if re, err = regexp.Compile(p.s); err != nil {
			return exprValue{}, &ExprError{Pos: n.pat.position(), Msg: fmt.Sprintf("invalid regular expression: %v", err)}
		}
	}
	switch v.kind {
	case exprNull:
		return exprValue{kind: exprBool}, nil
	case exprBool:
		return exprValue{}, &ExprError{Pos: n.x.position(), Msg: "matches needs a string, got a boolean"}
	}
	return exprValue{kind: exprBool, b: re.MatchString(v.text())}, nil
}
