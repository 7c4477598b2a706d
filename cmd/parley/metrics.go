package main

import (
	"github.com/parleychat/parley/xcon/sqlstore"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/msrp"
)

// msrpCollector turns the MSRP endpoint's counters into Prometheus metrics at scrape time, so
// the hot path pays only for its atomic adds.
type msrpCollector struct {
	endpoint *msrp.Endpoint

	messages, bytes, sessions, connections, wsConnections, transportConns, slow, errs *prometheus.Desc
	parked, parks                                                                     *prometheus.Desc
}

func registerMSRPStats(reg prometheus.Registerer, ep *msrp.Endpoint) error {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("parley_msrp_"+name, help, labels, nil)
	}
	return reg.Register(&msrpCollector{
		endpoint:    ep,
		messages:    d("frames_total", "MSRP requests received and frames queued for sending.", "direction"),
		bytes:       d("bytes_total", "MSRP bytes received and queued for sending.", "direction"),
		sessions:    d("sessions", "MSRP sessions open (bound or waiting for the client's first request)."),
		connections: d("connections", "MSRP connections open."),
		wsConnections: d("websocket_connections", "MSRP connections open over WebSocket (RFC 7977), "+
			"counted in parley_msrp_connections too."),
		transportConns: d("transport_connections", "MSRP connections open, by transport: tcp, tls, ws (RFC 7977), "+
			"wss (WebSocket on the HTTPS listener).", "transport"),
		parked: d("parked_readers", "MSRP connections quiet long enough that their reader goroutine is parked "+
			"(plain TCP; it resumes when the socket becomes readable)."),
		parks: d("reader_parks_total", "Times a quiet MSRP connection's reader goroutine was parked."),
		slow: d("slow_consumers_total", "Connections dropped because the peer did not read fast enough "+
			"(reason pending: msrp.max_pending_bytes reached; deadline: msrp.write_deadline passed).", "reason"),
		errs: d("errors_total", "MSRP failures by kind: protocol_violation (connection closed), too_large (413), "+
			"bind_timeout (msrp.bind_timeout), transaction_timeout (msrp.transaction_timeout), unknown_session (481), "+
			"bound_elsewhere (506), conns_rejected (msrp.max_conns_per_ip), unbound_closed (msrp.bind_timeout), "+
			"idle_closed (msrp.idle_timeout), fingerprint_mismatch (TLS peer certificate differs from a=fingerprint), "+
			"websocket_too_large (a WebSocket message larger than a chunk, connection closed with 1009).", "kind"),
	})
}

func (c *msrpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.messages, c.bytes, c.sessions, c.connections, c.wsConnections, c.transportConns, c.slow, c.errs, c.parked, c.parks} {
		ch <- d
	}
}

func (c *msrpCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.endpoint.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.messages, s.MessagesIn, "in")
	counter(c.messages, s.MessagesOut, "out")
	counter(c.bytes, s.BytesIn, "in")
	counter(c.bytes, s.BytesOut, "out")
	ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(s.Sessions))
	ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(s.Connections))
	ch <- prometheus.MustNewConstMetric(c.wsConnections, prometheus.GaugeValue, float64(s.WebSocketConnections))
	for i, name := range msrp.Transports {
		ch <- prometheus.MustNewConstMetric(c.transportConns, prometheus.GaugeValue, float64(s.ConnectionsByTransport[i]), name)
	}
	ch <- prometheus.MustNewConstMetric(c.parked, prometheus.GaugeValue, float64(s.ParkedReaders))
	counter(c.parks, s.ReaderParks)
	counter(c.slow, s.SlowConsumersPending, "pending")
	counter(c.slow, s.SlowConsumersDeadline, "deadline")
	counter(c.errs, s.ProtocolViolations, "protocol_violation")
	counter(c.errs, s.TooLarge, "too_large")
	counter(c.errs, s.BindTimeouts, "bind_timeout")
	counter(c.errs, s.TransactionTimeouts, "transaction_timeout")
	counter(c.errs, s.UnknownSessions, "unknown_session")
	counter(c.errs, s.BoundElsewhere, "bound_elsewhere")
	counter(c.errs, s.ConnsRejected, "conns_rejected")
	counter(c.errs, s.UnboundClosed, "unbound_closed")
	counter(c.errs, s.IdleClosed, "idle_closed")
	counter(c.errs, s.FingerprintMismatches, "fingerprint_mismatch")
	counter(c.errs, s.GuessingClosed, "guessing_closed")
	counter(c.errs, s.HeaderTimeouts, "header_timeout")
	counter(c.errs, s.WebSocketTooLarge, "websocket_too_large")
}

// registerLogStats exports the message log's group commits: how many, how many messages they
// wrote, and the time spent in them (entries/commits is the batch size), and the fsyncs that make
// them durable (a logged room's 200 waits for its commit and the next fsync).
func registerLogStats(reg prometheus.Registerer, store *sqlstore.Store, commits prometheus.Histogram) error {
	for _, c := range []prometheus.Collector{
		commits,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_store_errors_total",
			Help: "Writes to the database (transactions, log commits among them) that failed."},
			func() float64 { return float64(store.StoreErrors()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_log_commits_total",
			Help: "Group commits of the message log."},
			func() float64 { return float64(store.LogStats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_log_messages_total",
			Help: "Messages written to the log by group commits."},
			func() float64 { return float64(store.LogStats().Entries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_log_commit_seconds_total",
			Help: "Time spent in group commits of the log: inserts and COMMIT (the fsync is counted in parley_log_sync_seconds_total)."},
			func() float64 { return store.LogStats().CommitTime.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_log_syncs_total",
			Help: "fsyncs of the write-ahead log, each making every commit before it durable."},
			func() float64 { return float64(store.LogStats().Syncs) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_log_sync_seconds_total",
			Help: "Time spent in fsyncs of the write-ahead log."},
			func() float64 { return store.LogStats().SyncTime.Seconds() }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// newCommitHistogram is the log's group commit latency: what a logged room's SEND waits for
// its 200. The log writer observes it once per commit, lock-free.
func newCommitHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_log_commit_duration_seconds",
		Help:    "Duration of group commits of the message log (inserts and fsync).",
		Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1}})
}
