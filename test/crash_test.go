package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crashBook records what the writers were told, to check after a crash that
// every acknowledged write is there and nothing unasked-for is.
type crashBook struct {
	mu sync.Mutex
	// names of every flow a POST was sent for (acknowledged or not).
	attempted map[string]bool
	// acked maps flow id to its name, for every acknowledged POST.
	acked map[string]string
	// descs maps flow id to the descriptions it may have now: the last
	// acknowledged one and any sent after it without an answer.
	descs map[string]map[string]bool
	// seqs maps an acknowledged write's X-Factstore-Seq to its flow id.
	seqs map[uint64]string
}

func newCrashBook() *crashBook {
	return &crashBook{attempted: map[string]bool{}, acked: map[string]string{}, descs: map[string]map[string]bool{}, seqs: map[uint64]string{}}
}

// crashCycle runs writers against srv for a while (at least minRun and
// killAfterAcks acknowledged writes), then kills srv with SIGKILL while they
// are still writing.
func crashCycle(t *testing.T, srv *server, book *crashBook, cycle int) (ackedThisCycle int64) {
	t.Helper()
	const workers = 8
	const killAfterAcks = 150
	const minRun = 700 * time.Millisecond // a workload length, not an expectation
	var acks atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			var mine []string
			for i := 0; ; i++ {
				if killed.Load() {
					return
				}
				// Every third request updates one of this writer's flows.
				if i%3 == 2 && len(mine) > 0 {
					id := mine[i%len(mine)]
					desc := fmt.Sprintf("c%d-w%d-u%d", cycle, w, i)
					book.mu.Lock()
					book.descs[id][desc] = true // may land even if unanswered
					book.mu.Unlock()
					st, h, raw, err := srv.do(http.MethodPut, "/api/v1/flows/"+id, map[string]any{"description": desc})
					if err != nil {
						if !killed.Load() {
							t.Errorf("PUT before the kill failed: %v", err)
						}
						return
					}
					if st != http.StatusOK {
						t.Errorf("PUT %s: status %d: %s", id, st, raw)
						return
					}
					seq, perr := strconv.ParseUint(h.Get("X-Factstore-Seq"), 10, 64)
					if perr != nil {
						t.Errorf("PUT %s: X-Factstore-Seq %q", id, h.Get("X-Factstore-Seq"))
						return
					}
					book.mu.Lock()
					book.descs[id] = map[string]bool{desc: true}
					book.seqs[seq] = id
					book.mu.Unlock()
					acks.Add(1)
					continue
				}
				name := fmt.Sprintf("crash-c%d-w%d-%04d", cycle, w, i)
				book.mu.Lock()
				book.attempted[name] = true
				book.mu.Unlock()
				st, h, raw, err := srv.do(http.MethodPost, "/api/v1/flows", map[string]any{"name": name, "requiredAttestationTypes": []string{"junit"}})
				if err != nil {
					if !killed.Load() {
						t.Errorf("POST before the kill failed: %v", err)
					}
					return
				}
				if st != http.StatusCreated {
					t.Errorf("POST %s: status %d: %s", name, st, raw)
					return
				}
				var f flow
				seq, perr := strconv.ParseUint(h.Get("X-Factstore-Seq"), 10, 64)
				if err := json.Unmarshal(raw, &f); err != nil || f.ID == "" || f.Name != name || perr != nil {
					t.Errorf("POST %s: answer %s, X-Factstore-Seq %q", name, raw, h.Get("X-Factstore-Seq"))
					return
				}
				book.mu.Lock()
				book.acked[f.ID] = name
				book.descs[f.ID] = map[string]bool{"": true}
				book.seqs[seq] = f.ID
				book.mu.Unlock()
				mine = append(mine, f.ID)
				acks.Add(1)
			}
		})
	}
	// Kill mid-run: once enough writes were acknowledged, writers still going.
	started := time.Now()
	deadline := started.Add(90 * time.Second)
	for (acks.Load() < killAfterAcks || time.Since(started) < minRun) && !t.Failed() {
		if time.Now().After(deadline) {
			killed.Store(true)
			srv.kill()
			wg.Wait()
			t.Fatalf("cycle %d: only %d writes acknowledged within 90s", cycle, acks.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	killed.Store(true)
	srv.kill()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return acks.Load()
}

// checkAfterCrash checks a restarted server against the book: every
// acknowledged write is present with an allowed state, every flow present was
// asked for, the chain verifies and the acknowledged sequences hold the
// acknowledged writes.
func checkAfterCrash(t *testing.T, srv *server, book *crashBook) []entry {
	t.Helper()
	srv.waitReady()
	book.mu.Lock()
	defer book.mu.Unlock()

	_, raw := srv.mustDo(http.MethodGet, "/api/v1/flows", nil, http.StatusOK)
	var list []flow
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("GET /api/v1/flows: %v", err)
	}
	present := map[string]flow{}
	for _, f := range list {
		if !book.attempted[f.Name] {
			t.Errorf("flow %s named %q was never asked for", f.ID, f.Name)
		}
		if _, dup := present[f.ID]; dup {
			t.Errorf("flow %s listed twice", f.ID)
		}
		present[f.ID] = f
	}
	for id, name := range book.acked {
		// Each acknowledged flow by its own GET, as a client would read it.
		st, _, raw, err := srv.get("/api/v1/flows/" + id)
		if err != nil || st != http.StatusOK {
			t.Errorf("acknowledged flow %s (%s) lost after kill -9: GET %d %v %s", id, name, st, err, raw)
			continue
		}
		var f flow
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		if f.Name != name {
			t.Errorf("flow %s: name %q, want %q", id, f.Name, name)
		}
		if !book.descs[id][f.Description] {
			t.Errorf("flow %s: description %q is neither its last acknowledged one nor one sent after it (%v)", id, f.Description, book.descs[id])
		}
		if _, ok := present[id]; !ok {
			t.Errorf("acknowledged flow %s missing from GET /api/v1/flows", id)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	entries, _ := srv.allEntries()
	for i, e := range entries {
		if e.Seq != uint64(i+1) {
			t.Fatalf("ledger entry %d has seq %d", i+1, e.Seq)
		}
		prev := zeroHash
		if i > 0 {
			prev = entries[i-1].Hash
		}
		if e.PreviousHash != prev {
			t.Fatalf("ledger entry %d: previousHash %s, want %s", e.Seq, e.PreviousHash, prev)
		}
	}
	for seq, id := range book.seqs {
		if seq == 0 || seq > uint64(len(entries)) {
			t.Errorf("acknowledged sequence %d (flow %s) is beyond the ledger's %d entries", seq, id, len(entries))
			continue
		}
		if e := entries[seq-1]; e.RecordID != id || !strings.HasPrefix(e.EventType, "flow.") {
			t.Errorf("acknowledged sequence %d holds %s of %s, want an event of flow %s", seq, e.EventType, e.RecordID, id)
		}
	}
	c := srv.verifyChain()
	if !c.Valid || c.EntriesChecked != uint64(len(entries)) {
		t.Fatalf("verify-chain after kill -9 = %+v, want valid with %d entries", c, len(entries))
	}
	return entries
}

// TestCrashKill9: kill -9 under concurrent writes loses no acknowledged
// write and never breaks the chain; the read models built across the crashes
// equal a rebuild from the stream.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 cycles under load: skipped with -short")
	}
	dir := t.TempDir()
	book := newCrashBook()
	const cycles = 3
	srv := startServer(t, dir)
	for cycle := 0; cycle < cycles; cycle++ {
		n := crashCycle(t, srv, book, cycle)
		t.Logf("cycle %d: %d writes acknowledged before kill -9", cycle, n)
		srv = startServer(t, dir)
		entries := checkAfterCrash(t, srv, book)
		t.Logf("cycle %d: restarted with %d ledger entries, %d flows acknowledged so far", cycle, len(entries), len(book.acked))
	}

	// Writes work after the crashes, and continue the chain.
	entries, _ := srv.allEntries()
	f, seq := srv.createFlow("after-the-crashes")
	if seq != uint64(len(entries))+1 {
		t.Fatalf("first write after the crashes got sequence %d, want %d", seq, len(entries)+1)
	}
	book.attempted[f.Name] = true
	book.acked[f.ID] = f.Name
	book.descs[f.ID] = map[string]bool{"": true}
	book.seqs[seq] = f.ID

	entriesBefore, _ := srv.allEntries()
	before := readModelSnapshot(t, srv, entriesBefore)
	srv.stopGracefully()

	if out, code := runCLI(t, "ledger", "verify", "--data-dir", dir); code != 0 ||
		!strings.Contains(out, fmt.Sprintf("OK: %d events verified", len(entriesBefore))) {
		t.Fatalf("ledger verify exited %d, want 0 with %d events:\n%s", code, len(entriesBefore), out)
	}
	if out, code := runCLI(t, "rebuild", "--data-dir", dir); code != 0 {
		t.Fatalf("rebuild exited %d:\n%s", code, out)
	}

	srv = startServer(t, dir)
	checkAfterCrash(t, srv, book)
	after := readModelSnapshot(t, srv, entriesBefore)
	if len(before) != len(after) {
		t.Fatalf("read-model snapshot: %d answers before the rebuild, %d after", len(before), len(after))
	}
	for path, want := range before {
		if got := after[path]; !bytes.Equal(got, want) {
			t.Errorf("GET %s differs after a rebuild:\nbefore: %.1500s\nafter:  %.1500s", path, want, got)
		}
	}
	srv.stopGracefully()
}

// readModelSnapshot collects answers served from the read models: every flow,
// every ledger page, and a sample of the per-record, per-event and audit
// indexes.
func readModelSnapshot(t *testing.T, srv *server, entries []entry) map[string][]byte {
	t.Helper()
	snap := map[string][]byte{}
	get := func(path string) {
		_, raw := srv.mustDo(http.MethodGet, path, nil, http.StatusOK)
		snap[path] = raw
	}
	get("/api/v1/flows")
	_, pages := srv.allEntries()
	for i, p := range pages {
		snap[fmt.Sprintf("/api/v1/ledger/entries?size=500&page=%d", i)] = p
	}
	for i := 0; i < len(entries); i += max(1, len(entries)/25) {
		get("/api/v1/ledger/entries/" + entries[i].RecordID)
		get("/api/v1/audit/" + entries[i].EntryID)
	}
	for _, q := range []string{"eventType=FLOW_CREATED", "eventType=FLOW_UPDATED", "actor=anonymous", "sortDesc=false"} {
		for page := 0; page < 3; page++ {
			get(fmt.Sprintf("/api/v1/audit?%s&size=100&page=%d", q, page))
		}
	}
	return snap
}
