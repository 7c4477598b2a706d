package sdp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var focusParams = AnswerParams{Username: "parley", SessionID: 7781, SessionVersion: 7781, Address: "192.0.2.10"}

func focusChatAnswer(label, sessionID string) MediaAnswer {
	return MediaAnswer{
		Port: 2855, Label: label, Setup: "passive",
		AcceptTypes:        []string{"message/cpim"},
		AcceptWrappedTypes: []string{"text/plain", "text/html", "application/im-iscomposing+xml", "*"},
		MaxSize:            1048576,
		Path:               []string{"msrp://192.0.2.10:2855/" + sessionID + ";tcp"},
		Chatroom:           &Chatroom{Nickname: true, PrivateMessages: true},
	}
}

func TestBuildAnswer_Golden(t *testing.T) {
	offer, err := Parse(readTestdata(t, "softphone-two-labels.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := BuildAnswer(offer, focusParams, []MediaAnswer{
		{Reject: true},
		{Reject: true},
		focusChatAnswer("main", "p0Hq8Nn2Ys6dEw1"),
		focusChatAnswer("ops", "Ag5Tr3Kb9Vm0Lc2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"v=0",
		"o=parley 7781 7781 IN IP4 192.0.2.10",
		"s=-",
		"c=IN IP4 192.0.2.10",
		"t=0 0",
		"m=audio 0 RTP/AVP 0 8 101",
		"m=video 0 RTP/AVP 96",
		"m=message 2855 TCP/MSRP *",
		"a=label:main",
		"a=setup:passive",
		"a=accept-types:message/cpim",
		"a=accept-wrapped-types:text/plain text/html application/im-iscomposing+xml *",
		"a=max-size:1048576",
		"a=path:msrp://192.0.2.10:2855/p0Hq8Nn2Ys6dEw1;tcp",
		"a=chatroom:nickname private-messages",
		"m=message 2855 TCP/MSRP *",
		"a=label:ops",
		"a=setup:passive",
		"a=accept-types:message/cpim",
		"a=accept-wrapped-types:text/plain text/html application/im-iscomposing+xml *",
		"a=max-size:1048576",
		"a=path:msrp://192.0.2.10:2855/Ag5Tr3Kb9Vm0Lc2;tcp",
		"a=chatroom:nickname private-messages",
		"",
	}, "\r\n")
	if string(got) != want {
		t.Errorf("answer:\n%s\nwant:\n%s", got, want)
	}
}

func TestBuildAnswer_RoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		params AnswerParams
		media  func(offer *Session) []MediaAnswer
		check  func(t *testing.T, answer *Session)
	}{
		{
			name: "unknown media refused in place", file: "t38-and-chat.sdp", params: focusParams,
			media: func(*Session) []MediaAnswer {
				return []MediaAnswer{{Reject: true}, focusChatAnswer("", "x1")}
			},
			check: func(t *testing.T, a *Session) {
				m := a.Media[0]
				if m.Type != "image" || m.Port != 0 || m.Proto != "udptl" || !reflect.DeepEqual(m.Formats, []string{"t38"}) || len(m.Attributes) != 0 {
					t.Errorf("refused line = %+v", m)
				}
				if a.Media[1].Label != "" || a.Media[1].Port != 2855 {
					t.Errorf("chat line = %+v", a.Media[1])
				}
			},
		},
		{
			name: "wss proto echoed", file: "browser-wss.sdp", params: focusParams,
			media: func(*Session) []MediaAnswer { return []MediaAnswer{focusChatAnswer("", "w1")} },
			check: func(t *testing.T, a *Session) {
				if a.Media[0].Proto != "TCP/WSS/MSRP" || !a.Media[0].IsMSRP() {
					t.Errorf("proto = %q", a.Media[0].Proto)
				}
			},
		},
		{
			name: "tls with fingerprint", file: "tls-fingerprint.sdp", params: focusParams,
			media: func(*Session) []MediaAnswer {
				a := focusChatAnswer("", "t1")
				a.Fingerprint = "sha-256 AA:BB"
				a.Path = []string{"msrps://192.0.2.10:2855/t1;tcp"}
				return []MediaAnswer{a, {Reject: true}}
			},
			check: func(t *testing.T, a *Session) {
				if a.Media[0].Proto != "TCP/TLS/MSRP" || a.Media[0].Fingerprint != "sha-256 AA:BB" {
					t.Errorf("m-line = %+v", a.Media[0])
				}
				if a.Media[1].Port != 0 || a.Media[1].Proto != "TCP/TLS/MSRP" {
					t.Errorf("refused = %+v", a.Media[1])
				}
			},
		},
		{
			name: "ipv6 address", file: "ipv6.sdp",
			params: AnswerParams{SessionID: 1, SessionVersion: 2, Address: "[2001:db8::10]"},
			media:  func(*Session) []MediaAnswer { return []MediaAnswer{focusChatAnswer("", "v6")} },
			check: func(t *testing.T, a *Session) {
				want := Origin{Username: "-", SessionID: 1, SessionVersion: 2, AddressType: "IP6", Address: "2001:db8::10"}
				if a.Origin != want || a.Connection != "2001:db8::10" {
					t.Errorf("origin = %+v, c = %q", a.Origin, a.Connection)
				}
			},
		},
		{
			name: "host name address", file: "ipv6.sdp",
			params: AnswerParams{Address: "focus.example.net"},
			media:  func(*Session) []MediaAnswer { return []MediaAnswer{focusChatAnswer("", "h")} },
			check: func(t *testing.T, a *Session) {
				if a.Origin.AddressType != "IP4" || a.Connection != "focus.example.net" {
					t.Errorf("origin = %+v", a.Origin)
				}
			},
		},
		{
			name: "file transfer receive", file: "file-transfer-push.sdp", params: focusParams,
			media: func(o *Session) []MediaAnswer {
				return []MediaAnswer{{
					Port: 2855, Setup: "passive", Direction: "recvonly",
					AcceptTypes: []string{"message/cpim"}, Path: []string{"msrp://192.0.2.10:2855/f;tcp"},
					FileSelector: o.Media[0].FileSelector, FileTransferID: o.Media[0].FileTransferID,
					Attributes: []Attribute{{Key: "x-note", Value: "kept"}},
				}}
			},
			check: func(t *testing.T, a *Session) {
				m := a.Media[0]
				if m.Direction != "recvonly" || m.FileTransferID != "xK2vR9qLm3Tb8Nw1Zc4Hy7Fp0Sd6Ge5J" || !strings.HasPrefix(m.FileSelector, `name:"plan%22v2%22.pdf"`) {
					t.Errorf("m-line = %+v", m)
				}
				if last := m.Attributes[len(m.Attributes)-1]; last != (Attribute{"x-note", "kept"}) {
					t.Errorf("last attribute = %+v", last)
				}
			},
		},
		{
			name: "bare chatroom", file: "linphone-lf.sdp", params: focusParams,
			media: func(*Session) []MediaAnswer {
				a := focusChatAnswer("", "b")
				a.Chatroom = &Chatroom{}
				return []MediaAnswer{a}
			},
			check: func(t *testing.T, a *Session) {
				if !reflect.DeepEqual(a.Media[0].Chatroom, &Chatroom{}) || a.Media[0].Attribute("chatroom").Value != "" {
					t.Errorf("chatroom = %+v", a.Media[0].Chatroom)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer, err := Parse(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			media := tt.media(offer)
			b, err := BuildAnswer(offer, tt.params, media)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(b), "\r\n") || strings.Contains(strings.ReplaceAll(string(b), "\r\n", ""), "\n") {
				t.Errorf("answer is not CRLF-terminated lines:\n%q", b)
			}
			answer, err := Parse(b)
			if err != nil {
				t.Fatalf("answer does not parse: %v\n%s", err, b)
			}
			if len(answer.Media) != len(offer.Media) {
				t.Fatalf("%d answer m-lines for %d offered", len(answer.Media), len(offer.Media))
			}
			for i, m := range answer.Media {
				if m.Type != offer.Media[i].Type {
					t.Errorf("m-line %d type %q, offered %q", i+1, m.Type, offer.Media[i].Type)
				}
				if media[i].Reject {
					continue
				}
				if !reflect.DeepEqual(m.Path, media[i].Path) || !reflect.DeepEqual(m.AcceptTypes, media[i].AcceptTypes) ||
					m.Setup != media[i].Setup || m.Label != media[i].Label || m.MaxSize != media[i].MaxSize {
					t.Errorf("m-line %d = %+v, built from %+v", i+1, m, media[i])
				}
			}
			tt.check(t, answer)
		})
	}
}

func TestBuildOffer(t *testing.T) {
	b, err := BuildOffer(AnswerParams{Username: "parley", SessionID: 9, SessionVersion: 9, Address: "192.0.2.10"}, []MediaAnswer{{
		Port: 2855, Proto: "TCP/MSRP", Setup: "actpass", Label: "main",
		AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"*"},
		Path: []string{"msrp://192.0.2.10:2855/dial01;tcp"}, Chatroom: &Chatroom{PrivateMessages: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "v=0\r\no=parley 9 9 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
		"m=message 2855 TCP/MSRP *\r\na=label:main\r\na=setup:actpass\r\na=accept-types:message/cpim\r\n" +
		"a=accept-wrapped-types:*\r\na=path:msrp://192.0.2.10:2855/dial01;tcp\r\na=chatroom:private-messages\r\n"
	if string(b) != want {
		t.Errorf("offer:\n%q\nwant:\n%q", b, want)
	}
	if _, err := BuildOffer(focusParams, []MediaAnswer{{Port: 1, Proto: "RTP/AVP"}}); !errors.Is(err, ErrInvalidAnswer) {
		t.Errorf("non-MSRP offer: err = %v", err)
	}
}

func TestBuildAnswer_InvalidParameters(t *testing.T) {
	offer, err := Parse(readTestdata(t, "ipv6.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	good := focusChatAnswer("main", "s")
	tests := []struct {
		name   string
		params AnswerParams
		mutate func(*MediaAnswer)
	}{
		{"no address", AnswerParams{}, nil},
		{"wildcard IPv4", AnswerParams{Address: "0.0.0.0"}, nil},
		{"wildcard IPv6", AnswerParams{Address: "[::]"}, nil},
		{"address with space", AnswerParams{Address: "a b"}, nil},
		{"address with colon but not ip", AnswerParams{Address: "host:5060"}, nil},
		{"username with space", AnswerParams{Username: "a b", Address: "192.0.2.1"}, nil},
		{"port zero", focusParams, func(m *MediaAnswer) { m.Port = 0 }},
		{"port too big", focusParams, func(m *MediaAnswer) { m.Port = 70000 }},
		{"no path", focusParams, func(m *MediaAnswer) { m.Path = nil }},
		{"no accept-types", focusParams, func(m *MediaAnswer) { m.AcceptTypes = nil }},
		{"crlf in path", focusParams, func(m *MediaAnswer) { m.Path = []string{"msrp://x/y;tcp\r\na=evil"} }},
		{"space in accept type", focusParams, func(m *MediaAnswer) { m.AcceptTypes = []string{"text/plain text/html"} }},
		{"bad label", focusParams, func(m *MediaAnswer) { m.Label = "two words" }},
		{"holdconn", focusParams, func(m *MediaAnswer) { m.Setup = "holdconn" }},
		{"bad direction", focusParams, func(m *MediaAnswer) { m.Direction = "both" }},
		{"negative max-size", focusParams, func(m *MediaAnswer) { m.MaxSize = -1 }},
		{"bad chatroom token", focusParams, func(m *MediaAnswer) { m.Chatroom = &Chatroom{Tokens: []string{""}} }},
		{"newline in fingerprint", focusParams, func(m *MediaAnswer) { m.Fingerprint = "sha-1 AA\nb=x" }},
		{"bad extra attribute", focusParams, func(m *MediaAnswer) { m.Attributes = []Attribute{{Key: "a b"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			if tt.mutate != nil {
				tt.mutate(&m)
			}
			if _, err := BuildAnswer(offer, tt.params, []MediaAnswer{m}); !errors.Is(err, ErrInvalidAnswer) {
				t.Errorf("err = %v, want ErrInvalidAnswer", err)
			}
		})
	}
	if _, err := BuildAnswer(offer, focusParams, nil); !errors.Is(err, ErrInvalidAnswer) {
		t.Errorf("count mismatch: err = %v", err)
	}
	if _, err := BuildAnswer(nil, focusParams, nil); !errors.Is(err, ErrInvalidAnswer) {
		t.Errorf("nil offer: err = %v", err)
	}
}
