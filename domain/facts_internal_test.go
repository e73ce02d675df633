package domain

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// factVersion is one version of a trail's attestation facts and what it
// must hold.
type factVersion struct {
	facts []AttestationFact
	fill  *factFill
	want  []string // the ids, in order
}

func (v factVersion) ids() []string {
	out := make([]string, len(v.facts))
	for i, f := range v.facts {
		out[i] = f.ID
	}
	return out
}

func fact(id string) AttestationFact {
	return AttestationFact{ID: id, Type: "junit", Status: AttestationPassed, Targets: []string{"app"}}
}

// TestAppendFactKeepsEveryVersion appends to random versions (the
// committed state, batches in flight, rolled-back ones, look aheads), with
// few distinct facts so that versions often grow over one another, and
// checks after every step that no version sees another's change.
func TestAppendFactKeepsEveryVersion(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 50 {
		versions := []factVersion{{want: []string{}}}
		for step := range 200 {
			from := versions[r.IntN(len(versions))]
			id := fmt.Sprintf("a%d", r.IntN(3))
			var next factVersion
			next.facts, next.fill = appendFact(from.facts, from.fill, fact(id))
			next.want = append(slices.Clone(from.want), id)
			if r.IntN(8) == 0 {
				// setStatus: a copy whose array no fill describes.
				next.facts = slices.Clone(next.facts)
			}
			versions = append(versions, next)
			for i, v := range versions {
				require.Equal(t, v.want, v.ids(), "round %d step %d: version %d changed", round, step, i)
			}
		}
	}
}

func TestAppendFactSharesTheArray(t *testing.T) {
	tests := []struct {
		name   string
		shares bool
		build  func(base factVersion) []AttestationFact
	}{
		{"appending to the longest version writes in place", true, func(base factVersion) []AttestationFact {
			s, _ := appendFact(base.facts, base.fill, fact("a4"))
			return s
		}},
		{"the same fact again (look ahead, then the event) grows over it", true, func(base factVersion) []AttestationFact {
			_, _ = appendFact(base.facts, base.fill, fact("a4"))
			s, _ := appendFact(base.facts, base.fill, fact("a4"))
			return s
		}},
		{"another fact after the look ahead copies", false, func(base factVersion) []AttestationFact {
			_, _ = appendFact(base.facts, base.fill, fact("a4"))
			s, _ := appendFact(base.facts, base.fill, fact("b4"))
			return s
		}},
		{"a copy made by setStatus leaves the original's fast path alone", true, func(base factVersion) []AttestationFact {
			// The copy carries the original's fill but not its array.
			copied := slices.Grow(slices.Clone(base.facts), 4)
			_, _ = appendFact(copied, base.fill, fact("c4"))
			s, _ := appendFact(base.facts, base.fill, fact("a4"))
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base factVersion
			for _, id := range []string{"a1", "a2", "a3"} {
				base.facts, base.fill = appendFact(base.facts, base.fill, fact(id))
			}
			got := tt.build(base)
			require.Len(t, got, 4)
			assert.Equal(t, []string{"a1", "a2", "a3"}, factVersion{facts: base.facts}.ids(), "the base is unchanged")
			assert.Equal(t, tt.shares, &got[0] == &base.facts[0], "shares the base's array")
		})
	}
}
