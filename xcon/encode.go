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
	conferenceSchema.encode(&e, el, c)
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
	userSchema.encode(&e, el, u)
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

func targets(parent *etree.Element, ts []Target, withMethod bool) {
	for _, t := range ts {
		te := parent.CreateElement("xcon:target")
		te.CreateAttr("uri", clean(t.URI))
		if withMethod || t.Method != "" {
			attr(te, "method", t.Method)
		}
	}
}

func attr(el *etree.Element, key, v string) {
	if v != "" {
		el.CreateAttr(key, clean(v))
	}
}

func encodeAllowed(_ *encoder, uel *etree.Element, c *Conference) {
	if len(c.AllowedUsers) == 0 && len(c.PersistentUsers) == 0 {
		return
	}
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

func (e *encoder) uris(el *etree.Element, us []URIEntry) {
	for i := range us {
		uriSchema.encode(e, infoChild(el, "entry"), &us[i])
	}
}

// encodeAORs writes associated-aors, with the details of the entries that have some.
func encodeAORs(e *encoder, el *etree.Element, u *User) {
	if len(u.AssociatedAORs) == 0 {
		return
	}
	// The details of an AOR are its first entry in AORDetails, found through an index so that
	// the look-ups stay linear in the entries.
	first := make(map[string]int, len(u.AORDetails))
	for i := len(u.AORDetails) - 1; i >= 0; i-- {
		first[u.AORDetails[i].URI] = i
	}
	aors := make([]URIEntry, len(u.AssociatedAORs))
	for i, a := range u.AssociatedAORs {
		aors[i] = URIEntry{URI: a}
		if j, ok := first[a]; ok {
			aors[i] = u.AORDetails[j]
		}
	}
	e.uris(infoChild(el, "associated-aors"), aors)
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
