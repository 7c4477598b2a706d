package sip

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the signalling side's Prometheus collectors.
type Metrics struct {
	requests  *prometheus.CounterVec
	responses *prometheus.CounterVec
	// rateLimited counts requests refused by a per-source limit (limits.go).
	rateLimited *prometheus.CounterVec
	// shed counts INVITEs refused statelessly, before parsing, under overload (shed.go).
	shed prometheus.Counter
	// The conference event package (subscribe.go, notify.go).
	subscriptions prometheus.Gauge
	notifies      *prometheus.CounterVec
	// Stream connections refused at accept and closed by a deadline (connguard.go).
	connsRejected *prometheus.CounterVec
	connsClosed   *prometheus.CounterVec
	// wsConns: SIP WebSocket connections open (websocket.go), by transport ws or wss.
	wsConns *prometheus.GaugeVec
	// inviteSeconds: an initial INVITE's arrival to its 200 OK (invite.go, reinvite.go).
	inviteSeconds prometheus.Histogram
}

func newMetrics() *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_requests_total",
			Help: "SIP requests received, by method."}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_responses_total",
			Help: "Final SIP responses sent, by request method and status code."}, []string{"method", "code"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_rate_limited_total",
			Help: "SIP requests refused with 503 by a per-source rate limit or dialog cap, by method."}, []string{"method"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "sip_invites_shed_total",
			Help: "Initial INVITEs over UDP answered 503 statelessly, before parsing, while sip.max_pending_invites were in progress."}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "parley", Name: "sip_subscriptions",
			Help: "Conference event subscriptions held (limit: sip.Config.Events.MaxSubscriptions)."}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_notifies_total",
			Help: "Conference event NOTIFYs sent, by document state (full, partial, deleted)."}, []string{"state"}),
		connsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_connections_rejected_total",
			Help: "SIP TCP and TLS connections closed at accept, by transport and limit (max_conns_per_ip, max_conns)."}, []string{"transport", "limit"}),
		connsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_connections_closed_total",
			Help: "SIP TCP and TLS connections closed by the focus, by transport and reason (message_timeout)."}, []string{"transport", "reason"}),
		wsConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "parley", Name: "sip_websocket_connections",
			Help: "SIP connections open over WebSocket (RFC 7118), by transport (ws, or wss on the HTTPS listener)."}, []string{"transport"}),
		inviteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "parley", Name: "sip_invite_seconds",
			Help:    "Time from an initial INVITE's arrival to its 200 OK being sent: authentication, the join and the SDP answer.",
			Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5}}),
	}
	// The limited methods are exported at 0 from the start, so that dashboards and alerts see
	// the series before the first refusal.
	for _, method := range []string{"INVITE", "SUBSCRIBE"} {
		m.rateLimited.WithLabelValues(method)
	}
	m.wsConns.WithLabelValues("ws")
	m.wsConns.WithLabelValues("wss")
	for _, transport := range []string{"tcp", "tls"} {
		m.connsRejected.WithLabelValues(transport, "max_conns_per_ip")
		m.connsRejected.WithLabelValues(transport, "max_conns")
		m.connsClosed.WithLabelValues(transport, "message_timeout")
	}
	return m
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	if err := reg.Register(m.requests); err != nil {
		return err
	}
	if err := reg.Register(m.responses); err != nil {
		return err
	}
	if err := reg.Register(m.subscriptions); err != nil {
		return err
	}
	if err := reg.Register(m.notifies); err != nil {
		return err
	}
	if err := reg.Register(m.shed); err != nil {
		return err
	}
	if err := reg.Register(m.connsRejected); err != nil {
		return err
	}
	if err := reg.Register(m.connsClosed); err != nil {
		return err
	}
	if err := reg.Register(m.wsConns); err != nil {
		return err
	}
	if err := reg.Register(m.inviteSeconds); err != nil {
		return err
	}
	return reg.Register(m.rateLimited)
}
