package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
)

// TestPipelinedWriterKeepsOneChain: with several batches in flight, every
// acknowledged request is stored exactly once, in one unbroken chain, and
// requests that depend on each other (an update after a create of the same
// flow in an earlier, unacknowledged batch) are decided on the right state.
func TestPipelinedWriterKeepsOneChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	batches := 0
	w := e.writer(t, func(c *eventstore.WriterConfig) {
		c.MaxInFlight = 3
		c.MaxBatchEvents = 8 // many small batches, so several are in flight
		c.ObserveAppend = func(int, time.Duration) { mu.Lock(); batches++; mu.Unlock() }
	})
	ctx := context.Background()
	const clients, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients*each*2)
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			for i := 0; i < each; i++ {
				name := fmt.Sprintf("p-%d-%d", c, i)
				if _, err := w.Submit(ctx, create(name)); err != nil {
					errs <- err
					continue
				}
				desc := "updated"
				if _, err := w.Submit(ctx, eventstore.Request{Actor: "test", Command: domain.UpdateFlow{ID: name + "-id",
					Fields: domain.FlowFields{Description: &desc}}}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	rep := e.verify(t)
	assert.Equal(t, uint64(clients*each*2), rep.Checked, "every acknowledged request stored once")
	assert.Equal(t, uint64(clients*each*2), w.Head())
	mu.Lock()
	assert.Greater(t, batches, clients*each*2/8-1)
	mu.Unlock()

	// A duplicate name is refused even when the first create is still in
	// flight in an earlier batch.
	name := "dup"
	var results [2]error
	var dwg sync.WaitGroup
	for i := range results {
		dwg.Go(func() { _, results[i] = w.Submit(ctx, create(name)) })
	}
	dwg.Wait()
	ok := 0
	for _, err := range results {
		if err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, domain.ErrConflict)
		}
	}
	assert.Equal(t, 1, ok)
}

// TestPipelinedIdempotency: concurrent requests with one idempotency key,
// spread over batches in flight, store one event and all get it.
func TestPipelinedIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.writer(t, func(c *eventstore.WriterConfig) { c.MaxInFlight = 3; c.MaxBatchEvents = 2 })
	ctx := context.Background()
	var wg sync.WaitGroup
	seqs := make([]uint64, 20)
	for i := range seqs {
		wg.Go(func() {
			req := create("idem")
			req.IdempotencyKey = "k"
			res, err := w.Submit(ctx, req)
			if assert.NoError(t, err) && assert.Len(t, res.Events, 1) {
				seqs[i] = res.Events[0].Seq
			}
		})
		// Filler requests so the key's requests land in different batches.
		wg.Go(func() { _, _ = w.Submit(ctx, create(fmt.Sprintf("fill-%d", i))) })
	}
	wg.Wait()
	for _, s := range seqs {
		assert.Equal(t, seqs[0], s, "every request with the key gets the one stored event")
	}
	rep := e.verify(t)
	assert.Equal(t, uint64(21), rep.Checked)
}

// TestPipelinedClose: closing under load loses nothing acknowledged: the
// stored events are exactly the requests that were answered with success.
func TestPipelinedClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.cfg
	cfg.MaxInFlight, cfg.MaxBatchEvents = 3, 4
	w, err := eventstore.NewWriter(context.Background(), cfg)
	require.NoError(t, err)
	ctx := context.Background()
	var ok, refused sync.Map
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("c-%d-%d", c, i)
				if _, err := w.Submit(ctx, create(name)); err == nil {
					ok.Store(name, true)
				} else {
					refused.Store(name, err)
				}
			}
		})
	}
	time.Sleep(30 * time.Millisecond)
	w.Close()
	wg.Wait()
	n := 0
	ok.Range(func(any, any) bool { n++; return true })
	refused.Range(func(_, v any) bool {
		assert.ErrorIs(t, v.(error), eventstore.ErrClosed)
		return true
	})
	rep := e.verify(t)
	assert.Equal(t, uint64(n), rep.Checked, "stored events = acknowledged requests")
}

// big is a command whose one event is larger than the stream accepts.
type big struct{}

func (big) Decide(*domain.State, time.Time) ([]domain.Event, error) {
	return []domain.Event{{Type: "test.big", Aggregate: "test", AggregateID: "big", Data: map[string]string{"pad": strings.Repeat("x", 4096)}}}, nil
}

// TestPipelinedFailureRetriesTheRest: when a batch is refused (here: a
// message over the stream's size limit), the batches published after it
// cannot land; the writer waits for their answers, rolls the state back,
// tries the refused batch's requests one by one (so only the oversized
// one fails) and decides the others again. Nothing acknowledged is lost,
// nothing is stored twice and the chain stays whole, with one batch in
// flight or three.
func TestPipelinedFailureRetriesTheRest(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{1, 3} {
		t.Run(fmt.Sprintf("in flight %d", depth), func(t *testing.T) {
			t.Parallel()
			refusedBatchTest(t, depth)
		})
	}
}

func refusedBatchTest(t *testing.T, depth int) {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	st, err := e.js.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	cfg.MaxMsgSize = 2048
	_, err = e.js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	w := e.writer(t, func(c *eventstore.WriterConfig) { c.MaxInFlight = depth; c.MaxBatchEvents = 4 })

	var ok atomic.Int64
	var failed sync.Map
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Go(func() {
			for i := 0; i < 40; i++ {
				req := create(fmt.Sprintf("r-%d-%d", c, i))
				if i%13 == 7 {
					req = eventstore.Request{Actor: "test", Command: big{}}
				}
				if _, err := w.Submit(ctx, req); err != nil {
					failed.Store(fmt.Sprintf("%d-%d", c, i), err)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	bigs := 0
	failed.Range(func(k, v any) bool {
		var c, i int
		_, _ = fmt.Sscanf(k.(string), "%d-%d", &c, &i)
		if i%13 == 7 {
			bigs++
		}
		assert.ErrorIs(t, v.(error), eventstore.ErrUnavailable, "request %s", k)
		return true
	})
	assert.Equal(t, 8*3, bigs, "every oversized request fails")
	require.NoError(t, w.Broken())
	rep := e.verify(t)
	assert.Equal(t, uint64(ok.Load()), rep.Checked, "stored events = acknowledged requests")
	assert.Equal(t, int64(8*40-8*3), ok.Load(), "only the oversized requests fail; their batch-mates are retried alone")
}

// TestPipelinedRefusalsAnswerAtOnce: requests held while a batch is in
// flight, and then all refused (so nothing of theirs is published), are
// answered as soon as they are decided, not when some later event wakes
// the writer.
func TestPipelinedRefusalsAnswerAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.writer(t, func(c *eventstore.WriterConfig) { c.MaxInFlight = 3 })
	for round := range 15 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		name := fmt.Sprintf("same-%d", round)
		errs := make([]error, 40)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				// Spread over the first batch's flight, so most are held.
				time.Sleep(time.Duration(i) * 100 * time.Microsecond)
				_, errs[i] = w.Submit(ctx, create(name))
			})
		}
		wg.Wait()
		cancel()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.ErrorIs(t, err, domain.ErrConflict, "round %d", round)
		}
		require.Equal(t, 1, ok, "round %d", round)
	}
	assert.Equal(t, uint64(15), e.verify(t).Checked)
}
