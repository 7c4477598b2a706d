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
	conferenceSchema.clone(&n, c)
	return &n
}

// Clone returns a deep copy of the user.
func (u *User) Clone() *User {
	if u == nil {
		return nil
	}
	n := *u
	userSchema.clone(&n, u)
	return &n
}

// Clone returns a deep copy of the endpoint.
func (e *Endpoint) Clone() *Endpoint {
	if e == nil {
		return nil
	}
	n := *e
	endpointSchema.clone(&n, e)
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

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
