package xcon

import (
	"encoding/xml"
	"slices"
)

// Clone returns a deep copy: the focus hands clones to readers so that they
// see a consistent snapshot while it keeps mutating the live object.
func (c *Conference) Clone() *Conference {
	if c == nil {
		return nil
	}
	n := *c
	n.Description = c.Description.clone()
	if c.HostInfo != nil {
		h := *c.HostInfo
		h.URIs = cloneURIs(h.URIs)
		h.Extras = h.Extras.Clone()
		n.HostInfo = &h
	}
	n.State = c.State.clone()
	if c.Users != nil {
		n.Users = make([]*User, len(c.Users))
		for i, u := range c.Users {
			n.Users[i] = u.Clone()
		}
	}
	n.AllowedUsers = slices.Clone(c.AllowedUsers)
	if c.PersistentUsers != nil {
		n.PersistentUsers = make([]PersistentUser, len(c.PersistentUsers))
		for i, p := range c.PersistentUsers {
			p.Email = slices.Clone(p.Email)
			n.PersistentUsers[i] = p
		}
	}
	n.DenyUsers = slices.Clone(c.DenyUsers)
	n.UsersExtras = c.UsersExtras.Clone()
	n.SidebarsByRef = cloneURIs(c.SidebarsByRef)
	if c.SidebarsByVal != nil {
		n.SidebarsByVal = make([]*Conference, len(c.SidebarsByVal))
		for i, s := range c.SidebarsByVal {
			n.SidebarsByVal[i] = s.Clone()
		}
	}
	n.FloorInformation = c.FloorInformation.Clone()
	n.Extras = c.Extras.Clone()
	return &n
}

func (d Description) clone() Description {
	n := d
	n.Keywords = slices.Clone(d.Keywords)
	n.ConfURIs = cloneURIs(d.ConfURIs)
	n.ServiceURIs = cloneURIs(d.ServiceURIs)
	n.MaximumUserCount = clonePtr(d.MaximumUserCount)
	if d.Media != nil {
		n.Media = make([]Channel, len(d.Media))
		for i, m := range d.Media {
			m.Extras = m.Extras.Clone()
			n.Media[i] = m
		}
	}
	n.AllowSidebars = clonePtr(d.AllowSidebars)
	n.ConferenceTime = d.ConferenceTime.Clone()
	n.Extras = d.Extras.Clone()
	return n
}

func (s ConferenceState) clone() ConferenceState {
	n := s
	n.UserCount = clonePtr(s.UserCount)
	n.Active = clonePtr(s.Active)
	n.Locked = clonePtr(s.Locked)
	n.AllowConferenceEventSubscription = clonePtr(s.AllowConferenceEventSubscription)
	n.Extras = s.Extras.Clone()
	return n
}

// Clone returns a deep copy of the user.
func (u *User) Clone() *User {
	if u == nil {
		return nil
	}
	n := *u
	n.AssociatedAORs = slices.Clone(u.AssociatedAORs)
	n.AORDetails = cloneURIs(u.AORDetails)
	n.Roles = slices.Clone(u.Roles)
	n.Languages = slices.Clone(u.Languages)
	if u.Endpoints != nil {
		n.Endpoints = make([]*Endpoint, len(u.Endpoints))
		for i, e := range u.Endpoints {
			n.Endpoints[i] = e.Clone()
		}
	}
	n.AllowReferUsersDynamically = clonePtr(u.AllowReferUsersDynamically)
	n.AllowInviteUsersDynamically = clonePtr(u.AllowInviteUsersDynamically)
	n.AllowRemoveUsersDynamically = clonePtr(u.AllowRemoveUsersDynamically)
	n.Extras = u.Extras.Clone()
	return &n
}

// Clone returns a deep copy of the endpoint.
func (e *Endpoint) Clone() *Endpoint {
	if e == nil {
		return nil
	}
	n := *e
	n.Referred = clonePtr(e.Referred)
	n.JoiningInfo = clonePtr(e.JoiningInfo)
	n.DisconnectionInfo = clonePtr(e.DisconnectionInfo)
	if e.Media != nil {
		n.Media = make([]Media, len(e.Media))
		for i, m := range e.Media {
			m.Extras = m.Extras.Clone()
			n.Media[i] = m
		}
	}
	if e.CallInfo != nil {
		ci := CallInfo{Extras: e.CallInfo.Extras.Clone()}
		if e.CallInfo.SIP != nil {
			s := *e.CallInfo.SIP
			s.Extras = s.Extras.Clone()
			ci.SIP = &s
		}
		n.CallInfo = &ci
	}
	n.Extras = e.Extras.Clone()
	return &n
}

// Clone returns a deep copy of the extras.
func (x Extras) Clone() Extras {
	n := Extras{Attrs: slices.Clone(x.Attrs)}
	if x.Elements != nil {
		n.Elements = make([]*Element, len(x.Elements))
		for i, e := range x.Elements {
			n.Elements[i] = e.Clone()
		}
	}
	return n
}

// IsZero reports whether nothing is kept.
func (x Extras) IsZero() bool { return len(x.Attrs) == 0 && len(x.Elements) == 0 }

// Clone returns a deep copy of the element.
func (e *Element) Clone() *Element {
	if e == nil {
		return nil
	}
	n := &Element{Name: e.Name, Attrs: slices.Clone(e.Attrs), Text: e.Text}
	if e.Children != nil {
		n.Children = make([]*Element, len(e.Children))
		for i, c := range e.Children {
			n.Children[i] = c.Clone()
		}
	}
	return n
}

// Child returns the first child with the given namespace URI and local name.
func (e *Element) Child(space, local string) *Element {
	for _, c := range e.Children {
		if c.Name == (xml.Name{Space: space, Local: local}) {
			return c
		}
	}
	return nil
}

func cloneURIs(in []URIEntry) []URIEntry {
	if in == nil {
		return nil
	}
	out := make([]URIEntry, len(in))
	for i, u := range in {
		u.Modified = clonePtr(u.Modified)
		u.Extras = u.Extras.Clone()
		out[i] = u
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
