package sip

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the signalling side's Prometheus collectors.
type Metrics struct {
	requests  *prometheus.CounterVec
	responses *prometheus.CounterVec
}

func newMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_requests_total",
			Help: "SIP requests received, by method."}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "sip_responses_total",
			Help: "Final SIP responses sent, by request method and status code."}, []string{"method", "code"}),
	}
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	if err := reg.Register(m.requests); err != nil {
		return err
	}
	return reg.Register(m.responses)
}
