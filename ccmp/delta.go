package ccmp

import (
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// Partial updates (RFC 6503 §4.2, xcon-ccmp.md §3.9). The *Info of an update is a fragment
// holding only the changes. Convention: a leaf that is present replaces the value, an empty
// leaf removes it; keyed repeated elements merge by key (user and endpoint by entity, media
// by id, available-media entry by label, uris entries by uri, xcon:target by uri and method),
// a keyed element carrying state="deleted" is removed, an empty list removes every entry;
// other containers are replaced whole. Unknown elements of other namespaces replace the kept
// ones of the same name. Validation comes first and the change is applied to a copy, so an
// update is all or nothing.

// node is an element of a delta with its expanded name.
type node struct {
	name  xml.Name
	el    *etree.Element
	attrs []xml.Attr
	text  string
	kids  []*node
}

func buildNode(el *etree.Element) (*node, error) {
	ns, err := nsOf(el)
	if err != nil {
		return nil, err
	}
	n := &node{name: xml.Name{Space: ns, Local: el.Tag}, el: el, text: textOf(el)}
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		space := ""
		if a.Space != "" {
			var ok bool
			if space, ok = lookupPrefix(el, a.Space); !ok {
				return nil, malformed("undeclared attribute prefix %q", a.Space)
			}
		}
		n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Space: space, Local: a.Key}, Value: strings.TrimSpace(a.Value)})
	}
	for _, c := range el.ChildElements() {
		k, err := buildNode(c)
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

// prune removes empty leaves without attributes from the etree under n (their presence is
// kept in the node tree), so that the xcon decoder does not reject an empty number or boolean
// that means "remove".
func (n *node) prune() {
	for _, k := range n.kids {
		k.prune()
		if k.empty() && len(k.attrs) == 0 {
			n.el.RemoveChild(k.el)
		}
	}
}

func infoName(local string) xml.Name { return xml.Name{Space: xcon.NS, Local: local} }
func xconName(local string) xml.Name { return xml.Name{Space: xcon.NSXcon, Local: local} }

// parseDelta decodes a delta element into the node tree and the xcon object.
func parseConfDelta(el *etree.Element) (*node, *xcon.Conference, error) {
	n, err := buildNode(el)
	if err != nil {
		return nil, nil, err
	}
	n.prune()
	c, err := xcon.DecodeElement(el)
	if err != nil {
		return nil, nil, fail(CodeBadRequest, err.Error())
	}
	return n, c, nil
}

func parseUserDelta(el *etree.Element) (*node, *xcon.User, error) {
	n, err := buildNode(el)
	if err != nil {
		return nil, nil, err
	}
	n.prune()
	u, err := xcon.DecodeUserElement(el)
	if err != nil {
		return nil, nil, fail(CodeBadRequest, err.Error())
	}
	return n, u, nil
}

// mergeConference applies delta d (decoded as dc) to c.
func mergeConference(c *xcon.Conference, d *node, dc *xcon.Conference) error {
	for _, k := range d.kids {
		switch k.name {
		case infoName("conference-description"):
			if err := mergeDescription(&c.Description, k, &dc.Description); err != nil {
				return err
			}
		case infoName("host-info"):
			c.HostInfo = dc.HostInfo
			if k.empty() {
				c.HostInfo = nil
			}
		case infoName("conference-state"):
			for _, s := range k.kids {
				switch s.name {
				case infoName("active"):
					c.State.Active = dc.State.Active
				case infoName("locked"):
					c.State.Locked = dc.State.Locked
				case xconName("allow-conference-event-subscription"):
					c.State.AllowConferenceEventSubscription = dc.State.AllowConferenceEventSubscription
				case infoName("user-count"):
					// counted by the focus
				}
			}
		case infoName("users"):
			if err := mergeUsers(c, k, dc); err != nil {
				return err
			}
		case infoName("sidebars-by-ref"), infoName("sidebars-by-val"):
			return fail(CodeForbiddenChange, "sidebars change through sidebarByValRequest and sidebarByRefRequest")
		case xconName("floor-information"):
			c.FloorInformation = dc.FloorInformation
			if k.empty() {
				c.FloorInformation = nil
			}
		case xml.Name{Space: xcon.NSParley, Local: "room-policy"}:
			if err := mergePolicy(c, k); err != nil {
				return err
			}
		default:
			replaceExtras(&c.Extras, k.name, dc.Extras)
		}
	}
	return nil
}

// mergePolicy applies the attributes of a <parley:room-policy> delta; the successor is set
// only by the `parley` extension's close, which also moves everyone out.
func mergePolicy(c *xcon.Conference, k *node) error {
	p, _ := c.RoomPolicy()
	if v, ok := k.attr("", "logging"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fail(CodeBadRequest, "room-policy logging must be true or false")
		}
		p.Logging = b
	}
	if v, ok := k.attr("", "history"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			return fail(CodeBadRequest, "room-policy history must be a number from 0 to 10000")
		}
		p.History = n
	}
	if v, ok := k.attr("", "moderated"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fail(CodeBadRequest, "room-policy moderated must be true or false")
		}
		p.Moderated = b
	}
	if v, ok := k.attr("", "max-message-size"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fail(CodeBadRequest, "room-policy max-message-size must be a number of bytes, 0 for the focus's limit")
		}
		p.MaxMessageSize = n
	}
	if v, ok := k.attr("", "keep-for"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fail(CodeBadRequest, "room-policy keep-for must be a duration such as 720h, 0 to keep everything")
		}
		p.KeepFor = d
	}
	if v, ok := k.attr("", "keep-messages"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fail(CodeBadRequest, "room-policy keep-messages must be a number, 0 to keep everything")
		}
		p.KeepMessages = n
	}
	c.SetRoomPolicy(p)
	return nil
}

func replaceExtras(x *xcon.Extras, name xml.Name, from xcon.Extras) {
	x.Elements = slices.DeleteFunc(slices.Clone(x.Elements), func(e *xcon.Element) bool { return e.Name == name })
	for _, e := range from.Elements {
		if e.Name == name {
			x.Elements = append(x.Elements, e)
		}
	}
}

func mergeDescription(c *xcon.Description, d *node, dd *xcon.Description) error {
	for _, k := range d.kids {
		switch k.name {
		case infoName("display-text"):
			c.DisplayText = k.text
		case infoName("subject"):
			c.Subject = k.text
		case infoName("free-text"):
			c.FreeText = k.text
		case infoName("keywords"):
			c.Keywords = strings.Fields(k.text)
		case infoName("conf-uris"):
			if err := mergeConfURIs(c, k, dd); err != nil {
				return err
			}
		case infoName("service-uris"):
			c.ServiceURIs = mergeURIs(c.ServiceURIs, k, dd.ServiceURIs)
		case infoName("maximum-user-count"):
			c.MaximumUserCount = dd.MaximumUserCount
		case infoName("available-media"):
			if err := mergeMedia(c, k, dd); err != nil {
				return err
			}
		case xconName("language"):
			c.Language = k.text
		case xconName("allow-sidebars"):
			c.AllowSidebars = dd.AllowSidebars
		case xconName("cloning-parent"), xconName("sidebar-parent"):
			return fail(CodeForbiddenChange, "the cloning and sidebar parents are set by the server")
		case xconName("conference-time"):
			c.ConferenceTime = dd.ConferenceTime
			if k.empty() {
				c.ConferenceTime = nil
			}
		default:
			replaceExtras(&c.Extras, k.name, dd.Extras)
		}
	}
	return nil
}

// mergeConfURIs changes the password, display text or purpose of a conf-uris entry. The
// URIs themselves are the focus's signalling addresses: a client cannot add one.
func mergeConfURIs(c *xcon.Description, k *node, dd *xcon.Description) error {
	i := 0
	for _, e := range k.kids {
		if e.name != infoName("entry") {
			continue
		}
		de := dd.ConfURIs[i]
		i++
		at := slices.IndexFunc(c.ConfURIs, func(u xcon.URIEntry) bool { return strings.EqualFold(u.URI, de.URI) })
		if at < 0 {
			return &Error{Code: CodeConflict, Reason: "conf-uris are the focus's own addresses; " + de.URI + " is not one"}
		}
		cur := &c.ConfURIs[at]
		for _, f := range e.kids {
			switch f.name {
			case infoName("display-text"):
				cur.DisplayText = f.text
			case infoName("purpose"):
				cur.Purpose = f.text
			case xconName("conference-password"):
				cur.Password = f.text
			}
		}
	}
	return nil
}

func mergeURIs(cur []xcon.URIEntry, k *node, delta []xcon.URIEntry) []xcon.URIEntry {
	if k.empty() {
		return nil
	}
	out := slices.Clone(cur)
	i := 0
	for _, e := range k.kids {
		if e.name != infoName("entry") {
			continue
		}
		de := delta[i]
		i++
		at := slices.IndexFunc(out, func(u xcon.URIEntry) bool { return strings.EqualFold(u.URI, de.URI) })
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
	return out
}

func mergeMedia(c *xcon.Description, k *node, dd *xcon.Description) error {
	if k.empty() {
		return &Error{Code: CodeConflict, Reason: "a room keeps at least one channel"}
	}
	i := 0
	for _, e := range k.kids {
		if e.name != infoName("entry") {
			continue
		}
		de := dd.Media[i]
		i++
		if de.Label == "" {
			return fail(CodeBadRequest, "an available-media entry needs a label")
		}
		at := slices.IndexFunc(c.Media, func(m xcon.Channel) bool { return m.Label == de.Label })
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
		cur := &c.Media[at]
		for _, f := range e.kids {
			switch f.name {
			case infoName("display-text"):
				cur.DisplayText = f.text
			case infoName("type"):
				cur.Type = f.text
			case infoName("status"):
				cur.Status = f.text
			case xconName("language"):
				cur.Language = f.text
			case xconName("mixing-mode"):
				cur.MixingMode = f.text
			default:
				replaceExtras(&cur.Extras, f.name, de.Extras)
			}
		}
	}
	if len(c.Media) == 0 {
		return &Error{Code: CodeConflict, Reason: "a room keeps at least one channel"}
	}
	return nil
}

// mergeUsers applies a <users> delta (usersInfo, or confInfo's users).
func mergeUsers(c *xcon.Conference, d *node, dc *xcon.Conference) error {
	ui := 0
	for _, k := range d.kids {
		switch k.name {
		case xconName("join-handling"):
			c.JoinHandling = k.text
		case xconName("user-admission-policy"):
			c.UserAdmissionPolicy = k.text
		case xconName("allowed-users-list"):
			if err := checkTargets(k); err != nil {
				return err
			}
			c.AllowedUsers = mergeTargets(c.AllowedUsers, k, true)
			for _, p := range k.kids {
				if p.name == xconName("persistent-list") {
					c.PersistentUsers = dc.PersistentUsers
				}
			}
			if k.empty() {
				c.PersistentUsers = nil
			}
		case xconName("deny-users-list"):
			if err := checkTargets(k); err != nil {
				return err
			}
			c.DenyUsers = mergeTargets(c.DenyUsers, k, false)
		case infoName("user"):
			du := dc.Users[ui]
			ui++
			entity, _ := k.attr("", "entity")
			if entity == "" {
				return fail(CodeBadRequest, "a user needs its entity")
			}
			if !isURI(entity) {
				return fail(CodeBadRequest, "a user's entity must be a URI")
			}
			cur := c.User(entity)
			switch {
			case k.deleted():
				if cur == nil {
					return &Error{Code: CodeConflict, Reason: "no user " + entity + " to remove"}
				}
				c.Users = slices.DeleteFunc(c.Users, func(u *xcon.User) bool { return u == cur })
			case cur == nil:
				// The nickname a new user brings is held to the rule a claimed one is (PRECIS).
				if du.Nickname != "" {
					if _, _, err := focus.EnforceNickname(du.Nickname); err != nil {
						return fail(CodeBadRequest, "the nickname of "+entity+" is not acceptable (PRECIS Nickname, at most 64 characters)")
					}
				}
				du.Endpoints = nil
				c.Users = append(c.Users, du)
			default:
				if err := mergeUser(cur, k, du); err != nil {
					return err
				}
			}
		default:
			replaceExtras(&c.UsersExtras, k.name, dc.UsersExtras)
		}
	}
	return nil
}

// checkTargets refuses a list whose targets are not URIs.
func checkTargets(k *node) error {
	for _, t := range k.kids {
		if uri, _ := t.attr("", "uri"); t.name == xconName("target") && !isURI(uri) {
			return fail(CodeBadRequest, "a target's uri must be a URI")
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

func mergeTargets(cur []xcon.Target, k *node, withMethod bool) []xcon.Target {
	if k.empty() {
		return nil
	}
	out := slices.Clone(cur)
	for _, t := range k.kids {
		if t.name != xconName("target") {
			continue
		}
		uri, _ := t.attr("", "uri")
		method, _ := t.attr("", "method")
		if !withMethod {
			method = ""
		}
		same := func(x xcon.Target) bool {
			return strings.EqualFold(x.URI, uri) && (method == "" || x.Method == method)
		}
		if t.deleted() {
			out = slices.DeleteFunc(out, same)
			continue
		}
		if !slices.ContainsFunc(out, same) {
			out = append(out, xcon.Target{URI: uri, Method: method})
		}
	}
	return out
}

// mergeUser applies a <user> delta; the nickname is handled by the caller (it must be
// claimed first).
func mergeUser(u *xcon.User, d *node, du *xcon.User) error {
	ei := 0
	for _, k := range d.kids {
		switch k.name {
		case infoName("display-text"):
			u.DisplayText = k.text
		case infoName("associated-aors"):
			u.AssociatedAORs, u.AORDetails = du.AssociatedAORs, du.AORDetails
		case infoName("roles"):
			u.Roles = du.Roles
		case infoName("languages"):
			u.Languages = du.Languages
		case infoName("cascaded-focus"):
			u.CascadedFocus = k.text
		case infoName("endpoint"):
			de := du.Endpoints[ei]
			ei++
			if err := mergeEndpoint(u, k, de); err != nil {
				return err
			}
		case xconName("provide-anonymity"):
			u.ProvideAnonymity = k.text
		case xconName("allow-refer-users-dynamically"):
			u.AllowReferUsersDynamically = du.AllowReferUsersDynamically
		case xconName("allow-invite-users-dynamically"):
			u.AllowInviteUsersDynamically = du.AllowInviteUsersDynamically
		case xconName("allow-remove-users-dynamically"):
			u.AllowRemoveUsersDynamically = du.AllowRemoveUsersDynamically
		default:
			replaceExtras(&u.Extras, k.name, du.Extras)
		}
	}
	return nil
}

func mergeEndpoint(u *xcon.User, k *node, de *xcon.Endpoint) error {
	cur := u.Endpoint(de.Entity)
	switch {
	case k.deleted():
		if cur == nil {
			return &Error{Code: CodeConflict, Reason: "no endpoint " + de.Entity + " to remove"}
		}
		u.Endpoints = slices.DeleteFunc(u.Endpoints, func(e *xcon.Endpoint) bool { return e == cur })
		return nil
	case cur == nil:
		u.Endpoints = append(u.Endpoints, de)
		return nil
	}
	mi := 0
	for _, f := range k.kids {
		switch f.name {
		case infoName("display-text"):
			cur.DisplayText = f.text
		case infoName("status"):
			cur.Status = f.text
		case infoName("joining-method"):
			cur.JoiningMethod = f.text
		case infoName("disconnection-method"):
			cur.DisconnectionMethod = f.text
		case infoName("media"):
			dm := de.Media[mi]
			mi++
			at := slices.IndexFunc(cur.Media, func(m xcon.Media) bool { return m.ID == dm.ID })
			if at < 0 {
				cur.Media = append(cur.Media, dm)
				continue
			}
			m := &cur.Media[at]
			for _, g := range f.kids {
				switch g.name {
				case infoName("display-text"):
					m.DisplayText = g.text
				case infoName("type"):
					m.Type = g.text
				case infoName("label"):
					m.Label = g.text
				case infoName("src-id"):
					m.SrcID = g.text
				case infoName("status"):
					m.Status = g.text
				default:
					replaceExtras(&m.Extras, g.name, dm.Extras)
				}
			}
		}
	}
	return nil
}
