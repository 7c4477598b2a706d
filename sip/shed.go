package sip

import (
	"bytes"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Overload shedding over UDP. While max_pending_invites initial INVITEs are in progress, a new
// one is refused before sipgo parses it: a stateless 503 (RFC 3261 §21.5.4, with Retry-After)
// built from the request's own Via, From, To, Call-ID and CSeq lines, sent from the listening
// socket. No parse, transaction, timer or goroutine is spent on it, so under a flood the focus
// keeps its CPU for the calls it took. The client's ACK for the 503 then arrives outside any
// transaction and is ignored; a retransmitted INVITE gets another 503. Anything this scan does
// not recognise takes the normal path, which applies the same limit with a stateful 503.

// shedHeaders are the header names (full and compact, lower case) a response copies.
var shedHeaders = map[string]byte{"via": 'v', "v": 'v', "from": 'f', "f": 'f', "to": 't', "t": 't',
	"call-id": 'i', "i": 'i', "cseq": 'c'}

var shedTagSeq atomic.Uint64

// shedFilter is the transport read filter: it answers and swallows (returns nil) an initial
// UDP INVITE while the focus is overloaded, and passes everything else on untouched.
func (s *Server) shedFilter(info sip.TransportReadProps, data []byte) ([]byte, error) {
	max := s.limits.Load().maxPending
	if max <= 0 || s.pendingInvites.Load() < int64(max) || info.Transport != "UDP" || !bytes.HasPrefix(data, []byte("INVITE ")) {
		return data, nil
	}
	src, ok := info.RemoteAddr.(*net.UDPAddr)
	if !ok {
		return data, nil
	}
	res, branch := s.statelessOverload(data, src)
	if res == nil {
		return data, nil
	}
	if _, retransmission := s.pendingBranches.Load(branch); retransmission {
		return data, nil // of an INVITE being answered: its transaction absorbs it
	}
	if _, err := s.udp.WriteTo(res, src); err != nil {
		s.log.Debug("stateless 503 not sent", "err", err)
	}
	s.metrics.requests.WithLabelValues("INVITE").Inc()
	s.metrics.rateLimited.WithLabelValues("INVITE").Inc()
	s.metrics.responses.WithLabelValues("INVITE", "503").Inc()
	s.metrics.shed.Inc()
	return nil, nil
}

// statelessOverload builds the 503 for an initial INVITE, and returns its top Via branch; nil
// when the request is not one this scan can answer safely (a To tag, a folded or missing header,
// no header end).
func (s *Server) statelessOverload(data []byte, src *net.UDPAddr) (res []byte, branch string) {
	head, _, found := bytes.Cut(data, []byte("\r\n\r\n"))
	if !found {
		return nil, ""
	}
	var vias [][]byte
	var from, to, callID, cseq []byte
	lines := bytes.Split(head, []byte("\r\n"))
	for _, line := range lines[1:] {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			return nil, "" // folded header: leave it to the parser
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, ""
		}
		kind := shedHeaders[string(bytes.ToLower(bytes.TrimSpace(name)))]
		value = bytes.TrimSpace(value)
		switch kind {
		case 'v':
			vias = append(vias, value)
		case 'f':
			from = value
		case 't':
			to = value
		case 'i':
			callID = value
		case 'c':
			cseq = value
		}
	}
	if len(vias) == 0 || from == nil || to == nil || callID == nil || !bytes.HasSuffix(cseq, []byte(" INVITE")) ||
		indexFoldASCII(to, "tag=") >= 0 {
		return nil, ""
	}
	var b bytes.Buffer
	b.Grow(len(head) + 256)
	b.WriteString("SIP/2.0 503 Service Unavailable\r\n")
	for i, v := range vias {
		b.WriteString("Via: ")
		if i == 0 && !bytes.Contains(v, []byte(",")) {
			v = receivedVia(v, src)
		}
		b.Write(v)
		b.WriteString("\r\n")
	}
	b.WriteString("From: ")
	b.Write(from)
	b.WriteString("\r\nTo: ")
	b.Write(to)
	b.WriteString(";tag=shed")
	b.WriteString(strconv.FormatUint(uint64(time.Now().UnixNano())^shedTagSeq.Add(1), 36))
	b.WriteString("\r\nCall-ID: ")
	b.Write(callID)
	b.WriteString("\r\nCSeq: ")
	b.Write(cseq)
	b.WriteString("\r\nRetry-After: " + retryAfter + "\r\nServer: " + s.cfg.UserAgent + "\r\n")
	b.WriteString("Warning: 399 " + s.cfg.AdvertisedHost + " \"pending INVITEs exceeded\"\r\nContent-Length: 0\r\n\r\n")
	return b.Bytes(), topBranch(vias[0])
}

// topBranch returns the branch parameter of the first Via value in a Via header value.
func topBranch(via []byte) string {
	if i := bytes.IndexByte(via, ','); i >= 0 {
		via = via[:i]
	}
	i := indexFoldASCII(via, ";branch=")
	if i < 0 {
		return ""
	}
	v := via[i+len(";branch="):]
	if j := bytes.IndexAny(v, "; \t"); j >= 0 {
		v = v[:j]
	}
	return string(v)
}

// receivedVia adds received and fills an empty rport in the top Via (RFC 3261 §18.2.1,
// RFC 3581 §4), as the transaction layer does for stateful responses.
func receivedVia(via []byte, src *net.UDPAddr) []byte {
	out := make([]byte, 0, len(via)+48)
	ip, port := src.IP.String(), strconv.Itoa(src.Port)
	rest := via
	for {
		i := indexFoldASCII(rest, ";rport")
		if i < 0 {
			break
		}
		end := i + len(";rport")
		out = append(out, rest[:end]...)
		rest = rest[end:]
		if len(rest) == 0 || rest[0] == ';' {
			out = append(out, '=')
			out = append(out, port...)
			break
		}
	}
	out = append(out, rest...)
	out = append(out, ";received="...)
	out = append(out, ip...)
	return out
}

// indexFoldASCII is bytes.Index ignoring ASCII case; unlike bytes.ToLower it never changes
// lengths on invalid UTF-8, so the index is valid in s.
func indexFoldASCII(s []byte, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}
