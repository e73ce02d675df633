package ledger

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// canonicalize returns the RFC 8785 form of raw. Every event's data and
// envelope pass through here on the write path, where jcs.Transform (a
// general parser that rebuilds every string byte by byte) cost about 20 µs
// per 1 KiB event, more than its signature. canonicalFast handles what
// encoding/json.Marshal writes in one pass; anything else goes to
// jcs.Transform, which stays the reference (TestCanonicalFastMatchesJCS,
// FuzzCanonicalFastMatchesJCS).
func canonicalize(raw []byte) ([]byte, error) {
	if out, ok := canonicalFast(raw); ok {
		return out, nil
	}
	return jcs.Transform(raw)
}

// canonicalMaxDepth bounds the nesting canonicalFast follows; deeper input
// goes to jcs.Transform, which has its own limit.
const canonicalMaxDepth = 64

// canonicalFast canonicalises compact JSON as encoding/json.Marshal writes
// it: no whitespace, valid UTF-8, no lone surrogate escapes. ok is false for
// anything else, and the caller falls back to jcs.Transform.
func canonicalFast(raw []byte) (out []byte, ok bool) {
	c := canonicalizer{in: raw, out: make([]byte, 0, len(raw))}
	if !c.value(0) || c.i != len(raw) {
		return nil, false
	}
	return c.out, true
}

type canonicalizer struct {
	in  []byte
	i   int
	out []byte
}

// member is one object member as written to out: its decoded key and the
// span of `"key":value` in out.
type member struct {
	key        string
	start, end int
}

func (c *canonicalizer) value(depth int) bool {
	if c.i >= len(c.in) || depth > canonicalMaxDepth {
		return false
	}
	switch c.in[c.i] {
	case '{':
		return c.object(depth)
	case '[':
		return c.array(depth)
	case '"':
		_, ok := c.str()
		return ok
	case 't':
		return c.literal("true")
	case 'f':
		return c.literal("false")
	case 'n':
		return c.literal("null")
	default:
		return c.number()
	}
}

func (c *canonicalizer) literal(lit string) bool {
	if !bytes.HasPrefix(c.in[c.i:], []byte(lit)) {
		return false
	}
	c.out = append(c.out, lit...)
	c.i += len(lit)
	return true
}

func (c *canonicalizer) object(depth int) bool {
	c.i++ // {
	start := len(c.out)
	var members []member
	for {
		if c.i >= len(c.in) {
			return false
		}
		if c.in[c.i] == '}' && len(members) == 0 {
			c.i++
			break
		}
		if c.in[c.i] != '"' {
			return false
		}
		ms := len(c.out)
		key, ok := c.str()
		if !ok || c.i >= len(c.in) || c.in[c.i] != ':' {
			return false
		}
		c.i++
		c.out = append(c.out, ':')
		if !c.value(depth + 1) {
			return false
		}
		members = append(members, member{key: key, start: ms, end: len(c.out)})
		if c.i >= len(c.in) {
			return false
		}
		if c.in[c.i] == ',' {
			c.i++
			continue
		}
		if c.in[c.i] != '}' {
			return false
		}
		c.i++
		break
	}
	slices.SortStableFunc(members, func(a, b member) int { return compareUTF16(a.key, b.key) })
	for k := 1; k < len(members); k++ {
		if members[k].key == members[k-1].key {
			return false // duplicate keys: jcs.Transform reports them
		}
	}
	body := append([]byte(nil), c.out[start:]...)
	c.out = append(c.out[:start], '{')
	for k, m := range members {
		if k > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, body[m.start-start:m.end-start]...)
	}
	c.out = append(c.out, '}')
	return true
}

func (c *canonicalizer) array(depth int) bool {
	c.i++ // [
	c.out = append(c.out, '[')
	if c.i < len(c.in) && c.in[c.i] == ']' {
		c.i++
		c.out = append(c.out, ']')
		return true
	}
	for {
		if !c.value(depth+1) || c.i >= len(c.in) {
			return false
		}
		switch c.in[c.i] {
		case ',':
			c.i++
			c.out = append(c.out, ',')
		case ']':
			c.i++
			c.out = append(c.out, ']')
			return true
		default:
			return false
		}
	}
}

// str copies the string at c.i to out in canonical form and returns its
// decoded value. A string without escapes is already canonical.
func (c *canonicalizer) str() (string, bool) {
	start := c.i + 1
	escaped := false
	j := start
	for ; j < len(c.in); j++ {
		b := c.in[j]
		if b == '"' {
			break
		}
		if b < 0x20 {
			return "", false
		}
		if b == '\\' {
			escaped = true
			j++
		}
	}
	if j >= len(c.in) {
		return "", false
	}
	content := c.in[start:j]
	c.i = j + 1
	if !utf8.Valid(content) {
		return "", false // jcs rejects it; encoding/json would replace it
	}
	if !escaped {
		c.out = append(c.out, '"')
		c.out = append(c.out, content...)
		c.out = append(c.out, '"')
		return string(content), true
	}
	// Lone surrogates are where decoders disagree; leave them to jcs.
	if bytes.Contains(content, []byte(`\ud`)) || bytes.Contains(content, []byte(`\uD`)) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(c.in[start-1:j+1], &s); err != nil {
		return "", false
	}
	c.out = appendJCSString(c.out, s)
	return s, true
}

// number copies the number at c.i in its ES6 form. Integers of up to 15
// digits are already in it; anything else is formatted by jcs.
func (c *canonicalizer) number() bool {
	start := c.i
	j := start
	for j < len(c.in) && bytes.IndexByte([]byte("-+.eE0123456789"), c.in[j]) >= 0 {
		j++
	}
	tok := c.in[start:j]
	if len(tok) == 0 {
		return false
	}
	c.i = j
	digits := tok
	if digits[0] == '-' {
		digits = digits[1:]
	}
	plain := len(digits) > 0 && len(digits) <= 15 && (digits[0] != '0' || len(digits) == 1)
	for _, d := range digits {
		if d < '0' || d > '9' {
			plain = false
			break
		}
	}
	if plain && string(tok) != "-0" {
		c.out = append(c.out, tok...)
		return true
	}
	if !json.Valid(tok) {
		return false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return false
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil {
		return false
	}
	c.out = append(c.out, s...)
	return true
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785 sorts
// object keys. It differs from byte order only for characters outside the
// Basic Multilingual Plane against U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	for len(a) > 0 && len(b) > 0 {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			if a[0] != b[0] {
				return int(a[0]) - int(b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := firstUTF16(ra), firstUTF16(rb)
			if ua != ub {
				return int(ua) - int(ub)
			}
			return int(ra) - int(rb) // same high surrogate: the low ones follow the code points
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// firstUTF16 is the first UTF-16 code unit of r.
func firstUTF16(r rune) rune {
	if r < 0x10000 {
		return r
	}
	return 0xD800 + (r-0x10000)>>10
}
