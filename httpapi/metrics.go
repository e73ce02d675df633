package httpapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus series the server exports at /metrics.
type Metrics struct {
	Registry *prometheus.Registry
	// Append is the latency of storing one atomic batch (seal to PubAck).
	Append prometheus.Histogram
	// AppendEvents counts stored events.
	AppendEvents prometheus.Counter
	// Apply is the latency of one read-model transaction.
	Apply prometheus.Histogram
	// Requests is the HTTP latency by route and status.
	Requests *prometheus.HistogramVec
}

// NewMetrics registers the series; head and applied report the ledger head
// and the read models' last applied sequence when scraped.
func NewMetrics(head, applied func() uint64) *Metrics {
	reg := prometheus.NewRegistry()
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	m := &Metrics{
		Registry: reg,
		Append: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "factstore_append_duration_seconds", Help: "Time to seal and durably store one batch of events.", Buckets: buckets}),
		AppendEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "factstore_appended_events_total", Help: "Events stored in the ledger by this process."}),
		Apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "factstore_projection_apply_duration_seconds", Help: "Time to apply one transaction of events to the read models (for a batch prepared while it was committed, the time from its delivery to its commit).", Buckets: buckets}),
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "factstore_http_request_duration_seconds", Help: "HTTP request latency.", Buckets: buckets}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(m.Append, m.AppendEvents, m.Apply, m.Requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "factstore_ledger_head_sequence", Help: "Sequence of the last stored event."},
			func() float64 { return float64(head()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "factstore_projection_applied_sequence", Help: "Last sequence applied to the read models."},
			func() float64 { return float64(applied()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "factstore_projection_lag_events", Help: "Events stored but not yet applied to the read models."},
			func() float64 {
				h, a := head(), applied()
				if h < a {
					return 0
				}
				return float64(h - a)
			}),
	)
	return m
}

// RegisterSpeculation exports how many batches the read models prepared
// while they were committed (projections.Store.SpeculationStats), by
// outcome: committed as prepared, or abandoned and applied as delivered.
func (m *Metrics) RegisterSpeculation(stats func() (committed, abandoned uint64)) {
	for _, outcome := range []string{"committed", "abandoned"} {
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "factstore_projection_speculations_total",
			Help:        "Batches the read models prepared while the ledger committed them, by outcome.",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 {
			c, a := stats()
			if outcome == "committed" {
				return float64(c)
			}
			return float64(a)
		}))
	}
}

// ObserveAppend records a stored batch.
func (m *Metrics) ObserveAppend(events int, d time.Duration) {
	m.Append.Observe(d.Seconds())
	m.AppendEvents.Add(float64(events))
}

// ObserveApply records a read-model transaction.
func (m *Metrics) ObserveApply(_ int, d time.Duration) { m.Apply.Observe(d.Seconds()) }
