package projections

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestSearchDocRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []searchDoc{
		{Type: "flow", ID: "f1", Title: "Payments", Description: "Settles ünïcode \"quoted\" cards\n", Metadata: map[string]string{"orgSlug": "acme"}, Text: "payments\x00settles"},
		{Type: "trail", ID: "t1", Metadata: map[string]string{}},
		{Type: "attestation", ID: "a1", Title: "junit (unit)", Description: "PASSED", Metadata: map[string]string{"status": "PASSED", "trailId": "t1", "flowId": "f1"}, Text: "junit\x00unit"},
	}
	for _, d := range cases {
		t.Run(d.Type, func(t *testing.T) {
			t.Parallel()
			enc := d.encode()
			text, err := docText(enc.value)
			require.NoError(t, err)
			assert.Equal(t, d.Text, string(text))
			got, err := decodeDoc(d.Type, enc.value)
			require.NoError(t, err)
			assert.Equal(t, d, got)
			// Every truncation is an error, never a panic or a wrong document.
			for n := range len(enc.value) {
				_, err := decodeDoc(d.Type, enc.value[:n])
				require.ErrorIs(t, err, errBadSearchDoc, "truncated to %d bytes", n)
			}
			_, err = decodeDoc(d.Type, append(enc.value, 0))
			assert.ErrorIs(t, err, errBadSearchDoc, "trailing byte")
		})
	}
}

// A document keeps the key of the event that created it through updates,
// status changes and deletion, so the bucket is only ever appended to.
func TestSearchDocKeepsItsKey(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	update := func(fn func(tx *bolt.Tx) error) { t.Helper(); require.NoError(t, db.Update(fn)) }
	keys := func() (docs, ids []string) {
		t.Helper()
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			_ = tx.Bucket(bucketSearch).ForEach(func(k, _ []byte) error { docs = append(docs, string(k)); return nil })
			return tx.Bucket(bucketSearchIDs).ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil })
		}))
		return docs, ids
	}
	doc := func(tx *bolt.Tx, key string) searchDoc {
		t.Helper()
		d, err := decodeDoc("trail", tx.Bucket(bucketSearch).Get([]byte(key)))
		require.NoError(t, err)
		return d
	}
	update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSearch, bucketSearchIDs} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
	trail := func(title string) *encodedDoc {
		return (&searchDoc{Type: "trail", ID: "t1", Title: title, Metadata: map[string]string{"status": "PENDING"}, Text: title}).encode()
	}
	first := "trail\x00" + string(seqKey(5))
	update(func(tx *bolt.Tx) error { return trail("v1").put(tx, seqKey(5)) })
	update(func(tx *bolt.Tx) error { return trail("v2").put(tx, seqKey(9)) })
	update(func(tx *bolt.Tx) error { return updateSearchStatus(tx, "trail", "t1", "COMPLIANT") })
	docs, ids := keys()
	assert.Equal(t, []string{first}, docs)
	assert.Equal(t, []string{"trail\x00t1"}, ids)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		d := doc(tx, first)
		assert.Equal(t, "v2", d.Title)
		assert.Equal(t, "COMPLIANT", d.Metadata["status"])
		return nil
	}))

	update(func(tx *bolt.Tx) error { return deleteSearchDoc(tx, "trail", "t1") })
	docs, ids = keys()
	assert.Empty(t, docs)
	assert.Empty(t, ids)
	// Status changes of a document that is gone change nothing.
	update(func(tx *bolt.Tx) error { return updateSearchStatus(tx, "trail", "t1", "FAILED") })
	docs, _ = keys()
	assert.Empty(t, docs)
}
