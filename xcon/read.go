package xcon

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// SyntaxError is a document that is not well-formed XML, or not one this
// package reads (a DTD, more than one root, nesting deeper than MaxDepth,
// an undeclared prefix). It matches ErrInvalid under errors.Is.
type SyntaxError struct {
	Msg string
}

func (e *SyntaxError) Error() string        { return "xcon: " + ErrInvalid.Error() + ": " + e.Msg }
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalid }

func syntaxError(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...)}
}

// ReadRoot parses one XML document and returns its single root element. It
// is the one reader of the conference object and of CCMP messages: only the
// predefined entities are expanded (encoding/xml refuses others) and a
// DOCTYPE is refused, so external entities and entity bombs are errors; the
// document must be well-formed and nest at most MaxDepth elements deep.
func ReadRoot(b []byte) (*etree.Element, error) {
	if err := wellFormed(b); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = MaxDepth
	if _, err := doc.ReadFrom(bytes.NewReader(b)); err != nil {
		return nil, syntaxError("%v", err)
	}
	var root *etree.Element
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if root != nil {
				return nil, syntaxError("more than one root element")
			}
			root = t
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, syntaxError("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, syntaxError("no root element")
	}
	return root, nil
}

func readRoot(r io.Reader) (*etree.Element, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("xcon: %w: %w", ErrInvalid, err)
	}
	return ReadRoot(b)
}

// wellFormed checks what etree (built on RawToken) does not: matching end
// tags, declared prefixes, a depth bound, one root, nothing but whitespace,
// comments and processing instructions after it. etree's own ValidateInput
// refuses the trailing newline most clients send.
func wellFormed(b []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return syntaxError("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return syntaxError("more than one root element")
				}
			}
			depth++
			if depth > MaxDepth {
				return syntaxError("elements nested deeper than %d", MaxDepth)
			}
			if len(t.Attr) > 1 {
				seen := make(map[xml.Name]bool, len(t.Attr))
				for _, a := range t.Attr {
					if seen[a.Name] {
						return syntaxError("attribute %s repeated on <%s>", a.Name.Local, t.Name.Local)
					}
					seen[a.Name] = true
				}
			}
		case xml.Directive:
			// Neither a conference object nor a CCMP message has a DTD;
			// refusing them keeps entity tricks out altogether.
			if bytes.HasPrefix(bytes.TrimSpace(t), []byte("DOCTYPE")) {
				return syntaxError("a DOCTYPE is not allowed")
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return syntaxError("text outside the root element")
			}
		}
	}
	if roots == 0 {
		return syntaxError("no root element")
	}
	return nil
}

// LookupPrefix resolves a namespace prefix in the scope of el ("" is the
// default namespace; an undeclared default is no namespace).
func LookupPrefix(el *etree.Element, prefix string) (string, bool) {
	return scopeOf(el).lookup(prefix)
}

// Namespace returns the namespace URI of el, or an error wrapping
// ErrInvalid when its prefix is undeclared.
func Namespace(el *etree.Element) (string, error) {
	if uri, ok := LookupPrefix(el, el.Space); ok {
		return uri, nil
	}
	return "", syntaxError("undeclared prefix %q on <%s>", el.Space, el.FullTag())
}
