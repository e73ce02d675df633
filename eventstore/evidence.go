package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"
)

// EvidenceBucket is the JetStream object store bucket holding evidence
// files, each under the hex SHA-256 of its bytes.
const EvidenceBucket = "factstore-evidence"

// ErrEvidenceNotFound means no stored file has that hash.
var ErrEvidenceNotFound = errors.New("evidence file not found")

// EvidenceStore keeps evidence files content-addressed in a JetStream
// object store: the ledger records a file's hash, name and size, never its
// bytes, and the same bytes are stored once.
type EvidenceStore struct {
	obs jetstream.ObjectStore
}

// OpenEvidenceStore opens (creating if needed) the evidence bucket with
// file storage.
func OpenEvidenceStore(ctx context.Context, js jetstream.JetStream, replicas int) (*EvidenceStore, error) {
	if replicas < 1 {
		replicas = 1
	}
	obs, err := js.ObjectStore(ctx, EvidenceBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: EvidenceBucket, Description: "Factstore evidence files, by SHA-256",
			Storage: jetstream.FileStorage, Replicas: replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: evidence bucket: %w", err)
	}
	return &EvidenceStore{obs: obs}, nil
}

// Has reports whether a file with hash is stored.
func (e *EvidenceStore) Has(ctx context.Context, hash string) (bool, error) {
	_, err := e.obs.GetInfo(ctx, hash)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("eventstore: evidence %s: %w", hash, err)
	}
}

// Put stores r's bytes under hash unless a file with that hash is already
// stored. The caller computed hash over exactly these bytes. It returns
// once JetStream has stored every chunk.
func (e *EvidenceStore) Put(ctx context.Context, hash, contentType string, r io.Reader) error {
	if ok, err := e.Has(ctx, hash); err != nil || ok {
		return err
	}
	meta := jetstream.ObjectMeta{Name: hash, Metadata: map[string]string{"content-type": contentType}}
	if _, err := e.obs.Put(ctx, meta, r); err != nil {
		return fmt.Errorf("eventstore: store evidence %s: %w", hash, err)
	}
	return nil
}

// Get opens the file stored under hash; the caller closes it.
func (e *EvidenceStore) Get(ctx context.Context, hash string) (io.ReadCloser, uint64, error) {
	res, err := e.obs.Get(ctx, hash)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", ErrEvidenceNotFound, hash)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("eventstore: evidence %s: %w", hash, err)
	}
	info, err := res.Info()
	if err != nil {
		_ = res.Close()
		return nil, 0, fmt.Errorf("eventstore: evidence %s: %w", hash, err)
	}
	return res, info.Size, nil
}
