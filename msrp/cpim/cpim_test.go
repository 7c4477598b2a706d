package cpim

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Message // Headers and ContentHeaders compared by count only
		nHdr int
		nCH  int
	}{
		{
			name: "digest example, CRLF",
			in: crlf("From: <sip:carol@example.org>\nTo: <sip:lobby@focus.example.net>\nDateTime: 2025-01-10T09:30:00Z\n\n" +
				"Content-Type: text/plain;charset=utf-8\n\nhello room"),
			want: Message{
				From: Address{URI: "sip:carol@example.org"}, To: []Address{{URI: "sip:lobby@focus.example.net"}},
				DateTime: "2025-01-10T09:30:00Z", ContentType: "text/plain;charset=utf-8", Body: []byte("hello room"),
			},
			nHdr: 3, nCH: 1,
		},
		{
			name: "LF only",
			in: "From: <sip:carol@example.org>\nTo: <sip:lobby@focus.example.net>\n\n" +
				"Content-Type: text/plain\n\nline one\nline two\n",
			want: Message{
				From: Address{URI: "sip:carol@example.org"}, To: []Address{{URI: "sip:lobby@focus.example.net"}},
				ContentType: "text/plain", Body: []byte("line one\nline two\n"),
			},
			nHdr: 2, nCH: 1,
		},
		{
			name: "RFC 7701 shape without the separator line",
			in: crlf("From: Alice <sip:alice@example.com>\nTo: <sip:chatroom22@chat.example.com>\nDateTime: 2009-03-02T15:02:31-03:00\n" +
				"Content-Type: text/plain\n\nHello"),
			want: Message{
				From: Address{Name: "Alice", URI: "sip:alice@example.com"}, To: []Address{{URI: "sip:chatroom22@chat.example.com"}},
				DateTime: "2009-03-02T15:02:31-03:00", ContentType: "text/plain", Body: []byte("Hello"),
			},
			nHdr: 3, nCH: 1,
		},
		{
			name: "quoted name with escapes, token name, several To and cc",
			in: crlf(`From: "Bob \"the builder\" \\ \u00e9t\u00E9\tx" <sip:bob@example.com>` + "\n" +
				"To: Room Twenty Two <sip:room22@example.com>\nTo: <sip:carol@example.org>\ncc: \"Dave\" <im:dave@example.net>\n" +
				"Subject:;lang=fr Bonjour \\\\ tous\nSubject:;lang=en Hello\n\n" +
				"Content-Type: text/html\nContent-ID: <1234@example.com>\n\n<p>hi</p>"),
			want: Message{
				From:    Address{Name: "Bob \"the builder\" \\ été\tx", URI: "sip:bob@example.com"},
				To:      []Address{{Name: "Room Twenty Two", URI: "sip:room22@example.com"}, {URI: "sip:carol@example.org"}},
				CC:      []Address{{Name: "Dave", URI: "im:dave@example.net"}},
				Subject: "Bonjour \\ tous", ContentType: "text/html", Body: []byte("<p>hi</p>"),
			},
			nHdr: 6, nCH: 2,
		},
		{
			name: "NS and Require headers, RFC 3862 §5 shape",
			in: crlf("From: MR SANDERS <im:piglet@100akerwood.com>\nTo: Depressed Donkey <im:eeyore@100akerwood.com>\n" +
				"DateTime: 2000-12-13T13:40:00-08:00\nSubject: the weather will be fine today\n" +
				"NS: MyFeatures <mid:MessageFeatures@id.foo.com>\nRequire: MyFeatures.VitalMessageOption\n" +
				"MyFeatures.VitalMessageOption: Confirmation-requested\nMyFeatures.WackyMessageOption: Use-silly-font\n\n" +
				"Content-type: text/xml; charset=utf-8\nContent-ID: <1234567890@foo.com>\n\n<body>\nHere is the text of my message.\n</body>\n"),
			want: Message{
				From:     Address{Name: "MR SANDERS", URI: "im:piglet@100akerwood.com"},
				To:       []Address{{Name: "Depressed Donkey", URI: "im:eeyore@100akerwood.com"}},
				DateTime: "2000-12-13T13:40:00-08:00", Subject: "the weather will be fine today",
				ContentType: "text/xml; charset=utf-8", Body: []byte("<body>\r\nHere is the text of my message.\r\n</body>\r\n"),
			},
			nHdr: 8, nCH: 2,
		},
		{
			name: "binary body with CRLFs and NULs",
			in:   "From: <sip:a@example.com>\r\nTo: <sip:r@example.com>\r\n\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=x.png\r\n\r\n\x89PNG\r\n\x1a\n\x00\x00\r\n\r\n\xff",
			want: Message{
				From: Address{URI: "sip:a@example.com"}, To: []Address{{URI: "sip:r@example.com"}},
				ContentType: "image/png", Body: []byte("\x89PNG\r\n\x1a\n\x00\x00\r\n\r\n\xff"),
			},
			nHdr: 2, nCH: 2,
		},
		{
			name: "no body, MIME headers end at end of input",
			in:   "From: <sip:a@example.com>\r\n\r\nContent-Type: text/plain",
			want: Message{From: Address{URI: "sip:a@example.com"}, ContentType: "text/plain", Body: []byte{}},
			nHdr: 1, nCH: 1,
		},
		{
			name: "folded MIME header and extra spaces",
			in:   "From:   <sip:a@example.com>  \r\n\r\nContent-Type: multipart/mixed;\r\n  boundary=xyz\r\n\r\n--xyz--",
			want: Message{From: Address{URI: "sip:a@example.com"}, ContentType: "multipart/mixed; boundary=xyz", Body: []byte("--xyz--")},
			nHdr: 1, nCH: 1,
		},
		{
			name: "lower-case from is not From",
			in:   "From: <sip:a@example.com>\r\nfrom: <sip:b@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nx",
			want: Message{From: Address{URI: "sip:a@example.com"}, ContentType: "text/plain", Body: []byte("x")},
			nHdr: 2, nCH: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(m.Headers) != tt.nHdr || len(m.ContentHeaders) != tt.nCH {
				t.Errorf("%d headers, %d content headers; want %d, %d: %+v %+v", len(m.Headers), len(m.ContentHeaders), tt.nHdr, tt.nCH, m.Headers, m.ContentHeaders)
			}
			got := *m
			got.Headers, got.ContentHeaders = nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParse_BodyAliasesInput(t *testing.T) {
	in := []byte("From: <sip:a@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhello")
	m, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	in[len(in)-1] = '!'
	if string(m.Body) != "hell!" {
		t.Errorf("Body = %q; it should alias the input", m.Body)
	}
}

func TestMessage_Accessors(t *testing.T) {
	in := crlf("From: <sip:a@example.com>\nNS: MyFeatures <mid:MessageFeatures@id.foo.com>\nNS: <urn:ietf:params:cpim-headers:>\n" +
		"Require: MyFeatures.VitalMessageOption, Subject\nRequired: DateTime\n\nContent-Type: text/plain\ncontent-disposition: inline\n\nx")
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Require(), []string{"MyFeatures.VitalMessageOption", "Subject", "DateTime"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Require = %q, want %q", got, want)
	}
	if got, want := m.Namespaces(), map[string]string{"MyFeatures": "mid:MessageFeatures@id.foo.com", "": "urn:ietf:params:cpim-headers:"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Namespaces = %v, want %v", got, want)
	}
	if v, ok := m.ContentHeader("Content-Disposition"); !ok || v != "inline" {
		t.Errorf("ContentHeader = %q, %v", v, ok)
	}
	if v, ok := m.Header("From"); !ok || v != "<sip:a@example.com>" {
		t.Errorf("Header(From) = %q, %v", v, ok)
	}
	if _, ok := m.Header("from"); ok {
		t.Error("CPIM header names are case-sensitive")
	}
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrSyntax},
		{"headers never end", "From: <sip:a@example.com>", ErrSyntax},
		{"no From", "To: <sip:r@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrNoFrom},
		{"only MIME part", "Content-Type: text/plain\r\n\r\nx", ErrNoFrom},
		{"two From", "From: <sip:a@example.com>\r\nFrom: <sip:b@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrSyntax},
		{"From without brackets", "From: sip:a@example.com\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrAddress},
		{"From empty URI", "From: <>\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrAddress},
		{"From unterminated quote", "From: \"Alice <sip:a@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrAddress},
		{"From trailing text", "From: <sip:a@example.com> extra\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrAddress},
		{"From space in URI", "From: <sip:a @example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrAddress},
		{"bad To", "From: <sip:a@example.com>\r\nTo: nobody\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrAddress},
		{"bad cc", "From: <sip:a@example.com>\r\ncc: \"x\"\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrAddress},
		{"no Content-Type", "From: <sip:a@example.com>\r\n\r\nContent-ID: <x>\r\n\r\nx", ErrNoContentType},
		{"no MIME part", "From: <sip:a@example.com>\r\n\r\n", ErrNoContentType},
		{"empty Content-Type", "From: <sip:a@example.com>\r\n\r\nContent-Type:\r\n\r\nx", ErrNoContentType},
		{"line without colon", "From: <sip:a@example.com>\r\ngarbage\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrSyntax},
		{"header name with space", "From: <sip:a@example.com>\r\nX Y: z\r\n\r\nContent-Type: text/plain\r\n\r\nx", ErrSyntax},
		{"MIME continuation first", "From: <sip:a@example.com>\r\n\r\n folded\r\n\r\nx", ErrSyntax},
		{"bad MIME line", "From: <sip:a@example.com>\r\n\r\nContent-Type text/plain\r\n\r\nx", ErrSyntax},
		// A continuation line is header text too: the checks of the line it continues apply.
		{"NUL in a MIME continuation", "From: <sip:a@example.com>\r\n\r\nContent-Type: text/plain;\r\n a\x00b\r\n\r\nx", ErrSyntax},
		{"invalid UTF-8 in a MIME continuation", "From: <a>\nContent-Type:\n \x8b", ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v (message %+v)", err, tt.want, m)
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		want Address
		ok   bool
	}{
		{"<sip:a@example.com>", Address{URI: "sip:a@example.com"}, true},
		{`"Alice" <sip:a@example.com>`, Address{Name: "Alice", URI: "sip:a@example.com"}, true},
		{`"Alice"<sip:a@example.com>`, Address{Name: "Alice", URI: "sip:a@example.com"}, true},
		{`Alice Smith <sip:a@example.com>`, Address{Name: "Alice Smith", URI: "sip:a@example.com"}, true},
		{`"\"q\" \'s\' \\ \b\t\n\r \z \u0041\u00e9\u20AC \uZZZZ" <im:x@y>`, Address{Name: "\"q\" 's' \\ \b\t\n\r z Aé€ uZZZZ", URI: "im:x@y"}, true},
		{`"trailing\" <sip:a@b>`, Address{}, false},
		{`"lone\\" <sip:a@b>`, Address{Name: `lone\`, URI: "sip:a@b"}, true},
		{`"" <sip:a@b>`, Address{URI: "sip:a@b"}, true},
		{`Al"ice <sip:a@b>`, Address{}, false},
		{`<sip:a@b`, Address{}, false},
		{`sip:a@b`, Address{}, false},
		{`"Alice" sip:a@b`, Address{}, false},
		{`<sip:<a>@b>`, Address{}, false},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseAddress(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && got != tt.want {
			t.Errorf("ParseAddress(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestUnescape_LoneBackslashAtEnd(t *testing.T) {
	if got := unescape(`abc\`); got != "abc" {
		t.Errorf("unescape = %q", got)
	}
}

func TestMessage_Marshal(t *testing.T) {
	m := &Message{
		From:     Address{Name: `Room "lobby"`, URI: "sip:lobby@focus.example.net"},
		To:       []Address{{URI: "sip:carol@example.org"}},
		CC:       []Address{{Name: "Ops", URI: "sip:ops@example.org"}},
		DateTime: "2025-01-10T09:30:00Z",
		Subject:  "notice\\with\nnewline",
		Headers: []Header{
			{Name: "From", Value: "ignored"},
			{Name: "NS", Value: "Parley <urn:example:parley>"},
			{Name: "Parley.Kind", Value: "history\r\nTo: <sip:evil@x>"},
		},
		ContentType:    "text/plain;charset=utf-8",
		ContentHeaders: []Header{{Name: "content-type", Value: "ignored"}, {Name: "Content-Disposition", Value: "render"}},
		Body:           []byte("this room is logged"),
	}
	got := string(m.Marshal())
	want := "From: \"Room \\\"lobby\\\"\" <sip:lobby@focus.example.net>\r\n" +
		"To: <sip:carol@example.org>\r\n" +
		"cc: \"Ops\" <sip:ops@example.org>\r\n" +
		"DateTime: 2025-01-10T09:30:00Z\r\n" +
		"Subject: notice\\\\with\\nnewline\r\n" +
		"NS: Parley <urn:example:parley>\r\n" +
		"Parley.Kind: history  To: <sip:evil@x>\r\n" +
		"\r\n" +
		"Content-Type: text/plain;charset=utf-8\r\n" +
		"Content-Disposition: render\r\n" +
		"\r\n" +
		"this room is logged"
	if got != want {
		t.Errorf("Marshal:\n%q\nwant\n%q", got, want)
	}

	back, err := Parse([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if back.From != m.From || !reflect.DeepEqual(back.To, m.To) || !reflect.DeepEqual(back.CC, m.CC) ||
		back.Subject != m.Subject || back.DateTime != m.DateTime || back.ContentType != m.ContentType || !bytes.Equal(back.Body, m.Body) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, m)
	}
	if len(back.To) != 1 {
		t.Errorf("a header value forged a To: %+v", back.To)
	}
}

func TestMessage_MarshalControlCharactersInName(t *testing.T) {
	m := &Message{From: Address{Name: "a\x01b\x7f", URI: "sip:a@b"}, ContentType: "text/plain"}
	got := string(m.Marshal())
	if !strings.HasPrefix(got, `From: "a\u0001b\u007F" <sip:a@b>`+"\r\n") {
		t.Errorf("Marshal = %q", got)
	}
	back, err := Parse([]byte(got))
	if err != nil || back.From.Name != "a\x01b\x7f" {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

// TestParseIntoReusesAndAliases checks what the switch relies on: a second message parsed into
// the same Message leaves no trace of the first, the strings alias the input, and nothing is
// allocated once the slices have grown.
func TestParseIntoReusesAndAliases(t *testing.T) {
	first := []byte("From: <sip:a@x>\r\nTo: <sip:r@x>\r\nTo: <sip:s@x>\r\ncc: <sip:c@x>\r\nSubject: hi\r\n\r\nContent-Type: text/plain\r\nContent-ID: <1>\r\n\r\none")
	second := []byte("From: <sip:b@x>\r\nTo: <sip:r@x>\r\n\r\nContent-Type: text/html\r\n\r\ntwo")
	var m Message
	if err := ParseInto(&m, first); err != nil {
		t.Fatal(err)
	}
	if err := ParseInto(&m, second); err != nil {
		t.Fatal(err)
	}
	want, _ := Parse(second)
	if !sameMessage(want, &m) || len(m.CC) != 0 || m.Subject != "" || len(m.ContentHeaders) != 1 {
		t.Fatalf("second parse kept something of the first: %+v", m)
	}
	if p := unsafe.StringData(m.From.URI); uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(&second[0])) ||
		uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(&second[0]))+uintptr(len(second)) {
		t.Fatal("From URI does not alias the input")
	}
	if n := testing.AllocsPerRun(100, func() { _ = ParseInto(&m, first) }); n != 0 {
		t.Fatalf("ParseInto allocates %v times", n)
	}
}

// TestBadTextWordAtATime checks the word-at-a-time scan of badText against the rule it
// implements, for every byte value at every position of lines up to three words long.
func TestBadTextWordAtATime(t *testing.T) {
	rule := func(line string) string {
		for i := 0; i < len(line); i++ {
			if c := line[i]; (c < 0x20 && c != '\t') || c == 0x7f {
				return "a control character"
			}
		}
		if !utf8.ValidString(line) {
			return "invalid UTF-8"
		}
		return ""
	}
	for n := 1; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				if got, want := badText(string(b)), rule(string(b)); got != want {
					t.Fatalf("badText(%q) = %q, want %q", b, got, want)
				}
			}
		}
	}
	for _, line := range []string{"To: <sip:é@example.com>", "Subject: caf\xc3", "From: \t<sip:a@b>", ""} {
		if got, want := badText(line), rule(line); got != want {
			t.Errorf("badText(%q) = %q, want %q", line, got, want)
		}
	}
}
