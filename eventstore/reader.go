package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/ledger"
)

// ErrNoEvent is returned when a sequence holds no event.
var ErrNoEvent = errors.New("eventstore: no event at that sequence")

// Head is the last event of the stream: its sequence and hash.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Reader reads the ledger stream.
type Reader struct {
	js     jetstream.JetStream
	stream string
}

// NewReader returns a reader of the named stream.
func NewReader(js jetstream.JetStream, stream string) *Reader {
	return &Reader{js: js, stream: stream}
}

// LastSeq returns the stream's last sequence (0 when empty).
func (r *Reader) LastSeq(ctx context.Context) (uint64, error) {
	s, err := r.js.Stream(ctx, r.stream)
	if err != nil {
		return 0, fmt.Errorf("eventstore: stream info: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("eventstore: stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Get returns the stored bytes of the event at seq.
func (r *Reader) Get(ctx context.Context, seq uint64) ([]byte, error) {
	s, err := r.js.Stream(ctx, r.stream)
	if err != nil {
		return nil, fmt.Errorf("eventstore: stream: %w", err)
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %d", ErrNoEvent, seq)
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: get %d: %w", seq, err)
	}
	return m.Data, nil
}

// Head returns the last event's sequence and hash ({0, ZeroHash} when empty).
func (r *Reader) Head(ctx context.Context) (Head, error) {
	last, err := r.LastSeq(ctx)
	if err != nil || last == 0 {
		return Head{Seq: 0, Hash: ledger.ZeroHash}, err
	}
	raw, err := r.Get(ctx, last)
	if err != nil {
		return Head{}, err
	}
	e, err := ledger.Decode(raw)
	if err != nil {
		return Head{}, fmt.Errorf("eventstore: head event %d: %w", last, err)
	}
	return Head{Seq: last, Hash: e.Hash}, nil
}

// Range returns a source of the events from seq `from` to `to` inclusive
// (to = 0 means up to the stream's last sequence when the range was opened).
// Call the returned stop function when done.
func (r *Reader) Range(ctx context.Context, from, to uint64) (ledger.Source, func(), error) {
	if from == 0 {
		from = 1
	}
	if to == 0 {
		last, err := r.LastSeq(ctx)
		if err != nil {
			return nil, nil, err
		}
		to = last
	}
	if to < from {
		return func(context.Context) (ledger.Item, error) { return ledger.Item{}, io.EOF }, func() {}, nil
	}
	cons, err := r.js.OrderedConsumer(ctx, r.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("eventstore: open reader at %d: %w", from, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2048))
	if err != nil {
		return nil, nil, fmt.Errorf("eventstore: open reader at %d: %w", from, err)
	}
	done := false
	src := func(ctx context.Context) (ledger.Item, error) {
		if done {
			return ledger.Item{}, io.EOF
		}
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return ledger.Item{}, fmt.Errorf("eventstore: read: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return ledger.Item{}, fmt.Errorf("eventstore: read metadata: %w", err)
		}
		pos := md.Sequence.Stream
		if pos >= to {
			done = true
		}
		if pos > to {
			return ledger.Item{}, io.EOF
		}
		return ledger.Item{Pos: pos, Raw: m.Data()}, nil
	}
	return src, it.Stop, nil
}
