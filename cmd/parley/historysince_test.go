package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
)

// TestCCMPHistorySince (session-chat §5.3): "since T" over the CCMP history extension returns the
// messages logged right after T, oldest first, a page at a time with a cursor for the next,
// skipping what the reader may not see; the range query (from, to) still returns the newest
// of its range, and the two do not mix.
func TestCCMPHistorySince(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.CCMP.Auth.Realm = "parley-test"
		for _, n := range []string{"bob", "carol"} {
			c.CCMP.Auth.Users = append(c.CCMP.Auth.Users, configs.CCMPUser{Name: n, Password: n + "-pw"})
		}
	})
	ctx := context.Background()
	as := func(name string) *ccmp.Client {
		return &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:" + name + "@example.com",
			Username: name, Secret: name + "-pw"}
	}
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")
	say := func(to, text string) []byte {
		t.Helper()
		body := cpimBody("sip:alice@example.com", to, text)
		if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
			t.Fatalf("send %q: %d", text, r.StatusCode)
		}
		bob.msrp.nextMessage(t)
		return body
	}
	say("sip:lobby@example.net", "old 0")
	say("sip:lobby@example.net", "old 1")
	time.Sleep(5 * time.Millisecond)
	since := time.Now()
	time.Sleep(5 * time.Millisecond)
	var public [][]byte
	for i := 0; i < 5; i++ {
		public = append(public, say("sip:lobby@example.net", fmt.Sprintf("new %d", i)))
		if i == 1 {
			say("sip:bob@example.com", "psst, bob")
		}
	}
	if err := d.focus.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	bodies := func(es []ccmp.HistoryEntry) [][]byte {
		var out [][]byte
		for _, e := range es {
			out = append(out, e.Body)
		}
		return out
	}
	// Carol reads forwards two at a time: the private message is not hers to see.
	var got [][]byte
	q := ccmp.HistoryQuery{Since: since, Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the cursor never ends")
		}
		page, next, err := as("carol").HistoryPage(ctx, "lobby", q)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(page) > 2 || (next != "" && len(page) != 2) {
			t.Fatalf("page %d: %d messages, next %q", pages, len(page), next)
		}
		got = append(got, bodies(page)...)
		if next == "" {
			break
		}
		q = ccmp.HistoryQuery{After: next, Limit: 2}
	}
	if len(got) != len(public) {
		t.Fatalf("carol's pages since T: %q, want %q", got, public)
	}
	for i := range public {
		if !bytes.Equal(got[i], public[i]) {
			t.Fatalf("carol's message %d: %q, want %q", i, got[i], public[i])
		}
	}
	// Bob sees his private message in its place.
	page, next, err := as("bob").HistoryPage(ctx, "lobby", ccmp.HistoryQuery{Since: since, Limit: 3})
	if err != nil || next == "" || len(page) != 3 || !bytes.Contains(page[2].Body, []byte("psst, bob")) {
		t.Fatalf("bob since T: %v next %q %q", err, next, bodies(page))
	}
	// The range query keeps its meaning: the newest of the range.
	newest, err := as("carol").History(ctx, "lobby", ccmp.HistoryQuery{From: since, Limit: 2})
	if err != nil || len(newest) != 2 || !bytes.Equal(newest[0].Body, public[3]) || !bytes.Equal(newest[1].Body, public[4]) {
		t.Fatalf("range from T, limit 2: %v %q", err, bodies(newest))
	}
	_, err = as("carol").History(ctx, "lobby", ccmp.HistoryQuery{Since: since, From: since})
	var rerr *ccmp.ResponseError
	if !errors.As(err, &rerr) || rerr.Code != ccmp.CodeBadRequest {
		t.Fatalf("since with from: %v, want CCMP 400", err)
	}
}
