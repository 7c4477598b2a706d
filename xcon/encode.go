package xcon

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Encode writes the object as an XML document: RFC 4575 elements with
// prefix "info:", RFC 6501 elements with prefix "xcon:", children in the XSD
// sequence order so that the result validates against the RFC 4575 and
// RFC 6501 Appendix B schemas as well as the normative RELAX NG.
func (c *Conference) Encode(w io.Writer) error {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(c.Element(""))
	_, err := doc.WriteTo(w)
	return err
}

// Element returns the object as an element named tag ("" means
// "info:conference-info"), declaring the info and xcon prefixes on it so
// that CCMP can embed it as an unqualified confInfo (RFC 6503 §5.3.4).
func (c *Conference) Element(tag string) *etree.Element {
	if tag == "" {
		tag = "info:conference-info"
	}
	el := etree.NewElement(tag)
	el.CreateAttr("xmlns:info", NS)
	el.CreateAttr("xmlns:xcon", NSXcon)
	var e encoder
	e.conference(el, c)
	return el
}

// Encode writes the user as a standalone <info:user> document.
func (u *User) Encode(w io.Writer) error {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(u.Element(""))
	_, err := doc.WriteTo(w)
	return err
}

// Element returns the user as an element named tag ("" means "info:user"),
// for CCMP's userInfo (RFC 6503 §5.3.6).
func (u *User) Element(tag string) *etree.Element {
	if tag == "" {
		tag = "info:user"
	}
	el := etree.NewElement(tag)
	el.CreateAttr("xmlns:info", NS)
	el.CreateAttr("xmlns:xcon", NSXcon)
	var e encoder
	e.user(el, u)
	return el
}

// encoder assigns prefixes to namespaces the package does not know.
type encoder struct {
	next int
}

func (e *encoder) prefix(el *etree.Element, uri string) string {
	switch uri {
	case NS:
		return "info"
	case NSXcon:
		return "xcon"
	case NSXML:
		return "xml"
	case "":
		return ""
	}
	// Reuse a declaration already on this element.
	for _, a := range el.Attr {
		if a.Space == "xmlns" && a.Value == uri {
			return a.Key
		}
	}
	e.next++
	p := "ns" + strconv.Itoa(e.next)
	el.CreateAttr("xmlns:"+p, uri)
	return p
}

func (e *encoder) qname(el *etree.Element, n xml.Name) string {
	if p := e.prefix(el, n.Space); p != "" {
		return p + ":" + n.Local
	}
	return n.Local
}

func infoChild(parent *etree.Element, local string) *etree.Element {
	return parent.CreateElement("info:" + local)
}

// textChild adds <prefix:local>v</...> unless v is empty.
func textChild(parent *etree.Element, tag, v string) {
	if v != "" {
		parent.CreateElement(tag).SetText(clean(v))
	}
}

func boolChild(parent *etree.Element, tag string, v *bool) {
	if v != nil {
		parent.CreateElement(tag).SetText(strconv.FormatBool(*v))
	}
}

func uintChild(parent *etree.Element, tag string, v *uint32) {
	if v != nil {
		parent.CreateElement(tag).SetText(strconv.FormatUint(uint64(*v), 10))
	}
}

func attr(el *etree.Element, key, v string) {
	if v != "" {
		el.CreateAttr(key, clean(v))
	}
}

func (e *encoder) extras(el *etree.Element, x Extras) {
	for _, a := range x.Attrs {
		el.CreateAttr(e.qname(el, a.Name), clean(a.Value))
	}
	for _, c := range x.Elements {
		e.element(el, c)
	}
}

func (e *encoder) extraAttrs(el *etree.Element, x Extras) {
	for _, a := range x.Attrs {
		el.CreateAttr(e.qname(el, a.Name), clean(a.Value))
	}
}

func (e *encoder) extraElements(el *etree.Element, x Extras) {
	for _, c := range x.Elements {
		e.element(el, c)
	}
}

// element writes a kept Element; unknown namespaces are declared on the
// element that first needs them.
func (e *encoder) element(parent *etree.Element, x *Element) {
	if x == nil {
		return
	}
	el := parent.CreateElement("tmp")
	el.Space, el.Tag = "", x.Name.Local
	if p := e.prefix(el, x.Name.Space); p != "" {
		el.Space = p
	}
	for _, a := range x.Attrs {
		el.CreateAttr(e.qname(el, a.Name), clean(a.Value))
	}
	if x.Text != "" {
		el.SetText(clean(x.Text))
	}
	for _, c := range x.Children {
		e.element(el, c)
	}
}

func (e *encoder) conference(el *etree.Element, c *Conference) {
	el.CreateAttr("entity", clean(c.Entity))
	attr(el, "state", c.NotifyState)
	if c.Version > 0 {
		el.CreateAttr("version", strconv.FormatUint(c.Version, 10))
	}
	e.extraAttrs(el, c.Extras)
	if !c.Description.isZero() {
		e.description(infoChild(el, "conference-description"), &c.Description)
	}
	if h := c.HostInfo; h != nil {
		hel := infoChild(el, "host-info")
		e.extraAttrs(hel, h.Extras)
		textChild(hel, "info:display-text", h.DisplayText)
		textChild(hel, "info:web-page", h.WebPage)
		if len(h.URIs) > 0 {
			e.uris(infoChild(hel, "uris"), h.URIs)
		}
		e.extraElements(hel, h.Extras)
	}
	if s := &c.State; !s.isZero() {
		sel := infoChild(el, "conference-state")
		e.extraAttrs(sel, s.Extras)
		uintChild(sel, "info:user-count", s.UserCount)
		boolChild(sel, "info:active", s.Active)
		boolChild(sel, "info:locked", s.Locked)
		boolChild(sel, "xcon:allow-conference-event-subscription", s.AllowConferenceEventSubscription)
		e.extraElements(sel, s.Extras)
	}
	if c.hasUsers() {
		uel := infoChild(el, "users")
		attr(uel, "state", c.UsersState)
		e.extraAttrs(uel, c.UsersExtras)
		for _, u := range c.Users {
			e.user(infoChild(uel, "user"), u)
		}
		textChild(uel, "xcon:join-handling", c.JoinHandling)
		textChild(uel, "xcon:user-admission-policy", c.UserAdmissionPolicy)
		if len(c.AllowedUsers) > 0 || len(c.PersistentUsers) > 0 {
			al := uel.CreateElement("xcon:allowed-users-list")
			targets(al, c.AllowedUsers, true)
			if len(c.PersistentUsers) > 0 {
				pl := al.CreateElement("xcon:persistent-list")
				for _, p := range c.PersistentUsers {
					pu := pl.CreateElement("xcon:user")
					attr(pu, "name", p.Name)
					attr(pu, "nickname", p.Nickname)
					attr(pu, "id", p.ID)
					for _, m := range p.Email {
						pu.CreateElement("xcon:email").SetText(clean(m))
					}
				}
			}
		}
		if len(c.DenyUsers) > 0 {
			targets(uel.CreateElement("xcon:deny-users-list"), c.DenyUsers, false)
		}
		e.extraElements(uel, c.UsersExtras)
	}
	if c.SidebarsByRef != nil {
		e.uris(infoChild(el, "sidebars-by-ref"), c.SidebarsByRef)
	}
	if c.SidebarsByVal != nil {
		sv := infoChild(el, "sidebars-by-val")
		for _, s := range c.SidebarsByVal {
			e.conference(infoChild(sv, "entry"), s)
		}
	}
	e.element(el, c.FloorInformation)
	e.extraElements(el, c.Extras)
}

func targets(parent *etree.Element, ts []Target, withMethod bool) {
	for _, t := range ts {
		te := parent.CreateElement("xcon:target")
		te.CreateAttr("uri", clean(t.URI))
		if withMethod || t.Method != "" {
			attr(te, "method", t.Method)
		}
	}
}

func (c *Conference) hasUsers() bool {
	return len(c.Users) > 0 || c.JoinHandling != "" || c.UserAdmissionPolicy != "" ||
		len(c.AllowedUsers) > 0 || len(c.PersistentUsers) > 0 || len(c.DenyUsers) > 0 ||
		c.UsersState != "" || !c.UsersExtras.IsZero()
}

func (d *Description) isZero() bool {
	return d.Lang == "" && d.DisplayText == "" && d.Subject == "" && d.FreeText == "" &&
		len(d.Keywords) == 0 && len(d.ConfURIs) == 0 && len(d.ServiceURIs) == 0 &&
		d.MaximumUserCount == nil && len(d.Media) == 0 && d.Language == "" &&
		d.AllowSidebars == nil && d.CloningParent == "" && d.SidebarParent == "" &&
		d.ConferenceTime == nil && d.Extras.IsZero()
}

func (s *ConferenceState) isZero() bool {
	return s.UserCount == nil && s.Active == nil && s.Locked == nil &&
		s.AllowConferenceEventSubscription == nil && s.Extras.IsZero()
}

func (e *encoder) description(el *etree.Element, d *Description) {
	if d.Lang != "" {
		el.CreateAttr("xml:lang", clean(d.Lang))
	}
	e.extraAttrs(el, d.Extras)
	textChild(el, "info:display-text", d.DisplayText)
	textChild(el, "info:subject", d.Subject)
	textChild(el, "info:free-text", d.FreeText)
	if len(d.Keywords) > 0 {
		textChild(el, "info:keywords", strings.Join(d.Keywords, " "))
	}
	if len(d.ConfURIs) > 0 {
		e.uris(infoChild(el, "conf-uris"), d.ConfURIs)
	}
	if len(d.ServiceURIs) > 0 {
		e.uris(infoChild(el, "service-uris"), d.ServiceURIs)
	}
	uintChild(el, "info:maximum-user-count", d.MaximumUserCount)
	if len(d.Media) > 0 {
		am := infoChild(el, "available-media")
		for i := range d.Media {
			m := &d.Media[i]
			me := infoChild(am, "entry")
			me.CreateAttr("label", clean(m.Label))
			e.extraAttrs(me, m.Extras)
			textChild(me, "info:display-text", m.DisplayText)
			textChild(me, "info:type", m.Type)
			textChild(me, "info:status", m.Status)
			textChild(me, "xcon:mixing-mode", m.MixingMode)
			textChild(me, "xcon:language", m.Language)
			e.extraElements(me, m.Extras)
		}
	}
	textChild(el, "xcon:language", d.Language)
	boolChild(el, "xcon:allow-sidebars", d.AllowSidebars)
	textChild(el, "xcon:cloning-parent", d.CloningParent)
	textChild(el, "xcon:sidebar-parent", d.SidebarParent)
	e.element(el, d.ConferenceTime)
	e.extraElements(el, d.Extras)
}

func (e *encoder) uris(el *etree.Element, us []URIEntry) {
	for i := range us {
		u := &us[i]
		ue := infoChild(el, "entry")
		e.extraAttrs(ue, u.Extras)
		ue.CreateElement("info:uri").SetText(clean(u.URI))
		textChild(ue, "info:display-text", u.DisplayText)
		textChild(ue, "info:purpose", u.Purpose)
		execution(ue, "info:modified", u.Modified)
		textChild(ue, "xcon:conference-password", u.Password)
		e.extraElements(ue, u.Extras)
	}
}

func execution(parent *etree.Element, tag string, x *Execution) {
	if x == nil {
		return
	}
	el := parent.CreateElement(tag)
	textChild(el, "info:when", x.When)
	textChild(el, "info:reason", x.Reason)
	textChild(el, "info:by", x.By)
}

func (e *encoder) user(el *etree.Element, u *User) {
	attr(el, "entity", u.Entity)
	attr(el, "state", u.NotifyState)
	attr(el, "xcon:nickname", u.Nickname)
	e.extraAttrs(el, u.Extras)
	textChild(el, "info:display-text", u.DisplayText)
	if len(u.AssociatedAORs) > 0 {
		aors := make([]URIEntry, len(u.AssociatedAORs))
		for i, a := range u.AssociatedAORs {
			aors[i] = URIEntry{URI: a}
			for _, d := range u.AORDetails {
				if d.URI == a {
					aors[i] = d
					break
				}
			}
		}
		e.uris(infoChild(el, "associated-aors"), aors)
	}
	if len(u.Roles) > 0 {
		re := infoChild(el, "roles")
		for _, r := range u.Roles {
			re.CreateElement("info:entry").SetText(clean(r))
		}
	}
	if len(u.Languages) > 0 {
		textChild(el, "info:languages", strings.Join(u.Languages, " "))
	}
	textChild(el, "info:cascaded-focus", u.CascadedFocus)
	for _, ep := range u.Endpoints {
		e.endpoint(infoChild(el, "endpoint"), ep)
	}
	textChild(el, "xcon:provide-anonymity", u.ProvideAnonymity)
	boolChild(el, "xcon:allow-refer-users-dynamically", u.AllowReferUsersDynamically)
	boolChild(el, "xcon:allow-invite-users-dynamically", u.AllowInviteUsersDynamically)
	boolChild(el, "xcon:allow-remove-users-dynamically", u.AllowRemoveUsersDynamically)
	e.extraElements(el, u.Extras)
}

func (e *encoder) endpoint(el *etree.Element, ep *Endpoint) {
	attr(el, "entity", ep.Entity)
	attr(el, "state", ep.NotifyState)
	attr(el, "xcon:nickname", ep.Nickname)
	e.extraAttrs(el, ep.Extras)
	textChild(el, "info:display-text", ep.DisplayText)
	execution(el, "info:referred", ep.Referred)
	textChild(el, "info:status", ep.Status)
	textChild(el, "info:joining-method", ep.JoiningMethod)
	execution(el, "info:joining-info", ep.JoiningInfo)
	textChild(el, "info:disconnection-method", ep.DisconnectionMethod)
	execution(el, "info:disconnection-info", ep.DisconnectionInfo)
	for i := range ep.Media {
		m := &ep.Media[i]
		me := infoChild(el, "media")
		attr(me, "id", m.ID)
		e.extraAttrs(me, m.Extras)
		textChild(me, "info:display-text", m.DisplayText)
		textChild(me, "info:type", m.Type)
		textChild(me, "info:label", m.Label)
		textChild(me, "info:src-id", m.SrcID)
		textChild(me, "info:status", m.Status)
		e.extraElements(me, m.Extras)
	}
	if ci := ep.CallInfo; ci != nil {
		ce := infoChild(el, "call-info")
		e.extraAttrs(ce, ci.Extras)
		if s := ci.SIP; s != nil {
			se := infoChild(ce, "sip")
			e.extraAttrs(se, s.Extras)
			textChild(se, "info:display-text", s.DisplayText)
			textChild(se, "info:call-id", s.CallID)
			textChild(se, "info:from-tag", s.FromTag)
			textChild(se, "info:to-tag", s.ToTag)
			e.extraElements(se, s.Extras)
		}
		e.extraElements(ce, ci.Extras)
	}
	e.extraElements(el, ep.Extras)
}

// clean replaces characters XML 1.0 cannot carry (§2.2 Char) with U+FFFD,
// so that a value set by code never makes the document ill-formed.
func clean(s string) string {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' || b >= 0x80 {
			return cleanSlow(s)
		}
	}
	return s
}

func cleanSlow(s string) string {
	ok := true
	for _, r := range s {
		if !isXMLChar(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !isXMLChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isXMLChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r == utf8.RuneError:
		return true // already replaced (or a literal U+FFFD)
	case r >= 0xD800 && r <= 0xDFFF:
		return false
	case r == 0xFFFE || r == 0xFFFF:
		return false
	}
	return r <= 0x10FFFF
}
