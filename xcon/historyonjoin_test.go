package xcon

import (
	"strings"
	"testing"
	"time"
)

// A user's history-on-join setting survives encoding and decoding inside the conference
// object, replaces an earlier one, and is bounded by the room's depth.
func TestHistoryOnJoinRoundTrip(t *testing.T) {
	c := &Conference{Entity: "xcon:lobby@example.com", Users: []*User{{Entity: "xcon-userid:alice@example.com"}}}
	c.Users[0].SetHistoryOnJoin(&HistoryOnJoin{Count: 7})
	c.Users[0].SetHistoryOnJoin(&HistoryOnJoin{Count: 3, MaxAge: 90 * time.Minute})
	var doc strings.Builder
	if err := c.Encode(&doc); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(doc.String(), "history-on-join"); n != 1 {
		t.Fatalf("%d history-on-join elements in\n%s", n, doc.String())
	}
	back, err := Decode(strings.NewReader(doc.String()))
	if err != nil {
		t.Fatal(err)
	}
	h, ok := back.Users[0].HistoryOnJoin()
	if !ok || h != (HistoryOnJoin{Count: 3, MaxAge: 90 * time.Minute}) {
		t.Fatalf("decoded %+v %v", h, ok)
	}
	if e := h.Effective(2); e.Count != 2 || e.MaxAge != h.MaxAge {
		t.Fatalf("bounded by 2: %+v", e)
	}
	back.Users[0].SetHistoryOnJoin(nil)
	if _, ok := back.Users[0].HistoryOnJoin(); ok {
		t.Fatal("setting not removed")
	}
	for _, bad := range []string{`count="-1"`, `count="x"`, `max-age="1h"`, `count="1" max-age="-1s"`} {
		doc := `<conference-info xmlns="` + NS + `" xmlns:p="` + NSParley + `" entity="xcon:x@example.com"><users>` +
			`<user entity="xcon-userid:a@example.com"><p:history-on-join ` + bad + `/></user></users></conference-info>`
		c, err := Decode(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Users[0].HistoryOnJoin(); ok {
			t.Errorf("%s read as a setting", bad)
		}
	}
}
