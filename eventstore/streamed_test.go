package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/eventstore/eventstoretest"
	"github.com/factstore/factstore/ledger"
)

// TestStreamedBatchesKeepTheirLimits: batches streamed while they are
// collected (closed-loop callers, the server idle between batches) never
// exceed MaxBatchEvents; what does not fit is stored in the next batch,
// each request once, in one chain.
func TestStreamedBatchesKeepTheirLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var biggest atomic.Int64
	w := e.writer(t, func(c *eventstore.WriterConfig) {
		c.MaxInFlight = 3
		c.MaxBatchEvents = 5
		c.ObserveAppend = func(n int, _ time.Duration) {
			for {
				b := biggest.Load()
				if int64(n) <= b || biggest.CompareAndSwap(b, int64(n)) {
					return
				}
			}
		}
	})
	ctx := context.Background()
	const callers, each = 16, 30
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				_, err := w.Submit(ctx, create(fmt.Sprintf("s-%d-%d", c, i)))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(callers*each), e.verify(t).Checked, "every acknowledged request stored once")
	assert.LessOrEqual(t, biggest.Load(), int64(5))
	assert.Positive(t, biggest.Load())
}

// TestStreamedBatchAcrossAtomicLimit: commands of many events arriving
// one after the other in a streamed batch go to the next batch when
// together they would pass JetStream's limit of 1,000 messages a batch;
// each command's events stay together.
func TestStreamedBatchAcrossAtomicLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.writer(t, func(c *eventstore.WriterConfig) { c.MaxInFlight = 3; c.MaxBatchEvents = 1000 })
	ctx := context.Background()
	var wg sync.WaitGroup
	res := make([]eventstore.Result, 6)
	for i := range res {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 100 * time.Microsecond)
			var err error
			res[i], err = w.Submit(ctx, eventstore.Request{Actor: "test", Command: many{n: 400}})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	for _, r := range res {
		require.Len(t, r.Events, 400)
		for j, ev := range r.Events {
			assert.Equal(t, r.Events[0].Seq+uint64(j), ev.Seq, "a command's events are contiguous")
		}
	}
	assert.Equal(t, uint64(2400), e.verify(t).Checked)
}

// TestStreamedBatchesPublishOnlyEvents: what a core NATS subscriber on
// the events subjects receives while batches are streamed (bursts, then a
// lone request that ends its streamed batch with one part) is exactly the
// stored events, in order, every message an envelope; a streamed batch of
// several events is marked committed on its last stored event, which the
// read models rely on to apply it in one transaction, and one of a single
// event is stored as a plain message.
//
// Bursts of one chunk and of several (the writer decides a streamed batch
// a chunk at a time and signs and publishes each on another goroutine)
// come out the same.
func TestStreamedBatchesPublishOnlyEvents(t *testing.T) {
	t.Parallel()
	for _, burst := range []int{8, 40} {
		t.Run(fmt.Sprintf("bursts of %d", burst), func(t *testing.T) {
			t.Parallel()
			streamBursts(t, burst)
		})
	}
}

// streamBursts runs rounds of burst concurrent requests, each followed by
// a lone one, and checks what a core subscriber saw against the stream.
func streamBursts(t *testing.T, burst int) {
	t.Helper()
	es := eventstoretest.Start(t)
	cfg := es.WriterConfig()
	cfg.MaxInFlight = 3
	w, err := eventstore.NewWriter(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	seen := make(chan *nats.Msg, 4096)
	sub, err := cfg.Conn.ChanSubscribe(eventstore.SubjectPrefix+">", seen)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	ctx := context.Background()
	const rounds = 20
	for round := range rounds {
		// A burst makes the writer expect concurrent load ...
		var wg sync.WaitGroup
		for i := range burst {
			wg.Go(func() {
				_, err := w.Submit(ctx, create(fmt.Sprintf("burst-%d-%d", round, i)))
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		// ... so a lone request after it is streamed, and nothing follows.
		res, err := w.Submit(ctx, create(fmt.Sprintf("lone-%d", round)))
		require.NoError(t, err)
		assert.Equal(t, uint64((burst+1)*(round+1)), res.Events[0].Seq)
	}
	stored := uint64((burst + 1) * rounds)
	require.NoError(t, cfg.Conn.Flush())
	st, err := es.JS.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	require.Len(t, seen, int(stored), "one published message per stored event")
	batches := map[string][]string{} // batch id -> commit header of each event
	for seq := uint64(1); seq <= stored; seq++ {
		m := <-seen
		e, err := ledger.Decode(m.Data)
		require.NoError(t, err, "message %d is an envelope", seq)
		sm, err := st.GetMsg(ctx, seq)
		require.NoError(t, err)
		assert.Equal(t, sm.Data, m.Data, "published in stored order")
		if id := sm.Header.Get(eventstore.HeaderBatchID); id != "" {
			batches[id] = append(batches[id], sm.Header.Get(eventstore.HeaderBatchCommit))
		}
		assert.Equal(t, seq, e.Seq)
	}
	for id, commits := range batches {
		require.Greater(t, len(commits), 1, "batch %s: one event goes out plain", id)
		assert.Equal(t, "1", commits[len(commits)-1], "batch %s", id)
		for _, c := range commits[:len(commits)-1] {
			assert.Empty(t, c, "batch %s", id)
		}
	}
	rep, err := es.Reader.Verify(ctx, es.Keys, 1, 0, nil)
	require.NoError(t, err)
	assert.True(t, rep.Valid)
	assert.Equal(t, stored, rep.Checked)
}
