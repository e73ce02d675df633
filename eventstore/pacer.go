package eventstore

import "time"

// pacer estimates when the server will be done with what is in flight.
// nats-server commits a stream's atomic batches one at a time, at a cost
// that is mostly fixed (a staging store and its fsyncs) and grows little
// with the batch's size. Publishing the next batch as soon as it is
// collected makes batches small and queues them at the server; holding it
// until the server is nearly free lets it take every request that arrives
// meanwhile, for the same cost, while the server never idles.
type pacer struct {
	service time.Duration // smoothed time the server takes per batch
	prep    time.Duration // smoothed time to decide, seal and publish one
	lastAck time.Time
}

// published notes f's publication and its expected completion.
func (p *pacer) published(f *flight, inflight []*flight, now time.Time) {
	f.pub = now
	start := now
	for _, g := range inflight {
		if g != f && g.expectDone.After(start) {
			start = g.expectDone
		}
	}
	f.expectDone = start
	if f.reply == "" {
		return // nothing was published: it costs the server nothing
	}
	f.expectDone = start.Add(p.service)
	from := f.start
	if !f.prep.IsZero() {
		from = f.prep
	}
	p.prep = smooth(p.prep, now.Sub(from))
}

// settled learns the server's time per batch from f's acknowledgement,
// except from a streamed batch: the server staged most of it before its
// commit, so the wait for its answer understates a batch's cost.
func (p *pacer) settled(f *flight) {
	if f.ack == nil || f.ackAt.IsZero() || f.pub.IsZero() {
		return
	}
	start := f.pub
	if p.lastAck.After(start) {
		start = p.lastAck
	}
	if !f.streamed {
		p.service = smooth(p.service, f.ackAt.Sub(start))
	}
	p.lastAck = f.ackAt
}

// holdUntil is when a batch collected now should be published: early
// enough to be decided and published by the time the last flight is done.
func (p *pacer) holdUntil(inflight []*flight) time.Time {
	var done time.Time
	for _, f := range inflight {
		if f.expectDone.After(done) {
			done = f.expectDone
		}
	}
	return done.Add(-p.prep - holdMargin)
}

// holdMargin is subtracted from the hold so the server finds the next batch
// queued rather than idling for it.
const holdMargin = 200 * time.Microsecond

// smooth is an exponentially weighted moving average (weight 1/8).
func smooth(avg, sample time.Duration) time.Duration {
	if avg == 0 {
		return sample
	}
	return avg + (sample-avg)/8
}
