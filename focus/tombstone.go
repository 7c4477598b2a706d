package focus

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/parleychat/parley/xcon"
)

// A room closed with an alternate venue (session-chat §5.4) stays in the store as a tombstone: its
// conference object, inactive, with the successor in its room policy. Focus owns them: they are
// loaded with the other rooms at start, so the redirect and the protection of the successor
// outlive restarts.

// ErrNoSuccessor: the successor named when closing a room is not an open room of this focus.
var ErrNoSuccessor = errors.New("focus: the successor is not an open room of this focus")

// ErrSuccessorInUse: DeleteRoom of a room that a closed room redirects to.
var ErrSuccessorInUse = errors.New("focus: a closed room redirects to this room")

// maxRedirects bounds the chain of closed rooms a redirect follows.
const maxRedirects = 8

// successorName resolves the alternate venue given when closing a room, its SIP URI
// (sip:NAME@DOMAIN) or its XCON-URI (xcon:NAME@DOMAIN), to the name of a room of this focus.
func (f *Focus) successorName(uri string) (string, bool) {
	uri = strings.TrimSpace(uri)
	if len(uri) > 5 && strings.EqualFold(uri[:5], "xcon:") {
		name, host, ok := strings.Cut(uri[5:], "@")
		if !ok || name == "" || !f.localHosts[strings.ToLower(host)] {
			return "", false
		}
		return name, true
	}
	return f.RoomName(uri)
}

// XCONURI returns the XCON-URI of a room of this focus: xcon:NAME@DOMAIN.
func (f *Focus) XCONURI(name string) string { return "xcon:" + name + "@" + f.cfg.Domain }

// Tombstones returns the names of the rooms closed with a successor, sorted.
func (f *Focus) Tombstones() []string {
	f.mu.RLock()
	names := make([]string, 0)
	for n, r := range f.rooms {
		if r.Successor() != "" {
			names = append(names, n)
		}
	}
	f.mu.RUnlock()
	sort.Strings(names)
	return names
}

// RedirectsTo returns the closed rooms whose successor is the room called name, sorted.
func (f *Focus) RedirectsTo(name string) []string {
	var out []string
	for _, n := range f.Tombstones() {
		r := f.Room(n)
		if r == nil {
			continue
		}
		if s, ok := f.successorName(r.Successor()); ok && strings.EqualFold(s, name) {
			out = append(out, n)
		}
	}
	return out
}

// CloseRoom closes a room with an alternate venue (session-chat §5.4): successor, the SIP URI or
// XCON-URI of another open room of this focus (ErrNoSuccessor otherwise). Participants get a
// notice naming the successor, then a BYE; watchers get a last NOTIFY naming it; the room becomes
// a tombstone that is neither listed nor joinable, and later INVITEs are redirected (MovedError
// → 302) to the successor's SIP URI, for callers the successor admits.
func (f *Focus) CloseRoom(ctx context.Context, name, successor string) error {
	r := f.Room(name)
	if r == nil {
		return ErrRoomNotFound
	}
	target, ok := f.successorName(successor)
	if !ok {
		return fmt.Errorf("%w: %q names no room here", ErrNoSuccessor, successor)
	}
	next := f.Room(target)
	if next == nil || next == r || next.Successor() != "" {
		return fmt.Errorf("%w: %q", ErrNoSuccessor, successor)
	}
	sipURI := f.RoomURI(target)
	if _, err := f.UpdateRoom(ctx, name, func(c *xcon.Conference) error {
		p, _ := c.RoomPolicy()
		p.Successor = sipURI
		c.SetRoomPolicy(p)
		active := false
		c.State.Active = &active
		return nil
	}); err != nil {
		return err
	}
	// Evacuated first, so that the watchers' last NOTIFY shows the room empty and closed.
	f.evacuate(ctx, r, "This room has moved to "+sipURI+". Please join it there.")
	f.gone(name)
	f.log.Info("room closed with a successor", "room", name, "successor", sipURI)
	return nil
}

// Successor returns the alternate venue of a closed room, its SIP URI, or "".
func (r *Room) Successor() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.policy.Successor
}

// moved is the MovedError of a room closed with successor, its stored SIP URI.
func (f *Focus) moved(successor string) *MovedError {
	m := &MovedError{Successor: successor}
	if name, ok := f.successorName(successor); ok {
		m.ConfObjID = f.XCONURI(name)
	}
	return m
}

// redirect turns the MovedError of a closed room into what a caller with this proven identity
// gets: the redirect when the successor (followed along a chain of closed rooms) would admit
// it, else the successor's refusal (ErrForbidden for a banned user or a non-member of a
// members-only room, ErrRoomNotFound when the successor is gone). Other errors pass unchanged.
func (f *Focus) redirect(err error, userID string, aor sipURI, admin bool) error {
	var moved *MovedError
	for range maxRedirects {
		if !errors.As(err, &moved) {
			return err
		}
		name, ok := f.successorName(moved.Successor)
		if !ok {
			return ErrRoomNotFound
		}
		next := f.Room(name)
		if next == nil {
			return ErrRoomNotFound
		}
		next.mu.Lock()
		err = next.accessLocked(userID, aor, admin)
		next.mu.Unlock()
		if err == nil {
			return &MovedError{Successor: f.RoomURI(name), ConfObjID: f.XCONURI(name)}
		}
	}
	return ErrRoomNotFound // a loop of closed rooms
}
