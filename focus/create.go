package focus

import (
	"fmt"
	"strings"

	"github.com/parleychat/parley/xcon"
)

// ErrCreateForbidden refuses a room creation to a requester without the create privilege; it
// is ErrForbidden, so that a caller that does not tell it apart answers 403.
var ErrCreateForbidden = fmt.Errorf("%w: this requester may not create rooms", ErrForbidden)

// Creator is who asks for a new room, as the door it came through proved it: a CCMP principal,
// or the caller of the conference factory.
type Creator struct {
	// UserID is the XCON-USERID of the requester's proven identity ("" for none).
	UserID string
	// Admin: an administrator of every room (a CCMP administrator, or the embedded default's
	// local operator: a request from loopback while authentication is off).
	Admin bool
	// Proven: the identity comes from credentials or a trusted proxy, not from a claim the
	// requester made itself (a SIP From header).
	Proven bool
}

// CreatorOf is the requester a SIP identity makes: its proven identity (Identity.Proven),
// never the anonymous URI a privacy request shows.
func CreatorOf(identity Identity) Creator {
	c := Creator{Admin: identity.Local, Proven: identity.Verified}
	if u, ok := parseSIPURI(identity.Proven()); ok {
		c.UserID = xcon.UserIDFromAOR(u.AOR())
	}
	return c
}

// MayCreateRoom is the one rule on who creates rooms, over CCMP and through the conference
// factory alike: administrators, and proven identities Config.Creators names. Creating a room
// makes its creator its administrator, so the privilege is not everybody's.
func (f *Focus) MayCreateRoom(c Creator) error {
	if c.Admin || f.isAdministrator(c) {
		return nil
	}
	if !c.Proven || c.UserID == "" {
		return ErrCreateForbidden
	}
	id := strings.ToLower(userPart(c.UserID))
	_, host, _ := strings.Cut(id, "@")
	for _, e := range f.cfg.Creators {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "authenticated":
			return nil
		case strings.HasPrefix(e, "*@"):
			if host != "" && host == e[2:] {
				return nil
			}
		case f.namesUser(e, id):
			return nil
		}
	}
	return ErrCreateForbidden
}

// isAdministrator: a proven identity that is one of Config.Administrators.
func (f *Focus) isAdministrator(c Creator) bool {
	if !c.Proven || c.UserID == "" {
		return false
	}
	id := strings.ToLower(userPart(c.UserID))
	for _, a := range f.cfg.Administrators {
		if f.namesUser(strings.ToLower(strings.TrimSpace(a)), id) {
			return true
		}
	}
	return false
}

// namesUser tells whether a configured user entry names id (user@host, lower case): a bare
// name is that user at the domain; a SIP URI or an XCON-USERID is taken as it is.
func (f *Focus) namesUser(entry, id string) bool {
	if u, ok := parseSIPURI(entry); ok && (u.Scheme == "sip" || u.Scheme == "sips") {
		return u.User+"@"+u.Host == id
	}
	entry = userPart(entry)
	if !strings.Contains(entry, "@") {
		entry += "@" + strings.ToLower(f.cfg.Domain)
	}
	return entry == id
}
