package sdp

import "testing"

func TestMedia_Accepts(t *testing.T) {
	tests := []struct {
		accept []string
		typ    string
		want   bool
	}{
		{[]string{"message/cpim"}, "message/cpim", true},
		{[]string{"Message/CPIM"}, "message/cpim", true},
		{[]string{"message/cpim"}, "MESSAGE/cpim", true},
		{[]string{"text/plain"}, "text/plain;charset=utf-8", true},
		{[]string{"text/plain;charset=utf-8"}, "text/plain", true},
		{[]string{"text/*"}, "text/html", true},
		{[]string{"text/*"}, "image/png", false},
		{[]string{"*"}, "application/octet-stream", true},
		{[]string{"message/cpim", "text/plain"}, "text/html", false},
		{nil, "text/plain", false},
		{[]string{"*"}, "", false},
		{[]string{"*"}, "garbage", false},
		{[]string{"text/"}, "text/plain", false},
		{[]string{"/plain"}, "text/plain", false},
	}
	for _, tt := range tests {
		m := Media{AcceptTypes: tt.accept}
		if got := m.Accepts(tt.typ); got != tt.want {
			t.Errorf("accept-types %q: Accepts(%q) = %v, want %v", tt.accept, tt.typ, got, tt.want)
		}
	}
}

func TestMedia_AcceptsWrapped(t *testing.T) {
	tests := []struct {
		name    string
		accept  []string
		wrapped []string
		typ     string
		want    bool
	}{
		{"listed wrapped", []string{"message/cpim"}, []string{"text/plain"}, "text/plain", true},
		{"wrapped star", []string{"message/cpim"}, []string{"*"}, "image/png", true},
		{"not listed", []string{"message/cpim"}, []string{"text/plain"}, "text/html", false},
		{"no wrapped list falls back to accept-types", []string{"message/cpim", "text/plain"}, nil, "text/plain", true},
		{"accept-types wildcard subtype", []string{"message/cpim", "text/*"}, nil, "text/html", true},
		{"container is not wrapped", []string{"message/cpim"}, nil, "message/cpim", false},
		{"multipart container skipped", []string{"multipart/mixed", "message/cpim"}, nil, "multipart/mixed", false},
		{"multipart wildcard skipped", []string{"multipart/*"}, nil, "multipart/related", false},
		{"nested cpim if wrapped lists it", []string{"message/cpim"}, []string{"message/cpim"}, "message/cpim", true},
		{"accept-types star", []string{"*"}, nil, "application/im-iscomposing+xml", true},
		{"iscomposing with params", []string{"message/cpim"}, []string{"application/im-iscomposing+xml"}, "Application/IM-isComposing+XML; charset=utf-8", true},
		{"nothing", nil, nil, "text/plain", false},
	}
	for _, tt := range tests {
		m := Media{AcceptTypes: tt.accept, AcceptWrappedTypes: tt.wrapped}
		if got := m.AcceptsWrapped(tt.typ); got != tt.want {
			t.Errorf("%s: AcceptsWrapped(%q) = %v, want %v", tt.name, tt.typ, got, tt.want)
		}
	}
}

func TestMedia_IsMSRP(t *testing.T) {
	tests := []struct {
		typ, proto string
		want       bool
	}{
		{"message", "TCP/MSRP", true},
		{"message", "TCP/TLS/MSRP", true},
		{"message", "TCP/WSS/MSRP", true},
		{"message", "TCP/WS/MSRP", true},
		{"message", "tcp/msrp", true},
		{"message", "TCP/BFCP", false},
		{"audio", "TCP/MSRP", false},
		{"image", "udptl", false},
	}
	for _, tt := range tests {
		m := Media{Type: tt.typ, Proto: tt.proto}
		if got := m.IsMSRP(); got != tt.want {
			t.Errorf("%s %s: IsMSRP = %v, want %v", tt.typ, tt.proto, got, tt.want)
		}
	}
}

func TestMedia_IsFileTransfer(t *testing.T) {
	s, err := Parse(readTestdata(t, "file-transfer-push.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Media[0].IsFileTransfer() {
		t.Error("file-selector m-line not recognised")
	}
	empty := Media{Attributes: []Attribute{{Key: "file-selector"}}}
	if !empty.IsFileTransfer() {
		t.Error("empty a=file-selector not recognised")
	}
	chat := Media{Attributes: []Attribute{{Key: "accept-types", Value: "message/cpim"}}}
	if chat.IsFileTransfer() {
		t.Error("chat m-line taken for file transfer")
	}
}

func TestSession_ConnectionAddress(t *testing.T) {
	s := &Session{Connection: "192.0.2.1", Media: []Media{{Connection: "192.0.2.2"}, {}}}
	if got := s.ConnectionAddress(&s.Media[0]); got != "192.0.2.2" {
		t.Errorf("media-level c= = %q", got)
	}
	if got := s.ConnectionAddress(&s.Media[1]); got != "192.0.2.1" {
		t.Errorf("session-level c= = %q", got)
	}
}
