package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/factstore/factstore/projections"
)

// rebuild does what `factstore rebuild` does (cmd/factstore/tools.go
// Rebuild): drop the read models, replay the stream into them with fsync off,
// then one final sync.
func rebuild(ctx context.Context, store *projections.Store, fx *fixture) (time.Duration, error) {
	start := time.Now()
	if err := store.Reset(); err != nil {
		return 0, err
	}
	store.SetNoSync(true)
	defer store.SetNoSync(false)
	if err := store.CatchUp(ctx, fx.conn.Reader, nil); err != nil {
		return 0, err
	}
	if err := store.Sync(); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if h := store.Halted(); h != nil {
		return took, h
	}
	if got := store.Applied(); got != fx.events {
		return took, fmt.Errorf("applied %d of %d events", got, fx.events)
	}
	return took, nil
}

// benchRebuild measures (d) as `factstore rebuild` runs it on a node's data
// directory: the store has the node's keyring (SetKeys) and a populated
// read-model file. A first pass builds that file from nothing, verifying every
// signature and recording the verified checkpoint (informational row d0, what
// a new node or a deleted readmodels.db costs); the timed rebuild then drops
// the read models and replays, re-checking hashes and links up to the
// checkpoint.
func benchRebuild(ctx context.Context, fx *fixture) []row {
	r0 := row{key: "d-cold", name: "(d0) first build, signatures checked", unit: "events/s"}
	r := row{key: "d", name: "(d) rebuild: Reset + CatchUp (NoSync)", unit: "events/s", tgt: target{">=", 50000}}
	store, err := projections.Open(filepath.Join(fx.dir, "readmodels.db"), discard)
	if err != nil {
		r0.failed, r0.note, r.failed, r.note = true, err.Error(), true, err.Error()
		return []row{r0, r}
	}
	defer func() { _ = store.Close() }()
	store.SetKeys(fx.keys)
	for _, x := range []*row{&r0, &r} {
		// The label lets `go tool pprof -tagfocus=phase=d` show one pass.
		var took time.Duration
		var err error
		pprof.Do(ctx, pprof.Labels("phase", x.key), func(ctx context.Context) { took, err = rebuild(ctx, store, fx) })
		if err != nil {
			x.failed, x.note = true, err.Error()
			if !errors.Is(err, projections.ErrHalted) {
				break
			}
			continue
		}
		x.value = perSec(int(fx.events), took)
		x.note = fmt.Sprintf("%d events in %s", fx.events, took.Round(time.Millisecond))
	}
	return []row{r0, r}
}

// benchVerify measures (e): Reader.Verify over the whole ledger with the
// node's keyring (hash, link, position and signature of every event).
func benchVerify(ctx context.Context, fx *fixture) row {
	r := row{key: "e", name: "(e) verify-chain: Reader.Verify", unit: "events/s", tgt: target{">=", 25000}}
	start := time.Now()
	rep, err := fx.conn.Reader.Verify(ctx, fx.keys, 1, 0, nil)
	took := time.Since(start)
	switch {
	case err != nil:
		r.failed, r.note = true, err.Error()
	case !rep.Valid:
		r.failed, r.note = true, fmt.Sprintf("INVALID at %d: %s", rep.Broken.Seq, rep.Broken.Reason)
	case rep.Checked != fx.events:
		r.failed, r.note = true, fmt.Sprintf("checked %d of %d events", rep.Checked, fx.events)
	default:
		r.value = perSec(int(rep.Checked), took)
		r.note = fmt.Sprintf("%d events in %s", rep.Checked, took.Round(time.Millisecond))
	}
	return r
}
