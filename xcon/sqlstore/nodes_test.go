package sqlstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// TestBindingsBelongToNodes: two nodes share the database. A node's start-up purge removes its
// own bindings (and those written before nodes had names) and leaves the other's; a node that
// stops beating is purged by the other once it has been silent for deadAfter, and never by
// itself.
func TestBindingsBelongToNodes(t *testing.T) {
	onBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		a := be.open(t, WithNode("a"))
		defer a.Close()
		b := be.open(t, WithNode("b"))
		defer b.Close()
		for _, name := range []string{"lobby", "side"} {
			if err := a.CreateConference(ctx, room(name)); err != nil {
				t.Fatal(err)
			}
		}
		bind := func(s *Store, room, chatID string) {
			t.Helper()
			if err := s.SaveBindings(ctx, []xcon.BindingChange{{Room: room, Add: &xcon.Binding{ChatID: chatID,
				UserID: "xcon-userid:" + chatID + "@example.com", Channel: "main", Nickname: chatID}}}); err != nil {
				t.Fatal(err)
			}
		}
		bind(a, "lobby", "a1")
		bind(b, "lobby", "b1")
		bind(b, "side", "b2")
		raw := be.raw(t)
		defer raw.Close()
		if _, err := raw.Exec(`INSERT INTO bindings (chat_id, room, user_id, label, channel, nickname, since)
			VALUES ('old', 'lobby', 'u', '', 'main', 'old', 1)`); err != nil {
			t.Fatal(err)
		}
		chatIDs := func(room string) []string {
			t.Helper()
			bs, err := a.Bindings(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, x := range bs {
				out = append(out, x.Node+"/"+x.ChatID)
			}
			slices.Sort(out)
			return out
		}
		if got := chatIDs("lobby"); !slices.Equal(got, []string{"/old", "a/a1", "b/b1"}) {
			t.Fatalf("lobby bindings %q", got)
		}
		if n, err := a.PurgeBindings(ctx); err != nil || n != 2 {
			t.Fatalf("a's purge: %d, %v; want its own binding and the unnamed one", n, err)
		}
		if got := chatIDs("lobby"); !slices.Equal(got, []string{"b/b1"}) {
			t.Fatalf("after a's purge, lobby bindings %q", got)
		}

		for _, s := range []*Store{a, b} {
			if err := s.Heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if dead, err := a.PurgeDeadNodes(ctx, time.Hour); err != nil || len(dead.Nodes) != 0 {
			t.Fatalf("both alive: %+v, %v", dead, err)
		}
		// b falls silent: its last heartbeat is a minute old.
		if _, err := raw.Exec(be.dialect.Rebind(`UPDATE nodes SET seen = $1 WHERE name = 'b'`), time.Now().Add(-time.Minute).UnixNano()); err != nil {
			t.Fatal(err)
		}
		if dead, err := b.PurgeDeadNodes(ctx, 30*time.Second); err != nil || len(dead.Nodes) != 0 {
			t.Fatalf("b purged %+v (%v): a node never purges itself", dead, err)
		}
		dead, err := a.PurgeDeadNodes(ctx, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(dead.Nodes, []string{"b"}) || dead.Bindings != 2 || !slices.Equal(dead.Rooms, []string{"lobby", "side"}) {
			t.Fatalf("a purged %+v; want node b, 2 bindings, rooms lobby and side", dead)
		}
		if got := chatIDs("side"); len(got) != 0 {
			t.Fatalf("side still has %q", got)
		}
		if dead, err := a.PurgeDeadNodes(ctx, 30*time.Second); err != nil || len(dead.Nodes) != 0 {
			t.Fatalf("second purge: %+v, %v", dead, err)
		}
	})
}

// TestLiveNicknamesAcrossNodes: a nickname one user's sessions hold on any node is refused to
// another user on every node, also while the quarantine after its release runs; the same user
// may hold it on two nodes; a dead node's holds go with its bindings.
func TestLiveNicknamesAcrossNodes(t *testing.T) {
	onBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		a := be.open(t, WithNode("a"))
		defer a.Close()
		b := be.open(t, WithNode("b"))
		defer b.Close()
		const key, alice, bob = "\x00ace", "xcon-userid:alice@example.com", "xcon-userid:bob@example.com"
		claim := func(s *Store, user string, quarantine time.Duration, want error) {
			t.Helper()
			if err := s.ClaimLiveNickname(ctx, key, "Ace", user, quarantine); !errors.Is(err, want) {
				t.Fatalf("node %s, %s: claim = %v, want %v", s.node, user, err, want)
			}
		}
		claim(a, alice, time.Hour, nil)
		claim(b, bob, time.Hour, xcon.ErrExists)
		claim(b, "XCON-USERID:Alice@example.com", time.Hour, nil) // her second device, on b
		if err := a.ReleaseLiveNickname(ctx, key, alice); err != nil {
			t.Fatal(err)
		}
		claim(a, bob, 0, xcon.ErrExists) // still held on b
		if err := b.ReleaseLiveNickname(ctx, key, alice); err != nil {
			t.Fatal(err)
		}
		claim(a, bob, time.Hour, xcon.ErrExists) // quarantine
		claim(a, bob, 0, nil)
		claim(b, alice, 0, xcon.ErrExists)

		for _, s := range []*Store{a, b} {
			if err := s.Heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
		}
		raw := be.raw(t)
		defer raw.Close()
		if _, err := raw.Exec(be.dialect.Rebind(`UPDATE nodes SET seen = $1 WHERE name = 'a'`), time.Now().Add(-time.Minute).UnixNano()); err != nil {
			t.Fatal(err)
		}
		if _, err := b.PurgeDeadNodes(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		claim(b, alice, time.Hour, nil) // bob's hold died with node a
	})
}
