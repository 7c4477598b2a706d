package sip

import (
	"strings"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"
)

// singleHeaders may appear once in a request (RFC 3261 §7.3.1: only comma-separated lists may
// repeat); two differing ones leave the request ambiguous.
var singleHeaders = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type"}

// malformedHeaders names what makes a parsed request's headers unusable, "" when nothing does:
// a header repeated that may appear once, a control character or invalid UTF-8 in a value (a
// display name carrying CR, LF or NUL would reach conference-info and logs), a top Via that is
// not SIP/2.0, or a dialog-forming request with other than one Contact.
func malformedHeaders(req *sip.Request) string {
	for _, name := range singleHeaders {
		hs := req.GetHeaders(name)
		for _, h := range hs[min(1, len(hs)):] {
			if name != "Content-Length" || h.Value() != hs[0].Value() {
				return "more than one " + name + " header"
			}
		}
	}
	for _, h := range req.Headers() {
		if problem := badText(h.Value()); problem != "" {
			return problem + " in the " + h.Name() + " header"
		}
	}
	if v := req.Via(); v != nil && (!strings.EqualFold(v.ProtocolName, "SIP") || v.ProtocolVersion != "2.0") {
		return "top Via is not SIP/2.0"
	}
	switch req.Method {
	case sip.INVITE, sip.SUBSCRIBE, sip.REFER:
		if to := req.To(); to != nil && !to.Params.Has("tag") {
			if n := len(req.GetHeaders("Contact")); n > 1 {
				return "a dialog-forming request takes one Contact"
			}
		}
	}
	return ""
}

// badText tells what is wrong with a header value as text: a control character other than
// HTAB (RFC 3261 §25.1 allows none, quoted or not), or bytes that are not UTF-8.
func badText(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "a control character"
		}
	}
	if !utf8.ValidString(v) {
		return "invalid UTF-8"
	}
	return ""
}

// supportedExtensions are the option tags (RFC 3261 §19.2) the focus implements.
var supportedExtensions = map[string]bool{"timer": true}

// unsupportedRequire lists the option tags of the request's Require headers that the focus does
// not implement (RFC 3261 §8.2.2.3: answered 420 with them in Unsupported).
func unsupportedRequire(req *sip.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			if tag = strings.TrimSpace(tag); tag != "" && !supportedExtensions[strings.ToLower(tag)] {
				out = append(out, tag)
			}
		}
	}
	return out
}
