package sip

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
)

// PeeringConfig is what the focus needs to peer with other SIP servers: SIP over TLS, ad-hoc
// rooms made through a conference factory URI, and inviting others on a participant's REFER.
type PeeringConfig struct {
	// TLSListen is host:port of the SIP over TLS listener (sips: URIs, transport=tls); "" is off.
	TLSListen string
	// TLSCertificate is the listener's certificate; required when TLSListen is set.
	TLSCertificate *tls.Certificate
	// GetCertificate, when set, gives each new handshake its certificate instead (one that
	// is replaced while the listener serves).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// TLSClientConfig verifies the servers the focus connects to over TLS (dial-out to a sips:
	// target or a TLS outbound proxy); nil checks them against the system's roots.
	TLSClientConfig *tls.Config

	// Factory is the conference factory URI (RFC 4579 §5.1): an INVITE to it creates a room and
	// joins the caller to it. "" turns ad-hoc rooms off.
	Factory string
	// AdhocAllowed are the caller domains that may create ad-hoc rooms; "any" (or an empty list)
	// lets every caller.
	AdhocAllowed []string
	// AdhocRoom is the template of ad-hoc rooms (its Name is replaced by a random one).
	AdhocRoom focus.RoomSpec

	// ReferAnyone lets every participant make the focus invite others (REFER to the room);
	// otherwise only moderators, administrators and users with allow-invite-users-dynamically.
	ReferAnyone bool
}

// peering is the server's state for PeeringConfig.
type peering struct {
	tls     net.Listener // nil: no SIP over TLS
	tlsPort int
	factory *sip.Uri // nil: no ad-hoc rooms
	dialOut dialOuts
}

// listenTLS binds the SIP over TLS listener when one is configured.
func (s *Server) listenTLS() error {
	c := s.cfg.Peering
	if c.TLSListen == "" {
		return nil
	}
	if c.TLSCertificate == nil && c.GetCertificate == nil {
		return fmt.Errorf("sip: a TLS listener needs a certificate")
	}
	ln, err := net.Listen("tcp", c.TLSListen)
	if err != nil {
		return fmt.Errorf("sip: listen tls %s: %w", c.TLSListen, err)
	}
	s.peer.tlsPort = ln.Addr().(*net.TCPAddr).Port
	conf := &tls.Config{GetCertificate: c.GetCertificate, MinVersion: tls.VersionTLS12}
	if c.GetCertificate == nil {
		conf.Certificates = []tls.Certificate{*c.TLSCertificate}
	}
	s.peer.tls = tls.NewListener(ln, conf)
	return nil
}

// TLSPort returns the port of the SIP over TLS listener, 0 when there is none.
func (s *Server) TLSPort() int { return s.peer.tlsPort }

// contactURI is the focus's address for a room over transport: sips: (RFC 3261 §19.1) when the
// request's URI was sips:, the TLS port with transport=tls over TLS; an IPv6 advertised host
// is written in brackets.
func (s *Server) contactURI(room, transport, scheme string) sip.Uri {
	uri := sip.Uri{Scheme: "sip", User: room, Host: strings.Trim(s.cfg.AdvertisedHost, "[]"), Port: s.port, UriParams: sip.NewParams()}
	t := strings.ToLower(transport)
	if t == "tls" {
		uri.Port = s.peer.tlsPort
		if strings.EqualFold(scheme, "sips") {
			uri.Scheme = "sips"
		}
	}
	if port, ok := s.wsContactPort(t); ok {
		uri.Port = port // the HTTP listener the client's WebSocket reached (RFC 7118 §5)
		if t == "wss" && strings.EqualFold(scheme, "sips") {
			uri.Scheme = "sips"
		}
	}
	if t != "" && t != "udp" {
		uri.UriParams.Add("transport", t)
	}
	return uri
}

// tlsClientConfig is the configuration of outgoing TLS connections, never nil.
func (c PeeringConfig) tlsClientConfig() *tls.Config {
	if c.TLSClientConfig != nil {
		return c.TLSClientConfig
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}
