// Command bench is Factstore's benchmark harness. It measures, in one
// process on the local machine, the durable publish floor of the embedded
// JetStream server, the group-committing writer, the HTTP write path, a
// read-model rebuild, a full chain verification, attestations recorded
// through the API, assert latency on a loaded ledger and an environment's
// snapshots, diffs and drift checks, and compares each with its target
// (docs/performance.md, §3).
//
// Every workload runs on a fresh temporary directory that is removed
// afterwards. Each run prints one table; after all runs a table of medians
// follows, and PASS/MISS there is decided on the median.
//
//	go run ./test/bench -runs 3            # what `make bench` does
//	go run ./test/bench -quick -only a,b   # smoke run of two workloads
//	go run ./test/bench -cpuprofile /tmp/fs  # /tmp/fs.<workload>.pprof (first run)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/factstore/factstore/cmd/factstore/app"
)

// sizes are the bounded loop sizes of one run.
type sizes struct {
	fsyncOps     int
	fsyncMax     time.Duration
	singleMsgs   int
	singleMax    time.Duration
	batchMsgs    int
	batchMax     time.Duration
	appendEvents int           // (b) events submitted, also the (d)/(e) ledger size
	appendMax    time.Duration // (b) time bound; the ledger is topped up untimed after it
	appendConc   int
	loadConc     int // submitters that top the ledger up for (d)/(e), untimed
	httpWarm     time.Duration
	httpDur      time.Duration
	httpClients  int
	httpOneDur   time.Duration
	ledgerMin    int // events (d) and (e) need
}

var (
	fullSizes = sizes{
		fsyncOps: 2000, fsyncMax: 8 * time.Second,
		singleMsgs: 10000, singleMax: 3 * time.Second,
		batchMsgs: 100000, batchMax: 3 * time.Second,
		appendEvents: 100000, appendMax: 8 * time.Second, appendConc: 64, loadConc: 512,
		httpWarm: 500 * time.Millisecond, httpDur: 5 * time.Second, httpClients: 32, httpOneDur: 2 * time.Second,
		ledgerMin: 100000,
	}
	quickSizes = sizes{
		fsyncOps: 300, fsyncMax: 2 * time.Second,
		singleMsgs: 2000, singleMax: time.Second,
		batchMsgs: 20000, batchMax: time.Second,
		appendEvents: 10000, appendMax: 2 * time.Second, appendConc: 64, loadConc: 512,
		httpWarm: 200 * time.Millisecond, httpDur: time.Second, httpClients: 32, httpOneDur: 500 * time.Millisecond,
		ledgerMin: 10000,
	}
)

type options struct {
	runs       int
	quick      bool
	only       map[string]bool
	cpuProfile string
	keepDirs   bool
	sz         sizes
}

func (o *options) want(w string) bool { return len(o.only) == 0 || o.only[w] }

// discard is the logger of every component under test: records are still
// formatted (a real node pays for that) but written nowhere.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func main() {
	var o options
	var only string
	var timeout time.Duration
	flag.IntVar(&o.runs, "runs", 1, "number of runs; medians are reported after the last")
	flag.BoolVar(&o.quick, "quick", false, "smaller sizes for a smoke run")
	flag.StringVar(&only, "only", "", "comma-separated workloads to run: a,b,c,d,e,f,g,h (default all)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile per workload of the first run to PREFIX.<workload>.pprof")
	flag.BoolVar(&o.keepDirs, "keep", false, "keep the temporary data directories (for inspection)")
	flag.DurationVar(&timeout, "timeout", 15*time.Minute, "abort the whole harness after this long")
	flag.Parse()
	if o.runs < 1 {
		o.runs = 1
	}
	o.sz = fullSizes
	if o.quick {
		o.sz = quickSizes
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, w := range strings.Split(only, ",") {
			w = strings.TrimSpace(strings.ToLower(w))
			if !strings.Contains("abcdefgh", w) || len(w) != 1 {
				fmt.Fprintf(os.Stderr, "bench: unknown workload %q in -only (want a,b,c,d,e,f,g,h)\n", w)
				os.Exit(2)
			}
			o.only[w] = true
		}
	}
	slog.SetDefault(discard)

	watchdog := time.AfterFunc(timeout, func() {
		fmt.Fprintf(os.Stderr, "bench: still running after %s; aborting with goroutine dump\n", timeout)
		debug.SetTraceback("all")
		panic("bench: timeout")
	})
	defer watchdog.Stop()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := machine()
	// The nodes run in this process, so it collects garbage as
	// `factstore serve` does.
	gc := app.TuneGC(app.DefaultGCPercent)
	fmt.Printf("Factstore benchmark: %s, GOMAXPROCS=%d, NumCPU=%d, CPU %q, %s, GC percent %d (as factstore serve), runs=%d%s\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), m.cpu, m.mem, gc, o.runs, map[bool]string{true: " (quick sizes)"}[o.quick])
	fmt.Printf("temp dirs under %s; payloads 1 KiB; one process, loopback only\n", os.TempDir())

	start := time.Now()
	var all [][]row
	for r := 1; r <= o.runs && ctx.Err() == nil; r++ {
		t0 := time.Now()
		rows := runOnce(ctx, &o, r)
		all = append(all, rows)
		printTable(fmt.Sprintf("Run %d of %d (%s)", r, o.runs, time.Since(t0).Round(100*time.Millisecond)), rows)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		os.Exit(130)
	}
	if len(all) > 1 {
		printTable(fmt.Sprintf("Medians of %d runs (PASS/MISS on the median; range = min..max)", len(all)), medians(all))
	}
	fmt.Printf("\ntotal %s\n", time.Since(start).Round(100*time.Millisecond))
}

// runOnce runs every selected workload once and returns its rows.
func runOnce(ctx context.Context, o *options, run int) []row {
	var rows []row
	profile := func(name string, f func()) {
		runtime.GC()
		if o.cpuProfile == "" || run != 1 {
			f()
			return
		}
		path := fmt.Sprintf("%s.%s.pprof", o.cpuProfile, name)
		pf, err := os.Create(path) //nolint:gosec // operator-chosen profile path
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: cpuprofile: %v\n", err)
			f()
			return
		}
		defer func() { _ = pf.Close() }()
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintf(os.Stderr, "bench: cpuprofile: %v\n", err)
			f()
			return
		}
		f()
		pprof.StopCPUProfile()
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", path)
	}
	step := func(name string, f func() []row) {
		if ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		c0 := sampleCPU()
		var got []row
		profile(name, func() { got = f() })
		use := cpuBetween(c0, sampleCPU(), runtime.NumCPU())
		fmt.Fprintf(os.Stderr, "bench: run %d: %s done in %s (cpu: self %.0f%%, other processes %.0f%%, steal %.0f%% of the machine; load %s)\n",
			run, name, time.Since(t0).Round(10*time.Millisecond), 100*use.self, 100*use.others, 100*use.steal, loadAvg())
		for i := range got {
			got[i].cpu = use
		}
		rows = append(rows, got...)
	}

	step("probes", func() []row { return []row{fsyncProbe(o.sz), cpuProbe()} })

	var aBatch float64
	if o.want("a") || o.want("b") {
		step("a", func() []row {
			rs := benchRaw(ctx, o)
			for _, r := range rs {
				if r.key == "a-batch" {
					aBatch = r.value
				}
			}
			if !o.want("a") { // only needed for the (b) ratio
				for i := range rs {
					rs[i].note = "baseline for b"
				}
			}
			return rs
		})
	}

	// (b) writes the ledger that (d) and (e) replay and verify.
	var fx *fixture
	if o.want("b") || o.want("d") || o.want("e") {
		step("b", func() []row {
			var rs []row
			fx, rs = benchAppend(ctx, o, o.want("d") || o.want("e"))
			if !o.want("b") {
				return nil
			}
			if r, ok := ratioRow(rs, aBatch); ok {
				rs = append(rs, r)
			}
			return rs
		})
	}
	if fx != nil {
		defer fx.close(o)
	}

	if o.want("c") {
		step("c", func() []row { return benchHTTP(ctx, o, run) })
	}
	if fx != nil && fx.err == nil {
		if o.want("d") {
			step("d", func() []row { return benchRebuild(ctx, fx) })
		}
		if o.want("e") {
			step("e", func() []row { return []row{benchVerify(ctx, fx)} })
		}
	} else if fx != nil {
		rows = append(rows, row{key: "d/e", name: "(d)/(e) ledger load", failed: true, note: fx.err.Error()})
	}
	if o.want("f") {
		step("f", func() []row { return benchAttest(ctx, o) })
	}
	if o.want("g") {
		step("g", func() []row { return benchAssert(ctx, o, run) })
	}
	if o.want("h") {
		step("h", func() []row { return benchEnvironments(ctx, o, run) })
	}
	return rows
}

// ---------------------------------------------------------------------------
// rows and tables

// target is a pass condition on a row's value.
type target struct {
	op  string // ">=" or "<="; "" = informational row
	val float64
}

func (t target) String(unit string) string {
	if t.op == "" {
		return "-"
	}
	sym := map[string]string{">=": "≥", "<=": "≤"}[t.op]
	return sym + " " + fmtVal(t.val, unit)
}

func (t target) pass(v float64) bool {
	switch t.op {
	case ">=":
		return v >= t.val
	case "<=":
		return v <= t.val
	}
	return true
}

// row is one measured value.
type row struct {
	key    string // stable id, for medians
	name   string
	value  float64
	unit   string // "ops/s", "msgs/s", "events/s", "req/s", "%", "ms", "errors"
	p50    time.Duration
	p99    time.Duration
	latOf  string // what p50/p99 measure ("publish", "batch", "Submit", "request")
	tgt    target
	note   string
	failed bool   // the workload itself failed; the row is a MISS whatever its value
	cpu    cpuUse // machine CPU during the workload that produced the row
}

func (r row) status() string {
	switch {
	case r.failed:
		return "FAIL"
	case r.tgt.op == "":
		return "info"
	case r.tgt.pass(r.value):
		return "PASS"
	default:
		return "MISS"
	}
}

func fmtVal(v float64, unit string) string {
	switch unit {
	case "%":
		return fmt.Sprintf("%.0f %%", v)
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	case "errors":
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%s %s", thousands(v), unit)
	}
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}

func printTable(title string, rows []row) {
	fmt.Printf("\n== %s\n", title)
	header := []string{"workload", "value", "p50", "p99", "latency of", "target", "result", "busy", "notes"}
	var lines [][]string
	noisy := 0.0
	for _, r := range rows {
		val := fmtVal(r.value, r.unit)
		if r.failed && r.value == 0 {
			val = "-"
		}
		busy := "-"
		if r.cpu.ok {
			busy = fmt.Sprintf("%.0f%%+%.0f%%", 100*r.cpu.self, 100*(r.cpu.others+r.cpu.steal))
			noisy = max(noisy, r.cpu.others+r.cpu.steal)
		}
		lines = append(lines, []string{r.name, val, fmtDur(r.p50), fmtDur(r.p99), r.latOf, r.tgt.String(r.unit), r.status(), busy, r.note})
	}
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = len([]rune(h))
	}
	for _, l := range lines {
		for i, c := range l[:len(l)-1] {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	pr := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i == len(cells)-1 {
				b.WriteString(c)
				break
			}
			pad := width[i] - len([]rune(c))
			if i == 1 || i == 2 || i == 3 { // numbers right-aligned
				b.WriteString(strings.Repeat(" ", pad) + c)
			} else {
				b.WriteString(c + strings.Repeat(" ", pad))
			}
			b.WriteString("  ")
		}
		fmt.Println(strings.TrimRight(b.String(), " "))
	}
	pr(header)
	sep := make([]string, len(header))
	for i := range header {
		sep[i] = strings.Repeat("-", width[i])
	}
	sep[len(sep)-1] = "-----"
	pr(sep)
	for _, l := range lines {
		pr(l)
	}
	fmt.Println("busy = machine CPU used by this process + by other processes and steal, as a share of all CPUs during the workload")
	if noisy > 0.10 {
		fmt.Printf("WARNING: other processes (or steal) used up to %.0f%% of the machine during this table's workloads; treat its numbers as a noisy window\n", 100*noisy)
	}
}

// medians combines the runs' rows by key: the median value, p50 and p99,
// with the min..max of the value in the notes.
func medians(runs [][]row) []row {
	var order []string
	byKey := map[string][]row{}
	for _, rs := range runs {
		for _, r := range rs {
			if _, seen := byKey[r.key]; !seen {
				order = append(order, r.key)
			}
			byKey[r.key] = append(byKey[r.key], r)
		}
	}
	var out []row
	for _, k := range order {
		rs := byKey[k]
		m := rs[0]
		var vals []float64
		var p50s, p99s []time.Duration
		failed := 0
		for _, r := range rs {
			if r.failed {
				failed++
				continue
			}
			vals = append(vals, r.value)
			p50s = append(p50s, r.p50)
			p99s = append(p99s, r.p99)
		}
		m.note = ""
		if len(vals) == 0 {
			m.failed = true
			m.note = fmt.Sprintf("failed in all %d runs", len(rs))
			out = append(out, m)
			continue
		}
		m.failed = false
		m.value = medianF(vals)
		m.p50 = medianD(p50s)
		m.p99 = medianD(p99s)
		m.cpu = medianCPU(rs)
		lo, hi := vals[0], vals[0]
		for _, v := range vals {
			lo, hi = min(lo, v), max(hi, v)
		}
		m.note = fmt.Sprintf("n=%d, range %s .. %s", len(vals), trimUnit(lo, m.unit), trimUnit(hi, m.unit))
		if failed > 0 {
			m.note += fmt.Sprintf("; FAILED in %d run(s)", failed)
			m.failed = true
		}
		out = append(out, m)
	}
	return out
}

func trimUnit(v float64, unit string) string {
	s := fmtVal(v, unit)
	if unit == "%" || unit == "ms" || unit == "errors" {
		return s
	}
	return strings.TrimSuffix(s, " "+unit)
}

func medianF(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianD(v []time.Duration) time.Duration {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return time.Duration(medianF(f))
}

// percentile returns the p-th percentile (0..1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	return sorted[min(i, len(sorted)-1)]
}

func sortDurations(d []time.Duration) []time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func medianCPU(rs []row) cpuUse {
	var self, others, steal []float64
	for _, r := range rs {
		if r.cpu.ok {
			self = append(self, r.cpu.self)
			others = append(others, r.cpu.others)
			steal = append(steal, r.cpu.steal)
		}
	}
	if len(self) == 0 {
		return cpuUse{}
	}
	return cpuUse{self: medianF(self), others: medianF(others), steal: medianF(steal), ok: true}
}
