package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// ErrTampered is wrapped by every verification failure.
var ErrTampered = errors.New("ledger: chain verification failed")

// BrokenError reports the first event at which the chain does not hold.
type BrokenError struct {
	// Seq is the ledger position (stream sequence) of the first bad event.
	Seq uint64
	// ID is the event id found there, if it could be read.
	ID string
	// Reason says what failed, in words.
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("ledger: chain broken at sequence %d: %s", e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *BrokenError) Unwrap() error { return ErrTampered }

// Item is one stored message: its position in the stream and its bytes.
// Pos is 0 when the position is unknown (an export file), in which case the
// position is taken to be one after the previous item.
type Item struct {
	Pos uint64
	Raw []byte
}

// ChainState is where a chain check stands: the next position expected and
// the hash the next event's prev must equal.
type ChainState struct {
	NextSeq  uint64
	PrevHash string
}

// Genesis is the state before the first event.
func Genesis() ChainState { return ChainState{NextSeq: 1, PrevHash: ZeroHash} }

// checked is the per-event part of verification, which needs no neighbour
// and so runs in parallel.
type checked struct {
	env  *Envelope
	hash string
	err  error
}

// SealedFunc reports the hash and signature this process sealed at seq, if
// it remembers them.
type SealedFunc func(seq uint64) (hash, sig string, ok bool)

func checkOne(raw []byte, keys *Keyring) checked { return eventCheck{keys: keys}.one(raw) }

// eventCheck is the per-event check: hash always, signature with keys.
type eventCheck struct {
	keys *Keyring
	// sealed, if set, names events whose signature is not verified again:
	// their hash and signature are exactly ones this process sealed itself,
	// and equal hashes mean equal content.
	sealed SealedFunc
	// dataChecked: the caller checks that each event's data is well-formed
	// JSON (Checker.DataChecked).
	dataChecked bool
}

func (c eventCheck) one(raw []byte) checked {
	keys, sealed := c.keys, c.sealed
	e, err := decode(raw, c.dataChecked)
	if err != nil {
		return checked{env: e, err: err}
	}
	h, err := storedHash(raw, e)
	if err != nil {
		return checked{env: e, err: err}
	}
	if h != e.Hash {
		return checked{env: e, hash: h, err: fmt.Errorf("hash mismatch: content hashes to %s, envelope says %s", h, e.Hash)}
	}
	if keys != nil {
		if sealed != nil {
			if sh, ss, ok := sealed(e.Seq); ok && sh == e.Hash && ss == e.Sig {
				return checked{env: e, hash: h}
			}
		}
		if err := keys.verify(e.KeyID, e.Hash, e.Sig); err != nil {
			return checked{env: e, hash: h, err: err}
		}
	}
	return checked{env: e, hash: h}
}

// link checks the neighbour-dependent part and advances st.
func link(st *ChainState, pos uint64, c checked) error {
	if pos == 0 {
		pos = st.NextSeq
	}
	fail := func(reason string) error {
		id := ""
		if c.env != nil {
			id = c.env.ID
		}
		return &BrokenError{Seq: pos, ID: id, Reason: reason}
	}
	if c.env == nil || (c.err != nil && errors.Is(c.err, ErrMalformed)) {
		return fail(fmt.Sprintf("unreadable event: %v", c.err))
	}
	if pos != st.NextSeq {
		reason := fmt.Sprintf("expected sequence %d next, found position %d (an event is missing)", st.NextSeq, pos)
		if pos > st.NextSeq {
			// Nothing is stored at the expected position: that is where it breaks.
			return &BrokenError{Seq: st.NextSeq, Reason: reason}
		}
		return fail(reason)
	}
	if c.env.Seq != pos {
		return fail(fmt.Sprintf("event carries sequence %d at position %d (events deleted, inserted or reordered)", c.env.Seq, pos))
	}
	if c.env.Prev != st.PrevHash {
		return fail(fmt.Sprintf("prev %s does not match the previous event's hash %s", c.env.Prev, st.PrevHash))
	}
	if c.err != nil {
		return fail(c.err.Error())
	}
	st.NextSeq = pos + 1
	st.PrevHash = c.env.Hash
	return nil
}

// CheckLink verifies one event's hash and its link to st, without checking
// the signature. It returns the decoded envelope and advances st on success.
// Consumers of a live stream use a Checker, which also checks signatures.
func CheckLink(st *ChainState, it Item) (*Envelope, error) {
	c := checkOne(it.Raw, nil)
	if err := link(st, it.Pos, c); err != nil {
		return c.env, err
	}
	return c.env, nil
}

// Checkpoint is a position up to which the chain was fully verified
// (signatures included), and the hash of the event there. Because every hash
// covers the previous one, a replay whose recomputed chain reaches the same
// hash at Seq has byte-identical events up to Seq, so their signatures need
// not be checked again.
type Checkpoint struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Checker verifies events in stream order as a consumer applies them: hash,
// link and position always; signatures for every event past Trusted. The
// per-event work runs on Workers goroutines.
type Checker struct {
	// Keys must have signed every event past Trusted.
	Keys *Keyring
	// Trusted is the last fully verified position (zero: none).
	Trusted Checkpoint
	// Workers check hashes and signatures in parallel; 0 means GOMAXPROCS.
	Workers int
	// Sealed, if set, names events this process sealed itself; their
	// signatures are not verified again (see eventCheck).
	Sealed SealedFunc
	// DataChecked says the caller checks that every event's data is
	// well-formed JSON itself (the projector decodes every payload), so
	// Check does not scan it a second time. The hash still covers the
	// data: a changed byte fails the check either way.
	DataChecked bool
}

// Check verifies items, which continue the chain at st. It returns the
// envelopes of the good prefix and advances st past it; at the first bad
// event it also returns a *BrokenError.
func (c *Checker) Check(st *ChainState, items []Item) ([]*Envelope, error) {
	results := make([]checked, len(items))
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Items at or before the trusted checkpoint need no signature check.
	split := 0
	for i, it := range items {
		pos := it.Pos
		if pos == 0 {
			pos = st.NextSeq + uint64(i)
		}
		if pos > c.Trusted.Seq {
			break
		}
		split = i + 1
	}
	eventCheck{dataChecked: c.DataChecked}.parallel(items[:split], results[:split], workers)
	eventCheck{keys: c.Keys, sealed: c.Sealed, dataChecked: c.DataChecked}.parallel(items[split:], results[split:], workers)
	out := make([]*Envelope, 0, len(items))
	for i, it := range items {
		if err := link(st, it.Pos, results[i]); err != nil {
			return out, err
		}
		e := results[i].env
		if c.Trusted.Seq != 0 && e.Seq == c.Trusted.Seq && e.Hash != c.Trusted.Hash {
			// Roll st back: this event is not accepted.
			st.NextSeq, st.PrevHash = e.Seq, e.Prev
			return out, &BrokenError{Seq: e.Seq, ID: e.ID, Reason: fmt.Sprintf(
				"hash %s differs from the verified checkpoint %s at this sequence (history was rewritten)", e.Hash, c.Trusted.Hash)}
		}
		out = append(out, e)
	}
	return out, nil
}

// Report summarises a verification run.
type Report struct {
	Valid     bool   `json:"valid"`
	Checked   uint64 `json:"entriesChecked"`
	FirstSeq  uint64 `json:"firstSeq,omitempty"`
	LastSeq   uint64 `json:"lastSeq,omitempty"`
	FirstTime string `json:"firstEntryTimestamp,omitempty"`
	LastTime  string `json:"lastEntryTimestamp,omitempty"`
	HeadHash  string `json:"headHash,omitempty"`
	// Broken is set when Valid is false.
	Broken *BrokenError `json:"-"`
}

// Source yields stored messages in stream order; it returns io.EOF at the end.
type Source func(ctx context.Context) (Item, error)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Keys are the trusted signing keys; every signature must verify with one.
	Keys *Keyring
	// Start is the chain state before the first item (Genesis for a full chain).
	Start ChainState
	// Workers check hashes and signatures in parallel; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called after each chunk with the events done so far.
	Progress func(done uint64)
}

const verifyChunk = 512

// Verify re-hashes every event from its canonical bytes, checks every prev
// link, that positions are contiguous and match each event's seq, and every
// signature. It stops at the first bad event and reports it in Report.Broken;
// the error result is only for failures to read the source.
func Verify(ctx context.Context, src Source, opt VerifyOptions) (Report, error) {
	if opt.Keys == nil {
		return Report{}, errors.New("ledger: verify needs a keyring")
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	st := opt.Start
	if st.NextSeq == 0 {
		st = Genesis()
	}
	var rep Report
	items := make([]Item, 0, verifyChunk)
	results := make([]checked, verifyChunk)
	for {
		items = items[:0]
		var srcErr error
		for len(items) < verifyChunk {
			it, err := src(ctx)
			if err != nil {
				srcErr = err
				break
			}
			items = append(items, it)
		}
		if len(items) > 0 {
			eventCheck{keys: opt.Keys}.parallel(items, results, workers)
			for i, it := range items {
				if err := link(&st, it.Pos, results[i]); err != nil {
					var be *BrokenError
					errors.As(err, &be)
					rep.Broken = be
					rep.Valid = false
					return rep, nil
				}
				e := results[i].env
				if rep.Checked == 0 {
					rep.FirstSeq, rep.FirstTime = e.Seq, e.Time
				}
				rep.Checked++
				rep.LastSeq, rep.LastTime, rep.HeadHash = e.Seq, e.Time, e.Hash
			}
			if opt.Progress != nil {
				opt.Progress(rep.Checked)
			}
		}
		if srcErr != nil {
			if errors.Is(srcErr, io.EOF) {
				rep.Valid = true
				return rep, nil
			}
			return rep, srcErr
		}
	}
}

// parallel checks items into out on up to workers goroutines.
func (c eventCheck) parallel(items []Item, out []checked, workers int) {
	if workers <= 1 || len(items) < 16 {
		for i, it := range items {
			out[i] = c.one(it.Raw)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(items) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(items))
		if lo >= hi {
			break
		}
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = c.one(items[i].Raw)
			}
		})
	}
	wg.Wait()
}

// SliceSource yields items from memory; handy for tests and exports.
func SliceSource(items []Item) Source {
	i := 0
	return func(context.Context) (Item, error) {
		if i >= len(items) {
			return Item{}, io.EOF
		}
		i++
		return items[i-1], nil
	}
}

// Prefetch reads src on its own goroutine, up to n items ahead, so that
// reading the stream overlaps checking what was read. Call stop when done;
// it waits for the reader goroutine.
func Prefetch(ctx context.Context, src Source, n int) (Source, func()) {
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		it  Item
		err error
	}
	ch := make(chan result, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		for {
			it, err := src(ctx)
			select {
			case ch <- result{it, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var last error
	next := func(context.Context) (Item, error) {
		if last != nil {
			return Item{}, last
		}
		r, ok := <-ch
		if !ok {
			last = io.EOF
			if err := ctx.Err(); err != nil {
				last = err
			}
			return Item{}, last
		}
		if r.err != nil {
			last = r.err
		}
		return r.it, r.err
	}
	stop := func() {
		cancel()
		<-done
	}
	return next, stop
}

// Parallel runs f(0..n-1) on up to GOMAXPROCS goroutines, at least perWorker
// items each (small jobs stay on the caller's goroutine).
func Parallel(n, perWorker int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(perWorker, 1))
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}
