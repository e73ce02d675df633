package ledger_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/ledger"
)

func TestPrefetch(t *testing.T) {
	t.Parallel()
	items := make([]ledger.Item, 1000)
	for i := range items {
		items[i] = ledger.Item{Pos: uint64(i + 1)}
	}
	ctx := context.Background()
	src, stop := ledger.Prefetch(ctx, ledger.SliceSource(items), 16)
	for i := range items {
		it, err := src(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), it.Pos, "order kept")
	}
	_, err := src(ctx)
	require.ErrorIs(t, err, io.EOF)
	_, err = src(ctx)
	require.ErrorIs(t, err, io.EOF, "EOF sticks")
	stop()

	// Stopping half way does not hang, and a source error comes through.
	src, stop = ledger.Prefetch(ctx, ledger.SliceSource(items), 4)
	_, err = src(ctx)
	require.NoError(t, err)
	stop()

	boom := errors.New("boom")
	n := 0
	failing := func(context.Context) (ledger.Item, error) {
		n++
		if n > 3 {
			return ledger.Item{}, boom
		}
		return ledger.Item{Pos: uint64(n)}, nil
	}
	src, stop = ledger.Prefetch(ctx, failing, 2)
	defer stop()
	for i := 0; i < 3; i++ {
		_, err = src(ctx)
		require.NoError(t, err)
	}
	_, err = src(ctx)
	require.ErrorIs(t, err, boom)
}
