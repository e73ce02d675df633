package projections

import (
	"bytes"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/ledger"
)

// Speculation. A writer's answer waits for its batch's commit and then for
// the read models to apply it (read-your-writes); while the server commits,
// this process is idle. The writer therefore hands the runner the events it
// sealed as it publishes them (Stage), and the runner writes them into a
// bbolt transaction that it keeps open, uncommitted and so invisible to
// readers. When the stream delivers the batch, each event is compared byte
// for byte with the staged one; if all match, the transaction only has to
// record its progress and commit. Anything else (a delivery that differs,
// one that continues a different chain, a batch that never arrives) rolls
// the transaction back and the delivered events are applied as usual, so the
// read models never hold what the stream does not.

// stagedQueue is how many staged batches wait for the runner; when it is
// full, batches are dropped and applied when delivered instead.
const stagedQueue = 64

// speculationWait bounds how long a speculative transaction waits for the
// stream to deliver its events (a failed batch is never delivered).
const speculationWait = time.Second

// Stage offers the events of one batch this process sealed and has
// published the commit of, so that the runner can prepare their read-model
// writes before the stream delivers them. It never blocks.
func (s *Store) Stage(sealed []ledger.Sealed) {
	if len(sealed) == 0 {
		return
	}
	select {
	case s.staged <- sealed:
	default:
	}
}

// SpeculationStats returns how many speculative transactions were committed
// and how many were abandoned (their events applied as delivered).
func (s *Store) SpeculationStats() (committed, abandoned uint64) {
	return s.specCommitted.Load(), s.specAbandoned.Load()
}

// speculation is an open transaction holding staged events.
type speculation struct {
	tx        *bolt.Tx
	items     []ledger.Item // written into tx, in order
	confirmed int           // how many of items the stream delivered, identical
	delivered []delivered   // what the stream delivered so far
	chain     ledger.ChainState
	trusted   ledger.Checkpoint
	since     time.Time
}

var errSpeculation = errors.New("projections: speculation abandoned")

// speculate opens a transaction holding a staged batch when none is open
// and the batch continues the applied chain. Other batches are applied when
// delivered.
func (s *Store) speculate(sealed []ledger.Sealed) *speculation {
	s.mu.Lock()
	applied, chain, trusted, halted := s.applied, s.chain, s.trusted, s.halted
	s.mu.Unlock()
	if halted != nil || sealed[0].Seq != applied+1 {
		return nil
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil
	}
	packAppendOnly(tx)
	sp := &speculation{tx: tx, chain: chain, trusted: trusted, since: time.Now()}
	items := make([]ledger.Item, len(sealed))
	for i, x := range sealed {
		items[i] = ledger.Item{Pos: x.Seq, Raw: x.Raw}
	}
	if err := s.extend(sp, items, sealedBy(sealed)); err != nil {
		_ = s.abandon(sp) // nothing was delivered yet
		return nil
	}
	return sp
}

// sealedBy names the events of sealed as sealed by this process: they come
// from its own signer, so their signatures need no check (the hash and the
// link still do).
func sealedBy(sealed []ledger.Sealed) ledger.SealedFunc {
	return func(seq uint64) (string, string, bool) {
		if len(sealed) == 0 || seq < sealed[0].Seq || seq-sealed[0].Seq >= uint64(len(sealed)) {
			return "", "", false
		}
		x := sealed[seq-sealed[0].Seq]
		return x.Hash, x.Sig, true
	}
}

// extend checks items against sp's chain and writes them into its
// transaction; any broken link or failed write abandons the speculation.
func (s *Store) extend(sp *speculation, items []ledger.Item, sealed ledger.SealedFunc) error {
	s.mu.Lock()
	keys := s.keys
	s.mu.Unlock()
	chain := sp.chain
	cb := check(&ledger.Checker{Keys: keys, Trusted: sp.trusted, Sealed: sealed, DataChecked: true}, &chain, keys, items)
	if cb.err != nil || cb.broken != nil || len(cb.prepared) != len(items) {
		return errSpeculation
	}
	if err := writePrepared(sp.tx, cb.prepared); err != nil {
		return err
	}
	sp.chain, sp.trusted = cb.chain, cb.trusted
	sp.items = append(sp.items, items...)
	return nil
}

// confirm takes a delivered event while sp is open. It returns the
// speculation still open (nil once committed or abandoned) and, when it was
// abandoned, the delivered events to apply as usual.
func (s *Store) confirm(sp *speculation, d delivered, observe func(int, time.Duration)) (*speculation, []delivered) {
	sp.delivered = append(sp.delivered, d)
	switch {
	case sp.confirmed < len(sp.items):
		want := sp.items[sp.confirmed]
		if d.Pos != want.Pos || !bytes.Equal(d.Raw, want.Raw) {
			return nil, s.abandon(sp)
		}
	case d.Pos == sp.chain.NextSeq:
		// Delivered past what was staged (a part was dropped): it is
		// checked and written like any delivered event.
		s.mu.Lock()
		sealed := s.sealed
		s.mu.Unlock()
		if s.extend(sp, []ledger.Item{d.Item}, sealed) != nil {
			return nil, s.abandon(sp)
		}
	default:
		return nil, s.abandon(sp)
	}
	sp.confirmed++
	if d.midBatch {
		return sp, nil
	}
	if sp.confirmed < len(sp.items) {
		// The delivered batch ended before the staged events did.
		return nil, s.abandon(sp)
	}
	start := time.Now()
	err := writeProgress(sp.tx, sp.chain, sp.trusted)
	if err == nil {
		err = sp.tx.Commit()
	} else {
		_ = sp.tx.Rollback()
	}
	if err != nil {
		s.log.Warn("projection: speculative transaction failed; applying as delivered", "err", err)
		s.specAbandoned.Add(1)
		return nil, sp.delivered
	}
	if observe != nil {
		observe(len(sp.items), time.Since(start))
	}
	s.specCommitted.Add(1)
	_ = s.publish(sp.chain, sp.trusted, nil)
	return nil, nil
}

// abandon rolls sp back and returns what the stream delivered meanwhile.
func (s *Store) abandon(sp *speculation) []delivered {
	_ = sp.tx.Rollback()
	s.specAbandoned.Add(1)
	return sp.delivered
}
