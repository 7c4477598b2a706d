package ccmp

import (
	"slices"
	"strings"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// Roles (RFC 6501 §4.6.5.2; their rights are policy, RFC 6503 §10.2). A principal's role in a
// room is the highest of its <user><roles> entries there; a principal with Admin is an
// administrator everywhere (the embedded default, loopback, is one).
//
//	administrator  everything, including delete, closing and changing roles. The creator of
//	               a room is recorded as a user with the roles administrator and organizer
//	               (liblinphone's name for the creator; both mean the same here).
//	moderator      change the room and its users, add, change and remove other users,
//	               sidebars; not delete the room, close it or change roles.
//	participant,   read the room and its users; join, change and remove themselves (their
//	observer       nickname, not their roles), subject to the room's admission policy (deny
//	               list; with an allowed-users-list, only its targets unless the policy is
//	               openAuthenticated or anonymous).
//
// Creating a room (and a sidebar by reference, a room of its own) is a privilege of its own:
// administrators and the creators configured (focus.MayCreateRoom).
const (
	roleNone = iota
	roleObserver
	roleParticipant
	roleModerator
	roleAdministrator
)

// creatorRoles are the roles recorded for the creator of a room, the same over CCMP and the
// SIP conference factory.
var creatorRoles = focus.CreatorRoles

func roleRank(r string) int {
	switch strings.ToLower(strings.TrimSpace(r)) {
	case "administrator", "organizer":
		return roleAdministrator
	case "moderator":
		return roleModerator
	case "participant", "user":
		return roleParticipant
	case "observer":
		return roleObserver
	}
	return roleNone
}

// role returns the principal's role in c.
func (p *Principal) role(c *xcon.Conference) int {
	if p.Admin {
		return roleAdministrator
	}
	best := roleNone
	if u := c.User(p.UserID); u != nil {
		for _, r := range u.Roles {
			best = max(best, roleRank(r))
		}
	}
	return best
}

func (p *Principal) administers(c *xcon.Conference) bool { return p.role(c) >= roleAdministrator }
func (p *Principal) moderates(c *xcon.Conference) bool   { return p.role(c) >= roleModerator }

// admits applies the room's admission policy to a principal joining by itself.
func (p *Principal) admits(c *xcon.Conference) error {
	if p.moderates(c) {
		return nil
	}
	named := func(ts []xcon.Target) bool {
		return slices.ContainsFunc(ts, func(t xcon.Target) bool {
			u := strings.TrimSpace(t.URI)
			return strings.EqualFold(u, p.UserID) || (strings.HasPrefix(u, "*@") &&
				strings.HasSuffix(strings.ToLower(p.UserID), "@"+strings.ToLower(u[2:])))
		})
	}
	policy := strings.ToLower(c.UserAdmissionPolicy)
	if policy != "anonymous" && named(c.DenyUsers) {
		return fail(CodeUnauthorized, "you are barred from this room")
	}
	if len(c.AllowedUsers) > 0 && policy != "openauthenticated" && policy != "anonymous" && !named(c.AllowedUsers) &&
		c.User(p.UserID) == nil {
		return fail(CodeUnauthorized, "this room admits its members only")
	}
	return nil
}
