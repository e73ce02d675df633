package projections

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// flowStrings are field values that exercise every way a string is stored:
// plain, unicode, escapes (quote, backslash, newline, control characters),
// characters encoding/json would escape for HTML, and text that looks like
// JSON syntax.
var flowStrings = []string{
	"", "svc", "Déscription ünïcödé 日本語 🚀", `say "hi"`, `C:\path\to`, "line one\nline two\ttab",
	"bell\x07nul\x00", "<script>&amp;</script>", `{"a":[1,2]}`, `ends with backslash \`, "\u2028\u2029",
	strings.Repeat("a 1 KiB description ", 52),
}

func randomFlow(r *rand.Rand) domain.Flow {
	pick := func() string { return flowStrings[r.IntN(len(flowStrings))] }
	opt := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		s := pick()
		return &s
	}
	list := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+r.IntN(4))
		for i := range out {
			out[i] = pick()
		}
		return out
	}
	f := domain.Flow{
		ID: pick(), Name: pick(), Description: pick(),
		RequiredAttestationTypes: list(), RequiredApproverRoles: list(),
		OrgSlug: opt(), TemplateYAML: opt(), RequiresApproval: r.IntN(2) == 0,
		CreatedAt: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC(),
		UpdatedAt: time.Unix(r.Int64N(4e9), 0).In(time.FixedZone("", 3600)),
	}
	switch r.IntN(3) {
	case 0:
		f.Tags = nil
	case 1:
		f.Tags = map[string]string{}
	default:
		f.Tags = map[string]string{pick(): pick(), pick(): pick()}
	}
	return f
}

// checkFlowSameAsEncodingJSON reports whether the fast path took data, after
// failing t if what it decoded differs from encoding/json's result.
func checkFlowSameAsEncodingJSON(t testing.TB, data []byte) bool {
	t.Helper()
	fast, ok := decodeFlowFast(data)
	if !ok {
		return false
	}
	var want domain.Flow
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, data)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("fast path differs from encoding/json for %q:\n got %#v\nwant %#v", data, fast, want)
	}
	return true
}

func TestDecodeFlowMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		data, err := ledger.CanonicalJSON(randomFlow(r))
		require.NoError(t, err)
		// Every stored flow payload takes the fast path, or the rebuild
		// silently loses its speed.
		require.True(t, checkFlowSameAsEncodingJSON(t, data), "canonical payload not taken by the fast path: %s", data)
	}
}

func TestDecodeFlowFallsBack(t *testing.T) {
	canonical, err := ledger.CanonicalJSON(domain.Flow{ID: "f1", Name: "svc"})
	require.NoError(t, err)
	tests := []struct {
		name    string
		data    string
		wantErr bool
		want    string // the decoded name
	}{
		{"members in another order", `{"name":"svc","id":"f1"}`, false, "svc"},
		{"whitespace", `{ "id": "f1", "name": "svc" }`, false, "svc"},
		{"a member this release does not know", strings.Replace(string(canonical), `{"createdAt"`, `{"color":"red","createdAt"`, 1), false, "svc"},
		{"not JSON", `{"createdAt":"0001-01-01T00:00:00Z","description":"x`, true, ""},
		{"raw control character in a string", strings.Replace(string(canonical), `"name":"svc"`, "\"name\":\"s\x01c\"", 1), true, ""},
		{"trailing data", string(canonical) + "x", true, ""},
		{"wrong type", strings.Replace(string(canonical), `"requiresApproval":false`, `"requiresApproval":"no"`, 1), true, ""},
		{"bad timestamp", strings.Replace(string(canonical), `"createdAt":"0001-01-01T00:00:00Z"`, `"createdAt":"yesterday"`, 1), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fast := decodeFlowFast([]byte(tt.data))
			assert.False(t, fast, "only the canonical layout takes the fast path")
			f, err := decodeFlow([]byte(tt.data))
			var want domain.Flow
			wantErr := json.Unmarshal([]byte(tt.data), &want)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, wantErr.Error(), err.Error(), "the same error as encoding/json")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.Name)
			assert.Equal(t, want, f)
		})
	}
}

func FuzzDecodeFlow(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20; i++ {
		data, err := ledger.CanonicalJSON(randomFlow(r))
		require.NoError(f, err)
		f.Add([]byte(data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFlowSameAsEncodingJSON(t, data)
	})
}

// BenchmarkDecodeFlow compares the fast path with encoding/json on a flow
// with a 1 KiB description.
func BenchmarkDecodeFlow(b *testing.B) {
	org := "acme"
	data, err := ledger.CanonicalJSON(domain.Flow{ID: "0198c3a0-7c1e-7b8e-9d3c-2f1e4a5b6c7d", Name: "payments",
		Description: strings.Repeat("a 1 KiB description ", 52), OrgSlug: &org, RequiredAttestationTypes: []string{"junit", "snyk"},
		Tags: map[string]string{"team": "core"}, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()})
	require.NoError(b, err)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeFlow(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var f domain.Flow
			if err := json.Unmarshal(data, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
