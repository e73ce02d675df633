package eventstore

import (
	"context"
	"fmt"

	"github.com/factstore/factstore/ledger"
)

// Verify checks the stored events from `from` to `to` (0 = the end): every
// hash, link, position and signature. For a range that starts after 1, the
// first event's prev is checked against the stored hash of its predecessor.
func (r *Reader) Verify(ctx context.Context, keys *ledger.Keyring, from, to uint64, progress func(uint64)) (ledger.Report, error) {
	if from == 0 {
		from = 1
	}
	start := ledger.Genesis()
	if from > 1 {
		raw, err := r.Get(ctx, from-1)
		if err != nil {
			return ledger.Report{}, err
		}
		e, err := ledger.Decode(raw)
		if err != nil {
			return ledger.Report{}, fmt.Errorf("eventstore: event %d before the range: %w", from-1, err)
		}
		start = ledger.ChainState{NextSeq: from, PrevHash: e.Hash}
	}
	src, stop, err := r.Range(ctx, from, to)
	if err != nil {
		return ledger.Report{}, err
	}
	defer stop()
	// Read ahead so that reading the stream overlaps checking signatures.
	src, stopPrefetch := ledger.Prefetch(ctx, src, 4096)
	defer stopPrefetch()
	return ledger.Verify(ctx, src, ledger.VerifyOptions{Keys: keys, Start: start, Progress: progress})
}
