package eventstore_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/eventstore"
)

// Clients of the embedded listener may read the ledger but never write it:
// only the in-process connection appends.
func TestEmbeddedListenerIsReadOnly(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: t.TempDir(), Listen: addr})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	ctx := context.Background()

	own, err := eventstore.ConnectInProcess(ns)
	require.NoError(t, err)
	t.Cleanup(own.Close)
	ownJS, err := jetstream.New(own)
	require.NoError(t, err)
	_, err = eventstore.EnsureStream(ctx, ownJS, eventstore.DefaultStream, 1)
	require.NoError(t, err)

	errs := make(chan error, 10)
	ext, err := nats.Connect("nats://"+addr, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	require.NoError(t, err)
	t.Cleanup(ext.Close)
	sub, err := ext.SubscribeSync(eventstore.SubjectPrefix + ">")
	require.NoError(t, err)
	require.NoError(t, ext.Flush())

	subject := eventstore.Subject("acme", "flow", "flow.created")
	_, err = ownJS.Publish(ctx, subject, []byte(`{"from":"factstore"}`))
	require.NoError(t, err)
	m, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err, "an outside subscriber sees events")
	assert.Equal(t, subject, m.Subject)

	extJS, err := jetstream.New(ext)
	require.NoError(t, err)
	cons, err := extJS.OrderedConsumer(ctx, eventstore.DefaultStream, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err, "an outside client may attach a consumer")
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	require.NoError(t, err)
	assert.JSONEq(t, `{"from":"factstore"}`, string(msg.Data()))

	// Writing into the ledger or managing the stream is refused.
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = extJS.Publish(pctx, subject, []byte(`{"forged":true}`))
	require.Error(t, err)
	require.Error(t, extJS.DeleteStream(pctx, eventstore.DefaultStream))
	select {
	case perr := <-errs:
		require.ErrorContains(t, perr, "Permissions Violation")
	case <-time.After(5 * time.Second):
		t.Fatal("no permissions violation reported")
	}
	info, err := ownJS.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.CachedInfo().State.Msgs, "nothing was appended from outside")
}
