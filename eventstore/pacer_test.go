package eventstore

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
)

// TestPacerHoldsUntilTheServerIsNearlyFree: the pacer learns the server's
// time per batch and the writer's own time per batch from what it sees, and
// holds the next batch until the flights ahead of it are expected to be
// stored, less the time to publish it.
func TestPacerHoldsUntilTheServerIsNearlyFree(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ms := time.Millisecond
	var p pacer

	// Nothing learnt yet: no hold.
	first := &flight{start: at(0), reply: "r1"}
	p.published(first, []*flight{first}, at(ms/2))
	assert.False(t, p.holdUntil([]*flight{first}).After(at(ms/2)), "an unknown server is not waited for")

	// The first batch took 3 ms at the server and 0.5 ms to publish.
	first.ack, first.ackAt = &nats.Msg{}, at(3*ms+ms/2)
	p.settled(first)
	assert.Equal(t, 3*ms, p.service)
	assert.Equal(t, ms/2, p.prep)

	// A batch published while another is still at the server queues
	// behind it: its service starts when the other's answer arrives.
	a := &flight{start: at(10 * ms), reply: "a"}
	p.published(a, []*flight{a}, at(10*ms+ms/2))
	b := &flight{start: at(11 * ms), reply: "b"}
	p.published(b, []*flight{a, b}, at(11*ms+ms/2))
	assert.Equal(t, at(13*ms+ms/2), a.expectDone)
	assert.Equal(t, at(16*ms+ms/2), b.expectDone, "b is expected after a")

	// What arrives now is held until both are nearly done.
	hold := p.holdUntil([]*flight{a, b})
	assert.Equal(t, at(16*ms+ms/2).Add(-ms/2-holdMargin), hold)

	// b's service time is measured from a's answer, not from b's
	// publication, so queueing does not inflate the estimate.
	a.ack, a.ackAt = &nats.Msg{}, at(13*ms+ms/2)
	p.settled(a)
	b.ack, b.ackAt = &nats.Msg{}, at(16*ms+ms/2)
	p.settled(b)
	assert.Equal(t, 3*ms, p.service)

	// A flight that published nothing adds no server time.
	empty := &flight{start: at(20 * ms)}
	p.published(empty, []*flight{empty}, at(20*ms))
	assert.Equal(t, at(20*ms), empty.expectDone)
}
