package ccmp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

func filterRoom() *xcon.Conference {
	c := &xcon.Conference{Entity: "xcon:talk@example.com", Version: 3}
	c.Description.DisplayText = "Talk"
	c.Description.Media = []xcon.Channel{{Label: "a", Type: "audio", Status: "sendrecv"}, {Label: "v", Type: "video", Status: "sendrecv"}}
	active := false
	c.State.Active = &active
	c.JoinHandling = "allow"
	c.Users = []*xcon.User{{Entity: "xcon-userid:alice@example.com", Roles: []string{"administrator"}}}
	return c
}

func TestXPathFilter(t *testing.T) {
	c := filterRoom()
	tests := []struct {
		expr string
		want bool
	}{
		// RFC 6504 §5.2, as printed (line breaks included).
		{"/conference-info[conference-description/\n available-media/entry/type='audio'\n and\n conference-description/available-media/entry/type='video']", true},
		{"/conference-info[conference-description/available-media/entry/type='message']", false},
		{"/conference-info[conference-state/active='false']", true},
		// RFC 6503 §5.3.2 nests conference-state inside conference-description: no match.
		{"/conference-info[conference-description/conference-state/active='false']", false},
		{"/info:conference-info[info:conference-description/info:display-text='Talk']", true},
		{"/xcon:conference-info", false},
		{"//users/join-handling='allow'", true},
		{"//user[@entity='xcon-userid:alice@example.com']/roles/entry='administrator'", true},
		{"/conference-info/@entity='xcon:talk@example.com'", true},
		{"count(//available-media/entry)", true},
		{"count(//available-media/entry) - 2", false},
		{"string(//display-text)", true},
		{"//entry[1]/type='audio' and //entry[last()]/type='video'", true},
		{"//entry[following-sibling::entry]/@label='a'", true},
		{"//entry[preceding-sibling::entry]/@label='v'", true},
	}
	for _, tc := range tests {
		f, err := compileFilter(tc.expr, time.Time{})
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		if got, err := f.match(c); err != nil || got != tc.want {
			t.Errorf("%q: %v %v, want %v", tc.expr, got, err, tc.want)
		}
	}
}

func TestXPathFilterLimits(t *testing.T) {
	for _, expr := range []string{"/conference-info[", "undeclared:x", strings.Repeat("a", MaxFilterBytes+1)} {
		var ce *Error
		if _, err := compileFilter(expr, time.Time{}); !errors.As(err, &ce) || ce.Code != CodeBadRequest {
			t.Errorf("%.20q: %v, want 400", expr, err)
		}
	}
	big := filterRoom()
	for i := range 300 {
		big.Users = append(big.Users, &xcon.User{Entity: fmt.Sprintf("xcon-userid:u%d@example.com", i), DisplayText: "x"})
	}
	f, err := compileFilter("count(//*[count(//*[count(//*) > 0]) > 0]) > 0", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ce *Error
	if _, err := f.match(big); !errors.As(err, &ce) || ce.Code != CodeTimeout {
		t.Fatalf("runaway filter: %v, want 510", err)
	}
	// A deadline already passed stops the next check too.
	f, _ = compileFilter("count(//*) > 0", time.Now().Add(-time.Second))
	f.steps = 1023
	if _, err := f.match(big); !errors.As(err, &ce) || ce.Code != CodeTimeout {
		t.Fatalf("past deadline: %v, want 510", err)
	}
}
