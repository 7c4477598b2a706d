package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

func openStore(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func room(name string) *xcon.Conference {
	return &xcon.Conference{
		Entity:  "xcon:" + name + "@example.com",
		Version: 1,
		Description: xcon.Description{
			DisplayText: "Room " + name,
			ConfURIs:    []xcon.URIEntry{{URI: "sip:" + name + "@example.com", Purpose: "participation"}},
			Media: []xcon.Channel{
				{Label: "main", Type: "message", Status: "sendrecv", DisplayText: "Main"},
				{Label: "fr", Type: "message", Status: "sendrecv", Language: "fr"},
			},
		},
		State:        xcon.ConferenceState{Active: ptr(true), Locked: ptr(false)},
		JoinHandling: "allow",
		DenyUsers:    []xcon.Target{{URI: "sip:mallory@example.com"}},
	}
}

func alice() *xcon.User {
	return &xcon.User{
		Entity:         "xcon-userid:alice@example.com",
		Nickname:       "Alice",
		DisplayText:    "Alice A.",
		AssociatedAORs: []string{"sip:alice@example.com"},
		Roles:          []string{"administrator"},
		Endpoints: []*xcon.Endpoint{{
			Entity: "chat1", Nickname: "Ally", Status: "connected", JoiningMethod: "dialed-in",
			Media: []xcon.Media{{ID: "1", Type: "message", Label: "main", Status: "sendrecv"}},
		}},
	}
}

func docOf(t testing.TB, c *xcon.Conference) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestConferenceCRUD(t *testing.T) { onBackends(t, testConferenceCRUD) }

func testConferenceCRUD(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	defer s.Close()

	lobby := room("lobby")
	lobby.Users = []*xcon.User{alice(), {Entity: "xcon-userid:bob@example.com", Nickname: "Bob"}}
	if err := s.CreateConference(ctx, lobby); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConference(ctx, room("Lobby")); !errors.Is(err, xcon.ErrExists) {
		t.Fatalf("second create: got %v, want ErrExists", err)
	}
	if err := s.CreateConference(ctx, room("annex")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Conference(ctx, "LOBBY")
	if err != nil {
		t.Fatal(err)
	}
	if docOf(t, got) != docOf(t, lobby) {
		t.Fatalf("loaded object differs\n got %s\nwant %s", docOf(t, got), docOf(t, lobby))
	}
	names, err := s.Conferences(ctx)
	if err != nil || !slices.Equal(names, []string{"annex", "lobby"}) {
		t.Fatalf("Conferences = %v, %v", names, err)
	}

	// Update: change a user, drop one, add one, bump the version.
	next := got.Clone()
	next.Version = 2
	next.Description.Subject = "now with subject"
	next.Users[0].Endpoints = nil
	next.Users = append(next.Users[:1], &xcon.User{Entity: "xcon-userid:carol@example.com", Nickname: "Carol"})
	if err := s.UpdateConference(ctx, next); err != nil {
		t.Fatal(err)
	}
	got, err = s.Conference(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if docOf(t, got) != docOf(t, next) {
		t.Fatalf("updated object differs\n got %s\nwant %s", docOf(t, got), docOf(t, next))
	}
	stale := next.Clone()
	stale.Version = 1
	if err := s.UpdateConference(ctx, stale); !errors.Is(err, xcon.ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
	if err := s.UpdateConference(ctx, room("nowhere")); !errors.Is(err, xcon.ErrNotFound) {
		t.Fatalf("update of missing room: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteConference(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conference(ctx, "lobby"); !errors.Is(err, xcon.ErrNotFound) {
		t.Fatalf("get after delete: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteConference(ctx, "lobby"); !errors.Is(err, xcon.ErrNotFound) {
		t.Fatalf("second delete: got %v, want ErrNotFound", err)
	}
}

func TestNicknames(t *testing.T) { onBackends(t, testNicknames) }

func testNicknames(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	defer s.Close()
	c := room("lobby")
	c.Users = []*xcon.User{alice()}
	c.PersistentUsers = []xcon.PersistentUser{{Name: "dave", Nickname: "Dave", ID: "xcon-userid:dave@example.com"}}
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		nick     string
		user     string
		reserved bool
		err      error
	}{
		{"alice", "xcon-userid:alice@example.com", true, nil},
		{"  ALLY ", "xcon-userid:alice@example.com", false, nil},
		{"Ｄａｖｅ", "xcon-userid:dave@example.com", true, nil}, // RFC 8266 width mapping
		{"eve", "", false, xcon.ErrNotFound},
	}
	for _, tt := range tests {
		user, reserved, err := s.NicknameHolder(ctx, "lobby", tt.nick)
		if !errors.Is(err, tt.err) || user != tt.user || reserved != tt.reserved {
			t.Errorf("NicknameHolder(%q) = %q, %v, %v; want %q, %v, %v", tt.nick, user, reserved, err, tt.user, tt.reserved, tt.err)
		}
	}
	clash := c.Clone()
	clash.Version = 2
	clash.Users = append(clash.Users, &xcon.User{Entity: "xcon-userid:mallory@example.com", Nickname: "ALICE"})
	if err := s.UpdateConference(ctx, clash); !errors.Is(err, xcon.ErrConflict) {
		t.Fatalf("nickname clash: got %v, want ErrConflict", err)
	}
}

func TestBindings(t *testing.T) { onBackends(t, testBindings) }

func testBindings(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.open(t)
	defer s.Close()
	for _, n := range []string{"lobby", "annex"} {
		if err := s.CreateConference(ctx, room(n)); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Unix(1700000000, 0)
	b := func(room, chat string, sec int) *xcon.Binding {
		return &xcon.Binding{Room: room, ChatID: chat, UserID: "xcon-userid:" + chat + "@example.com",
			Label: "l-" + chat, Channel: "main", Nickname: "n-" + chat, Since: t0.Add(time.Duration(sec) * time.Second)}
	}
	steps := []struct {
		name    string
		changes []xcon.BindingChange
		err     error
		lobby   []string
	}{
		{"add", []xcon.BindingChange{{Room: "lobby", Add: b("lobby", "c2", 2)}, {Room: "lobby", Add: b("lobby", "c1", 1)}, {Room: "annex", Add: b("annex", "c9", 0)}}, nil, []string{"c1", "c2"}},
		{"remove", []xcon.BindingChange{{Room: "lobby", Remove: "c1"}}, nil, []string{"c2"}},
		{"replace", []xcon.BindingChange{{Room: "lobby", Remove: "c2", Add: b("lobby", "c3", 3)}}, nil, []string{"c3"}},
		// A binding for a room that is gone (deleted meanwhile) is dropped; the rest of the batch holds.
		{"unknown room is skipped", []xcon.BindingChange{{Room: "lobby", Add: b("lobby", "c5", 5)}, {Room: "nowhere", Add: b("nowhere", "c4", 4)}}, nil, []string{"c3", "c5"}},
	}
	for _, st := range steps {
		if err := s.SaveBindings(ctx, st.changes); !errors.Is(err, st.err) {
			t.Fatalf("%s: SaveBindings = %v, want %v", st.name, err, st.err)
		}
		got, err := s.Bindings(ctx, "lobby")
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var ids []string
		for _, g := range got {
			ids = append(ids, g.ChatID)
		}
		if !slices.Equal(ids, st.lobby) {
			t.Fatalf("%s: lobby bindings %v, want %v", st.name, ids, st.lobby)
		}
	}
	got, _ := s.Bindings(ctx, "lobby")
	if want := *b("lobby", "c3", 3); !got[0].Since.Equal(want.Since) || got[0].Nickname != want.Nickname || got[0].Label != want.Label {
		t.Fatalf("binding = %+v, want %+v", got[0], want)
	}
	if _, err := s.Bindings(ctx, "nowhere"); !errors.Is(err, xcon.ErrNotFound) {
		t.Fatalf("Bindings(nowhere) = %v, want ErrNotFound", err)
	}
	n, err := s.PurgeBindings(ctx)
	if err != nil || n != 3 { // c3 and c5 in lobby, c9 in annex
		t.Fatalf("PurgeBindings = %d, %v; want 3", n, err)
	}
	if got, err := s.Bindings(ctx, "annex"); err != nil || len(got) != 0 {
		t.Fatalf("after purge: %v, %v", got, err)
	}
}

func TestHistory(t *testing.T) { onBackends(t, testHistory) }

func testHistory(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	defer s.Close()
	for _, n := range []string{"lobby", "annex"} {
		if err := s.CreateConference(ctx, room(n)); err != nil {
			t.Fatal(err)
		}
	}
	var entries []xcon.LogEntry
	for i := range 10 {
		ch := "main"
		if i%2 == 1 {
			ch = "fr"
		}
		entries = append(entries, xcon.LogEntry{Room: "lobby", Channel: ch, SenderID: "xcon-userid:alice@example.com",
			SenderNick: "Alice", ContentType: "text/plain", Body: []byte(fmt.Sprint("m", i))})
	}
	entries = append(entries, xcon.LogEntry{Room: "annex", Channel: "main", Body: []byte("annex")})
	if err := s.AppendLog(ctx, entries); err != nil {
		t.Fatal(err)
	}
	for i, e := range entries[:10] {
		if e.Seq != int64(i+1) || e.Time.IsZero() {
			t.Fatalf("entry %d: seq %d time %v", i, e.Seq, e.Time)
		}
	}
	if entries[10].Seq != 1 {
		t.Fatalf("annex seq = %d, want 1 (per-room numbering)", entries[10].Seq)
	}
	tests := []struct {
		channel string
		limit   int
		bodies  []string
		err     error
	}{
		{"main", 3, []string{"m4", "m6", "m8"}, nil},
		{"fr", 100, []string{"m1", "m3", "m5", "m7", "m9"}, nil},
		{"", 2, []string{"m8", "m9"}, nil},
		{"none", 5, nil, nil},
		{"main", 0, nil, nil},
	}
	for _, tt := range tests {
		got, err := s.History(ctx, "lobby", tt.channel, tt.limit)
		if !errors.Is(err, tt.err) {
			t.Fatalf("History(%q, %d) error %v", tt.channel, tt.limit, err)
		}
		var bodies []string
		for _, g := range got {
			bodies = append(bodies, string(g.Body))
		}
		if !slices.Equal(bodies, tt.bodies) {
			t.Errorf("History(%q, %d) = %v, want %v", tt.channel, tt.limit, bodies, tt.bodies)
		}
	}
	if _, err := s.History(ctx, "nowhere", "", 5); !errors.Is(err, xcon.ErrNotFound) {
		t.Fatalf("History(nowhere) = %v, want ErrNotFound", err)
	}
	err := s.AppendLog(ctx, []xcon.LogEntry{{Room: "nowhere", Channel: "main"}})
	if !errors.Is(err, xcon.ErrNotFound) {
		t.Fatalf("AppendLog(nowhere) = %v, want ErrNotFound", err)
	}
	// Deleting the room deletes its log; a new room of that name starts at 1.
	if err := s.DeleteConference(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	again := []xcon.LogEntry{{Room: "lobby", Channel: "main"}}
	if err := s.AppendLog(ctx, again); err != nil || again[0].Seq != 1 {
		t.Fatalf("after re-create: seq %d, %v", again[0].Seq, err)
	}
}

func TestConcurrentAppendLog(t *testing.T) { onBackends(t, testConcurrentAppendLog) }

func testConcurrentAppendLog(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	defer s.Close()
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 50
	var wg sync.WaitGroup
	seqs := make([][]int64, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := []xcon.LogEntry{{Room: "lobby", Channel: "main", Body: fmt.Appendf(nil, "%d-%d", w, i)}}
				if err := s.AppendLog(ctx, e); err != nil {
					t.Error(err)
					return
				}
				seqs[w] = append(seqs[w], e[0].Seq)
			}
		})
	}
	wg.Wait()
	var all []int64
	for _, ss := range seqs {
		if !slices.IsSorted(ss) {
			t.Errorf("one writer's sequence numbers go backwards: %v", ss)
		}
		all = append(all, ss...)
	}
	slices.Sort(all)
	for i, v := range all {
		if v != int64(i+1) {
			t.Fatalf("sequence numbers are not 1..%d without gaps: position %d has %d", writers*each, i, v)
		}
	}
	got, err := s.History(ctx, "lobby", "main", writers*each+10)
	if err != nil || len(got) != writers*each {
		t.Fatalf("History: %d entries, %v", len(got), err)
	}
}

func TestReopenKeepsEverything(t *testing.T) { onBackends(t, testReopenKeepsEverything) }

func testReopenKeepsEverything(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	c := room("lobby")
	c.Users = []*xcon.User{alice()}
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBindings(ctx, []xcon.BindingChange{{Room: "lobby", Add: &xcon.Binding{Room: "lobby", ChatID: "chat1", UserID: "xcon-userid:alice@example.com", Channel: "main"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLog(ctx, []xcon.LogEntry{{Room: "lobby", Channel: "main", Body: []byte("hello")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLog(ctx, []xcon.LogEntry{{Room: "lobby"}}); err == nil {
		t.Fatal("AppendLog after Close succeeded")
	}

	s = b.open(t)
	defer s.Close()
	got, err := s.Conference(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if docOf(t, got) != docOf(t, c) {
		t.Fatalf("object after reopen differs\n got %s\nwant %s", docOf(t, got), docOf(t, c))
	}
	if b, err := s.Bindings(ctx, "lobby"); err != nil || len(b) != 1 {
		t.Fatalf("bindings after reopen: %v, %v", b, err)
	}
	h, err := s.History(ctx, "lobby", "main", 10)
	if err != nil || len(h) != 1 || string(h[0].Body) != "hello" {
		t.Fatalf("history after reopen: %v, %v", h, err)
	}
	next := []xcon.LogEntry{{Room: "lobby", Channel: "main"}}
	if err := s.AppendLog(ctx, next); err != nil || next[0].Seq != 2 {
		t.Fatalf("seq after reopen = %d, %v; want 2", next[0].Seq, err)
	}
	var version int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v", version, err)
	}
}
