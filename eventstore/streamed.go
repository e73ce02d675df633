package eventstore

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/ledger"
)

// Streaming a batch. A single-node (R1, file) stream stages every atomic
// batch in a store of its own, created when the batch's first message
// arrives; creating it (a directory, metadata written and synced) is about
// a third of what the server spends on a batch. When the server is idle
// while the writer collects a batch, the writer publishes the requests as
// they arrive, each part decided, sealed and published at once: the server
// creates the staging store and stages the first messages during the
// collection, and only the commit is left when it ends. The last message
// is always held back to carry the commit, so staging starts with the
// second request (microseconds after the first under load), and every
// message on the events subjects stays an envelope: no end-of-batch marker
// (Nats-Batch-Commit: eob) is needed. Until the commit arrives nothing is
// stored: a batch the writer abandons (a failed publish, a crash) is
// discarded by the server.

// A streamed batch waits longer for requests than one collected before it
// is published: the server stages what arrived meanwhile, and the commit
// costs the same however long it waited. It ends when as many requests
// arrived as the writer answered since the previous streamed batch began
// (closed-loop callers coming back), when none arrived for streamIdleGap
// (see idleGap), or after streamDelayFactor times MaxBatchDelay. Measured
// with 32 HTTP clients: 32 HTTP requests take 2-3 ms to arrive, and with
// the shorter limits of a collected batch the clients split into groups
// that each pay the commit's fixed cost.
const (
	streamIdleGap     = 2 * batchIdleGap
	streamDelayFactor = 4
)

// idleGap is how long a streamed batch holding n requests waits for the
// next when expect callers may come back: three times streamIdleGap while
// fewer than half of them are in. Closed-loop callers do not come back
// evenly; one that answers early would otherwise end a batch alone, and
// the rest, held behind it, split into groups that take cycles to merge.
func idleGap(n, expect int) time.Duration {
	if 2*n < expect {
		return 3 * streamIdleGap
	}
	return streamIdleGap
}

// nextArrival waits up to idle (and never past deadline) for the next
// request and drains what queued behind it. It returns nil when none
// came or the writer is closing.
func (w *Writer) nextArrival(t *time.Timer, deadline time.Time, idle time.Duration) []*pending {
	gap := min(idle, time.Until(deadline))
	if gap <= 0 {
		return nil
	}
	t.Reset(gap)
	select {
	case p := <-w.reqs:
		return w.drain([]*pending{p})
	case <-t.C:
		return nil
	case <-w.quit:
		return nil
	}
}

// streamChunk is how many requests the writer decides at a time while it
// streams a batch. The requests of a closed-loop round arrive faster than
// they are decided and signed, so most of a batch queues up while its
// first part is handled; deciding it in chunks lets the signing of one
// overlap the deciding of the next (partSealer), where a whole queue
// decided at once was signed only after the last request was decided.
const streamChunk = 8

// streamBatch publishes one atomic batch while collecting it, starting
// with batch and taking what arrives until the expected callers came back,
// none came for the idle gap (idleGap), the delay limit passed or the
// batch is full. It returns the flight (its commit published, unless err is set)
// and the requests of the last part that did not fit.
func (w *Writer) streamBatch(batch []*pending, inbox string, n *int) (*flight, []*pending) {
	now := time.Now()
	f := &flight{mark: w.state.Mark(), prevHead: w.head, start: now, prep: now, streamed: true}
	s := streamed{id: uuid.NewString(), expectLast: w.head.NextSeq - 1}
	deadline := now.Add(streamDelayFactor * w.cfg.MaxBatchDelay)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	sl := newPartSealer(w.cfg.Conn, &s)
	end := func(rest []*pending) (*flight, []*pending) {
		f.sealed, f.err = sl.wait()
		return w.commitStreamed(f, &s, inbox, n), rest
	}
	var use batchUse
	expect := w.released
	w.released = 0
	for part := batch; len(part) > 0; part = w.nextArrival(t, deadline, idleGap(len(f.batch), expect)) {
		for off := 0; off < len(part); {
			chunk := part[off:min(off+streamChunk, len(part))]
			backlog := off+len(chunk) < len(part) || len(w.reqs) > 0
			used := w.streamPart(f, chunk, &use, sl, backlog)
			off += used
			if used < len(chunk) {
				return end(part[off:])
			}
		}
		if sl.failed.Load() || use.events >= w.cfg.MaxBatchEvents || soloIn(part) ||
			(expect > 1 && len(f.batch) >= expect && len(w.reqs) == 0) {
			break
		}
	}
	return end(nil)
}

// streamPart decides chunk after what the batch holds (use), places its
// events on the chain and has sl sign and publish them (see
// partSealer.seal for backlog). It returns how many of the requests the
// batch took.
func (w *Writer) streamPart(f *flight, chunk []*pending, use *batchUse, sl *partSealer, backlog bool) int {
	f.prep = time.Now()
	mark := w.state.Mark()
	drafts, owners, used, redo := w.decide(chunk, *use)
	for redo > 0 {
		w.state.Rollback(mark)
		drafts, owners, used, redo = w.decide(chunk[:redo], *use)
	}
	if used == 0 {
		w.state.Rollback(mark)
	}
	f.batch = append(f.batch, chunk[:used]...)
	w.trackKeys(chunk[:used])
	if len(drafts) > 0 {
		c := w.chainAhead(drafts)
		f.drafts = append(f.drafts, drafts...)
		f.owners = append(f.owners, owners...)
		use.events += len(drafts)
		for _, d := range drafts {
			use.bytes += d.Size()
		}
		sl.seal(c, drafts, backlog)
	}
	return used
}

// partSealer signs and publishes the parts of a streamed batch, in order.
// When requests queue up faster than the writer decides them (a burst of
// closed-loop callers), it does so while the writer decides the next part:
// one goroutine signs each part (on every CPU), another publishes what is
// signed, so that signing a part also overlaps publishing the one before.
// When they trickle in (HTTP clients, spread over milliseconds), the
// writer signs and publishes each part itself: there is nothing to overlap,
// and on a busy machine the hand-offs only made the commit wait for the
// sealer's goroutines to be scheduled.
type partSealer struct {
	nc      *nats.Conn
	s       *streamed
	jobs    chan sealJob
	signed  chan signedPart
	done    chan struct{}
	failed  atomic.Bool  // a publish failed; the batch takes no more
	pending atomic.Int64 // parts queued and not yet published
	// Written by the publishing goroutine, or by the caller while pending
	// is 0; read after done.
	sealed []ledger.Sealed
	err    error
}

type sealJob struct {
	chain  *ledger.Chained
	drafts []ledger.Draft
}

type signedPart struct {
	drafts []ledger.Draft
	sealed []ledger.Sealed
}

func newPartSealer(nc *nats.Conn, s *streamed) *partSealer {
	sl := &partSealer{nc: nc, s: s, jobs: make(chan sealJob, 16), signed: make(chan signedPart, 16), done: make(chan struct{})}
	go sl.sign()
	go sl.publish()
	return sl
}

func (sl *partSealer) sign() {
	defer close(sl.signed)
	for j := range sl.jobs {
		sl.signed <- signedPart{drafts: j.drafts, sealed: j.chain.Sign(runtime.GOMAXPROCS(0))}
	}
}

func (sl *partSealer) publish() {
	defer close(sl.done)
	for p := range sl.signed {
		sl.put(p.sealed, p.drafts)
		sl.pending.Add(-1)
	}
}

// seal signs and publishes a part placed on the chain: on the sealer's
// goroutines when more requests wait to be decided (backlog) or earlier
// parts are still being sealed, else on the caller's goroutine.
func (sl *partSealer) seal(c *ledger.Chained, drafts []ledger.Draft, backlog bool) {
	if backlog || sl.pending.Load() > 0 {
		sl.pending.Add(1)
		sl.jobs <- sealJob{chain: c, drafts: drafts}
		return
	}
	// The goroutines are idle (pending is 0 after the publisher's last
	// append), so the caller may append and publish here.
	sl.put(c.Sign(runtime.GOMAXPROCS(0)), drafts)
}

// put records a signed part and publishes it, unless a publish failed.
func (sl *partSealer) put(sealed []ledger.Sealed, drafts []ledger.Draft) {
	sl.sealed = append(sl.sealed, sealed...)
	if sl.err == nil {
		if err := sl.s.publish(sl.nc, drafts, sealed); err != nil {
			sl.err = err
			sl.failed.Store(true)
		}
	}
}

// wait returns every part sealed, once all are published (all but the
// last message: it carries the commit), and the first publish error.
func (sl *partSealer) wait() ([]ledger.Sealed, error) {
	close(sl.jobs)
	<-sl.done
	return sl.sealed, sl.err
}

// soloIn reports whether a request of part must be alone in its batch.
func soloIn(part []*pending) bool {
	for _, p := range part {
		if p.solo {
			return true
		}
	}
	return false
}

// commitStreamed ends a streamed batch: it publishes the commit, or marks
// the flight settled when nothing was published.
func (w *Writer) commitStreamed(f *flight, s *streamed, inbox string, n *int) *flight {
	f.deadline = time.Now().Add(w.cfg.PublishTimeout)
	if len(f.sealed) == 0 {
		f.err = errSettled
		return f
	}
	if f.err != nil {
		return f
	}
	*n++
	f.reply = inbox + "." + strconv.Itoa(*n)
	f.err = s.commit(w.cfg.Conn, f.reply)
	if f.err == nil && w.cfg.Staged != nil {
		w.cfg.Staged(f.sealed)
	}
	return f
}

// streamed is the publishing state of a batch being streamed.
type streamed struct {
	id         string
	expectLast uint64
	sent       int       // messages numbered so far
	held       *nats.Msg // the last message, not yet published
}

// publish sends sealed events as the batch's next messages, holding the
// last one back to carry the commit.
func (s *streamed) publish(nc *nats.Conn, drafts []ledger.Draft, sealed []ledger.Sealed) error {
	for i := range sealed {
		s.sent++
		m := eventMsg(drafts[i], sealed[i], s.id, s.sent)
		if s.sent == 1 {
			m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(s.expectLast, 10))
		}
		if s.held != nil {
			if err := nc.PublishMsg(s.held); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
		}
		s.held = m
	}
	return nil
}

// commit publishes the held-back last message as the batch's commit, with
// reply as its answer's subject. A batch of one event, never published,
// goes out as a plain message, as batchMsgs sends it: an atomic batch of
// one would cost the server a staging store for nothing.
func (s *streamed) commit(nc *nats.Conn, reply string) error {
	m := s.held
	if s.sent == 1 {
		m.Header.Del(HeaderBatchID)
		m.Header.Del(HeaderBatchSequence)
	} else {
		m.Header.Set(HeaderBatchCommit, "1")
	}
	m.Reply = reply
	if err := nc.PublishMsg(m); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}
