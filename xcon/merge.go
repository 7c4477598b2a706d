package xcon

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Partial updates (RFC 6503 §4.2). The *Info of an update is a fragment
// holding only the changes. Convention: a leaf that is present replaces the value, an empty
// leaf removes it; keyed repeated elements merge by key (user and endpoint by entity, media
// by id, available-media entry by label, uris entries by uri, xcon:target by uri and method),
// a keyed element carrying state="deleted" is removed, an empty list removes every entry;
// other containers are replaced whole. Unknown elements of other namespaces replace the kept
// ones of the same name. Validation comes first and the change is applied to a copy, so an
// update is all or nothing.

// MergeRefusal classifies a change a merge refuses.
type MergeRefusal int

const (
	// Invalid: the delta is not a valid change (CCMP 400).
	Invalid MergeRefusal = iota
	// Forbidden: the delta changes what the server alone sets (CCMP 403).
	Forbidden
	// Conflict: the change contradicts the stored object (CCMP 409).
	Conflict
)

// MergeError is a delta a merge refuses; the object it was applied to may be
// partly changed, so merges are made on a copy.
type MergeError struct {
	Kind   MergeRefusal
	Reason string
}

func (e *MergeError) Error() string { return "xcon: merge refused: " + e.Reason }

func refuse(kind MergeRefusal, reason string) *MergeError {
	return &MergeError{Kind: kind, Reason: reason}
}

// MergeRules are the checks of a merge that belong to the caller.
type MergeRules struct {
	// Nickname, when set, vets the nickname a new user brings; an error
	// refuses the delta as Invalid, its text saying what is acceptable.
	Nickname func(nick string) error
}

// ConferenceDelta is a partial conference-type element (RFC 6503 §4.2): the
// tree of what it names, and its decoded content.
type ConferenceDelta struct {
	node       *node
	Conference *Conference
}

// UserDelta is a partial user-type element.
type UserDelta struct {
	node *node
	User *User
}

// ParseConferenceDelta reads a partial conference element such as CCMP's
// confInfo; errors wrap ErrInvalid.
func ParseConferenceDelta(el *etree.Element) (*ConferenceDelta, error) {
	n, err := parseDelta(el, info("conference-info"))
	if err != nil {
		return nil, err
	}
	c, err := DecodeElement(el)
	if err != nil {
		return nil, err
	}
	return &ConferenceDelta{node: n, Conference: c}, nil
}

// ParseUserDelta reads a partial user element such as CCMP's userInfo.
func ParseUserDelta(el *etree.Element) (*UserDelta, error) {
	n, err := parseDelta(el, info("user"))
	if err != nil {
		return nil, err
	}
	u, err := DecodeUserElement(el)
	if err != nil {
		return nil, err
	}
	return &UserDelta{node: n, User: u}, nil
}

// Apply merges the delta into c.
func (d *ConferenceDelta) Apply(c *Conference, rules MergeRules) error {
	return conferenceSchema.merge(c, d.node, d.Conference, rules)
}

// Apply merges the delta into u; the nickname is left to the caller, which
// must claim it first.
func (d *UserDelta) Apply(u *User) error { return userSchema.merge(u, d.node, d.User, MergeRules{}) }

// HasAttr tells whether the delta's element carries the attribute.
func (d *UserDelta) HasAttr(space, local string) bool {
	_, ok := d.node.attr(space, local)
	return ok
}

func parseDelta(el *etree.Element, as xml.Name) (*node, error) {
	if el == nil {
		return nil, fmt.Errorf("xcon: %w: no element", ErrInvalid)
	}
	n, err := buildNode(el, scopeOf(el))
	if err != nil {
		return nil, err
	}
	n.prune(as)
	return n, nil
}

// node is an element of a delta with its expanded name.
type node struct {
	name  xml.Name
	el    *etree.Element
	attrs []xml.Attr
	text  string
	kids  []*node
}

func buildNode(el *etree.Element, sc *scope) (*node, error) {
	name, err := sc.resolveElement(el)
	if err != nil {
		return nil, err
	}
	n := &node{name: name, el: el, text: strings.TrimSpace(el.Text())}
	for _, a := range el.Attr {
		an, ok, err := sc.resolveAttr(a)
		if err != nil {
			return nil, err
		}
		if ok {
			n.attrs = append(n.attrs, xml.Attr{Name: an, Value: strings.TrimSpace(a.Value)})
		}
	}
	for _, c := range el.ChildElements() {
		k, err := buildNode(c, sc.enter(c))
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (n *node) attr(space, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// deleted tells whether the element carries state="deleted" (RFC 4575 §4.4), in any namespace.
func (n *node) deleted() bool {
	for _, a := range n.attrs {
		if a.Name.Local == "state" && a.Value == "deleted" {
			return true
		}
	}
	return false
}

func (n *node) empty() bool { return len(n.kids) == 0 && n.text == "" }

// prune removes empty elements without attributes from the etree under n (their presence is
// kept in the node tree), so that the xcon decoder does not reject an empty number or boolean
// that means "remove". The items of keyed lists stay, so that the nth item of the node tree
// is the nth the decoder read.
// The root is pruned as what it stands for (as), whatever its name.
func (n *node) prune(as xml.Name) {
	for _, k := range n.kids {
		k.prune(k.name)
		if k.empty() && len(k.attrs) == 0 && !listItems[[2]xml.Name{as, k.name}] {
			n.el.RemoveChild(k.el)
		}
	}
}

// listItems are the elements a merge matches to their decoded values by position, under
// their parents; roles entries are plain values.
var listItems = map[[2]xml.Name]bool{
	{info("users"), info("user")}:            true,
	{info("user"), info("endpoint")}:         true,
	{info("endpoint"), info("media")}:        true,
	{info("conf-uris"), info("entry")}:       true,
	{info("service-uris"), info("entry")}:    true,
	{info("available-media"), info("entry")}: true,
}

// mergePolicy applies the attributes of a <parley:room-policy> delta; the successor is set
// only by the `parley` extension's close, which also moves everyone out.
func mergePolicy(c *Conference, k *node) error {
	p, _ := c.RoomPolicy()
	if v, ok := k.attr("", "logging"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return refuse(Invalid, "room-policy logging must be true or false")
		}
		p.Logging = b
	}
	if v, ok := k.attr("", "history"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			return refuse(Invalid, "room-policy history must be a number from 0 to 10000")
		}
		p.History = n
	}
	if v, ok := k.attr("", "moderated"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return refuse(Invalid, "room-policy moderated must be true or false")
		}
		p.Moderated = b
	}
	if v, ok := k.attr("", "max-message-size"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return refuse(Invalid, "room-policy max-message-size must be a number of bytes, 0 for the focus's limit")
		}
		p.MaxMessageSize = n
	}
	if v, ok := k.attr("", "keep-for"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return refuse(Invalid, "room-policy keep-for must be a duration such as 720h, 0 to keep everything")
		}
		p.KeepFor = d
	}
	if v, ok := k.attr("", "keep-messages"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return refuse(Invalid, "room-policy keep-messages must be a number, 0 to keep everything")
		}
		p.KeepMessages = n
	}
	c.SetRoomPolicy(p)
	return nil
}

// Replace puts the kept elements of from named name in place of those of x.
func (x *Extras) Replace(name xml.Name, from Extras) {
	x.Elements = slices.DeleteFunc(slices.Clone(x.Elements), func(e *Element) bool { return e.Name == name })
	for _, e := range from.Elements {
		if e.Name == name {
			x.Elements = append(x.Elements, e)
		}
	}
}

// The merges of keyed lists and of what the tables' rows do not say. Each is
// the part.merge of its row in tables.go.

// nthOf is the nth decoded occurrence; an occurrence the decoder did not see
// (an empty element pruned from the delta) is reported absent.
func nthOf[T any](list []T, nth int) (T, bool) {
	if nth < len(list) {
		return list[nth], true
	}
	var zero T
	return zero, false
}

// mergeConfURIs changes the password, display text or purpose of a conf-uris entry. The
// URIs themselves are the focus's signalling addresses: a client cannot add one.
func mergeConfURIs(c *Description, k *node, dd *Description, _ int, rules MergeRules) error {
	i := 0
	for _, e := range k.kids {
		if e.name != info("entry") {
			continue
		}
		de, ok := nthOf(dd.ConfURIs, i)
		i++
		if !ok {
			continue
		}
		at := slices.IndexFunc(c.ConfURIs, func(u URIEntry) bool { return strings.EqualFold(u.URI, de.URI) })
		if at < 0 {
			return refuse(Conflict, "conf-uris are the focus's own addresses; "+de.URI+" is not one")
		}
		if err := uriSchema.merge(&c.ConfURIs[at], e, &de, rules); err != nil {
			return err
		}
	}
	return nil
}

// mergeURIsOf merges a uris container by entry URI: an entry replaces the one of its URI,
// state="deleted" removes it, an empty container removes them all.
func mergeURIsOf[T any](at func(*T) *[]URIEntry) func(*T, *node, *T, int, MergeRules) error {
	return func(cur *T, k *node, delta *T, _ int, _ MergeRules) error {
		merged, err := mergeURIs(*at(cur), k, *at(delta))
		if err == nil {
			*at(cur) = merged
		}
		return err
	}
}

func mergeURIs(cur []URIEntry, k *node, delta []URIEntry) ([]URIEntry, error) {
	if k.empty() {
		return nil, nil
	}
	out := slices.Clone(cur)
	i := 0
	for _, e := range k.kids {
		if e.name != info("entry") {
			continue
		}
		de, ok := nthOf(delta, i)
		i++
		if !ok || de.URI == "" {
			return nil, refuse(Invalid, "a uris entry needs its uri")
		}
		at := slices.IndexFunc(out, func(u URIEntry) bool { return strings.EqualFold(u.URI, de.URI) })
		switch {
		case e.deleted() && at >= 0:
			out = slices.Delete(out, at, at+1)
		case e.deleted():
		case at >= 0:
			out[at] = de
		default:
			out = append(out, de)
		}
	}
	return out, nil
}

func mergeMedia(c *Description, k *node, dd *Description, _ int, rules MergeRules) error {
	if k.empty() {
		return refuse(Conflict, "a room keeps at least one channel")
	}
	i := 0
	for _, e := range k.kids {
		if e.name != info("entry") {
			continue
		}
		de, ok := nthOf(dd.Media, i)
		i++
		if !ok || de.Label == "" {
			return refuse(Invalid, "an available-media entry needs a label")
		}
		at := slices.IndexFunc(c.Media, func(m Channel) bool { return m.Label == de.Label })
		switch {
		case e.deleted():
			if at >= 0 {
				c.Media = slices.Delete(c.Media, at, at+1)
			}
			continue
		case at < 0:
			c.Media = append(c.Media, de)
			continue
		}
		if err := channelSchema.merge(&c.Media[at], e, &de, rules); err != nil {
			return err
		}
	}
	if len(c.Media) == 0 {
		return refuse(Conflict, "a room keeps at least one channel")
	}
	return nil
}

// mergeUserEntry applies one <user> of a <users> delta: a new user is added, a known one
// merged, one with state="deleted" removed.
func mergeUserEntry(c *Conference, k *node, dc *Conference, nth int, rules MergeRules) error {
	entity, _ := k.attr("", "entity")
	if entity == "" {
		return refuse(Invalid, "a user needs its entity")
	}
	if !isURI(entity) {
		return refuse(Invalid, "a user's entity must be a URI")
	}
	du, ok := nthOf(dc.Users, nth)
	if !ok {
		return refuse(Invalid, "a user needs its entity")
	}
	cur := c.User(entity)
	switch {
	case k.deleted():
		if cur == nil {
			return refuse(Conflict, "no user "+entity+" to remove")
		}
		c.Users = slices.DeleteFunc(c.Users, func(u *User) bool { return u == cur })
	case cur == nil:
		if du.Nickname != "" && rules.Nickname != nil {
			if err := rules.Nickname(du.Nickname); err != nil {
				return refuse(Invalid, "the nickname of "+entity+" is not acceptable ("+err.Error()+")")
			}
		}
		du.Endpoints = nil
		c.Users = append(c.Users, du)
	default:
		return userSchema.merge(cur, k, du, rules)
	}
	return nil
}

func mergeAllowed(c *Conference, k *node, dc *Conference, _ int, _ MergeRules) error {
	if err := checkTargets(k); err != nil {
		return err
	}
	c.AllowedUsers = mergeTargets(c.AllowedUsers, k, true)
	for _, p := range k.kids {
		if p.name == xc("persistent-list") {
			c.PersistentUsers = dc.PersistentUsers
		}
	}
	if k.empty() {
		c.PersistentUsers = nil
	}
	return nil
}

func mergeDenied(c *Conference, k *node, _ *Conference, _ int, _ MergeRules) error {
	if err := checkTargets(k); err != nil {
		return err
	}
	c.DenyUsers = mergeTargets(c.DenyUsers, k, false)
	return nil
}

// checkTargets refuses a list whose targets are not URIs.
func checkTargets(k *node) error {
	for _, t := range k.kids {
		if uri, _ := t.attr("", "uri"); t.name == xc("target") && !isURI(uri) {
			return refuse(Invalid, "a target's uri must be a URI")
		}
	}
	return nil
}

// isURI tells whether s has the shape of an absolute URI (RFC 3986 §3: a scheme, a colon,
// something) with no whitespace or control character: what may name a user or a target.
func isURI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon == len(s)-1 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			return false
		}
		if i < colon && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func mergeTargets(cur []Target, k *node, withMethod bool) []Target {
	if k.empty() {
		return nil
	}
	out := slices.Clone(cur)
	for _, t := range k.kids {
		if t.name != xc("target") {
			continue
		}
		uri, _ := t.attr("", "uri")
		method, _ := t.attr("", "method")
		if !withMethod {
			method = ""
		}
		same := func(x Target) bool {
			return strings.EqualFold(x.URI, uri) && (method == "" || x.Method == method)
		}
		if t.deleted() {
			out = slices.DeleteFunc(out, same)
			continue
		}
		if !slices.ContainsFunc(out, same) {
			out = append(out, Target{URI: uri, Method: method})
		}
	}
	return out
}

// mergeEndpoint applies one <endpoint> of a user delta: a new one is added, a known one
// merged, one with state="deleted" removed.
func mergeEndpoint(u *User, k *node, du *User, nth int, rules MergeRules) error {
	de, ok := nthOf(du.Endpoints, nth)
	if !ok || de.Entity == "" {
		return refuse(Invalid, "an endpoint needs its entity")
	}
	cur := u.Endpoint(de.Entity)
	switch {
	case k.deleted():
		if cur == nil {
			return refuse(Conflict, "no endpoint "+de.Entity+" to remove")
		}
		u.Endpoints = slices.DeleteFunc(u.Endpoints, func(e *Endpoint) bool { return e == cur })
		return nil
	case cur == nil:
		u.Endpoints = append(u.Endpoints, de)
		return nil
	}
	return endpointSchema.merge(cur, k, de, rules)
}

// mergeEndpointMedia applies one <media> of an endpoint delta, matched by id.
func mergeEndpointMedia(cur *Endpoint, k *node, de *Endpoint, nth int, rules MergeRules) error {
	dm, ok := nthOf(de.Media, nth)
	if !ok {
		return nil
	}
	at := slices.IndexFunc(cur.Media, func(m Media) bool { return m.ID == dm.ID })
	if at < 0 {
		cur.Media = append(cur.Media, dm)
		return nil
	}
	return mediaSchema.merge(&cur.Media[at], k, &dm, rules)
}
