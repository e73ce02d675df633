package e2e_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/ledger"
)

// flipName changes the first letter of the flow name inside an event's data
// ("tamper-..." to "Tamper-..."): a one-byte edit that keeps valid JSON.
func flipName(t testing.TB, raw []byte, prefix string) []byte {
	t.Helper()
	marker := []byte(`"name":"` + prefix)
	i := bytes.Index(raw, marker)
	if i < 0 {
		t.Fatalf("no %s in %s", marker, raw)
	}
	out := append([]byte(nil), raw...)
	j := i + len(`"name":"`)
	out[j] = bytes.ToUpper(out[j : j+1])[0]
	if !json.Valid(out) || bytes.Equal(out, raw) {
		t.Fatalf("flip produced %s", out)
	}
	return out
}

// TestTamperedStream: an edit of the stream as stored (a changed byte, a
// deleted, swapped or forged event) is caught at its exact sequence by the
// offline verifier, by a server started on it (not ready, writes refused) and
// by the verify-chain API; a faithful copy raises no alarm.
func TestTamperedStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server per tampering class: skipped with -short")
	}
	const events = 30
	const k = 12

	orig := t.TempDir()
	srv := startServer(t, orig)
	for i := 1; i <= events; i++ {
		if _, seq := srv.createFlow(fmt.Sprintf("tamper-flow-%02d", i)); seq != uint64(i) {
			t.Fatalf("flow %d stored at sequence %d", i, seq)
		}
	}
	srv.stopGracefully()

	msgs := readStream(t, orig)
	if len(msgs) != events {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), events)
	}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d at stream sequence %d", i+1, m.Seq)
		}
	}
	forger := func() ed25519.PrivateKey {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return priv
	}()

	clone := func() []storedMsg {
		out := make([]storedMsg, len(msgs))
		for i, m := range msgs {
			out[i] = storedMsg{Seq: m.Seq, Subject: m.Subject, Data: append([]byte(nil), m.Data...)}
		}
		return out
	}
	cases := []struct {
		name   string
		mutate func([]storedMsg) []storedMsg
		bad    uint64 // 0 = intact
	}{
		{"faithful copy", func(m []storedMsg) []storedMsg { return m }, 0},
		{"byte flipped in payload", func(m []storedMsg) []storedMsg {
			m[k-1].Data = flipName(t, m[k-1].Data, "tamper-")
			return m
		}, k},
		{"event deleted", func(m []storedMsg) []storedMsg {
			return append(m[:k-1:k-1], m[k:]...)
		}, k},
		{"events swapped", func(m []storedMsg) []storedMsg {
			m[k-1], m[k] = m[k], m[k-1]
			return m
		}, k},
		{"forged event inserted", func(m []storedMsg) []storedMsg {
			e, err := ledger.Decode(m[k-1].Data)
			if err != nil {
				t.Fatal(err)
			}
			e.ID = uuid.NewString()
			forged := storedMsg{Subject: m[k-1].Subject, Data: forge(t, *e, k, e.Prev, forger)}
			out := append(append(m[:k-1:k-1], forged), m[k-1:]...)
			return out
		}, k},
	}

	// The original itself verifies: no false alarm.
	if out, code := runCLI(t, "ledger", "verify", "--data-dir", orig); code != 0 ||
		!strings.Contains(out, fmt.Sprintf("OK: %d events verified", events)) {
		t.Fatalf("ledger verify of the untouched original exited %d:\n%s", code, out)
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp := t.TempDir()
			copyDirFiles(t, filepath.Join(orig, "keys"), filepath.Join(cp, "keys"))
			copyFile(t, filepath.Join(orig, "factstore.json"), filepath.Join(cp, "factstore.json"))
			writeStream(t, cp, tc.mutate(clone()))

			out, code := runCLI(t, "ledger", "verify", "--data-dir", cp)
			if tc.bad == 0 {
				if code != 0 || !strings.Contains(out, "OK: ") {
					t.Fatalf("ledger verify of a faithful copy exited %d (false alarm):\n%s", code, out)
				}
			} else {
				want := fmt.Sprintf("first bad sequence %d:", tc.bad)
				if code == 0 || !strings.Contains(out, want) {
					t.Fatalf("ledger verify exited %d, want non-zero and %q:\n%s", code, want, out)
				}
			}

			srv := startServer(t, cp)
			if tc.bad == 0 {
				srv.waitReady()
				if c := srv.verifyChain(); !c.Valid || c.EntriesChecked != events {
					t.Fatalf("verify-chain of a faithful copy = %+v", c)
				}
				srv.createFlow("after-copy")
				srv.stopGracefully()
				return
			}

			// Not ready, naming the first bad sequence.
			var ready struct {
				Status string  `json:"status"`
				Seq    *uint64 `json:"seq"`
			}
			waitFor(t, 60*time.Second, func() error {
				st, _, raw, err := srv.get("/readyz")
				if err != nil {
					return err
				}
				if st != http.StatusServiceUnavailable {
					return fmt.Errorf("/readyz %d %s, want 503", st, raw)
				}
				return json.Unmarshal(raw, &ready)
			})
			if ready.Seq == nil || *ready.Seq != tc.bad {
				_, _, raw, _ := srv.get("/readyz")
				t.Errorf("/readyz = %s, want 503 naming seq %d", raw, tc.bad)
			}

			c := srv.verifyChain()
			if c.Valid || c.FirstBadSeq == nil || *c.FirstBadSeq != tc.bad {
				t.Errorf("verify-chain = valid:%v firstBadSeq:%v, want valid:false firstBadSeq:%d", c.Valid, c.FirstBadSeq, tc.bad)
			}

			// The server refuses to extend a broken chain.
			st, _, raw, err := srv.do(http.MethodPost, "/api/v1/flows", map[string]any{"name": "on-top-of-tampering"})
			if err != nil || st != http.StatusServiceUnavailable {
				t.Errorf("POST on a tampered ledger: %d %v %s, want 503", st, err, raw)
			}
			srv.stopGracefully()
		})
	}
}

// TestExportVerifyOffline: an export verifies offline with the keys in its
// header or pinned ones; an edited line or a deleted line fails at its
// sequence, and a re-signed export fails against pinned keys.
func TestExportVerifyOffline(t *testing.T) {
	const events = 10
	dir := t.TempDir()
	srv := startServer(t, dir)
	for i := 1; i <= events; i++ {
		srv.createFlow(fmt.Sprintf("export-flow-%02d", i))
	}
	keys, keysJSON := srv.publicKeys()
	srv.stopGracefully()

	work := t.TempDir()
	pinned := filepath.Join(work, "pinned-keys.json")
	if err := os.WriteFile(pinned, keysJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	exp := filepath.Join(work, "ledger.jsonl")
	if out, code := runCLI(t, "ledger", "export", "--data-dir", dir, "--out", exp); code != 0 {
		t.Fatalf("ledger export exited %d:\n%s", code, out)
	}
	raw, err := os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != events+1 {
		t.Fatalf("export has %d lines, want a header and %d events", len(lines), events)
	}
	var hdr struct {
		FromSeq    uint64             `json:"fromSeq"`
		ToSeq      uint64             `json:"toSeq"`
		PublicKeys []ledger.PublicKey `json:"publicKeys"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil {
		t.Fatalf("export header %s: %v", lines[0], err)
	}
	if hdr.FromSeq != 1 || hdr.ToSeq != events || len(hdr.PublicKeys) != len(keys) || hdr.PublicKeys[0].PublicKey != keys[0].PublicKey {
		t.Fatalf("export header %s, want sequences 1-%d and the served keys %+v", lines[0], events, keys)
	}
	for i, l := range lines[1:] {
		e, err := ledger.Decode([]byte(l))
		if err != nil || e.Seq != uint64(i+1) {
			t.Fatalf("export line %d is not event %d: %s", i+1, i+1, l)
		}
	}

	write := func(name string, ls []string) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte(strings.Join(ls, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	expectOK := func(args ...string) {
		t.Helper()
		if out, code := runCLI(t, append([]string{"ledger", "verify"}, args...)...); code != 0 || !strings.Contains(out, "OK: ") {
			t.Fatalf("ledger verify %v exited %d, want 0:\n%s", args, code, out)
		}
	}
	expectBad := func(seq int, args ...string) {
		t.Helper()
		want := fmt.Sprintf("first bad sequence %d:", seq)
		if out, code := runCLI(t, append([]string{"ledger", "verify"}, args...)...); code == 0 || !strings.Contains(out, want) {
			t.Fatalf("ledger verify %v exited %d, want non-zero and %q:\n%s", args, code, want, out)
		}
	}

	expectOK("--file", exp)
	expectOK("--file", exp, "--public-keys", pinned)

	const bad = 5
	flipped := append([]string(nil), lines...)
	flipped[bad] = string(flipName(t, []byte(lines[bad]), "export-"))
	expectBad(bad, "--file", write("flipped.jsonl", flipped))

	deleted := append(append([]string(nil), lines[:bad]...), lines[bad+1:]...)
	expectBad(bad, "--file", write("deleted.jsonl", deleted))

	// Someone re-signs every event with their own key and puts it in the
	// header: consistent with itself, but not with the pinned keys.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil {
		t.Fatal(err)
	}
	pub, _ := priv.Public().(ed25519.PublicKey)
	signer := ledger.NewSigner(priv, hdr.PublicKeys[0].CreatedAt)
	h["publicKeys"] = []ledger.PublicKey{signer.Public()}
	resigned := []string{mustJSON(t, h)}
	prev := zeroHash
	for _, l := range lines[1:] {
		e, err := ledger.Decode([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		e.Data = json.RawMessage(strings.Replace(string(e.Data), "export-", "forged-", 1))
		out := forge(t, *e, e.Seq, prev, priv)
		fe, _ := ledger.Decode(out)
		prev = fe.Hash
		resigned = append(resigned, string(out))
	}
	if ledger.KeyID(pub) == keys[0].KeyID {
		t.Fatal("forger's key collides with the server's")
	}
	forgedFile := write("resigned.jsonl", resigned)
	expectBad(1, "--file", forgedFile, "--public-keys", pinned)

	// A partial export carries the hash before its range and verifies alone.
	part := filepath.Join(work, "part.jsonl")
	if out, code := runCLI(t, "ledger", "export", "--data-dir", dir, "--from", "4", "--to", "7", "--out", part); code != 0 {
		t.Fatalf("partial export exited %d:\n%s", code, out)
	}
	if out, code := runCLI(t, "ledger", "verify", "--file", part); code != 0 || !strings.Contains(out, "OK: 4 events verified (sequences 4-7") {
		t.Fatalf("verify of export 4-7 exited %d:\n%s", code, out)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestForgedEventOverNATS: the embedded NATS port is read-only for outside
// clients. An event that someone without the signing key publishes straight
// into the stream (correct seq, prev and hash, signed with their own key) is
// refused, the ledger is unchanged, and the server goes on. (What happens when
// a forger does have write access is httpapi's TestForgedEventHaltsEverything.)
func TestForgedEventOverNATS(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	var last flow
	for i := 1; i <= 3; i++ {
		last, _ = srv.createFlow(fmt.Sprintf("genuine-%d", i))
	}
	entries, _ := srv.allEntries()
	head := entries[len(entries)-1]

	nc, err := nats.Connect("nats://"+srv.natsAddr, nats.Name("e2e-forger"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Take the last genuine event as a template and make it a new flow.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "FACTSTORE")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, head.Seq)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ledger.Decode(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	forgedID := uuid.NewString()
	e.ID, e.AggregateID = uuid.NewString(), forgedID
	e.Data = json.RawMessage(strings.Replace(strings.Replace(string(e.Data), last.ID, forgedID, 1), "genuine-3", "forged", 1))
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged := forge(t, *e, head.Seq+1, head.Hash, priv)
	// The listener is read-only for outside clients: the forgery never lands.
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	defer pcancel()
	if ack, err := js.Publish(pctx, m.Subject, forged); err == nil {
		t.Fatalf("outside client appended a forged event at %d", ack.Sequence)
	}
	if after, _ := srv.allEntries(); len(after) != len(entries) {
		t.Fatalf("ledger grew from %d to %d entries after a refused publish", len(entries), len(after))
	}
	if code, _, raw, _ := srv.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz %d %s after a refused forgery, want 200", code, raw)
	}
	if code, _, raw, _ := srv.get("/api/v1/flows/" + forgedID); code != http.StatusNotFound {
		t.Errorf("forged flow served as a fact: GET %d %s", code, raw)
	}
	if code, _, raw, err := srv.do(http.MethodPost, "/api/v1/flows", map[string]any{"name": "after-refused-forgery"}); err != nil || code != http.StatusCreated {
		t.Errorf("write after a refused forgery: %d %v %s, want 201", code, err, raw)
	}
	if c := srv.verifyChain(); !c.Valid {
		t.Errorf("verify-chain = %+v, want valid", c)
	}
}
