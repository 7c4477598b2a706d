package focus

import (
	"context"
	"slices"
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
	entries []xcon.LogEntry
	public  int
}

// add appends e and drops the oldest entries beyond limit public ones. Dropping re-slices: the
// array is copied only when append grows it, so a message costs O(1) amortised and the tail
// holds at most about twice what it keeps.
func (r *recent) add(e xcon.LogEntry) {
	if r.channels == nil {
		r.channels = map[string]*channelTail{}
	}
	t := r.channels[e.Channel]
	if t == nil {
		t = &channelTail{}
		r.channels[e.Channel] = t
	}
	t.entries = append(t.entries, e)
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

// replay returns the last limit entries of channel that userID may see: public ones, and
// private ones it sent or received (seed §5.3).
func (r *recent) replay(channel, userID string) []xcon.LogEntry {
	var entries []xcon.LogEntry
	if t := r.channels[channel]; t != nil {
		entries = t.entries
	}
	var out []xcon.LogEntry
	for i := len(entries) - 1; i >= 0 && len(out) < r.limit; i-- {
		e := entries[i]
		if e.Recipient != "" && e.Recipient != userID && e.SenderID != userID {
			continue
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	return out
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

// loggingNotice is the room's own CPIM message telling a joiner the room is logged (seed
// §5.2). It comes from the room URI, like every notice of the room.
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
