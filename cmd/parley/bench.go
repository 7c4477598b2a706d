package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/spf13/cobra"

	"github.com/parleychat/parley/internal/randomid"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/sip/ua"
)

// benchOptions are the flags of `parley bench`.
type benchOptions struct {
	sip      string
	room     string
	members  int
	senders  int
	duration time.Duration
	window   int
	size     int
	rate     int
	direct   bool
	json     bool
	joins    int
	profile  string
	churn    float64 // members per second that leave and are replaced by a new one
}

func benchCommand() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench [--sip HOST:PORT] [--direct]",
		Short: "Measure a focus: join members over SIP and MSRP, blast messages, print rates and latency",
		Long: `Measure a focus. Members join the room over SIP (TCP, one shared connection) and MSRP (one
connection each), then --senders of them send CPIM messages of --size bytes, each keeping at most
--window SENDs unanswered, for --duration. Printed: sent/s, acked/s (200s), delivered/s (copies
received by members), latency from send to complete receipt (p50/p90/p99/p99.9), refusals and
messages lost. --churn N makes N members a second that do not send leave with a BYE while the
messages flow, each replaced at once by a new member (a soak: losses are then not counted).
--direct first measures two bench endpoints talking to each other with no focus
between them, the bound on this machine, and prints the ratios. Nothing is sent to any address but
the one given by --sip (MSRP paths pointing elsewhere are refused). --sip may name several nodes
sharing the rooms, comma-separated: members join through each in turn.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.sip == "" && !o.direct {
				return errors.New("give --sip HOST:PORT, --direct, or both")
			}
			return runBench(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.sip, "sip", "", "the focus's SIP address (TCP), HOST:PORT; several, comma-separated, for nodes sharing the rooms (members join through each in turn)")
	fl.StringVar(&o.room, "room", "lobby", "the room to join")
	fl.IntVarP(&o.members, "members", "n", 2, "members to join")
	fl.IntVarP(&o.senders, "senders", "s", 2, "members that send (the first S); 0 joins and holds")
	fl.DurationVarP(&o.duration, "duration", "d", 5*time.Second, "how long to send (or hold, with -s 0)")
	fl.IntVar(&o.window, "window", 64, "SENDs each sender keeps unanswered at most")
	fl.IntVar(&o.size, "size", 256, "bytes of each CPIM body")
	fl.IntVar(&o.rate, "rate", 0, "messages per second per sender at most (0: as fast as the window allows)")
	fl.BoolVar(&o.direct, "direct", false, "also measure two endpoints talking directly (the bound) and print ratios")
	fl.BoolVar(&o.json, "json", false, "print the results as JSON")
	fl.IntVar(&o.joins, "parallel-joins", 64, "INVITEs in flight at once while members join")
	fl.StringVar(&o.profile, "cpuprofile", "", "write the load tool's own CPU profile to this file")
	fl.Float64Var(&o.churn, "churn", 0, "members per second that leave (BYE) while messages flow, each replaced at once by a new member; never a sender, so it needs -n above -s")
	return cmd
}

// benchResult is one measured run.
type benchResult struct {
	Mode         string          `json:"mode"` // "direct" or "focus"
	Members      int             `json:"members"`
	Senders      int             `json:"senders"`
	Seconds      float64         `json:"seconds"`
	SentPerSec   float64         `json:"sent_per_sec"`
	AckedPerSec  float64         `json:"acked_per_sec"`
	DelivPerSec  float64         `json:"delivered_per_sec"`
	P50          time.Duration   `json:"p50_ns"`
	P90          time.Duration   `json:"p90_ns"`
	P99          time.Duration   `json:"p99_ns"`
	P999         time.Duration   `json:"p999_ns"`
	Errors       int64           `json:"errors"`
	Refused      map[int]int64   `json:"refused,omitempty"`
	Lost         int64           `json:"lost"`
	JoinSeconds  float64         `json:"join_seconds,omitempty"`
	JoinFailures int             `json:"join_failures,omitempty"`
	Churned      int             `json:"churned,omitempty"`        // members that left and were replaced during the run
	ChurnFailed  int             `json:"churn_failures,omitempty"` // replacements whose join failed`
	Ratio        *benchRatioInfo `json:"vs_direct,omitempty"`
}

type benchRatioInfo struct {
	Messages     float64       `json:"messages"`   // acked/s over direct acked/s
	Deliveries   float64       `json:"deliveries"` // delivered/s over direct acked/s
	AddedLatency time.Duration `json:"added_p50_ns"`
}

func runBench(ctx context.Context, stdout, stderr io.Writer, o benchOptions) error {
	if o.size < 128 {
		return errors.New("--size must be at least 128 bytes (CPIM headers and the stamp)")
	}
	if o.window < 1 {
		return errors.New("--window must be at least 1")
	}
	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []benchResult
	var direct *benchResult
	if o.direct {
		r, err := benchDirect(ctx, stderr, o)
		if err != nil {
			return fmt.Errorf("direct: %w", err)
		}
		results = append(results, r)
		direct = &results[0]
	}
	if o.sip != "" {
		r, err := benchFocus(ctx, stderr, o)
		if err != nil {
			return err
		}
		if direct != nil && direct.AckedPerSec > 0 {
			r.Ratio = &benchRatioInfo{Messages: r.AckedPerSec / direct.AckedPerSec, Deliveries: r.DelivPerSec / direct.AckedPerSec,
				AddedLatency: r.P50 - direct.P50}
		}
		results = append(results, r)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	for _, r := range results {
		printBenchResult(stdout, r)
	}
	return nil
}

func printBenchResult(w io.Writer, r benchResult) {
	if r.Senders == 0 && r.Mode == "focus" {
		fmt.Fprintf(w, "focus  joined %d members in %.2fs, %d failed, and held them idle\n", r.Members, r.JoinSeconds, r.JoinFailures)
		return
	}
	fmt.Fprintf(w, "%-6s members=%d senders=%d %.1fs: sent/s %.0f  acked/s %.0f  delivered/s %.0f\n",
		r.Mode, r.Members, r.Senders, r.Seconds, r.SentPerSec, r.AckedPerSec, r.DelivPerSec)
	fmt.Fprintf(w, "       latency p50 %v  p90 %v  p99 %v  p99.9 %v  errors %d  lost %d\n",
		r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond),
		r.P999.Round(time.Microsecond), r.Errors, r.Lost)
	if len(r.Refused) > 0 {
		fmt.Fprintf(w, "       refused by code: %v\n", r.Refused)
	}
	if r.JoinSeconds > 0 {
		fmt.Fprintf(w, "       joined %d members in %.2fs, %d failed\n", r.Members, r.JoinSeconds, r.JoinFailures)
	}
	if r.Churned > 0 || r.ChurnFailed > 0 {
		fmt.Fprintf(w, "       churn: %d members left and were replaced, %d replacements failed (lost is not counted while members churn)\n",
			r.Churned, r.ChurnFailed)
	}
	if r.Ratio != nil {
		fmt.Fprintf(w, "       vs direct: messages %.2fx  deliveries %.2fx  added p50 latency %v\n",
			r.Ratio.Messages, r.Ratio.Deliveries, r.Ratio.AddedLatency.Round(time.Microsecond))
	}
}

func newRunID() [runIDLen]byte {
	var b [runIDLen]byte
	copy(b[:], randomid.String("0123456789abcdef", runIDLen))
	return b
}

// benchBody is a CPIM message of exactly size bytes from from to to; its tail is the stamp.
func benchBody(from, to string, size int) []byte {
	head := "From: <" + from + ">\r\nTo: <" + to + ">\r\nDateTime: " + time.Now().UTC().Format(time.RFC3339) +
		"\r\n\r\nContent-Type: text/plain;charset=utf-8\r\n\r\n"
	pad := size - len(head) - stampSuffix
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + strings.Repeat("0", stampSuffix))
}

// benchDirect measures two bench endpoints on a loopback connection: the bound of this machine
// for the same traffic without a focus. With one sender only one side sends.
func benchDirect(ctx context.Context, stderr io.Writer, o benchOptions) (benchResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return benchResult{}, err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	ca, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return benchResult{}, err
	}
	cb, ok := <-accepted
	if !ok {
		ca.Close()
		return benchResult{}, errors.New("loopback accept failed")
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ua := msrp.URI{Host: "127.0.0.1", Port: port, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	ub := msrp.URI{Host: "127.0.0.1", Port: port, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	stats, run := newBenchStats(), newRunID()
	a := newBenchPeer(ca, ua, []msrp.URI{ub}, stats, run, o.window)
	b := newBenchPeer(cb, ub, []msrp.URI{ua}, stats, run, o.window)
	peers := []*benchPeer{a, b}
	senders := min(max(o.senders, 1), 2)
	a.template = benchBody("sip:a@bench.invalid", "sip:b@bench.invalid", o.size)
	b.template = benchBody("sip:b@bench.invalid", "sip:a@bench.invalid", o.size)
	for _, p := range peers {
		go p.readLoop()
	}
	r := blast(ctx, stderr, "direct", peers, senders, 1, o)
	r.Members = 2
	ca.Close()
	cb.Close()
	return r, nil
}

// blast runs the senders for the duration, then waits for answers and copies to drain.
func blast(ctx context.Context, stderr io.Writer, mode string, peers []*benchPeer, senders int, fanout int, o benchOptions) benchResult {
	stats := peers[0].stats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range peers[:senders] {
		wg.Add(1)
		go func(p *benchPeer) {
			defer wg.Done()
			p.sendLoop(stop, o.rate)
		}(p)
	}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	deadline := time.NewTimer(o.duration)
	var lastSent, lastDeliv int64
	var sent, acked, deliv int64
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			break wait
		case <-tick.C:
			s, d := stats.sent.Load(), stats.deliveries.Load()
			fmt.Fprintf(stderr, "%s %3.0fs  sent/s %8d  delivered/s %9d  errors %d\n", mode, time.Since(start).Seconds(),
				s-lastSent, d-lastDeliv, stats.errors.Load())
			lastSent, lastDeliv = s, d
		}
	}
	elapsed := time.Since(start).Seconds()
	sent, acked, deliv = stats.sent.Load(), stats.acked.Load(), stats.deliveries.Load()
	tick.Stop()
	close(stop)
	wg.Wait()
	// Drain: every SEND answered, and copies no longer arriving.
	drainEnd := time.Now().Add(10 * time.Second)
	prev := int64(-1)
	for time.Now().Before(drainEnd) {
		inFlight := int64(0)
		for _, p := range peers[:senders] {
			inFlight += p.inFlght.Load()
		}
		d := stats.deliveries.Load()
		if inFlight == 0 && d == prev {
			break
		}
		prev = d
		time.Sleep(200 * time.Millisecond)
	}
	q := stats.latency.percentiles(0.5, 0.9, 0.99, 0.999)
	r := benchResult{Mode: mode, Senders: senders, Seconds: elapsed,
		SentPerSec: float64(sent) / elapsed, AckedPerSec: float64(acked) / elapsed, DelivPerSec: float64(deliv) / elapsed,
		P50: q[0], P90: q[1], P99: q[2], P999: q[3], Errors: stats.errors.Load(), Refused: stats.refusals()}
	if lost := stats.acked.Load()*int64(fanout) - stats.deliveries.Load(); fanout >= 0 && lost > 0 {
		r.Lost = lost
	}
	return r
}

// benchMember is one joined member: its dialog and its MSRP peer.
type benchMember struct {
	dlg  *sipgo.DialogClientSession
	peer *benchPeer
	aor  string
}

// benchFocus joins the members over SIP and MSRP, blasts, and leaves with BYE.
func benchFocus(ctx context.Context, stderr io.Writer, o benchOptions) (benchResult, error) {
	// Several addresses (nodes sharing the rooms): member i joins through the i-th, in turn.
	var targets []sip.Uri
	var allowed []net.IPAddr
	for _, addr := range strings.Split(o.sip, ",") {
		host, portStr, err := net.SplitHostPort(strings.TrimSpace(addr))
		if err != nil {
			return benchResult{}, fmt.Errorf("--sip %q: want HOST:PORT[,HOST:PORT…]", o.sip)
		}
		port, _ := strconv.Atoi(portStr)
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil || len(ips) == 0 {
			return benchResult{}, fmt.Errorf("--sip %q: %v", addr, err)
		}
		allowed = append(allowed, ips...)
		target := sip.Uri{Scheme: "sip", User: o.room, Host: host, Port: port, UriParams: sip.NewParams()}
		target.UriParams.Add("transport", "tcp")
		targets = append(targets, target)
	}
	host, port := targets[0].Host, targets[0].Port
	if o.members < 1 || o.senders > o.members {
		return benchResult{}, errors.New("need members >= 1 and senders <= members")
	}
	if o.churn < 0 || o.churn > 0 && (o.senders >= o.members || o.senders == 0) {
		return benchResult{}, errors.New("--churn needs senders (-s above 0) and members that do not send (-n above -s)")
	}
	raiseOpenFileLimit(slog.New(slog.NewTextHandler(stderr, nil)))
	quiet := slog.New(slog.DiscardHandler)
	agent, err := sipgo.NewUA(sipgo.WithUserAgent("parley-bench"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		return benchResult{}, err
	}
	defer agent.Close()
	localHost := ua.LocalHostFor(host, port)
	client, err := sipgo.NewClient(agent, sipgo.WithClientHostname(localHost), sipgo.WithClientLogger(quiet))
	if err != nil {
		return benchResult{}, err
	}
	srv, err := sipgo.NewServer(agent, sipgo.WithServerLogger(quiet))
	if err != nil {
		return benchResult{}, err
	}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})

	stats, run := newBenchStats(), newRunID()
	members := make([]*benchMember, o.members)
	joinStart := time.Now()
	var failures int
	var firstErr error
	var mu sync.Mutex
	sem := make(chan struct{}, max(o.joins, 1))
	var wg sync.WaitGroup
	for i := range members {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			m, err := benchJoin(ctx, client, targets[i%len(targets)], localHost, fmt.Sprintf("sip:b%d-%s@%s", i, run[:4], localHost), allowed, stats, run, o.window, o.size)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			members[i] = m
			if done := i + 1; done%1000 == 0 {
				fmt.Fprintf(stderr, "joined %d/%d\n", done, o.members)
			}
		}(i)
	}
	wg.Wait()
	joinTime := time.Since(joinStart).Seconds()
	defer benchLeave(members)
	if failures > 0 {
		fmt.Fprintf(stderr, "%d joins failed; first: %v\n", failures, firstErr)
		if failures == o.members {
			return benchResult{}, firstErr
		}
	}
	fmt.Fprintf(stderr, "joined %d members in %.2fs\n", o.members-failures, joinTime)
	var peers []*benchPeer
	for _, m := range members {
		if m != nil {
			peers = append(peers, m.peer)
		}
	}
	if o.senders == 0 {
		// Hold the members, idle, so the focus's memory per member can be read.
		fmt.Fprintf(stderr, "holding %d idle members for %v\n", len(peers), o.duration)
		select {
		case <-ctx.Done():
		case <-time.After(o.duration):
		}
		return benchResult{Mode: "focus", Members: len(peers), JoinSeconds: joinTime, JoinFailures: failures}, nil
	}
	senders := min(o.senders, len(peers))
	fanout := len(peers) - 1
	var churned, churnFailed int
	stopChurn, churnDone := make(chan struct{}), make(chan struct{})
	if o.churn > 0 {
		fanout = -1 // members come and go: what each should have received is not known
		go func() {
			defer close(churnDone)
			churned, churnFailed = churnMembers(ctx, stopChurn, client, targets, localHost, allowed, stats, run, members, senders, o)
		}()
	} else {
		close(churnDone)
	}
	r := blast(ctx, stderr, "focus", peers, senders, fanout, o)
	close(stopChurn)
	<-churnDone
	r.Members, r.JoinSeconds, r.JoinFailures = len(peers), joinTime, failures
	r.Churned, r.ChurnFailed = churned, churnFailed
	return r, nil
}

// churnMembers makes o.churn members a second leave with a BYE, in turn among those that do not
// send, and joins a new member (a new AOR, a new MSRP session) in the place of each, until stop.
func churnMembers(ctx context.Context, stop <-chan struct{}, client *sipgo.Client, targets []sip.Uri, localHost string,
	allowed []net.IPAddr, stats *benchStats, run [runIDLen]byte, members []*benchMember, senders int, o benchOptions) (churned, failed int) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.churn))
	defer tick.Stop()
	next := senders
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-tick.C:
		}
		i := next
		if next++; next == len(members) {
			next = senders
		}
		if old := members[i]; old != nil {
			benchLeave([]*benchMember{old})
			members[i] = nil
		}
		m, err := benchJoin(ctx, client, targets[n%len(targets)], localHost, fmt.Sprintf("sip:c%d-%s@%s", n, run[:4], localHost), allowed, stats, run, o.window, o.size)
		if err != nil {
			failed++
			continue
		}
		members[i] = m
		churned++
	}
}

// benchJoin sends one member's INVITE, connects its MSRP session to the path the focus answered
// (only on an address of the focus), and binds it.
func benchJoin(ctx context.Context, client *sipgo.Client, target sip.Uri, localHost, aor string, allowed []net.IPAddr,
	stats *benchStats, run [runIDLen]byte, window, size int) (*benchMember, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	local := msrp.URI{Host: localHost, Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: "bench", SessionID: uint64(time.Now().UnixNano()), SessionVersion: 1, Address: localHost},
		[]sdp.MediaAnswer{{Port: 9, Proto: "TCP/MSRP", Path: []string{local.String()}, Setup: "active",
			AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"*"}, Chatroom: &sdp.Chatroom{PrivateMessages: true}}})
	if err != nil {
		return nil, err
	}
	var aorURI sip.Uri
	if err := sip.ParseUri(aor, &aorURI); err != nil {
		return nil, err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: aorURI.User, Host: localHost, UriParams: sip.NewParams()}}
	contact.Address.UriParams.Add("transport", "tcp")
	dua := &sipgo.DialogUA{Client: client, ContactHDR: contact}
	from := &sip.FromHeader{Address: aorURI, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	dlg, err := dua.Invite(ctx, target, offer, from, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, err
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, err
	}
	// ACK and BYE go to the 200's Contact: only to an address of --sip, like MSRP below.
	if c := dlg.InviteResponse.Contact(); c != nil && !isAllowed(c.Address.Host, allowed) {
		return nil, fmt.Errorf("the focus's Contact %s is not an address of --sip; not sending ACK or BYE there", c.Address.Host)
	}
	if err := dlg.Ack(ctx); err != nil {
		return nil, err
	}
	m := &benchMember{dlg: dlg, aor: aor}
	fail := func(err error) (*benchMember, error) {
		_ = dlg.Bye(context.Background())
		return nil, err
	}
	ans, err := sdp.Parse(dlg.InviteResponse.Body())
	if err != nil || len(ans.Media) == 0 || ans.Media[0].IsRejected() {
		return fail(errors.New("the answer has no chat stream"))
	}
	path, err := msrp.ParsePath(strings.Join(ans.Media[0].Path, " "))
	if err != nil || len(path) == 0 {
		return fail(errors.New("the answer has no MSRP path"))
	}
	hop := path[0]
	if !isAllowed(hop.Host, allowed) {
		return fail(fmt.Errorf("the answer's MSRP path %s is not an address of --sip; not connecting", hop.HostPort()))
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", hop.HostPort())
	if err != nil {
		return fail(err)
	}
	m.peer = newBenchPeer(conn, local, path, stats, run, window)
	// Every sender's body names its own AOR in From: the focus checks it (RFC 7701 §6.1).
	m.peer.template = benchBody(aor, "sip:"+target.User+"@"+target.Host, size)
	go m.peer.readLoop()
	if err := m.peer.bind(10 * time.Second); err != nil {
		conn.Close()
		return fail(fmt.Errorf("MSRP bind: %w", err))
	}
	return m, nil
}

// isAllowed tells whether host is one of the addresses --sip resolved to.
func isAllowed(host string, allowed []net.IPAddr) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	for _, a := range allowed {
		if ip != nil && a.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// benchLeave ends every member's call, many at once.
func benchLeave(members []*benchMember) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, m := range members {
		if m == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(m *benchMember) {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = m.dlg.Bye(ctx)
			m.peer.conn.Close()
		}(m)
	}
	wg.Wait()
}
