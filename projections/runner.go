package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/ledger"
)

// RunConfig configures the live runner.
type RunConfig struct {
	// JS and Stream name the ledger stream to follow.
	JS     jetstream.JetStream
	Stream string
	// ObserveApply, if set, is told the size and duration of each transaction.
	ObserveApply func(events int, d time.Duration)
}

// Run follows the stream from the last applied event, applying new events
// as they arrive, until ctx ends or the chain breaks (then it returns
// ErrHalted and stays halted). Events that arrive together are applied in
// one transaction, so a burst costs one commit.
func (s *Store) Run(ctx context.Context, cfg RunConfig) error {
	start := s.Applied() + 1
	cons, err := cfg.JS.OrderedConsumer(ctx, cfg.Stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
	})
	if err != nil {
		return fmt.Errorf("projections: follow stream from %d: %w", start, err)
	}
	in := make(chan ledger.Item, 4*applyBatch)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, merr := m.Metadata()
		if merr != nil {
			return
		}
		select {
		case in <- ledger.Item{Pos: md.Sequence.Stream, Raw: m.Data()}:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(applyBatch))
	if err != nil {
		return fmt.Errorf("projections: follow stream: %w", err)
	}
	defer cc.Stop()
	batch := make([]ledger.Item, 0, applyBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case it := <-in:
			batch = append(batch[:0], it)
		}
	fill:
		for len(batch) < applyBatch {
			select {
			case it := <-in:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		t0 := time.Now()
		if err := s.apply(batch); err != nil {
			if errors.Is(err, ErrHalted) {
				return err
			}
			s.log.Error("projection apply failed; retrying", "err", err)
			time.Sleep(100 * time.Millisecond)
			if err := s.retry(batch); err != nil {
				return err
			}
		}
		if cfg.ObserveApply != nil {
			cfg.ObserveApply(len(batch), time.Since(t0))
		}
	}
}

// retry re-applies a batch whose transaction failed (e.g. disk full), skipping
// the events a previous attempt already applied.
func (s *Store) retry(batch []ledger.Item) error {
	for attempt := 0; attempt < 50; attempt++ {
		applied := s.Applied()
		rest := batch[:0:0]
		for _, it := range batch {
			if it.Pos > applied {
				rest = append(rest, it)
			}
		}
		if len(rest) == 0 {
			return nil
		}
		err := s.apply(rest)
		if err == nil || errors.Is(err, ErrHalted) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("projections: apply keeps failing")
}
