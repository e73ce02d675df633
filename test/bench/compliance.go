package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/factstore/factstore/cmd/factstore/app"
	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/eventstore"
)

// The compliance workloads: (f) attestations recorded through the API by
// 32 closed-loop clients, and (g) assert latency on a loaded ledger under an
// open-loop load at a fixed rate.

// assertSizes are the sizes of (g); (f) uses the (c) sizes.
type assertSizes struct {
	trails   int           // trails loaded, one artifact each
	perTrail int           // attestations per trail
	rate     int           // asserts offered per second
	warm     time.Duration // per variant, not measured
	dur      time.Duration // per variant
	workers  int           // HTTP clients serving the open-loop schedule
}

var (
	fullAssert  = assertSizes{trails: 10000, perTrail: 10, rate: 2000, warm: time.Second, dur: 10 * time.Second, workers: 256}
	quickAssert = assertSizes{trails: 1000, perTrail: 10, rate: 2000, warm: 300 * time.Millisecond, dur: 3 * time.Second, workers: 256}
)

const (
	attTrails   = 200 // (f) trails the clients rotate over
	benchActor  = "bench"
	assertCheck = 10 // (g) every assertCheck-th answer's verdict is checked
)

// liveNode is a full node (app.Start) behind a real net/http server on
// loopback, set up as (c) sets up its node.
type liveNode struct {
	node   *app.Node
	dir    string
	base   string // http://127.0.0.1:port
	client *http.Client
	stop   func()
}

func startLiveNode(ctx context.Context, o *options, name string, conns int) (*liveNode, error) {
	dir, err := tempDir(name)
	if err != nil {
		return nil, err
	}
	ln := &liveNode{dir: dir, stop: func() {}}
	if ln.node, err = app.Start(ctx, app.Config{DataDir: dir, Logger: discard}); err != nil {
		removeDir(o, dir)
		return nil, err
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		ln.close(o)
		return nil, err
	}
	// The same server settings as `factstore serve`.
	srv := &http.Server{
		Handler: ln.node.API.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        2 * conns,
		MaxIdleConnsPerHost: 2 * conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	ln.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ln.base = "http://" + lis.Addr().String()
	ln.stop = func() {
		tr.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Printf("bench: http server: %v\n", err)
		}
	}
	return ln, nil
}

func (n *liveNode) close(o *options) {
	n.stop()
	if n.node != nil {
		n.node.Close()
	}
	removeDir(o, n.dir)
}

// ---------------------------------------------------------------------------
// loading through the writer

// trailSpec is one trail to load: its artifact's digest and attestations.
type trailSpec struct {
	id     string
	digest string
	atts   []attSpec
}

type attSpec struct{ typ, status string }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// benchDigest is a unique artifact digest, "sha256:" and 64 hex digits.
func benchDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func ptr[T any](v T) *T { return &v }

// createFlow submits a flow requiring the given attestation types.
func createFlow(ctx context.Context, w *eventstore.Writer, name string, required []string) (string, error) {
	id := newID()
	_, err := w.Submit(ctx, eventstore.Request{Actor: benchActor, Command: domain.CreateFlow{ID: id, Fields: domain.FlowFields{
		Name: &name, Description: ptr("benchmark flow"), RequiredAttestationTypes: required,
	}}})
	return id, err
}

// loadTrails submits, from conc goroutines, every trail of specs with its
// artifact and attestations, one trail's commands in order; the writer
// batches the goroutines' submissions. It returns the events appended.
func loadTrails(ctx context.Context, w *eventstore.Writer, flowID string, specs []trailSpec, conc int) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	head := w.Head()
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for g := 0; g < min(conc, len(specs)); g++ {
		wg.Go(func() {
			submit := func(cmd domain.Command) bool {
				if _, err := w.Submit(ctx, eventstore.Request{Command: cmd, Actor: benchActor}); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return false
				}
				return true
			}
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(specs) {
					return
				}
				s := &specs[i]
				name := "trail-" + strconv.Itoa(i)
				if !submit(domain.BeginTrail{ID: s.id, Fields: domain.TrailFields{
					FlowID: flowID, Name: &name, GitCommitSha: ptr(s.digest[7:47]), GitBranch: ptr("main"),
					GitAuthor: ptr("Bench Author"), GitAuthorEmail: ptr("bench@example.com"),
				}}) {
					return
				}
				if !submit(domain.ReportArtifact{ID: newID(), TrailID: s.id, Actor: benchActor, Fields: domain.ArtifactFields{
					ImageName: ptr("bench/app"), ImageTag: ptr("v" + strconv.Itoa(i)), Sha256Digest: &s.digest,
				}}) {
					return
				}
				for j := range s.atts {
					a := s.atts[j]
					if !submit(domain.RecordAttestation{ID: newID(), TrailID: s.id, Fields: domain.AttestationFields{
						Type: &a.typ, Status: &a.status, Details: ptr(a.typ + " run " + strconv.Itoa(j) + " (bench)"),
					}}) {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return w.Head() - head, fmt.Errorf("loading trails: %w", firstErr)
	}
	return w.Head() - head, ctx.Err()
}

// caughtUp waits until the read models have applied everything written.
func caughtUp(ctx context.Context, n *app.Node) error {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return n.Store.WaitFor(wctx, n.Writer.Head())
}

// ---------------------------------------------------------------------------
// (f) attestations through HTTP

// benchAttest measures (f): a node as in (c), a flow requiring junit and
// snyk, attTrails trails with one artifact each; then httpClients clients
// POST junit attestations to the trails in turn. Every answer must be 201.
func benchAttest(ctx context.Context, o *options) []row {
	clients := o.sz.httpClients
	rThr := row{key: "f-32", name: fmt.Sprintf("(f) POST attestations, %d clients", clients), unit: "req/s", latOf: "request",
		tgt: target{">=", 5000}}
	rP99 := row{key: "f-32-p99", name: fmt.Sprintf("(f) POST attestations, %d clients, p99", clients), unit: "ms",
		tgt: target{"<=", 20}}
	rErr := row{key: "f-err", name: "(f) answers other than 201", unit: "errors", tgt: target{"<=", 0}}
	fail := func(err error) []row {
		for _, r := range []*row{&rThr, &rP99, &rErr} {
			r.failed, r.note = true, err.Error()
		}
		return []row{rThr, rP99, rErr}
	}
	n, err := startLiveNode(ctx, o, "f", clients)
	if err != nil {
		return fail(err)
	}
	defer n.close(o)
	w := n.node.Writer
	flowID, err := createFlow(ctx, w, "bench-attest", []string{"junit", "snyk"})
	if err != nil {
		return fail(err)
	}
	specs := make([]trailSpec, attTrails)
	for i := range specs {
		specs[i] = trailSpec{id: newID(), digest: benchDigest(fmt.Sprintf("f-%d", i))}
	}
	if _, err := loadTrails(ctx, w, flowID, specs, o.sz.loadConc); err != nil {
		return fail(err)
	}
	if err := caughtUp(ctx, n.node); err != nil {
		return fail(err)
	}
	urls := make([]string, len(specs))
	for i, s := range specs {
		urls[i] = n.base + "/api/v1/trails/" + s.id + "/attestations"
	}
	next := func(i int64, buf []byte) (string, []byte) {
		buf = append(buf[:0], `{"type":"junit","status":"PASSED","details":"412 tests, 0 failures, 3 skipped (run `...)
		buf = strconv.AppendInt(buf, i, 10)
		buf = append(buf, `)"}`...)
		return urls[i%int64(len(urls))], buf
	}

	warm := postLoop(ctx, n.client, clients, o.sz.httpWarm, http.StatusCreated, next)
	if warm.ok == 0 {
		return fail(fmt.Errorf("warm-up: no 201 answer: %s", warm.errSummary()))
	}
	m0 := scrape(ctx, n.client, n.base+"/metrics")
	many := postLoop(ctx, n.client, clients, o.sz.httpDur, http.StatusCreated, next)
	m1 := scrape(ctx, n.client, n.base+"/metrics")

	rThr.value = perSec(many.ok, many.took)
	rThr.p50, rThr.p99 = percentile(many.lat, .50), percentile(many.lat, .99)
	rThr.note = fmt.Sprintf("%d recorded on %d trails in %s; %s", many.ok, len(specs), many.took.Round(time.Millisecond), m1.sub(m0))
	rP99.value = float64(rThr.p99) / float64(time.Millisecond)
	rP99.note = fmt.Sprintf("p99.9 %s, max %s", fmtDur(percentile(many.lat, .999)), fmtDur(percentile(many.lat, 1)))
	all := newHTTPResult()
	all.merge(warm)
	all.merge(many)
	rErr.value = float64(all.errors())
	if all.errors() > 0 {
		rErr.note = all.errSummary()
		rErr.failed = true
	} else {
		rErr.note = fmt.Sprintf("of %d requests (warm-up included)", warm.ok+many.ok)
	}
	if many.ok == 0 {
		rThr.failed, rP99.failed = true, true
	}
	return []row{rThr, rP99, rErr}
}

// ---------------------------------------------------------------------------
// (g) assert latency under an open-loop load

var (
	assertRequired = []string{"junit", "snyk", "sonar"}
	assertTypes    = []string{"junit", "snyk", "sonar", "lint"} // lint is not required
)

// assertSpecs lays out (g)'s trails: each has one artifact with a unique
// digest and perTrail attestations of random types (a quarter not
// required) and statuses (80 % PASSED, 10 % FAILED, 10 % PENDING), so that
// about four in ten trails comply and the rest miss or fail a type.
func assertSpecs(run, trails, perTrail int) []trailSpec {
	specs := make([]trailSpec, trails)
	for i := range specs {
		rng := rand.New(rand.NewPCG(uint64(run), uint64(i))) //nolint:gosec // a benchmark's data layout
		s := trailSpec{id: newID(), digest: benchDigest(fmt.Sprintf("g-%d-%d", run, i)), atts: make([]attSpec, perTrail)}
		for j := range s.atts {
			st := domain.AttestationPassed
			switch rng.IntN(10) {
			case 8:
				st = domain.AttestationFailed
			case 9:
				st = domain.AttestationPending
			}
			s.atts[j] = attSpec{typ: assertTypes[rng.IntN(len(assertTypes))], status: st}
		}
		specs[i] = s
	}
	return specs
}

// assertVerdict is the part of an assertion's answer (g) checks.
type assertVerdict struct {
	Sha256Digest string   `json:"sha256Digest"`
	FlowID       string   `json:"flowId"`
	Status       string   `json:"status"`
	Compliant    bool     `json:"compliant"`
	TrailID      *string  `json:"trailId"`
	Missing      []string `json:"missingAttestationTypes"`
	Failed       []string `json:"failedAttestationTypes"`
	LedgerSeq    uint64   `json:"ledgerSeq"`
}

// expectedVerdict is what a legacy flow requiring assertRequired says of
// a trail: per required type the latest attestation counts; none or
// PENDING is missing, FAILED is failed; compliant when all PASSED.
func expectedVerdict(flowID string, s *trailSpec) assertVerdict {
	v := assertVerdict{Sha256Digest: s.digest, FlowID: flowID, TrailID: &s.id}
	for _, typ := range assertRequired {
		latest := ""
		for _, a := range s.atts {
			if a.typ == typ {
				latest = a.status
			}
		}
		switch latest {
		case domain.AttestationPassed:
		case domain.AttestationFailed:
			v.Failed = append(v.Failed, typ)
		default:
			v.Missing = append(v.Missing, typ)
		}
	}
	v.Compliant = len(v.Missing) == 0 && len(v.Failed) == 0
	v.Status = domain.TrailNonCompliant
	if v.Compliant {
		v.Status = domain.TrailCompliant
	}
	return v
}

func (v assertVerdict) differs(got assertVerdict) string {
	switch {
	case got.Status != v.Status || got.Compliant != v.Compliant:
		return fmt.Sprintf("status %s (compliant %t), want %s", got.Status, got.Compliant, v.Status)
	case got.Sha256Digest != v.Sha256Digest || got.FlowID != v.FlowID:
		return fmt.Sprintf("answer about %s/%s, asked %s/%s", got.FlowID, got.Sha256Digest, v.FlowID, v.Sha256Digest)
	case got.TrailID == nil || *got.TrailID != *v.TrailID:
		return fmt.Sprintf("trailId %v, want %s", got.TrailID, *v.TrailID)
	case !slices.Equal(got.Missing, v.Missing) || !slices.Equal(got.Failed, v.Failed):
		return fmt.Sprintf("missing %v failed %v, want %v %v", got.Missing, got.Failed, v.Missing, v.Failed)
	case got.LedgerSeq == 0:
		return "ledgerSeq 0"
	}
	return ""
}

// openResult is one open-loop phase.
type openResult struct {
	*httpResult                 // lat: scheduled send → answer read
	service     []time.Duration // actual send → answer read
	queued      []time.Duration // scheduled → actual send: waiting for the dispatcher and a free worker
	late        []time.Duration // scheduled → handed to the workers (the harness's own timer lateness)
	offered     int
	checked     int
	wrong       int
	firstWrong  string
}

type openJob struct {
	i, idx int
	at     time.Time
}

// sleepPrecise sleeps in the kernel on the calling (locked) thread: the Go
// runtime's timers wake up to ~1 ms late when the process is idle, as much
// as (g)'s whole latency target, while nanosleep is late by ~0.1 ms.
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR { //nolint:errorlint // a bare errno
	}
}

// openLoad offers rate asserts per second for dur, on a fixed schedule, to
// a pool of workers, each request for a random digest of specs. Latency is
// measured from the scheduled send time, so a stalled server is charged
// for every request it delayed (no coordinated omission). Every
// assertCheck-th answer's verdict is compared with the loaded data.
func openLoad(ctx context.Context, n *liveNode, sz assertSizes, dur time.Duration, dryRun bool, flowID string, specs []trailSpec, seed uint64) *openResult {
	interval := time.Second / time.Duration(sz.rate)
	count := int(dur / interval)
	jobs := make(chan openJob, count)
	start := time.Now().Add(2 * time.Millisecond)
	late := make([]time.Duration, 0, count)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(jobs)
		rng := rand.New(rand.NewPCG(seed, 0)) //nolint:gosec // a benchmark's request mix
		for i := 0; i < count && ctx.Err() == nil; i++ {
			at := start.Add(time.Duration(i) * interval)
			if d := time.Until(at); d > 0 {
				sleepPrecise(d)
			}
			late = append(late, time.Since(at))
			jobs <- openJob{i: i, idx: rng.IntN(len(specs)), at: at}
		}
	}()

	url := n.base + "/api/v1/assert"
	total := &openResult{httpResult: newHTTPResult(), offered: count}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var lastDone atomic.Int64
	for c := 0; c < sz.workers; c++ {
		wg.Go(func() {
			res := &openResult{httpResult: newHTTPResult()}
			var body []byte
			var answer bytes.Buffer
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				s := &specs[j.idx]
				body = append(body[:0], `{"sha256Digest":"`...)
				body = append(body, s.digest...)
				body = append(body, `","flowId":"`...)
				body = append(body, flowID...)
				body = append(body, `"}`...)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					res.statuses["request"]++
					res.samples["request"] = err.Error()
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				if dryRun {
					req.Header.Set("X-Factstore-Dry-Run", "true")
				}
				sent := time.Now()
				resp, err := n.client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						res.statuses["transport"]++
						if _, ok := res.samples["transport"]; !ok {
							res.samples["transport"] = err.Error()
						}
					}
					continue
				}
				answer.Reset()
				_, rerr := answer.ReadFrom(resp.Body)
				_ = resp.Body.Close()
				done := time.Now()
				lastDone.Store(done.UnixNano())
				if resp.StatusCode != http.StatusOK || rerr != nil {
					k := strconv.Itoa(resp.StatusCode)
					if rerr != nil {
						k = "read"
					}
					res.statuses[k]++
					if _, ok := res.samples[k]; !ok {
						res.samples[k] = string(answer.Bytes()[:min(answer.Len(), 512)])
					}
					continue
				}
				res.ok++
				res.lat = append(res.lat, done.Sub(j.at))
				res.service = append(res.service, done.Sub(sent))
				res.queued = append(res.queued, sent.Sub(j.at))
				if j.i%assertCheck != 0 {
					continue
				}
				res.checked++
				if msg := checkVerdict(answer.Bytes(), dryRun, expectedVerdict(flowID, s)); msg != "" {
					res.wrong++
					if res.firstWrong == "" {
						res.firstWrong = msg
					}
				}
			}
			mu.Lock()
			total.merge(res.httpResult)
			total.service = append(total.service, res.service...)
			total.queued = append(total.queued, res.queued...)
			total.checked += res.checked
			total.wrong += res.wrong
			if total.firstWrong == "" {
				total.firstWrong = res.firstWrong
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if t := lastDone.Load(); t > 0 {
		total.took = time.Unix(0, t).Sub(start)
	}
	sortDurations(total.lat)
	sortDurations(total.service)
	total.late = sortDurations(late) // the dispatcher closed jobs after its last append
	sortDurations(total.queued)
	return total
}

func checkVerdict(raw []byte, dryRun bool, want assertVerdict) string {
	var got assertVerdict
	if dryRun {
		var d struct {
			DryRun      bool          `json:"dryRun"`
			WouldCreate assertVerdict `json:"wouldCreate"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return "undecodable answer: " + err.Error()
		}
		if !d.DryRun {
			return "dry run answered without dryRun: true"
		}
		got = d.WouldCreate
	} else if err := json.Unmarshal(raw, &got); err != nil {
		return "undecodable answer: " + err.Error()
	}
	if msg := want.differs(got); msg != "" {
		return want.Sha256Digest + ": " + msg
	}
	return ""
}

// benchAssert measures (g): a node as in (c) loaded through its writer
// with sz.trails trails of one artifact and sz.perTrail attestations each
// on one legacy flow (junit, snyk and sonar required); then sz.rate asserts
// per second for sz.dur, first dry runs (evaluation only), then normal
// asserts (each appends compliance.asserted durably before answering).
func benchAssert(ctx context.Context, o *options, run int) []row {
	sz := fullAssert
	if o.quick {
		sz = quickAssert
	}
	atts := sz.trails * sz.perTrail
	rLoad := row{key: "g-load", name: fmt.Sprintf("(g) load %s trails, %s attestations (Writer)", thousands(float64(sz.trails)), thousands(float64(atts))),
		unit: "events/s", latOf: "-"}
	rate := thousands(float64(sz.rate))
	variant := func(key, what string) (row, row) {
		return row{key: key + "-rate", name: fmt.Sprintf("(%s) POST /assert %s, %s/s offered", key, what, rate), unit: "req/s",
				latOf: "schedule", tgt: target{">=", 0.99 * float64(sz.rate)}},
			row{key: key + "-p99", name: fmt.Sprintf("(%s) POST /assert %s, p99", key, what), unit: "ms", tgt: target{"<=", 2}}
	}
	r1, r1p := variant("g1", "dry-run")
	r2, r2p := variant("g2", "recorded")
	rErr := row{key: "g-err", name: "(g) non-200 answers and wrong verdicts", unit: "errors", tgt: target{"<=", 0}}
	all := rowSet{&rLoad, &r1, &r1p, &r2, &r2p, &rErr}
	rows, fail := all.rows, all.fail
	n, err := startLiveNode(ctx, o, "g", sz.workers)
	if err != nil {
		return fail(err)
	}
	defer n.close(o)
	w := n.node.Writer
	flowID, err := createFlow(ctx, w, "bench-assert", assertRequired)
	if err != nil {
		return fail(err)
	}
	specs := assertSpecs(run, sz.trails, sz.perTrail)
	t0 := time.Now()
	events, err := loadTrails(ctx, w, flowID, specs, o.sz.loadConc)
	if err != nil {
		return fail(err)
	}
	took := time.Since(t0)
	if err := caughtUp(ctx, n.node); err != nil {
		return fail(err)
	}
	compliant := 0
	for i := range specs {
		if expectedVerdict(flowID, &specs[i]).Compliant {
			compliant++
		}
	}
	rLoad.value = perSec(int(events), took)
	rLoad.note = fmt.Sprintf("%d events in %s, read models caught up %s later; %d of %d trails COMPLIANT",
		events, took.Round(time.Millisecond), time.Since(t0.Add(took)).Round(time.Millisecond), compliant, len(specs))

	errs := newHTTPResult()
	wrong, checked := 0, 0
	var firstWrong string
	phase := func(r, rp *row, dryRun bool, seed uint64) {
		if ctx.Err() != nil {
			return
		}
		warm := openLoad(ctx, n, sz, sz.warm, dryRun, flowID, specs, seed)
		errs.merge(warm.httpResult)
		head := w.Head()
		m0 := scrape(ctx, n.client, n.base+"/metrics")
		res := openLoad(ctx, n, sz, sz.dur, dryRun, flowID, specs, seed+1)
		m1 := scrape(ctx, n.client, n.base+"/metrics")
		appended := w.Head() - head
		errs.merge(res.httpResult)
		for _, x := range []*openResult{warm, res} {
			checked += x.checked
			wrong += x.wrong
			if firstWrong == "" {
				firstWrong = x.firstWrong
			}
		}
		r.value = perSec(res.ok, res.took)
		r.p50, r.p99 = percentile(res.lat, .50), percentile(res.lat, .99)
		r.note = fmt.Sprintf("%d of %d answered in %s; send→answer p50 %s p99 %s; queued before send p99 %s, of it harness timer p99 %s",
			res.ok, res.offered, res.took.Round(time.Millisecond), fmtDur(percentile(res.service, .50)),
			fmtDur(percentile(res.service, .99)), fmtDur(percentile(res.queued, .99)), fmtDur(percentile(res.late, .99)))
		rp.value = float64(r.p99) / float64(time.Millisecond)
		rp.note = fmt.Sprintf("from scheduled send; p99.9 %s, max %s; %d events appended",
			fmtDur(percentile(res.lat, .999)), fmtDur(percentile(res.lat, 1)), appended)
		want := uint64(res.ok)
		if dryRun {
			want = 0
		} else {
			rp.note += "; " + m1.sub(m0)
		}
		if appended != want {
			wrong++
			if firstWrong == "" {
				firstWrong = fmt.Sprintf("%d events appended during %d answered asserts (dry run %t)", appended, res.ok, dryRun)
			}
		}
		if res.ok == 0 {
			r.failed, rp.failed = true, true
		}
	}
	phase(&r1, &r1p, true, uint64(run)<<8)
	phase(&r2, &r2p, false, uint64(run)<<8+2)

	rErr.value = float64(errs.errors() + wrong)
	switch {
	case errs.errors() > 0 || wrong > 0:
		rErr.failed = true
		rErr.note = errs.errSummary()
		if wrong > 0 {
			rErr.note = fmt.Sprintf("%d wrong of %d checked, first: %s; %s", wrong, checked, firstWrong, rErr.note)
		}
	default:
		rErr.note = fmt.Sprintf("%d verdicts checked against the loaded data (every %dth answer)", checked, assertCheck)
	}
	return rows()
}
