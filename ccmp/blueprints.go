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

type blueprint struct {
	name    string
	purpose string
	conf    *xcon.Conference
}

func newBlueprints(domain string, languages []string) []*blueprint {
	chat := &xcon.Conference{Entity: "xcon:" + BlueprintChat + "@blueprints." + domain, Version: 1}
	chat.Description.DisplayText = "Chat room"
	chat.Description.Media = []xcon.Channel{{Label: "chat", Type: "message", Status: "sendrecv", DisplayText: "Chat"}}
	chat.JoinHandling = "allow"

	multi := &xcon.Conference{Entity: "xcon:" + BlueprintMultilingual + "@blueprints." + domain, Version: 1}
	multi.Description.DisplayText = "Multilingual chat room"
	for _, l := range languages {
		multi.Description.Media = append(multi.Description.Media,
			xcon.Channel{Label: l, Type: "message", Status: "sendrecv", DisplayText: l, Language: l})
	}
	multi.JoinHandling = "allow"
	return []*blueprint{
		{name: BlueprintChat, conf: chat, purpose: "Chat room: one message channel, anyone may join."},
		{name: BlueprintMultilingual, conf: multi, purpose: "Multilingual chat room: one labelled message channel per language (" +
			strings.Join(languages, ", ") + "), anyone may join."},
	}
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
func (h *Handler) blueprintsList(_ context.Context, _ *Principal, req *Request, resp *Response) error {
	info := etree.NewElement("blueprintsInfo")
	for _, b := range h.blueprints {
		if req.XPathFilter != "" {
			ok, err := matchFilter(req.XPathFilter, b.conf)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		entry := info.CreateElement("info:entry")
		entry.CreateElement("info:uri").SetText(b.conf.Entity)
		entry.CreateElement("info:display-text").SetText(b.conf.Description.DisplayText)
		entry.CreateElement("info:purpose").SetText(b.purpose)
	}
	resp.Info = info
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

// confsList answers confsRequest (RFC 6503 §5.3.2): the open rooms.
func (h *Handler) confsList(_ context.Context, _ *Principal, req *Request, resp *Response) error {
	info := etree.NewElement("confsInfo")
	for _, name := range h.focus.Rooms() {
		room := h.focus.Room(name)
		if room == nil {
			continue
		}
		snap := room.Snapshot()
		if req.XPathFilter != "" {
			ok, err := matchFilter(req.XPathFilter, snap)
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
	}
	resp.Info = info
	return nil
}
