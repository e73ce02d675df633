// Package e2e_test holds black-box end-to-end tests of the factstore binary:
// it is built once in TestMain and driven through its command line, its HTTP
// API and its NATS subjects, on loopback addresses and temporary data
// directories only.
package e2e_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/factstore/factstore/eventstore"
	"github.com/factstore/factstore/ledger"
)

// binPath is the factstore binary built by TestMain.
var binPath string

// zeroHash is the prev of the first event (64 zeros), spelled out here rather
// than taken from the code under test.
const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	tmp, err := os.MkdirTemp("", "factstore-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	binPath = filepath.Join(tmp, "factstore")
	args := []string{"build", "-o", binPath}
	if os.Getenv("FACTSTORE_E2E_RACE") == "1" {
		args = append(args, "-race") // opt-in: race-check the server itself
	}
	args = append(args, "./cmd/factstore")
	build := exec.Command("go", args...)
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building factstore:", err)
		return 2
	}
	return m.Run()
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// waitFor polls fn until it returns nil or the timeout passes, then fails the
// test with fn's last error.
func waitFor(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	if err := poll(timeout, fn); err != nil {
		t.Fatalf("condition not met within %s: %v", timeout, err)
	}
}

// poll calls fn until it returns nil (then poll returns nil) or the timeout
// passes (then poll returns fn's last error).
func poll(timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// freeAddr picks a free loopback TCP address.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// childEnv is the environment of every child: ours without FACTSTORE_*
// variables, so that the developer's settings cannot leak into a test.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FACTSTORE_") {
			env = append(env, kv)
		}
	}
	return env
}

// logBuffer collects a child's output, keeping only the latest part.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const logKeep = 256 << 10

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 4*logKeep {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-logKeep:]...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (b *logBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// server is one running `factstore serve` process.
type server struct {
	t        testing.TB
	dir      string
	httpAddr string
	natsAddr string
	base     string
	cmd      *exec.Cmd
	out      *logBuffer
	done     chan struct{} // closed when the process has exited
	waitErr  error         // valid after done
	name     string
}

// startServer runs `factstore serve` on dir with fresh loopback ports and
// waits until /healthz answers. It retries with other ports if a port picked
// was taken in the meantime.
func startServer(t testing.TB, dir string, extra ...string) *server {
	t.Helper()
	var lastOut string
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStartServer(t, dir, extra...)
		if err == nil {
			return s
		}
		lastOut = err.Error()
		// A port picked may have been taken since; try others.
		if !strings.Contains(lastOut, "address already in use") && !strings.Contains(lastOut, "did not become ready") {
			break
		}
	}
	t.Fatalf("factstore serve did not start on %s:\n%s", dir, lastOut)
	return nil
}

func tryStartServer(t testing.TB, dir string, extra ...string) (*server, error) {
	t.Helper()
	s := launchServer(t, dir, extra...)
	var exited bool
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			exited = true
		default:
		}
		if exited {
			return nil, fmt.Errorf("serve exited (%w) before answering /healthz; output:\n%s", s.waitErr, s.out.tail(8<<10))
		}
		if st, _, _, err := s.get("/healthz"); err == nil && st == http.StatusOK {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("serve did not answer /healthz within 60s; output:\n%s", s.out.tail(8<<10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// launchServer starts the process without waiting for it to be up.
func launchServer(t testing.TB, dir string, extra ...string) *server {
	t.Helper()
	s := &server{t: t, dir: dir, httpAddr: freeAddr(t), natsAddr: freeAddr(t), out: &logBuffer{}, done: make(chan struct{})}
	s.base = "http://" + s.httpAddr
	args := append([]string{"serve", "--data-dir", dir, "--http-addr", s.httpAddr, "--nats-listen", s.natsAddr}, extra...)
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Env = childEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start factstore serve: %v", err)
	}
	s.name = fmt.Sprintf("serve pid %d on %s", s.cmd.Process.Pid, s.httpAddr)
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("output of %s (tail):\n%s", s.name, s.out.tail(16<<10))
		}
	})
	return s
}

// exited reports whether the process has ended.
func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (if still running) and waits for the process to end.
func (s *server) kill() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

// stop sends sig and waits up to timeout for the process to exit; it returns
// the exit code (-1 if it died of a signal). It fails the test if the process
// does not exit in time.
func (s *server) stop(sig syscall.Signal, timeout time.Duration) int {
	s.t.Helper()
	if !s.exited() {
		if err := s.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.t.Fatalf("signal %v to %s: %v", sig, s.name, err)
		}
	}
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.kill()
		s.t.Fatalf("%s did not exit within %s of %v", s.name, timeout, sig)
	}
	return s.cmd.ProcessState.ExitCode()
}

// stopGracefully sends SIGTERM and requires exit status 0.
func (s *server) stopGracefully() {
	s.t.Helper()
	if code := s.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		s.t.Fatalf("%s exited with %d after SIGTERM, want 0; output:\n%s", s.name, code, s.out.tail(8<<10))
	}
}

var httpClient = &http.Client{
	Timeout: 60 * time.Second,
	Transport: &http.Transport{
		Proxy:               nil, // loopback only, never through a proxy
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
	},
}

// do sends a request with an optional JSON body and returns status, headers and body.
func (s *server) do(method, path string, body any) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, nil, err
	}
	return resp.StatusCode, resp.Header, raw, nil
}

func (s *server) get(path string) (int, http.Header, []byte, error) {
	return s.do(http.MethodGet, path, nil)
}

// mustDo is do that fails the test on a transport error or an unexpected status.
func (s *server) mustDo(method, path string, body any, want int) (http.Header, []byte) {
	s.t.Helper()
	st, h, raw, err := s.do(method, path, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	if st != want {
		s.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, st, want, raw)
	}
	return h, raw
}

// flow is the part of a flow's JSON the tests look at.
type flow struct {
	ID                       string   `json:"id"`
	Name                     string   `json:"name"`
	Description              string   `json:"description"`
	RequiredAttestationTypes []string `json:"requiredAttestationTypes"`
}

// createFlow POSTs a flow and returns it with the ledger sequence of the write.
func (s *server) createFlow(name string) (flow, uint64) {
	s.t.Helper()
	h, raw := s.mustDo(http.MethodPost, "/api/v1/flows", map[string]any{"name": name, "requiredAttestationTypes": []string{"junit"}}, http.StatusCreated)
	var f flow
	if err := json.Unmarshal(raw, &f); err != nil || f.ID == "" {
		s.t.Fatalf("POST /api/v1/flows: bad body %s: %v", raw, err)
	}
	seq, err := strconv.ParseUint(h.Get("X-Factstore-Seq"), 10, 64)
	if err != nil {
		s.t.Fatalf("POST /api/v1/flows: X-Factstore-Seq %q: %v", h.Get("X-Factstore-Seq"), err)
	}
	return f, seq
}

// waitReady waits for /readyz 200.
func (s *server) waitReady() {
	s.t.Helper()
	waitFor(s.t, 60*time.Second, func() error {
		st, _, raw, err := s.get("/readyz")
		if err != nil {
			return err
		}
		if st != http.StatusOK {
			return fmt.Errorf("/readyz %d: %s", st, raw)
		}
		return nil
	})
}

// chainCheck is the answer of POST /api/v1/ledger/verify-chain.
type chainCheck struct {
	Valid          bool    `json:"valid"`
	EntriesChecked uint64  `json:"entriesChecked"`
	FirstBadSeq    *uint64 `json:"firstBadSeq"`
	Reason         *string `json:"reason"`
	HeadHash       string  `json:"headHash"`
}

func (s *server) verifyChain() chainCheck {
	s.t.Helper()
	_, raw := s.mustDo(http.MethodPost, "/api/v1/ledger/verify-chain", nil, http.StatusOK)
	var c chainCheck
	if err := json.Unmarshal(raw, &c); err != nil {
		s.t.Fatalf("verify-chain: bad body %s: %v", raw, err)
	}
	return c
}

// entry is one ledger entry of GET /api/v1/ledger/entries.
type entry struct {
	EntryID      string `json:"entryId"`
	Seq          uint64 `json:"seq"`
	RecordID     string `json:"recordId"`
	EventType    string `json:"eventType"`
	PreviousHash string `json:"previousHash"`
	Hash         string `json:"hash"`
}

// allEntries reads every page of GET /api/v1/ledger/entries?size=500 and
// returns the entries and the raw pages (for byte comparison).
func (s *server) allEntries() ([]entry, [][]byte) {
	s.t.Helper()
	var out []entry
	var pages [][]byte
	for page := 0; ; page++ {
		_, raw := s.mustDo(http.MethodGet, fmt.Sprintf("/api/v1/ledger/entries?size=500&page=%d", page), nil, http.StatusOK)
		pages = append(pages, raw)
		var p struct {
			Entries    []entry `json:"entries"`
			TotalPages int     `json:"totalPages"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			s.t.Fatalf("ledger entries page %d: %v", page, err)
		}
		out = append(out, p.Entries...)
		if page+1 >= p.TotalPages || len(p.Entries) == 0 {
			return out, pages
		}
		if page > 10000 {
			s.t.Fatal("ledger entries: too many pages")
		}
	}
}

// publicKeys fetches GET /api/v1/ledger/public-keys.
func (s *server) publicKeys() ([]ledger.PublicKey, []byte) {
	s.t.Helper()
	_, raw := s.mustDo(http.MethodGet, "/api/v1/ledger/public-keys", nil, http.StatusOK)
	var body struct {
		Keys []ledger.PublicKey `json:"keys"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		s.t.Fatalf("public keys: bad body %s: %v", raw, err)
	}
	return body.Keys, raw
}

// runCLI runs the binary with args and returns its combined output and exit code.
func runCLI(t testing.TB, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("factstore %s: timed out; output:\n%s", strings.Join(args, " "), out.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("factstore %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// eventHash recomputes an envelope's hash independently of the code under
// test: RFC 8785 canonical JSON of every member except hash, keyId and sig.
func eventHash(t testing.TB, raw []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("envelope is not a JSON object: %v", err)
	}
	delete(m, "hash")
	delete(m, "keyId")
	delete(m, "sig")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := jcs.Transform(b)
	if err != nil {
		t.Fatalf("canonicalise envelope: %v", err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// verifySig checks an Ed25519 signature (base64) over the hex-decoded hash.
func verifySig(pubB64, hashHex, sigB64 string) error {
	pub, err := base64.StdEncoding.DecodeString(pubB64)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("public key %q is not a base64 Ed25519 key", pubB64)
	}
	digest, err := hex.DecodeString(hashHex)
	if err != nil || len(digest) != sha256.Size {
		return fmt.Errorf("hash %q is not a hex SHA-256", hashHex)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return fmt.Errorf("signature is not base64: %w", err)
	}
	if !ed25519.Verify(pub, digest, sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

// forge re-seals an envelope with a key of the forger's choosing: sets seq
// and prev, recomputes the hash and signs it with priv.
func forge(t testing.TB, e ledger.Envelope, seq uint64, prev string, priv ed25519.PrivateKey) []byte {
	t.Helper()
	e.Seq, e.Prev = seq, prev
	e.Hash, e.KeyID, e.Sig = "", "", ""
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = eventHash(t, body)
	digest, _ := hex.DecodeString(e.Hash)
	pub, _ := priv.Public().(ed25519.PublicKey)
	e.KeyID = ledger.KeyID(pub)
	e.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, digest))
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storedMsg is one message of the ledger stream as stored.
type storedMsg struct {
	Seq     uint64
	Subject string
	Data    []byte
}

// withEmbedded starts an in-process-only JetStream server on dataDir (the
// server that owns it must be stopped), runs fn and shuts it down.
func withEmbedded(t testing.TB, dataDir string, fn func(ctx context.Context, js jetstream.JetStream)) {
	t.Helper()
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: dataDir})
	if err != nil {
		t.Fatalf("start embedded nats on %s: %v", dataDir, err)
	}
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	nc, err := eventstore.ConnectInProcess(ns)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fn(ctx, js)
}

// readStream returns every message of the FACTSTORE stream in dataDir, in order.
func readStream(t testing.TB, dataDir string) []storedMsg {
	t.Helper()
	var msgs []storedMsg
	withEmbedded(t, dataDir, func(ctx context.Context, js jetstream.JetStream) {
		st, err := js.Stream(ctx, eventstore.DefaultStream)
		if err != nil {
			t.Fatalf("stream %s: %v", eventstore.DefaultStream, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatalf("get message %d: %v", seq, err)
			}
			msgs = append(msgs, storedMsg{Seq: m.Sequence, Subject: m.Subject, Data: m.Data})
		}
	})
	return msgs
}

// writeStream creates the ledger stream in dataDir and publishes msgs in order
// (a faithful copy, or a tampered one, of another data directory's stream).
func writeStream(t testing.TB, dataDir string, msgs []storedMsg) {
	t.Helper()
	withEmbedded(t, dataDir, func(ctx context.Context, js jetstream.JetStream) {
		if _, err := eventstore.EnsureStream(ctx, js, eventstore.DefaultStream, 1); err != nil {
			t.Fatalf("create stream: %v", err)
		}
		for i, m := range msgs {
			ack, err := js.Publish(ctx, m.Subject, m.Data)
			if err != nil {
				t.Fatalf("publish message %d: %v", i+1, err)
			}
			if ack.Sequence != uint64(i+1) {
				t.Fatalf("message %d stored at sequence %d", i+1, ack.Sequence)
			}
		}
	})
}

// copyFile copies one file, keeping its mode.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	info, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, raw, info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// copyDirFiles copies the regular files of a directory tree.
func copyDirFiles(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if d.Type().IsRegular() {
			copyFile(t, p, filepath.Join(dst, rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
