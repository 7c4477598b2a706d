package focus

import (
	"strings"

	"github.com/parleychat/parley/xcon"
)

// admissionLocked decides whether a user may join the room now. Caller holds mu. The order
// is the one a caller can act on: moved, closed, barred, full.
func (r *Room) admissionLocked(userID string, aor sipURI) error {
	switch {
	case r.removed:
		return ErrRoomNotFound
	case r.policy.Successor != "":
		return &MovedError{Successor: r.policy.Successor} // seed §5.4
	case r.conf.State.Active != nil && !*r.conf.State.Active:
		return ErrForbidden
	case !strings.EqualFold(r.conf.JoinHandling, "allow"):
		// RFC 6501 §4.6.1: absent means block; confirm, authenticate and directed-operator
		// need a moderator or credentials this focus does not ask for yet.
		return ErrForbidden
	case r.matchesAny(r.conf.DenyUsers, userID, aor) && !strings.EqualFold(r.conf.UserAdmissionPolicy, "anonymous"):
		return ErrForbidden
	case r.membersOnly() && !r.matchesAny(r.conf.AllowedUsers, userID, aor):
		return ErrForbidden
	case r.conf.State.Locked != nil && *r.conf.State.Locked && !r.isLive(userID):
		return ErrForbidden // RFC 4575 §5.5: a locked roster takes nobody new
	case r.conf.Description.MaximumUserCount != nil && !r.isLive(userID) &&
		uint32(r.liveUsers()) >= *r.conf.Description.MaximumUserCount:
		return ErrRoomFull
	}
	return nil
}

// MayWatch tells whether identity may subscribe to a room's roster (RFC 4575 subscriptions obey
// the room's ACL): the admission rules except the ones about room for one more (locked, full).
// Participants present may always watch.
func (f *Focus) MayWatch(room string, identity Identity) error {
	return f.checkUser(room, identity, func(r *Room, userID string, aor sipURI) error {
		if r.isLive(userID) {
			return nil
		}
		return r.mayWatchLocked(userID, aor)
	})
}

// checkUser runs check on room, under its lock, for identity's XCON-USERID and parsed AOR:
// ErrRoomNotFound without the room, ErrForbidden for an AOR that is not a SIP URI.
func (f *Focus) checkUser(room string, identity Identity, check func(r *Room, userID string, aor sipURI) error) error {
	r := f.Room(room)
	if r == nil {
		return ErrRoomNotFound
	}
	aor, ok := parseSIPURI(identity.AOR)
	if !ok {
		return ErrForbidden
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return check(r, xcon.UserIDFromAOR(aor.AOR()), aor)
}

// mayWatchLocked is MayWatch's ACL for someone not in the room; r.mu is held.
func (r *Room) mayWatchLocked(userID string, aor sipURI) error {
	switch {
	case r.policy.Successor != "":
		return &MovedError{Successor: r.policy.Successor}
	case !strings.EqualFold(r.conf.JoinHandling, "allow"):
		return ErrForbidden
	case r.matchesAny(r.conf.DenyUsers, userID, aor) && !strings.EqualFold(r.conf.UserAdmissionPolicy, "anonymous"):
		return ErrForbidden
	case r.membersOnly() && !r.matchesAny(r.conf.AllowedUsers, userID, aor):
		return ErrForbidden
	}
	return nil
}

// membersOnly: a room with an allowed-users-list admits only its targets, unless its admission
// policy opens it (RFC 6501 §4.6.2: openAuthenticated and anonymous ignore the list).
func (r *Room) membersOnly() bool {
	p := strings.ToLower(r.conf.UserAdmissionPolicy)
	return len(r.conf.AllowedUsers) > 0 && p != "openauthenticated" && p != "anonymous"
}

// deniedLocked tells whether a present participant is now barred (deny list). Caller holds mu.
func (r *Room) deniedLocked(p *Participant) bool {
	return r.matchesAny(r.conf.DenyUsers, p.userID, p.aor)
}

// matchesAny tells whether a user is named by one of targets: by XCON-USERID, by SIP URI, or
// by a domain wildcard "*@example.com" (RFC 6501 §4.6.3).
func (r *Room) matchesAny(targets []xcon.Target, userID string, aor sipURI) bool {
	for _, t := range targets {
		uri := strings.TrimSpace(t.URI)
		switch {
		case strings.EqualFold(uri, userID):
			return true
		case strings.HasPrefix(uri, "*@"):
			if strings.EqualFold(uri[2:], aor.Host) {
				return true
			}
		default:
			if u, ok := parseSIPURI(uri); ok && sameIdentity(u, aor) {
				return true
			}
		}
	}
	return false
}

// liveUsers counts the distinct users present. Caller holds mu.
func (r *Room) liveUsers() int { return len(r.live) }
