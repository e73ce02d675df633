package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// hashedFields are the envelope fields covered by `hash`: every field except
// hash, keyId and sig themselves.
type hashedFields struct {
	V           int             `json:"v"`
	Seq         uint64          `json:"seq"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Org         string          `json:"org"`
	Aggregate   string          `json:"aggregate"`
	AggregateID string          `json:"aggregateId"`
	Actor       string          `json:"actor"`
	Time        string          `json:"time"`
	Data        json.RawMessage `json:"data"`
	Prev        string          `json:"prev"`
}

// Canonical returns the RFC 8785 canonical encoding of the hashed fields of e.
// This is the exact byte string whose SHA-256 is the event hash.
func Canonical(e *Envelope) ([]byte, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	raw, err := json.Marshal(hashedFields{
		V: e.V, Seq: e.Seq, ID: e.ID, Type: e.Type, Org: e.Org, Aggregate: e.Aggregate,
		AggregateID: e.AggregateID, Actor: e.Actor, Time: e.Time, Data: data, Prev: e.Prev,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	out, err := canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: canonicalise: %w", ErrMalformed, err)
	}
	return out, nil
}

// HashBytes returns the hex SHA-256 of canonical bytes.
func HashBytes(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// Draft is an event whose content is fixed but whose place in the chain (seq
// and prev) is not yet known. Its canonical form is computed once, off the
// single writer's critical path, and split around the seq/prev slot so that
// sealing only splices two values in.
type Draft struct {
	// ID is the event id, also used as Nats-Msg-Id.
	ID string
	// Subject is the NATS subject the event is published on.
	Subject string
	// prefix ends with `"prev":"`; suffix starts with `,"time":`.
	prefix, suffix []byte
}

// placeholder is what the canonical form holds for prev="" and seq=0; keys are
// sorted, and only time, type and v follow seq, so its last occurrence is the
// slot itself even if data contains the same text.
var placeholder = []byte(`,"prev":"","seq":0,"time":`)

// NewDraft canonicalises an unsealed event. e.Seq and e.Prev are ignored.
func NewDraft(e Envelope, subject string) (Draft, error) {
	e.V, e.Seq, e.Prev = Version, 0, ""
	canon, err := Canonical(&e)
	if err != nil {
		return Draft{}, err
	}
	i := bytes.LastIndex(canon, placeholder)
	if i < 0 {
		return Draft{}, fmt.Errorf("%w: no seq/prev slot in canonical form", ErrMalformed)
	}
	prefixEnd := i + len(`,"prev":"`)
	return Draft{
		ID:      e.ID,
		Subject: subject,
		prefix:  canon[:prefixEnd],
		suffix:  canon[i+len(`,"prev":"","seq":0`):],
	}, nil
}

// Sealed is a draft placed in the chain and signed.
type Sealed struct {
	Seq  uint64
	Hash string
	// Sig is the base64 Ed25519 signature over the hash.
	Sig string
	// Raw is the stored message body: the canonical bytes with hash, keyId
	// and sig appended as the last members.
	Raw []byte
}

// Seal places d at seq after the event whose hash is prev, hashes and signs
// it. Only the single writer calls this, in sequence order.
func (s *Signer) Seal(d Draft, seq uint64, prev string) Sealed {
	return s.SealAll([]Draft{d}, seq, prev, 1)[0]
}

// tailMarker starts the members Seal appends after the canonical bytes.
var tailMarker = []byte(`,"hash":"`)

// sealedTail is exactly what Seal appends after the canonical bytes of e. The
// fast path may trust the stored prefix only if nothing else follows it:
// encoding/json keeps the last of duplicate (and case-insensitively equal)
// keys, so members appended after sig would override signed fields.
func sealedTail(e *Envelope) []byte {
	return []byte(`,"hash":"` + e.Hash + `","keyId":"` + e.KeyID + `","sig":"` + e.Sig + `"}`)
}

// storedHash recomputes the hash of a stored envelope. The fast path hashes
// the stored prefix directly (the bytes Seal produced); if the stored form was
// re-serialised, it falls back to canonicalising the decoded fields, so any
// faithful copy of the ledger verifies.
func storedHash(raw []byte, e *Envelope) (string, error) {
	if i := bytes.LastIndex(raw, tailMarker); i > 0 && bytes.Equal(raw[i:], sealedTail(e)) {
		h := sha256.New()
		h.Write(raw[:i])
		h.Write([]byte{'}'})
		if sum := hex.EncodeToString(h.Sum(nil)); sum == e.Hash {
			return sum, nil
		}
	}
	canon, err := Canonical(e)
	if err != nil {
		return "", err
	}
	return HashBytes(canon), nil
}

// Size is the approximate stored size of the draft once sealed.
func (d Draft) Size() int { return len(d.prefix) + len(d.suffix) + 300 }

// CanonicalJSON marshals v and returns its RFC 8785 canonical form: the
// exact bytes an event's data has in the stored envelope.
func CanonicalJSON(v any) (json.RawMessage, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	out, err := canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: canonicalise: %w", ErrMalformed, err)
	}
	return out, nil
}
