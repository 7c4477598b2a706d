package focus_test

import (
	"context"
	"slices"
	"testing"

	"github.com/parleychat/parley/focus"
)

// TestAddRooms: rooms a reload names are created, stored and listed; those that exist are left
// as they are and not reported again.
func TestAddRooms(t *testing.T) {
	f, store := newTestFocus(t)
	ctx := context.Background()
	added, err := f.AddRooms(ctx, []focus.RoomSpec{{Name: "room", Subject: "changed"}, {Name: "annex"}})
	if err != nil || !slices.Equal(added, []string{"annex"}) {
		t.Fatalf("AddRooms: %v %v", added, err)
	}
	if rooms := f.Rooms(); !slices.Equal(rooms, []string{"annex", "room"}) {
		t.Fatalf("rooms: %v", rooms)
	}
	if _, err := store.Conference(ctx, "annex"); err != nil {
		t.Fatalf("annex not stored: %v", err)
	}
	if again, err := f.AddRooms(ctx, []focus.RoomSpec{{Name: "annex"}}); err != nil || len(again) != 0 {
		t.Fatalf("AddRooms of an existing room: %v %v", again, err)
	}
}

// TestSetLimits: the limits of the moment are the last ones set; a caller's slice is copied.
func TestSetLimits(t *testing.T) {
	f, _ := newTestFocus(t)
	types := []string{"text/plain"}
	f.SetLimits(focus.Limits{MaxMessageSize: 2048, WrappedTypes: types, MessageRate: 5, MessageBurst: 10})
	types[0] = "changed"
	if l := f.Limits(); l.MaxMessageSize != 2048 || l.MessageRate != 5 || l.MessageBurst != 10 || !slices.Equal(l.WrappedTypes, []string{"text/plain"}) {
		t.Fatalf("limits: %+v", l)
	}
	if n := f.Present(); n != 0 {
		t.Fatalf("present in an empty focus: %d", n)
	}
	if n := f.Announce("hello"); n != 0 {
		t.Fatalf("announced to %d in an empty focus", n)
	}
}
