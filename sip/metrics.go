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
}

func newMetrics() *Metrics {
	return &Metrics{
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
	}
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
	return reg.Register(m.rateLimited)
}
