package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the envelope version this build writes and understands.
const Version = 1

// ZeroHash is the `prev` of the first event in the ledger.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is the layout of Envelope.Time: UTC, RFC 3339 with nanoseconds.
// A fixed number of fractional digits keeps times sortable as strings.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// NoOrg is the org of events that belong to no organisation.
const NoOrg = "_"

// Envelope is one sealed event as stored in the stream (envelope version 1).
// Field meanings are the public contract in docs/architecture.md.
type Envelope struct {
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
	Hash        string          `json:"hash"`
	KeyID       string          `json:"keyId"`
	Sig         string          `json:"sig"`
}

// ErrUnsupportedVersion is returned for an envelope written by a newer,
// unknown envelope version; such data must not be interpreted.
var ErrUnsupportedVersion = errors.New("ledger: unsupported envelope version")

// ErrMalformed is returned for bytes that are not an envelope.
var ErrMalformed = errors.New("ledger: malformed envelope")

// Decode parses stored envelope bytes. It rejects unknown versions so that a
// build never misreads data written by a newer one.
func Decode(raw []byte) (*Envelope, error) { return decode(raw, false) }

// decode is Decode; skipDataScan is decodeFast's.
func decode(raw []byte, skipDataScan bool) (*Envelope, error) {
	if e, ok := decodeFast(raw, skipDataScan); ok {
		if e.V != Version {
			return e, fmt.Errorf("%w: %d (this build understands %d)", ErrUnsupportedVersion, e.V, Version)
		}
		return e, nil
	}
	var e Envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if e.V != Version {
		return &e, fmt.Errorf("%w: %d (this build understands %d)", ErrUnsupportedVersion, e.V, Version)
	}
	return &e, nil
}

// OccurredAt parses the envelope time; a malformed time gives the zero time.
func (e *Envelope) OccurredAt() time.Time {
	t, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil {
		return time.Time{}
	}
	return t
}

// FormatTime renders t in the envelope's time format.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}
