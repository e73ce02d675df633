package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/factstore/factstore/ledger"
)

// ErrHalted means the runner stopped at a broken link; reads may be stale.
var ErrHalted = errors.New("projections: halted at a broken ledger link")

// Bucket names. Changing one changes the read-model format: bump
// SchemaVersion so that old files are rebuilt.
var (
	bucketMeta       = []byte("meta")
	bucketEvents     = []byte("events")      // seq -> stored envelope bytes
	bucketEventIDs   = []byte("event_ids")   // event id -> seq
	bucketRecords    = []byte("records")     // aggregateId 0 seq -> a trail's fact record (see facts.go) or nil
	bucketAuditType  = []byte("audit_type")  // audit type 0 seq -> nil
	bucketAuditActor = []byte("audit_actor") // actor 0 seq -> nil
	bucketAuditTrail = []byte("audit_trail") // trail id 0 seq -> nil, for events of other aggregates about a trail
	bucketFlows      = []byte("flows")       // flow id -> seq of the event holding its state
	bucketFlowNames  = []byte("flow_names")  // org/name -> flow id
	bucketOrgs       = []byte("orgs")        // slug -> seq of the event holding its state
	// bucketVerified survives Reset: it holds the checkpoint up to which the
	// chain was fully verified, signatures included (see ledger.Checkpoint).
	bucketVerified = []byte("verified")

	allBuckets = append([][]byte{bucketMeta, bucketEvents, bucketEventIDs, bucketRecords, bucketAuditType,
		bucketAuditActor, bucketAuditTrail, bucketFlows, bucketFlowNames, bucketOrgs, bucketVerified}, append(append(complianceBuckets, environmentBuckets...), kosliBuckets...)...)

	keyApplied  = []byte("applied")
	keyPrevHash = []byte("prevHash")
	keySchema   = []byte("schema")
	keyVerified = []byte("checkpoint")
)

// SchemaVersion is the read-model format; a file with another is rebuilt.
const SchemaVersion = "11"

// Store is the bbolt read-model database.
type Store struct {
	db  *bolt.DB
	log *slog.Logger

	mu      sync.Mutex
	keys    *ledger.Keyring
	sealed  ledger.SealedFunc
	trusted ledger.Checkpoint
	applied uint64
	chain   ledger.ChainState
	halted  *ledger.BrokenError
	changed chan struct{} // closed and replaced whenever applied or halted changes

	flows flowCache // decoded flow versions for asserts

	staged chan []ledger.Sealed // batches being committed (speculate.go)

	specCommitted, specAbandoned atomic.Uint64
}

// Open opens (creating if needed) the read models at path. A file of
// another schema version is emptied so that the runner rebuilds it.
func Open(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Address space, not memory: spares the remaps a growing file needs.
		InitialMmapSize: 1 << 30,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("projections: %s is locked by another process (is a server running on this data directory?)", path)
		}
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	s := &Store{db: db, log: log, changed: make(chan struct{}), chain: ledger.Genesis(), staged: make(chan []ledger.Sealed, stagedQueue)}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bucketMeta); m != nil && string(m.Get(keySchema)) != SchemaVersion {
			s.log.Warn("read models have another schema version; rebuilding", "found", string(m.Get(keySchema)))
			if err := dropAll(tx); err != nil {
				return err
			}
		}
		if err := createAll(tx); err != nil {
			return err
		}
		m := tx.Bucket(bucketMeta)
		if err := m.Put(keySchema, []byte(SchemaVersion)); err != nil {
			return err
		}
		if v := tx.Bucket(bucketVerified).Get(keyVerified); v != nil {
			if err := json.Unmarshal(v, &s.trusted); err != nil {
				return fmt.Errorf("projections: read verified checkpoint: %w", err)
			}
		}
		if v := m.Get(keyApplied); v != nil {
			s.applied = binary.BigEndian.Uint64(v)
			s.chain = ledger.ChainState{NextSeq: s.applied + 1, PrevHash: string(m.Get(keyPrevHash))}
		}
		return nil
	})
}

func createAll(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("projections: create bucket %s: %w", b, err)
		}
	}
	return nil
}

func dropAll(tx *bolt.Tx) error {
	return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		return tx.DeleteBucket(name)
	})
}

// dropReadModels drops every bucket but the verified checkpoint.
func dropReadModels(tx *bolt.Tx) error {
	var names [][]byte
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if !bytes.Equal(name, bucketVerified) {
			names = append(names, append([]byte(nil), name...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := tx.DeleteBucket(n); err != nil {
			return err
		}
	}
	return nil
}

// SetKeys makes the store check the signature of every event it applies
// past its verified checkpoint, and halt at one no trusted key signed.
// Without keys only hashes and links are checked.
func (s *Store) SetKeys(keys *ledger.Keyring) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// SetSealed tells the store which events this process sealed itself, so
// that it does not verify their signatures again (see ledger.Checker.Sealed).
func (s *Store) SetSealed(f ledger.SealedFunc) {
	s.mu.Lock()
	s.sealed = f
	s.mu.Unlock()
}

// Verified returns the checkpoint up to which every applied event's
// signature was verified (it survives Reset).
func (s *Store) Verified() ledger.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trusted
}

// Reset drops every read model; the next Run replays the stream from 1. The
// verified checkpoint is kept, so the replay re-checks hashes and links up
// to it but not signatures it already checked.
func (s *Store) Reset() error {
	s.flows.reset()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := dropReadModels(tx); err != nil {
			return err
		}
		if err := createAll(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(SchemaVersion))
	})
	if err != nil {
		return fmt.Errorf("projections: reset: %w", err)
	}
	s.mu.Lock()
	s.applied, s.chain, s.halted = 0, ledger.Genesis(), nil
	s.mu.Unlock()
	return nil
}

// Close closes the database.
// Close flushes the file (commits may not have been synced, see SetNoSync)
// and closes it.
func (s *Store) Close() error {
	if s.db.NoSync {
		if err := s.db.Sync(); err != nil {
			_ = s.db.Close()
			return fmt.Errorf("projections: sync on close: %w", err)
		}
	}
	return s.db.Close()
}

// SetNoSync turns fsync of read-model commits off (for a rebuild, which
// calls Sync at the end, and for the live read models, which are discarded
// after a machine crash) or back on. Without fsync the file also grows
// without bbolt's truncate and fsync (NoGrowSync). bbolt calls that unsafe
// on ext4 because after a machine crash the file's size may not cover its
// pages; such a file does not outlive a machine crash (the caller discards
// it), and that fsync wrote out every page the unsynced commits had left
// dirty, stalling the commit that grew the file by 10–20 ms (and every
// request waiting for it). Within one boot every page a commit references
// has been written before the commit ends, so the file always covers what
// is read through the map.
func (s *Store) SetNoSync(v bool) {
	s.db.NoSync = v
	s.db.NoGrowSync = v
}

// Sync flushes the database file.
func (s *Store) Sync() error { return s.db.Sync() }

// Applied returns the last applied sequence.
func (s *Store) Applied() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// Halted returns the broken link the runner stopped at, if any.
func (s *Store) Halted() *ledger.BrokenError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.halted
}

// WaitFor blocks until the event at seq is applied (read-your-writes), the
// runner halts before it, or ctx ends.
func (s *Store) WaitFor(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		applied, halted, ch := s.applied, s.halted, s.changed
		s.mu.Unlock()
		if applied >= seq {
			return nil
		}
		if halted != nil {
			return fmt.Errorf("%w: %w", ErrHalted, halted)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("projections: waiting for sequence %d: %w", seq, ctx.Err())
		}
	}
}

func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Dump returns every key and value of every bucket, for comparing a
// rebuild with the original (the determinism test).
func (s *Store) Dump() (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := map[string]string{}
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			})
		})
	})
	return out, err
}

// Check runs bbolt's consistency check over the file.
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func indexKey(prefix string, seq uint64) []byte {
	k := make([]byte, 0, len(prefix)+9)
	k = append(k, prefix...)
	k = append(k, 0)
	return append(k, seqKey(seq)...)
}

// Source is where the runner reads the stream from.
type Source interface {
	// Range returns the events from `from` to `to` (0 = the current end).
	Range(ctx context.Context, from, to uint64) (ledger.Source, func(), error)
}

// CatchUp applies every stored event after the last applied one up to the
// stream's current end, then returns. It is what `factstore rebuild` and
// start-up use; progress, if set, is called after each transaction.
//
// It is a two-stage pipeline: one goroutine reads a batch and checks it
// (decode, hash, link and signatures, on all CPUs) while the previous batch's
// write transaction runs.
func (s *Store) CatchUp(ctx context.Context, src Source, progress func(applied uint64)) (err error) {
	s.mu.Lock()
	if s.halted != nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrHalted, s.halted)
	}
	from, chain, keys, trusted := s.applied+1, s.chain, s.keys, s.trusted
	s.mu.Unlock()
	size := applyBatch
	var flush backgroundFlush
	if s.db.NoSync {
		// A rebuild: no commit is durable anyway, and fewer, larger
		// transactions rewrite each B-tree page of the random-key buckets
		// (event ids, flows) fewer times.
		size = rebuildBatch
		flush.db = s.db
		defer func() {
			if ferr := flush.wait(); err == nil {
				err = ferr
			}
		}()
	}
	items, stop, err := src.Range(ctx, from, 0)
	if err != nil {
		return err
	}
	defer stop()
	// Three stages: read ahead, check (all CPUs), write (one transaction).
	items, stopPrefetch := ledger.Prefetch(ctx, items, 4096)
	defer stopPrefetch()
	ctx, cancel := context.WithCancel(ctx)
	checked := make(chan checkedBatch, 1)
	defer func() {
		// Stop the reader and wait for it before stop() closes its source.
		cancel()
		for range checked {
		}
	}()
	go func() {
		defer close(checked)
		checker := ledger.Checker{Keys: keys, Trusted: trusted, DataChecked: true}
		// The first batches are small and grow to size, so that the write
		// stage starts early instead of waiting for a whole large batch.
		n := min(size, firstBatch)
		for {
			batch := make([]ledger.Item, 0, n)
			var rerr error
			for len(batch) < n {
				it, err := items(ctx)
				if err != nil {
					rerr = err
					break
				}
				batch = append(batch, it)
			}
			eof := errors.Is(rerr, io.EOF)
			var cb checkedBatch
			switch {
			case rerr != nil && !eof:
				cb.err = rerr
			case len(batch) > 0:
				cb = check(&checker, &chain, keys, batch)
			}
			if cb.err != nil || len(cb.items) > 0 {
				select {
				case checked <- cb:
				case <-ctx.Done():
					return
				}
			}
			if eof || cb.err != nil || cb.broken != nil {
				return
			}
			n = min(2*n, size)
		}
	}()
	for cb := range checked {
		if cb.err != nil {
			return cb.err
		}
		if err := s.write(cb); err != nil {
			return err
		}
		flush.start()
		if progress != nil {
			progress(s.Applied())
		}
	}
	return ctx.Err()
}

// backgroundFlush writes the file's dirty pages out while a rebuild goes
// on, one fsync at a time, so that the rebuild's final Sync finds little
// left to write and the disk works while the CPUs do. A zero value (no db)
// does nothing.
type backgroundFlush struct {
	db   *bolt.DB
	wg   sync.WaitGroup
	mu   sync.Mutex
	busy bool
	err  error
}

// start begins an fsync unless one is running.
func (f *backgroundFlush) start() {
	if f.db == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy {
		return
	}
	f.busy = true
	f.wg.Go(func() {
		err := f.db.Sync()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.busy = false
		if err != nil && f.err == nil {
			// Kept: after a failed fsync the kernel may have dropped the
			// pages, and a later fsync can succeed without them.
			f.err = fmt.Errorf("projections: flush: %w", err)
		}
	})
}

// wait waits for the running fsync and returns the first error any had.
func (f *backgroundFlush) wait() error {
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// checkedBatch is a batch whose CPU work is done: the envelopes of its good
// prefix, the chain state and verified checkpoint after them, and the broken
// link that ends it, if any.
type checkedBatch struct {
	items    []ledger.Item
	prepared []prepared
	chain    ledger.ChainState
	trusted  ledger.Checkpoint
	broken   *ledger.BrokenError
	err      error
}

// prepareGrain is the fewest events worth a goroutine of their own in
// check: an event takes 5-15 µs to prepare, so a live batch of a few dozen
// events is split across the CPUs and its transaction starts sooner.
const prepareGrain = 8

// check verifies items continuing chain (advancing it and the checker's
// trusted checkpoint past the good prefix).
func check(checker *ledger.Checker, chain *ledger.ChainState, keys *ledger.Keyring, items []ledger.Item) checkedBatch {
	cb := checkedBatch{items: items}
	envs, cerr := checker.Check(chain, items)
	if cerr != nil && !errors.As(cerr, &cb.broken) {
		cb.err = cerr
	}
	// Work out every event's writes on all CPUs; the write transaction
	// then only stores them.
	cb.prepared = make([]prepared, len(envs))
	errs := make([]error, len(envs))
	ledger.Parallel(len(envs), prepareGrain, func(i int) { cb.prepared[i], errs[i] = prepare(envs[i], items[i].Raw) })
	for i, err := range errs {
		var syntax *json.SyntaxError
		switch {
		case err == nil:
			continue
		case errors.As(err, &syntax):
			// The checker left this to prepare (DataChecked): an event
			// whose data is not JSON is a broken link, like any other
			// unreadable event.
			e := envs[i]
			cb.prepared = cb.prepared[:i]
			chain.NextSeq, chain.PrevHash = e.Seq, e.Prev
			cb.broken = &ledger.BrokenError{Seq: e.Seq, ID: e.ID, Reason: fmt.Sprintf("unreadable event: data: %v", err)}
		default:
			cb.err = fmt.Errorf("projections: apply %d (%s): %w", envs[i].Seq, envs[i].Type, err)
		}
		break
	}
	if keys != nil && chain.NextSeq-1 > checker.Trusted.Seq {
		checker.Trusted = ledger.Checkpoint{Seq: chain.NextSeq - 1, Hash: chain.PrevHash}
	}
	cb.chain, cb.trusted = *chain, checker.Trusted
	return cb
}

// rebuildBatch is how many events one transaction applies when commits are
// not synced (a rebuild).
const rebuildBatch = 10000

// firstBatch is the size of CatchUp's first batch; each next one doubles
// until the full size.
const firstBatch = 500

// applyBatch is how many events one bbolt transaction applies at most.
const applyBatch = 1000

// apply applies items in one transaction. At a broken link (or an event no
// trusted key signed) it applies the good events before it, then halts.
func (s *Store) apply(items []ledger.Item) error {
	s.mu.Lock()
	if s.halted != nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrHalted, s.halted)
	}
	chain, keys, trusted, sealed := s.chain, s.keys, s.trusted, s.sealed
	s.mu.Unlock()
	// The CPU work (decode, hash, signatures) runs before the write
	// transaction, in parallel.
	cb := check(&ledger.Checker{Keys: keys, Trusted: trusted, Sealed: sealed, DataChecked: true}, &chain, keys, items)
	if cb.err != nil {
		return cb.err
	}
	return s.write(cb)
}

// appendOnly are the buckets whose keys only grow at the end of a few
// ranges (the sequence; an audit type, an actor or a search type followed
// by the sequence), so a page behind those ends is never written into
// again.
var appendOnly = [][]byte{bucketEvents, bucketAuditType, bucketAuditActor, bucketSearch}

// packAppendOnly makes tx fill the pages of the append-only buckets
// completely. bbolt splits a node at half a page by default, which leaves
// room for inserts in the middle; these buckets get none, so the default
// would leave their pages half empty and write twice as many.
func packAppendOnly(tx *bolt.Tx) {
	for _, name := range appendOnly {
		if b := tx.Bucket(name); b != nil {
			b.FillPercent = 1
		}
	}
}

// write applies a checked batch in one transaction and publishes its state.
func (s *Store) write(cb checkedBatch) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		packAppendOnly(tx)
		if err := writePrepared(tx, cb.prepared); err != nil {
			return err
		}
		return writeProgress(tx, cb.chain, cb.trusted)
	})
	if err != nil {
		return err
	}
	return s.publish(cb.chain, cb.trusted, cb.broken)
}

// writePrepared stores prepared events in tx.
func writePrepared(tx *bolt.Tx, prepared []prepared) error {
	for i := range prepared {
		p := &prepared[i]
		if err := p.write(tx); err != nil {
			return fmt.Errorf("projections: apply %d (%s): %w", p.env.Seq, p.env.Type, err)
		}
	}
	return nil
}

// writeProgress stores, with the events it covers, how far the read models
// have applied the chain and verified its signatures.
func writeProgress(tx *bolt.Tx, chain ledger.ChainState, trusted ledger.Checkpoint) error {
	m := tx.Bucket(bucketMeta)
	if err := m.Put(keyApplied, seqKey(chain.NextSeq-1)); err != nil {
		return err
	}
	if err := m.Put(keyPrevHash, []byte(chain.PrevHash)); err != nil {
		return err
	}
	cp, err := json.Marshal(trusted)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketVerified).Put(keyVerified, cp)
}

// publish makes a committed transaction's state the store's: readers
// waiting for its sequences are woken, and a broken link halts the store.
func (s *Store) publish(chain ledger.ChainState, trusted ledger.Checkpoint, broken *ledger.BrokenError) error {
	s.mu.Lock()
	s.chain, s.trusted = chain, trusted
	s.applied = chain.NextSeq - 1
	if broken != nil {
		s.halted = broken
		s.log.Error("projection halted: ledger chain broken", "seq", broken.Seq, "reason", broken.Reason)
	}
	s.notifyLocked()
	s.mu.Unlock()
	if broken != nil {
		return fmt.Errorf("%w: %w", ErrHalted, broken)
	}
	return nil
}
