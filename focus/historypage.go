package focus

import (
	"context"
	"time"

	"github.com/parleychat/parley/xcon"
)

// HistoryFrom reads a room's log forwards (session-chat §5.3: the messages right after a timestamp):
// the first limit messages of channel ("" = all) logged at or after since and numbered above
// after, oldest first, of those reader may see; the access and visibility rules are History's.
// next is the cursor for the following page (pass it as after), 0 when the log has no more.
func (f *Focus) HistoryFrom(ctx context.Context, room string, reader Reader, channel string, since time.Time, after int64,
	limit int) (entries []xcon.LogEntry, next int64, err error) {
	r := f.Room(room)
	if r == nil {
		return nil, 0, ErrRoomNotFound
	}
	if err := r.mayReadLog(reader); err != nil {
		return nil, 0, err
	}
	// One more than asked tells whether a next page exists; messages the reader may not see
	// are skipped, at most historyScanMax of them per call.
	for scanned := 0; len(entries) <= limit; {
		want := limit + 1 - len(entries)
		batch, err := f.store.HistoryAfter(ctx, room, channel, since, after, want)
		if err != nil {
			return nil, 0, err
		}
		for _, e := range batch {
			if reader.Admin || mayRead(e, reader.UserID) {
				entries = append(entries, e)
			}
			after = e.Seq
		}
		scanned += len(batch)
		if len(batch) < want {
			return entries, 0, nil // the end of the log
		}
		if scanned >= historyScanMax && len(entries) <= limit {
			return entries, after, nil
		}
	}
	entries = entries[:limit]
	return entries, entries[limit-1].Seq, nil
}
