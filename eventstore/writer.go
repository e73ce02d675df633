package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

var (
	// ErrUnavailable means the stream could not store the events; the
	// outcome is known to be "not stored" and the caller may retry.
	ErrUnavailable = errors.New("eventstore: ledger unavailable")
	// ErrChainBroken means the stored chain failed verification; the writer
	// refuses to extend a broken chain.
	ErrChainBroken = errors.New("eventstore: hash chain broken, writes refused")
	// ErrClosed means the writer has shut down.
	ErrClosed = errors.New("eventstore: writer closed")
	// errWrongLastSeq means another writer appended first.
	errWrongLastSeq = errors.New("eventstore: wrong last sequence")
)

// jsErrWrongLastSequence is JetStream's error code for a failed
// Nats-Expected-Last-Sequence check.
const jsErrWrongLastSequence = 10071

// batchIdleGap ends the collection of a batch when no request arrives for
// this long (see WriterConfig.MaxBatchDelay).
const batchIdleGap = 250 * time.Microsecond

// maxAtomicBatch is JetStream's limit on the messages of one atomic batch.
const maxAtomicBatch = 1000

// idempotencyNS namespaces event ids derived from idempotency keys.
var idempotencyNS = uuid.MustParse("6f3f3b1e-8c1f-4d5e-9a52-2f1d6b0c9e11")

// WriterConfig configures a Writer. Conn, JS and Signer are required.
type WriterConfig struct {
	// Conn is the NATS connection batches are published on.
	Conn *nats.Conn
	// JS reads the stream when catching up.
	JS jetstream.JetStream
	// Stream is the ledger stream name (default DefaultStream).
	Stream string
	// Signer seals every event.
	Signer *ledger.Signer
	// Keys, if set, must have signed every stored event the writer catches
	// up with past Trusted; the writer refuses to extend a chain that holds
	// an event no trusted key signed.
	Keys *ledger.Keyring
	// Trusted is a checkpoint up to which the chain was already verified
	// (the read models' ledger.Checkpoint); only hashes and links are
	// re-checked up to it.
	Trusted ledger.Checkpoint
	// MaxBatchEvents caps one atomic batch (default 256; JetStream allows 1000).
	MaxBatchEvents int
	// MaxBatchBytes caps the bytes of one batch (default 8 MiB).
	MaxBatchBytes int
	// MaxBatchDelay is how long the writer keeps collecting requests for a
	// batch while it is under concurrent load (this or the previous batch
	// held more than one request). Every JetStream atomic batch has a fixed
	// cost (a staging store, its fsync and the commit's), so a batch of 64
	// costs little more than one of 32. Collecting stops early when no
	// request arrives for batchIdleGap. A lone request never waits. A
	// batch streamed to an idle server (streamed.go) collects for up to
	// four times as long: the server stages it meanwhile.
	// Default 1 ms; negative disables.
	MaxBatchDelay time.Duration
	// PublishTimeout bounds the wait for a PubAck (default 30 s).
	PublishTimeout time.Duration
	// MaxInFlight is how many batches may be published before the first
	// is acknowledged (default 1). More than 1 is safe only when this
	// writer is the stream's only appender (see pipeline.go).
	MaxInFlight int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ObserveAppend, if set, is told the size and duration of each stored batch.
	ObserveAppend func(events int, d time.Duration)
	// Staged, if set, is given the events of a pipelined batch once its
	// commit is published, before the server has stored them: the read
	// models prepare their writes while the server commits
	// (projections.Store.Stage). It must not block.
	Staged func(sealed []ledger.Sealed)
	// Logger receives operational messages (default slog.Default()).
	Logger *slog.Logger
}

func (c *WriterConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.MaxBatchEvents <= 0 || c.MaxBatchEvents > 1000 {
		c.MaxBatchEvents = 256
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 8 << 20
	}
	if c.MaxBatchDelay == 0 {
		c.MaxBatchDelay = time.Millisecond
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 30 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *WriterConfig) validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("conn is required"))
	}
	if c.JS == nil {
		errs = append(errs, errors.New("jetstream context is required"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("signer is required"))
	}
	return errors.Join(errs...)
}

// Request is one command to decide and append.
type Request struct {
	// Command decides the events.
	Command domain.Command
	// Actor is who caused the events.
	Actor string
	// IdempotencyKey, if set, makes the request idempotent: a later request
	// with the same key appends nothing and gets the first one's events. The
	// caller scopes it (by actor and route) so that keys of different clients
	// cannot collide.
	IdempotencyKey string
	// DryRun decides and validates but appends nothing.
	DryRun bool
}

// Appended is one event as stored (or, for a dry run, as it would be).
type Appended struct {
	Seq         uint64
	ID          string
	Type        string
	Org         string
	Aggregate   string
	AggregateID string
	Actor       string
	Time        time.Time
	Data        json.RawMessage
}

// Result is the outcome of a request.
type Result struct {
	// Events are the events the request appended, in order.
	Events []Appended
	// Replayed is true when the events were appended by an earlier request
	// with the same idempotency key.
	Replayed bool
	// StateSeq is the last ledger sequence stored when the request was
	// answered: its command was decided on the ledger up to it (or on less),
	// all of it durable. A command that appended nothing (an update that
	// changes nothing) has no sequence of its own, and a reader waits for
	// this one to see the state it was decided on.
	StateSeq uint64
}

// LastSeq is the sequence of the last event (0 if none).
func (r Result) LastSeq() uint64 {
	if len(r.Events) == 0 {
		return 0
	}
	return r.Events[len(r.Events)-1].Seq
}

type pending struct {
	req    Request
	done   chan struct{}
	res    Result
	err    error
	follow *pending // same idempotency key as an earlier request in the batch
	poison error    // an event of this request cannot be encoded
	replay []uint64 // seqs of an earlier request with the same key
	// solo asks for a batch of its own: a batch holding it was refused,
	// and each of its requests is tried alone so only the culprit fails.
	solo bool
}

// Writer is the single appender of a process. Submit is safe for concurrent
// use; all deciding, sealing and publishing happens on one goroutine.
type Writer struct {
	cfg     WriterConfig
	reader  *Reader
	reqs    chan *pending
	quit    chan struct{}
	stopped chan struct{} // closed once the loop has exited
	wg      sync.WaitGroup

	// Owned by the loop goroutine.
	state *domain.State
	head  ledger.ChainState
	idem  map[string]uint64
	// inflightKeys are the idempotency keys of requests published and not
	// yet acknowledged (pipelining), so a repeat follows the first.
	inflightKeys map[string]*pending
	retries      int
	// released counts the requests answered since the last streamed batch
	// began: the callers that may come back while the next one collects.
	released int

	sealedMu sync.RWMutex
	sealed   [sealedRing]sealedRef // recently sealed events, by seq % sealedRing

	mu     sync.RWMutex // guards pub*
	pubSeq uint64
	broken error
}

// NewWriter catches up with the stream (folding every stored event into the
// domain state and checking the chain) and starts the append loop.
func NewWriter(ctx context.Context, cfg WriterConfig) (*Writer, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("eventstore: writer config: %w", err)
	}
	w := &Writer{
		cfg:    cfg,
		reader: NewReader(cfg.JS, cfg.Stream),
		reqs:   make(chan *pending, 4096),
		quit:   make(chan struct{}),

		stopped: make(chan struct{}),
		state:   domain.NewState(),
		head:    ledger.Genesis(),
		idem:    map[string]uint64{},

		inflightKeys: map[string]*pending{},
	}
	if err := w.catchUp(ctx); err != nil {
		return nil, err
	}
	w.wg.Add(1)
	if cfg.MaxInFlight > 1 {
		go w.pipelineLoop()
	} else {
		go w.loop()
	}
	return w, nil
}

// Close stops the loop; pending requests fail with ErrClosed.
func (w *Writer) Close() {
	close(w.quit)
	w.wg.Wait()
	close(w.stopped)
}

// sealedRing is how many recently sealed events the writer remembers for
// the read models, which then need not re-verify their own node's signatures.
const sealedRing = 1 << 15

type sealedRef struct {
	seq       uint64
	hash, sig string
}

// SealedAt reports the hash and signature this writer sealed at seq, if it
// still remembers them (a ledger.SealedFunc for the read models).
func (w *Writer) SealedAt(seq uint64) (hash, sig string, ok bool) {
	w.sealedMu.RLock()
	defer w.sealedMu.RUnlock()
	r := w.sealed[seq%sealedRing]
	if r.seq != seq || seq == 0 {
		return "", "", false
	}
	return r.hash, r.sig, true
}

// Head returns the last sequence this writer knows to be stored.
func (w *Writer) Head() uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.pubSeq
}

// Broken returns the chain failure that stopped writes, if any.
func (w *Writer) Broken() error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.broken
}

// Submit decides req and appends its events. It returns only after
// JetStream has acknowledged (and, with SyncAlways, fsynced) them. An error
// wrapping ErrUnavailable after a timeout means the outcome is unknown; the
// caller should retry with the same idempotency key.
func (w *Writer) Submit(ctx context.Context, req Request) (Result, error) {
	p := &pending{req: req, done: make(chan struct{})}
	select {
	case w.reqs <- p:
	case <-w.quit:
		return Result{}, ErrClosed
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	select {
	case <-p.done:
	case <-w.stopped:
		// The loop has exited; a request it took was answered before.
		select {
		case <-p.done:
		default:
			return Result{}, ErrClosed
		}
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	if p.err != nil {
		return Result{}, p.err
	}
	if p.replay != nil {
		return w.fetch(ctx, p.replay)
	}
	return p.res, nil
}

// fetch rebuilds a replayed result from the stored events.
func (w *Writer) fetch(ctx context.Context, seqs []uint64) (Result, error) {
	res := Result{Replayed: true}
	for _, s := range seqs {
		raw, err := w.reader.Get(ctx, s)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		e, err := ledger.Decode(raw)
		if err != nil {
			return Result{}, fmt.Errorf("eventstore: replay %d: %w", s, err)
		}
		res.Events = append(res.Events, appendedFrom(e))
	}
	return res, nil
}

func appendedFrom(e *ledger.Envelope) Appended {
	return Appended{Seq: e.Seq, ID: e.ID, Type: e.Type, Org: e.Org, Aggregate: e.Aggregate,
		AggregateID: e.AggregateID, Actor: e.Actor, Time: e.OccurredAt(), Data: e.Data}
}

// Recorded converts an envelope into the domain's view of a stored event.
func Recorded(e *ledger.Envelope) domain.Recorded {
	return domain.Recorded{Seq: e.Seq, ID: e.ID, Type: e.Type, Org: e.Org, Aggregate: e.Aggregate,
		AggregateID: e.AggregateID, Actor: e.Actor, Time: e.OccurredAt(), Data: e.Data}
}

// newV7 returns a time-ordered UUID (RFC 9562 version 7).
func newV7() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func idemEventID(key string, i int) string {
	return uuid.NewSHA1(idempotencyNS, []byte(key+"\x00"+strconv.Itoa(i))).String()
}

// catchUp folds the stream from the writer's head to the stream's end,
// verifying each event (signatures past the trusted checkpoint) first.
func (w *Writer) catchUp(ctx context.Context) error {
	src, stop, err := w.reader.Range(ctx, w.head.NextSeq, 0)
	if err != nil {
		return err
	}
	defer stop()
	checker := ledger.Checker{Keys: w.cfg.Keys, Trusted: w.cfg.Trusted}
	items := make([]ledger.Item, 0, 512)
	for done := false; !done; {
		items = items[:0]
		for len(items) < cap(items) {
			it, rerr := src(ctx)
			if errors.Is(rerr, io.EOF) {
				done = true
				break
			}
			if rerr != nil {
				return rerr
			}
			items = append(items, it)
		}
		envs, cerr := checker.Check(&w.head, items)
		for _, e := range envs {
			if err := w.state.Apply(Recorded(e)); err != nil {
				return err
			}
			w.state.Commit()
			if id, perr := uuid.Parse(e.ID); perr == nil && id.Version() == 5 {
				w.idem[e.ID] = e.Seq
			}
		}
		if cerr != nil {
			w.mu.Lock()
			w.broken = fmt.Errorf("%w: %w", ErrChainBroken, cerr)
			w.mu.Unlock()
			w.cfg.Logger.Error("ledger chain broken; writes refused", "err", cerr)
			break
		}
	}
	w.mu.Lock()
	w.pubSeq = w.head.NextSeq - 1
	w.mu.Unlock()
	return nil
}

func (w *Writer) loop() {
	defer w.wg.Done()
	lastBatch := 0
	for {
		var first *pending
		select {
		case first = <-w.reqs:
		case <-w.quit:
			w.drainClosed()
			return
		}
		batch := w.collect(first, lastBatch)
		lastBatch = len(batch)
		for len(batch) > 0 {
			n := w.process(batch)
			batch = batch[n:]
		}
	}
}

// collect gathers a batch starting with first: what is queued, then (under
// concurrent load, judged by this and the previous batch) what keeps
// arriving for up to MaxBatchDelay.
func (w *Writer) collect(first *pending, lastBatch int) []*pending {
	batch := w.drain([]*pending{first})
	if w.lingers(batch, lastBatch) {
		batch = w.linger(batch)
	}
	return batch
}

// lingers reports whether the writer keeps collecting after batch: under
// concurrent load, judged by this and the previous batch. A lone request
// never waits.
func (w *Writer) lingers(batch []*pending, lastBatch int) bool {
	return w.cfg.MaxBatchDelay > 0 && (len(batch) > 1 || lastBatch > 1)
}

// drain adds the requests already queued to batch, up to MaxBatchEvents,
// without waiting.
func (w *Writer) drain(batch []*pending) []*pending {
	for len(batch) < w.cfg.MaxBatchEvents {
		select {
		case p := <-w.reqs:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// linger adds requests to batch while they keep arriving, for at most
// MaxBatchDelay. Without it, closed-loop callers split into two alternating
// half-size batches: the ones released by a batch resubmit just after the
// loop has taken everything queued.
func (w *Writer) linger(batch []*pending) []*pending {
	deadline := time.Now().Add(w.cfg.MaxBatchDelay)
	t := time.NewTimer(batchIdleGap)
	defer t.Stop()
	for len(batch) < w.cfg.MaxBatchEvents {
		select {
		case p := <-w.reqs:
			batch = append(batch, p)
			gap := min(batchIdleGap, time.Until(deadline))
			if gap <= 0 {
				return batch
			}
			t.Reset(gap)
		case <-t.C:
			return batch
		case <-w.quit:
			return batch
		}
	}
	return batch
}

func (w *Writer) drainClosed() {
	for {
		select {
		case p := <-w.reqs:
			p.err = ErrClosed
			close(p.done)
		default:
			return
		}
	}
}

// process decides a prefix of the batch's requests (as many as fit in one
// atomic batch), seals their events and publishes them, retrying after
// catching up if another writer appended first. It returns how many requests
// it completed.
func (w *Writer) process(batch []*pending) (n int) {
	n = len(batch)
	defer func() {
		for _, p := range batch[:n] {
			if p.follow != nil {
				p.res, p.err, p.replay = p.follow.res, p.follow.err, p.follow.replay
				p.res.Replayed = true
			}
			p.res.StateSeq = w.head.NextSeq - 1
			close(p.done)
		}
	}()
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		if err := w.Broken(); err != nil {
			for _, p := range batch {
				p.err = err
			}
			return len(batch)
		}
		mark := w.state.Mark()
		start := time.Now()
		var drafts []ledger.Draft
		var owners []*pending
		var redo int
		drafts, owners, n, redo = w.decide(batch, batchUse{})
		for redo > 0 {
			w.state.Rollback(mark)
			drafts, owners, n, redo = w.decide(batch[:redo], batchUse{})
		}
		if len(drafts) == 0 {
			w.state.Commit()
			return n
		}
		// The hash chain is sequential; the signatures are spread over the CPUs.
		sealed := w.cfg.Signer.SealAll(drafts, w.head.NextSeq, w.head.PrevHash, runtime.GOMAXPROCS(0))
		seq := w.head.NextSeq + uint64(len(sealed))
		prev := sealed[len(sealed)-1].Hash
		err := w.publish(drafts, sealed, w.head.NextSeq-1)
		if err != nil && !errors.Is(err, errWrongLastSeq) {
			// Unknown outcome: find out whether the batch landed.
			if landed, lerr := w.landed(ctx, drafts, sealed); lerr == nil && landed {
				err = nil
			}
		}
		if err == nil {
			w.sealedMu.Lock()
			for _, s := range sealed {
				w.sealed[s.Seq%sealedRing] = sealedRef{seq: s.Seq, hash: s.Hash, sig: s.Sig}
			}
			w.sealedMu.Unlock()
			w.state.Commit()
			w.head = ledger.ChainState{NextSeq: seq, PrevHash: prev}
			w.mu.Lock()
			w.pubSeq = seq - 1
			w.mu.Unlock()
			for i, d := range drafts {
				owners[i].res.Events[indexIn(owners[i], d.ID)].Seq = sealed[i].Seq
				if id, perr := uuid.Parse(d.ID); perr == nil && id.Version() == 5 {
					w.idem[d.ID] = sealed[i].Seq
				}
			}
			if w.cfg.ObserveAppend != nil {
				w.cfg.ObserveAppend(len(sealed), time.Since(start))
			}
			return n
		}
		w.state.Rollback(mark)
		for _, p := range batch[:n] {
			p.res, p.err, p.follow, p.replay = Result{}, nil, nil, nil
		}
		if errors.Is(err, errWrongLastSeq) && attempt < 100 {
			cerr := w.catchUp(ctx)
			if cerr == nil {
				continue
			}
			err = cerr
		}
		if errors.Is(err, errRefused) && splitRefused(owners) {
			// The server refused the batch: try its requests one by one,
			// so that only the one it refuses fails.
			return 0
		}
		w.cfg.Logger.Error("append failed", "err", err, "events", len(sealed))
		for _, p := range batch[:n] {
			p.err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return n
	}
}

func indexIn(p *pending, id string) int {
	for i, e := range p.res.Events {
		if e.ID == id {
			return i
		}
	}
	return 0
}

// decided is one event a command produced, waiting to be encoded.
type decided struct {
	p    *pending
	i    int // index in p.res.Events
	e    domain.Event
	data json.RawMessage
	d    ledger.Draft
	err  error
}

// decide runs the requests' commands against the state, applying the events
// tentatively so later requests in the batch see them, then encodes every
// event (canonical JSON and draft) on all CPUs. It stops when the batch is
// full and returns the drafts to publish, for each the request that owns
// it, and how many requests it decided. redo > 0 asks the caller to roll
// the state back and decide batch[:redo] again: the batch came out over
// the byte limit, or an event could not be encoded. held is what the batch
// already holds when its requests are decided in parts (streamBatch); the
// limits count it, and with it even the first request may be left out.
func (w *Writer) decide(batch []*pending, held batchUse) (drafts []ledger.Draft, owners []*pending, n, redo int) {
	now := w.cfg.Now().UTC()
	ts := ledger.FormatTime(now)
	keys := map[string]*pending{}
	var work []decided
	events := 0
	n = len(batch)
	for i, p := range batch {
		p.res, p.err, p.follow, p.replay = Result{}, nil, nil, nil
		if p.poison != nil {
			p.err = p.poison
			continue
		}
		if (i > 0 || held.events > 0) && (held.events+events >= w.cfg.MaxBatchEvents || p.solo) {
			n = i
			break
		}
		if k := p.req.IdempotencyKey; k != "" && !p.req.DryRun {
			if first, ok := keys[k]; ok {
				p.follow = first
				continue
			}
			if first, ok := w.inflightKeys[k]; ok && first != p {
				p.follow = first
				continue
			}
			keys[k] = p
			if seqs := w.replaySeqs(k); seqs != nil {
				p.replay = seqs
				continue
			}
		}
		evts, err := p.req.Command.Decide(w.state, now)
		if err != nil {
			p.err = err
			continue
		}
		if !p.req.DryRun && held.events+events+len(evts) > maxAtomicBatch {
			if held.events+events > 0 {
				// Not applied: decide it again at the head of the next batch.
				n = i
				break
			}
			p.err = domain.Invalid("events", "one command may append at most %d events", maxAtomicBatch)
			continue
		}
		p.res.Events = make([]Appended, len(evts))
		for j, e := range evts {
			// Time-ordered (v7) ids keep the read models' id indexes
			// append-mostly; idempotent requests use derived (v5) ids.
			id := newV7()
			if p.req.IdempotencyKey != "" && !p.req.DryRun {
				id = idemEventID(p.req.IdempotencyKey, j)
			}
			org := e.Org
			if org == "" {
				org = domain.NoOrg
			}
			p.res.Events[j] = Appended{ID: id, Type: e.Type, Org: org, Aggregate: e.Aggregate, AggregateID: e.AggregateID,
				Actor: p.req.Actor, Time: now}
			work = append(work, decided{p: p, i: j, e: e})
		}
		if p.req.DryRun {
			continue
		}
		events += len(evts)
		for _, e := range evts {
			w.state.ApplyEvent(e)
		}
		if p.solo {
			n = i + 1
			break
		}
	}
	// Encoding is the costly part (canonical JSON, ~25 µs an event); it
	// needs no state, so it runs in parallel.
	ledger.Parallel(len(work), 4, func(k int) {
		dw := &work[k]
		a := dw.p.res.Events[dw.i]
		dw.data, dw.err = ledger.CanonicalJSON(dw.e.Data)
		if dw.err != nil {
			dw.err = fmt.Errorf("eventstore: encode %s: %w", dw.e.Type, dw.err)
			return
		}
		// data is canonical already: build the envelope's canonical form
		// directly instead of re-encoding and re-parsing it.
		dw.d, dw.err = ledger.NewDraftCanonicalData(ledger.Envelope{ID: a.ID, Type: a.Type, Org: a.Org, Aggregate: a.Aggregate,
			AggregateID: a.AggregateID, Actor: a.Actor, Time: ts, Data: dw.data}, Subject(a.Org, a.Aggregate, a.Type))
	})
	size := held.bytes
	for k := range work {
		dw := &work[k]
		if dw.err != nil {
			dw.p.poison = dw.err
			return nil, nil, n, n
		}
		dw.p.res.Events[dw.i].Data = dw.data
		if dw.p.req.DryRun {
			continue
		}
		if size += dw.d.Size(); size > w.cfg.MaxBatchBytes && (len(drafts) > 0 || held.events > 0) && dw.i == 0 {
			// Over the byte limit: keep the commands before this one.
			for c, p := range batch {
				if p == dw.p {
					return nil, nil, c, c
				}
			}
		}
		drafts = append(drafts, dw.d)
		owners = append(owners, dw.p)
	}
	return drafts, owners, n, 0
}

func (w *Writer) replaySeqs(key string) []uint64 {
	var seqs []uint64
	for i := 0; ; i++ {
		s, ok := w.idem[idemEventID(key, i)]
		if !ok {
			return seqs
		}
		seqs = append(seqs, s)
	}
}

// batchUse is what a batch holds: its events and their bytes.
type batchUse struct{ events, bytes int }

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Error  *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// errRefused is the server refusing a batch (a definite answer, unlike a
// timeout).
var errRefused = errors.New("refused")

// splitRefused marks the requests of a refused batch to be tried alone; it
// reports false when the batch held a single request, which then fails.
func splitRefused(owners []*pending) bool {
	distinct := map[*pending]bool{}
	for _, p := range owners {
		distinct[p] = true
	}
	if len(distinct) < 2 {
		return false
	}
	for p := range distinct {
		p.solo = true
	}
	return true
}

// batchMsgs builds the messages that store sealed events: one message
// with an expected-last-seq check, or several as one atomic batch whose
// first message carries it and whose last commits it.
func batchMsgs(drafts []ledger.Draft, sealed []ledger.Sealed, expectLast uint64) []*nats.Msg {
	batchID := ""
	if len(sealed) > 1 {
		batchID = uuid.NewString()
	}
	msgs := make([]*nats.Msg, len(sealed))
	for i := range sealed {
		m := eventMsg(drafts[i], sealed[i], batchID, i+1)
		if i == 0 {
			m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(expectLast, 10))
		}
		if batchID != "" && i == len(sealed)-1 {
			m.Header.Set(HeaderBatchCommit, "1")
		}
		msgs[i] = m
	}
	return msgs
}

// eventMsg is the message that stores one sealed event: on its subject,
// with its id for JetStream's duplicate window and, when batchID is set,
// numbered n in that atomic batch.
func eventMsg(d ledger.Draft, s ledger.Sealed, batchID string, n int) *nats.Msg {
	m := nats.NewMsg(d.Subject)
	m.Data = s.Raw
	m.Header.Set(jetstream.MsgIDHeader, d.ID)
	if batchID != "" {
		m.Header.Set(HeaderBatchID, batchID)
		m.Header.Set(HeaderBatchSequence, strconv.Itoa(n))
	}
	return m
}

// publish stores the sealed events and waits for the commit's answer.
func (w *Writer) publish(drafts []ledger.Draft, sealed []ledger.Sealed, expectLast uint64) error {
	nc := w.cfg.Conn
	msgs := batchMsgs(drafts, sealed, expectLast)
	for i, m := range msgs {
		if i < len(msgs)-1 {
			if err := nc.PublishMsg(m); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			continue
		}
		resp, err := nc.RequestMsg(m, w.cfg.PublishTimeout)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return ackResult(resp, sealed[i].Seq)
	}
	return nil
}

// landed reports whether a batch whose publish outcome is unknown was stored.
func (w *Writer) landed(ctx context.Context, drafts []ledger.Draft, sealed []ledger.Sealed) (bool, error) {
	last := len(sealed) - 1
	raw, err := w.reader.Get(ctx, sealed[last].Seq)
	if err != nil {
		return false, err
	}
	e, err := ledger.Decode(raw)
	if err != nil {
		return false, err
	}
	return e.ID == drafts[last].ID && e.Hash == sealed[last].Hash, nil
}
