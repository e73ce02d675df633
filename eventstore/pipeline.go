package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/factstore/factstore/ledger"
)

// Pipelining. nats-server commits a stream's atomic batches one after the
// other at a fixed cost each, so with one batch in flight it sits idle
// while this process decides, seals and projects the next. With
// MaxInFlight > 1 the writer publishes batch N+1 (decided against the
// state including N, chained on N's last hash, expecting N's last
// sequence) before N is acknowledged.
//
// That is safe only when nothing else appends to the stream: if N failed
// and another writer appended exactly as many events, N+1's expected
// sequence would match and it would land with a wrong prev hash. The
// embedded server refuses outside writers, so a node on it is the only
// writer; against a shared cluster MaxInFlight stays 1. A failed batch
// dooms every batch after it (their expected sequences cannot match); the
// writer waits for all their answers before it decides again, so none can
// land later on top of the retry.

// flight is a batch published and not yet acknowledged.
type flight struct {
	batch    []*pending // the requests this flight completes, in order
	drafts   []ledger.Draft
	sealed   []ledger.Sealed
	owners   []*pending
	mark     int               // the state before this flight was decided
	prevHead ledger.ChainState // the head before this flight
	start    time.Time
	// prep is when its last part began to be decided; a streamed batch
	// (streamed.go) is decided over its collection, the rest at start.
	prep time.Time
	// streamed is set on a batch published while it was collected: the
	// server staged most of it before its commit.
	streamed bool
	pub      time.Time // when it was published
	reply    string
	ack      *nats.Msg
	ackAt    time.Time // when its answer arrived
	// expectDone is when the server is expected to have stored it.
	expectDone time.Time
	err        error // a publish error, known before any answer
	deadline   time.Time
}

// pipelineLoop is loop with up to MaxInFlight batches in flight.
func (w *Writer) pipelineLoop() {
	defer w.wg.Done()
	inbox := nats.NewInbox()
	acks := make(chan *nats.Msg, 4096)
	sub, err := w.cfg.Conn.ChanSubscribe(inbox+".*", acks)
	if err != nil {
		w.setBroken(fmt.Errorf("%w: subscribe for acknowledgements: %w", ErrUnavailable, err))
		w.loopOnce()
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	var inflight []*flight
	var retry []*pending
	var held []*pending // requests waiting for the server to be nearly free
	var holdUntil time.Time
	var pace pacer
	byReply := map[string]*flight{}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	n := 0
	lastBatch := 0
	send := func(batch []*pending) {
		inflight = w.sendAll(batch, inflight, byReply, inbox, &n)
		for _, f := range inflight {
			if f.pub.IsZero() {
				pace.published(f, inflight, time.Now())
			}
		}
	}
	for {
		wake := time.Hour
		if len(inflight) > 0 {
			wake = time.Until(inflight[0].deadline)
			if inflight[0].err != nil || inflight[0].ack != nil {
				wake = 0 // settled at once (nothing was published)
			}
		}
		if len(held) > 0 && len(inflight) < w.cfg.MaxInFlight {
			wake = min(wake, time.Until(holdUntil))
		}
		timer.Reset(max(wake, 0))
		var reqs chan *pending
		if len(retry) == 0 && len(held) < w.cfg.MaxBatchEvents {
			reqs = w.reqs
		}
		if len(retry) > 0 && len(inflight) == 0 {
			batch := append(retry, held...)
			retry, held = nil, nil
			send(batch)
			continue
		}
		select {
		case first := <-reqs:
			if len(inflight) == 0 && len(held) == 0 {
				batch := w.drain([]*pending{first})
				if !w.lingers(batch, lastBatch) {
					lastBatch = len(batch)
					send(batch)
					break
				}
				// The server is idle: stream the batch while collecting it.
				f, rest := w.streamBatch(batch, inbox, &n)
				lastBatch = len(f.batch) + len(rest)
				if f.reply != "" {
					byReply[f.reply] = f
				}
				inflight = append(inflight, f)
				pace.published(f, inflight, time.Now())
				if len(rest) > 0 {
					held = rest
					holdUntil = pace.holdUntil(inflight)
				}
				break
			}
			// The server is busy with what is in flight: hold the
			// request, so that the next batch takes everything that
			// arrives until the server is nearly free.
			if len(held) == 0 {
				holdUntil = pace.holdUntil(inflight)
			}
			held = w.drain(append(held, first))
		case m := <-acks:
			if f, ok := byReply[m.Subject]; ok {
				f.ack = m
				f.ackAt = time.Now()
			}
		case <-timer.C:
		case <-w.quit:
			// Let what is in flight finish, then refuse the rest.
			for len(inflight) > 0 {
				w.awaitFront(inflight[0], byReply, acks)
				var more []*pending
				inflight, more = w.settle(inflight, byReply, acks, true)
				retry = append(retry, more...)
			}
			for _, p := range append(retry, held...) {
				p.err = ErrClosed
				close(p.done)
			}
			w.drainClosed()
			return
		}
		for len(inflight) > 0 && (inflight[0].ack != nil || inflight[0].err != nil || !time.Now().Before(inflight[0].deadline)) {
			pace.settled(inflight[0])
			var more []*pending
			inflight, more = w.settle(inflight, byReply, acks, false)
			retry = append(retry, more...)
		}
		if len(held) > 0 && len(retry) == 0 && len(inflight) < w.cfg.MaxInFlight &&
			(len(inflight) == 0 || len(held) >= w.cfg.MaxBatchEvents || !time.Now().Before(holdUntil)) {
			batch := held
			held = nil
			lastBatch = len(batch)
			send(batch)
		}
	}
}

// awaitFront waits for the answer to f until its deadline.
func (w *Writer) awaitFront(f *flight, byReply map[string]*flight, acks chan *nats.Msg) {
	for f.ack == nil && f.err == nil && time.Now().Before(f.deadline) {
		select {
		case m := <-acks:
			if g, ok := byReply[m.Subject]; ok {
				g.ack = m
			}
		case <-time.After(time.Until(f.deadline)):
		}
	}
}

// loopOnce serves requests one batch at a time (the fallback).
func (w *Writer) loopOnce() {
	w.wg.Add(1)
	w.loop()
}

func (w *Writer) setBroken(err error) {
	w.mu.Lock()
	w.broken = err
	w.mu.Unlock()
	w.cfg.Logger.Error("writer stopped appending", "err", err)
}

// sendAll decides and publishes batch as one or more flights.
func (w *Writer) sendAll(batch []*pending, inflight []*flight, byReply map[string]*flight, inbox string, n *int) []*flight {
	for len(batch) > 0 {
		f, used := w.send(batch, inbox, n)
		batch = batch[used:]
		if f == nil {
			continue
		}
		if f.reply != "" {
			byReply[f.reply] = f
		}
		inflight = append(inflight, f)
	}
	return inflight
}

// send decides a prefix of batch and publishes it without waiting. It
// returns the flight (nil when it completed at once) and how many
// requests it took.
func (w *Writer) send(batch []*pending, inbox string, n *int) (*flight, int) {
	if err := w.Broken(); err != nil {
		for _, p := range batch {
			p.err = err
		}
		return &flight{batch: batch, err: errSettled, deadline: time.Now()}, len(batch)
	}
	mark := w.state.Mark()
	start := time.Now()
	drafts, owners, used, redo := w.decide(batch, batchUse{})
	for redo > 0 {
		w.state.Rollback(mark)
		drafts, owners, used, redo = w.decide(batch[:redo], batchUse{})
	}
	f := &flight{batch: batch[:used], owners: owners, drafts: drafts, mark: mark, prevHead: w.head, start: start,
		deadline: time.Now().Add(w.cfg.PublishTimeout)}
	w.trackKeys(f.batch)
	if len(drafts) == 0 {
		// Nothing to publish; it completes in order behind what is in flight.
		f.err = errSettled
		return f, used
	}
	expectLast := w.head.NextSeq - 1
	f.sealed = w.sealAhead(drafts)
	*n++
	f.reply = inbox + "." + strconv.Itoa(*n)
	if err := w.publishAsync(drafts, f.sealed, expectLast, f.reply); err != nil {
		f.err = err
	} else if w.cfg.Staged != nil {
		w.cfg.Staged(f.sealed)
	}
	return f, used
}

// sealAhead seals drafts on the head and moves the head past them before
// they are acknowledged, so the next batch chains on them; a failed flight
// puts the head back (settle).
func (w *Writer) sealAhead(drafts []ledger.Draft) []ledger.Sealed {
	// The hash chain is sequential; the signatures are spread over the CPUs.
	return w.chainAhead(drafts).Sign(runtime.GOMAXPROCS(0))
}

// chainAhead places drafts on the head and moves the head past it, as
// sealAhead does, leaving the signatures to be made elsewhere.
func (w *Writer) chainAhead(drafts []ledger.Draft) *ledger.Chained {
	c := w.cfg.Signer.Chain(drafts, w.head.NextSeq, w.head.PrevHash)
	seq, hash := c.Last()
	w.head = ledger.ChainState{NextSeq: seq + 1, PrevHash: hash}
	return c
}

// trackKeys notes the idempotency keys of decided requests whose events
// are about to be published, so a repeat decided before the answer follows
// the first instead of appending again.
func (w *Writer) trackKeys(batch []*pending) {
	for _, p := range batch {
		if p.req.IdempotencyKey != "" && !p.req.DryRun && p.follow == nil && p.replay == nil && p.err == nil {
			w.inflightKeys[p.req.IdempotencyKey] = p
		}
	}
}

// errSettled marks a flight that needs no answer (nothing was published).
var errSettled = errors.New("settled")

// publishAsync publishes an atomic batch whose commit's answer goes to reply.
func (w *Writer) publishAsync(drafts []ledger.Draft, sealed []ledger.Sealed, expectLast uint64, reply string) error {
	msgs := batchMsgs(drafts, sealed, expectLast)
	msgs[len(msgs)-1].Reply = reply
	for _, m := range msgs {
		if err := w.cfg.Conn.PublishMsg(m); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	return nil
}

// ackResult reads a commit's answer.
func ackResult(m *nats.Msg, wantSeq uint64) error {
	var ack pubAck
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return fmt.Errorf("publish: bad ack %q: %w", m.Data, err)
	}
	if ack.Error != nil {
		if ack.Error.ErrCode == jsErrWrongLastSequence {
			return errWrongLastSeq
		}
		return fmt.Errorf("publish: %w: %s (code %d)", errRefused, ack.Error.Description, ack.Error.ErrCode)
	}
	if ack.Seq != wantSeq {
		return fmt.Errorf("publish: stored at %d, sealed for %d", ack.Seq, wantSeq)
	}
	return nil
}

// outcome is the result of the front flight: nil when stored.
func (w *Writer) outcome(f *flight) error {
	if errors.Is(f.err, errSettled) {
		return nil
	}
	err := f.err
	if err == nil && f.ack == nil {
		err = fmt.Errorf("publish: no acknowledgement within %s", w.cfg.PublishTimeout)
	}
	if err == nil {
		err = ackResult(f.ack, f.sealed[len(f.sealed)-1].Seq)
	}
	if err != nil && !errors.Is(err, errWrongLastSeq) {
		if landed, lerr := w.landed(context.Background(), f.drafts, f.sealed); lerr == nil && landed {
			return nil
		}
	}
	return err
}

// settle completes the front flight. On success its requests are
// answered; on failure every flight is torn down: their answers are
// awaited, the state and head go back to before the front, the front's
// requests fail (or, when another writer appended first, are retried after
// catching up) and the others are returned to be decided again.
func (w *Writer) settle(inflight []*flight, byReply map[string]*flight, acks chan *nats.Msg, closing bool) ([]*flight, []*pending) {
	f := inflight[0]
	err := w.outcome(f)
	delete(byReply, f.reply)
	if err == nil {
		w.retries = 0
		w.complete(f, inflight[1:])
		return inflight[1:], nil
	}
	// Wait for every later flight's answer: none may land on top of what
	// is decided next.
	for _, g := range inflight[1:] {
		for g.err == nil && g.ack == nil {
			select {
			case m := <-acks:
				if h, ok := byReply[m.Subject]; ok {
					h.ack = m
				}
			case <-time.After(time.Until(g.deadline)):
				w.setBroken(fmt.Errorf("%w: a pipelined batch's outcome is unknown after %s; restart to catch up", ErrChainBroken, w.cfg.PublishTimeout))
				g.err = errSettled
			}
		}
		delete(byReply, g.reply)
		if g.err == nil && ackResult(g.ack, g.sealed[len(g.sealed)-1].Seq) == nil {
			w.setBroken(fmt.Errorf("%w: batch %d landed although the batch before it failed", ErrChainBroken, g.sealed[0].Seq))
		}
	}
	w.state.Rollback(f.mark)
	w.head = f.prevHead
	var front, rest []*pending
	for i, g := range inflight {
		for _, p := range g.batch {
			delete(w.inflightKeys, p.req.IdempotencyKey)
			p.res, p.err, p.follow, p.replay = Result{}, nil, nil, nil
			if i == 0 {
				front = append(front, p)
			} else {
				rest = append(rest, p)
			}
		}
	}
	if errors.Is(err, errWrongLastSeq) && !closing && w.retries < 100 {
		// Another writer appended first: catch up and decide again.
		w.retries++
		cerr := w.catchUp(context.Background())
		if cerr == nil {
			return nil, append(front, rest...)
		}
		err = cerr
	}
	if errors.Is(err, errRefused) && !closing && splitRefused(f.owners) {
		// Refused: its requests are tried one by one, before the rest.
		return nil, append(front, rest...)
	}
	w.cfg.Logger.Error("append failed", "err", err, "events", len(f.sealed))
	for _, p := range front {
		p.err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		close(p.done)
	}
	return nil, rest
}

// complete answers a stored flight's requests and makes its events the
// committed state (the journal of later flights stays).
func (w *Writer) complete(f *flight, later []*flight) {
	if len(f.sealed) > 0 {
		w.sealedMu.Lock()
		for _, s := range f.sealed {
			w.sealed[s.Seq%sealedRing] = sealedRef{seq: s.Seq, hash: s.Hash, sig: s.Sig}
		}
		w.sealedMu.Unlock()
		last := f.sealed[len(f.sealed)-1].Seq
		w.mu.Lock()
		w.pubSeq = last
		w.mu.Unlock()
		for i, d := range f.drafts {
			f.owners[i].res.Events[indexIn(f.owners[i], d.ID)].Seq = f.sealed[i].Seq
			if id, perr := uuid.Parse(d.ID); perr == nil && id.Version() == 5 {
				w.idem[d.ID] = f.sealed[i].Seq
			}
		}
		if w.cfg.ObserveAppend != nil {
			w.cfg.ObserveAppend(len(f.sealed), time.Since(f.start))
		}
	}
	if len(later) > 0 {
		w.state.CommitTo(later[0].mark)
	} else {
		w.state.Commit()
	}
	w.released += len(f.batch)
	for _, p := range f.batch {
		if w.inflightKeys[p.req.IdempotencyKey] == p {
			delete(w.inflightKeys, p.req.IdempotencyKey)
		}
		if p.follow != nil {
			p.res, p.err, p.replay = p.follow.res, p.follow.err, p.follow.replay
			p.res.Replayed = true
		}
		p.res.StateSeq = w.pubSeq
		close(p.done)
	}
}
