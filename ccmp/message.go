package ccmp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/xcon"
)

// Namespaces of CCMP documents (RFC 6503 §11, §12.1).
const (
	NS       = "urn:ietf:params:xml:ns:xcon-ccmp"
	NSXSI    = "http://www.w3.org/2001/XMLSchema-instance"
	NSParley = "urn:parleychat:params:xml:ns:ccmp" // the `parley` extension's elements
)

// MediaType is the CCMP media type (RFC 6503 §12.2).
const MediaType = "application/ccmp+xml"

// MaxDepth bounds element nesting of a request; CCMP's deepest legal path is well below it.
// Requests are read by xcon.ReadRoot, whose bound it is.
const MaxDepth = xcon.MaxDepth

// Message types: the infix of the xsi:type names ("ccmp-conf-request-message-type") and the
// stem of the specialised element names ("confRequest", "confResponse", "confInfo").
const (
	TypeBlueprints    = "blueprints"
	TypeBlueprint     = "blueprint"
	TypeConfs         = "confs"
	TypeConf          = "conf"
	TypeUsers         = "users"
	TypeUser          = "user"
	TypeSidebarsByVal = "sidebarsByVal"
	TypeSidebarByVal  = "sidebarByVal"
	TypeSidebarsByRef = "sidebarsByRef"
	TypeSidebarByRef  = "sidebarByRef"
	TypeExtended      = "extended"
	TypeOptions       = "options"
)

var messageTypes = []string{TypeBlueprints, TypeBlueprint, TypeConfs, TypeConf, TypeUsers, TypeUser,
	TypeSidebarsByVal, TypeSidebarByVal, TypeSidebarsByRef, TypeSidebarByRef, TypeExtended, TypeOptions}

func knownType(t string) bool {
	for _, m := range messageTypes {
		if m == t {
			return true
		}
	}
	return false
}

// Operations (RFC 6503 §5.1 operationType).
const (
	OpRetrieve = "retrieve"
	OpCreate   = "create"
	OpUpdate   = "update"
	OpDelete   = "delete"
)

func validOperation(op string) bool {
	return op == OpRetrieve || op == OpCreate || op == OpUpdate || op == OpDelete
}

// Subject carries a requester's credentials (RFC 6503 §5.1 subject-type).
type Subject struct {
	Username string
	Password string
}

// Request is one CCMP request (RFC 6503 §5.1, §5.3). Element nodes keep their place in the
// decoded document, so that namespace prefixes declared by the sender still resolve.
type Request struct {
	Type       string // a Type* constant
	Subject    *Subject
	ConfUserID string // "" when absent
	ConfObjID  string
	Operation  string
	Password   *string // top-level conference-password; nil when absent

	// HasBody reports the specialised element (ccmp:confRequest, ...); only optionsRequest
	// has none.
	HasBody bool
	// Info is the specialised element's *Info child (confInfo, userInfo, usersInfo,
	// blueprintInfo, sidebarByValInfo, sidebarByRefInfo), or nil.
	Info          *etree.Element
	XPathFilter   string           // blueprintsRequest, confsRequest, sidebars*Request
	ExtensionName string           // extendedRequest
	Extensions    []*etree.Element // foreign-namespace children of the specialised element
}

// Response is one CCMP response (RFC 6503 §5.2).
type Response struct {
	Type       string
	ConfUserID string
	ConfObjID  string
	Operation  string
	Code       int
	Reason     string
	Version    uint64 // 0: absent (the schema's version is a positiveInteger)

	// NoBody leaves the specialised element out. RFC 6503 §5.2 allows that when the request
	// had no valid specialised message, but its schema requires the element in every
	// response, so the server never sets it; DecodeResponse sets it when the element is absent.
	NoBody        bool
	Info          *etree.Element // blueprintsInfo, confInfo, userInfo, ...: renamed on encode
	ExtensionName string
	Extensions    []*etree.Element // foreign-namespace content of the specialised element
	Options       *Options         // optionsResponse
}

// Options is the optionsResponse content (RFC 6503 §5.3.12).
type Options struct {
	Standard []MessageInfo
	Extended []MessageInfo
}

// MessageInfo describes one supported request.
type MessageInfo struct {
	Name        string
	Operations  []string // empty: all the operations the RFC defines for it
	SchemaDef   string
	Description string
}

// ErrMalformed is wrapped by every decoding error caused by the document.
var ErrMalformed = errors.New("ccmp: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// readRoot parses one XML document with a single root element through the conference
// object's reader (xcon.ReadRoot), so that CCMP and xcon refuse the same documents: DTDs and
// entities other than the predefined ones, ill-formed XML, more than one root.
func readRoot(r io.Reader) (*etree.Element, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		if isMaxBytes(err) {
			return nil, err
		}
		return nil, malformed("%v", err)
	}
	root, err := xcon.ReadRoot(b)
	if err != nil {
		return nil, asMalformed(err)
	}
	return root, nil
}

// asMalformed restates an xcon syntax error as a malformed CCMP message.
func asMalformed(err error) error {
	var se *xcon.SyntaxError
	if errors.As(err, &se) {
		return malformed("%s", se.Msg)
	}
	return malformed("%v", err)
}

// lookupPrefix resolves a namespace prefix in the scope of el ("" is the default namespace).
func lookupPrefix(el *etree.Element, prefix string) (string, bool) {
	return xcon.LookupPrefix(el, prefix)
}

// nsOf returns the namespace URI of el, or an error when its prefix is undeclared.
func nsOf(el *etree.Element) (string, error) {
	uri, err := xcon.Namespace(el)
	if err != nil {
		return "", asMalformed(err)
	}
	return uri, nil
}

// childElements returns el's element children with their namespace URIs.
func childElements(el *etree.Element) ([]*etree.Element, []string, error) {
	var kids []*etree.Element
	var spaces []string
	for _, c := range el.ChildElements() {
		ns, err := nsOf(c)
		if err != nil {
			return nil, nil, err
		}
		kids = append(kids, c)
		spaces = append(spaces, ns)
	}
	return kids, spaces, nil
}

// local tells whether an element is one of CCMP's local (unqualified) elements. Elements in
// the CCMP namespace are accepted too, for senders that declare it as the default namespace.
func local(ns string) bool { return ns == "" || ns == NS }

func textOf(el *etree.Element) string { return strings.TrimSpace(el.Text()) }

// xsiType returns the local part of el's xsi:type after resolving its prefix; it must name
// a CCMP type.
func xsiType(el *etree.Element) (string, error) {
	for _, a := range el.Attr {
		if a.Key != "type" || a.Space == "" {
			continue
		}
		if uri, ok := lookupPrefix(el, a.Space); !ok || uri != NSXSI {
			continue
		}
		v := strings.TrimSpace(a.Value)
		prefix, name := "", v
		if i := strings.IndexByte(v, ':'); i >= 0 {
			prefix, name = v[:i], v[i+1:]
		}
		uri, ok := lookupPrefix(el, prefix)
		if !ok {
			return "", malformed("xsi:type %q: undeclared prefix %q", v, prefix)
		}
		if uri != NS {
			return "", malformed("xsi:type %q is not a CCMP type", v)
		}
		return name, nil
	}
	return "", malformed("no xsi:type on <%s>", el.FullTag())
}

// decodeEnvelope reads the ccmp:ccmpRequest or ccmp:ccmpResponse root (kind "Request" or
// "Response") around its one message element, and returns that element and its type's stem
// (from xsi:type ccmp-STEM-request-message-type).
func decodeEnvelope(r io.Reader, kind string) (*etree.Element, string, error) {
	root, err := readRoot(r)
	if err != nil {
		return nil, "", err
	}
	tag, word := "ccmp"+kind, strings.ToLower(kind)
	if ns, err := nsOf(root); err != nil {
		return nil, "", err
	} else if ns != NS || root.Tag != tag {
		return nil, "", malformed("root is {%s}%s, want {%s}%s", ns, root.Tag, NS, tag)
	}
	kids, spaces, err := childElements(root)
	if err != nil {
		return nil, "", err
	}
	if len(kids) != 1 || !local(spaces[0]) || kids[0].Tag != tag {
		return nil, "", malformed("ccmp:%s must hold exactly one unqualified %s", tag, tag)
	}
	msg := kids[0]
	tname, err := xsiType(msg)
	if err != nil {
		return nil, "", err
	}
	stem, ok := strings.CutPrefix(tname, "ccmp-")
	if ok {
		stem, ok = strings.CutSuffix(stem, "-"+word+"-message-type")
	}
	if !ok || !knownType(stem) {
		return nil, "", malformed("unknown %s type %q", word, tname)
	}
	return msg, stem, nil
}

// DecodeRequest reads a CCMP request document. When the message type could be determined
// but the rest is malformed, the returned request carries what was read so far (Type,
// ConfUserID, ConfObjID, Operation) for the 400 response.
func DecodeRequest(r io.Reader) (*Request, error) {
	msg, stem, err := decodeEnvelope(r, "Request")
	if err != nil {
		return nil, err
	}
	req := &Request{Type: stem}
	if err := req.decodeBase(msg); err != nil {
		return req, err
	}
	return req, nil
}

func (req *Request) decodeBase(msg *etree.Element) error {
	kids, spaces, err := childElements(msg)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, c := range kids {
		ns := spaces[i]
		if ns == NS && c.Tag == req.Type+"Request" {
			if req.HasBody {
				return malformed("two %sRequest elements", req.Type)
			}
			req.HasBody = true
			if err := req.decodeBody(c); err != nil {
				return err
			}
			continue
		}
		if !local(ns) {
			continue // foreign-namespace extension of the base type: ignored
		}
		if seen[c.Tag] {
			return malformed("<%s> appears twice", c.Tag)
		}
		seen[c.Tag] = true
		switch c.Tag {
		case "subject":
			s := &Subject{}
			sk, ss, err := childElements(c)
			if err != nil {
				return err
			}
			for j, e := range sk {
				if !local(ss[j]) {
					continue
				}
				switch e.Tag {
				case "username":
					s.Username = textOf(e)
				case "password":
					s.Password = textOf(e)
				default:
					return malformed("unexpected <%s> in subject", e.Tag)
				}
			}
			req.Subject = s
		case "confUserID":
			req.ConfUserID = textOf(c)
		case "confObjID":
			req.ConfObjID = textOf(c)
		case "operation":
			req.Operation = textOf(c)
			if !validOperation(req.Operation) {
				op := req.Operation
				req.Operation = ""
				return malformed("operation %q", op)
			}
		case "conference-password":
			p := textOf(c)
			req.Password = &p
		default:
			if ns == NS {
				return malformed("<%s> is not a %sRequest", c.Tag, req.Type)
			}
			return malformed("unexpected <%s>", c.Tag)
		}
	}
	if !req.HasBody && req.Type != TypeOptions {
		return malformed("no %sRequest element", req.Type)
	}
	return nil
}

func (req *Request) decodeBody(body *etree.Element) error {
	kids, spaces, err := childElements(body)
	if err != nil {
		return err
	}
	for i, c := range kids {
		ns := spaces[i]
		if !local(ns) {
			req.Extensions = append(req.Extensions, c)
			continue
		}
		switch {
		case c.Tag == req.Type+"Info" && req.Info == nil:
			req.Info = c
		case c.Tag == "xpathFilter" && req.XPathFilter == "":
			req.XPathFilter = textOf(c)
		case c.Tag == "extensionName" && req.Type == TypeExtended && req.ExtensionName == "":
			req.ExtensionName = textOf(c)
		default:
			return malformed("unexpected <%s> in %sRequest", c.Tag, req.Type)
		}
	}
	if req.Type == TypeExtended && req.ExtensionName == "" {
		return malformed("extendedRequest without extensionName")
	}
	return nil
}

// Encode writes the request as a CCMP document.
func (req *Request) Encode(w io.Writer) error {
	doc, msg := envelope("ccmpRequest", req.Type+"-request")
	if req.Subject != nil {
		s := msg.CreateElement("subject")
		if req.Subject.Username != "" {
			s.CreateElement("username").SetText(req.Subject.Username)
		}
		if req.Subject.Password != "" {
			s.CreateElement("password").SetText(req.Subject.Password)
		}
	}
	textElem(msg, "confUserID", req.ConfUserID)
	textElem(msg, "confObjID", req.ConfObjID)
	textElem(msg, "operation", req.Operation)
	if req.Password != nil {
		msg.CreateElement("conference-password").SetText(*req.Password)
	}
	if req.Type != TypeOptions || req.HasBody {
		body := msg.CreateElement("xcon-ccmp:" + req.Type + "Request")
		if req.Type == TypeExtended {
			body.CreateElement("extensionName").SetText(req.ExtensionName)
		}
		if req.Info != nil {
			info := req.Info.Copy()
			info.Space, info.Tag = "", req.Type+"Info"
			body.AddChild(info)
		}
		textElem(body, "xpathFilter", req.XPathFilter)
		for _, e := range req.Extensions {
			body.AddChild(e.Copy())
		}
	}
	var b bytes.Buffer
	if _, err := doc.WriteTo(&b); err != nil {
		return err
	}
	_, err := w.Write(escapeCR(b.Bytes()))
	return err
}

// envelope builds <xcon-ccmp:root><root xsi:type="xcon-ccmp:ccmp-TYPE-message-type"/>.
func envelope(root, typ string) (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	r := doc.CreateElement("xcon-ccmp:" + root)
	r.CreateAttr("xmlns:xcon-ccmp", NS)
	r.CreateAttr("xmlns:info", xcon.NS)
	r.CreateAttr("xmlns:xcon", xcon.NSXcon)
	r.CreateAttr("xmlns:xsi", NSXSI)
	msg := r.CreateElement(root)
	msg.CreateAttr("xsi:type", "xcon-ccmp:ccmp-"+typ+"-message-type")
	return doc, msg
}

func textElem(parent *etree.Element, tag, v string) {
	if v != "" {
		parent.CreateElement(tag).SetText(v)
	}
}

// Encode writes the response as a CCMP document. Element order is the schema's (RFC 6503
// §11): confUserID, confObjID, operation, response-code, response-string, version, then the
// specialised element.
func (resp *Response) Encode(w io.Writer) error {
	typ := resp.Type
	if !knownType(typ) {
		typ = TypeOptions
	}
	doc, msg := envelope("ccmpResponse", typ+"-response")
	msg.CreateElement("confUserID").SetText(resp.ConfUserID)
	textElem(msg, "confObjID", resp.ConfObjID)
	if validOperation(resp.Operation) {
		msg.CreateElement("operation").SetText(resp.Operation)
	}
	code := resp.Code
	if code < 100 || code > 999 {
		code = 500
	}
	msg.CreateElement("response-code").SetText(strconv.Itoa(code))
	reason := resp.Reason
	if reason == "" {
		reason = ReasonPhrase(code)
	}
	textElem(msg, "response-string", reason)
	if resp.Version > 0 {
		msg.CreateElement("version").SetText(strconv.FormatUint(resp.Version, 10))
	}
	if !resp.NoBody || typ == TypeOptions {
		body := msg.CreateElement("xcon-ccmp:" + typ + "Response")
		if typ == TypeExtended {
			body.CreateElement("extensionName").SetText(resp.ExtensionName)
		}
		if resp.Info != nil {
			info := resp.Info
			info.Space, info.Tag = "", typ+"Info"
			body.AddChild(info)
			encodeCalendars(info)
		}
		if typ == TypeOptions && resp.Options != nil {
			resp.Options.encode(body.CreateElement("options"))
		}
		for _, e := range resp.Extensions {
			body.AddChild(e)
		}
	}
	doc.Indent(1)
	var b bytes.Buffer
	if _, err := doc.WriteTo(&b); err != nil {
		return err
	}
	_, err := w.Write(escapeCR(b.Bytes()))
	return err
}

func (o *Options) encode(el *etree.Element) {
	std := el.CreateElement("standard-message-list")
	for _, m := range o.Standard {
		sm := std.CreateElement("standard-message")
		m.encode(sm, false)
	}
	if len(o.Extended) > 0 {
		ext := el.CreateElement("extended-message-list")
		// The schema admits a single extended-message (testdata/spec/schemas/ccmp.xsd).
		o.Extended[0].encode(ext.CreateElement("extended-message"), true)
	}
}

func (m MessageInfo) encode(el *etree.Element, extended bool) {
	el.CreateElement("name").SetText(m.Name)
	if len(m.Operations) > 0 {
		ops := el.CreateElement("operations")
		for _, op := range m.Operations {
			ops.CreateElement("operation").SetText(op)
		}
	}
	if m.SchemaDef != "" || extended {
		el.CreateElement("schema-def").SetText(m.SchemaDef)
	}
	textElem(el, "description", m.Description)
}

// Bytes encodes the response into a byte slice.
func (resp *Response) Bytes() []byte {
	var b bytes.Buffer
	_ = resp.Encode(&b)
	return b.Bytes()
}

// DecodeResponse reads a CCMP response document (the client side).
func DecodeResponse(r io.Reader) (*Response, error) {
	msg, stem, err := decodeEnvelope(r, "Response")
	if err != nil {
		return nil, err
	}
	resp := &Response{Type: stem, NoBody: true}
	fields, fspaces, err := childElements(msg)
	if err != nil {
		return nil, err
	}
	for i, c := range fields {
		ns := fspaces[i]
		if ns == NS && c.Tag == stem+"Response" {
			resp.NoBody = false
			if err := resp.decodeBody(c); err != nil {
				return nil, err
			}
			continue
		}
		if !local(ns) {
			continue
		}
		switch c.Tag {
		case "confUserID":
			resp.ConfUserID = textOf(c)
		case "confObjID":
			resp.ConfObjID = textOf(c)
		case "operation":
			resp.Operation = textOf(c)
		case "response-code":
			resp.Code, err = strconv.Atoi(textOf(c))
			if err != nil {
				return nil, malformed("response-code %q", textOf(c))
			}
		case "response-string":
			resp.Reason = textOf(c)
		case "version":
			resp.Version, err = strconv.ParseUint(textOf(c), 10, 64)
			if err != nil {
				return nil, malformed("version %q", textOf(c))
			}
		}
	}
	if resp.Code == 0 {
		return nil, malformed("no response-code")
	}
	return resp, nil
}

func (resp *Response) decodeBody(body *etree.Element) error {
	kids, spaces, err := childElements(body)
	if err != nil {
		return err
	}
	for i, c := range kids {
		switch {
		case !local(spaces[i]):
			resp.Extensions = append(resp.Extensions, c)
		case c.Tag == resp.Type+"Info":
			resp.Info = c
		case c.Tag == "extensionName":
			resp.ExtensionName = textOf(c)
		case c.Tag == "options":
			resp.Options = decodeOptions(c)
		}
	}
	return nil
}

func decodeOptions(el *etree.Element) *Options {
	o := &Options{}
	read := func(m *etree.Element) MessageInfo {
		var mi MessageInfo
		for _, f := range m.ChildElements() {
			switch f.Tag {
			case "name":
				mi.Name = textOf(f)
			case "operations":
				for _, op := range f.ChildElements() {
					mi.Operations = append(mi.Operations, textOf(op))
				}
			case "schema-def":
				mi.SchemaDef = textOf(f)
			case "description":
				mi.Description = textOf(f)
			}
		}
		return mi
	}
	for _, l := range el.ChildElements() {
		for _, m := range l.ChildElements() {
			switch l.Tag {
			case "standard-message-list":
				o.Standard = append(o.Standard, read(m))
			case "extended-message-list":
				o.Extended = append(o.Extended, read(m))
			}
		}
	}
	return o
}
