package confinfo

import (
	"testing"

	"github.com/parleychat/parley/xcon"
)

// TestLoggedStateInConferenceState: the room's logged state is in the view's conference-state,
// a change of it alone makes a partial notification, and the subscriber's state follows.
func TestLoggedStateInConferenceState(t *testing.T) {
	c := room()
	before := View(c, roomURI, Options{})
	if logged, ok := Logged(before); !ok || logged {
		t.Fatalf("unlogged room: logged %v ok %v", logged, ok)
	}
	c.SetRoomPolicy(xcon.RoomPolicy{Logging: true})
	after := View(c, roomURI, Options{})
	doc := Partial(before, after, 2)
	if doc == nil {
		t.Fatal("switching logging on made no notification")
	}
	local := roundTrip(t, Full(before, 1))
	body, err := Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, body)
	got, err := Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if local, err = Apply(local, got); err != nil {
		t.Fatal(err)
	}
	if logged, ok := Logged(local); !ok || !logged {
		t.Fatalf("subscriber after the partial: logged %v ok %v\n%s", logged, ok, body)
	}
}
