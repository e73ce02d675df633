package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/factstore/factstore/cmd/factstore/app"
)

// httpResult is one load phase against the API.
type httpResult struct {
	ok       int
	lat      []time.Duration // of 2xx answers
	took     time.Duration
	statuses map[string]int // non-2xx status (or transport error) -> count
	samples  map[string]string
}

func (h *httpResult) errors() int {
	n := 0
	for _, c := range h.statuses {
		n += c
	}
	return n
}

func (h *httpResult) merge(o *httpResult) {
	h.ok += o.ok
	h.lat = append(h.lat, o.lat...)
	for k, v := range o.statuses {
		h.statuses[k] += v
		if _, ok := h.samples[k]; !ok {
			h.samples[k] = o.samples[k]
		}
	}
}

func newHTTPResult() *httpResult {
	return &httpResult{statuses: map[string]int{}, samples: map[string]string{}}
}

// errSummary lists the non-2xx answers: "409×3 (first: {...}); ...".
func (h *httpResult) errSummary() string {
	var keys []string
	for k := range h.statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		s := h.samples[k]
		if len(s) > 160 {
			s = s[:160] + "…"
		}
		parts = append(parts, fmt.Sprintf("%s×%d (first: %s)", k, h.statuses[k], strings.TrimSpace(s)))
	}
	return strings.Join(parts, "; ")
}

// flowBody builds a create-flow body with a unique name and a 1 KiB
// description (both plain ASCII, so no JSON escaping is needed).
func flowBody(buf []byte, name string) []byte {
	buf = append(buf[:0], `{"name":"`...)
	buf = append(buf, name...)
	buf = append(buf, `","description":"`...)
	buf = append(buf, description1K...)
	return append(buf, `"}`...)
}

// postFlows runs `clients` goroutines POSTing /api/v1/flows until the
// deadline, with names prefix-<n>.
func postFlows(ctx context.Context, client *http.Client, url, prefix string, clients int, dur time.Duration) *httpResult {
	return postLoop(ctx, client, clients, dur, http.StatusCreated, func(i int64, buf []byte) (string, []byte) {
		return url, flowBody(buf, prefix+strconv.FormatInt(i, 10))
	})
}

// postLoop runs `clients` goroutines POSTing the bodies next builds until
// the deadline; an answer other than want counts as an error.
func postLoop(ctx context.Context, client *http.Client, clients int, dur time.Duration, want int,
	next func(i int64, buf []byte) (url string, body []byte),
) *httpResult {
	total := newHTTPResult()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var seq atomic.Int64
	start := time.Now()
	deadline := start.Add(dur)
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			res := newHTTPResult()
			res.lat = make([]time.Duration, 0, 1024)
			var buf []byte
			for ctx.Err() == nil && time.Now().Before(deadline) {
				var url string
				url, buf = next(seq.Add(1), buf)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf))
				if err != nil {
					res.statuses["request"]++
					res.samples["request"] = err.Error()
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					res.statuses["transport"]++
					if _, ok := res.samples["transport"]; !ok {
						res.samples["transport"] = err.Error()
					}
					continue
				}
				var sample []byte
				if resp.StatusCode != want {
					sample, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode == want {
					res.ok++
					res.lat = append(res.lat, d)
					continue
				}
				k := strconv.Itoa(resp.StatusCode)
				res.statuses[k]++
				if _, ok := res.samples[k]; !ok {
					res.samples[k] = string(sample)
				}
			}
			mu.Lock()
			total.merge(res)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.took = time.Since(start)
	sortDurations(total.lat)
	return total
}

// benchHTTP measures (c): a full node (app.Start) behind a real net/http
// server on loopback; 32 keep-alive clients creating flows, then one.
func benchHTTP(ctx context.Context, o *options, run int) []row {
	rThr := row{key: "c-32", name: fmt.Sprintf("(c) POST /flows, %d clients", o.sz.httpClients), unit: "req/s", latOf: "request",
		tgt: target{">=", 5000}}
	rP99 := row{key: "c-32-p99", name: fmt.Sprintf("(c) POST /flows, %d clients, p99", o.sz.httpClients), unit: "ms",
		tgt: target{"<=", 20}}
	rOne := row{key: "c-1-p50", name: "(c) POST /flows, 1 client, p50", unit: "ms", latOf: "request", tgt: target{"<=", 1}}
	rErr := row{key: "c-err", name: "(c) non-2xx answers", unit: "errors", tgt: target{"<=", 0}}
	fail := func(err error) []row {
		for _, r := range []*row{&rThr, &rP99, &rOne, &rErr} {
			r.failed, r.note = true, err.Error()
		}
		return []row{rThr, rP99, rOne, rErr}
	}
	dir, err := tempDir("c")
	if err != nil {
		return fail(err)
	}
	defer removeDir(o, dir)
	node, err := app.Start(ctx, app.Config{DataDir: dir, Logger: discard})
	if err != nil {
		return fail(err)
	}
	defer node.Close()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	// The same server settings as `factstore serve`.
	srv := &http.Server{
		Handler: node.API.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Printf("bench: http server: %v\n", err)
		}
	}()
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        2 * o.sz.httpClients,
		MaxIdleConnsPerHost: 2 * o.sz.httpClients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + ln.Addr().String() + "/api/v1/flows"
	prefix := fmt.Sprintf("bench-r%d-", run)

	// Warm-up: open the connections, grow buffers; not measured.
	warm := postFlows(ctx, client, url, prefix+"warm-", o.sz.httpClients, o.sz.httpWarm)
	if warm.ok == 0 {
		return fail(fmt.Errorf("warm-up: no 2xx answer: %s", warm.errSummary()))
	}
	metricsURL := "http://" + ln.Addr().String() + "/metrics"
	m0 := scrape(ctx, client, metricsURL)
	many := postFlows(ctx, client, url, prefix+"c32-", o.sz.httpClients, o.sz.httpDur)
	m1 := scrape(ctx, client, metricsURL)
	time.Sleep(100 * time.Millisecond) // let the projection drain
	one := postFlows(ctx, client, url, prefix+"c1-", 1, o.sz.httpOneDur)

	rThr.value = perSec(many.ok, many.took)
	rThr.p50, rThr.p99 = percentile(many.lat, .50), percentile(many.lat, .99)
	rThr.note = fmt.Sprintf("%d created in %s; %s", many.ok, many.took.Round(time.Millisecond), m1.sub(m0))
	rP99.value = float64(rThr.p99) / float64(time.Millisecond)
	rP99.note = fmt.Sprintf("p99.9 %s, max %s", fmtDur(percentile(many.lat, .999)), fmtDur(percentile(many.lat, 1)))
	rOne.value = float64(percentile(one.lat, .50)) / float64(time.Millisecond)
	rOne.p50, rOne.p99 = percentile(one.lat, .50), percentile(one.lat, .99)
	rOne.note = fmt.Sprintf("%d created in %s (%.0f req/s)", one.ok, one.took.Round(time.Millisecond), perSec(one.ok, one.took))
	all := newHTTPResult()
	all.merge(many)
	all.merge(one)
	rErr.value = float64(all.errors())
	if all.errors() > 0 {
		rErr.note = all.errSummary()
	} else {
		rErr.note = fmt.Sprintf("of %d measured requests", many.ok+one.ok)
	}
	if many.ok == 0 {
		rThr.failed, rP99.failed = true, true
	}
	if one.ok == 0 {
		rOne.failed = true
	}
	return []row{rThr, rP99, rOne, rErr}
}

// nodeMetrics are the node's own counters (httpapi/metrics.go), scraped
// around a phase to say where a request's time went: how large the writer's
// batches were and how long storing one took, and the same for the read-model
// transactions every write waits for.
type nodeMetrics struct {
	appendSum, appendCount, appendEvents, applySum, applyCount float64
	ok                                                         bool
}

func scrape(ctx context.Context, client *http.Client, url string) nodeMetrics {
	var m nodeMetrics
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return m
	}
	resp, err := client.Do(req)
	if err != nil {
		return m
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return m
	}
	fields := map[string]*float64{
		"factstore_append_duration_seconds_sum":             &m.appendSum,
		"factstore_append_duration_seconds_count":           &m.appendCount,
		"factstore_appended_events_total":                   &m.appendEvents,
		"factstore_projection_apply_duration_seconds_sum":   &m.applySum,
		"factstore_projection_apply_duration_seconds_count": &m.applyCount,
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if p, want := fields[name]; ok && want {
			if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				*p = v
			}
		}
	}
	m.ok = m.appendCount > 0
	return m
}

// sub describes the phase between two scrapes.
func (m nodeMetrics) sub(o nodeMetrics) string {
	if !m.ok || !o.ok {
		return "node metrics unavailable"
	}
	batches := m.appendCount - o.appendCount
	txs := m.applyCount - o.applyCount
	if batches <= 0 || txs <= 0 {
		return "no batches"
	}
	ms := func(sec float64) string { return fmtDur(time.Duration(sec * float64(time.Second))) }
	return fmt.Sprintf("writer: %.0f batches, avg %.1f events, avg decide→ack %s; read models: %.0f tx, avg %s",
		batches, (m.appendEvents-o.appendEvents)/batches, ms((m.appendSum-o.appendSum)/batches),
		txs, ms((m.applySum-o.applySum)/txs))
}
