package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/eventstore"
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
// one transaction, so a burst costs one commit, and a transaction never
// ends inside an atomic batch: a command's events (and a whole group
// commit) become visible together. A batch this process staged (Stage) is
// written while the server commits it and committed when the stream
// delivers the same events (speculate.go).
func (s *Store) Run(ctx context.Context, cfg RunConfig) error {
	start := s.Applied() + 1
	cons, err := cfg.JS.OrderedConsumer(ctx, cfg.Stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
	})
	if err != nil {
		return fmt.Errorf("projections: follow stream from %d: %w", start, err)
	}
	in := make(chan delivered, 4*applyBatch)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, merr := m.Metadata()
		if merr != nil {
			return
		}
		h := m.Headers()
		d := delivered{
			Item:     ledger.Item{Pos: md.Sequence.Stream, Raw: m.Data()},
			midBatch: h.Get(eventstore.HeaderBatchID) != "" && h.Get(eventstore.HeaderBatchCommit) == "",
		}
		select {
		case in <- d:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(applyBatch))
	if err != nil {
		return fmt.Errorf("projections: follow stream: %w", err)
	}
	defer cc.Stop()
	var sp *speculation
	defer func() {
		if sp != nil {
			_ = s.abandon(sp)
		}
	}()
	expire := time.NewTimer(time.Hour)
	defer expire.Stop()
	batch := make([]ledger.Item, 0, applyBatch)
	open := false
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case sealed := <-s.staged:
			// One batch at a time: the next is applied when delivered.
			if sp == nil {
				if sp = s.speculate(sealed); sp != nil {
					expire.Reset(speculationWait)
				}
			}
			continue
		case <-expire.C:
			if sp != nil && time.Since(sp.since) >= speculationWait {
				// Never delivered (a failed batch): what was delivered
				// meanwhile is applied as usual.
				for _, d := range s.abandon(sp) {
					batch = append(batch, d.Item)
					open = d.midBatch
				}
				sp = nil
			} else if sp != nil {
				expire.Reset(speculationWait - time.Since(sp.since))
			}
			if len(batch) == 0 {
				continue
			}
		case d := <-in:
			if sp == nil {
				batch = append(batch, d.Item)
				open = d.midBatch
				break
			}
			var replay []delivered
			if sp, replay = s.confirm(sp, d, cfg.ObserveApply); len(replay) == 0 {
				continue
			}
			for _, r := range replay {
				batch = append(batch, r.Item)
				open = r.midBatch
			}
		}
		// A transaction may pass applyBatch to finish an atomic batch (at
		// most 1,000 events).
		var rest <-chan time.Time
	fill:
		for open || len(batch) < applyBatch {
			if open {
				if rest == nil {
					rest = time.After(batchRestWait)
				}
				// The rest of an atomic batch is stored and on its way:
				// wait for it, so one writer batch costs one commit.
				select {
				case d := <-in:
					batch = append(batch, d.Item)
					open = d.midBatch
				case <-rest:
					// Not expected for a committed batch; never stall on it.
					open = false
				case <-ctx.Done():
					return nil
				}
				continue
			}
			select {
			case d := <-in:
				batch = append(batch, d.Item)
				open = d.midBatch
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

// batchRestWait bounds the wait for the rest of an atomic batch. The rest
// of a committed batch is already stored, so it normally arrives within
// microseconds; the bound only keeps an unexpected stream (a batch whose
// commit never comes) from stalling the read models.
const batchRestWait = time.Second

// delivered is an event as the runner receives it.
type delivered struct {
	ledger.Item
	// midBatch is true when the event belongs to an atomic batch whose
	// last event is still to come.
	midBatch bool
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
