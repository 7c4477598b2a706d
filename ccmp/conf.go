package ccmp

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// conf answers confRequest (RFC 6503 §5.3.4).
func (h *Handler) conf(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	if req.Operation == OpCreate {
		return h.confCreate(ctx, p, req, resp)
	}
	room, snap, err := h.room(req)
	if err != nil {
		return err
	}
	if snap.Description.SidebarParent != "" {
		return fail(CodeNotFound, req.ConfObjID+" is a sidebar: use sidebarByRefRequest")
	}
	switch req.Operation {
	case OpRetrieve:
		if err := h.mayRead(p, room, snap); err != nil {
			return err
		}
		resp.ConfObjID = snap.Entity
		resp.Version = snap.Version
		resp.Info = h.visible(p, room.Roster()).Element("confInfo") // members on other nodes too
		return nil
	case OpUpdate:
		if req.Info == nil {
			return fail(CodeBadRequest, "confRequest/update needs confInfo")
		}
		ag := newAutogen(h.cfg.Domain)
		if err := matchPlaceholders(ag, req.Info, snap); err != nil {
			return err
		}
		if e := strings.TrimSpace(req.Info.SelectAttrValue("entity", "")); e != "" {
			if kind, name := h.resolve(e); kind != kindRoom || name != room.Name() {
				return fail(CodeBadRequest, "confInfo entity "+e+" is not the confObjID")
			}
		}
		sips := normalizeTargets(req.Info)
		if err := ag.apply(req.Info); err != nil {
			return err
		}
		d, err := parseConfDelta(req.Info)
		if err != nil {
			return err
		}
		if !p.moderates(snap) {
			return fail(CodeUnauthorized, "only a moderator or administrator of the room may change it")
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
		resp.ConfObjID = next.Entity
		resp.Version = next.Version
		resp.Info = h.visible(p, next).Element("confInfo")
		return nil
	case OpDelete:
		if !p.administers(snap) {
			return fail(CodeUnauthorized, "only an administrator of the room may delete it")
		}
		if err := h.dependents(room.Name()); err != nil {
			return err
		}
		if err := h.focus.DeleteRoom(ctx, room.Name()); err != nil {
			if errors.Is(err, focus.ErrRoomNotFound) {
				return fail(CodeNotFound, "no conference "+req.ConfObjID)
			}
			if errors.Is(err, focus.ErrSuccessorInUse) {
				return fail(CodeForbiddenDeleteParent, err.Error())
			}
			return err
		}
		resp.ConfObjID = snap.Entity
		return nil
	}
	return fail(CodeBadRequest, "unknown operation")
}

// room finds the room a request targets and checks its conference password (RFC 6503 §5.1:
// missing 423, wrong 422).
func (h *Handler) room(req *Request) (*focus.Room, *xcon.Conference, error) {
	kind, name := h.resolve(req.ConfObjID)
	if kind != kindRoom {
		return nil, nil, fail(CodeNotFound, "no conference "+req.ConfObjID)
	}
	room := h.focus.Room(name)
	if room == nil {
		return nil, nil, fail(CodeNotFound, "no conference "+req.ConfObjID)
	}
	if s := room.Successor(); s != "" && req.Operation != "delete" {
		// session-chat §5.4: a closed room is a tombstone (which may still be deleted); the answer
		// names where it went, machine-readable in <parley:successor>.
		e := fail(CodeNotFound, "conference closed; it continues at "+s)
		e.Extensions = []*etree.Element{h.successorElement(s)}
		return nil, nil, e
	}
	snap := room.Snapshot()
	if err := checkPassword(snap, req.Password); err != nil {
		return nil, nil, err
	}
	return room, snap, nil
}

// successorElement is <parley:successor>: the XCON-URI of the room that replaces a closed one,
// with its SIP URI in the sip attribute. It is the answer's machine-readable pointer to the
// alternate venue (session-chat §5.4), after the specialised response's standard content.
func (h *Handler) successorElement(sipURI string) *etree.Element {
	el := etree.NewElement("parley:successor")
	el.CreateAttr("xmlns:parley", NSParley)
	el.CreateAttr("sip", sipURI)
	if name, ok := h.focus.RoomName(sipURI); ok {
		el.SetText(h.roomURI(name))
	}
	return el
}

// mayRead applies the focus's rule on who a user is to a room (focus.Admits, the same a SIP
// join applies) to a principal reading it: its object, users, sidebars or log. A banned user,
// or a non-member of a members-only room, learns nothing of it: 401.
func (h *Handler) mayRead(p *Principal, room *focus.Room, snap *xcon.Conference) error {
	if p.moderates(snap) {
		return nil
	}
	switch err := h.focus.Admits(room.Name(), focus.Reader{UserID: p.UserID, Admin: p.Admin}); {
	case errors.Is(err, focus.ErrRoomNotFound):
		return fail(CodeNotFound, "no conference "+h.roomURI(room.Name()))
	case errors.Is(err, focus.ErrForbidden):
		return fail(CodeUnauthorized, "only those the room admits may read it")
	case err != nil:
		return err
	}
	return nil
}

// checkPassword applies the focus's conference-password rule and answers in CCMP codes.
func checkPassword(c *xcon.Conference, given *string) error {
	switch err := focus.CheckPassword(c, given); {
	case errors.Is(err, focus.ErrPasswordRequired):
		return fail(CodePasswordRequired, "")
	case errors.Is(err, focus.ErrPasswordInvalid):
		return fail(CodeInvalidPassword, "")
	case err != nil:
		return err
	}
	return nil
}

// password returns the conference password (RFC 6501 §4.2.6).
func password(c *xcon.Conference) string { return focus.ConferencePassword(c) }

// visible is what the principal may see of an object: passwords only for administrators.
func (h *Handler) visible(p *Principal, c *xcon.Conference) *xcon.Conference {
	if p.administers(c) {
		return c
	}
	c = c.Clone()
	for i := range c.Description.ConfURIs {
		c.Description.ConfURIs[i].Password = ""
	}
	return c
}

// update runs focus.UpdateRoom and maps its failures: a CCMP error from the change function
// keeps its code (409 gets the current version), anything else is a 500.
func (h *Handler) update(ctx context.Context, room *focus.Room, change func(*xcon.Conference) error) (*xcon.Conference, error) {
	before := room.Snapshot()
	next, err := h.focus.UpdateRoom(ctx, room.Name(), func(c *xcon.Conference) error {
		if err := change(c); err != nil {
			return err
		}
		return settleHistoryOnJoin(before, c)
	})
	if err == nil {
		h.dialOut(room.Name(), before, next)
		return next, nil
	}
	var ce *Error
	switch {
	case errors.As(err, &ce):
		if ce.Code == CodeConflict && ce.Version == 0 {
			ce.Version = room.Snapshot().Version
		}
		return nil, ce
	case errors.Is(err, focus.ErrRoomNotFound):
		return nil, fail(CodeNotFound, "no conference "+h.roomURI(room.Name()))
	case errors.Is(err, xcon.ErrConflict):
		return nil, &Error{Code: CodeConflict, Reason: err.Error(), Version: room.Snapshot().Version}
	}
	return nil, err
}

// dependents refuses to delete a room others depend on (RFC 6503 §5.4 code 425): a closed
// room redirects to it (focus keeps that across restarts), or a room cloned from it has people
// in it.
func (h *Handler) dependents(name string) error {
	if by := h.focus.RedirectsTo(name); len(by) > 0 {
		return fail(CodeForbiddenDeleteParent, "room "+by[0]+" was closed with this room as its successor")
	}
	uri := h.roomURI(name)
	for _, other := range h.allRooms() {
		if other.Name() == name {
			continue
		}
		snap := other.Snapshot()
		if strings.EqualFold(snap.Description.SidebarParent, uri) {
			return fail(CodeForbiddenDeleteParent, "sidebar "+snap.Entity+" of this room exists; delete it first")
		}
		if strings.EqualFold(snap.Description.CloningParent, uri) && len(other.Participants()) > 0 {
			return fail(CodeForbiddenDeleteParent, "room "+other.Name()+", cloned from this room, is in use")
		}
	}
	return nil
}

// allRooms returns the open rooms and the tombstones of closed ones.
func (h *Handler) allRooms() []*focus.Room {
	var out []*focus.Room
	for _, n := range append(h.focus.Rooms(), h.focus.Tombstones()...) {
		if r := h.focus.Room(n); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// confCreate creates a room (RFC 6503 §5.3.4): a clone of a blueprint or another room
// (confObjID), a room described by the client (confInfo, with AUTO_GENERATE placeholders),
// or a clone of the default blueprint (neither).
func (h *Handler) confCreate(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	if err := h.mayCreate(p); err != nil {
		return err
	}
	var conf *xcon.Conference
	var sips map[string]string
	name := ""
	switch {
	case req.ConfObjID != "":
		if req.Info != nil {
			return fail(CodeBadRequest, "a clone takes confObjID or confInfo, not both")
		}
		kind, src := h.resolve(req.ConfObjID)
		switch kind {
		case kindBlueprint:
			b := h.blueprint(src)
			if b == nil {
				return fail(CodeNotFound, "no blueprint "+req.ConfObjID)
			}
			conf = b.conf.Clone()
			conf.Description.CloningParent = b.conf.Entity
		case kindRoom:
			_, snap, err := h.room(req)
			if err != nil {
				return err
			}
			conf = cloneRoom(snap)
		default:
			return fail(CodeNotFound, "no blueprint or conference "+req.ConfObjID)
		}
	case req.Info != nil:
		sips = normalizeTargets(req.Info)
		c, n, err := h.confFromInfo(req.Info)
		if err != nil {
			return err
		}
		conf, name = c, n
		inherit(conf, h.blueprints[0].conf)
		if h.nameTaken(name) && h.focus.Room(name) == nil {
			return &Error{Code: CodeConflict, Reason: "conference " + h.roomURI(name) + " already exists"}
		}
	default:
		b := h.blueprints[0]
		conf = b.conf.Clone()
		conf.Description.CloningParent = b.conf.Entity
	}
	if name == "" {
		name = focus.NewRoomName()
	}
	if !focus.ValidRoomName(name) {
		return fail(CodeBadRequest, "room name "+name+" may hold letters, digits, '.', '_', '-' and '+' only (at most 64)")
	}
	h.prepare(conf, name)
	recordCreator(conf, p.UserID)
	provision(conf, sips)
	if err := settleHistoryOnJoin(nil, conf); err != nil {
		return err
	}
	room, err := h.focus.CreateRoom(ctx, conf)
	if err == nil {
		h.dialOut(name, nil, room.Snapshot())
	}
	switch {
	case errors.Is(err, focus.ErrRoomExists):
		existing := h.focus.Room(name)
		ce := &Error{Code: CodeConflict, Reason: "conference " + h.roomURI(name) + " already exists"}
		if existing != nil {
			ce.Version = existing.Snapshot().Version
		}
		return ce
	case errors.Is(err, focus.ErrShuttingDown):
		return fail(CodeNoResources, "the server is shutting down")
	case err != nil:
		return err
	}
	snap := room.Snapshot()
	resp.ConfObjID = snap.Entity
	resp.Version = snap.Version
	resp.Info = h.visible(p, snap).Element("confInfo")
	h.log.Info("room created over CCMP", "room", name, "by", p.UserID)
	return nil
}

// mayCreate applies the focus's create privilege (focus.MayCreateRoom, the same rule as the
// SIP conference factory's) to a principal: 401, the code of a requester the policy refuses.
func (h *Handler) mayCreate(p *Principal) error {
	if err := h.focus.MayCreateRoom(p.creator()); err != nil {
		return fail(CodeUnauthorized, "this user may not create rooms (room_creators)")
	}
	return nil
}

// creator is the principal as the focus's create rule sees it.
func (p *Principal) creator() focus.Creator {
	return focus.Creator{UserID: p.UserID, Admin: p.Admin, Proven: p.Authenticated}
}

// prepare makes a conference object a room of this focus: its URIs, at least one channel,
// no live rows, a room policy.
func (h *Handler) prepare(c *xcon.Conference, name string) {
	c.Entity = h.roomURI(name)
	c.Version = 1
	c.NotifyState = ""
	pw := password(c)
	c.Description.ConfURIs = []xcon.URIEntry{{URI: h.focus.RoomURI(name), Purpose: "participation", Password: pw}}
	if len(c.Description.Media) == 0 {
		c.Description.Media = []xcon.Channel{{Label: "chat", Type: "message", Status: "sendrecv"}}
	}
	for i := range c.Description.Media {
		if c.Description.Media[i].Label == "" {
			c.Description.Media[i].Label = focus.NewName(8)
		}
	}
	for _, u := range c.Users {
		u.Endpoints = nil
	}
	c.State.UserCount = nil
	p, ok := c.RoomPolicy()
	if !ok {
		p.History = h.cfg.DefaultHistory
	}
	p.Successor = ""
	c.SetRoomPolicy(p)
}

// cloneRoom returns what a clone of a room starts with: its description and policies, not
// its people (RFC 5239 §7.1; RFC 6504 §5.4 keeps xcon:cloning-parent).
func cloneRoom(src *xcon.Conference) *xcon.Conference {
	c := &xcon.Conference{
		Description:         src.Clone().Description,
		JoinHandling:        src.JoinHandling,
		UserAdmissionPolicy: src.UserAdmissionPolicy,
		AllowedUsers:        append([]xcon.Target(nil), src.AllowedUsers...),
		DenyUsers:           append([]xcon.Target(nil), src.DenyUsers...),
	}
	c.Description.CloningParent = src.Entity
	c.Description.SidebarParent = ""
	if p, ok := src.RoomPolicy(); ok {
		p.Successor = ""
		c.SetRoomPolicy(p)
	}
	return c
}

// recordCreator makes the creator a user of the new room with the creator's roles.
func recordCreator(c *xcon.Conference, userID string) {
	if userID == "" {
		return
	}
	if u := c.User(userID); u != nil {
		u.Roles = slices.Clone(creatorRoles)
		return
	}
	c.Users = append(c.Users, &xcon.User{Entity: userID, Roles: slices.Clone(creatorRoles)})
}

// confFromInfo decodes the confInfo (or sidebar*Info) of a direct create, AUTO_GENERATE
// placeholders replaced; name is the room name it asks for ("" to allocate one).
func (h *Handler) confFromInfo(info *etree.Element) (*xcon.Conference, string, error) {
	ag := newAutogen(h.cfg.Domain)
	name := ""
	entity := strings.TrimSpace(info.SelectAttrValue("entity", ""))
	ph, err := ag.identifier(entity)
	if err != nil {
		return nil, "", err
	}
	if ph != "" {
		name = ag.set(ph, focus.NewRoomName())
	}
	if err := ag.apply(info); err != nil {
		return nil, "", err
	}
	c, err := xcon.DecodeElement(info)
	if err != nil {
		return nil, "", fail(CodeBadRequest, err.Error())
	}
	if c.Entity != "" && name == "" {
		kind, n := h.resolve(c.Entity)
		if kind != kindRoom {
			return nil, "", fail(CodeInvalidDomain, "a room's XCON-URI must be xcon:NAME@"+h.cfg.Domain)
		}
		name = n
	}
	if len(c.SidebarsByRef) > 0 || len(c.SidebarsByVal) > 0 {
		return nil, "", fail(CodeBadRequest, "sidebars are created with sidebarByValRequest and sidebarByRefRequest")
	}
	if c.JoinHandling == "" {
		c.JoinHandling = "allow" // a chat room is open unless it says otherwise
	}
	return c, name, nil
}

// dialOut applies the dial-out policy to the allowed-users-list targets with method dial-out
// that next has and before had not: each is called into the room through its SIP address
// (the target's user's associated-aor). It returns at once.
func (h *Handler) dialOut(room string, before, next *xcon.Conference) {
	if !h.cfg.DialOut {
		return
	}
	had := map[string]bool{}
	if before != nil {
		for _, t := range before.AllowedUsers {
			if strings.EqualFold(t.Method, "dial-out") {
				had[xcon.UserIDFromAOR(t.URI)] = true // the same user however spelt
			}
		}
	}
	for _, t := range next.AllowedUsers {
		if !strings.EqualFold(t.Method, "dial-out") || had[xcon.UserIDFromAOR(t.URI)] {
			continue
		}
		target := t.URI
		if u := next.User(t.URI); u != nil {
			for _, aor := range u.AssociatedAORs {
				if isSIPURI(aor) {
					target = aor
					break
				}
			}
		}
		if isSIPURI(target) && !h.focus.Invite(room, target) {
			h.log.Info("dial-out not possible", "room", room, "target", target)
		}
	}
}
