package cpim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// IsComposingType is the media type of an RFC 3994 status document.
const IsComposingType = "application/im-iscomposing+xml"

// isComposingNS is the document namespace [RFC 3994 §6].
const isComposingNS = "urn:ietf:params:xml:ns:im-iscomposing"

// Composing states [RFC 3994 §3].
const (
	StateActive = "active"
	StateIdle   = "idle"
)

// maxIsComposingSize bounds what ParseIsComposing reads; real documents are a
// few hundred bytes.
const maxIsComposingSize = 8 << 10

// ErrIsComposing wraps every error ParseIsComposing returns.
var ErrIsComposing = errors.New("cpim: malformed isComposing document")

// IsComposing is an RFC 3994 status document.
type IsComposing struct {
	// State is StateActive or StateIdle; any other value reads as idle
	// [RFC 3994 §3.3].
	State string
	// LastActive is the <lastactive> dateTime, as written.
	LastActive string
	// ContentType is <contenttype>, the kind of message being composed.
	ContentType string
	// Refresh is <refresh> in seconds; 0 when absent or not a positive
	// integer, which the receiver treats as 120 s [RFC 3994 §3.3].
	Refresh int
}

type isComposingXML struct {
	XMLName     xml.Name
	State       *string `xml:"state"`
	LastActive  string  `xml:"lastactive"`
	ContentType string  `xml:"contenttype"`
	Refresh     string  `xml:"refresh"`
}

// ParseIsComposing reads an isComposing document [RFC 3994 §6]. The root must
// be <isComposing> in the RFC namespace (or, leniently, in none) and carry a
// <state>. encoding/xml expands no external entities.
func ParseIsComposing(b []byte) (*IsComposing, error) {
	if len(b) > maxIsComposingSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrIsComposing, len(b))
	}
	var doc isComposingXML
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIsComposing, err)
	}
	if doc.XMLName.Local != "isComposing" || (doc.XMLName.Space != isComposingNS && doc.XMLName.Space != "") {
		return nil, fmt.Errorf("%w: root is {%s}%s", ErrIsComposing, doc.XMLName.Space, doc.XMLName.Local)
	}
	if doc.State == nil {
		return nil, fmt.Errorf("%w: no <state>", ErrIsComposing)
	}
	c := &IsComposing{
		State:       StateIdle,
		LastActive:  strings.TrimSpace(doc.LastActive),
		ContentType: strings.TrimSpace(doc.ContentType),
	}
	if strings.EqualFold(strings.TrimSpace(*doc.State), StateActive) {
		c.State = StateActive
	}
	if n, err := strconv.Atoi(strings.TrimSpace(doc.Refresh)); err == nil && n > 0 {
		c.Refresh = n
	}
	return c, nil
}

// Marshal encodes the document with the XML declaration and namespace of
// RFC 3994 §6. A State other than active is written as idle.
func (c *IsComposing) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<isComposing xmlns="` + isComposingNS + `"><state>`)
	if c.State == StateActive {
		b.WriteString(StateActive)
	} else {
		b.WriteString(StateIdle)
	}
	b.WriteString("</state>")
	if c.LastActive != "" {
		b.WriteString("<lastactive>")
		_ = xml.EscapeText(&b, []byte(c.LastActive))
		b.WriteString("</lastactive>")
	}
	if c.ContentType != "" {
		b.WriteString("<contenttype>")
		_ = xml.EscapeText(&b, []byte(c.ContentType))
		b.WriteString("</contenttype>")
	}
	if c.Refresh > 0 {
		b.WriteString("<refresh>" + strconv.Itoa(c.Refresh) + "</refresh>")
	}
	b.WriteString("</isComposing>\n")
	return b.Bytes()
}
