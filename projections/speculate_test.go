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
	"github.com/factstore/factstore/ledger"
	"github.com/factstore/factstore/projections"
)

// foreignBatch seals a batch of flow events on another ledger (another
// key, other ids): events that are never stored on the test's stream.
func foreignBatch(t *testing.T) []ledger.Sealed {
	t.Helper()
	other := eventstoretest.Start(t)
	var got []ledger.Sealed
	cfg := other.WriterConfig()
	cfg.MaxInFlight = 3
	cfg.Staged = func(sealed []ledger.Sealed) { got = append(got, sealed...) }
	w, err := eventstore.NewWriter(context.Background(), cfg)
	require.NoError(t, err)
	defer w.Close()
	cmd := make(createFlows, 5)
	for i := range cmd {
		name := fmt.Sprintf("never-stored-%d", i)
		cmd[i] = domain.CreateFlow{ID: name, Fields: domain.FlowFields{Name: &name}}
	}
	_, err = w.Submit(context.Background(), eventstore.Request{Command: cmd})
	require.NoError(t, err)
	require.Len(t, got, 5)
	return got
}

// runStore opens read models for es and runs the live runner on them until
// the test ends; stop ends it sooner and returns what Run returned.
func runStore(t *testing.T, es *eventstoretest.Env) (*projections.Store, context.Context, func() error) {
	t.Helper()
	s := openStore(t, filepath.Join(t.TempDir(), "rm.db"))
	s.SetKeys(es.Keys)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, projections.RunConfig{JS: es.JS, Stream: eventstore.DefaultStream}) }()
	return s, ctx, func() error { cancel(); return <-ran }
}

// TestSpeculativeApply runs the live runner with the writer staging its
// batches (all of each, the first half of each, or, first, a batch that is
// never stored) under concurrent writers. Whatever was staged, the read
// models end exactly as a rebuild from the stream builds them, and staged
// events are never visible before the stream delivers them.
func TestSpeculativeApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stage   func(s *projections.Store) func([]ledger.Sealed)
		foreign bool // stage a batch that is never stored first
		// wantCommitted and wantAbandoned say whether speculative
		// transactions must have been committed and abandoned.
		wantCommitted, wantAbandoned bool
	}{
		{"every batch staged", func(s *projections.Store) func([]ledger.Sealed) { return s.Stage }, false, true, false},
		{"first half of each batch staged", func(s *projections.Store) func([]ledger.Sealed) {
			return func(sealed []ledger.Sealed) { s.Stage(sealed[:(len(sealed)+1)/2]) }
		}, false, true, false},
		{"a batch that is never stored, then every batch", func(s *projections.Store) func([]ledger.Sealed) { return s.Stage }, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			es := eventstoretest.Start(t)
			s, ctx, stop := runStore(t, es)

			if tt.foreign {
				s.Stage(foreignBatch(t))
				time.Sleep(50 * time.Millisecond) // the runner writes them into its open transaction
				flows, err := s.Flows("")
				require.NoError(t, err)
				assert.Empty(t, flows, "staged events are not visible before they are delivered")
				assert.Equal(t, uint64(0), s.Applied())
			}

			cfg := es.WriterConfig()
			cfg.MaxInFlight = 3
			cfg.Staged = tt.stage(s)
			w, err := eventstore.NewWriter(ctx, cfg)
			require.NoError(t, err)
			extra := 0
			if tt.foreign {
				// The first stored batch has the staged one's sequences
				// and shape (five events, one atomic batch); only its
				// bytes differ.
				cmd := make(createFlows, 5)
				for i := range cmd {
					name := fmt.Sprintf("stored-%d", i)
					cmd[i] = domain.CreateFlow{ID: name, Fields: domain.FlowFields{Name: &name}}
				}
				_, err := w.Submit(ctx, eventstore.Request{Command: cmd})
				require.NoError(t, err)
				extra = len(cmd)
			}
			const writers, each = 16, 25
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for i := range each {
						name := fmt.Sprintf("flow-%d-%d", g, i)
						var cmd domain.Command = domain.CreateFlow{ID: name, Fields: domain.FlowFields{Name: &name}}
						if i%5 == 0 {
							// A command of three events, stored together.
							b, c := name+"-b", name+"-c"
							cmd = createFlows{{ID: name, Fields: domain.FlowFields{Name: &name}},
								{ID: b, Fields: domain.FlowFields{Name: &b}}, {ID: c, Fields: domain.FlowFields{Name: &c}}}
						}
						_, err := w.Submit(ctx, eventstore.Request{Command: cmd})
						assert.NoError(t, err)
					}
				})
			}
			wg.Wait()
			head := w.Head()
			w.Close()
			waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
			defer waitCancel()
			require.NoError(t, s.WaitFor(waitCtx, head))
			require.NoError(t, stop())

			flows, err := s.Flows("")
			require.NoError(t, err)
			assert.Len(t, flows, extra+writers*each+writers*each/5*2)
			live, err := s.Dump()
			require.NoError(t, err)
			rebuilt := openStore(t, filepath.Join(t.TempDir(), "rebuilt.db"))
			rebuilt.SetKeys(es.Keys)
			require.NoError(t, rebuilt.CatchUp(context.Background(), es.Reader, nil))
			want, err := rebuilt.Dump()
			require.NoError(t, err)
			assert.Equal(t, want, live, "the live read models equal a rebuild")

			committed, abandoned := s.SpeculationStats()
			assert.Equal(t, tt.wantCommitted, committed > 0, "speculative transactions committed: %d", committed)
			assert.Equal(t, tt.wantAbandoned, abandoned > 0, "speculative transactions abandoned: %d", abandoned)
		})
	}
}

// TestSpeculationNeverDeliveredIsAbandoned: a staged batch the stream never
// delivers (its publication failed) does not hold the read models' write
// transaction: it is abandoned after a bound, and later events apply.
func TestSpeculationNeverDeliveredIsAbandoned(t *testing.T) {
	t.Parallel()
	es := eventstoretest.Start(t)
	s, ctx, stop := runStore(t, es)

	s.Stage(foreignBatch(t))
	require.Eventually(t, func() bool { _, abandoned := s.SpeculationStats(); return abandoned == 1 },
		5*time.Second, 20*time.Millisecond, "the undelivered speculation is abandoned")
	w, err := eventstore.NewWriter(ctx, es.WriterConfig())
	require.NoError(t, err)
	name := "after"
	res, err := w.Submit(ctx, eventstore.Request{Command: domain.CreateFlow{ID: name, Fields: domain.FlowFields{Name: &name}}})
	require.NoError(t, err)
	w.Close()
	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	require.NoError(t, s.WaitFor(waitCtx, res.LastSeq()))
	flows, err := s.Flows("")
	require.NoError(t, err)
	require.Len(t, flows, 1)
	assert.Equal(t, "after", flows[0].Name)
	require.NoError(t, stop())
}
