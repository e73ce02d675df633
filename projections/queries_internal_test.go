package projections

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMergeSeqs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []uint64
		want []uint64
	}{
		{"both empty", nil, nil, []uint64{}},
		{"one empty", []uint64{1, 4}, nil, []uint64{1, 4}},
		{"interleaved", []uint64{1, 4, 9}, []uint64{2, 3, 10}, []uint64{1, 2, 3, 4, 9, 10}},
		{"shared sequences once", []uint64{1, 2, 5}, []uint64{2, 5, 6}, []uint64{1, 2, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mergeSeqs(tt.a, tt.b))
			assert.Equal(t, tt.want, mergeSeqs(tt.b, tt.a), "symmetric")
		})
	}
}
