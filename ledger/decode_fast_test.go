package ledger

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sealedSamples returns stored envelopes as Seal writes them, with varied
// content (escapes, unicode, nesting) in data and header fields.
func sealedSamples(t testing.TB, r *rand.Rand, n int) [][]byte {
	t.Helper()
	s := NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)), time.Unix(0, 0))
	prev := ZeroHash
	var out [][]byte
	for i := 0; i < n; i++ {
		data, err := CanonicalJSON(map[string]any{"s": randString(r), "n": r.IntN(1000), "nested": map[string]any{"a": []any{randString(r), 1.5, nil, true}}})
		if err != nil {
			t.Fatal(err)
		}
		header := plainString
		if i%4 == 3 {
			header = randString // escapes and control characters: the fallback path
		}
		e := Envelope{ID: header(r), Type: "flow.created", Org: header(r), Aggregate: "flow", AggregateID: header(r),
			Actor: header(r), Time: FormatTime(time.Unix(int64(i), 0)), Data: data}
		d, err := NewDraftCanonicalData(e, "s")
		if err != nil {
			continue
		}
		sealed := s.Seal(d, uint64(i+1), prev)
		prev = sealed.Hash
		out = append(out, sealed.Raw)
	}
	return out
}

// plainString is an id-like or accented string that needs no escaping.
func plainString(r *rand.Rand) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.:é日本🙂"
	rs := []rune(alphabet)
	out := make([]rune, 1+r.IntN(24))
	for i := range out {
		out[i] = rs[r.IntN(len(rs))]
	}
	return string(out)
}

// checkSameAsEncodingJSON fails if decodeFast accepts raw but decodes it
// differently from encoding/json. Without the data scan it must find the
// same envelope whenever the data is JSON.
func checkSameAsEncodingJSON(t testing.TB, raw []byte) bool {
	t.Helper()
	fast, ok := decodeFast(raw, false)
	if unscanned, uok := decodeFast(raw, true); uok && json.Valid(unscanned.Data) {
		if !ok || !reflect.DeepEqual(*fast, *unscanned) {
			t.Fatalf("without the data scan the fast path decodes differently (ok %v):\n%+v\n%q", ok, unscanned, raw)
		}
	} else if ok {
		t.Fatalf("the fast path accepts only with the data scan: %q", raw)
	}
	if !ok {
		return false
	}
	var slow Envelope
	if err := json.Unmarshal(raw, &slow); err != nil {
		t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, raw)
	}
	if !reflect.DeepEqual(*fast, slow) {
		t.Fatalf("fast path differs from encoding/json:\n%+v\n%+v\n%q", *fast, slow, raw)
	}
	return true
}

func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 9))
	samples := sealedSamples(t, r, 400)
	taken := 0
	for _, raw := range samples {
		if checkSameAsEncodingJSON(t, raw) {
			taken++
		}
		// Every single-byte mutation either falls back or decodes as
		// encoding/json does.
		for k := 0; k < 20; k++ {
			m := append([]byte(nil), raw...)
			m[r.IntN(len(m))] = byte(r.IntN(256))
			checkSameAsEncodingJSON(t, m)
		}
	}
	if taken < len(samples)/4 {
		t.Fatalf("fast path taken for only %d of %d sealed envelopes", taken, len(samples))
	}
	// Layouts other than Seal's always fall back.
	for _, raw := range []string{
		`{"v":1}`, ``, `{}`,
		`{"actor":"a","aggregate":"b","aggregateId":"c","data":{},"id":"d","org":"e","prev":"f","seq":01,"time":"t","type":"y","v":1,"hash":"h","keyId":"k","sig":"s"}`,
		`{"actor":"a","aggregate":"b","aggregateId":"c","data":{},"id":"d","org":"e","prev":"f","seq":1,"time":"t","type":"y","v":1,"hash":"h","keyId":"k","sig":"s","actor":"x"}`,
		`{"actor":"a","aggregate":"b","aggregateId":"c","data":{"x":},"id":"d","org":"e","prev":"f","seq":1,"time":"t","type":"y","v":1,"hash":"h","keyId":"k","sig":"s"}`,
		`{"actor":"a","aggregate":"b","aggregateId":"c","data":{},"id":"d","org":"e","prev":"f","seq":99999999999999999,"time":"t","type":"y","v":1,"hash":"h","keyId":"k","sig":"s"}`,
	} {
		if _, ok := decodeFast([]byte(raw), false); ok {
			t.Errorf("fast path accepted %q", raw)
		}
	}
	// A string with escapes keeps the fast path and is decoded by
	// encoding/json, token alone.
	escaped := []byte(`{"actor":"a\u0041\n","aggregate":"b","aggregateId":"c","data":{},"id":"d","org":"e","prev":"f","seq":1,"time":"t","type":"y","v":1,"hash":"h","keyId":"k","sig":"s"}`)
	if !checkSameAsEncodingJSON(t, escaped) {
		t.Errorf("fast path fell back on an escaped string: %q", escaped)
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, raw := range sealedSamples(f, rand.New(rand.NewPCG(1, 1)), 8) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkSameAsEncodingJSON(t, raw)
	})
}

func BenchmarkDecode(b *testing.B) {
	raw := sealedSamples(b, rand.New(rand.NewPCG(1, 1)), 1)[0]
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, ok := decodeFast(raw, false); !ok {
				b.Fatal("fell back")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var e Envelope
			_ = json.Unmarshal(raw, &e)
		}
	})
	// A flow event as the rebuild benchmark writes them: a 1 KiB description.
	data, err := CanonicalJSON(map[string]any{"id": "0192f3a4-1111-7222-8333-444455556666", "name": "flow-1",
		"description": strings.Repeat("Settles card transactions, \"quoted\". ", 26), "tags": map[string]string{}})
	if err != nil {
		b.Fatal(err)
	}
	d, err := NewDraftCanonicalData(Envelope{ID: "e1", Type: "flow.created", Aggregate: "flow", AggregateID: "f1",
		Actor: "anonymous", Time: FormatTime(time.Unix(1, 0)), Data: data}, "s")
	if err != nil {
		b.Fatal(err)
	}
	flow := NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)), time.Unix(0, 0)).Seal(d, 1, ZeroHash).Raw
	for _, skip := range []bool{false, true} {
		b.Run(fmt.Sprintf("fast, 1 KiB flow, skipDataScan=%v", skip), func(b *testing.B) {
			for b.Loop() {
				if _, ok := decodeFast(flow, skip); !ok {
					b.Fatal("fell back")
				}
			}
		})
	}
}
