package xcon

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// MaxDepth bounds element nesting on input. The deepest RFC 6501 path
// (sidebars-by-val/entry/users/user/endpoint/media/to-mixer/controls/...)
// is well under 20 levels; the bound stops stack exhaustion by hostile input.
const MaxDepth = 64

// ErrInvalid is wrapped by every decoding error caused by the document.
var ErrInvalid = errors.New("invalid conference document")

// Decode reads one <conference-info> document (RFC 4575 §4.2). Entities other
// than the predefined ones are refused (no DTD expansion); exactly one root
// element is allowed.
func Decode(r io.Reader) (*Conference, error) {
	root, err := readRoot(r)
	if err != nil {
		return nil, err
	}
	sc := scopeOf(root)
	if name, _ := sc.resolveElement(root); name != (xml.Name{Space: NS, Local: "conference-info"}) {
		return nil, fmt.Errorf("xcon: %w: root is {%s}%s, want {%s}conference-info", ErrInvalid, name.Space, name.Local, NS)
	}
	return decodeConference(root, sc, "conference-info")
}

// DecodeElement decodes a conference-type element embedded in another
// document, such as CCMP's confInfo (RFC 6503 §5.3.4). Namespace
// declarations of its ancestors are honoured.
func DecodeElement(el *etree.Element) (*Conference, error) {
	if el == nil {
		return nil, fmt.Errorf("xcon: %w: no element", ErrInvalid)
	}
	sc := scopeOf(el)
	return decodeConference(el, sc, el.Tag)
}

// DecodeUser reads a standalone <user> element (as in CCMP userInfo).
func DecodeUser(r io.Reader) (*User, error) {
	root, err := readRoot(r)
	if err != nil {
		return nil, err
	}
	return DecodeUserElement(root)
}

// DecodeUserElement decodes a user-type element embedded in another document,
// such as CCMP's userInfo (RFC 6503 §5.3.6).
func DecodeUserElement(el *etree.Element) (*User, error) {
	if el == nil {
		return nil, fmt.Errorf("xcon: %w: no element", ErrInvalid)
	}
	return decodeUser(el, scopeOf(el), el.Tag)
}

// scope maps prefixes to namespace URIs for one element and its ancestors.
// etree keeps prefixes only, not namespace URIs, so resolution is done here.
type scope struct {
	parent   *scope
	prefixes map[string]string
}

func (s *scope) lookup(prefix string) (string, bool) {
	switch prefix {
	case "xml":
		return NSXML, true
	case "xmlns":
		return nsXMLNS, true
	}
	for ; s != nil; s = s.parent {
		if uri, ok := s.prefixes[prefix]; ok {
			return uri, true
		}
	}
	return "", prefix == "" // no default namespace: unqualified
}

// enter returns the scope of el, given the scope of its parent.
func (s *scope) enter(el *etree.Element) *scope {
	var m map[string]string
	for _, a := range el.Attr {
		switch {
		case a.Space == "" && a.Key == "xmlns":
			if m == nil {
				m = make(map[string]string, 2)
			}
			m[""] = a.Value
		case a.Space == "xmlns":
			if m == nil {
				m = make(map[string]string, 2)
			}
			m[a.Key] = a.Value
		}
	}
	if m == nil {
		return s
	}
	return &scope{parent: s, prefixes: m}
}

// scopeOf builds the scope of el from its ancestors' declarations.
func scopeOf(el *etree.Element) *scope {
	var chain []*etree.Element
	for p := el; p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	var s *scope
	for i := len(chain) - 1; i >= 0; i-- {
		s = s.enter(chain[i])
	}
	return s
}

// resolveElement returns the expanded name of el; s must be el's own scope.
func (s *scope) resolveElement(el *etree.Element) (xml.Name, error) {
	uri, ok := s.lookup(el.Space)
	if !ok {
		return xml.Name{}, syntaxError("undeclared prefix %q on <%s>", el.Space, el.FullTag())
	}
	return xml.Name{Space: uri, Local: el.Tag}, nil
}

// resolveAttr returns the expanded name of a, or ok=false for namespace
// declarations. Unprefixed attributes are in no namespace (XML Namespaces §6.2).
func (s *scope) resolveAttr(a etree.Attr) (xml.Name, bool, error) {
	if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
		return xml.Name{}, false, nil
	}
	if a.Space == "" {
		return xml.Name{Local: a.Key}, true, nil
	}
	uri, ok := s.lookup(a.Space)
	if !ok {
		return xml.Name{}, false, syntaxError("undeclared attribute prefix %q", a.Space)
	}
	return xml.Name{Space: uri, Local: a.Key}, true, nil
}

// walker iterates the child elements of one element with their names and scopes.
type child struct {
	el    *etree.Element
	name  xml.Name
	scope *scope
}

func children(el *etree.Element, sc *scope) ([]child, error) {
	out := make([]child, 0, len(el.Child))
	for _, tok := range el.Child {
		ce, ok := tok.(*etree.Element)
		if !ok {
			continue
		}
		cs := sc.enter(ce)
		name, err := cs.resolveElement(ce)
		if err != nil {
			return nil, err
		}
		out = append(out, child{ce, name, cs})
	}
	return out, nil
}

// text returns the trimmed character data of el. Values are trimmed on input
// because the XSD patterns reject wrapped whitespace (xcon-ccmp.md §2.10).
func text(el *etree.Element) string {
	var b strings.Builder
	n := 0
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok {
			if n == 0 {
				b.Grow(len(cd.Data))
			}
			b.WriteString(cd.Data)
			n++
		}
	}
	return strings.TrimSpace(b.String())
}

func parseBool(c child, path string) (*bool, error) {
	switch text(c.el) {
	case "true", "1":
		v := true
		return &v, nil
	case "false", "0":
		v := false
		return &v, nil
	}
	return nil, fmt.Errorf("xcon: %w: %s/%s: %q is not a boolean", ErrInvalid, path, c.name.Local, text(c.el))
}

func parseUint32(c child, path string) (*uint32, error) {
	v, err := strconv.ParseUint(text(c.el), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("xcon: %w: %s/%s: %q is not an unsignedInt", ErrInvalid, path, c.name.Local, text(c.el))
	}
	u := uint32(v)
	return &u, nil
}

// toElement converts an etree subtree into an Element with resolved names.
func toElement(c child) (*Element, error) {
	e := &Element{Name: c.name, Text: text(c.el)}
	for _, a := range c.el.Attr {
		n, ok, err := c.scope.resolveAttr(a)
		if err != nil {
			return nil, err
		}
		if ok {
			e.Attrs = append(e.Attrs, xml.Attr{Name: n, Value: a.Value})
		}
	}
	kids, err := children(c.el, c.scope)
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		ke, err := toElement(k)
		if err != nil {
			return nil, err
		}
		e.Children = append(e.Children, ke)
	}
	return e, nil
}

func (x *Extras) keep(c child) error {
	e, err := toElement(c)
	if err != nil {
		return err
	}
	x.Elements = append(x.Elements, e)
	return nil
}

// attrs calls known for each modelled attribute and keeps the others.
func (x *Extras) attrs(el *etree.Element, sc *scope, known func(n xml.Name, v string) bool) error {
	for _, a := range el.Attr {
		n, ok, err := sc.resolveAttr(a)
		if err != nil {
			return err
		}
		if !ok || known(n, a.Value) {
			continue
		}
		x.Attrs = append(x.Attrs, xml.Attr{Name: n, Value: a.Value})
	}
	return nil
}

func info(local string) xml.Name { return xml.Name{Space: NS, Local: local} }
func xc(local string) xml.Name   { return xml.Name{Space: NSXcon, Local: local} }

// setText stores a text child into dst, or keeps a duplicate as an extra.
func setText(dst *string, c child, x *Extras) error {
	if *dst != "" {
		return x.keep(c)
	}
	*dst = text(c.el)
	return nil
}

func decodeConference(el *etree.Element, sc *scope, path string) (*Conference, error) {
	c := &Conference{}
	err := c.Extras.attrs(el, sc, func(n xml.Name, v string) bool {
		switch n {
		case xml.Name{Local: "entity"}:
			c.Entity = strings.TrimSpace(v)
		case xml.Name{Local: "state"}:
			c.NotifyState = v
		case xml.Name{Local: "version"}:
			ver, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return false // kept verbatim as an extra attribute
			}
			c.Version = ver
		default:
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	kids, err := children(el, sc)
	if err != nil {
		return nil, err
	}
	var seenDesc, seenState, seenUsers bool
	for _, k := range kids {
		switch {
		case k.name == info("conference-description") && !seenDesc:
			seenDesc = true
			err = decodeDescription(&c.Description, k, path)
		case k.name == info("host-info") && c.HostInfo == nil:
			c.HostInfo = &HostInfo{}
			err = decodeHostInfo(c.HostInfo, k, path)
		case k.name == info("conference-state") && !seenState:
			seenState = true
			err = decodeState(&c.State, k, path)
		case k.name == info("users") && !seenUsers:
			seenUsers = true
			err = decodeUsers(c, k, path)
		case k.name == info("sidebars-by-ref") && c.SidebarsByRef == nil:
			c.SidebarsByRef, err = decodeURIs(k, path)
			if err == nil && c.SidebarsByRef == nil {
				c.SidebarsByRef = []URIEntry{}
			}
		case k.name == info("sidebars-by-val") && c.SidebarsByVal == nil:
			c.SidebarsByVal = []*Conference{}
			err = decodeSidebarsByVal(c, k, path)
		case k.name == xc("floor-information") && c.FloorInformation == nil:
			c.FloorInformation, err = toElement(k)
		default:
			err = c.Extras.keep(k)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func decodeSidebarsByVal(c *Conference, k child, path string) error {
	if err := c.Extras.attrs(k.el, k.scope, func(xml.Name, string) bool { return true }); err != nil {
		return err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, e := range kids {
		if e.name != info("entry") {
			continue // sidebars-by-val-type has no wildcard
		}
		s, err := decodeConference(e.el, e.scope, path+"/sidebars-by-val/entry")
		if err != nil {
			return err
		}
		c.SidebarsByVal = append(c.SidebarsByVal, s)
	}
	return nil
}

func decodeDescription(d *Description, k child, path string) error {
	path += "/conference-description"
	err := d.Extras.attrs(k.el, k.scope, func(n xml.Name, v string) bool {
		if n == (xml.Name{Space: NSXML, Local: "lang"}) {
			d.Lang = v
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, c := range kids {
		switch c.name {
		case info("display-text"):
			err = setText(&d.DisplayText, c, &d.Extras)
		case info("subject"):
			err = setText(&d.Subject, c, &d.Extras)
		case info("free-text"):
			err = setText(&d.FreeText, c, &d.Extras)
		case info("keywords"):
			d.Keywords = append(d.Keywords, strings.Fields(text(c.el))...)
		case info("conf-uris"):
			var u []URIEntry
			u, err = decodeURIs(c, path)
			d.ConfURIs = append(d.ConfURIs, u...)
		case info("service-uris"):
			var u []URIEntry
			u, err = decodeURIs(c, path)
			d.ServiceURIs = append(d.ServiceURIs, u...)
		case info("maximum-user-count"):
			d.MaximumUserCount, err = parseUint32(c, path)
		case info("available-media"):
			err = decodeMedia(d, c, path)
		case xc("language"):
			err = setText(&d.Language, c, &d.Extras)
		case xc("allow-sidebars"):
			d.AllowSidebars, err = parseBool(c, path)
		case xc("cloning-parent"):
			err = setText(&d.CloningParent, c, &d.Extras)
		case xc("sidebar-parent"):
			err = setText(&d.SidebarParent, c, &d.Extras)
		case xc("conference-time"):
			if d.ConferenceTime == nil {
				d.ConferenceTime, err = toElement(c)
			} else {
				err = d.Extras.keep(c)
			}
		default:
			err = d.Extras.keep(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeMedia(d *Description, k child, path string) error {
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, e := range kids {
		if e.name != info("entry") {
			continue
		}
		var ch Channel
		err := ch.Extras.attrs(e.el, e.scope, func(n xml.Name, v string) bool {
			if n == (xml.Name{Local: "label"}) {
				ch.Label = strings.TrimSpace(v)
				return true
			}
			return false
		})
		if err != nil {
			return err
		}
		fields, err := children(e.el, e.scope)
		if err != nil {
			return err
		}
		for _, c := range fields {
			switch c.name {
			case info("display-text"):
				err = setText(&ch.DisplayText, c, &ch.Extras)
			case info("type"):
				err = setText(&ch.Type, c, &ch.Extras)
			case info("status"):
				err = setText(&ch.Status, c, &ch.Extras)
			case xc("language"):
				err = setText(&ch.Language, c, &ch.Extras)
			case xc("mixing-mode"):
				err = setText(&ch.MixingMode, c, &ch.Extras)
			default:
				err = ch.Extras.keep(c)
			}
			if err != nil {
				return err
			}
		}
		d.Media = append(d.Media, ch)
	}
	return nil
}

func decodeURIs(k child, path string) ([]URIEntry, error) {
	kids, err := children(k.el, k.scope)
	if err != nil {
		return nil, err
	}
	var out []URIEntry
	for _, e := range kids {
		if e.name != info("entry") {
			continue
		}
		var u URIEntry
		if err := u.Extras.attrs(e.el, e.scope, func(xml.Name, string) bool { return false }); err != nil {
			return nil, err
		}
		fields, err := children(e.el, e.scope)
		if err != nil {
			return nil, err
		}
		for _, c := range fields {
			switch c.name {
			case info("uri"):
				err = setText(&u.URI, c, &u.Extras)
			case info("display-text"):
				err = setText(&u.DisplayText, c, &u.Extras)
			case info("purpose"):
				err = setText(&u.Purpose, c, &u.Extras)
			case info("modified"):
				if u.Modified == nil {
					u.Modified, err = decodeExecution(c)
				} else {
					err = u.Extras.keep(c)
				}
			case xc("conference-password"):
				err = setText(&u.Password, c, &u.Extras)
			default:
				err = u.Extras.keep(c)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, u)
	}
	return out, nil
}

func decodeExecution(k child) (*Execution, error) {
	x := &Execution{}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return nil, err
	}
	for _, c := range kids {
		switch c.name {
		case info("when"):
			x.When = text(c.el)
		case info("reason"):
			x.Reason = text(c.el)
		case info("by"):
			x.By = text(c.el)
		}
	}
	return x, nil
}

func decodeHostInfo(h *HostInfo, k child, path string) error {
	if err := h.Extras.attrs(k.el, k.scope, func(xml.Name, string) bool { return false }); err != nil {
		return err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, c := range kids {
		switch c.name {
		case info("display-text"):
			err = setText(&h.DisplayText, c, &h.Extras)
		case info("web-page"):
			err = setText(&h.WebPage, c, &h.Extras)
		case info("uris"):
			var u []URIEntry
			u, err = decodeURIs(c, path)
			h.URIs = append(h.URIs, u...)
		default:
			err = h.Extras.keep(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeState(s *ConferenceState, k child, path string) error {
	path += "/conference-state"
	if err := s.Extras.attrs(k.el, k.scope, func(xml.Name, string) bool { return false }); err != nil {
		return err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, c := range kids {
		switch {
		case c.name == info("user-count") && s.UserCount == nil:
			s.UserCount, err = parseUint32(c, path)
		case c.name == info("active") && s.Active == nil:
			s.Active, err = parseBool(c, path)
		case c.name == info("locked") && s.Locked == nil:
			s.Locked, err = parseBool(c, path)
		case c.name == xc("allow-conference-event-subscription") && s.AllowConferenceEventSubscription == nil:
			s.AllowConferenceEventSubscription, err = parseBool(c, path)
		default:
			err = s.Extras.keep(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeUsers(conf *Conference, k child, path string) error {
	path += "/users"
	err := conf.UsersExtras.attrs(k.el, k.scope, func(n xml.Name, v string) bool {
		if n == (xml.Name{Local: "state"}) {
			conf.UsersState = v
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, c := range kids {
		switch c.name {
		case info("user"):
			var u *User
			u, err = decodeUser(c.el, c.scope, path)
			if err == nil {
				conf.Users = append(conf.Users, u)
			}
		case xc("join-handling"):
			err = setText(&conf.JoinHandling, c, &conf.UsersExtras)
		case xc("user-admission-policy"):
			err = setText(&conf.UserAdmissionPolicy, c, &conf.UsersExtras)
		case xc("allowed-users-list"):
			err = decodeAllowed(conf, c)
		case xc("deny-users-list"):
			var t []Target
			t, err = decodeTargets(c)
			conf.DenyUsers = append(conf.DenyUsers, t...)
		default:
			err = conf.UsersExtras.keep(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeTargets(k child) ([]Target, error) {
	kids, err := children(k.el, k.scope)
	if err != nil {
		return nil, err
	}
	var out []Target
	for _, c := range kids {
		if c.name != xc("target") {
			continue
		}
		out = append(out, Target{
			URI:    strings.TrimSpace(c.el.SelectAttrValue("uri", "")),
			Method: strings.TrimSpace(c.el.SelectAttrValue("method", "")),
		})
	}
	return out, nil
}

func decodeAllowed(conf *Conference, k child) error {
	t, err := decodeTargets(k)
	if err != nil {
		return err
	}
	conf.AllowedUsers = append(conf.AllowedUsers, t...)
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, c := range kids {
		if c.name != xc("persistent-list") {
			continue
		}
		users, err := children(c.el, c.scope)
		if err != nil {
			return err
		}
		for _, u := range users {
			if u.name != xc("user") {
				continue
			}
			p := PersistentUser{
				Name:     u.el.SelectAttrValue("name", ""),
				Nickname: u.el.SelectAttrValue("nickname", ""),
				ID:       u.el.SelectAttrValue("id", ""),
			}
			mails, err := children(u.el, u.scope)
			if err != nil {
				return err
			}
			for _, m := range mails {
				if m.name == xc("email") {
					p.Email = append(p.Email, text(m.el))
				}
			}
			conf.PersistentUsers = append(conf.PersistentUsers, p)
		}
	}
	return nil
}

func decodeUser(el *etree.Element, sc *scope, path string) (*User, error) {
	path += "/user"
	u := &User{}
	err := u.Extras.attrs(el, sc, func(n xml.Name, v string) bool {
		switch n {
		case xml.Name{Local: "entity"}:
			u.Entity = strings.TrimSpace(v)
		case xml.Name{Local: "state"}:
			u.NotifyState = v
		case xc("nickname"):
			u.Nickname = v
		default:
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	kids, err := children(el, sc)
	if err != nil {
		return nil, err
	}
	for _, c := range kids {
		switch c.name {
		case info("display-text"):
			err = setText(&u.DisplayText, c, &u.Extras)
		case info("associated-aors"):
			var aors []URIEntry
			aors, err = decodeURIs(c, path)
			for _, a := range aors {
				u.AssociatedAORs = append(u.AssociatedAORs, a.URI)
				if a.DisplayText != "" || a.Purpose != "" || a.Modified != nil || a.Password != "" || !a.Extras.IsZero() {
					u.AORDetails = append(u.AORDetails, a)
				}
			}
		case info("roles"):
			var roles []child
			roles, err = children(c.el, c.scope)
			for _, r := range roles {
				if r.name == info("entry") {
					u.Roles = append(u.Roles, text(r.el))
				}
			}
		case info("languages"):
			u.Languages = append(u.Languages, strings.Fields(text(c.el))...)
		case info("cascaded-focus"):
			err = setText(&u.CascadedFocus, c, &u.Extras)
		case info("endpoint"):
			var e *Endpoint
			e, err = decodeEndpoint(c, path)
			if err == nil {
				u.Endpoints = append(u.Endpoints, e)
			}
		case xc("provide-anonymity"):
			err = setText(&u.ProvideAnonymity, c, &u.Extras)
		case xc("allow-refer-users-dynamically"):
			u.AllowReferUsersDynamically, err = parseBool(c, path)
		case xc("allow-invite-users-dynamically"):
			u.AllowInviteUsersDynamically, err = parseBool(c, path)
		case xc("allow-remove-users-dynamically"):
			u.AllowRemoveUsersDynamically, err = parseBool(c, path)
		default:
			err = u.Extras.keep(c)
		}
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}

func decodeEndpoint(k child, path string) (*Endpoint, error) {
	path += "/endpoint"
	e := &Endpoint{}
	err := e.Extras.attrs(k.el, k.scope, func(n xml.Name, v string) bool {
		switch n {
		case xml.Name{Local: "entity"}:
			e.Entity = strings.TrimSpace(v)
		case xml.Name{Local: "state"}:
			e.NotifyState = v
		case xc("nickname"):
			e.Nickname = v
		default:
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return nil, err
	}
	for _, c := range kids {
		switch {
		case c.name == info("display-text"):
			err = setText(&e.DisplayText, c, &e.Extras)
		case c.name == info("referred") && e.Referred == nil:
			e.Referred, err = decodeExecution(c)
		case c.name == info("status"):
			err = setText(&e.Status, c, &e.Extras)
		case c.name == info("joining-method"):
			err = setText(&e.JoiningMethod, c, &e.Extras)
		case c.name == info("joining-info") && e.JoiningInfo == nil:
			e.JoiningInfo, err = decodeExecution(c)
		case c.name == info("disconnection-method"):
			err = setText(&e.DisconnectionMethod, c, &e.Extras)
		case c.name == info("disconnection-info") && e.DisconnectionInfo == nil:
			e.DisconnectionInfo, err = decodeExecution(c)
		case c.name == info("media"):
			var m Media
			m, err = decodeEndpointMedia(c)
			e.Media = append(e.Media, m)
		case c.name == info("call-info") && e.CallInfo == nil:
			e.CallInfo, err = decodeCallInfo(c)
		default:
			err = e.Extras.keep(c)
		}
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

func decodeEndpointMedia(k child) (Media, error) {
	var m Media
	err := m.Extras.attrs(k.el, k.scope, func(n xml.Name, v string) bool {
		if n == (xml.Name{Local: "id"}) {
			m.ID = strings.TrimSpace(v)
			return true
		}
		return false
	})
	if err != nil {
		return m, err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return m, err
	}
	for _, c := range kids {
		switch c.name {
		case info("display-text"):
			err = setText(&m.DisplayText, c, &m.Extras)
		case info("type"):
			err = setText(&m.Type, c, &m.Extras)
		case info("label"):
			err = setText(&m.Label, c, &m.Extras)
		case info("src-id"):
			err = setText(&m.SrcID, c, &m.Extras)
		case info("status"):
			err = setText(&m.Status, c, &m.Extras)
		default:
			err = m.Extras.keep(c)
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

func decodeCallInfo(k child) (*CallInfo, error) {
	ci := &CallInfo{}
	if err := ci.Extras.attrs(k.el, k.scope, func(xml.Name, string) bool { return false }); err != nil {
		return nil, err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return nil, err
	}
	for _, c := range kids {
		if c.name != info("sip") || ci.SIP != nil {
			if err := ci.Extras.keep(c); err != nil {
				return nil, err
			}
			continue
		}
		s := &SIPDialogID{}
		if err := s.Extras.attrs(c.el, c.scope, func(xml.Name, string) bool { return false }); err != nil {
			return nil, err
		}
		fields, err := children(c.el, c.scope)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			switch f.name {
			case info("display-text"):
				err = setText(&s.DisplayText, f, &s.Extras)
			case info("call-id"):
				err = setText(&s.CallID, f, &s.Extras)
			case info("from-tag"):
				err = setText(&s.FromTag, f, &s.Extras)
			case info("to-tag"):
				err = setText(&s.ToTag, f, &s.Extras)
			default:
				err = s.Extras.keep(f)
			}
			if err != nil {
				return nil, err
			}
		}
		ci.SIP = s
	}
	return ci, nil
}
