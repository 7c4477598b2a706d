package sqlstore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/parleychat/parley/xcon"
)

// The message log is stored in segments: one row per room and group commit, holding every entry
// of that room the commit wrote, encoded back to back. A row per message costs SQLite a B-tree
// insert, an index insert and a foreign-key probe per message; a segment costs them once per
// commit, which is what lets a logged room keep up with the switch.
//
// An entry is: uvarint seq − segment's first seq, varint at (Unix ns), then channel, sender id,
// sender nickname, recipient, content type and body, each a uvarint length and its bytes.

var errSegment = errors.New("sqlstore: corrupt log segment")

// segment is one row of log_segments being built or read.
type segment struct {
	firstSeq, lastSeq int64
	firstAt, lastAt   int64
	count             int
	data              []byte
}

func (g *segment) add(e *xcon.LogEntry) {
	at := e.Time.UnixNano()
	if g.count == 0 {
		g.firstSeq, g.firstAt, g.lastAt = e.Seq, at, at
	}
	g.lastSeq = e.Seq
	g.firstAt, g.lastAt = min(g.firstAt, at), max(g.lastAt, at)
	g.count++
	b := binary.AppendUvarint(g.data, uint64(e.Seq-g.firstSeq))
	b = binary.AppendVarint(b, at)
	for _, f := range [...]string{e.Channel, e.SenderID, e.SenderNick, e.Recipient, e.ContentType} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Body)))
	g.data = append(b, e.Body...)
}

// encodedSize bounds what add appends for e: two varints and six length-prefixed fields.
func encodedSize(e *xcon.LogEntry) int {
	return 2*binary.MaxVarintLen64 + 6*binary.MaxVarintLen64 + len(e.Channel) + len(e.SenderID) +
		len(e.SenderNick) + len(e.Recipient) + len(e.ContentType) + len(e.Body)
}

// decodeSegment returns the entries of a segment of room, oldest first.
func decodeSegment(room string, firstSeq int64, data []byte) ([]xcon.LogEntry, error) {
	var out []xcon.LogEntry
	for len(data) > 0 {
		e := xcon.LogEntry{Room: room}
		d, n := binary.Uvarint(data)
		if n <= 0 {
			return nil, errSegment
		}
		e.Seq, data = firstSeq+int64(d), data[n:]
		at, n := binary.Varint(data)
		if n <= 0 {
			return nil, errSegment
		}
		e.Time, data = time.Unix(0, at), data[n:]
		var fields [6][]byte
		for i := range fields {
			l, n := binary.Uvarint(data)
			if n <= 0 || l > uint64(len(data)-n) {
				return nil, errSegment
			}
			fields[i], data = data[n:n+int(l)], data[n+int(l):]
		}
		e.Channel, e.SenderID, e.SenderNick = string(fields[0]), string(fields[1]), string(fields[2])
		e.Recipient, e.ContentType = string(fields[3]), string(fields[4])
		e.Body = append([]byte{}, fields[5]...)
		out = append(out, e)
	}
	return out, nil
}
