package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/factstore/factstore/domain"
)

// The environment workload: (h) snapshots of a 1,000-artifact environment
// recorded, diffed and checked for drift through the API by one client.

// envSizes are the sizes of (h).
type envSizes struct {
	artifacts int // workloads in each snapshot
	known     int // trails loaded, one artifact each: the digests with provenance
	changed   int // digests each iteration changes
	churn     int // names each iteration adds and removes: 0..churn each
	warm      int // iterations checked but not measured
	iters     int // iterations measured
}

var (
	fullEnv  = envSizes{artifacts: 1000, known: 200, changed: 50, churn: 5, warm: 10, iters: 200}
	quickEnv = envSizes{artifacts: 1000, known: 200, changed: 50, churn: 5, warm: 3, iters: 30}
)

// Running-artifact statuses of the snapshot answers (httpapi/environments.go).
const (
	runCompliant    = "COMPLIANT"
	runNonCompliant = "NON_COMPLIANT"
	runUnknown      = "UNKNOWN"
)

// envArtifact is one workload of the modelled environment.
type envArtifact struct {
	name, digest, tag string
	count             int
}

// fleet is (h)'s model of the environment: what runs in it now and how
// the ledger judges each known digest. Every iteration changes it as a
// deployment would, and the harness predicts the node's answers from it.
type fleet struct {
	run    int
	sz     envSizes
	rng    *rand.Rand
	arts   []envArtifact
	names  int               // names handed out
	known  []string          // digests a trail reported
	status map[string]string // known digest -> its running status
}

// envChange is what one iteration did to the fleet.
type envChange struct{ added, removed, updated int }

// newFleet lays out sz.artifacts workloads; every fifth runs a known
// digest (one of specs, a quarter of whose junit attestations failed).
func newFleet(run int, sz envSizes, specs []trailSpec) *fleet {
	f := &fleet{run: run, sz: sz, rng: rand.New(rand.NewPCG(uint64(run), 8)), //nolint:gosec // a benchmark's data layout
		status: make(map[string]string, len(specs))}
	for i := range specs {
		f.known = append(f.known, specs[i].digest)
		f.status[specs[i].digest] = runCompliant
		if specs[i].atts[0].status == domain.AttestationFailed {
			f.status[specs[i].digest] = runNonCompliant
		}
	}
	for i := range sz.artifacts {
		d := benchDigest(fmt.Sprintf("h-%d-0-%d", run, i))
		if i%5 == 0 && i/5 < len(f.known) {
			d = f.known[i/5]
		}
		f.arts = append(f.arts, f.newArtifact(d, 0))
	}
	return f
}

func (f *fleet) newArtifact(digest string, iter int) envArtifact {
	f.names++
	return envArtifact{name: fmt.Sprintf("registry.example.com/team-%02d/svc-%05d", f.names%17, f.names),
		digest: digest, tag: "1." + strconv.Itoa(iter) + ".0", count: 1 + f.rng.IntN(5)}
}

// nextDigest is a new build's digest for iteration iter, other than old:
// as often as known digests run in the first snapshot, one with provenance.
func (f *fleet) nextDigest(old string, iter, j int) string {
	if f.rng.IntN(f.sz.artifacts) < len(f.known) {
		for {
			if d := f.known[f.rng.IntN(len(f.known))]; d != old {
				return d
			}
		}
	}
	return benchDigest(fmt.Sprintf("h-%d-%d-%d", f.run, iter, j))
}

// change deploys iteration iter: 0..churn names removed, 0..churn new ones
// added (keeping the fleet within ten of its size) and sz.changed of the
// rest given a new digest.
func (f *fleet) change(iter int) envChange {
	c := envChange{removed: f.rng.IntN(f.sz.churn + 1), added: f.rng.IntN(f.sz.churn + 1)}
	if size := len(f.arts) - c.removed + c.added; size > f.sz.artifacts+10 || size < f.sz.artifacts-10 {
		c.removed, c.added = c.added, c.removed
	}
	perm := f.rng.Perm(len(f.arts))
	upd := perm[c.removed : c.removed+f.sz.changed]
	for j, i := range upd {
		a := &f.arts[i]
		a.digest, a.tag = f.nextDigest(a.digest, iter, j), "1."+strconv.Itoa(iter)+".0"
	}
	c.updated = len(upd)
	gone := perm[:c.removed]
	slices.Sort(gone)
	for _, i := range slices.Backward(gone) {
		f.arts = slices.Delete(f.arts, i, i+1)
	}
	for range c.added {
		f.arts = append(f.arts, f.newArtifact(benchDigest(fmt.Sprintf("h-%d-%d-new-%d", f.run, iter, f.names)), iter))
	}
	return c
}

// digests maps the fleet's names to their digests.
func (f *fleet) digests() map[string]string {
	m := make(map[string]string, len(f.arts))
	for _, a := range f.arts {
		m[a.name] = a.digest
	}
	return m
}

// since is what changed from base (a digests map) to now.
func (f *fleet) since(base map[string]string) envChange {
	var c envChange
	now := f.digests()
	for name, d := range now {
		switch old, ok := base[name]; {
		case !ok:
			c.added++
		case old != d:
			c.updated++
		}
	}
	for name := range base {
		if _, ok := now[name]; !ok {
			c.removed++
		}
	}
	return c
}

// verdicts counts the running statuses the latest snapshot should show.
func (f *fleet) verdicts() map[string]int {
	m := map[string]int{runCompliant: 0, runNonCompliant: 0, runUnknown: 0}
	for _, a := range f.arts {
		if s, ok := f.status[a.digest]; ok {
			m[s]++
		} else {
			m[runUnknown]++
		}
	}
	return m
}

// body is a snapshot report of the fleet (plain ASCII, no escaping needed).
func (f *fleet) body(buf []byte) []byte {
	buf = append(buf[:0], `{"recordedBy":"bench-agent","artifacts":[`...)
	for i, a := range f.arts {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"artifactSha256":"`...)
		buf = append(buf, a.digest...)
		buf = append(buf, `","artifactName":"`...)
		buf = append(buf, a.name...)
		buf = append(buf, `","artifactTag":"`...)
		buf = append(buf, a.tag...)
		buf = append(buf, `","instanceCount":`...)
		buf = strconv.AppendInt(buf, int64(a.count), 10)
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}

// ---------------------------------------------------------------------------
// requests

// endpoint is one route (h) calls, with its answers: every expected one
// counts in ok, the measured ones' latencies in lat.
type endpoint struct {
	*httpResult
	method, url string
	want        int
}

func newEndpoint(method, url string, want int) *endpoint {
	return &endpoint{httpResult: newHTTPResult(), method: method, url: url, want: want}
}

// call sends one request and reads the whole answer; the latency runs
// from the send to the answer's last byte. An answer other than e.want
// is recorded and gives ok false.
func (e *endpoint) call(ctx context.Context, client *http.Client, body []byte, measured bool) ([]byte, bool) {
	fault := func(k, sample string) ([]byte, bool) {
		e.statuses[k]++
		if _, ok := e.samples[k]; !ok {
			e.samples[k] = sample
		}
		return nil, false
	}
	rd := io.Reader(http.NoBody)
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, e.method, e.url, rd)
	if err != nil {
		return fault("request", err.Error())
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fault("transport", err.Error())
	}
	answer, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	d := time.Since(t0)
	switch {
	case err != nil:
		return fault("read", err.Error())
	case resp.StatusCode != e.want:
		return fault(strconv.Itoa(resp.StatusCode), string(answer[:min(len(answer), 512)]))
	}
	e.ok++
	if measured {
		e.lat = append(e.lat, d)
	}
	return answer, true
}

// The parts of the answers (h) checks; entries are only counted.
type (
	snapshotAnswer struct {
		SnapshotIndex int        `json:"snapshotIndex"`
		Artifacts     []struct{} `json:"artifacts"`
	}
	diffAnswer struct {
		FromSnapshotIndex int        `json:"fromSnapshotIndex"`
		ToSnapshotIndex   int        `json:"toSnapshotIndex"`
		Added             []struct{} `json:"added"`
		Removed           []struct{} `json:"removed"`
		Updated           []struct{} `json:"updated"`
		Unchanged         []struct{} `json:"unchanged"`
	}
	driftAnswer struct {
		SnapshotIndex int        `json:"snapshotIndex"`
		HasDrift      bool       `json:"hasDrift"`
		Added         []struct{} `json:"added"`
		Removed       []struct{} `json:"removed"`
		Updated       []struct{} `json:"updated"`
		Allowed       []struct{} `json:"allowed"`
	}
	latestAnswer struct {
		SnapshotIndex int  `json:"snapshotIndex"`
		Compliant     bool `json:"compliant"`
		Artifacts     []struct {
			ComplianceStatus string `json:"complianceStatus"`
		} `json:"artifacts"`
	}
)

// checks counts (h)'s answers compared with the model and keeps the first
// that differs.
type checks struct {
	checked, wrong int
	first          string
}

func (c *checks) expect(ok bool, format string, args ...any) {
	c.checked++
	if ok {
		return
	}
	c.wrong++
	if c.first == "" {
		c.first = fmt.Sprintf(format, args...)
	}
}

func (c *checks) decode(what string, raw []byte, v any) bool {
	if err := json.Unmarshal(raw, v); err != nil {
		c.expect(false, "%s: undecodable answer: %v", what, err)
		return false
	}
	return true
}

// ---------------------------------------------------------------------------
// (h) snapshots, diff and drift through HTTP

// benchEnvironments measures (h): a node as in (f) loaded through its
// writer with sz.known trails on a flow requiring junit (one artifact and
// one junit attestation each, a quarter FAILED), and a K8S environment.
// One client reports a snapshot of sz.artifacts workloads, a fifth of them
// running a loaded digest, and a baseline is approved on it. Then each
// iteration changes the fleet (sz.changed digests, a few names added and
// removed), POSTs its snapshot, GETs the diff with the previous one, POSTs
// a drift check against the baseline and GETs the latest snapshot judged;
// every answer is compared with the model.
func benchEnvironments(ctx context.Context, o *options, run int) []row {
	sz := fullEnv
	if o.quick {
		sz = quickEnv
	}
	arts := thousands(float64(sz.artifacts))
	rLoad := row{key: "h-load", name: fmt.Sprintf("(h) load %d trails with artifact and junit (Writer)", sz.known), unit: "events/s", latOf: "-"}
	rSnap := row{key: "h-snap-p99", name: fmt.Sprintf("(h) POST snapshot, %s artifacts, p99", arts), unit: "ms", latOf: "request",
		tgt: target{"<=", 50}}
	rDiff := row{key: "h-diff-p99", name: "(h) GET diff from=-2 to=-1, p99", unit: "ms", latOf: "request", tgt: target{"<=", 50}}
	rDrift := row{key: "h-drift-p99", name: "(h) POST drift/check, p99", unit: "ms", latOf: "request"}
	rLatest := row{key: "h-latest-p99", name: fmt.Sprintf("(h) GET snapshots/latest, %s judged, p99", arts), unit: "ms", latOf: "request"}
	rErr := row{key: "h-err", name: "(h) unexpected answers and wrong diffs, drift or verdicts", unit: "errors", tgt: target{"<=", 0}}
	all := rowSet{&rLoad, &rSnap, &rDiff, &rDrift, &rLatest, &rErr}
	rows, fail := all.rows, all.fail
	n, err := startLiveNode(ctx, o, "h", 1)
	if err != nil {
		return fail(err)
	}
	defer n.close(o)
	w := n.node.Writer
	flowID, err := createFlow(ctx, w, "bench-environments", []string{"junit"})
	if err != nil {
		return fail(err)
	}
	specs := make([]trailSpec, sz.known)
	for i := range specs {
		st := domain.AttestationPassed
		if i%4 == 3 {
			st = domain.AttestationFailed
		}
		specs[i] = trailSpec{id: newID(), digest: benchDigest(fmt.Sprintf("h-%d-known-%d", run, i)), atts: []attSpec{{"junit", st}}}
	}
	t0 := time.Now()
	events, err := loadTrails(ctx, w, flowID, specs, o.sz.loadConc)
	if err != nil {
		return fail(err)
	}
	took := time.Since(t0)
	if err := caughtUp(ctx, n.node); err != nil {
		return fail(err)
	}
	rLoad.value = perSec(int(events), took)
	rLoad.note = fmt.Sprintf("%d events in %s, read models caught up %s later", events, took.Round(time.Millisecond),
		time.Since(t0.Add(took)).Round(time.Millisecond))

	// Set-up through the API: the environment, its first snapshot, the
	// baseline approved on it and a drift check that must find none.
	create := newEndpoint(http.MethodPost, n.base+"/api/v1/environments", http.StatusCreated)
	raw, created := create.call(ctx, n.client, []byte(`{"name":"bench-h-`+strconv.Itoa(run)+`","type":"K8S"}`), false)
	if !created {
		return fail(fmt.Errorf("create environment: %s", create.errSummary()))
	}
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.ID == "" {
		return fail(fmt.Errorf("create environment: no id in %.200s", raw))
	}
	base := n.base + "/api/v1/environments/" + env.ID
	snap := newEndpoint(http.MethodPost, base+"/snapshots", http.StatusCreated)
	diff := newEndpoint(http.MethodGet, base+"/diff?from=-2&to=-1", http.StatusOK)
	drift := newEndpoint(http.MethodPost, base+"/drift/check", http.StatusCreated)
	latest := newEndpoint(http.MethodGet, base+"/snapshots/latest", http.StatusOK)
	approve := newEndpoint(http.MethodPost, base+"/baselines", http.StatusCreated)
	endpoints := []*endpoint{create, snap, diff, drift, latest, approve}

	fl := newFleet(run, sz, specs)
	var chk checks
	var body []byte
	postSnapshot := func(index int, measured bool) bool {
		body = fl.body(body)
		answer, ok := snap.call(ctx, n.client, body, measured)
		var a snapshotAnswer
		if !ok || !chk.decode("snapshot", answer, &a) {
			return false
		}
		chk.expect(a.SnapshotIndex == index && len(a.Artifacts) == len(fl.arts), "snapshot %d: index %d with %d artifacts, want %d",
			index, a.SnapshotIndex, len(a.Artifacts), len(fl.arts))
		return true
	}
	var baseline map[string]string
	checkDrift := func(index int, measured bool) (entries int) {
		answer, ok := drift.call(ctx, n.client, []byte(`{}`), measured)
		var a driftAnswer
		if !ok || !chk.decode("drift check", answer, &a) {
			return 0
		}
		c := fl.since(baseline)
		want := c.added+c.removed+c.updated > 0
		chk.expect(a.SnapshotIndex == index && a.HasDrift == want && len(a.Added) == c.added && len(a.Removed) == c.removed &&
			len(a.Updated) == c.updated && len(a.Allowed) == 0,
			"drift check at snapshot %d: snapshot %d hasDrift %t added %d removed %d updated %d, want hasDrift %t %d/%d/%d",
			index, a.SnapshotIndex, a.HasDrift, len(a.Added), len(a.Removed), len(a.Updated), want, c.added, c.removed, c.updated)
		return len(a.Added) + len(a.Removed) + len(a.Updated)
	}
	if !postSnapshot(1, false) {
		return fail(fmt.Errorf("first snapshot: %s %s", snap.errSummary(), chk.first))
	}
	raw, approved := approve.call(ctx, n.client, []byte(`{"approvedBy":"bench","description":"release 1.0"}`), false)
	var b struct {
		SnapshotIndex *int `json:"snapshotIndex"`
	}
	if !approved || json.Unmarshal(raw, &b) != nil || b.SnapshotIndex == nil || *b.SnapshotIndex != 1 {
		return fail(fmt.Errorf("approve baseline: %s %.200s", approve.errSummary(), raw))
	}
	baseline = fl.digests()
	checkDrift(1, false)

	m0 := scrape(ctx, n.client, n.base+"/metrics")
	head := w.Head()
	var changed envChange
	lastEntries, bodyBytes := 0, 0
	for it := 1; it <= sz.warm+sz.iters && ctx.Err() == nil; it++ {
		measured := it > sz.warm
		c := fl.change(it)
		index := it + 1
		if !postSnapshot(index, measured) {
			break // the node's snapshots no longer follow the model
		}
		bodyBytes = len(body)
		changed.added, changed.removed, changed.updated = changed.added+c.added, changed.removed+c.removed, changed.updated+c.updated
		if answer, ok := diff.call(ctx, n.client, nil, measured); ok {
			var a diffAnswer
			if chk.decode("diff", answer, &a) {
				chk.expect(a.FromSnapshotIndex == index-1 && a.ToSnapshotIndex == index && len(a.Added) == c.added &&
					len(a.Removed) == c.removed && len(a.Updated) == c.updated &&
					len(a.Unchanged) == len(fl.arts)-c.added-c.updated,
					"diff %d..%d: %d..%d added %d removed %d updated %d unchanged %d, want %d/%d/%d/%d",
					index-1, index, a.FromSnapshotIndex, a.ToSnapshotIndex, len(a.Added), len(a.Removed), len(a.Updated), len(a.Unchanged),
					c.added, c.removed, c.updated, len(fl.arts)-c.added-c.updated)
			}
		}
		lastEntries = checkDrift(index, measured)
		if answer, ok := latest.call(ctx, n.client, nil, measured); ok {
			var a latestAnswer
			if chk.decode("latest", answer, &a) {
				got := map[string]int{runCompliant: 0, runNonCompliant: 0, runUnknown: 0}
				for _, x := range a.Artifacts {
					got[x.ComplianceStatus]++
				}
				want := fl.verdicts()
				chk.expect(a.SnapshotIndex == index && !a.Compliant && len(a.Artifacts) == len(fl.arts) &&
					got[runCompliant] == want[runCompliant] && got[runNonCompliant] == want[runNonCompliant] &&
					got[runUnknown] == want[runUnknown],
					"latest at %d: snapshot %d compliant %t with %d artifacts %v, want %d artifacts %v",
					index, a.SnapshotIndex, a.Compliant, len(a.Artifacts), got, len(fl.arts), want)
			}
		}
	}
	m1 := scrape(ctx, n.client, n.base+"/metrics")
	appended := w.Head() - head

	timed := func(r *row, e *endpoint) {
		sortDurations(e.lat)
		if len(e.lat) == 0 {
			r.failed = true
			r.note = "no measured answer"
			return
		}
		r.p50, r.p99 = percentile(e.lat, .50), percentile(e.lat, .99)
		r.value = float64(r.p99) / float64(time.Millisecond)
		r.note = fmt.Sprintf("%d measured (after %d warm-up), max %s", len(e.lat), sz.warm, fmtDur(percentile(e.lat, 1)))
	}
	timed(&rSnap, snap)
	timed(&rDiff, diff)
	timed(&rDrift, drift)
	timed(&rLatest, latest)
	iters := len(snap.lat)
	if iters > 0 {
		v := fl.verdicts()
		all := float64(sz.warm + iters)
		rSnap.note += fmt.Sprintf("; body %s KiB, each changing %d digests, %.1f names added and %.1f removed on average; "+
			"latest runs %d COMPLIANT, %d NON_COMPLIANT, %d UNKNOWN", thousands(float64(bodyBytes)/1024), sz.changed,
			float64(changed.added)/all, float64(changed.removed)/all, v[runCompliant], v[runNonCompliant], v[runUnknown])
		rDrift.note += fmt.Sprintf("; no fixed target; the report (an event) grows with the drift: %d entries at the end; loop's writes "+
			"(snapshots and drift checks, %d events): %s", lastEntries, appended, m1.sub(m0))
		rLatest.note += "; every artifact's provenance judged now"
	}

	errs := newHTTPResult()
	for _, e := range endpoints {
		errs.merge(e.httpResult)
	}
	rErr.value = float64(errs.errors() + chk.wrong)
	switch {
	case errs.errors() > 0 || chk.wrong > 0:
		rErr.failed = true
		rErr.note = errs.errSummary()
		if chk.wrong > 0 {
			rErr.note = fmt.Sprintf("%d wrong of %d checked, first: %s; %s", chk.wrong, chk.checked, chk.first, rErr.note)
		}
	default:
		rErr.note = fmt.Sprintf("%d answers, %d checks against the model (indexes, diff and drift counts, verdict counts)", errs.ok, chk.checked)
	}
	return rows()
}

// rowSet is a workload's rows, filled in as it runs.
type rowSet []*row

// rows copies the rows out.
func (s rowSet) rows() []row {
	out := make([]row, len(s))
	for i, r := range s {
		out[i] = *r
	}
	return out
}

// fail marks every row not yet decided as failed with err.
func (s rowSet) fail(err error) []row {
	for _, r := range s {
		if !r.failed && r.note == "" {
			r.failed, r.note = true, err.Error()
		}
	}
	return s.rows()
}
