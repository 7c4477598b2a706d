package sdp

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse_ClientOffers(t *testing.T) {
	tests := []struct {
		file       string
		origin     Origin
		connection string
		media      []Media // compared without Attributes
		attrs      []int   // number of a= lines per m-line
	}{
		{
			file:       "linphone-lf.sdp",
			origin:     Origin{Username: "alice", SessionID: 1702, SessionVersion: 3417, AddressType: "IP4", Address: "192.168.1.23"},
			connection: "192.168.1.23",
			media: []Media{{
				Type: "message", Port: 9, Proto: "TCP/MSRP", Formats: []string{"*"},
				Path:               []string{"msrp://192.168.1.23:9/3ahdGq8x;tcp"},
				AcceptTypes:        []string{"message/cpim"},
				AcceptWrappedTypes: []string{"text/plain", "application/vnd.gsma.rcs-ft-http+xml", "application/im-iscomposing+xml", "message/imdn+xml"},
				Setup:              "active", Direction: "sendrecv",
			}},
			attrs: []int{5},
		},
		{
			file:   "blink.sdp",
			origin: Origin{Username: "-", SessionID: 3923478125, SessionVersion: 3923478125, AddressType: "IP4", Address: "10.0.0.5"},
			media: []Media{{
				Type: "message", Port: 2855, Proto: "TCP/TLS/MSRP", Formats: []string{"*"}, Connection: "10.0.0.5",
				Path:               []string{"msrps://10.0.0.5:2855/a4e2b0c7d1f9e3a8;tcp"},
				AcceptTypes:        []string{"message/cpim", "text/*", "image/*", "application/im-iscomposing+xml"},
				AcceptWrappedTypes: []string{"*"},
				Chatroom:           &Chatroom{Nickname: true, PrivateMessages: true, Tokens: []string{"com.ag-projects.screen-sharing", "com.ag-projects.zrtp-sas"}},
				Setup:              "active",
				Fingerprint:        "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:A3:C0:CE:BE:6C:E3:1F:5D:3B:E4:F0:2E",
			}},
			attrs: []int{6},
		},
		{
			file:       "jitsi-audio-video-chat.sdp",
			origin:     Origin{Username: "jitsi.org", AddressType: "IP4", Address: "192.0.2.33"},
			connection: "192.0.2.33",
			media: []Media{
				{Type: "audio", Port: 5000, Proto: "RTP/AVP", Formats: []string{"96", "97", "8", "0", "101"}, Direction: "sendrecv"},
				{Type: "video", Port: 5002, Proto: "RTP/AVP", Formats: []string{"100", "99"}, Direction: "sendrecv"},
				{
					Type: "message", Port: 5004, Proto: "TCP/MSRP", Formats: []string{"*"},
					Path:        []string{"msrp://192.0.2.33:5004/jitsi8f2a91c;tcp"},
					AcceptTypes: []string{"text/plain", "text/html"},
				},
			},
			attrs: []int{8, 5, 2},
		},
		{
			file:       "softphone-two-labels.sdp",
			origin:     Origin{Username: "dave", SessionID: 3905, SessionVersion: 3905, AddressType: "IP4", Address: "203.0.113.20"},
			connection: "203.0.113.20",
			media: []Media{
				{Type: "audio", Port: 49170, Proto: "RTP/AVP", Formats: []string{"0", "8", "101"}},
				{Type: "video", Port: 49172, Proto: "RTP/AVP", Formats: []string{"96"}, Direction: "recvonly"},
				{
					Type: "message", Port: 40000, Proto: "TCP/MSRP", Formats: []string{"*"},
					Label: "main", Setup: "actpass",
					AcceptTypes:        []string{"message/cpim", "text/plain"},
					AcceptWrappedTypes: []string{"text/plain", "text/html", "application/im-iscomposing+xml"},
					Path:               []string{"msrp://203.0.113.20:40000/Qm3uVb9kTz1;tcp"},
					Chatroom:           &Chatroom{Nickname: true, PrivateMessages: true},
				},
				{
					Type: "message", Port: 40000, Proto: "TCP/MSRP", Formats: []string{"*"},
					Label: "ops", Setup: "actpass",
					AcceptTypes:        []string{"message/cpim"},
					AcceptWrappedTypes: []string{"*"},
					MaxSize:            65536,
					Path:               []string{"msrp://203.0.113.20:40000/Wr7cLp2sXa4;tcp"},
					Chatroom:           &Chatroom{Nickname: true},
				},
			},
			attrs: []int{4, 2, 6, 7},
		},
		{
			file:       "file-transfer-push.sdp",
			origin:     Origin{Username: "carol", SessionID: 2890844526, SessionVersion: 2890844526, AddressType: "IP4", Address: "203.0.113.20"},
			connection: "203.0.113.20",
			media: []Media{{
				Type: "message", Port: 40000, Proto: "TCP/MSRP", Formats: []string{"*"},
				Direction:          "sendonly",
				AcceptTypes:        []string{"message/cpim"},
				AcceptWrappedTypes: []string{"*"},
				Path:               []string{"msrp://203.0.113.20:40000/Fz2qB8mW1cYt;tcp"},
				FileSelector:       `name:"plan%22v2%22.pdf" type:application/pdf size:48213 hash:sha-1:3A:0F:12:9C:77:E1:0B:5D:2A:91:C4:6E:08:BB:F3:11:7D:C0:55:A9`,
				FileTransferID:     "xK2vR9qLm3Tb8Nw1Zc4Hy7Fp0Sd6Ge5J",
			}},
			attrs: []int{8},
		},
		{
			file:       "browser-wss.sdp",
			origin:     Origin{Username: "-", SessionID: 6214389, SessionVersion: 1, AddressType: "IP4", Address: "df7jal23ls0d.invalid"},
			connection: "df7jal23ls0d.invalid",
			media: []Media{{
				Type: "message", Port: 9, Proto: "TCP/WSS/MSRP", Formats: []string{"*"},
				Setup:              "active",
				AcceptTypes:        []string{"message/cpim", "text/plain"},
				AcceptWrappedTypes: []string{"text/plain", "application/im-iscomposing+xml"},
				Path:               []string{"msrps://relay.example.net:443/kjh34ks;ws", "msrps://df7jal23ls0d.invalid:2855/98cjs;ws"},
			}},
			attrs: []int{4},
		},
		{
			file:       "tls-fingerprint.sdp",
			origin:     Origin{Username: "bob", SessionID: 2808844564, SessionVersion: 2808844564, AddressType: "IP4", Address: "198.51.100.44"},
			connection: "198.51.100.44",
			media: []Media{
				{
					Type: "message", Port: 12763, Proto: "TCP/TLS/MSRP", Formats: []string{"*"},
					Setup: "actpass", AcceptTypes: []string{"message/cpim", "text/plain"},
					Path:        []string{"msrps://198.51.100.44:12763/kjhd37s2s20w2a;tcp"},
					Fingerprint: "sha-256 12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:A3:C0:CE:BE:6C:E3:1F:5D:3B:E4:F0:2E",
				},
				{
					Type: "message", Port: 12763, Proto: "TCP/TLS/MSRP", Formats: []string{"*"},
					Setup: "actpass", AcceptTypes: []string{"message/cpim"},
					Path:        []string{"msrps://198.51.100.44:12763/aX8z0qR7pL2m;tcp"},
					Fingerprint: "sha-1 3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:A3:C0:CE:BE",
				},
			},
			attrs: []int{3, 4},
		},
		{
			file:       "ipv6.sdp",
			origin:     Origin{Username: "erin", SessionID: 44, SessionVersion: 44, AddressType: "IP6", Address: "2001:db8::20"},
			connection: "2001:db8::20",
			media: []Media{{
				Type: "message", Port: 2855, Proto: "TCP/MSRP", Formats: []string{"*"},
				AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"text/plain"},
				Path:  []string{"msrp://[2001:db8::20]:2855/v6sess01;tcp"},
				Setup: "actpass",
			}},
			attrs: []int{4},
		},
		{
			file:       "t38-and-chat.sdp",
			origin:     Origin{Username: "fax", SessionID: 1, SessionVersion: 1, AddressType: "IP4", Address: "192.0.2.80"},
			connection: "192.0.2.80",
			media: []Media{
				{Type: "image", Port: 38000, Proto: "udptl", Formats: []string{"t38"}},
				{
					Type: "message", Port: 38002, Proto: "TCP/MSRP", Formats: []string{"*"},
					AcceptTypes: []string{"message/cpim"},
					Path:        []string{"msrp://192.0.2.80:38002/fx01chat;tcp"},
				},
			},
			attrs: []int{4, 2},
		},
		{
			file:       "missing-timing.sdp",
			origin:     Origin{Username: "-", SessionID: 77, SessionVersion: 77, AddressType: "IP4", Address: "192.0.2.9"},
			connection: "192.0.2.9",
			media: []Media{{
				Type: "message", Port: 7394, Proto: "TCP/MSRP", Formats: []string{"*"},
				AcceptTypes: []string{"message/cpim", "text/plain"},
				Path:        []string{"msrp://192.0.2.9:7394/nt00tline;tcp"},
			}},
			attrs: []int{2},
		},
		{
			file:   "no-trailing-newline.sdp",
			origin: Origin{Username: "-", SessionID: 5, SessionVersion: 5, AddressType: "IP4", Address: "192.0.2.7"},
			media: []Media{{
				Type: "message", Port: 2855, Proto: "TCP/MSRP", Formats: []string{"*"},
				AcceptTypes: []string{"message/cpim"},
				Path:        []string{"msrp://192.0.2.7:2855/nonl42;tcp"},
			}},
			attrs: []int{2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Parse(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Origin != tt.origin {
				t.Errorf("Origin = %+v, want %+v", s.Origin, tt.origin)
			}
			if s.Connection != tt.connection {
				t.Errorf("Connection = %q, want %q", s.Connection, tt.connection)
			}
			if len(s.Media) != len(tt.media) {
				t.Fatalf("%d m-lines, want %d", len(s.Media), len(tt.media))
			}
			for i := range tt.media {
				got := s.Media[i]
				if len(got.Attributes) != tt.attrs[i] {
					t.Errorf("m-line %d: %d attributes, want %d", i+1, len(got.Attributes), tt.attrs[i])
				}
				got.Attributes = nil
				if !reflect.DeepEqual(got, tt.media[i]) {
					t.Errorf("m-line %d:\n got %+v\nwant %+v", i+1, got, tt.media[i])
				}
			}
		})
	}
}

func TestParse_LineEndingsAreEquivalent(t *testing.T) {
	crlf := readTestdata(t, "softphone-two-labels.sdp")
	lf := []byte(strings.ReplaceAll(string(crlf), "\r\n", "\n"))
	noFinal := []byte(strings.TrimRight(string(crlf), "\r\n"))
	blankLines := []byte(strings.ReplaceAll(string(crlf), "\r\nm=", "\r\n\r\nm=") + "\r\n\r\n")
	want, err := Parse(crlf)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"LF": lf, "no final newline": noFinal, "blank lines": blankLines} {
		got, err := Parse(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: parse differs from CRLF form", name)
		}
	}
}

func TestParse_TimingOutOfOrder(t *testing.T) {
	// Only the session section is searched for t=; one inside a media
	// section is out of RFC 4566 order and stays an error.
	in := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=message 1 TCP/MSRP *\r\nt=0 0\r\n"
	if _, err := Parse([]byte(in)); err == nil {
		t.Error("t= inside a media section accepted")
	}
	in = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=message 1 TCP/MSRP *\r\na=path:msrp://h:1/s;tcp\r\n"
	s, err := Parse([]byte(in))
	if err != nil || len(s.Media) != 1 || s.Media[0].Path[0] != "msrp://h:1/s;tcp" {
		t.Errorf("missing t= before m=: %+v, %v", s, err)
	}
}

func TestParse_SessionLevelDefaults(t *testing.T) {
	in := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\na=setup:ACTPASS\r\na=recvonly\r\n" +
		"m=message 1 TCP/MSRP *\r\na=path:msrp://192.0.2.1:1/a;tcp\r\na=accept-types:*\r\n" +
		"m=message 1 TCP/MSRP *\r\na=setup:active\r\na=sendrecv\r\na=path:msrp://192.0.2.1:1/b;tcp\r\na=accept-types:*\r\n"
	s, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Media[0]; got.Setup != "actpass" || got.Direction != "recvonly" {
		t.Errorf("inherited setup/direction = %q/%q, want actpass/recvonly", got.Setup, got.Direction)
	}
	if got := s.Media[1]; got.Setup != "active" || got.Direction != "sendrecv" {
		t.Errorf("own setup/direction = %q/%q, want active/sendrecv", got.Setup, got.Direction)
	}
	if len(s.Attributes) != 2 {
		t.Errorf("session attributes = %v", s.Attributes)
	}
}

func TestParse_Chatroom(t *testing.T) {
	tests := []struct {
		line string
		want *Chatroom
	}{
		{"", nil},
		{"a=chatroom\r\n", &Chatroom{}},
		{"a=chatroom:nickname\r\n", &Chatroom{Nickname: true}},
		{"a=chatroom:nicknames\r\n", &Chatroom{Nickname: true}},
		{"a=chatroom:private-messages\r\n", &Chatroom{PrivateMessages: true}},
		{"a=chatroom:private-messages nickname org.example.x\r\n", &Chatroom{Nickname: true, PrivateMessages: true, Tokens: []string{"org.example.x"}}},
	}
	for _, tt := range tests {
		in := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=message 1 TCP/MSRP *\r\n" + tt.line
		s, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", tt.line, err)
		}
		if !reflect.DeepEqual(s.Media[0].Chatroom, tt.want) {
			t.Errorf("%q: Chatroom = %+v, want %+v", tt.line, s.Media[0].Chatroom, tt.want)
		}
	}
}

func TestParse_Malformed(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"whitespace only", " \r\n\r\n"},
		{"not sdp", "hello world\r\n"},
		{"no version", "o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"},
		{"no origin", "v=0\r\ns=-\r\nt=0 0\r\n"},
		{"bad origin id", "v=0\r\no=- x 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"},
		{"bad network type", "v=0\r\no=- 1 1 XX IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"},
		{"upper case type letter", head + "M=message 1 TCP/MSRP *\r\n"},
		{"unknown type letter", head + "x=1\r\n"},
		{"short m-line", head + "m=message 2855\r\n"},
		{"bad port", head + "m=message port TCP/MSRP *\r\n"},
		{"port out of range", head + "m=message 70000 TCP/MSRP *\r\n"},
		{"bad max-size", head + "m=message 1 TCP/MSRP *\r\na=max-size:lots\r\n"},
		{"negative max-size", head + "m=message 1 TCP/MSRP *\r\na=max-size:-1\r\n"},
		{"nul in line", head + "m=message 1 TCP/MSRP *\r\na=label:a\x00b\r\n"},
		{"bare cr inside line", head + "m=message 1 TCP/MSRP *\r\na=label:a\rb\r\n"},
		{"line without equals", head + "m=message 1 TCP/MSRP *\r\nattribute\r\n"},
		{"bad connection", head + "m=message 1 TCP/MSRP *\r\nc=IN IPX 1.2.3.4\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", s)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
		})
	}
}

// A browser on plain ws: (RFC 7977 §8 with the ws transport): TCP/WS/MSRP, a .invalid path without a port.
func TestParseWebSocketOffer(t *testing.T) {
	offer := "v=0\r\no=- 1 1 IN IP4 kj3hs9d2.invalid\r\ns=-\r\nc=IN IP4 kj3hs9d2.invalid\r\nt=0 0\r\n" +
		"m=message 9 TCP/WS/MSRP *\r\na=accept-types:message/cpim\r\na=path:msrp://kj3hs9d2.invalid/cl1ent;ws\r\na=setup:active\r\n"
	s, err := Parse([]byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	m := s.Media[0]
	if m.Proto != "TCP/WS/MSRP" || !m.IsMSRP() || len(m.Path) != 1 || m.Path[0] != "msrp://kj3hs9d2.invalid/cl1ent;ws" {
		t.Fatalf("parsed %+v", m)
	}
}
