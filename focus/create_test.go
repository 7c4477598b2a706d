package focus

import (
	"errors"
	"testing"
)

// TestMayCreateRoom: administrators and the configured creators may create rooms, on a proven
// identity only; a privacy request is decided on the caller's own identity.
func TestMayCreateRoom(t *testing.T) {
	f := &Focus{cfg: Config{Domain: "example.net", Administrators: []string{"root"},
		Creators: []string{"carol", "sip:dave@example.com", "xcon-userid:erin@example.org", "*@corp.example"}}}
	for _, c := range []struct {
		name string
		who  Creator
		ok   bool
	}{
		{"CCMP administrator", Creator{UserID: "xcon-userid:x@elsewhere", Admin: true}, true},
		{"local operator, unproven", Creator{UserID: "xcon-userid:x@example.net", Admin: true}, true},
		{"administrator by name", Creator{UserID: "xcon-userid:root@example.net", Proven: true}, true},
		{"administrator's name, unproven", Creator{UserID: "xcon-userid:root@example.net"}, false},
		{"administrator's name, other domain", Creator{UserID: "xcon-userid:root@evil.test", Proven: true}, false},
		{"creator by name", Creator{UserID: "xcon-userid:Carol@example.net", Proven: true}, true},
		{"creator by SIP URI", Creator{UserID: "xcon-userid:dave@example.com", Proven: true}, true},
		{"creator by XCON-USERID", Creator{UserID: "xcon-userid:erin@example.org", Proven: true}, true},
		{"creator by domain", Creator{UserID: "xcon-userid:frank@corp.example", Proven: true}, true},
		{"creator by domain, unproven", Creator{UserID: "xcon-userid:frank@corp.example"}, false},
		{"nobody listed", Creator{UserID: "xcon-userid:mallory@example.net", Proven: true}, false},
		{"no identity", Creator{Proven: true}, false},
	} {
		err := f.MayCreateRoom(c.who)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrCreateForbidden)) {
			t.Errorf("%s: %v, want allowed=%v", c.name, err, c.ok)
		}
	}
	f.cfg.Creators = []string{"authenticated"}
	if err := f.MayCreateRoom(Creator{UserID: "xcon-userid:anyone@x.test", Proven: true}); err != nil {
		t.Errorf("authenticated: %v", err)
	}
	if err := f.MayCreateRoom(Creator{UserID: "xcon-userid:anyone@x.test"}); err == nil {
		t.Error("authenticated admits an unproven identity")
	}
	hidden := Identity{AOR: "sip:anon-1@anonymous.invalid", Authenticated: "sip:root@example.net", Verified: true}
	if c := CreatorOf(hidden); c.UserID != "xcon-userid:root@example.net" || !c.Proven {
		t.Errorf("CreatorOf(anonymous root) = %+v", c)
	}
}
