package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/eventstore/eventstoretest"
	"github.com/factstore/factstore/projections"
)

// createFlows is one command that defines several flows: its events are
// stored as one atomic batch.
type createFlows []domain.CreateFlow

func (c createFlows) Decide(st *domain.State, now time.Time) ([]domain.Event, error) {
	var out []domain.Event
	for _, f := range c {
		evs, err := f.Decide(st, now)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// TestRunAppliesAtomicBatchesWhole: the live runner never ends a read-model
// transaction inside an atomic batch, so the events of one command (and of
// one group commit) become visible together and cost one commit, however
// the consumer happens to deliver them.
func TestRunAppliesAtomicBatchesWhole(t *testing.T) {
	t.Parallel()
	for _, staged := range []bool{false, true} {
		t.Run(fmt.Sprintf("staged=%t", staged), func(t *testing.T) {
			t.Parallel()
			runAppliesAtomicBatchesWhole(t, staged)
		})
	}
}

// runAppliesAtomicBatchesWhole is TestRunAppliesAtomicBatchesWhole with the
// events applied as delivered, or staged by a pipelined writer first
// (speculate.go).
func runAppliesAtomicBatchesWhole(t *testing.T, staged bool) {
	t.Helper()
	es := eventstoretest.Start(t)
	s := openStore(t, filepath.Join(t.TempDir(), "rm.db"))
	s.SetKeys(es.Keys)

	var mu sync.Mutex
	var txSizes []int
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() {
		ran <- s.Run(ctx, projections.RunConfig{JS: es.JS, Stream: eventstore.DefaultStream,
			ObserveApply: func(n int, _ time.Duration) { mu.Lock(); txSizes = append(txSizes, n); mu.Unlock() }})
	}()

	// ObserveAppend runs on the writer's goroutine, once per stored batch,
	// in the order of the stream.
	var batchSizes []int
	cfg := es.WriterConfig()
	cfg.ObserveAppend = func(n int, _ time.Duration) { batchSizes = append(batchSizes, n) }
	if staged {
		cfg.MaxInFlight = 3
		cfg.Staged = s.Stage
	}
	w, err := eventstore.NewWriter(ctx, cfg)
	require.NoError(t, err)

	const commands, perCommand = 12, 150
	var wg sync.WaitGroup
	for c := range commands {
		wg.Go(func() {
			cmd := make(createFlows, perCommand)
			for i := range cmd {
				name := fmt.Sprintf("flow-%d-%d", c, i)
				cmd[i] = domain.CreateFlow{ID: name + "-id", Fields: domain.FlowFields{Name: &name}}
			}
			_, err := w.Submit(ctx, eventstore.Request{Actor: "test", Command: cmd})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	w.Close()
	total := uint64(commands * perCommand)
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	defer waitCancel()
	require.NoError(t, s.WaitFor(waitCtx, total))
	cancel()
	require.NoError(t, <-ran)

	// Every transaction ends where a stored batch ends.
	ends := map[int]bool{}
	sum := 0
	for _, n := range batchSizes {
		sum += n
		ends[sum] = true
	}
	require.Equal(t, int(total), sum)
	mu.Lock()
	defer mu.Unlock()
	applied := 0
	for i, n := range txSizes {
		applied += n
		assert.True(t, ends[applied], "transaction %d ends at event %d, inside an atomic batch (batches %v, transactions %v)",
			i, applied, batchSizes, txSizes)
	}
	assert.Equal(t, int(total), applied)
	flows, err := s.Flows("")
	require.NoError(t, err)
	assert.Len(t, flows, int(total))
	if committed, _ := s.SpeculationStats(); staged {
		assert.Positive(t, committed, "batches were applied speculatively")
	}
}
