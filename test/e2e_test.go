package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/ledger"
)

// TestAcceptance: a first write on a fresh data directory is answered 201
// with the flow and its ledger sequence, is readable right away, and reaches
// a NATS subscriber as a sealed, chained envelope whose signature verifies
// with the key the API publishes.
func TestAcceptance(t *testing.T) {
	if out, code := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "factstore ") {
		t.Fatalf("factstore version exited %d: %q", code, out)
	}
	dir := t.TempDir()
	srv := startServer(t, dir)

	for _, p := range []string{"/healthz", "/readyz"} {
		srv.mustDo(http.MethodGet, p, nil, http.StatusOK)
	}

	// Subscribe before the first write so that nothing can be missed.
	nc, err := nats.Connect("nats://"+srv.natsAddr, nats.Name("e2e-acceptance"))
	if err != nil {
		t.Fatalf("connect to the embedded NATS at %s: %v", srv.natsAddr, err)
	}
	t.Cleanup(nc.Close)
	msgs := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe("factstore.events.>", msgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	h, raw := srv.mustDo(http.MethodPost, "/api/v1/flows",
		map[string]any{"name": "svc", "requiredAttestationTypes": []string{"junit"}}, http.StatusCreated)
	var created flow
	if err := json.Unmarshal(raw, &created); err != nil {
		t.Fatalf("POST body %s: %v", raw, err)
	}
	if created.ID == "" || created.Name != "svc" || !reflect.DeepEqual(created.RequiredAttestationTypes, []string{"junit"}) {
		t.Fatalf("POST answered %s, want the flow named svc requiring junit", raw)
	}
	if got := h.Get("X-Factstore-Seq"); got != "1" {
		t.Fatalf("X-Factstore-Seq = %q, want 1 for the first write", got)
	}

	// Read-your-writes: no waiting between the POST and the GET.
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/flows/"+created.ID, nil, http.StatusOK)
	var got flow
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, created) {
		t.Fatalf("GET /api/v1/flows/%s = %+v, want %+v", created.ID, got, created)
	}

	keys, _ := srv.publicKeys()
	if len(keys) == 0 {
		t.Fatal("GET /api/v1/ledger/public-keys lists no key")
	}
	keyByID := map[string]ledger.PublicKey{}
	for _, k := range keys {
		if k.Algorithm != "ed25519" {
			t.Errorf("key %s has algorithm %q, want ed25519", k.KeyID, k.Algorithm)
		}
		keyByID[k.KeyID] = k
	}

	checkEnvelope := func(m *nats.Msg, wantSeq uint64, wantPrev, flowID, wantType string) *ledger.Envelope {
		t.Helper()
		wantSubject := "factstore.events._.flow." + wantType
		if m.Subject != wantSubject {
			t.Fatalf("event on subject %q, want %q", m.Subject, wantSubject)
		}
		e, err := ledger.Decode(m.Data)
		if err != nil {
			t.Fatalf("decode envelope %s: %v", m.Data, err)
		}
		if e.V != 1 || e.Seq != wantSeq || e.Prev != wantPrev || e.Type != wantType || e.Org != "_" ||
			e.Aggregate != "flow" || e.AggregateID != flowID || e.ID == "" || e.Actor == "" {
			t.Fatalf("envelope %s: want v=1 seq=%d prev=%s type=%s org=_ aggregate=flow aggregateId=%s", m.Data, wantSeq, wantPrev, wantType, flowID)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || !strings.HasSuffix(e.Time, "Z") {
			t.Errorf("envelope time %q is not UTC RFC 3339", e.Time)
		}
		if h := eventHash(t, m.Data); h != e.Hash {
			t.Fatalf("envelope hash %s, but its canonical content hashes to %s", e.Hash, h)
		}
		k, ok := keyByID[e.KeyID]
		if !ok {
			t.Fatalf("envelope signed with key %q, which the API does not publish", e.KeyID)
		}
		if err := verifySig(k.PublicKey, e.Hash, e.Sig); err != nil {
			t.Fatalf("envelope signature: %v", err)
		}
		return e
	}

	next := func() *nats.Msg {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(30 * time.Second):
			t.Fatal("no event arrived on factstore.events.> within 30s")
			return nil
		}
	}

	first := checkEnvelope(next(), 1, zeroHash, created.ID, "flow.created")
	var payload flow
	if err := json.Unmarshal(first.Data, &payload); err != nil || !reflect.DeepEqual(payload, created) {
		t.Fatalf("event data %s does not hold the created flow %+v (%v)", first.Data, created, err)
	}

	// A second write links to the first.
	h, raw = srv.mustDo(http.MethodPut, "/api/v1/flows/"+created.ID, map[string]any{"description": "updated"}, http.StatusOK)
	if got := h.Get("X-Factstore-Seq"); got != "2" {
		t.Fatalf("X-Factstore-Seq of the second write = %q, want 2", got)
	}
	if err := json.Unmarshal(raw, &got); err != nil || got.Description != "updated" {
		t.Fatalf("PUT answered %s", raw)
	}
	checkEnvelope(next(), 2, first.Hash, created.ID, "flow.updated")
	_, raw = srv.mustDo(http.MethodGet, "/api/v1/flows/"+created.ID, nil, http.StatusOK)
	if err := json.Unmarshal(raw, &got); err != nil || got.Description != "updated" {
		t.Fatalf("GET after PUT = %s, want the updated description", raw)
	}

	if c := srv.verifyChain(); !c.Valid || c.EntriesChecked != 2 {
		t.Fatalf("verify-chain = %+v, want valid with 2 entries", c)
	}
	srv.mustDo(http.MethodGet, "/readyz", nil, http.StatusOK)
}

// TestSignals: SIGTERM and SIGINT stop serve with exit status 0, and what was
// written survives the restart.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	var ids []string
	for i := 0; i < 3; i++ {
		f, _ := srv.createFlow("signals-" + strconv.Itoa(i))
		ids = append(ids, f.ID)
	}
	if code := srv.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("serve exited with %d after SIGTERM, want 0; output:\n%s", code, srv.out.tail(4<<10))
	}

	srv = startServer(t, dir)
	srv.waitReady()
	for _, id := range ids {
		srv.mustDo(http.MethodGet, "/api/v1/flows/"+id, nil, http.StatusOK)
	}
	f, seq := srv.createFlow("signals-after-restart")
	if seq != 4 {
		t.Fatalf("first write after restart got sequence %d, want 4", seq)
	}
	ids = append(ids, f.ID)
	if code := srv.stop(syscall.SIGINT, 20*time.Second); code != 0 {
		t.Fatalf("serve exited with %d after SIGINT, want 0", code)
	}

	srv = startServer(t, dir)
	srv.waitReady()
	for _, id := range ids {
		srv.mustDo(http.MethodGet, "/api/v1/flows/"+id, nil, http.StatusOK)
	}
	if c := srv.verifyChain(); !c.Valid || c.EntriesChecked != 4 {
		t.Fatalf("verify-chain after restarts = %+v, want valid with 4 entries", c)
	}
	srv.stopGracefully()
	if out, code := runCLI(t, "ledger", "verify", "--data-dir", dir); code != 0 || !strings.Contains(out, "OK: 4 events verified") {
		t.Fatalf("ledger verify exited %d:\n%s", code, out)
	}
}

// TestNewerDataRefused: serve refuses a data directory, or a stream, written
// by a newer envelope version instead of misreading it.
func TestNewerDataRefused(t *testing.T) {
	t.Run("format file", func(t *testing.T) {
		dir := t.TempDir()
		format := filepath.Join(dir, "factstore.json")
		if err := os.WriteFile(format, []byte(`{"envelopeVersion":2}`), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := launchServer(t, dir)
		select {
		case <-srv.done:
		case <-time.After(30 * time.Second):
			t.Fatal("serve kept running on a data directory of envelope version 2")
		}
		out := srv.out.String()
		if code := srv.cmd.ProcessState.ExitCode(); code == 0 {
			t.Fatalf("serve exited 0 on a newer data directory; output:\n%s", out)
		}
		if !strings.Contains(out, "newer") || !strings.Contains(out, "envelope version 2") {
			t.Fatalf("serve's message does not say the data is of a newer version (2):\n%s", out)
		}
		if raw, _ := os.ReadFile(format); string(raw) != `{"envelopeVersion":2}` {
			t.Fatalf("serve rewrote %s to %s", format, raw)
		}
	})

	t.Run("stream head", func(t *testing.T) {
		dir := t.TempDir()
		srv := startServer(t, dir)
		srv.createFlow("before-upgrade")
		srv.stopGracefully()
		// A newer Factstore appended an envelope of version 2.
		withEmbedded(t, dir, func(ctx context.Context, js jetstream.JetStream) {
			v2 := `{"v":2,"seq":2,"id":"00000000-0000-4000-8000-000000000002","type":"flow.created","org":"_",` +
				`"aggregate":"flow","aggregateId":"x","actor":"future","time":"2030-01-01T00:00:00.000000000Z",` +
				`"data":{},"prev":"","hash":"","keyId":"","sig":"","extension":"unknown to v1"}`
			if _, err := js.Publish(ctx, "factstore.events._.flow.flow.created", []byte(v2)); err != nil {
				t.Fatal(err)
			}
		})
		srv = launchServer(t, dir)
		select {
		case <-srv.done:
		case <-time.After(30 * time.Second):
			t.Fatal("serve kept running on a stream whose head is envelope version 2")
		}
		out := srv.out.String()
		if code := srv.cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(out, "newer") {
			t.Fatalf("serve exited %d on a newer stream head, want non-zero and a message about newer data:\n%s", code, out)
		}
	})
}
