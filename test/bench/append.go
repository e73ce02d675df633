package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/factstore/factstore/cmd/factstore/app"
	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/ledger"
)

// description1K is a flow description of 1 KiB, the event payload size.
var description1K = func() string {
	const words = "evidence attestation pipeline artifact provenance policy control release "
	return strings.Repeat(words, 1024/len(words)+1)[:1024]
}()

// fixture is a ledger (b) wrote, kept for (d) and (e).
type fixture struct {
	dir    string
	conn   *app.Conn
	keys   *ledger.Keyring
	events uint64
	err    error
}

func (f *fixture) close(o *options) {
	if f.conn != nil {
		f.conn.Close()
	}
	removeDir(o, f.dir)
}

// appendStats are what the writer reports through ObserveAppend.
type appendStats struct {
	batches atomic.Int64
	events  atomic.Int64
	nanos   atomic.Int64
}

func (s *appendStats) observe(events int, d time.Duration) {
	s.batches.Add(1)
	s.events.Add(int64(events))
	s.nanos.Add(int64(d))
}

// load is the result of one round of concurrent submissions.
type load struct {
	ok, failed int
	firstErr   error
	lat        []time.Duration
	took       time.Duration
}

// submitFlows runs conc goroutines that each submit CreateFlow commands,
// numbered from *next, until `limit` commands were taken or the deadline
// passes.
func submitFlows(ctx context.Context, w *eventstore.Writer, conc int, next *atomic.Int64, limit int64, deadline time.Time, keepLat bool) load {
	var mu sync.Mutex
	var res load
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < conc; g++ {
		wg.Go(func() {
			var lat []time.Duration
			ok, failed := 0, 0
			var firstErr error
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1)
				if i > limit {
					break
				}
				name := "flow-" + strconv.FormatInt(i, 10)
				desc := description1K
				cmd := domain.CreateFlow{ID: uuid.Must(uuid.NewV7()).String(), Fields: domain.FlowFields{Name: &name, Description: &desc}}
				t0 := time.Now()
				_, err := w.Submit(ctx, eventstore.Request{Command: cmd, Actor: "bench"})
				if keepLat {
					lat = append(lat, time.Since(t0))
				}
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				ok++
			}
			mu.Lock()
			res.ok += ok
			res.failed += failed
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	return res
}

// benchAppend measures (b): the writer with appendConc concurrent
// submitters of 1 KiB CreateFlow commands. If keep is set, it tops the ledger
// up to ledgerMin events (untimed) and returns it for (d) and (e).
func benchAppend(ctx context.Context, o *options, keep bool) (*fixture, []row) {
	r := row{key: "b", name: fmt.Sprintf("(b) Writer.Submit, %d goroutines", o.sz.appendConc), unit: "events/s", latOf: "Submit"}
	fx := &fixture{}
	fail := func(err error) (*fixture, []row) {
		r.failed, r.note = true, err.Error()
		fx.err = err
		if !keep {
			fx.close(o)
			return nil, []row{r}
		}
		return fx, []row{r}
	}
	var err error
	if fx.dir, err = tempDir("b"); err != nil {
		return fail(err)
	}
	if fx.conn, err = app.Dial(ctx, app.Config{DataDir: fx.dir, Logger: discard}); err != nil {
		return fail(err)
	}
	signer, _, err := ledger.LoadOrCreateSigner(app.SigningKeyPath(fx.dir))
	if err != nil {
		return fail(err)
	}
	if fx.keys, err = app.LoadKeyring(fx.dir, signer); err != nil {
		return fail(err)
	}
	var stats appendStats
	w, err := eventstore.NewWriter(ctx, eventstore.WriterConfig{
		Conn: fx.conn.NC, JS: fx.conn.JS, Stream: fx.conn.Stream, Signer: signer, Keys: fx.keys, Logger: discard,
		ObserveAppend: stats.observe,
		// As the server configures it on its embedded NATS (the only writer).
		MaxInFlight: 3,
	})
	if err != nil {
		return fail(err)
	}
	defer w.Close()

	var next atomic.Int64
	res := submitFlows(ctx, w, o.sz.appendConc, &next, int64(o.sz.appendEvents), time.Now().Add(o.sz.appendMax), true)
	sortDurations(res.lat)
	r.value = perSec(res.ok, res.took)
	r.p50, r.p99 = percentile(res.lat, .50), percentile(res.lat, .99)
	b, e, ns := stats.batches.Load(), stats.events.Load(), stats.nanos.Load()
	r.note = fmt.Sprintf("%d events in %s", res.ok, res.took.Round(time.Millisecond))
	if b > 0 {
		r.note += fmt.Sprintf("; %d batches, avg %.0f events, avg decide→ack %s", b, float64(e)/float64(b), fmtDur(time.Duration(ns/b)))
	}
	if res.failed > 0 {
		r.failed = true
		r.note += fmt.Sprintf("; %d Submit errors, first: %v", res.failed, res.firstErr)
	}
	rows := []row{r}
	if !keep {
		fx.close(o)
		return nil, rows
	}

	// Top the ledger up for (d)/(e) if (b) stopped at its time bound.
	if int(w.Head()) < o.sz.ledgerMin {
		// Numbers (and so names) continue after every one already taken.
		need := int64(o.sz.ledgerMin) - int64(w.Head())
		top := submitFlows(ctx, w, o.sz.loadConc, &next, next.Load()+need, time.Now().Add(3*time.Minute), false)
		if top.failed > 0 {
			fx.err = fmt.Errorf("loading the ledger: %d errors, first: %w", top.failed, top.firstErr)
		}
	}
	fx.events = w.Head()
	if fx.err == nil && int(fx.events) < o.sz.ledgerMin {
		fx.err = fmt.Errorf("ledger has %d events, (d)/(e) need %d", fx.events, o.sz.ledgerMin)
	}
	if fx.err == nil && w.Broken() != nil {
		fx.err = errors.Join(errors.New("writer reports a broken chain"), w.Broken())
	}
	return fx, rows
}

// ratioRow is (b) as a share of (a-batch), target ≥ 50 %.
func ratioRow(rs []row, aBatch float64) (row, bool) {
	if aBatch <= 0 || len(rs) == 0 || rs[0].key != "b" || rs[0].failed {
		return row{}, false
	}
	return row{key: "b/a", name: "(b)/(a-batch)", unit: "%", value: 100 * rs[0].value / aBatch,
		tgt: target{">=", 50}, note: "events/s of (b) per msgs/s of (a-batch) in the same run"}, true
}
