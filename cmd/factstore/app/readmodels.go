package app

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/factstore/factstore/projections"
)

// The live read models commit without fsync: the stream is the source of
// truth and every commit stores the last applied sequence with the changes,
// so nothing acknowledged depends on them. After the process is killed the
// kernel still holds every write, so the file is exactly as the last commit
// left it. Only a machine crash can lose unsynced pages, and then the file
// may be torn. A marker holding the boot id tells the two apart: it is
// written at start and removed after a clean close; found on start with
// another boot id, the read models are discarded and rebuilt from the stream.

const dirtyMarker = "readmodels.dirty"

// bootIDPath is Linux's per-boot random id.
const bootIDPath = "/proc/sys/kernel/random/boot_id"

func bootID() []byte {
	id, err := os.ReadFile(bootIDPath)
	if err != nil {
		return nil
	}
	return bytes.TrimSpace(id)
}

// OpenReadModels opens the read models for writing without fsync (a
// serving node, `factstore rebuild`), discarding them first if the machine
// restarted since an unclean stop. CloseReadModels ends that.
func OpenReadModels(dataDir string, log *slog.Logger) (*projections.Store, error) {
	marker := filepath.Join(dataDir, dirtyMarker)
	path := ReadModelPath(dataDir)
	if prev, err := os.ReadFile(marker); err == nil { //nolint:gosec // inside the data directory
		now := bootID()
		if now == nil || !bytes.Equal(bytes.TrimSpace(prev), now) {
			log.Warn("read models were not closed cleanly before a machine restart; rebuilding them from the ledger", "path", path)
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("discard read models: %w", err)
			}
		}
	}
	if err := writeSynced(marker, bootID()); err != nil {
		return nil, err
	}
	store, err := projections.Open(path, log)
	if err != nil {
		return nil, err
	}
	store.SetNoSync(true)
	return store, nil
}

// CloseReadModels syncs and closes the read models, then removes the marker.
func CloseReadModels(dataDir string, store *projections.Store) error {
	if err := store.Sync(); err != nil {
		_ = store.Close()
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dataDir, dirtyMarker))
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // inside the data directory
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}
