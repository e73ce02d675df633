package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/eventstore/eventstoretest"
	"github.com/factstore/factstore/ledger"
)

type env struct {
	js     jetstream.JetStream
	reader *eventstore.Reader
	keys   *ledger.Keyring
	cfg    eventstore.WriterConfig
}

// newEnv starts an embedded JetStream (file storage in t.TempDir(), sync
// always) with the ledger stream.
func newEnv(t *testing.T) *env {
	t.Helper()
	es := eventstoretest.Start(t)
	return &env{js: es.JS, reader: es.Reader, keys: es.Keys, cfg: es.WriterConfig()}
}

func (e *env) writer(t *testing.T, mod func(*eventstore.WriterConfig)) *eventstore.Writer {
	t.Helper()
	cfg := e.cfg
	if mod != nil {
		mod(&cfg)
	}
	w, err := eventstore.NewWriter(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	return w
}

func (e *env) verify(t *testing.T) ledger.Report {
	t.Helper()
	rep, err := e.reader.Verify(context.Background(), e.keys, 1, 0, nil)
	require.NoError(t, err)
	require.True(t, rep.Valid, "chain broken: %v", rep.Broken)
	return rep
}

func create(name string) eventstore.Request {
	return eventstore.Request{Actor: "test", Command: domain.CreateFlow{ID: name + "-id", Fields: domain.FlowFields{Name: &name}}}
}

// many is a command that appends n events at once.
type many struct{ n int }

func (m many) Decide(*domain.State, time.Time) ([]domain.Event, error) {
	out := make([]domain.Event, m.n)
	for i := range out {
		out[i] = domain.Event{Type: "test.happened", Aggregate: "test", AggregateID: fmt.Sprint(i), Data: map[string]int{"i": i}}
	}
	return out, nil
}

func TestWriterSplitsBatchesAndKeepsOneChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var batches []int
	var mu sync.Mutex
	w := e.writer(t, func(c *eventstore.WriterConfig) {
		c.MaxBatchBytes = 4 << 10 // a few events per batch
		c.ObserveAppend = func(n int, _ time.Duration) { mu.Lock(); batches = append(batches, n); mu.Unlock() }
	})
	var wg sync.WaitGroup
	seqs := make([]uint64, 200)
	for i := range seqs {
		wg.Go(func() {
			res, err := w.Submit(context.Background(), create(fmt.Sprintf("f%d", i)))
			if assert.NoError(t, err) {
				seqs[i] = res.LastSeq()
			}
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, s := range seqs {
		assert.False(t, seen[s], "sequence %d given twice", s)
		seen[s] = true
	}
	rep := e.verify(t)
	assert.Equal(t, uint64(200), rep.Checked)
	assert.Equal(t, uint64(200), w.Head())
	total := 0
	for _, n := range batches {
		total += n
		assert.LessOrEqual(t, n, 20, "batch over the byte cap")
	}
	assert.Equal(t, 200, total)
}

func TestWriterMultiEventCommandsAreAtomic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.writer(t, nil)
	res, err := w.Submit(context.Background(), eventstore.Request{Command: many{n: 250}})
	require.NoError(t, err)
	require.Len(t, res.Events, 250)
	for i, ev := range res.Events {
		assert.Equal(t, uint64(i+1), ev.Seq)
	}
	_, err = w.Submit(context.Background(), eventstore.Request{Command: many{n: 1001}})
	require.ErrorIs(t, err, domain.ErrInvalid, "more than one atomic batch can hold")
	assert.Equal(t, uint64(250), e.verify(t).Checked)
}

func TestWriterDryRunAppendsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.writer(t, nil)
	req := create("dry")
	req.DryRun = true
	res, err := w.Submit(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	assert.Equal(t, uint64(0), res.Events[0].Seq)
	last, err := e.reader.LastSeq(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(0), last)
	// The dry run did not reserve the name.
	_, err = w.Submit(context.Background(), create("dry"))
	require.NoError(t, err)
}

// Two writers on one stream (as two instances would be) never fork the
// chain: the one that loses the expected-sequence race catches up and
// decides again, so a name taken meanwhile becomes a conflict.
func TestTwoWritersNeverFork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.writer(t, nil)
	b := e.writer(t, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcome := map[string]int{}
	for i := 0; i < 16; i++ {
		w := a
		if i%2 == 1 {
			w = b
		}
		wg.Go(func() {
			for j := 0; j < 30; j++ {
				_, err := w.Submit(context.Background(), create(fmt.Sprintf("n%d", j)))
				mu.Lock()
				switch {
				case err == nil:
					outcome["ok"]++
				case errors.Is(err, domain.ErrConflict):
					outcome["conflict"]++
				default:
					outcome[err.Error()]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[string]int{"ok": 30, "conflict": 450}, outcome)
	assert.Equal(t, uint64(30), e.verify(t).Checked)
}

func TestWriterRefusesABrokenChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Something that is not an envelope sits in the ledger stream.
	_, err := e.js.Publish(context.Background(), eventstore.Subject("_", "x", "x.forged"), []byte(`{"v":1,"seq":1}`))
	require.NoError(t, err)
	w := e.writer(t, nil)
	require.ErrorIs(t, w.Broken(), eventstore.ErrChainBroken)
	_, err = w.Submit(context.Background(), create("x"))
	require.ErrorIs(t, err, eventstore.ErrChainBroken)
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "factstore.events.acme.trail.attestation.recorded", eventstore.Subject("acme", "trail", "attestation.recorded"))
	assert.Equal(t, "factstore.events._.flow.flow.created", eventstore.Subject("", "flow", "flow.created"))
	assert.Equal(t, "factstore.events.a_b_.flow.flow.created", eventstore.Subject("a.b*", "flow", "flow.created"))
}

// A command that appends nothing (an update that changes nothing) learns
// the sequence its state was decided on, stored durably when it is
// answered, so that a reader can wait for it; with one batch in flight or
// several.
func TestWriterNoEventResultCarriesItsStateSeq(t *testing.T) {
	t.Parallel()
	for _, inFlight := range []int{1, 3} {
		t.Run(fmt.Sprintf("in flight %d", inFlight), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			w := e.writer(t, func(c *eventstore.WriterConfig) { c.MaxInFlight = inFlight })
			ctx := context.Background()
			var wg sync.WaitGroup
			for i := range 32 {
				wg.Go(func() {
					name := fmt.Sprintf("f%d", i)
					created, err := w.Submit(ctx, create(name))
					if assert.NoError(t, err) {
						sameAgain(ctx, t, e, w, name, created.LastSeq())
					}
				})
			}
			wg.Wait()
		})
	}
}

// sameAgain submits an update of flow name that changes nothing and checks
// the sequence its result carries.
func sameAgain(ctx context.Context, t *testing.T, e *env, w *eventstore.Writer, name string, createdAt uint64) {
	t.Helper()
	same, err := w.Submit(ctx, eventstore.Request{Actor: "test", Command: domain.UpdateFlow{ID: name + "-id", Fields: domain.FlowFields{Name: &name}}})
	if assert.NoError(t, err) {
		assert.Empty(t, same.Events, "nothing changes")
		assert.GreaterOrEqual(t, same.StateSeq, createdAt, "decided on a state that holds the flow")
		stored, err := e.reader.LastSeq(ctx)
		if assert.NoError(t, err) {
			assert.LessOrEqual(t, same.StateSeq, stored, "that state is stored")
		}
	}
}
