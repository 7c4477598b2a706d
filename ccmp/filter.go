package ccmp

import (
	"errors"
	"strings"
	"time"

	"github.com/antchfx/xpath"
	"github.com/beevik/etree"

	"github.com/parleychat/parley/xcon"
)

// xpathFilter (RFC 6503 §5.3.1, §5.3.2, §5.3.7, §5.3.9) selects the objects a list answer
// names. It is XPath 1.0 evaluated over each candidate object as a document whose root is its
// <conference-info>. Names are matched namespace-blind, as the RFC's own filters need
// (`/conference-info[conference-description/available-media/entry/type='audio']` has no
// prefixes at all): an unprefixed name test matches the local name in any namespace, and
// the prefixes info:, xcon: and xcon-ccmp: may be used for exact matches. A filter selects an
// object when its value is true under XPath's boolean() rules (a non-empty node-set, a
// non-zero number, a non-empty string).
//
// Limits: a filter longer than MaxFilterBytes, or one that does not compile, is a 400; one
// evaluation may visit at most filterStepBudget nodes in all and must end within
// filterTimeout (or the request's deadline, whichever comes first), else the request is
// answered 510; at most MaxFilterObjects objects are examined (more candidates: 511).

// MaxFilterBytes bounds the length of an xpathFilter.
const MaxFilterBytes = 1024

// MaxFilterObjects bounds how many objects one filtered list may examine.
const MaxFilterObjects = 10000

const (
	filterStepBudget = 2_000_000
	filterTimeout    = 2 * time.Second
)

var filterNamespaces = map[string]string{"info": xcon.NS, "xcon": xcon.NSXcon, "xcon-ccmp": NS, "ccmp": NS}

// filter is a compiled xpathFilter with its evaluation budget.
type filter struct {
	expr     *xpath.Expr
	deadline time.Time
	steps    int
}

var errFilterBudget = errors.New("xpathFilter evaluation budget exhausted")

// compileFilter compiles s; "" means no filter (nil).
func compileFilter(s string, deadline time.Time) (*filter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxFilterBytes {
		return nil, fail(CodeBadRequest, "xpathFilter is longer than 1024 bytes")
	}
	expr, err := xpath.CompileWithNS(s, filterNamespaces)
	if err != nil {
		return nil, fail(CodeBadRequest, "xpathFilter: "+err.Error())
	}
	d := time.Now().Add(filterTimeout)
	if !deadline.IsZero() && deadline.Before(d) {
		d = deadline
	}
	return &filter{expr: expr, deadline: d}, nil
}

// match evaluates the filter over one conference object.
func (f *filter) match(c *xcon.Conference) (bool, error) {
	return f.matchElement(c.Element("info:conference-info"))
}

func (f *filter) matchElement(root *etree.Element) (ok bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != errFilterBudget { //nolint:errorlint // sentinel value, not a wrapped error
				panic(v)
			}
			ok, err = false, fail(CodeTimeout, "the xpathFilter takes too long to evaluate")
		}
	}()
	nav := &navigator{f: f, root: root, attr: -1}
	switch v := f.expr.Evaluate(nav).(type) {
	case bool:
		return v, nil
	case float64:
		return v != 0 && v == v, nil
	case string:
		return v != "", nil
	case *xpath.NodeIterator:
		return v.MoveNext(), nil
	}
	return false, nil
}

// charge counts one navigation step against the budget.
func (f *filter) charge() {
	f.steps++
	if f.steps > filterStepBudget || (f.steps%1024 == 0 && time.Now().After(f.deadline)) {
		panic(errFilterBudget)
	}
}

// navigator is an xpath.NodeNavigator over an etree element tree under a document node.
// Namespace declarations are not attributes; comments and processing instructions are
// skipped.
type navigator struct {
	f    *filter
	root *etree.Element
	cur  *etree.Element // nil: the document node
	text *etree.CharData
	attr int // index into cur.Attr, or -1
}

func (n *navigator) NodeType() xpath.NodeType {
	switch {
	case n.cur == nil:
		return xpath.RootNode
	case n.text != nil:
		return xpath.TextNode
	case n.attr >= 0:
		return xpath.AttributeNode
	}
	return xpath.ElementNode
}

func (n *navigator) LocalName() string {
	switch {
	case n.cur == nil || n.text != nil:
		return ""
	case n.attr >= 0:
		return n.cur.Attr[n.attr].Key
	}
	return n.cur.Tag
}

// Prefix is always empty: names match by local name, or by namespace through NamespaceURL.
func (n *navigator) Prefix() string { return "" }

// NamespaceURL lets prefixed name tests (info:entry) match by namespace.
func (n *navigator) NamespaceURL() string {
	switch {
	case n.cur == nil || n.text != nil:
		return ""
	case n.attr >= 0:
		a := n.cur.Attr[n.attr]
		if a.Space == "" {
			return ""
		}
		uri, _ := lookupPrefix(n.cur, a.Space)
		return uri
	}
	uri, _ := lookupPrefix(n.cur, n.cur.Space)
	return uri
}

func (n *navigator) Value() string {
	switch {
	case n.text != nil:
		return n.text.Data
	case n.attr >= 0:
		return n.cur.Attr[n.attr].Value
	}
	el := n.cur
	if el == nil {
		el = n.root
	}
	var b strings.Builder
	stringValue(&b, el)
	return b.String()
}

func stringValue(b *strings.Builder, el *etree.Element) {
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Element:
			stringValue(b, t)
		}
	}
}

func (n *navigator) Copy() xpath.NodeNavigator {
	c := *n
	return &c
}

func (n *navigator) MoveToRoot() { n.cur, n.text, n.attr = nil, nil, -1 }

func (n *navigator) MoveToParent() bool {
	n.f.charge()
	switch {
	case n.cur == nil:
		return false
	case n.attr >= 0:
		n.attr = -1
		return true
	case n.text != nil:
		n.text = nil
		return true
	case n.cur == n.root:
		n.cur = nil
		return true
	}
	n.cur = n.cur.Parent()
	return true
}

func isNSDecl(a etree.Attr) bool { return a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") }

func (n *navigator) MoveToNextAttribute() bool {
	n.f.charge()
	if n.cur == nil || n.text != nil {
		return false
	}
	for i := n.attr + 1; i < len(n.cur.Attr); i++ {
		if !isNSDecl(n.cur.Attr[i]) {
			n.attr = i
			return true
		}
	}
	return false
}

// visible tells whether XPath sees a token: elements and non-empty text.
func visible(tok etree.Token) bool {
	switch t := tok.(type) {
	case *etree.Element:
		return true
	case *etree.CharData:
		return t.Data != ""
	}
	return false
}

func (n *navigator) set(parent *etree.Element, tok etree.Token) {
	n.attr = -1
	switch t := tok.(type) {
	case *etree.Element:
		n.cur, n.text = t, nil
	case *etree.CharData:
		n.cur, n.text = parent, t
	}
}

func (n *navigator) MoveToChild() bool {
	n.f.charge()
	if n.attr >= 0 || n.text != nil {
		return false
	}
	if n.cur == nil {
		n.set(nil, n.root)
		return true
	}
	for _, tok := range n.cur.Child {
		if visible(tok) {
			n.set(n.cur, tok)
			return true
		}
	}
	return false
}

// self returns the current node as a token of its parent's children, or nil for the
// document node, the root element and attributes (which have no siblings).
func (n *navigator) self() (etree.Token, *etree.Element) {
	switch {
	case n.cur == nil || n.attr >= 0:
		return nil, nil
	case n.text != nil:
		return n.text, n.cur
	case n.cur == n.root:
		return nil, nil
	}
	return n.cur, n.cur.Parent()
}

// step moves to the nearest visible sibling in direction dir (+1, -1), or to the first one
// (dir 0).
func (n *navigator) step(dir int) bool {
	n.f.charge()
	tok, parent := n.self()
	if tok == nil || parent == nil {
		return false
	}
	if dir == 0 {
		for _, t := range parent.Child {
			if visible(t) {
				if t == tok {
					return false
				}
				n.set(parent, t)
				return true
			}
		}
		return false
	}
	for i := tok.Index() + dir; i >= 0 && i < len(parent.Child); i += dir {
		if t := parent.Child[i]; visible(t) {
			n.set(parent, t)
			return true
		}
	}
	return false
}

func (n *navigator) MoveToFirst() bool    { return n.step(0) }
func (n *navigator) MoveToNext() bool     { return n.step(1) }
func (n *navigator) MoveToPrevious() bool { return n.step(-1) }

func (n *navigator) MoveTo(other xpath.NodeNavigator) bool {
	o, ok := other.(*navigator)
	if !ok || o.root != n.root {
		return false
	}
	n.cur, n.text, n.attr = o.cur, o.text, o.attr
	return true
}
