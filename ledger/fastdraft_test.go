package ledger

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func randString(r *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "<", ">", "&", "/",
		"é", "€", "\u2028", "\u2029", "😀", "\xff", "\xc3", "\xed\xa0\x80", "\ufffd", "\u00e9"}
	n := r.IntN(12)
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, alphabet[r.IntN(len(alphabet))]...)
	}
	return string(b)
}

// TestFastDraftMatches: the direct canonical form equals the JCS library's
// for random envelopes (escapes, non-BMP characters, invalid UTF-8).
func TestFastDraftMatches(t *testing.T) {
	t.Parallel()
	n := 20000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		data, err := CanonicalJSON(map[string]any{"x": randString(r), "n": 1, "b": true})
		if err != nil {
			t.Fatal(err)
		}
		e := Envelope{ID: randString(r), Type: randString(r), Org: randString(r), Aggregate: randString(r), AggregateID: randString(r),
			Actor: randString(r), Time: randString(r), Data: data}
		a, errA := NewDraft(e, "s")
		b, errB := NewDraftCanonicalData(e, "s")
		if (errA != nil) != (errB != nil) {
			t.Fatalf("%+v: errors differ: %v vs %v", e, errA, errB)
		}
		if errA != nil {
			continue
		}
		if !bytes.Equal(a.prefix, b.prefix) || !bytes.Equal(a.suffix, b.suffix) {
			t.Fatalf("%+v:\n%q\n%q\n%q\n%q", e, a.prefix, b.prefix, a.suffix, b.suffix)
		}
	}
}

func TestSealAllMatches(t *testing.T) {
	s, _, err := LoadOrCreateSigner(t.TempDir() + "/k.json")
	if err != nil {
		t.Fatal(err)
	}
	var ds []Draft
	for i := 0; i < 50; i++ {
		d, _ := NewDraft(Envelope{ID: "id", Type: "t", Org: "_", Data: []byte(`{"a":1}`)}, "s")
		ds = append(ds, d)
	}
	got := s.SealAll(ds, 7, ZeroHash, 2)
	prev := ZeroHash
	for i, d := range ds {
		w := s.Seal(d, uint64(7+i), prev)
		prev = w.Hash
		if w.Hash != got[i].Hash || string(w.Raw) != string(got[i].Raw) || w.Seq != got[i].Seq {
			t.Fatalf("%d differs", i)
		}
	}
}
