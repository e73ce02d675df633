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
// a watchdog stops an evaluation during which the heap outgrows what the
// collector expects by a limit.
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
	// evalHeapLimit is how far the heap may outgrow the collector's goal
	// during an evaluation (a variable for tests).
	evalHeapLimit uint64 = 1 << 30
)

// ErrBusy means no evaluation slot freed up within the evaluation's time
// budget. The request may be retried.
var ErrBusy = errors.New("custom attestation evaluation: server busy")

// errHeapLimit marks an evaluation the watchdog stopped.
var errHeapLimit = errors.New("evaluation stopped at the memory limit")

// memoryError is the cause a watchdog cancels an evaluation with.
func memoryError(limit uint64) error {
	return fmt.Errorf("%w: %w (the heap grew %d MiB past its expected size while the rules ran)", ErrInvalid, errHeapLimit, limit>>20)
}

// The heap's current size (garbage not yet swept included) and the size at
// which the collector means to run next; reading them does not stop the
// world.
const (
	heapObjectsMetric = "/memory/classes/heap/objects:bytes"
	heapGoalMetric    = "/gc/heap/goal:bytes"
)

func heapNow() (size, goal uint64) {
	s := []metrics.Sample{{Name: heapObjectsMetric}, {Name: heapGoalMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		size = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		goal = s[1].Value.Uint64()
	}
	return size, goal
}

// guardMemory waits for an evaluation slot and returns a context that is
// cancelled, with memoryError as its cause, once the heap passes by more
// than limit what it held at the call or, if more, the collector's goal
// then: other requests' garbage grows the heap up to that goal (far, with
// --gc-percent 400) and must not count against the evaluation. release
// frees the slot and stops the watchdog.
func guardMemory(ctx context.Context, limit uint64) (guarded context.Context, release func(), err error) {
	select {
	case evalSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
	guarded, cancel := context.WithCancelCause(ctx)
	size, goal := heapNow()
	ceiling := max(size, goal) + limit
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
				if h, _ := heapNow(); h > ceiling {
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
