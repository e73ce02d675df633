package app

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTuneGC: the server's target applies unless the operator set GOGC.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	t.Setenv("GOGC", "")
	assert.Equal(t, 300, TuneGC(300))
	assert.Equal(t, 300, debug.SetGCPercent(300), "the runtime runs with it")

	assert.Equal(t, 300, TuneGC(0), "0 leaves the runtime's setting alone")

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50) // what the runtime read from GOGC at start
	assert.Equal(t, 50, TuneGC(DefaultGCPercent), "an operator's GOGC wins")
	assert.Equal(t, 50, debug.SetGCPercent(50))
}
