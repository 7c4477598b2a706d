package ccmp

import (
	"context"
	"encoding/xml"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// users answers usersRequest (RFC 6503 §5.3.5): the <users> container.
func (h *Handler) users(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	room, snap, err := h.room(req)
	if err != nil {
		return err
	}
	resp.ConfObjID = snap.Entity
	switch req.Operation {
	case OpRetrieve:
		if err := h.mayRead(p, room, snap); err != nil {
			return err
		}
		resp.Version = snap.Version
		resp.Info = usersElement(room.Roster()) // members on other nodes too
		return nil
	case OpUpdate:
		if !p.moderates(snap) {
			return fail(CodeForbiddenChange, "only a moderator or administrator of the room may change its users")
		}
		if req.Info == nil {
			return fail(CodeBadRequest, "usersRequest/update needs usersInfo")
		}
		if err := newAutogen(h.cfg.Domain).apply(req.Info); err != nil {
			return err
		}
		sips := normalizeTargets(req.Info)
		wrapper := wrapAs(req.Info, xcon.NS, "users")
		d, err := parseConfDelta(wrapper)
		if err != nil {
			return err
		}
		next, err := h.update(ctx, room, func(c *xcon.Conference) error {
			from := c.Clone()
			if err := mergeConference(c, d); err != nil {
				return err
			}
			provision(c, sips)
			return p.mayChangeRoles(from, c)
		})
		if err != nil {
			return err
		}
		resp.Version = next.Version
		return nil
	}
	return fail(CodeForbidden, "")
}

// usersElement returns the <users> container of c as a usersInfo element.
func usersElement(c *xcon.Conference) *etree.Element {
	only := &xcon.Conference{Entity: c.Entity, Users: c.Users, UsersState: c.UsersState, JoinHandling: c.JoinHandling,
		UserAdmissionPolicy: c.UserAdmissionPolicy, AllowedUsers: c.AllowedUsers, PersistentUsers: c.PersistentUsers,
		DenyUsers: c.DenyUsers, UsersExtras: c.UsersExtras}
	el := only.Element("x")
	users := el.SelectElement("users")
	if users == nil {
		return etree.NewElement("usersInfo")
	}
	el.RemoveChild(users)
	return users
}

// wrapAs copies el under a new parent that carries every namespace declaration in scope of
// el, renamed to {space}local, so that a decoder expecting that element can read it; it
// returns the new parent.
func wrapAs(el *etree.Element, space, local string) *etree.Element {
	wrapper := etree.NewElement("wrapper")
	declared := map[string]bool{}
	for e := el.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			key := a.Key
			if a.Space == "" && a.Key == "xmlns" {
				key = ""
			} else if a.Space != "xmlns" {
				continue
			}
			if !declared[key] {
				declared[key] = true
				wrapper.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	wrapper.CreateAttr("xmlns:ccmpwrap", space)
	copied := el.Copy()
	copied.Space, copied.Tag = "ccmpwrap", local
	wrapper.AddChild(copied)
	return wrapper
}

// user answers userRequest (RFC 6503 §5.3.6).
func (h *Handler) user(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	room, snap, err := h.room(req)
	if isCode(err, CodeNotFound) {
		if parent, main, sb := h.byValSidebar(req.ConfObjID); sb != nil {
			if err := checkPassword(main, req.Password); err != nil {
				return err
			}
			return h.userInByVal(ctx, p, parent, main, sb, req, resp)
		}
	}
	if err != nil {
		return err
	}
	resp.ConfObjID = snap.Entity
	if req.Operation == OpCreate {
		return h.userCreate(ctx, p, room, snap, req, resp)
	}
	entity := req.ConfUserID
	if req.Info != nil {
		if e := strings.TrimSpace(req.Info.SelectAttrValue("entity", "")); e != "" {
			entity = e
		}
	}
	if !p.moderates(snap) && !strings.EqualFold(entity, p.UserID) && req.Operation != OpRetrieve {
		return fail(CodeUnauthorized, "only a moderator or administrator may act on another user")
	}
	if snap.User(entity) == nil && (req.Operation != OpDelete || !h.focus.BoundElsewhere(ctx, room.Name(), entity)) {
		// A member whose call is on another node sharing the store is in the room too; only
		// a delete (a kick) reaches it from here.
		return fail(CodeUserNotFound, "no user "+entity+" in the conference")
	}
	switch req.Operation {
	case OpRetrieve:
		if err := h.mayRead(p, room, snap); err != nil {
			return err
		}
		resp.Version = snap.Version
		resp.Info = snap.User(entity).Element("userInfo")
		return nil
	case OpUpdate:
		if req.Info == nil {
			return fail(CodeBadRequest, "userRequest/update needs userInfo")
		}
		return h.userUpdate(ctx, p, room, entity, req, resp)
	case OpDelete:
		return h.userDelete(ctx, room, entity, resp)
	}
	return fail(CodeBadRequest, "unknown operation")
}

func (h *Handler) userCreate(ctx context.Context, p *Principal, room *focus.Room, snap *xcon.Conference, req *Request, resp *Response) error {
	if s := room.Successor(); s != "" {
		return fail(CodeForbidden, "the room is closed; it moved to "+s)
	}
	var du *xcon.User
	if req.Info == nil {
		if req.ConfUserID == "" {
			return fail(CodeBadRequest, "a join without confUserID needs userInfo")
		}
		du = &xcon.User{Entity: req.ConfUserID}
	} else {
		ag := newAutogen(h.cfg.Domain)
		entity := strings.TrimSpace(req.Info.SelectAttrValue("entity", ""))
		ph, err := ag.identifier(entity)
		if err != nil {
			return err
		}
		if ph != "" {
			id := h.deriveUserID(req.Info)
			ag.set(ph, strings.TrimPrefix(id, "xcon-userid:"))
			req.Info.CreateAttr("entity", id)
		}
		if err := ag.apply(req.Info); err != nil {
			return err
		}
		d, err := parseUserDelta(req.Info)
		if err != nil {
			return err
		}
		du = d.User
		if du.Entity == "" {
			du.Entity = req.ConfUserID
		}
		if du.Entity == "" {
			return fail(CodeBadRequest, "userInfo needs an entity (AUTO_GENERATE_1 lets the server choose)")
		}
	}
	if err := bareNickname(du); err != nil {
		return err
	}
	exact := exactNickname(du)
	if !validUserID(du.Entity) {
		return fail(CodeUserNotFound, du.Entity+" is not an XCON-USERID")
	}
	if !strings.EqualFold(du.Entity, p.UserID) {
		if !p.moderates(snap) {
			return fail(CodeUnauthorized, "only a moderator or administrator may add another user")
		}
	} else if err := h.focus.AdmitsJoin(room.Name(), focus.Reader{UserID: p.UserID, Admin: p.Admin}); err != nil {
		if errors.Is(err, focus.ErrRoomNotFound) {
			return fail(CodeNotFound, "no conference "+h.roomURI(room.Name()))
		}
		return fail(CodeUnauthorized, "this room does not admit you")
	}
	if len(du.Roles) > 0 {
		if err := p.mayGiveRoles(snap, du.Entity, du.Roles); err != nil {
			return err
		}
	}
	if existing := snap.User(du.Entity); existing != nil {
		live := slices.ContainsFunc(room.Participants(), func(q *focus.Participant) bool { return strings.EqualFold(q.UserID(), du.Entity) })
		if !strings.EqualFold(du.Entity, p.UserID) || live || existing.Nickname != "" {
			return &Error{Code: CodeConflict, Reason: du.Entity + " is already in the conference", Version: snap.Version}
		}
		return h.userJoinProvisioned(ctx, room, snap, du, exact, resp)
	}
	if err := h.focus.HasRoomFor(room.Name(), du.Entity); errors.Is(err, focus.ErrRoomFull) {
		return fail(CodeNoResources, "the conference is full: its maximum-user-count of users are present")
	} else if err != nil {
		return fail(CodeNotFound, "no conference "+h.roomURI(room.Name()))
	}
	// A user joining gets a nickname; one added by someone else only the one given for it,
	// so that it can still join by itself later (userJoinProvisioned).
	nick, err := h.claimNickname(room, snap, du.Entity, du.Nickname, strings.EqualFold(du.Entity, p.UserID), exact)
	if err != nil {
		return err
	}
	du.Nickname = nick
	if len(du.Roles) == 0 {
		// A user added by a moderator has voice; one joining a moderated room by himself is a
		// visitor (focus: the role a SIP joiner gets).
		du.Roles = []string{"participant"}
		if policy, _ := snap.RoomPolicy(); policy.Moderated && strings.EqualFold(du.Entity, p.UserID) {
			du.Roles = []string{"observer"}
		}
	}
	next, err := h.update(ctx, room, func(c *xcon.Conference) error {
		if c.User(du.Entity) != nil {
			return &Error{Code: CodeConflict, Reason: du.Entity + " is already in the conference"}
		}
		c.Users = append(c.Users, du)
		// In a members-only room, the user added is a member from now on.
		if len(c.AllowedUsers) > 0 && !slices.ContainsFunc(c.AllowedUsers, func(t xcon.Target) bool {
			return strings.EqualFold(t.URI, du.Entity)
		}) {
			c.AllowedUsers = append(c.AllowedUsers, xcon.Target{URI: du.Entity, Method: "dial-in"})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if req.ConfUserID == "" {
		resp.ConfUserID = du.Entity // the newly allocated XCON-USERID (RFC 6504 §6.3)
	}
	resp.Version = next.Version
	if u := next.User(du.Entity); u != nil {
		resp.Info = u.Element("userInfo")
	}
	if strings.EqualFold(du.Entity, p.UserID) {
		tellLogged(next, resp)
	}
	return nil
}

// deriveUserID picks the XCON-USERID of a user the client could not name: the one its SIP
// address maps to (so that the same person dialling in is recognised), else a fresh one.
func (h *Handler) deriveUserID(info *etree.Element) string {
	var candidates []string
	for _, e := range info.ChildElements() {
		switch e.Tag {
		case "endpoint":
			candidates = append(candidates, e.SelectAttrValue("entity", ""))
		case "associated-aors":
			for _, entry := range e.ChildElements() {
				if u := entry.SelectElement("uri"); u != nil {
					candidates = append(candidates, textOf(u))
				}
			}
		}
	}
	for _, c := range candidates {
		if isSIPURI(c) {
			if id := xcon.UserIDFromAOR(c); validUserID(id) {
				return id
			}
		}
	}
	return "xcon-userid:" + focus.NewName(10) + "@" + h.cfg.Domain
}

// bareNickname refuses an unqualified nickname attribute: the project's schema convention is
// xcon:nickname (RFC 6501's nickname attribute in its namespace), and the unqualified form is
// schema-invalid.
func bareNickname(u *xcon.User) error {
	for _, a := range u.Extras.Attrs {
		if a.Name.Space == "" && a.Name.Local == "nickname" {
			return fail(CodeBadRequest, "the nickname travels as xcon:nickname (namespace "+xcon.NSXcon+")")
		}
	}
	return nil
}

// exactNickname reports whether a userInfo asks for its preferred nickname and no other (the
// parley:exact-nickname="true" attribute, namespace NSParley), and takes the marker off the
// user so that it is not stored.
func exactNickname(u *xcon.User) bool {
	exact := false
	u.Extras.Attrs = slices.DeleteFunc(u.Extras.Attrs, func(a xml.Attr) bool {
		if a.Name.Space != NSParley || a.Name.Local != exactNicknameAttr {
			return false
		}
		exact = a.Value == "true" || a.Value == "1"
		return true
	})
	return exact
}

// exactNicknameAttr is the local name of the marker exactNickname reads.
const exactNicknameAttr = "exact-nickname"

// claimNickname reserves a user's nickname through the focus (session-chat §5.1: PRECIS-compared,
// unique). A preferred one that is taken makes the focus allocate another (session-chat §5.1: "or
// allocates a different nickname"), the preferred one with a number, unless exact is set:
// then it is 409. Without a preferred one, a new user gets its user part, or that with a number.
func (h *Handler) claimNickname(room *focus.Room, snap *xcon.Conference, entity, preferred string, allocate, exact bool) (string, error) {
	if preferred != "" {
		nick, err := h.focus.ClaimNickname(room.Name(), entity, preferred)
		if errors.Is(err, focus.ErrNicknameTaken) && !exact {
			if nick = h.allocateNickname(room, entity, preferred, 2, maxNicknameSuffix); nick != "" {
				return nick, nil
			}
		}
		switch {
		case errors.Is(err, focus.ErrNicknameMalformed):
			return "", fail(CodeBadRequest, "nickname "+strconv.Quote(preferred)+" is not acceptable (PRECIS Nickname, at most 64 characters)")
		case errors.Is(err, focus.ErrNicknameTaken):
			return "", &Error{Code: CodeConflict, Reason: "nickname " + strconv.Quote(preferred) + " is reserved or in use", Version: snap.Version}
		}
		return nick, err
	}
	if !allocate {
		return "", nil
	}
	base := strings.TrimPrefix(strings.ToLower(entity), "xcon-userid:")
	if i := strings.IndexByte(base, '@'); i >= 0 {
		base = base[:i]
	}
	if base == "" {
		return "", nil
	}
	if nick, err := h.focus.ClaimNickname(room.Name(), entity, base); err == nil {
		return nick, nil
	}
	return h.allocateNickname(room, entity, base, 2, 9), nil
}

// maxNicknameSuffix bounds the numbers tried after a taken preferred nickname.
const maxNicknameSuffix = 99

// allocateNickname claims the first free base+N for N in [from, to], or returns "".
func (h *Handler) allocateNickname(room *focus.Room, entity, base string, from, to int) string {
	for i := from; i <= to; i++ {
		if nick, err := h.focus.ClaimNickname(room.Name(), entity, base+strconv.Itoa(i)); err == nil {
			return nick
		}
	}
	return ""
}

func (h *Handler) userUpdate(ctx context.Context, p *Principal, room *focus.Room, entity string, req *Request, resp *Response) error {
	if err := newAutogen(h.cfg.Domain).apply(req.Info); err != nil {
		return err
	}
	d, err := parseUserDelta(req.Info)
	if err != nil {
		return err
	}
	du := d.User
	if err := bareNickname(du); err != nil {
		return err
	}
	exact := exactNickname(du)
	nickGiven := d.HasAttr(xcon.NSXcon, "nickname")
	old := ""
	if u := room.Snapshot().User(entity); u != nil {
		old = u.Nickname
	}
	nick := ""
	if nickGiven && du.Nickname != "" {
		if nick, err = h.claimNickname(room, room.Snapshot(), entity, du.Nickname, false, exact); err != nil {
			return err
		}
	}
	next, err := h.update(ctx, room, func(c *xcon.Conference) error {
		cur := c.User(entity)
		if cur == nil {
			return fail(CodeUserNotFound, "no user "+entity+" in the conference")
		}
		from := c.Clone()
		if err := mergeUser(cur, d); err != nil {
			return err
		}
		if err := p.mayChangeRoles(from, c); err != nil {
			return err
		}
		if nickGiven {
			cur.Nickname = nick
		}
		return nil
	})
	if err != nil {
		if nickGiven && nick != "" && !sameNickname(nick, old) {
			h.releaseNickname(room.Name(), entity, nick)
		}
		return err
	}
	if nickGiven && old != "" && !sameNickname(nick, old) {
		h.releaseNickname(room.Name(), entity, old)
	}
	resp.Version = next.Version
	if u := next.User(entity); u != nil {
		resp.Info = u.Element("userInfo")
	}
	return nil
}

// userDelete removes a user (RFC 6504 §8.1): a participant present is told and gets a BYE
// (focus.Kick); a provisioned user is removed from the object, and from the members list.
func (h *Handler) userDelete(ctx context.Context, room *focus.Room, entity string, resp *Response) error {
	live := slices.ContainsFunc(room.Participants(), func(q *focus.Participant) bool {
		return strings.EqualFold(q.UserID(), entity)
	}) || h.focus.BoundElsewhere(ctx, room.Name(), entity)
	if live {
		if err := h.focus.Kick(ctx, room.Name(), entity, false); err != nil && !errors.Is(err, focus.ErrUserNotFound) {
			return err
		}
	}
	snap := room.Snapshot()
	if u := snap.User(entity); u != nil && u.Nickname != "" {
		defer h.releaseNickname(room.Name(), entity, u.Nickname)
	}
	stillListed := snap.User(entity) != nil || slices.ContainsFunc(snap.AllowedUsers, func(t xcon.Target) bool {
		return strings.EqualFold(t.URI, entity)
	})
	if stillListed {
		next, err := h.update(ctx, room, func(c *xcon.Conference) error {
			c.Users = slices.DeleteFunc(c.Users, func(u *xcon.User) bool { return strings.EqualFold(u.Entity, entity) })
			c.AllowedUsers = slices.DeleteFunc(c.AllowedUsers, func(t xcon.Target) bool { return strings.EqualFold(t.URI, entity) })
			return nil
		})
		if err != nil {
			return err
		}
		snap = next
	}
	resp.Version = snap.Version
	return nil
}

// userJoinProvisioned is a first-party join of a user the room already lists without a
// nickname (its creator, a member added by someone else): it claims the nickname and keeps
// the user's roles.
func (h *Handler) userJoinProvisioned(ctx context.Context, room *focus.Room, snap *xcon.Conference, du *xcon.User, exact bool, resp *Response) error {
	nick, err := h.claimNickname(room, snap, du.Entity, du.Nickname, true, exact)
	if err != nil {
		return err
	}
	next, err := h.update(ctx, room, func(c *xcon.Conference) error {
		cur := c.User(du.Entity)
		if cur == nil {
			return fail(CodeUserNotFound, "no user "+du.Entity+" in the conference")
		}
		cur.Nickname = nick
		if du.DisplayText != "" {
			cur.DisplayText = du.DisplayText
		}
		if hs := historyElements(du); len(hs) > 0 {
			cur.Extras.Replace(hs[0].Name, du.Extras) // the history he asks for (settleHistoryOnJoin)
		}
		return nil
	})
	if err != nil {
		return err
	}
	resp.Version = next.Version
	if u := next.User(du.Entity); u != nil {
		resp.Info = u.Element("userInfo")
	}
	tellLogged(next, resp)
	return nil
}

// tellLogged adds to a joiner's userResponse whether the room logs what is said (session-chat §5.2:
// who enters a logged room is warned), as the conference event package shows it.
func tellLogged(c *xcon.Conference, resp *Response) {
	policy, _ := c.RoomPolicy()
	l := confinfo.LoggingElement(policy.Logging)
	el := etree.NewElement("parley:" + l.Name.Local)
	el.CreateAttr("xmlns:parley", l.Name.Space)
	el.SetText(l.Text)
	resp.Extensions = append(resp.Extensions, el)
}

// nicknameReleaser is what focus offers (once it does) to give up a nickname claimed over
// CCMP: the name becomes free again, after the configured quarantine.
type nicknameReleaser interface {
	ReleaseNickname(room, userID, nickname string)
}

// releaseNickname releases a nickname a user no longer holds in a room.
func (h *Handler) releaseNickname(room, userID, nickname string) {
	if r, ok := any(h.focus).(nicknameReleaser); ok && nickname != "" {
		r.ReleaseNickname(room, userID, nickname)
	}
}

func sameNickname(a, b string) bool {
	_, ka, err1 := focus.EnforceNickname(a)
	_, kb, err2 := focus.EnforceNickname(b)
	return err1 == nil && err2 == nil && ka == kb
}

// userInByVal answers userRequest on a sidebar by value: its users are data of the parent's
// object (no nicknames, no live participants).
func (h *Handler) userInByVal(ctx context.Context, p *Principal, room *focus.Room, main, sb *xcon.Conference, req *Request, resp *Response) error {
	resp.ConfObjID = sb.Entity
	entity := req.ConfUserID
	var d *xcon.UserDelta
	var du *xcon.User
	if req.Info != nil {
		ag := newAutogen(h.cfg.Domain)
		if ph, err := ag.identifier(req.Info.SelectAttrValue("entity", "")); err != nil {
			return err
		} else if ph != "" {
			req.Info.CreateAttr("entity", h.deriveUserID(req.Info))
		}
		if err := ag.apply(req.Info); err != nil {
			return err
		}
		var err error
		if d, err = parseUserDelta(req.Info); err != nil {
			return err
		}
		du = d.User
		if du.Entity != "" {
			entity = du.Entity
		}
	}
	self := strings.EqualFold(entity, p.UserID)
	if req.Operation != OpRetrieve && !self && !p.moderates(main) && !p.moderates(sb) {
		return fail(CodeUnauthorized, "only a moderator or administrator may act on another user")
	}
	var next *xcon.Conference
	var err error
	switch req.Operation {
	case OpRetrieve:
		u := sb.User(entity)
		if u == nil {
			return fail(CodeUserNotFound, "no user "+entity+" in the sidebar")
		}
		resp.Version, resp.Info = sb.Version, u.Element("userInfo")
		return nil
	case OpCreate:
		if !validUserID(entity) {
			return fail(CodeUserNotFound, entity+" is not an XCON-USERID")
		}
		if du == nil {
			du = &xcon.User{Entity: entity}
		}
		du.Entity = entity
		next, err = h.updateByVal(ctx, room, sb.Entity, func(c *xcon.Conference) error {
			if c.User(entity) != nil {
				return &Error{Code: CodeConflict, Reason: entity + " is already in the sidebar"}
			}
			c.Users = append(c.Users, du)
			return nil
		})
	case OpUpdate:
		if d == nil {
			return fail(CodeBadRequest, "userRequest/update needs userInfo")
		}
		next, err = h.updateByVal(ctx, room, sb.Entity, func(c *xcon.Conference) error {
			cur := c.User(entity)
			if cur == nil {
				return fail(CodeUserNotFound, "no user "+entity+" in the sidebar")
			}
			return mergeUser(cur, d)
		})
	case OpDelete:
		next, err = h.updateByVal(ctx, room, sb.Entity, func(c *xcon.Conference) error {
			if c.User(entity) == nil {
				return fail(CodeUserNotFound, "no user "+entity+" in the sidebar")
			}
			c.Users = slices.DeleteFunc(c.Users, func(u *xcon.User) bool { return strings.EqualFold(u.Entity, entity) })
			return nil
		})
	}
	if err != nil {
		return err
	}
	resp.Version = next.Version
	if u := next.User(entity); u != nil && req.Operation != OpDelete {
		resp.Info = u.Element("userInfo")
	}
	return nil
}
