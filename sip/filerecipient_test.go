package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestFileRecipient: a Subject is a list of recipients when every comma-separated item is a
// SIP URI, an XCON-USERID or an @nickname; a subject in words is none.
func TestFileRecipient(t *testing.T) {
	tests := []struct{ subject, want string }{
		{"", ""},
		{"sip:bob@example.com", "sip:bob@example.com"},
		{"sip:bob@example.com, xcon-userid:carol@example.com", "sip:bob@example.com, xcon-userid:carol@example.com"},
		{"<sips:bob@example.com>,@carol", "<sips:bob@example.com>,@carol"},
		{"@carol", "@carol"},
		{"Holiday photos", ""},
		{"sip:bob@example.com, and the others", ""},
		{"@", ""},
	}
	for _, tt := range tests {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "room", Host: "example.net"})
		if tt.subject != "" {
			req.AppendHeader(sip.NewHeader("Subject", tt.subject))
		}
		if got := fileRecipient(req); got != tt.want {
			t.Errorf("Subject %q: %q, want %q", tt.subject, got, tt.want)
		}
	}
}
