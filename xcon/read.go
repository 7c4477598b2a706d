package xcon

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// SyntaxError is a document that is not well-formed XML, or not one this
// package reads (a DTD, more than one root, nesting deeper than MaxDepth,
// an undeclared prefix). It matches ErrInvalid under errors.Is.
type SyntaxError struct {
	Msg string
}

func (e *SyntaxError) Error() string        { return "xcon: " + ErrInvalid.Error() + ": " + e.Msg }
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalid }

func syntaxError(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...)}
}

// ReadRoot parses one XML document and returns its single root element. It
// is the one reader of the conference object and of CCMP messages: only the
// predefined entities are expanded (encoding/xml refuses others) and a
// DOCTYPE is refused, so external entities and entity bombs are errors; the
// document must be well-formed and nest at most MaxDepth elements deep.
func ReadRoot(b []byte) (*etree.Element, error) {
	return parseRoot(bytes.NewReader(b), func() []byte { return b }, true)
}

// readRoot is ReadRoot on a stream, read once: it keeps only the document's first bytes, where a
// DOCTYPE would be.
func readRoot(r io.Reader) (*etree.Element, error) {
	h := &headReader{r: r}
	return parseRoot(h, func() []byte { return h.head[:h.n] }, false)
}

var doctype = []byte("<!DOCTYPE")

// headReader passes a stream through, keeping its first bytes.
type headReader struct {
	r    io.Reader
	head [512]byte
	n    int
}

func (h *headReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += copy(h.head[h.n:], p[:n])
	return n, err
}

// parseRoot parses the document r reads. seen returns what of it is known when the parse fails:
// all of it when whole, else its first bytes. A DOCTYPE is named then, since the parse stops at
// its first entity before any check of the tree could see it.
func parseRoot(r io.Reader, seen func() []byte, whole bool) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = MaxDepth
	doc.ReadSettings.PreserveDuplicateAttrs = true // refused by wellFormed, not merged
	doc.ReadSettings.CharsetReader = refuseCharset
	if _, err := doc.ReadFrom(r); err != nil {
		switch {
		case bytes.Contains(seen(), doctype):
			return nil, syntaxError("a DOCTYPE is not allowed")
		case errors.Is(err, etree.ErrXML) && whole:
			// etree says only that the nesting is wrong; encoding/xml, run on this error
			// path alone, says where.
			return nil, syntaxError("%v", nestingError(seen()))
		case errors.Is(err, etree.ErrXML):
			return nil, syntaxError("%v", errNesting)
		case errors.Is(err, etree.ErrMaxDepth):
			return nil, syntaxError("elements nested deeper than %d", MaxDepth)
		}
		return nil, syntaxError("%v", err)
	}
	if err := wellFormed(&doc.Element, nil); err != nil {
		return nil, err
	}
	var root *etree.Element
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if root != nil {
				return nil, syntaxError("more than one root element")
			}
			root = t
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, syntaxError("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, syntaxError("no root element")
	}
	return root, nil
}

// refuseCharset refuses a document declaring an encoding other than UTF-8 (encoding/xml
// reads UTF-8 itself and asks for a reader only for other encodings): the bytes of an HTTP body
// are taken as UTF-8, and a declaration saying otherwise is a malformed request.
func refuseCharset(string, io.Reader) (io.Reader, error) {
	return nil, errors.New("only UTF-8 is read")
}

// nestingError is encoding/xml's account of a nesting error etree found: an end tag that does not
// match, or an element still open at the end.
func nestingError(b []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	for {
		if _, err := dec.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
	}
	return errNesting
}

var errNesting = errors.New("an element is closed by the wrong end tag, or not closed")

// wellFormed checks on the parsed tree what etree's parse does not refuse: etree matches end
// tags, bounds the depth and refuses unknown entities, but keeps a DOCTYPE as a directive and
// (with PreserveDuplicateAttrs) repeated attributes as they came. Checking the tree costs a
// walk; a second tokenising pass would cost as much as the parse itself. sc is the scope of el,
// carried down the walk so that no element's prefixes are looked up from the root again.
func wellFormed(el *etree.Element, sc *scope) error {
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Directive:
			// Neither a conference object nor a CCMP message has a DTD;
			// refusing them keeps entity tricks out altogether.
			if strings.HasPrefix(strings.TrimSpace(t.Data), "DOCTYPE") {
				return syntaxError("a DOCTYPE is not allowed")
			}
		case *etree.Element:
			if !qualifiedName(t.Space, t.Tag) {
				return syntaxError("element name %q is not a qualified name", t.FullTag())
			}
			for _, a := range t.Attr {
				if !qualifiedName(a.Space, a.Key) {
					return syntaxError("attribute name %q on <%s> is not a qualified name", a.FullKey(), t.Tag)
				}
			}
			ts := sc.enter(t)
			if len(t.Attr) > 1 {
				if err := distinctAttributes(t, ts); err != nil {
					return err
				}
			}
			if err := wellFormed(t, ts); err != nil {
				return err
			}
		}
	}
	return nil
}

// qualifiedName reports whether prefix:local, as encoding/xml split it, is a QName of Namespaces
// in XML §4: one colon at most, with a name on either side. encoding/xml takes "<:/>" or "<a:b:c>"
// as a local name with colons, which no namespace-aware reader (nor this package's encoder) can
// write back.
func qualifiedName(prefix, local string) bool {
	return local != "" && !strings.Contains(local, ":") && !strings.Contains(prefix, ":")
}

// attrIdentity is what two attributes of one element must not share (Namespaces in XML §6.3):
// the local name, and the namespace URI when the prefix is bound, else the prefix as written
// (none, xmlns, or an undeclared one, which the decoder refuses later).
type attrIdentity struct {
	bound        bool
	space, local string
}

func identityOf(a etree.Attr, sc *scope) attrIdentity {
	if a.Space != "" && a.Space != "xmlns" {
		if uri, ok := sc.lookup(a.Space); ok {
			return attrIdentity{true, uri, a.Key}
		}
	}
	return attrIdentity{false, a.Space, a.Key}
}

// fewAttrs is the attribute count up to which distinctAttributes compares pairs; above it, a
// set makes the check linear in the attributes, whatever their count.
const fewAttrs = 8

// distinctAttributes refuses an element with two attributes of one name: the same prefix and
// local name, or (Namespaces in XML §6.3) different prefixes bound to one namespace. sc is the
// scope of el.
func distinctAttributes(el *etree.Element, sc *scope) error {
	if len(el.Attr) <= fewAttrs {
		for i := range el.Attr {
			for j := i + 1; j < len(el.Attr); j++ {
				a, b := el.Attr[i], el.Attr[j]
				if a.Key == b.Key && identityOf(a, sc) == identityOf(b, sc) {
					return syntaxError("attribute %s repeated on <%s>", a.Key, el.Tag)
				}
			}
		}
		return nil
	}
	seen := make(map[attrIdentity]struct{}, len(el.Attr))
	for _, a := range el.Attr {
		id := identityOf(a, sc)
		if _, dup := seen[id]; dup {
			return syntaxError("attribute %s repeated on <%s>", a.Key, el.Tag)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// LookupPrefix resolves a namespace prefix in the scope of el ("" is the
// default namespace; an undeclared default is no namespace). It reads the
// declarations of el and its ancestors in place, nearest first, allocating
// nothing.
func LookupPrefix(el *etree.Element, prefix string) (string, bool) {
	switch prefix {
	case "xml":
		return NSXML, true
	case "xmlns":
		return nsXMLNS, true
	}
	for p := el; p != nil; p = p.Parent() {
		uri, found := "", false
		for _, a := range p.Attr {
			// As in scope.enter: xmlns="..." and xmlns:p="..." declare; of two declarations
			// of one prefix on an element, the last counts.
			if a.Space == "xmlns" && a.Key == prefix || prefix == "" && a.Space == "" && a.Key == "xmlns" {
				uri, found = a.Value, true
			}
		}
		if found {
			return uri, true
		}
	}
	return "", prefix == ""
}

// Namespace returns the namespace URI of el, or an error wrapping
// ErrInvalid when its prefix is undeclared.
func Namespace(el *etree.Element) (string, error) {
	if uri, ok := LookupPrefix(el, el.Space); ok {
		return uri, nil
	}
	return "", syntaxError("undeclared prefix %q on <%s>", el.Space, el.FullTag())
}
