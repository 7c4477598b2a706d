package ccmp

import (
	"context"
	"strings"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/xcon"
)

// Blueprint names. A blueprint's XCON-URI is xcon:NAME@blueprints.DOMAIN: its own name space,
// so that no room can ever be mistaken for a blueprint (RFC 6503 §5.3.3 answers 404 for the
// wrong kind of object).
const (
	BlueprintChat         = "chat"
	BlueprintMultilingual = "chat-multilingual"
)

// BlueprintSpec defines a blueprint (configs.Blueprint): a room template offered over CCMP
// as xcon:NAME@blueprints.DOMAIN.
type BlueprintSpec struct {
	Name        string
	DisplayText string
	Purpose     string
	Channels    []ChannelSpec // none: one channel labelled "chat"
}

// ChannelSpec is a chat channel of a blueprint.
type ChannelSpec struct {
	Label    string
	Language string // BCP 47 tag, optional
	Name     string // display text, optional
}

// DefaultBlueprints are the blueprints of a handler configured without any: those of the
// shipped configs/parley.yaml.
func DefaultBlueprints() []BlueprintSpec {
	return []BlueprintSpec{
		{Name: BlueprintChat, DisplayText: "Chat room", Purpose: "Chat room: one message channel, anyone may join.",
			Channels: []ChannelSpec{{Label: "chat", Name: "Chat"}}},
		{Name: BlueprintMultilingual, DisplayText: "Multilingual chat room",
			Purpose: "Multilingual chat room: one labelled message channel per language, anyone may join.",
			Channels: []ChannelSpec{{Label: "en", Language: "en", Name: "English"}, {Label: "fr", Language: "fr", Name: "Français"},
				{Label: "de", Language: "de", Name: "Deutsch"}}},
	}
}

type blueprint struct {
	name    string
	purpose string
	conf    *xcon.Conference
}

// newBlueprints builds the blueprint objects. The first is the default blueprint, the one a
// bare confRequest/create clones and a direct create inherits from.
func newBlueprints(domain string, specs []BlueprintSpec) []*blueprint {
	var out []*blueprint
	for _, s := range specs {
		name := strings.ToLower(s.Name)
		c := &xcon.Conference{Entity: "xcon:" + name + "@blueprints." + domain, Version: 1}
		c.Description.DisplayText = s.DisplayText
		for _, ch := range s.Channels {
			c.Description.Media = append(c.Description.Media,
				xcon.Channel{Label: ch.Label, Type: "message", Status: "sendrecv", DisplayText: ch.Name, Language: ch.Language})
		}
		if len(c.Description.Media) == 0 {
			c.Description.Media = []xcon.Channel{{Label: "chat", Type: "message", Status: "sendrecv"}}
		}
		c.JoinHandling = "allow"
		out = append(out, &blueprint{name: name, purpose: s.Purpose, conf: c})
	}
	return out
}

func (h *Handler) blueprint(name string) *blueprint {
	for _, b := range h.blueprints {
		if b.name == name {
			return b
		}
	}
	return nil
}

// Object kinds a confObjID can name.
const (
	kindUnknown = iota
	kindRoom
	kindBlueprint
)

// resolve tells what an XCON-URI names here. XCON-URIs compare case-insensitively (RFC 6501
// §3.3.2); "xcon:NAME" without a host is taken as one of our rooms.
func (h *Handler) resolve(uri string) (kind int, name string) {
	s := strings.TrimSpace(uri)
	if len(s) < 5 || !strings.EqualFold(s[:5], "xcon:") {
		return kindUnknown, ""
	}
	s = strings.ToLower(s[5:])
	host := h.cfg.Domain
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s, host = s[:i], s[i+1:]
	}
	switch host {
	case h.cfg.Domain:
		return kindRoom, s
	case "blueprints." + h.cfg.Domain:
		return kindBlueprint, s
	}
	return kindUnknown, s
}

func (h *Handler) roomURI(name string) string { return "xcon:" + name + "@" + h.cfg.Domain }

// blueprintsList answers blueprintsRequest (RFC 6503 §5.3.1).
func (h *Handler) blueprintsList(ctx context.Context, _ *Principal, req *Request, resp *Response) error {
	f, err := h.filter(ctx, req, len(h.blueprints))
	if err != nil {
		return err
	}
	info := etree.NewElement("blueprintsInfo")
	for _, b := range h.blueprints {
		if f != nil {
			ok, err := f.match(b.conf)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		entry := info.CreateElement("info:entry")
		entry.CreateElement("info:uri").SetText(b.conf.Entity)
		textElem(entry, "info:display-text", b.conf.Description.DisplayText)
		textElem(entry, "info:purpose", b.purpose)
	}
	setList(resp, info)
	return nil
}

// blueprintRetrieve answers blueprintRequest/retrieve (RFC 6503 §5.3.3).
func (h *Handler) blueprintRetrieve(_ context.Context, _ *Principal, req *Request, resp *Response) error {
	kind, name := h.resolve(req.ConfObjID)
	b := h.blueprint(name)
	if kind != kindBlueprint || b == nil {
		return fail(CodeNotFound, "no blueprint "+req.ConfObjID)
	}
	resp.ConfObjID = b.conf.Entity
	resp.Version = b.conf.Version
	resp.Info = b.conf.Element("blueprintInfo")
	return nil
}

// confsList answers confsRequest (RFC 6503 §5.3.2): the open rooms, and the sidebars by
// reference (conferences of their own, dialable at their SIP URIs), each of those marked with
// its xcon:sidebar-parent. Only what the requester may read is listed (mayRead, the focus's one
// admission rule; a sidebar also to those its parent admits): a non-member does not learn the
// names of members-only rooms, nor a banned user those of rooms that bar him. Administrators
// see all.
func (h *Handler) confsList(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	names := h.focus.Rooms()
	f, err := h.filter(ctx, req, len(names))
	if err != nil {
		return err
	}
	info := etree.NewElement("confsInfo")
	for _, name := range names {
		room := h.focus.Room(name)
		if room == nil {
			continue
		}
		snap := room.Snapshot()
		if snap.Description.SidebarParent != "" {
			if !h.mayReadSidebar(p, room, snap) {
				continue // a side conversation is not shown to those kept out of it
			}
		} else if h.mayRead(p, room, snap) != nil {
			continue // nor a room to those it does not admit
		}
		if f != nil {
			ok, err := f.match(snap)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		entry := info.CreateElement("info:entry")
		entry.CreateElement("info:uri").SetText(h.roomURI(name))
		if snap.Description.DisplayText != "" {
			entry.CreateElement("info:display-text").SetText(snap.Description.DisplayText)
		}
		if parent := snap.Description.SidebarParent; parent != "" {
			el := entry.CreateElement("xcon:sidebar-parent")
			el.CreateAttr("xmlns:xcon", xcon.NSXcon)
			el.SetText(parent)
		}
	}
	setList(resp, info)
	return nil
}

// filter compiles a request's xpathFilter for a list of n candidates (nil: no filter).
func (h *Handler) filter(ctx context.Context, req *Request, n int) (*filter, error) {
	if strings.TrimSpace(req.XPathFilter) == "" {
		return nil, nil
	}
	if n > MaxFilterObjects {
		return nil, fail(CodeNoResources, "too many objects to filter; ask without xpathFilter")
	}
	deadline, _ := ctx.Deadline()
	return compileFilter(req.XPathFilter, deadline)
}

// setList sets a uris-type list answer; an empty one is left out, as the schema wants at
// least one entry in a uris-type element.
func setList(resp *Response, info *etree.Element) {
	if len(info.ChildElements()) > 0 {
		resp.Info = info
	}
}
