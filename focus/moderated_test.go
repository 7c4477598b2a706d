package focus_test

import (
	"context"
	"slices"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/xcon"
)

// joinSDP joins the room "room" as sip:USER@example.com with one MSRP m-line (not bound).
func joinSDP(t *testing.T, f *focus.Focus, user string) { focustest.Join(t, f, "room", user) }

func setModerated(t *testing.T, f *focus.Focus, on bool) *xcon.Conference {
	t.Helper()
	next, err := f.UpdateRoom(context.Background(), "room", func(c *xcon.Conference) error {
		p, _ := c.RoomPolicy()
		p.Moderated = on
		c.SetRoomPolicy(p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func rolesOf(t *testing.T, c *xcon.Conference, user string) []string {
	t.Helper()
	u := c.User("xcon-userid:" + user + "@example.com")
	if u == nil {
		t.Fatalf("%s is not listed", user)
	}
	return u.Roles
}

// TestModeratedRoomRecordsVisitors: a joiner of a moderated room is recorded as an observer (a
// visitor), one of an open room as a participant; a participant present when moderation is
// switched on keeps his voice, and switching it off gives the visitors who only dialled in
// voice, not a user whose role someone changed to observer.
func TestModeratedRoomRecordsVisitors(t *testing.T) {
	f, _ := newTestFocus(t)
	joinSDP(t, f, "early")
	joinSDP(t, f, "muted")
	if _, err := f.UpdateRoom(context.Background(), "room", func(c *xcon.Conference) error {
		c.User("xcon-userid:muted@example.com").Roles = []string{"observer"} // as a moderator's CCMP update does
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	setModerated(t, f, true)
	joinSDP(t, f, "visitor")
	snap := f.Room("room").Snapshot()
	if r := rolesOf(t, snap, "early"); !slices.Equal(r, []string{"participant"}) {
		t.Fatalf("joined before moderation: %v, want participant", r)
	}
	if r := rolesOf(t, snap, "visitor"); !slices.Equal(r, []string{"observer"}) {
		t.Fatalf("joined a moderated room: %v, want observer", r)
	}
	after := setModerated(t, f, false)
	if r := rolesOf(t, after, "visitor"); !slices.Equal(r, []string{"participant"}) {
		t.Fatalf("visitor once moderation is off: %v, want participant", r)
	}
	if r := rolesOf(t, after, "muted"); !slices.Equal(r, []string{"observer"}) {
		t.Fatalf("a user made observer, once moderation is off: %v, want observer", r)
	}
	if r := rolesOf(t, f.Room("room").Snapshot(), "visitor"); !slices.Equal(r, []string{"participant"}) {
		t.Fatalf("room's object: visitor %v, want participant", r)
	}
}
