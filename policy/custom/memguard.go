package custom

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"time"
)

// jq rules are written by users, and the time limits do not bound memory:
// within a second `[range(1e9)]` builds a 200 MB array, and `map("x" *
// 1e8)` over a short list allocates gigabytes (gojq checks for
// cancellation between steps, not inside one). Evaluations therefore take
// one of a few slots, so that concurrent requests cannot multiply that, and
// a watchdog stops an evaluation whose heap growth passes a limit.
//
// A stopped evaluation fails the request rather than a rule, so that it is
// never stored as a non-compliant attestation: for lack of a slot within
// the time budget with ErrBusy (503, retried), and at the memory limit with
// ErrInvalid (400), because the rules that reach it reach it every time.
// (The watchdog sees the whole heap, so an evaluation running beside a hog
// can be stopped too; with two slots that takes a hog, and a retry passes.)
const (
	evalSlotCount    = 2 // about the number of cores an evaluation can use
	memCheckInterval = 2 * time.Millisecond
)

var (
	evalSlots = make(chan struct{}, evalSlotCount)
	// evalHeapLimit is how much the heap may grow during an evaluation
	// (a variable for tests).
	evalHeapLimit uint64 = 1 << 30
)

// ErrBusy means no evaluation slot freed up within the evaluation's time
// budget. The request may be retried.
var ErrBusy = errors.New("custom attestation evaluation: server busy")

// errHeapLimit marks an evaluation the watchdog stopped.
var errHeapLimit = errors.New("evaluation stopped at the memory limit")

// memoryError is the cause a watchdog cancels an evaluation with.
func memoryError(limit uint64) error {
	return fmt.Errorf("%w: %w (the heap grew by more than %d MiB while the rules ran)", ErrInvalid, errHeapLimit, limit>>20)
}

// heapObjectsMetric is the heap's current size, garbage not yet swept
// included; reading it does not stop the world.
const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// guardMemory waits for an evaluation slot and returns a context that is
// cancelled, with memoryError as its cause, once the heap has grown by more
// than limit since the call. release frees the slot and stops the watchdog.
func guardMemory(ctx context.Context, limit uint64) (guarded context.Context, release func(), err error) {
	select {
	case evalSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
	guarded, cancel := context.WithCancelCause(ctx)
	base := heapBytes()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(memCheckInterval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-guarded.Done():
				return
			case <-tick.C:
				if h := heapBytes(); h > base && h-base > limit {
					cancel(memoryError(limit))
					return
				}
			}
		}
	}()
	return guarded, func() {
		close(stop)
		<-done
		cancel(nil)
		<-evalSlots
	}, nil
}
