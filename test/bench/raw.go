package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/eventstore"
)

// rawSubject is inside the ledger stream's subjects (factstore.events.>).
const rawSubject = eventstore.SubjectPrefix + "_.bench.raw"

// rawBatch is the atomic batch size of (a-batch).
const rawBatch = 100

// rawWriterBatch is the batch the writer forms in (b): its 64 closed-loop
// submitters all wait for one batch and come back for the next, which
// holds 61-63 of them. The row of such batches, each message with its
// Nats-Msg-Id as the writer sends it, is what the server alone gives that
// shape, and so separates the cost of smaller batches from the writer's own.
const rawWriterBatch = 64

// rawServer is an embedded server with SyncAlways, as a node runs it, and the
// ledger stream (AllowAtomicPublish) on a fresh directory.
type rawServer struct {
	dir string
	ns  *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func startRaw(ctx context.Context, name string) (*rawServer, error) {
	dir, err := tempDir(name)
	if err != nil {
		return nil, err
	}
	rs := &rawServer{dir: dir}
	if rs.ns, err = eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: dir}); err != nil {
		return rs, err
	}
	if rs.nc, err = eventstore.ConnectInProcess(rs.ns); err != nil {
		return rs, err
	}
	if rs.js, err = jetstream.New(rs.nc); err != nil {
		return rs, err
	}
	if _, err = eventstore.EnsureStream(ctx, rs.js, eventstore.DefaultStream, 1); err != nil {
		return rs, err
	}
	return rs, nil
}

func (rs *rawServer) close(o *options) {
	if rs == nil {
		return
	}
	if rs.nc != nil {
		rs.nc.Close()
	}
	if rs.ns != nil {
		rs.ns.Shutdown()
		rs.ns.WaitForShutdown()
	}
	removeDir(o, rs.dir)
}

func payload1K() []byte {
	p := make([]byte, 1024)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// benchRaw measures (a-single) synchronous durable publishes and (a-batch)
// atomic batches of 100, plus the same batches with a Nats-Msg-Id on every
// message (the writer sets one; this row shows what dedup costs).
func benchRaw(ctx context.Context, o *options) []row {
	return []row{
		rawSingle(ctx, o),
		rawBatches(ctx, o, rawBatch, false),
		rawBatches(ctx, o, rawBatch, true),
		rawBatches(ctx, o, rawWriterBatch, true),
		rawPipelined(ctx, o, rawPipelineDepth),
	}
}

// rawPipelineDepth is how many plain publishes (a-piped) keeps in flight:
// about the batch the writer forms with 32 closed-loop HTTP clients.
const rawPipelineDepth = 14

// rawPipelined measures the alternative to an atomic batch for commands of
// one event: each its own message, published without waiting, with
// Nats-Expected-Last-Sequence (one after the other, so a failure dooms
// those behind it) and Nats-Msg-Id, depth at a time. With SyncAlways every
// message is its own fsync, without the batch's staging store.
func rawPipelined(ctx context.Context, o *options, depth int) row {
	r := row{key: fmt.Sprintf("a-piped%d", depth), name: fmt.Sprintf("(a-piped%d) %d plain publishes in flight + expected seq, id", depth, depth),
		unit: "msgs/s", latOf: "group"}
	onRaw(ctx, o, &r, func(rs *rawServer, data []byte) {
		futures := make([]jetstream.PubAckFuture, depth)
		timedGroups(ctx, o, &r, depth, func(last uint64) (uint64, error) {
			for i := range futures {
				m := nats.NewMsg(rawSubject)
				m.Data = data
				m.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
				m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(last+uint64(i), 10))
				f, err := rs.js.PublishMsgAsync(m)
				if err != nil {
					return 0, err
				}
				futures[i] = f
			}
			for _, f := range futures {
				select {
				case ack := <-f.Ok():
					last = ack.Sequence
				case err := <-f.Err():
					return 0, err
				}
			}
			return last, nil
		})
	})
	return r
}

// onRaw starts a raw server for row r, runs measure on it with a 1 KiB
// payload and stops it; a server that does not start fails the row.
func onRaw(ctx context.Context, o *options, r *row, measure func(rs *rawServer, data []byte)) {
	rs, err := startRaw(ctx, r.key)
	defer rs.close(o)
	if err != nil {
		r.failed, r.note = true, err.Error()
		return
	}
	measure(rs, payload1K())
}

// timedGroups stores groups of size messages with publish (which returns
// the sequence of the group's last message) until the workload's count or
// time is reached, and fills r with the rate and the group latencies.
func timedGroups(ctx context.Context, o *options, r *row, size int, publish func(last uint64) (uint64, error)) {
	var last uint64
	var lat []time.Duration
	n := 0
	start := time.Now()
	deadline := start.Add(o.sz.batchMax)
	for n < o.sz.batchMsgs && time.Now().Before(deadline) && ctx.Err() == nil {
		t0 := time.Now()
		seq, err := publish(last)
		if err != nil {
			r.failed, r.note = true, fmt.Sprintf("%s after %d: %v", r.latOf, last, err)
			return
		}
		last = seq
		n += size
		lat = append(lat, time.Since(t0))
	}
	took := time.Since(start)
	sortDurations(lat)
	r.value = perSec(n, took)
	r.p50, r.p99 = percentile(lat, .50), percentile(lat, .99)
	groups := r.latOf + "s"
	if r.latOf == "batch" {
		groups = "batches"
	}
	r.note = fmt.Sprintf("%d msgs in %d %s, %s", n, len(lat), groups, took.Round(time.Millisecond))
}

func rawSingle(ctx context.Context, o *options) row {
	r := row{key: "a-single", name: "(a-single) js.Publish, SyncAlways", unit: "msgs/s", latOf: "publish"}
	rs, err := startRaw(ctx, "a-single")
	defer rs.close(o)
	if err != nil {
		r.failed, r.note = true, err.Error()
		return r
	}
	data := payload1K()
	lat := make([]time.Duration, 0, o.sz.singleMsgs)
	start := time.Now()
	deadline := start.Add(o.sz.singleMax)
	for i := 0; i < o.sz.singleMsgs && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		t0 := time.Now()
		if _, err := rs.js.Publish(ctx, rawSubject, data); err != nil {
			r.failed, r.note = true, fmt.Sprintf("publish %d: %v", i, err)
			return r
		}
		lat = append(lat, time.Since(t0))
	}
	took := time.Since(start)
	sortDurations(lat)
	r.value = perSec(len(lat), took)
	r.p50, r.p99 = percentile(lat, .50), percentile(lat, .99)
	r.note = fmt.Sprintf("%d msgs in %s", len(lat), took.Round(time.Millisecond))
	return r
}

// batchAck is JetStream's answer to a batch commit.
type batchAck struct {
	Seq   uint64 `json:"seq"`
	Count int    `json:"count"`
	Error *struct {
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

func rawBatches(ctx context.Context, o *options, size int, withMsgID bool) row {
	r := row{key: "a-batch", name: "(a-batch) atomic batch of 100, SyncAlways", unit: "msgs/s", latOf: "batch"}
	switch {
	case size == rawBatch && withMsgID:
		r = row{key: "a-batch-id", name: "(a-batch+id) same + Nats-Msg-Id each", unit: "msgs/s", latOf: "batch"}
	case size != rawBatch:
		r = row{key: fmt.Sprintf("a-batch%d-id", size), name: fmt.Sprintf("(a-batch%d+id) batches of %d + Nats-Msg-Id", size, size),
			unit: "msgs/s", latOf: "batch"}
	}
	onRaw(ctx, o, &r, func(rs *rawServer, data []byte) {
		timedGroups(ctx, o, &r, size, func(last uint64) (uint64, error) {
			return publishBatch(rs.nc, data, last, size, withMsgID)
		})
	})
	return r
}

// publishBatch sends one atomic batch as the writer does (eventstore
// writer.go publish): every message but the last published, the last one
// with Nats-Batch-Commit sent as a request; Nats-Expected-Last-Sequence on
// the first. It returns the sequence of the last stored message.
func publishBatch(nc *nats.Conn, data []byte, expectLast uint64, size int, withMsgID bool) (uint64, error) {
	id := uuid.NewString()
	for i := 1; i <= size; i++ {
		m := nats.NewMsg(rawSubject)
		m.Data = data
		m.Header.Set(eventstore.HeaderBatchID, id)
		m.Header.Set(eventstore.HeaderBatchSequence, strconv.Itoa(i))
		if withMsgID {
			m.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
		}
		if i == 1 {
			m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(expectLast, 10))
		}
		if i < size {
			if err := nc.PublishMsg(m); err != nil {
				return 0, err
			}
			continue
		}
		m.Header.Set(eventstore.HeaderBatchCommit, "1")
		resp, err := nc.RequestMsg(m, 30*time.Second)
		if err != nil {
			return 0, err
		}
		var ack batchAck
		if err := json.Unmarshal(resp.Data, &ack); err != nil {
			return 0, fmt.Errorf("bad ack %q: %w", resp.Data, err)
		}
		if ack.Error != nil {
			return 0, fmt.Errorf("%s (code %d)", ack.Error.Description, ack.Error.ErrCode)
		}
		if ack.Seq != expectLast+uint64(size) {
			return 0, fmt.Errorf("batch stored up to %d, expected %d", ack.Seq, expectLast+uint64(size))
		}
		return ack.Seq, nil
	}
	return 0, errors.New("unreachable")
}
