package ledger

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Scanner reads JSON whose layout the caller knows in advance, as stored
// events have it (canonical form: members in a fixed order, no
// whitespace), token by token and without reflection: several times
// faster than encoding/json, which dominates a replay after signatures.
// Each method consumes one token and reports whether it was there; after a
// false the scanner is spent and the caller falls back to encoding/json,
// which stays the reference. What a Scanner decodes equals what
// encoding/json decodes from the same bytes, and it accepts only
// well-formed tokens (see the differential tests of its users).
type Scanner struct {
	b []byte
	i int
}

// NewScanner starts a Scanner at the beginning of b.
func NewScanner(b []byte) *Scanner { return &Scanner{b: b} }

// Lit consumes s, which must be next verbatim.
func (p *Scanner) Lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// End reports whether everything has been consumed.
func (p *Scanner) End() bool { return p.i == len(p.b) }

// token consumes the next string token and returns it, quotes included,
// with whether it holds an escape.
func (p *Scanner) token() (tok []byte, escaped, ok bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false, false
	}
	end, ok := stringEnd(p.b, p.i+1)
	if !ok {
		return nil, false, false
	}
	tok = p.b[p.i : end+1]
	p.i = end + 1
	return tok, bytes.IndexByte(tok, '\\') >= 0, true
}

// Str reads a string. One with escapes (a quote or a newline in a
// description) is decoded by encoding/json, token alone.
func (p *Scanner) Str(out *string) bool {
	tok, escaped, ok := p.token()
	if !ok {
		return false
	}
	s := tok[1 : len(tok)-1]
	if escaped || !plainUTF8(s) {
		return json.Unmarshal(tok, out) == nil
	}
	*out = string(s)
	return true
}

// plainUTF8 reports whether s is valid UTF-8 without control characters:
// its own JSON string content.
func plainUTF8(s []byte) bool {
	for _, c := range s {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(s)
}

// OptStr reads null (nil) or a string.
func (p *Scanner) OptStr(out **string) bool {
	if p.Lit("null") {
		*out = nil
		return true
	}
	var s string
	if !p.Str(&s) {
		return false
	}
	*out = &s
	return true
}

// Bool reads true or false.
func (p *Scanner) Bool(out *bool) bool {
	switch {
	case p.Lit("true"):
		*out = true
	case p.Lit("false"):
		*out = false
	default:
		return false
	}
	return true
}

// Strs reads null (nil) or an array of strings ([] is empty, not nil).
func (p *Scanner) Strs(out *[]string) bool {
	if p.Lit("null") {
		*out = nil
		return true
	}
	if !p.Lit("[") {
		return false
	}
	list := []string{}
	for i := 0; !p.Lit("]"); i++ {
		if i > 0 && !p.Lit(",") {
			return false
		}
		var s string
		if !p.Str(&s) {
			return false
		}
		list = append(list, s)
	}
	*out = list
	return true
}

// StrMap reads null (nil) or an object of strings ({} is empty, not nil).
func (p *Scanner) StrMap(out *map[string]string) bool {
	if p.Lit("null") {
		*out = nil
		return true
	}
	if !p.Lit("{") {
		return false
	}
	m := map[string]string{}
	for i := 0; !p.Lit("}"); i++ {
		if i > 0 && !p.Lit(",") {
			return false
		}
		var k, v string
		if !p.Str(&k) || !p.Lit(":") || !p.Str(&v) {
			return false
		}
		m[k] = v
	}
	*out = m
	return true
}

// Time reads a timestamp as encoding/json does: time.Time's UnmarshalJSON
// on the quoted token.
func (p *Scanner) Time(out *time.Time) bool {
	tok, escaped, ok := p.token()
	if !ok || escaped {
		return false
	}
	return out.UnmarshalJSON(tok) == nil
}

// uint reads a non-negative integer without leading zeros that fits in
// 2^53 (beyond it encoding/json's float rounding would differ).
func (p *Scanner) uint(out *uint64) bool {
	start := p.i
	var n uint64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + uint64(p.b[p.i]-'0')
		p.i++
		if p.i-start > 15 {
			return false
		}
	}
	if p.i == start || (p.b[start] == '0' && p.i-start > 1) {
		return false
	}
	*out = n
	return true
}

// int reads what uint reads, into an int.
func (p *Scanner) int(out *int) bool {
	var n uint64
	if !p.uint(&n) {
		return false
	}
	*out = int(n)
	return true
}

// object reads one JSON object as raw bytes, checked with json.Valid
// unless skipScan (it is then only bracket-matched).
func (p *Scanner) object(out *json.RawMessage, skipScan bool) bool {
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return false
	}
	depth := 0
	for j := p.i; j < len(p.b); j++ {
		switch p.b[j] {
		case '"':
			end, ok := stringEnd(p.b, j+1)
			if !ok {
				return false
			}
			j = end
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				v := p.b[p.i : j+1]
				if !skipScan && !json.Valid(v) {
					return false
				}
				*out = append(json.RawMessage(nil), v...)
				p.i = j + 1
				return true
			}
		}
	}
	return false
}

// stringEnd returns the position of the quote that closes the string whose
// contents start at i: the first quote not escaped by an odd run of
// backslashes. It jumps from quote to quote (bytes.IndexByte), which is
// several times faster than a byte-by-byte scan over a long description.
func stringEnd(b []byte, i int) (int, bool) {
	for from := i; ; {
		k := bytes.IndexByte(b[from:], '"')
		if k < 0 {
			return 0, false
		}
		q := from + k
		n := 0
		for q-1-n >= i && b[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q, true
		}
		from = q + 1
	}
}
