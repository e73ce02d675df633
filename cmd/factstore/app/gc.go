package app

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's target (GOGC) a server runs
// with. A node's live heap is mostly state that changes slowly (the writer's
// domain state, caches of flows and templates), so with Go's default of 100
// every doubling of a heap of a few hundred MB starts a mark phase of about
// 100 ms that takes a quarter of the CPUs and makes allocating requests
// assist it. On two cores those phases were the assert p99 (`make bench`
// g1, 2,000/s: 7.2 ms at 100, a mark phase every ~0.6 s; at 400 one every
// 10–20 s, and 10 s runs without one have p99 0.5–1.1 ms). The price is a
// peak heap of about five times the live heap instead of two; GOMEMLIMIT
// bounds it.
const DefaultGCPercent = 400

// TuneGC sets the collector's target to percent (see DefaultGCPercent)
// unless the GOGC environment variable is set: an operator's GOGC wins.
// percent 0 leaves the runtime's setting alone. It returns the target in
// effect (-1: collection off).
func TuneGC(percent int) int {
	if percent == 0 || os.Getenv("GOGC") != "" {
		cur := debug.SetGCPercent(100)
		debug.SetGCPercent(cur)
		return cur
	}
	debug.SetGCPercent(percent)
	return percent
}
