package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// NewDraftCanonicalData is NewDraft for an envelope whose Data is already
// RFC 8785 canonical (as CanonicalJSON returns it). It writes the canonical
// form directly instead of marshalling the envelope and canonicalising the
// result, which costs a JSON encode and a full JCS parse of the ~1 KiB body
// per event on the single writer's goroutine. The bytes are identical to
// NewDraft's for such envelopes.
func NewDraftCanonicalData(e Envelope, subject string) (Draft, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	n := len(data) + len(e.ID) + len(e.Type) + len(e.Org) + len(e.Aggregate) + len(e.AggregateID) + len(e.Actor) + len(e.Time) + 160
	b := make([]byte, 0, n)
	b = append(b, `{"actor":`...)
	b = appendJCSString(b, e.Actor)
	b = append(b, `,"aggregate":`...)
	b = appendJCSString(b, e.Aggregate)
	b = append(b, `,"aggregateId":`...)
	b = appendJCSString(b, e.AggregateID)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, `,"id":`...)
	b = appendJCSString(b, e.ID)
	b = append(b, `,"org":`...)
	b = appendJCSString(b, e.Org)
	b = append(b, `,"prev":"`...)
	prefixEnd := len(b)
	b = append(b, `","seq":0`...)
	suffixStart := len(b)
	b = append(b, `,"time":`...)
	b = appendJCSString(b, e.Time)
	b = append(b, `,"type":`...)
	b = appendJCSString(b, e.Type)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, int64(Version), 10)
	b = append(b, '}')
	if i := bytes.LastIndex(b, placeholder); i+len(`,"prev":"`) != prefixEnd {
		return Draft{}, fmt.Errorf("%w: no seq/prev slot in canonical form", ErrMalformed)
	}
	return Draft{ID: e.ID, Subject: subject, prefix: b[:prefixEnd], suffix: b[suffixStart:]}, nil
}

// appendJCSString appends s as an RFC 8785 string: only '"', '\\' and
// control characters are escaped (the short forms where JSON has them,
// otherwise \u00xx); invalid UTF-8 becomes U+FFFD, as json.Marshal does.
func appendJCSString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// SealAll seals drafts as consecutive events from seq, the first after the
// event whose hash is prev. The hash chain is computed in order (SHA-256 is
// cheap); the signatures, which cost ~15 µs each, are spread over the CPUs
// unless workers is 1 or less.
func (s *Signer) SealAll(ds []Draft, seq uint64, prev string, workers int) []Sealed {
	return s.Chain(ds, seq, prev).Sign(workers)
}

// Chained is a run of drafts placed on the chain: their sequences and
// hashes are known, their signatures not yet made. Placing is cheap and
// must happen in order; signing, the costly part, can happen elsewhere
// (another goroutine) while the next run is placed on this one's hash.
type Chained struct {
	signer *Signer
	canon  [][]byte
	sums   [][sha256.Size]byte
	out    []Sealed
}

// Chain places drafts as consecutive events from seq, the first after the
// event whose hash is prev.
func (s *Signer) Chain(ds []Draft, seq uint64, prev string) *Chained {
	c := &Chained{signer: s, canon: make([][]byte, len(ds)), sums: make([][sha256.Size]byte, len(ds)), out: make([]Sealed, len(ds))}
	for i, d := range ds {
		b := make([]byte, 0, len(d.prefix)+len(prev)+30+len(d.suffix))
		b = append(b, d.prefix...)
		b = append(b, prev...)
		b = append(b, `","seq":`...)
		b = strconv.AppendUint(b, seq+uint64(i), 10)
		b = append(b, d.suffix...)
		c.sums[i] = sha256.Sum256(b)
		c.canon[i] = b
		prev = hex.EncodeToString(c.sums[i][:])
		c.out[i] = Sealed{Seq: seq + uint64(i), Hash: prev}
	}
	return c
}

// Last is the last event's sequence and hash (zero values for none).
func (c *Chained) Last() (uint64, string) {
	if len(c.out) == 0 {
		return 0, ""
	}
	l := c.out[len(c.out)-1]
	return l.Seq, l.Hash
}

// Sign signs the events, spread over the CPUs (Parallel) unless workers
// is 1 or less, and returns them sealed. It is called once.
func (c *Chained) Sign(workers int) []Sealed {
	finish := func(i int) {
		sig := c.signer.sign(c.sums[i][:])
		b := c.canon[i]
		o := &c.out[i]
		raw := make([]byte, 0, len(b)+len(o.Hash)+len(c.signer.keyID)+len(sig)+32)
		raw = append(raw, b[:len(b)-1]...)
		raw = append(raw, `,"hash":"`...)
		raw = append(raw, o.Hash...)
		raw = append(raw, `","keyId":"`...)
		raw = append(raw, c.signer.keyID...)
		raw = append(raw, `","sig":"`...)
		raw = append(raw, sig...)
		raw = append(raw, `"}`...)
		o.Raw, o.Sig = raw, sig
	}
	if workers <= 1 {
		for i := range c.out {
			finish(i)
		}
		return c.out
	}
	Parallel(len(c.out), 4, finish) // fewer than 8 stay on this goroutine
	return c.out
}
