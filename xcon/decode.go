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

// MaxExtraAttrs bounds the attributes of one element that the schema does not
// model and that are kept (Extras.Attrs, Element.Attrs), namespace
// declarations aside. Encode writes each of them with a look-up among the
// attributes already on its element, so that the bound is what keeps the
// work of writing one element bounded; the RFC 4575 and RFC 6501 elements
// carry a few attributes each.
const MaxExtraAttrs = 64

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
// because the patterns of the RFC 6501 schema reject wrapped whitespace.
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
			if len(e.Attrs) == MaxExtraAttrs {
				return nil, tooManyAttrs(c.el)
			}
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

// attrs calls known for each modelled attribute and keeps the others, at most
// MaxExtraAttrs of them.
func (x *Extras) attrs(el *etree.Element, sc *scope, known func(n xml.Name, v string) bool) error {
	kept := 0
	for _, a := range el.Attr {
		n, ok, err := sc.resolveAttr(a)
		if err != nil {
			return err
		}
		if !ok || known(n, a.Value) {
			continue
		}
		if kept == MaxExtraAttrs {
			return tooManyAttrs(el)
		}
		kept++
		x.Attrs = append(x.Attrs, xml.Attr{Name: n, Value: a.Value})
	}
	return nil
}

func tooManyAttrs(el *etree.Element) error {
	return syntaxError("more than %d attributes outside the schema on <%s>", MaxExtraAttrs, el.FullTag())
}

func info(local string) xml.Name { return xml.Name{Space: NS, Local: local} }
func xc(local string) xml.Name   { return xml.Name{Space: NSXcon, Local: local} }

func decodeConference(el *etree.Element, sc *scope, path string) (*Conference, error) {
	c := &Conference{}
	if err := conferenceSchema.decode(c, el, sc, path); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeSidebarsByVal(c *Conference, k child, path string) error {
	c.SidebarsByVal = []*Conference{}
	// sidebars-by-val-type has no wildcard: attributes are checked, then dropped.
	if err := c.Extras.attrs(k.el, k.scope, func(xml.Name, string) bool { return true }); err != nil {
		return err
	}
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, e := range kids {
		if e.name != info("entry") {
			continue
		}
		s, err := decodeConference(e.el, e.scope, path+"/sidebars-by-val/entry")
		if err != nil {
			return err
		}
		c.SidebarsByVal = append(c.SidebarsByVal, s)
	}
	return nil
}

// entries calls each for the <entry> children of k.
func entries(k child, each func(e child) error) error {
	kids, err := children(k.el, k.scope)
	if err != nil {
		return err
	}
	for _, e := range kids {
		if e.name != info("entry") {
			continue
		}
		if err := each(e); err != nil {
			return err
		}
	}
	return nil
}

func decodeMedia(d *Description, k child, path string) error {
	return entries(k, func(e child) error {
		var ch Channel
		if err := channelSchema.decode(&ch, e.el, e.scope, path); err != nil {
			return err
		}
		d.Media = append(d.Media, ch)
		return nil
	})
}

func decodeURIs(k child, path string) ([]URIEntry, error) {
	var out []URIEntry
	err := entries(k, func(e child) error {
		var u URIEntry
		if err := uriSchema.decode(&u, e.el, e.scope, path); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
	u := &User{}
	if err := userSchema.decode(u, el, sc, path); err != nil {
		return nil, err
	}
	return u, nil
}

// decodeAORs reads associated-aors: the URIs, and the entries that say more
// than their URI.
func decodeAORs(u *User, k child, path string) error {
	aors, err := decodeURIs(k, path)
	for _, a := range aors {
		u.AssociatedAORs = append(u.AssociatedAORs, a.URI)
		if a.DisplayText != "" || a.Purpose != "" || a.Modified != nil || a.Password != "" || !a.Extras.IsZero() {
			u.AORDetails = append(u.AORDetails, a)
		}
	}
	return err
}

// decodeCallInfo reads call-info; its first sip child is the dialog id, the
// rest is kept.
func decodeCallInfo(k child, path string) (*CallInfo, error) {
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
		if err := sipSchema.decode(s, c.el, c.scope, path); err != nil {
			return nil, err
		}
		ci.SIP = s
	}
	return ci, nil
}
