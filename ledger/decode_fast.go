package ledger

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// decodeFast decodes an envelope stored in exactly the layout Seal writes
// (canonical members in order, then hash, keyId and sig) without
// reflection: about a third of encoding/json's cost, which dominates replay
// after signatures. It gives up (ok=false) on anything else, including any
// string with an escape, a control character or invalid UTF-8, and the
// caller falls back to encoding/json; where it succeeds its result equals
// json.Unmarshal's (see TestDecodeFastMatchesEncodingJSON).
//
// With skipDataScan the data member is only bracket-matched, not checked to
// be well-formed JSON: for callers that decode every payload anyway (see
// Checker.DataChecked).
func decodeFast(raw []byte, skipDataScan bool) (e *Envelope, ok bool) {
	p := fastParser{b: raw, skipDataScan: skipDataScan}
	e = new(Envelope)
	if !p.lit(`{"actor":`) || !p.str(&e.Actor) ||
		!p.lit(`,"aggregate":`) || !p.str(&e.Aggregate) ||
		!p.lit(`,"aggregateId":`) || !p.str(&e.AggregateID) ||
		!p.lit(`,"data":`) || !p.object(&e.Data) ||
		!p.lit(`,"id":`) || !p.str(&e.ID) ||
		!p.lit(`,"org":`) || !p.str(&e.Org) ||
		!p.lit(`,"prev":`) || !p.str(&e.Prev) ||
		!p.lit(`,"seq":`) || !p.uint(&e.Seq) ||
		!p.lit(`,"time":`) || !p.str(&e.Time) ||
		!p.lit(`,"type":`) || !p.str(&e.Type) ||
		!p.lit(`,"v":`) || !p.int(&e.V) ||
		!p.lit(`,"hash":`) || !p.str(&e.Hash) ||
		!p.lit(`,"keyId":`) || !p.str(&e.KeyID) ||
		!p.lit(`,"sig":`) || !p.str(&e.Sig) ||
		!p.lit(`}`) || p.i != len(raw) {
		return nil, false
	}
	return e, true
}

type fastParser struct {
	b            []byte
	i            int
	skipDataScan bool
}

func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// str reads a string with no escapes, no control characters and valid UTF-8.
func (p *fastParser) str(out *string) bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false
	}
	start := p.i + 1
	end := bytes.IndexByte(p.b[start:], '"')
	if end < 0 {
		return false
	}
	s := p.b[start : start+end]
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return false
		}
	}
	if !utf8.Valid(s) {
		return false
	}
	*out = string(s)
	p.i = start + end + 1
	return true
}

// object reads one JSON object, checked with json.Valid unless
// p.skipDataScan, as raw bytes.
func (p *fastParser) object(out *json.RawMessage) bool {
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
				if !p.skipDataScan && !json.Valid(v) {
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

// uint reads a non-negative integer without leading zeros that fits in
// 2^53 (beyond it encoding/json's float rounding would differ).
func (p *fastParser) uint(out *uint64) bool {
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

func (p *fastParser) int(out *int) bool {
	var n uint64
	if !p.uint(&n) {
		return false
	}
	*out = int(n)
	return true
}
