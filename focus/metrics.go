package focus

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the runtime's Prometheus collectors. No label names a room or a user.
type Metrics struct {
	participants    prometheus.Gauge
	messagesRelayed prometheus.Counter
	copiesSent      prometheus.Counter
	bytesRelayed    prometheus.Counter
	adhocRemoved    prometheus.Counter
	idleRemoved     prometheus.Counter
	filesTooLarge   prometheus.Counter
	filesEvicted    prometheus.Counter
	filesAborted    prometheus.Counter
	fanout          prometheus.Histogram

	pageReceived, pageSent, pageFailed, pageDropped, pageIdleDropped prometheus.Counter
	pageUnresponsive, pageReplaced                                   prometheus.Counter
	sendsLimited                                                     prometheus.Counter // message_rate refusals
	relayed, relayFailures                                           prometheus.Counter // several nodes (relay.go)
}

// fanoutBuckets are the bounds of parley_msrp_fanout_seconds: from a few microseconds (a
// message to a handful of members) to tens of milliseconds (thousands).
var fanoutBuckets = []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2}

func newMetrics() *Metrics {
	return &Metrics{
		participants: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "parley", Name: "participants",
			Help: "Participants (SIP dialogs) present in all rooms."}),
		messagesRelayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "msrp_messages_relayed_total",
			Help: "Messages accepted from participants and relayed by the switch."}),
		copiesSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "msrp_copies_sent_total",
			Help: "Copies of relayed messages queued to recipients."}),
		bytesRelayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "msrp_bytes_relayed_total",
			Help: "CPIM bytes queued to recipients by the switch."}),
		adhocRemoved: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "adhoc_rooms_removed_total",
			Help: "Ad-hoc rooms removed because nobody was in them (idle, or their creator's call failed)."}),
		idleRemoved: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "idle_rooms_removed_total",
			Help: "Rooms created over CCMP deleted after room_idle without anybody in them and without a change."}),
		filesTooLarge: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "files_too_large_total",
			Help: "Pushed files refused with 413 for declaring more than max_file_size."}),
		filesEvicted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "kept_files_evicted_total",
			Help: "Kept files deleted to stay within file_quota or file_total_quota."}),
		filesAborted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "files_aborted_total",
			Help: "Pushed files whose transfer the sender interrupted or abandoned."}),
		sendsLimited: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "msrp_rate_limited_total",
			Help: "Messages refused with 403 for exceeding a participant's message_rate."}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "relay_messages_delivered_total",
			Help: "Room messages handed to this node's members by the relay between nodes, its own included."}),
		relayFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "relay_failures_total",
			Help: "Room messages the relay between nodes did not take (their sender got 500) or delivered unreadable."}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "parley", Name: "msrp_fanout_seconds",
			Help: "Time the switch takes to queue one message to every recipient of its channel.", Buckets: fanoutBuckets}),
		pageReceived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "page_messages_received_total",
			Help: "SIP MESSAGEs to rooms accepted and relayed (page mode, RFC 3428)."}),
		pageSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "page_messages_sent_total",
			Help: "MESSAGEs delivered to page-mode members (answered 2xx)."}),
		pageFailed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "page_messages_failed_total",
			Help: "MESSAGEs to page-mode members that failed (error response, timeout, unreachable)."}),
		pageDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "page_messages_dropped_total",
			Help: "Queued MESSAGEs to a page-mode member dropped, the oldest first, for newer ones when its queue was full (sip.page_queue)."}),
		pageUnresponsive: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "page_members_unresponsive_dropped_total",
			Help: "Page-mode members taken out of their room after sip.page_max_failures failed MESSAGEs in a row."}),
		pageReplaced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "page_messages_replaced_total",
			Help: "Room messages that reached a page-mode member as a notice: larger than sip.page_max_body allows, files, payloads a text-only member cannot show."}),
		pageIdleDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "page_members_idle_dropped_total",
			Help: "Page-mode members taken out of their room after page_idle without a MESSAGE."}),
	}
}

// Register adds the runtime's collectors, and a gauge of rooms read from f, to reg.
func (f *Focus) Register(reg prometheus.Registerer) error {
	rooms := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "parley", Name: "rooms", Help: "Rooms hosted."},
		func() float64 { return float64(len(f.Rooms())) })
	kept := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "parley", Name: "kept_file_bytes",
		Help: "Bytes of files kept on disk for later joiners, all rooms (file_total_quota bounds it)."},
		func() float64 { return float64(f.files.bytes()) })
	for _, c := range []prometheus.Collector{rooms, kept, f.metrics.participants, f.metrics.messagesRelayed, f.metrics.copiesSent, f.metrics.bytesRelayed,
		f.metrics.adhocRemoved, f.metrics.idleRemoved, f.metrics.filesTooLarge, f.metrics.filesEvicted, f.metrics.filesAborted, f.metrics.fanout,
		f.metrics.pageReceived, f.metrics.pageSent, f.metrics.pageFailed, f.metrics.pageDropped, f.metrics.pageIdleDropped, f.metrics.sendsLimited,
		f.metrics.pageUnresponsive, f.metrics.pageReplaced, f.metrics.relayed, f.metrics.relayFailures} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
