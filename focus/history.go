package focus

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/xcon"
)

// recent is a room's in-memory tail of its message log: what a joiner is replayed. It is
// filled from the store when the room loads (so history survives restarts) and appended to
// under the room's mu in the same step that picks a message's recipients, so that a joiner
// gets each message exactly once: in its history, or live.
//
// Per channel it keeps the last limit public messages and the private ones sent since the
// oldest of them: a joiner is replayed the last limit of those it may see.
type recent struct {
	limit    int
	channels map[string]*channelTail
}

// channelTail is one channel's entries, oldest first, and how many of them are public.
type channelTail struct {
	entries []xcon.LogEntry // a window of base
	base    []xcon.LogEntry // the whole array entries lives in
	public  int
}

// add appends e and drops the oldest entries beyond limit public ones. Dropping re-slices; when
// the window reaches the end of its array, what it holds moves back to the array's start, so
// a busy channel reuses one array instead of allocating a new one every few messages.
func (r *recent) add(e xcon.LogEntry) {
	if r.channels == nil {
		r.channels = map[string]*channelTail{}
	}
	t := r.channels[e.Channel]
	if t == nil {
		t = &channelTail{}
		r.channels[e.Channel] = t
	}
	if len(t.entries) == cap(t.entries) && len(t.entries) <= len(t.base)/2 {
		n := copy(t.base, t.entries)
		clear(t.base[n:])
		t.entries = t.base[:n]
	}
	t.entries = append(t.entries, e)
	if end := t.entries[:cap(t.entries)]; len(t.base) == 0 || &end[len(end)-1] != &t.base[len(t.base)-1] {
		t.base = end // append moved the window to a new array
	}
	if e.Recipient == "" {
		t.public++
	}
	drop := 0
	for t.public > r.limit && drop < len(t.entries) {
		if t.entries[drop].Recipient == "" {
			t.public--
		}
		t.entries[drop] = xcon.LogEntry{} // let the body go
		drop++
	}
	t.entries = t.entries[drop:]
}

// replay returns the last n (at most the tail's limit) entries of channel that userID may see
// (mayRead), none logged before since (zero: no bound).
func (r *recent) replay(channel, userID string, n int, since time.Time) []xcon.LogEntry {
	var entries []xcon.LogEntry
	if t := r.channels[channel]; t != nil {
		entries = t.entries
	}
	n = min(n, r.limit)
	var out []xcon.LogEntry
	for i := len(entries) - 1; i >= 0 && len(out) < n; i-- {
		e := entries[i]
		if !since.IsZero() && e.Time.Before(since) {
			break // the tail is in logging order
		}
		if mayRead(e, userID) {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out
}

// mayRead is the one rule on which logged messages a user sees, on join and over CCMP alike:
// the public ones, and the private ones it sent or received (session-chat §5.3). XCON-USERIDs compare
// case-insensitively (RFC 6501 §3.3.2).
func mayRead(e xcon.LogEntry, userID string) bool {
	return e.Recipient == "" || strings.EqualFold(e.Recipient, userID) || strings.EqualFold(e.SenderID, userID)
}

// replayAmountLocked is how much history a joiner is replayed: the room's depth, or the
// user's own choice (xcon.HistoryOnJoin, set over CCMP) bounded by it; since is the oldest
// time a message may have been logged at (zero: any). The choice is looked up under the
// identity the room shows, then under the proven one (a caller who hides keeps his own).
// Caller holds mu.
func (r *Room) replayAmountLocked(p *Participant) (n int, since time.Time) {
	n = r.policy.History
	for _, id := range []string{p.userID, p.provenID} {
		u := r.userLocked(id)
		if u == nil {
			continue
		}
		h, ok := u.HistoryOnJoin()
		if !ok {
			continue
		}
		h = h.Effective(n)
		if h.MaxAge > 0 {
			since = time.Now().Add(-h.MaxAge)
		}
		return h.Count, since
	}
	return n, since
}

// Reader is who asks for a room's log outside a join (CCMP): an XCON-USERID, and whether it
// administers the whole server.
type Reader struct {
	UserID string
	Admin  bool
}

// historyScanMax bounds how many logged messages one History call looks at to find limit
// that the reader may see: a room full of other people's private messages costs no more.
const historyScanMax = 10000

// History returns the logged messages of a room's channel ("" = all) between from and to (zero
// bounds are open), oldest first, at most limit: the newest of those reader may see.
//
// Who may read is who the room admits (Admits: not barred, a member of a members-only room),
// and the room's moderators and administrators: ErrForbidden otherwise. What they read is what a joiner is replayed (mayRead):
// private messages only for their sender and recipient, the room's own administrators
// included, since any user may create a room. Administrators of the server (Reader.Admin) read
// everything: they hold the store anyway.
func (f *Focus) History(ctx context.Context, room string, reader Reader, channel string, from, to time.Time, limit int) ([]xcon.LogEntry, error) {
	r := f.Room(room)
	if r == nil {
		return nil, ErrRoomNotFound
	}
	if err := r.mayReadLog(reader); err != nil {
		return nil, err
	}
	if reader.Admin {
		return f.store.HistoryBetween(ctx, room, channel, from, to, limit)
	}
	var out []xcon.LogEntry
	for batch := limit; ; batch = min(2*batch, historyScanMax) {
		entries, err := f.store.HistoryBetween(ctx, room, channel, from, to, batch)
		if err != nil {
			return nil, err
		}
		out = out[:0]
		for i := len(entries) - 1; i >= 0 && len(out) < limit; i-- {
			if mayRead(entries[i], reader.UserID) {
				out = append(out, entries[i])
			}
		}
		if len(out) >= limit || len(entries) < batch || batch >= historyScanMax {
			break
		}
	}
	slices.Reverse(out)
	return out, nil
}

// mayReadLog applies the room's reading rule (Admits) to a reader of its log (see History).
func (r *Room) mayReadLog(reader Reader) error { return r.admits(reader) }

// userPart strips the scheme of an XCON-USERID: "xcon-userid:alice@example.com" is
// "alice@example.com".
func userPart(userID string) string {
	if scheme, rest, ok := strings.Cut(userID, ":"); ok && strings.EqualFold(scheme, "xcon-userid") {
		return rest
	}
	return userID
}

// moderatesLocked: the user's roles in the room include moderator, administrator or organizer
// (RFC 6501 §4.6.5.2). Caller holds mu.
func (r *Room) moderatesLocked(userID string) bool {
	if u := r.userLocked(userID); u != nil {
		for _, role := range u.Roles {
			switch strings.ToLower(strings.TrimSpace(role)) {
			case "moderator", "administrator", "organizer":
				return true
			}
		}
	}
	return false
}

// loadHistory fills the room's recent tail from the store.
func (r *Room) loadHistory(ctx context.Context, store xcon.Store) error {
	if !r.policy.Logging || r.policy.History <= 0 {
		return nil
	}
	for _, ch := range r.conf.Description.Media {
		entries, err := store.History(ctx, r.name, ch.Label, r.policy.History)
		if err != nil {
			return err
		}
		for _, e := range entries {
			r.recent.add(e)
		}
	}
	return nil
}

// loggingNotice is the room's own CPIM message telling a joiner the room is logged
// (session-chat §5.2). It comes from the room URI, like every notice of the room.
func (r *Room) loggingNotice(to string) []byte {
	return r.notice(to, "This room is logged: what you send here is recorded and may be shown to people who join later.")
}

// notice builds a CPIM text message from the room to one participant.
func (r *Room) notice(to, text string) []byte {
	m := &cpim.Message{
		From:        cpim.Address{URI: r.focus.RoomURI(r.name)},
		To:          []cpim.Address{{URI: to}},
		DateTime:    time.Now().UTC().Format(time.RFC3339),
		ContentType: "text/plain;charset=utf-8",
		Body:        []byte(text),
	}
	return m.Marshal()
}
