package ccmp

import (
	"regexp"
	"strings"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/focus"
)

// AUTO_GENERATE_n placeholders (RFC 6503 §4.3): the client leaves mandatory values it cannot
// know to the server. Every occurrence of one placeholder gets the same fresh value,
// different placeholders different values; a placeholder heading an XCON-URI or XCON-USERID
// must carry our domain (427); one in a name is a 400.

var placeholder = regexp.MustCompile(`AUTO_GENERATE_[0-9]+`)

type autogen struct {
	domain string
	values map[string]string // placeholder → replacement
	fresh  func() string
}

func newAutogen(domain string) *autogen {
	return &autogen{domain: domain, values: map[string]string{}, fresh: func() string { return focus.NewName(10) }}
}

// identifier checks a whole value "xcon:AUTO_GENERATE_n@host" or
// "xcon-userid:AUTO_GENERATE_n@host": the host must be ours. It returns the placeholder
// ("" when value is not of that form).
func (a *autogen) identifier(value string) (string, error) {
	v := strings.TrimSpace(value)
	var rest string
	switch {
	case len(v) > 5 && strings.EqualFold(v[:5], "xcon:"):
		rest = v[5:]
	case len(v) > 12 && strings.EqualFold(v[:12], "xcon-userid:"):
		rest = v[12:]
	default:
		return "", nil
	}
	user, host, _ := strings.Cut(rest, "@")
	if !placeholder.MatchString(user) || placeholder.FindString(user) != user {
		return "", nil
	}
	if host != "" && !strings.EqualFold(host, a.domain) {
		return "", fail(CodeInvalidDomain, "AUTO_GENERATE in "+v+": the domain must be "+a.domain)
	}
	return user, nil
}

// set fixes the replacement of a placeholder (for values the server derives, such as room
// names and user IDs) unless it already has one.
func (a *autogen) set(ph, value string) string {
	if v, ok := a.values[ph]; ok {
		return v
	}
	a.values[ph] = value
	return value
}

func (a *autogen) replace(s string) string {
	if !strings.Contains(s, "AUTO_GENERATE_") {
		return s
	}
	return placeholder.ReplaceAllStringFunc(s, func(ph string) string {
		if v, ok := a.values[ph]; ok {
			return v
		}
		return a.set(ph, a.fresh())
	})
}

// apply replaces placeholders in every attribute value and text of el's subtree, in place,
// after checking the domains of identifier-shaped ones.
func (a *autogen) apply(el *etree.Element) error {
	if strings.Contains(el.Tag, "AUTO_GENERATE") || strings.Contains(el.Space, "AUTO_GENERATE") {
		return fail(CodeBadRequest, "AUTO_GENERATE may appear in values only, not in the name <"+el.FullTag()+">")
	}
	for i := range el.Attr {
		at := &el.Attr[i]
		if strings.Contains(at.Key, "AUTO_GENERATE") || strings.Contains(at.Space, "AUTO_GENERATE") {
			return fail(CodeBadRequest, "AUTO_GENERATE may appear in values only")
		}
		if _, err := a.identifier(at.Value); err != nil {
			return err
		}
		at.Value = a.replace(at.Value)
	}
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			if _, err := a.identifier(t.Data); err != nil {
				return err
			}
			t.Data = a.replace(t.Data)
		case *etree.Element:
			if err := a.apply(t); err != nil {
				return err
			}
		}
	}
	return nil
}
