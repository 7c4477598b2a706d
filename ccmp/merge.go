package ccmp

import (
	"errors"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// Partial updates (RFC 6503 §4.2) are merged by xcon (ConferenceDelta, UserDelta); this file
// states CCMP's part: the nickname rule of a new user, and the response code of a refusal.

// mergeRules vets what the merge leaves to the focus: a new user's nickname is held to the
// rule a claimed one is (PRECIS).
var mergeRules = xcon.MergeRules{Nickname: func(nick string) error {
	if _, _, err := focus.EnforceNickname(nick); err != nil {
		return errors.New("PRECIS Nickname, at most 64 characters")
	}
	return nil
}}

// parseConfDelta reads the confInfo (or sidebar*Info) of an update.
func parseConfDelta(el *etree.Element) (*xcon.ConferenceDelta, error) {
	d, err := xcon.ParseConferenceDelta(el)
	if err != nil {
		return nil, fail(CodeBadRequest, err.Error())
	}
	return d, nil
}

// parseUserDelta reads the userInfo of an update.
func parseUserDelta(el *etree.Element) (*xcon.UserDelta, error) {
	d, err := xcon.ParseUserDelta(el)
	if err != nil {
		return nil, fail(CodeBadRequest, err.Error())
	}
	return d, nil
}

// mergeConference applies d to c.
func mergeConference(c *xcon.Conference, d *xcon.ConferenceDelta) error {
	return mergeError(d.Apply(c, mergeRules))
}

// mergeUser applies d to u.
func mergeUser(u *xcon.User, d *xcon.UserDelta) error {
	return mergeError(d.Apply(u))
}

// mergeError restates a refused merge as the CCMP error of its kind.
func mergeError(err error) error {
	var me *xcon.MergeError
	if !errors.As(err, &me) {
		return err
	}
	switch me.Kind {
	case xcon.Forbidden:
		return fail(CodeForbiddenChange, me.Reason)
	case xcon.Conflict:
		return fail(CodeConflict, me.Reason)
	}
	return fail(CodeBadRequest, me.Reason)
}
