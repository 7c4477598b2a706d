package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// locator finds the next hop of every request the focus sends the RFC 3263 way (§4: transport,
// SRV, then A/AAAA), and fails over to the next address when one cannot be reached. sipgo itself
// would look up A records first and SRV only when they fail, after it has already put the default
// port in: not the order RFC 3263 asks for when the URI names a domain and no port.
//
// It is installed as the client's TxRequester, so dialogs (BYE, NOTIFY, re-INVITE along a route
// set) pass here too. NAPTR is not queried (Go's resolver has no NAPTR lookup): without it
// §4.1 has the client try the SRV records of the transports it supports.
type locator struct {
	dns *net.Resolver
	ua  *sipgo.UserAgent
	log *slog.Logger
}

// hop is one place to send a request: a transport and host:port.
type hop struct {
	transport string // "UDP", "TCP" or "TLS"
	addr      string
}

// newResolver returns a resolver that asks server (host:port) or, when server is "", the system's.
func newResolver(server string) *net.Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// Request implements sipgo.ClientTransactionRequester.
func (l *locator) Request(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	hops, err := l.locate(ctx, req, strictRoute(req))
	if err != nil {
		return nil, err
	}
	if len(hops) == 0 {
		return l.send(ctx, req)
	}
	var errs []error
	for i, h := range hops {
		req.SetTransport(h.transport)
		req.SetDestination(h.addr)
		if via := req.Via(); via != nil {
			via.Transport = h.transport
		}
		tx, err := l.send(ctx, req)
		if err == nil {
			return tx, nil
		}
		if i+1 < len(hops) {
			l.log.Info("next hop unreachable, trying the next one", "method", req.Method, "hop", h.transport+" "+h.addr, "err", err)
		}
		errs = append(errs, fmt.Errorf("%s %s: %w", h.transport, h.addr, err))
	}
	return nil, errors.Join(errs...)
}

func (l *locator) send(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if req.IsAck() { // an ACK for a 2xx is its own transaction-less request (RFC 3261 §17.1.1.3)
		return nil, l.ua.TransportLayer().WriteMsg(req)
	}
	tx, err := l.ua.TransactionLayer().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return tx, nil
}

// strictRoute applies RFC 3261 §12.2.1.1 when a dialog's route set starts with a strict router
// (an RFC 2543 proxy, whose Record-Route URI has no lr parameter): the router's URI becomes the
// Request-URI, the rest of the route set follows, and the remote target goes last. It reports
// whether it did; the next hop is then the Request-URI.
func strictRoute(req *sip.Request) bool {
	if to := req.To(); to == nil || !to.Params.Has("tag") {
		return false // outside a dialog the route set is ours (the outbound proxy, loose)
	}
	var routes []string
	for _, h := range req.GetHeaders("Route") {
		routes = append(routes, splitAddressList(h.Value())...)
	}
	if len(routes) == 0 {
		return false
	}
	var first sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(routes[0], &first, &params); err != nil || first.UriParams.Has("lr") {
		return false
	}
	if first.String() == req.Recipient.String() {
		return false // sipgo's client dialogs rewrite the Request-URI themselves
	}
	target := req.Recipient
	for req.RemoveHeader("Route") {
	}
	if first.UriParams != nil {
		first.UriParams.Remove("method") // not allowed in a Request-URI (RFC 3261 §19.1.1)
	}
	first.Headers = nil
	req.Recipient = first
	for _, r := range routes[1:] {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.NewHeader("Route", "<"+target.String()+">"))
	return true
}

// locate returns where to try sending req, in order; none when the next hop is an IP address
// or the destination was chosen otherwise (a dialog's peer reached at its source address).
func (l *locator) locate(ctx context.Context, req *sip.Request, strict bool) ([]hop, error) {
	target := req.Recipient
	if r := req.Route(); r != nil && !strict {
		target = r.Address
	}
	host := strings.Trim(target.Host, "[]") // sipgo keeps an IPv6 reference's brackets
	if _, err := netip.ParseAddr(host); err == nil || host == "" {
		return nil, nil
	}
	if dest := req.MessageData.Destination(); dest != "" {
		if h, _, err := sip.ParseAddr(dest); err == nil && !strings.EqualFold(strings.Trim(h, "[]"), host) {
			return nil, nil
		}
	}
	transport := ""
	if t, ok := target.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToUpper(t)
	} else if target.Scheme == "sips" {
		transport = "TLS"
	} else if to := req.To(); to != nil && to.Params.Has("tag") {
		transport = strings.ToUpper(req.Transport()) // inside a dialog: keep its transport
	}
	if target.Port != 0 { // §4.2: an explicit port means A/AAAA only
		if transport == "" {
			transport = "UDP"
		}
		return l.addresses(ctx, target.Host, target.Port, transport)
	}
	for _, t := range srvTransports(transport, target.Scheme) {
		hops, found := l.srv(ctx, target, t)
		if found {
			if len(hops) == 0 {
				return nil, fmt.Errorf("sip: no address for the SRV targets of %s over %s", target.Host, t)
			}
			return hops, nil
		}
	}
	if transport == "" {
		transport = "UDP"
	}
	return l.addresses(ctx, target.Host, sip.DefaultPort(transport), transport)
}

// srvTransports lists the transports whose SRV records are queried, in order of preference.
func srvTransports(transport, scheme string) []string {
	switch {
	case transport != "":
		return []string{transport}
	case scheme == "sips":
		return []string{"TLS"}
	default:
		return []string{"UDP", "TCP"}
	}
}

// srv looks up the SRV records of target's domain for one transport (RFC 2782 order: priority,
// then weight); found is false when the domain has none.
func (l *locator) srv(ctx context.Context, target sip.Uri, transport string) (hops []hop, found bool) {
	service, proto := "sip", strings.ToLower(transport)
	if transport == "TLS" {
		service, proto = "sips", "tcp"
	}
	_, records, err := l.dns.LookupSRV(ctx, service, proto, target.Host)
	if err != nil || len(records) == 0 {
		return nil, false
	}
	for _, r := range records {
		name := strings.TrimSuffix(r.Target, ".")
		if name == "" { // "." : the service is decidedly not available (RFC 2782)
			continue
		}
		more, err := l.addresses(ctx, name, int(r.Port), transport)
		if err != nil {
			l.log.Info("SRV target has no address", "domain", target.Host, "target", name, "err", err)
			continue
		}
		hops = append(hops, more...)
	}
	return hops, true
}

// addresses resolves host's A and AAAA records. A TLS hop keeps its name instead: sipgo names
// the TLS server after the destination host (and resolves it), and the certificate must be
// checked against a name, not an address.
func (l *locator) addresses(ctx context.Context, host string, port int, transport string) ([]hop, error) {
	if transport == "TLS" {
		return []hop{{transport, net.JoinHostPort(host, strconv.Itoa(port))}}, nil
	}
	ips, err := l.dns.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("sip: resolve %s: %w", host, err)
	}
	hops := make([]hop, 0, len(ips))
	for _, ip := range ips {
		hops = append(hops, hop{transport, net.JoinHostPort(ip.String(), strconv.Itoa(port))})
	}
	return hops, nil
}
