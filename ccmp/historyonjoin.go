package ccmp

import (
	"reflect"

	"github.com/parleychat/parley/xcon"
)

// settleHistoryOnJoin checks the per-user history settings (<parley:history-on-join> on a
// <user>, namespace xcon.NSParley) that a change to c brings, set by the user himself or a
// moderator through userRequest, usersRequest or confRequest: a malformed one is CCMP 400, and
// one above the room's history depth is clamped to it, so that what is stored, and shown in
// the answer, is what the user will get. Settings the change left alone (before holds the
// object as it was; nil for a new room) are kept as they are: the focus bounds them by the
// room's depth again at each join.
func settleHistoryOnJoin(before, c *xcon.Conference) error {
	policy, _ := c.RoomPolicy()
	for _, u := range c.Users {
		got := historyElements(u)
		if len(got) == 0 {
			continue
		}
		if before != nil {
			if old := before.User(u.Entity); old != nil && reflect.DeepEqual(historyElements(old), got) {
				continue
			}
		}
		h, err := xcon.ParseHistoryOnJoin(got[0])
		if err != nil {
			return fail(CodeBadRequest, err.Error()+" (user "+u.Entity+")")
		}
		h = h.Effective(policy.History)
		u.SetHistoryOnJoin(&h)
	}
	return nil
}

func historyElements(u *xcon.User) []*xcon.Element {
	var out []*xcon.Element
	for _, e := range u.Extras.Elements {
		if e.Name.Space == xcon.NSParley && e.Name.Local == xcon.HistoryOnJoinLocal {
			out = append(out, e)
		}
	}
	return out
}
