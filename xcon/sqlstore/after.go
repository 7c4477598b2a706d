package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/parleychat/parley/xcon"
)

// HistoryAfter returns the first limit messages of a room's channel ("" means every channel)
// logged at or after since (zero: from the start) and numbered above afterSeq, oldest first:
// one page of the log read forwards. It reads segments in log order and stops once it has
// limit messages, so a page costs the same wherever in the log it starts.
func (s *Store) HistoryAfter(ctx context.Context, room, channel string, since time.Time, afterSeq int64, limit int) ([]xcon.LogEntry, error) {
	room = roomKey(room)
	if limit <= 0 {
		return nil, s.roomExists(ctx, room)
	}
	lo := int64(0)
	if !since.IsZero() {
		lo = since.UnixNano()
	}
	rows, err := s.r.QueryContext(ctx, s.sql(`SELECT first_seq, data FROM log_segments
		WHERE room = $1 AND last_at >= $2 AND last_seq > $3 ORDER BY first_seq`), room, lo, afterSeq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []xcon.LogEntry
	for len(out) < limit && rows.Next() {
		var first int64
		var data []byte
		if err := rows.Scan(&first, &data); err != nil {
			return nil, err
		}
		entries, err := decodeSegment(room, first, data)
		if err != nil {
			return nil, fmt.Errorf("%w (room %q, seq %d)", err, room, first)
		}
		for i := 0; i < len(entries) && len(out) < limit; i++ {
			e := &entries[i]
			if e.Seq > afterSeq && e.Time.UnixNano() >= lo && (channel == "" || e.Channel == channel) {
				out = append(out, *e)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, s.roomExists(ctx, room)
	}
	return out, nil
}
