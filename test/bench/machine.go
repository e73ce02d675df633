package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type machineInfo struct {
	cpu string
	mem string
}

// machine reads the CPU model and memory size from /proc.
func machine() machineInfo {
	m := machineInfo{cpu: "unknown", mem: "memory unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb uint64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				m.mem = fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
				break
			}
		}
		_ = f.Close()
	}
	return m
}

// tempDir makes a fresh directory for one workload.
func tempDir(name string) (string, error) {
	return os.MkdirTemp("", "factstore-bench-"+name+"-")
}

func removeDir(o *options, dir string) {
	if dir == "" {
		return
	}
	if o.keepDirs {
		fmt.Fprintf(os.Stderr, "bench: kept %s\n", dir)
		return
	}
	_ = os.RemoveAll(dir)
}

// fsyncProbe appends 4 KiB and fsyncs, fsyncOps times (bounded by fsyncMax),
// in the same file system the workloads use, so that a slow-disk window
// shows next to the numbers it distorts.
func fsyncProbe(sz sizes) row {
	r := row{key: "fsync", name: "fsync probe (4 KiB append+fsync)", unit: "ops/s", latOf: "fsync"}
	dir, err := tempDir("fsync")
	if err != nil {
		r.failed, r.note = true, err.Error()
		return r
	}
	defer func() { _ = os.RemoveAll(dir) }()
	f, err := os.OpenFile(filepath.Join(dir, "probe"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // a file in the harness temp dir
	if err != nil {
		r.failed, r.note = true, err.Error()
		return r
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	lat := make([]time.Duration, 0, sz.fsyncOps)
	start := time.Now()
	deadline := start.Add(sz.fsyncMax)
	for i := 0; i < sz.fsyncOps && time.Now().Before(deadline); i++ {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			r.failed, r.note = true, err.Error()
			return r
		}
		if err := f.Sync(); err != nil {
			r.failed, r.note = true, err.Error()
			return r
		}
		lat = append(lat, time.Since(t0))
	}
	took := time.Since(start)
	sortDurations(lat)
	r.value = perSec(len(lat), took)
	r.p50, r.p99 = percentile(lat, .50), percentile(lat, .99)
	r.note = fmt.Sprintf("%d ops, max %s", len(lat), fmtDur(lat[len(lat)-1]))
	return r
}

// cpuSample is the machine's and this process's CPU time at one instant, to
// tell how much of the machine other processes used during a workload.
type cpuSample struct {
	at          time.Time
	busy, steal uint64 // all CPUs, clock ticks (USER_HZ)
	self        uint64 // this process, clock ticks
	ok          bool
}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	var v [8]uint64
	for i := range v {
		_, _ = fmt.Sscanf(f[i+1], "%d", &v[i])
	}
	// user nice system idle iowait irq softirq steal
	s.busy = v[0] + v[1] + v[2] + v[5] + v[6]
	s.steal = v[7]
	raw, err = os.ReadFile("/proc/self/stat")
	if err != nil {
		return s
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return s
	}
	g := strings.Fields(string(raw[i+1:]))
	if len(g) < 13 {
		return s
	}
	var ut, st uint64
	_, _ = fmt.Sscanf(g[11], "%d", &ut) // utime is field 14 of the whole line
	_, _ = fmt.Sscanf(g[12], "%d", &st)
	s.self = ut + st
	s.ok = true
	return s
}

// cpuUse is what happened between two samples, as shares of the whole
// machine (1.0 = every CPU busy for the whole interval).
type cpuUse struct {
	self, others, steal float64
	ok                  bool
}

const userHZ = 100

func cpuBetween(a, b cpuSample, ncpu int) cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || secs <= 0 || ncpu <= 0 {
		return cpuUse{}
	}
	cap := secs * userHZ * float64(ncpu)
	busy := float64(b.busy - a.busy)
	self := float64(b.self - a.self)
	return cpuUse{
		self:   self / cap,
		others: max(0, busy-self) / cap,
		steal:  float64(b.steal-a.steal) / cap,
		ok:     true,
	}
}

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuProbe times the per-event CPU floor on one goroutine: an Ed25519
// signature and verification of a 32-byte digest and a SHA-256 of 1 KiB.
// The VM's CPU speed varies by window (docs/performance.md §0); this row
// says how fast it was during this run.
func cpuProbe() row {
	r := row{key: "cpu", name: "cpu probe (ed25519 verify, 1 core)", unit: "ops/s", latOf: "verify"}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		r.failed, r.note = true, err.Error()
		return r
	}
	pub := priv.Public().(ed25519.PublicKey)
	digest := sha256.Sum256(payload1K())
	sig := ed25519.Sign(priv, digest[:])
	timeOp := func(n int, f func()) time.Duration {
		start := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		return time.Since(start) / time.Duration(n)
	}
	var lat []time.Duration
	for i := 0; i < 2000; i++ {
		t0 := time.Now()
		if !ed25519.Verify(pub, digest[:], sig) {
			r.failed, r.note = true, "verify failed"
			return r
		}
		lat = append(lat, time.Since(t0))
	}
	sortDurations(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	verify := sum / time.Duration(len(lat))
	sign := timeOp(2000, func() { ed25519.Sign(priv, digest[:]) })
	data := payload1K()
	hash := timeOp(20000, func() { sha256.Sum256(data) })
	r.value = float64(time.Second) / float64(verify)
	r.p50, r.p99 = percentile(lat, .50), percentile(lat, .99)
	r.note = fmt.Sprintf("verify %s, sign %s, sha256(1 KiB) %dns (docs/performance.md: 35µs, 15µs, 565ns)",
		fmtDur(verify), fmtDur(sign), hash.Nanoseconds())
	return r
}
