package cpim

import "strings"

// coreHeaders are written from the typed fields; Headers entries with these
// names are skipped by Marshal.
func isTypedHeader(name string) bool {
	switch name {
	case "From", "To", "cc", "DateTime", "Subject":
		return true
	}
	return false
}

// Marshal encodes a message the focus originates (room notices). It writes
// From, To, cc, DateTime and Subject from the typed fields, then the other
// entries of Headers in order (NS, Require, ...), the blank separator line
// that RFC 3862 §2 requires, Content-Type, the other ContentHeaders, a blank
// line and the body. Lines end in CRLF. CR and LF inside header values are
// replaced by spaces so that no value can forge a header.
//
// Relayed messages are never re-encoded (RFC 3862 §2.2): forward the bytes.
func (m *Message) Marshal() []byte {
	return m.AppendTo(make([]byte, 0, m.size()))
}

// AppendTo appends the encoding Marshal produces to b.
func (m *Message) AppendTo(b []byte) []byte {
	b = append(b, "From: "...)
	b = m.From.appendTo(b)
	b = append(b, "\r\n"...)
	for _, a := range m.To {
		b = append(b, "To: "...)
		b = a.appendTo(b)
		b = append(b, "\r\n"...)
	}
	for _, a := range m.CC {
		b = append(b, "cc: "...)
		b = a.appendTo(b)
		b = append(b, "\r\n"...)
	}
	if m.DateTime != "" {
		b = appendHeader(b, "DateTime", m.DateTime)
	}
	if m.Subject != "" {
		b = append(b, "Subject: "...)
		b = appendSubject(b, m.Subject)
		b = append(b, "\r\n"...)
	}
	for _, h := range m.Headers {
		if !isTypedHeader(h.Name) && h.Name != "" {
			b = appendHeader(b, h.Name, h.Value)
		}
	}
	b = append(b, "\r\n"...)
	contentType := m.ContentType
	if contentType == "" {
		contentType = "text/plain;charset=utf-8"
	}
	b = appendHeader(b, "Content-Type", contentType)
	for _, h := range m.ContentHeaders {
		if !strings.EqualFold(h.Name, "Content-Type") && h.Name != "" {
			b = appendHeader(b, h.Name, h.Value)
		}
	}
	b = append(b, "\r\n"...)
	return append(b, m.Body...)
}

func (m *Message) size() int {
	n := 64 + len(m.From.Name) + len(m.From.URI) + len(m.DateTime) + len(m.Subject) + len(m.ContentType) + len(m.Body)
	for _, a := range m.To {
		n += 12 + len(a.Name) + len(a.URI)
	}
	for _, a := range m.CC {
		n += 12 + len(a.Name) + len(a.URI)
	}
	for _, h := range m.Headers {
		n += 4 + len(h.Name) + len(h.Value)
	}
	for _, h := range m.ContentHeaders {
		n += 4 + len(h.Name) + len(h.Value)
	}
	return n
}

func appendHeader(b []byte, name, value string) []byte {
	b = appendSanitized(b, name)
	b = append(b, ": "...)
	b = appendSanitized(b, value)
	return append(b, "\r\n"...)
}

// appendSubject escapes the characters RFC 3862 §2.3 says MUST be escaped in
// any header value: backslash and control characters.
func appendSubject(b []byte, s string) []byte {
	q := appendQuoted(nil, s)
	q = q[1 : len(q)-1]
	// A double quote needs no escape outside a quoted string.
	return append(b, strings.ReplaceAll(string(q), `\"`, `"`)...)
}

// appendSanitized copies s, replacing CR and LF by spaces.
func appendSanitized(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}
