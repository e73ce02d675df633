package ledger

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gowebpki/jcs"
)

// checkCanonicalFast fails if canonicalFast accepts raw but answers other
// than jcs.Transform, the reference. It reports whether the fast path took it.
func checkCanonicalFast(t testing.TB, raw []byte) bool {
	t.Helper()
	fast, ok := canonicalFast(raw)
	if !ok {
		return false
	}
	want, err := jcs.Transform(raw)
	if err != nil {
		t.Fatalf("fast path accepted what jcs rejects (%v): %q", err, raw)
	}
	if !bytes.Equal(fast, want) {
		t.Fatalf("canonical forms differ for %q:\nfast %q\njcs  %q", raw, fast, want)
	}
	return true
}

// randValue builds a random JSON-able value: objects with keys that sort
// differently in UTF-16 and UTF-8, strings with escapes and invalid UTF-8,
// integers and floats across ES6's formatting boundaries.
func randValue(r *rand.Rand, depth int) any {
	floats := []float64{0, 1, -1, 0.1, 1.5, -2.25, 1e20, 1e21, 1e-6, 1e-7, 123456789012345, 1234567890123456, 9007199254740993,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324, -0.0000001, 333333333.33333329, 1.0000000000000002}
	keys := []string{"a", "b", "B", "aa", "", "é", "€", "\ufb01", "😀", "\ue000", "\uffff", "\u0080", "key\"q", "k\\s", "k\n", "\x7f", "<&>"}
	switch k := r.IntN(10); {
	case depth > 4 || k < 3:
		return randString(r)
	case k == 3:
		return floats[r.IntN(len(floats))]
	case k == 4:
		return r.Int64N(1<<62) - 1<<61
	case k == 5:
		return []any{nil, true, false}[r.IntN(3)]
	case k < 8:
		n := r.IntN(5)
		a := make([]any, n)
		for i := range a {
			a[i] = randValue(r, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for range r.IntN(6) {
			key := keys[r.IntN(len(keys))]
			if r.IntN(3) == 0 {
				key = randString(r)
			}
			m[key] = randValue(r, depth+1)
		}
		return m
	}
}

// TestCanonicalFastMatchesJCS: for what encoding/json writes, the one-pass
// form equals the JCS library's, and the fast path takes nearly all of it.
func TestCanonicalFastMatchesJCS(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	fast := 0
	for range n {
		raw, err := json.Marshal(randValue(r, 0))
		if err != nil {
			t.Fatal(err)
		}
		if checkCanonicalFast(t, raw) {
			fast++
		}
	}
	// Only strings with lone-surrogate escapes may fall back, and
	// encoding/json never writes those.
	if fast != n {
		t.Errorf("fast path took %d of %d marshalled values", fast, n)
	}
}

// TestCanonicalFastCases pins inputs at the edges: sorting by UTF-16 code
// units, number forms, escapes, and input it must leave to jcs.
func TestCanonicalFastCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		fast           bool
	}{
		{"keys sorted", `{"b":1,"a":{"d":[],"c":{}}}`, `{"a":{"c":{},"d":[]},"b":1}`, true},
		{"utf16 order", `{"\ue000":1,"😀":2}`, "{\"😀\":2,\"\ue000\":1}", true},
		{"escapes rewritten", `{"k":"\u003c\/\u00e9\u2028\u001f\n"}`, "{\"k\":\"</é\u2028\\u001f\\n\"}", true},
		{"float forms", `[1e+21,1e-7,0.000001,1.5,-0,100000000000000000000]`, `[1e+21,1e-7,0.000001,1.5,0,100000000000000000000]`, true},
		{"big integer", `12345678901234567890`, `12345678901234567000`, true},
		{"literals", `[true,false,null]`, `[true,false,null]`, true},
		{"whitespace falls back", `{ "a": 1 }`, `{"a":1}`, false},
		{"lone surrogate falls back", `"\ud800"`, "", false},
		{"invalid UTF-8 beside an escape falls back", "\"\\b\xc3\"", "", false},
		{"duplicate keys fall back", `{"a":1,"a":2}`, "", false},
		{"leading zero rejected", `01`, "", false},
		{"trailing garbage rejected", `{}x`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := canonicalFast([]byte(tc.in))
			if ok != tc.fast {
				t.Fatalf("fast path took it: %t, want %t", ok, tc.fast)
			}
			if ok && string(got) != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			checkCanonicalFast(t, []byte(tc.in))
			if tc.want != "" {
				out, err := canonicalize([]byte(tc.in))
				if err != nil || string(out) != tc.want {
					t.Fatalf("canonicalize = %s, %v; want %s", out, err, tc.want)
				}
			}
		})
	}
}

func FuzzCanonicalFastMatchesJCS(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 3))
	for range 16 {
		raw, _ := json.Marshal(randValue(r, 0))
		f.Add(raw)
	}
	f.Add([]byte(`{"\ue000":1,"😀":[1e21,-0,"\u001f"]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkCanonicalFast(t, raw)
	})
}

func BenchmarkCanonicalJSON(b *testing.B) {
	v := map[string]any{"name": "service-1", "description": string(bytes.Repeat([]byte("lorem ipsum "), 85)),
		"tags": map[string]string{"team": "payments", "tier": "1"}, "requiredAttestationTypes": []string{"junit", "snyk"}}
	raw, _ := json.Marshal(v)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, ok := canonicalFast(raw); !ok {
				b.Fatal("fell back")
			}
		}
	})
	b.Run("jcs", func(b *testing.B) {
		for b.Loop() {
			_, _ = jcs.Transform(raw)
		}
	})
}
