package focus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/xcon"
)

func newTestFocus(t *testing.T) (*focus.Focus, xcon.Store) {
	t.Helper()
	return focustest.Start(t, focus.RoomSpec{Name: "room"})
}

// TestUpdateRoomSerializesConcurrentChanges: concurrent updates are applied one after the
// other, each bumping the version by exactly one (RFC 6503 §4.2), none lost; every snapshot a
// reader takes meanwhile is consistent (its version matches its content); the store ends equal.
func TestUpdateRoomSerializesConcurrentChanges(t *testing.T) {
	f, store := newTestFocus(t)
	ctx := context.Background()
	room := f.Room("room")
	v0 := room.Snapshot().Version
	const writers = 40
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				readerErr <- nil
				return
			default:
			}
			c := room.Snapshot()
			if uint64(len(c.Description.Keywords)) != c.Version-v0 {
				readerErr <- fmt.Errorf("snapshot version %d with %d keywords", c.Version, len(c.Description.Keywords))
				return
			}
		}
	}()
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.UpdateRoom(ctx, "room", func(c *xcon.Conference) error {
				c.Description.Keywords = append(c.Description.Keywords, fmt.Sprintf("k%d", i))
				return nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	c := room.Snapshot()
	if c.Version != v0+writers || len(c.Description.Keywords) != writers {
		t.Fatalf("version %d (want %d), %d keywords (want %d)", c.Version, v0+writers, len(c.Description.Keywords), writers)
	}
	stored, err := store.Conference(ctx, "room")
	if err != nil || stored.Version != c.Version || len(stored.Description.Keywords) != writers {
		t.Fatalf("stored object: version %d, %d keywords, %v", stored.Version, len(stored.Description.Keywords), err)
	}
	// A failing update changes nothing (all or nothing).
	if _, err := f.UpdateRoom(ctx, "room", func(c *xcon.Conference) error {
		c.Description.Subject = "half done"
		return fmt.Errorf("refused")
	}); err == nil {
		t.Fatal("the failing update reported success")
	}
	if after := room.Snapshot(); after.Version != c.Version || after.Description.Subject == "half done" {
		t.Fatal("a failed update left a trace")
	}
}

// TestStoredNicknamesStayReserved: a nickname held by a provisioned user (stored in the
// conference object) is still that user's after a restart.
func TestStoredNicknamesStayReserved(t *testing.T) {
	f, store := newTestFocus(t)
	ctx := context.Background()
	if _, err := f.UpdateRoom(ctx, "room", func(c *xcon.Conference) error {
		c.Users = append(c.Users, &xcon.User{Entity: "xcon-userid:alice@example.com", Nickname: "Alice"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	again, stop := focustest.Run(t, store)
	defer stop()
	if _, err := again.ClaimNickname("room", "xcon-userid:bob@example.com", "ALICE"); err == nil {
		t.Fatal("another user took a stored nickname after a restart")
	}
	if _, err := again.ClaimNickname("room", "xcon-userid:alice@example.com", "alice"); err != nil {
		t.Fatalf("the holder lost its nickname: %v", err)
	}
}
