package xcon

import (
	"encoding/xml"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HistoryOnJoin is a user's own choice of how much of a logged room's history it is replayed
// when it joins (session-chat §5.3: "the requester may choose how much history it gets on join"),
// bounded by the room's policy (RoomPolicy.History). It travels on the user's <user> element
// as <parley:history-on-join count="N" max-age="D"/> (namespace NSParley), where RFC 4575's
// user-type admits elements of other namespaces, so documents stay valid.
type HistoryOnJoin struct {
	Count  int           // at most this many messages per channel; 0: none
	MaxAge time.Duration // only messages logged less than this long before the join; 0: any age
}

// HistoryOnJoinLocal is the local name of the element that carries a HistoryOnJoin.
const HistoryOnJoinLocal = "history-on-join"

// Errors of ParseHistoryOnJoin.
var (
	ErrHistoryCount  = errors.New("history-on-join count must be a whole number from 0")
	ErrHistoryMaxAge = errors.New("history-on-join max-age must be a duration such as 90m or 24h, from 0")
)

// HistoryOnJoin returns the user's setting; ok is false when it has none (the room's own
// amount applies). A malformed stored element reads as none.
func (u *User) HistoryOnJoin() (h HistoryOnJoin, ok bool) {
	e := u.historyOnJoinElement()
	if e == nil {
		return HistoryOnJoin{}, false
	}
	h, err := ParseHistoryOnJoin(e)
	return h, err == nil
}

func (u *User) historyOnJoinElement() *Element {
	for _, e := range u.Extras.Elements {
		if e.Name.Space == NSParley && e.Name.Local == HistoryOnJoinLocal {
			return e
		}
	}
	return nil
}

// ParseHistoryOnJoin reads a <parley:history-on-join> element: count is required, max-age
// (a Go duration: "90m", "24h") optional.
func ParseHistoryOnJoin(e *Element) (HistoryOnJoin, error) {
	var h HistoryOnJoin
	count := false
	for _, a := range e.Attrs {
		if a.Name.Space != "" {
			continue
		}
		v := strings.TrimSpace(a.Value)
		switch a.Name.Local {
		case "count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return HistoryOnJoin{}, ErrHistoryCount
			}
			h.Count, count = n, true
		case "max-age":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return HistoryOnJoin{}, ErrHistoryMaxAge
			}
			h.MaxAge = d
		}
	}
	if !count {
		return HistoryOnJoin{}, ErrHistoryCount
	}
	return h, nil
}

// HistoryOnJoinElement returns the element that carries h.
func HistoryOnJoinElement(h HistoryOnJoin) *Element {
	e := &Element{Name: xml.Name{Space: NSParley, Local: HistoryOnJoinLocal}, Attrs: []xml.Attr{
		{Name: xml.Name{Local: "count"}, Value: strconv.Itoa(h.Count)},
	}}
	if h.MaxAge > 0 {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "max-age"}, Value: h.MaxAge.String()})
	}
	return e
}

// SetHistoryOnJoin stores h on the user, replacing any earlier setting; nil removes it (the
// room's own amount applies again).
func (u *User) SetHistoryOnJoin(h *HistoryOnJoin) {
	u.Extras.Elements = slices.DeleteFunc(slices.Clone(u.Extras.Elements), func(e *Element) bool {
		return e.Name.Space == NSParley && e.Name.Local == HistoryOnJoinLocal
	})
	if h != nil {
		u.Extras.Elements = append(u.Extras.Elements, HistoryOnJoinElement(*h))
	}
}

// Effective bounds h by a room's history depth: the number of messages the user is replayed.
func (h HistoryOnJoin) Effective(roomHistory int) HistoryOnJoin {
	h.Count = max(0, min(h.Count, roomHistory))
	return h
}
