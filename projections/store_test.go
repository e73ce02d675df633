package projections_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/eventstore/eventstoretest"
	"github.com/factstore/factstore/ledger"
	"github.com/factstore/factstore/projections"
)

// ledgerOf starts an embedded JetStream and appends n flow events signed by
// a fresh key; it returns the reader and the keyring trusting that key.
func ledgerOf(t *testing.T, n int) (*eventstore.Reader, *ledger.Keyring) {
	t.Helper()
	es := eventstoretest.Start(t)
	w, err := eventstore.NewWriter(context.Background(), es.WriterConfig())
	require.NoError(t, err)
	t.Cleanup(w.Close)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("f%d", i)
		_, err := w.Submit(context.Background(), eventstore.Request{Command: domain.CreateFlow{ID: name, Fields: domain.FlowFields{Name: &name}}})
		require.NoError(t, err)
	}
	return es.Reader, es.Keys
}

func openStore(t *testing.T, path string) *projections.Store {
	t.Helper()
	s, err := projections.Open(path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestVerifiedCheckpoint(t *testing.T) {
	t.Parallel()
	reader, keys := ledgerOf(t, 40)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rm.db")
	s := openStore(t, path)

	// Without keys nothing is signature-verified, so no checkpoint moves.
	require.NoError(t, s.CatchUp(ctx, reader, nil))
	assert.Equal(t, ledger.Checkpoint{}, s.Verified())
	require.NoError(t, s.Reset())

	s.SetKeys(keys)
	require.NoError(t, s.CatchUp(ctx, reader, nil))
	head, err := reader.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, ledger.Checkpoint{Seq: 40, Hash: head.Hash}, s.Verified())

	// A rebuild keeps the checkpoint: events up to it replay on hashes and
	// links alone, so even a keyring without the key rebuilds them.
	require.NoError(t, s.Reset())
	assert.Equal(t, uint64(0), s.Applied())
	empty, err := ledger.NewKeyring()
	require.NoError(t, err)
	s.SetKeys(empty)
	require.NoError(t, s.CatchUp(ctx, reader, nil))
	assert.Equal(t, uint64(40), s.Applied())
	assert.Nil(t, s.Halted())
	flows, err := s.Flows("")
	require.NoError(t, err)
	assert.Len(t, flows, 40)

	// The checkpoint is durable across reopening.
	require.NoError(t, s.Close())
	s2 := openStore(t, path)
	assert.Equal(t, ledger.Checkpoint{Seq: 40, Hash: head.Hash}, s2.Verified())
	assert.Equal(t, uint64(40), s2.Applied())
}

// Replaying another history against a checkpoint (the stream was rewritten
// and re-signed, or the data directory points at another ledger) halts at
// the checkpoint's sequence.
func TestCheckpointDetectsRewrittenHistory(t *testing.T) {
	t.Parallel()
	original, keys := ledgerOf(t, 10)
	other, otherKeys := ledgerOf(t, 12)
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "rm.db"))
	s.SetKeys(keys)
	require.NoError(t, s.CatchUp(ctx, original, nil))
	require.NoError(t, s.Reset())

	both, err := ledger.NewKeyring(append(keys.Keys(), otherKeys.Keys()...)...)
	require.NoError(t, err)
	s.SetKeys(both)
	err = s.CatchUp(ctx, other, nil)
	require.ErrorIs(t, err, projections.ErrHalted)
	require.NotNil(t, s.Halted())
	assert.Equal(t, uint64(10), s.Halted().Seq)
	assert.Contains(t, s.Halted().Reason, "verified checkpoint")
	assert.Equal(t, uint64(9), s.Applied())

	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	require.ErrorIs(t, s.WaitFor(wctx, 11), projections.ErrHalted)
}

// Events past the checkpoint must be signed by a trusted key.
func TestUntrustedSignaturePastCheckpointHalts(t *testing.T) {
	t.Parallel()
	reader, _ := ledgerOf(t, 5)
	other, err := ledger.NewKeyring()
	require.NoError(t, err)
	s := openStore(t, filepath.Join(t.TempDir(), "rm.db"))
	s.SetKeys(other)
	err = s.CatchUp(context.Background(), reader, nil)
	require.ErrorIs(t, err, projections.ErrHalted)
	assert.Equal(t, uint64(1), s.Halted().Seq)
	assert.Contains(t, s.Halted().Reason, "unknown signing key")
	assert.Equal(t, uint64(0), s.Applied())
}

// An event whose data is not JSON, yet whose hash and signature are right
// (a writer bug, or a forger holding a trusted key), is a broken link at its
// sequence: the projector decodes every payload instead of the checker
// scanning it first (ledger.Checker.DataChecked), and must still halt there.
func TestSignedEventWithUnreadableDataHalts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, aggregate, eventType, data string
	}{
		{"flow payload", "flow", domain.EventFlowCreated, `{"id":"bad","name":tru}`},
		{"payload no read model decodes", "assertion", "compliance.asserted", `{"compliant":true,"x":[1,}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := eventstoretest.Start(t)
			w, err := eventstore.NewWriter(context.Background(), es.WriterConfig())
			require.NoError(t, err)
			t.Cleanup(w.Close)
			for _, name := range []string{"a", "b"} {
				_, err := w.Submit(context.Background(), eventstore.Request{Command: domain.CreateFlow{ID: name, Fields: domain.FlowFields{Name: &name}}})
				require.NoError(t, err)
			}
			head, err := es.Reader.Head(context.Background())
			require.NoError(t, err)

			_, priv, err := ed25519.GenerateKey(rand.Reader)
			require.NoError(t, err)
			pub := priv.Public().(ed25519.PublicKey)
			body := fmt.Sprintf(`{"actor":"x","aggregate":%q,"aggregateId":"bad","data":%s,"id":"e3","org":"","prev":%q,"seq":3,"time":"2026-11-27T10:00:00Z","type":%q,"v":1`,
				tc.aggregate, tc.data, head.Hash, tc.eventType)
			sum := sha256.Sum256([]byte(body + "}"))
			raw := fmt.Sprintf(`%s,"hash":%q,"keyId":%q,"sig":%q}`, body, hex.EncodeToString(sum[:]), ledger.KeyID(pub),
				base64.StdEncoding.EncodeToString(ed25519.Sign(priv, sum[:])))
			_, err = es.JS.Publish(context.Background(), eventstore.Subject("", tc.aggregate, tc.eventType), []byte(raw))
			require.NoError(t, err)

			keys, err := ledger.NewKeyring(append(es.Keys.Keys(), ledger.PublicKey{KeyID: ledger.KeyID(pub), Algorithm: "ed25519",
				PublicKey: base64.StdEncoding.EncodeToString(pub)})...)
			require.NoError(t, err)
			s := openStore(t, filepath.Join(t.TempDir(), "rm.db"))
			s.SetKeys(keys)
			err = s.CatchUp(context.Background(), es.Reader, nil)
			require.ErrorIs(t, err, projections.ErrHalted)
			require.NotNil(t, s.Halted())
			assert.Equal(t, uint64(3), s.Halted().Seq)
			assert.Contains(t, s.Halted().Reason, "unreadable event")
			assert.Equal(t, uint64(2), s.Applied(), "the events before it stay applied")
		})
	}
}

// TestUnsyncedStoreAsAKilledProcessLeavesIt copies the file of a store that
// commits without fsync and grows without bbolt's truncate (SetNoSync), as
// a killed process leaves it in the page cache, while it is open: the copy
// opens, passes bbolt's consistency check and holds every commit.
func TestUnsyncedStoreAsAKilledProcessLeavesIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	es := eventstoretest.Start(t)
	w, err := eventstore.NewWriter(ctx, es.WriterConfig())
	require.NoError(t, err)
	t.Cleanup(w.Close)
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "rm.db"))
	s.SetNoSync(true)
	description := strings.Repeat("grows the file ", domain.MaxDescLen/15)
	const rounds, perRound = 8, 400
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		errs := make(chan error, perRound)
		for i := 0; i < perRound; i++ {
			wg.Go(func() {
				name := fmt.Sprintf("f%d-%d", r, i)
				_, err := w.Submit(ctx, eventstore.Request{Command: domain.CreateFlow{ID: name,
					Fields: domain.FlowFields{Name: &name, Description: &description}}})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, s.CatchUp(ctx, es.Reader, nil)) // commits that grow the file
	}
	want, err := s.Dump()
	require.NoError(t, err)

	image, err := os.ReadFile(filepath.Join(dir, "rm.db"))
	require.NoError(t, err)
	// Opening the store preallocates 16 MiB with truncate; the rest grew
	// by the commits' own writes.
	require.Greater(t, len(image), 24<<20, "the test must grow the file past bbolt's first allocation")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "killed.db"), image, 0o600))
	killed := openStore(t, filepath.Join(dir, "killed.db"))
	require.NoError(t, killed.Check())
	assert.Equal(t, uint64(rounds*perRound), killed.Applied())
	got, err := killed.Dump()
	require.NoError(t, err)
	assert.Equal(t, want, got)
	flows, err := killed.Flows("")
	require.NoError(t, err)
	assert.Len(t, flows, rounds*perRound)
}

// TestReadModelsOfAnotherSchemaAreRebuilt opens a file written by another
// release (another schema version, and an index this release no longer
// keeps): it is emptied on open, nothing of the old layout survives, and
// replaying the ledger builds exactly what this release builds.
func TestReadModelsOfAnotherSchemaAreRebuilt(t *testing.T) {
	t.Parallel()
	reader, keys := ledgerOf(t, 30)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rm.db")
	s := openStore(t, path)
	s.SetKeys(keys)
	require.NoError(t, s.CatchUp(ctx, reader, nil))
	want, err := s.Dump()
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("10")); err != nil {
			return err
		}
		old, err := tx.CreateBucket([]byte("trail_facts"))
		if err != nil {
			return err
		}
		return old.Put([]byte("t1\x00\x00\x00\x00\x00\x00\x00\x00\x01"), []byte("S"))
	}))
	require.NoError(t, db.Close())

	reopened := openStore(t, path)
	assert.Equal(t, uint64(0), reopened.Applied(), "the old file's progress is forgotten")
	flows, err := reopened.Flows("")
	require.NoError(t, err)
	assert.Empty(t, flows)
	reopened.SetKeys(keys)
	require.NoError(t, reopened.CatchUp(ctx, reader, nil))
	got, err := reopened.Dump()
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
