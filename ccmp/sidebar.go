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

// Sidebars (RFC 6503 §5.3.7–§5.3.10, RFC 4575 §5.9, RFC 6504 §7).
//
// A sidebar by reference is a room of its own (dialable at its SIP URI right after creation,
// live like any room, kept across restarts) whose xcon:sidebar-parent names the parent, and
// whose URI the parent lists in <sidebars-by-ref>; confsRequest lists it too. It is created
// from the parent (a clone of its description, policy, admission lists and provisioned users,
// active; not the people who only dialled in to the parent) or from the sidebarByRefInfo sent
// (AUTO_GENERATE placeholders replaced).
//
// A sidebar by value would be stored inside its parent room's object, as an entry of
// <sidebars-by-val>: data with no room behind it, so nobody could dial or chat in it.
// Creating one is refused with 403 and a reason that points to sidebars by reference; one
// stored by an earlier version is still read, updated and deleted here.
//
// Creating, updating and deleting sidebars takes a moderator or administrator of the parent;
// reading them anyone who may read the parent.
// A room with sidebars by reference cannot be deleted before them (425); sidebars by value go
// with their parent. confRequest does not reach a sidebar (404), nor sidebar*Request a room.

// reasonByValNotJoinable is the reason a sidebarByValRequest create is refused with (403): a
// sidebar by value lives inside its parent's object and has no room of its own to dial, so
// nobody could chat in it; a sidebar by reference is the chat sidebar.
const reasonByValNotJoinable = "sidebars by value are not joinable on this server: create a sidebar by reference (sidebarByRefRequest), a room of its own at its SIP URI"

// sidebarsList answers sidebarsByValRequest and sidebarsByRefRequest: the parent's lists and
// the parent's version.
func (h *Handler) sidebarsList(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	if req.ConfObjID == "" {
		return fail(CodeBadRequest, "confObjID is required")
	}
	room, snap, err := h.mainRoom(req)
	if err != nil {
		return err
	}
	if err := h.mayRead(p, room, snap); err != nil {
		return err
	}
	resp.ConfObjID, resp.Version = snap.Entity, snap.Version
	if req.Type == TypeSidebarsByRef {
		info := etree.NewElement("sidebarsByRefInfo")
		for _, e := range snap.SidebarsByRef {
			entry := info.CreateElement("info:entry")
			entry.CreateElement("info:uri").SetText(e.URI)
			textElem(entry, "info:display-text", e.DisplayText)
		}
		if strings.TrimSpace(req.XPathFilter) != "" {
			return fail(CodeBadRequest, "sidebarsByRefRequest takes no xpathFilter here; filter the sidebars' objects with sidebarByRefRequest")
		}
		setList(resp, info)
		return nil
	}
	f, err := h.filter(ctx, req, len(snap.SidebarsByVal))
	if err != nil {
		return err
	}
	only := &xcon.Conference{Entity: snap.Entity}
	for _, s := range snap.SidebarsByVal {
		if f != nil {
			ok, err := f.match(s)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		only.SidebarsByVal = append(only.SidebarsByVal, s)
	}
	info := etree.NewElement("sidebarsByValInfo")
	if el := only.Element("x").SelectElement("sidebars-by-val"); el != nil {
		info = el
	}
	info.Space, info.Tag = "", "sidebarsByValInfo"
	info.CreateAttr("xmlns:info", xcon.NS)
	info.CreateAttr("xmlns:xcon", xcon.NSXcon)
	resp.Info = info
	return nil
}

// mainRoom finds the room a sidebar request hangs off: a room that is not itself a sidebar.
func (h *Handler) mainRoom(req *Request) (*focus.Room, *xcon.Conference, error) {
	room, snap, err := h.room(req)
	if err != nil {
		if isCode(err, CodeNotFound) {
			return nil, nil, fail(CodeNotFound, "no conference "+req.ConfObjID)
		}
		return nil, nil, err
	}
	return room, snap, nil
}

func isCode(err error, code int) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Code == code
}

// sidebarToCreate checks a sidebar create request (by value or by reference): its main room,
// that p moderates it, and the new sidebar's object built from the request.
func (h *Handler) sidebarToCreate(p *Principal, req *Request) (*focus.Room, *xcon.Conference, *xcon.Conference, error) {
	room, main, err := h.mainRoom(req)
	if err != nil {
		return nil, nil, nil, err
	}
	if !p.moderates(main) {
		return nil, nil, nil, fail(CodeUnauthorized, "only a moderator or administrator of the room may create sidebars")
	}
	sb, err := h.newSidebar(main, room.Stored(), req.Info)
	if err != nil {
		return nil, nil, nil, err
	}
	return room, main, sb, nil
}

// sidebarByVal answers sidebarByValRequest (RFC 6503 §5.3.8).
func (h *Handler) sidebarByVal(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	if req.Operation == OpCreate {
		// Who may ask is checked first, so that the answer tells nothing to anybody else.
		if _, _, _, err := h.sidebarToCreate(p, req); err != nil {
			return err
		}
		return fail(CodeForbidden, reasonByValNotJoinable)
	}
	room, main, sb := h.byValSidebar(req.ConfObjID)
	if sb == nil {
		return fail(CodeNotFound, "no sidebar by value "+req.ConfObjID)
	}
	if err := checkPassword(main, req.Password); err != nil {
		return err
	}
	resp.ConfObjID = sb.Entity
	switch req.Operation {
	case OpRetrieve:
		if err := h.mayRead(p, room, main); err != nil {
			return err
		}
		resp.Version = sb.Version
		resp.Info = h.visible(p, sb).Element("sidebarByValInfo")
		return nil
	case OpUpdate:
		if !p.moderates(main) && !p.moderates(sb) {
			return fail(CodeUnauthorized, "only a moderator or administrator may change a sidebar")
		}
		d, sips, err := h.sidebarDelta(req, sb.Entity)
		if err != nil {
			return err
		}
		next, err := h.updateByVal(ctx, room, sb.Entity, func(c *xcon.Conference) error { return mergeProvision(c, d, sips) })
		if err != nil {
			return err
		}
		resp.Version = next.Version
		return nil
	case OpDelete:
		if !p.moderates(main) && !p.administers(sb) {
			return fail(CodeUnauthorized, "only a moderator or administrator may delete a sidebar")
		}
		_, err := h.update(ctx, room, func(c *xcon.Conference) error {
			c.SidebarsByVal = slices.DeleteFunc(slices.Clone(c.SidebarsByVal), func(s *xcon.Conference) bool {
				return strings.EqualFold(s.Entity, sb.Entity)
			})
			if len(c.SidebarsByVal) == 0 {
				c.SidebarsByVal = nil
			}
			return nil
		})
		return err
	}
	return fail(CodeBadRequest, "unknown operation")
}

// sidebarDelta checks and decodes the sidebar*Info of an update.
func (h *Handler) sidebarDelta(req *Request, entity string) (*xcon.ConferenceDelta, map[string]string, error) {
	if req.Info == nil {
		return nil, nil, fail(CodeBadRequest, req.Type+"Request/update needs "+req.Type+"Info")
	}
	if e := strings.TrimSpace(req.Info.SelectAttrValue("entity", "")); e != "" && !strings.EqualFold(e, entity) {
		return nil, nil, fail(CodeBadRequest, req.Type+"Info entity "+e+" is not the confObjID")
	}
	sips := normalizeTargets(req.Info)
	if err := newAutogen(h.cfg.Domain).apply(req.Info); err != nil {
		return nil, nil, err
	}
	d, err := parseConfDelta(req.Info)
	return d, sips, err
}

func mergeProvision(c *xcon.Conference, d *xcon.ConferenceDelta, sips map[string]string) error {
	if err := mergeConference(c, d); err != nil {
		return err
	}
	provision(c, sips)
	return nil
}

// newSidebar builds a sidebar of main: from info, or a clone of main, whose users are those
// stored holds (the parent's provisioned users; nil for none).
func (h *Handler) newSidebar(main, stored *xcon.Conference, info *etree.Element) (*xcon.Conference, error) {
	var sb *xcon.Conference
	name := ""
	if info != nil {
		sips := normalizeTargets(info)
		c, n, err := h.confFromInfo(info)
		if err != nil {
			return nil, err
		}
		provision(c, sips)
		sb, name = c, n
	} else {
		// The clone takes the parent's provisioned users with their roles and nicknames (its
		// creator, moderators, observers, members added over CCMP: who they are to the room),
		// not the people who only dialled in to the parent, nor anyone's live sessions: they did
		// not join the sidebar (RFC 6504 §7.2: a cloned sidebar lists no users' endpoints).
		sb = cloneRoom(main)
		if stored != nil {
			sb.Users = stored.Users
		}
		// A sidebar is a room its members dial at once (RFC 6504 §7 shows active=false, a
		// conference whose focus dials out later; a chat sidebar has nobody to wait for).
		active := true
		sb.State.Active = &active
	}
	if name == "" {
		name = focus.NewRoomName()
	}
	if h.nameTaken(name) {
		return nil, fail(CodeConflict, "conference "+h.roomURI(name)+" already exists")
	}
	sb.Entity = h.roomURI(name)
	sb.Version = 1
	sb.Description.CloningParent = ""
	sb.Description.SidebarParent = main.Entity
	sb.Description.ConfURIs = nil
	sb.SidebarsByVal, sb.SidebarsByRef = nil, nil
	for i := range sb.Description.Media {
		if sb.Description.Media[i].Label == "" {
			sb.Description.Media[i].Label = focus.NewName(8)
		}
	}
	return sb, nil
}

// nameTaken tells whether an XCON-URI name is used by a room or a sidebar by value.
func (h *Handler) nameTaken(name string) bool {
	if h.focus.Room(name) != nil {
		return true
	}
	_, _, sb := h.byValSidebar(h.roomURI(name))
	return sb != nil
}

func findByVal(c *xcon.Conference, entity string) *xcon.Conference {
	for _, s := range c.SidebarsByVal {
		if strings.EqualFold(s.Entity, entity) {
			return s
		}
	}
	return nil
}

// byValSidebar finds the sidebar by value named uri and the room that holds it.
func (h *Handler) byValSidebar(uri string) (*focus.Room, *xcon.Conference, *xcon.Conference) {
	if kind, _ := h.resolve(uri); kind != kindRoom {
		return nil, nil, nil
	}
	uri = strings.TrimSpace(uri)
	if !strings.Contains(uri, "@") {
		uri += "@" + h.cfg.Domain
	}
	for _, r := range h.allRooms() {
		snap := r.Snapshot()
		if sb := findByVal(snap, uri); sb != nil {
			return r, snap, sb
		}
	}
	return nil, nil, nil
}

// updateByVal changes a sidebar by value inside its room: its own version goes up by one,
// and the room's, which holds it.
func (h *Handler) updateByVal(ctx context.Context, room *focus.Room, entity string, change func(*xcon.Conference) error) (*xcon.Conference, error) {
	next, err := h.update(ctx, room, func(c *xcon.Conference) error {
		sb := findByVal(c, entity)
		if sb == nil {
			return fail(CodeNotFound, "no sidebar by value "+entity)
		}
		if err := change(sb); err != nil {
			return err
		}
		sb.Version++
		return nil
	})
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.Code == CodeConflict {
			if sb := findByVal(room.Snapshot(), entity); sb != nil {
				ce.Version = sb.Version
			}
		}
		return nil, err
	}
	return findByVal(next, entity), nil
}

// mayReadSidebar tells whether p may read a sidebar by reference: whom the sidebar admits (its
// own users and lists), or whom its parent does.
func (h *Handler) mayReadSidebar(p *Principal, room *focus.Room, snap *xcon.Conference) bool {
	if h.mayRead(p, room, snap) == nil {
		return true
	}
	_, parent := h.resolve(snap.Description.SidebarParent)
	if pr := h.focus.Room(parent); pr != nil {
		return h.mayRead(p, pr, pr.Snapshot()) == nil
	}
	return false
}

// sidebarByRef answers sidebarByRefRequest (RFC 6503 §5.3.10).
func (h *Handler) sidebarByRef(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	if req.Operation == OpCreate {
		room, main, sb, err := h.sidebarToCreate(p, req)
		if err != nil {
			return err
		}
		// A sidebar by reference is a room of its own, its creator its administrator.
		if err := h.mayCreate(p); err != nil {
			return err
		}
		name := xcon.NameFromURI(sb.Entity)
		if !focus.ValidRoomName(name) {
			return fail(CodeBadRequest, "sidebar name "+name+" may hold letters, digits, '.', '_', '-' and '+' only")
		}
		h.prepare(sb, name)
		sb.Description.CloningParent = ""
		recordCreator(sb, p.UserID)
		if err := settleHistoryOnJoin(nil, sb); err != nil {
			return err
		}
		created, err := h.focus.CreateRoom(ctx, sb)
		switch {
		case errors.Is(err, focus.ErrRoomExists):
			return &Error{Code: CodeConflict, Reason: "conference " + sb.Entity + " already exists", Version: main.Version}
		case err != nil:
			return err
		}
		snap := created.Snapshot()
		if _, err := h.update(ctx, room, func(c *xcon.Conference) error {
			c.SidebarsByRef = append(c.SidebarsByRef, xcon.URIEntry{URI: snap.Entity, DisplayText: snap.Description.DisplayText})
			return nil
		}); err != nil {
			_ = h.focus.DeleteRoom(ctx, created.Name())
			return err
		}
		resp.ConfObjID, resp.Version = snap.Entity, snap.Version
		resp.Info = h.visible(p, snap).Element("sidebarByRefInfo")
		return nil
	}
	room, snap, err := h.room(req)
	if err != nil || snap.Description.SidebarParent == "" {
		if err != nil && !isCode(err, CodeNotFound) {
			return err
		}
		return fail(CodeNotFound, "no sidebar by reference "+req.ConfObjID)
	}
	_, parent := h.resolve(snap.Description.SidebarParent)
	parentRoom := h.focus.Room(parent)
	var main *xcon.Conference
	if parentRoom != nil {
		main = parentRoom.Snapshot()
	}
	may := func(admin bool) bool {
		if admin {
			return p.administers(snap) || (main != nil && p.moderates(main))
		}
		return p.moderates(snap) || (main != nil && p.moderates(main))
	}
	resp.ConfObjID = snap.Entity
	switch req.Operation {
	case OpRetrieve:
		if err := h.mayRead(p, room, snap); err != nil && !h.mayReadSidebar(p, room, snap) {
			return err
		}
		resp.Version = snap.Version
		resp.Info = h.visible(p, snap).Element("sidebarByRefInfo")
		return nil
	case OpUpdate:
		if !may(false) {
			return fail(CodeUnauthorized, "only a moderator or administrator may change a sidebar")
		}
		d, sips, err := h.sidebarDelta(req, snap.Entity)
		if err != nil {
			return err
		}
		next, err := h.update(ctx, room, func(c *xcon.Conference) error { return mergeProvision(c, d, sips) })
		if err != nil {
			return err
		}
		resp.Version = next.Version
		return nil
	case OpDelete:
		if !may(true) {
			return fail(CodeUnauthorized, "only an administrator may delete a sidebar")
		}
		if err := h.dependents(room.Name()); err != nil {
			return err
		}
		if err := h.focus.DeleteRoom(ctx, room.Name()); err != nil {
			if errors.Is(err, focus.ErrRoomNotFound) {
				return fail(CodeNotFound, "no sidebar by reference "+req.ConfObjID)
			}
			return err
		}
		if parentRoom != nil {
			if _, err := h.update(ctx, parentRoom, func(c *xcon.Conference) error {
				c.SidebarsByRef = slices.DeleteFunc(slices.Clone(c.SidebarsByRef), func(e xcon.URIEntry) bool {
					return strings.EqualFold(e.URI, snap.Entity)
				})
				if len(c.SidebarsByRef) == 0 {
					c.SidebarsByRef = nil
				}
				return nil
			}); err != nil && !isCode(err, CodeNotFound) {
				return err
			}
		}
		return nil
	}
	return fail(CodeBadRequest, "unknown operation")
}
