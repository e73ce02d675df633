package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
)

func startForTest(t *testing.T, dir string, log *bytes.Buffer) *Node {
	t.Helper()
	n, err := Start(context.Background(), Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(log, nil))})
	require.NoError(t, err)
	return n
}

func addFlows(t *testing.T, n *Node, k int) {
	t.Helper()
	for i := 0; i < k; i++ {
		name := fmt.Sprintf("f%d", i)
		res, err := n.Writer.Submit(context.Background(), eventstore.Request{Command: domain.CreateFlow{ID: name, Fields: domain.FlowFields{Name: &name}}})
		require.NoError(t, err)
		require.NoError(t, n.Store.WaitFor(context.Background(), res.LastSeq()))
	}
}

func TestReadModelsSurviveAProcessCrash(t *testing.T) {
	if bootID() == nil {
		t.Skip("no boot id on this system")
	}
	dir := t.TempDir()
	var log bytes.Buffer
	n := startForTest(t, dir, &log)
	addFlows(t, n, 10)
	require.FileExists(t, filepath.Join(dir, dirtyMarker), "marker while running")
	n.Close()
	require.NoFileExists(t, filepath.Join(dir, dirtyMarker), "a clean close removes the marker")

	// A killed process leaves the marker with this boot's id: the read
	// models are kept as they are.
	require.NoError(t, os.WriteFile(filepath.Join(dir, dirtyMarker), bootID(), 0o600))
	n = startForTest(t, dir, &log)
	assert.NotContains(t, log.String(), "rebuilding")
	flows, err := n.Store.Flows("")
	require.NoError(t, err)
	assert.Len(t, flows, 10)
	n.Close()
}

func TestReadModelsAreRebuiltAfterAMachineCrash(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	n := startForTest(t, dir, &log)
	addFlows(t, n, 10)
	n.Close()

	// The machine went down with the server running: another boot id, and
	// a read-model file that may be torn (here: garbage).
	require.NoError(t, os.WriteFile(filepath.Join(dir, dirtyMarker), []byte("a-previous-boot"), 0o600))
	require.NoError(t, os.WriteFile(ReadModelPath(dir), bytes.Repeat([]byte{0xAB}, 64<<10), 0o600))
	n = startForTest(t, dir, &log)
	defer n.Close()
	assert.Contains(t, log.String(), "rebuilding them from the ledger")
	flows, err := n.Store.Flows("")
	require.NoError(t, err)
	assert.Len(t, flows, 10)
	assert.Equal(t, uint64(10), n.Store.Applied())
}
