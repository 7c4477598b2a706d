package cpim

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseAddress reads `"Formal name" <uri>`, `Name Tokens <uri>` or `<uri>`
// [RFC 3862 §4.1]. Escapes in a quoted name are undone [RFC 3862 §2.3].
// The URI must be non-empty and hold no whitespace or angle brackets.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	var a Address
	rest := s
	if strings.HasPrefix(rest, `"`) {
		end := closingQuote(rest)
		if end < 0 {
			return Address{}, fmt.Errorf("%w: unterminated quoted name in %q", ErrAddress, s)
		}
		a.Name = unescape(rest[1:end])
		rest = strings.TrimLeft(rest[end+1:], " ")
		if !strings.HasPrefix(rest, "<") {
			return Address{}, fmt.Errorf("%w: no <URI> after the name in %q", ErrAddress, s)
		}
	} else {
		lt := strings.IndexByte(rest, '<')
		if lt < 0 {
			return Address{}, fmt.Errorf("%w: no <URI> in %q", ErrAddress, s)
		}
		a.Name = strings.TrimSpace(rest[:lt])
		if strings.ContainsAny(a.Name, "\"\\>") {
			return Address{}, fmt.Errorf("%w: bad name in %q", ErrAddress, s)
		}
		rest = rest[lt:]
	}
	if !strings.HasSuffix(rest, ">") {
		return Address{}, fmt.Errorf("%w: text after <URI> in %q", ErrAddress, s)
	}
	a.URI = rest[1 : len(rest)-1]
	if a.URI == "" || !isURIText(a.URI) {
		return Address{}, fmt.Errorf("%w: bad URI in %q", ErrAddress, s)
	}
	return a, nil
}

// String renders the address for a header value; the name is always quoted
// and escaped, which every receiver accepts.
func (a Address) String() string {
	return string(a.appendTo(nil))
}

func (a Address) appendTo(b []byte) []byte {
	if a.Name != "" {
		b = appendQuoted(b, a.Name)
		b = append(b, ' ')
	}
	b = append(b, '<')
	b = appendSanitized(b, a.URI)
	return append(b, '>')
}

// closingQuote returns the index of the '"' that ends the quoted string at
// the start of s, skipping escaped characters, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// unescape undoes the RFC 3862 §2.3 escapes: \\ \" \' \b \t \n \r and \uXXXX.
// An unknown escape stands for the character after the backslash, and a lone
// backslash at the end is dropped, as the RFC advises receivers. Strings
// without a backslash are returned unchanged, without allocating.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case 'b':
			sb.WriteByte('\b')
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'u':
			if i+4 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					sb.WriteRune(rune(v))
					i += 4
					continue
				}
			}
			sb.WriteByte('u')
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}

// appendQuoted writes s as a CPIM quoted string with the §2.3 escapes.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\b':
			b = append(b, `\b`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			if r < 0x20 || r == 0x7f {
				b = append(b, `\u00`...)
				b = append(b, "0123456789ABCDEF"[r>>4], "0123456789ABCDEF"[r&0xf])
				continue
			}
			// Copy the original bytes, so that even invalid UTF-8 survives
			// unchanged.
			b = append(b, s[i-size:i]...)
		}
	}
	return append(b, '"')
}

// isURIText rejects whitespace, control characters and the delimiters that
// cannot appear inside <...>.
func isURIText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' {
			return false
		}
	}
	return true
}
