package sip_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/focus"
)

// streamAdded is chatOffer with a second MSRP stream: a changed session (RFC 3264 §8.1).
const streamAdded = chatOffer + "m=message 9 TCP/MSRP *\r\na=accept-types:message/cpim\r\n" +
	"a=path:msrp://127.0.0.1:9/s2;tcp\r\na=setup:active\r\n"

// audioInstead is chatOffer with its one m-line turned into audio: the media type of the
// stream changed in place (RFC 3264 §8.3.3).
const audioInstead = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0\r\n"

// origin is the o= line of an SDP body, "" without one.
func origin(body string) string {
	for _, line := range strings.Split(body, "\r\n") {
		if strings.HasPrefix(line, "o=") {
			return line
		}
	}
	return ""
}

// nextVersion is an o= line with its session version one higher (RFC 4566 §5.2).
func nextVersion(t *testing.T, o string) string {
	t.Helper()
	f := strings.Fields(o)
	if len(f) != 6 {
		t.Fatalf("o= line %q", o)
	}
	v, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		t.Fatalf("o= line %q: %v", o, err)
	}
	f[2] = strconv.FormatUint(v+1, 10)
	return strings.Join(f, " ")
}

// inDialog is one request in bob's dialog with the focus, set up by an INVITE of CSeq 1, and
// the answer it must get.
type inDialog struct {
	method   string
	cseq     int
	extra    string
	body     string
	stranger bool // sent with a To tag the focus did not give: a dialog it does not know
	want     int
	header   string // a header the answer must carry
}

// TestRequestsInADialog: requests inside a participant's dialog, over UDP and TCP, and the
// status code the SIP side answers each with: BYE (RFC 3261 §15.1.2), re-INVITE (§14) and
// UPDATE (RFC 3311) with an unchanged, changed, missing or unreadable offer, INFO, which the
// focus does not handle (RFC 6086 §4.2), requests for a dialog it does not know (481, RFC 3261
// §12.2.2) and requests whose CSeq goes back (500, §12.2.2; gaps are fine).
func TestRequestsInADialog(t *testing.T) {
	sdpType := "Content-Type: application/sdp\r\n"
	for _, c := range []struct {
		name  string
		steps []inDialog
		// check, when set, looks further at the last answer; join is the answer to the INVITE.
		check func(t *testing.T, f *focus.Focus, join, last sipAnswer)
	}{
		{name: "BYE", steps: []inDialog{{method: "BYE", cseq: 2, want: 200}},
			check: func(t *testing.T, f *focus.Focus, _, _ sipAnswer) {
				if n := len(f.Room("room").Participants()); n != 0 {
					t.Fatalf("%d participants after the BYE's 200", n)
				}
			}},
		{name: "BYE twice", steps: []inDialog{{method: "BYE", cseq: 2, want: 200}, {method: "BYE", cseq: 3, want: 481}}},
		{name: "re-INVITE, same offer", steps: []inDialog{{method: "INVITE", cseq: 2, extra: sdpType, body: chatOffer, want: 200, header: "contact"}},
			check: func(t *testing.T, _ *focus.Focus, join, last sipAnswer) {
				if got, want := origin(last.body), origin(join.body); got != want {
					t.Fatalf("o= %q for an unchanged session, want %q (RFC 3264 §8)", got, want)
				}
			}},
		{name: "re-INVITE, a stream added", steps: []inDialog{{method: "INVITE", cseq: 2, extra: sdpType, body: streamAdded, want: 200}},
			check: func(t *testing.T, _ *focus.Focus, join, last sipAnswer) {
				if n := strings.Count(last.body, "\r\nm=message "); n != 2 {
					t.Fatalf("answer with %d MSRP m-lines, want 2:\n%s", n, last.body)
				}
				if got, want := origin(last.body), nextVersion(t, origin(join.body)); got != want {
					t.Fatalf("o= %q for a changed session, want %q (RFC 3264 §8)", got, want)
				}
			}},
		{name: "re-INVITE without an offer", steps: []inDialog{{method: "INVITE", cseq: 2, want: 200}},
			check: func(t *testing.T, _ *focus.Focus, join, last sipAnswer) {
				if last.body != join.body {
					t.Fatalf("offer in the 200 %q, want the current session %q (RFC 3261 §14.2)", last.body, join.body)
				}
			}},
		{name: "re-INVITE, not SDP", steps: []inDialog{{method: "INVITE", cseq: 2, extra: "Content-Type: text/plain\r\n", body: "hello", want: 415, header: "accept"}}},
		{name: "re-INVITE, malformed SDP", steps: []inDialog{{method: "INVITE", cseq: 2, extra: sdpType, body: "v=0\r\nnot SDP\r\n", want: 488, header: "warning"}}},
		{name: "UPDATE without an offer", steps: []inDialog{{method: "UPDATE", cseq: 2, want: 200, header: "contact"}}},
		{name: "UPDATE, a stream added", steps: []inDialog{{method: "UPDATE", cseq: 2, extra: sdpType, body: streamAdded, want: 200}},
			check: func(t *testing.T, _ *focus.Focus, join, last sipAnswer) {
				if got, want := origin(last.body), nextVersion(t, origin(join.body)); got != want {
					t.Fatalf("o= %q for a changed session, want %q (RFC 3264 §8)", got, want)
				}
			}},
		{name: "INFO", steps: []inDialog{{method: "INFO", cseq: 2, want: 405, header: "allow"}}},
		{name: "BYE for an unknown dialog", steps: []inDialog{{method: "BYE", cseq: 2, stranger: true, want: 481}}},
		{name: "re-INVITE for an unknown dialog", steps: []inDialog{{method: "INVITE", cseq: 2, extra: sdpType, body: chatOffer, stranger: true, want: 481}}},
		{name: "UPDATE for an unknown dialog", steps: []inDialog{{method: "UPDATE", cseq: 2, stranger: true, want: 481}}},
		{name: "CSeq gap", steps: []inDialog{{method: "UPDATE", cseq: 10, want: 200}, {method: "INVITE", cseq: 11, extra: sdpType, body: chatOffer, want: 200}}},
		{name: "re-INVITE, CSeq out of order", steps: []inDialog{{method: "UPDATE", cseq: 3, want: 200},
			{method: "INVITE", cseq: 2, extra: sdpType, body: chatOffer, want: 500, header: "retry-after"}}},
		{name: "UPDATE, CSeq out of order", steps: []inDialog{{method: "UPDATE", cseq: 3, want: 200}, {method: "UPDATE", cseq: 2, want: 500, header: "retry-after"}}},
		{name: "BYE, CSeq out of order", steps: []inDialog{{method: "UPDATE", cseq: 3, want: 200}, {method: "BYE", cseq: 2, want: 500},
			{method: "UPDATE", cseq: 4, want: 200}},
			check: func(t *testing.T, f *focus.Focus, _, _ sipAnswer) {
				if n := len(f.Room("room").Participants()); n != 1 {
					t.Fatalf("%d participants after a stale BYE, want 1: it ends nothing (RFC 3261 §12.2.2)", n)
				}
			}},
		{name: "re-INVITE, the chat line becomes audio", steps: []inDialog{{method: "INVITE", cseq: 2, extra: sdpType, body: audioInstead, want: 200}},
			check: func(t *testing.T, f *focus.Focus, _, last sipAnswer) {
				if !strings.Contains(last.body, "\r\nm=audio 0 ") {
					t.Fatalf("answer does not refuse the audio line with port 0 (RFC 3264 §6, §8.3.3):\n%s", last.body)
				}
				if n := len(f.Room("room").Participants()[0].ChatIDs()); n != 0 {
					t.Fatalf("%d chat streams left after the line became audio", n)
				}
			}},
		{name: "UPDATE, CSeq below the INVITE's", steps: []inDialog{{method: "UPDATE", cseq: 0, want: 500, header: "retry-after"}}},
	} {
		for _, transport := range []string{"UDP", "TCP"} {
			t.Run(c.name+"/"+transport, func(t *testing.T) {
				f, port := startFocus(t)
				client := dialSIP(t, transport, port)
				call := newCall("sip:room@example.net", "bob")
				join := client.send(call, "INVITE", 1, sdpType, chatOffer)
				if join.code != 200 {
					t.Fatalf("bob joins: %d", join.code)
				}
				var last sipAnswer
				for _, s := range c.steps {
					in := call
					if s.stranger {
						in = &sipCall{uri: call.uri, user: call.user, id: call.id, to: "<" + call.uri + ">;tag=not-the-focus"}
					}
					last = client.send(in, s.method, s.cseq, s.extra, s.body)
					if last.code != s.want {
						t.Fatalf("%s CSeq %d: %d, want %d", s.method, s.cseq, last.code, s.want)
					}
					if s.header != "" && last.headers[s.header] == "" {
						t.Fatalf("%s CSeq %d: %d without %s: %v", s.method, s.cseq, last.code, s.header, last.headers)
					}
				}
				if c.check != nil {
					c.check(t, f, join, last)
				}
			})
		}
	}
}
