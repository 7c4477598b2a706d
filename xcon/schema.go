package xcon

import (
	"encoding/xml"
	"slices"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// The conference object's schema: one table per structure of the data model
// (RFC 4575 §5, RFC 6501 §4), one row per attribute or child element. Decode,
// Encode, Clone and the partial-update merge all read these tables, so a new
// element is one row. Rows are in the XSD sequence order, which is the order
// Encode writes; decoding accepts any order (RFC 6501 §5 uses interleave).

// fieldKind is how a row's value is read, written, copied and merged.
type fieldKind int

const (
	attrField  fieldKind = iota // an attribute, xs:string
	uint64Attr                  // an attribute, xs:unsignedLong; 0 is absent
	textField                   // a child element of simple content, xs:string
	boolField                   // a child element, xs:boolean
	uintField                   // a child element, xs:unsignedInt
	wordsField                  // a child element holding a space-separated list
	partField                   // a structured child element, handled by a part
)

// mergeMode is what a partial update naming the row does.
type mergeMode int

const (
	mergeReplace mergeMode = iota // the delta's value replaces the stored one; an empty element removes it
	mergeIgnore                   // the focus keeps the value; a delta's is ignored
	mergeRefuse                   // the server sets the value; a delta naming it is refused
)

// part handles a structured child of T. A nil function means: nothing to do
// (clone: a shallow copy suffices; zero: never makes its parent non-empty;
// merge: a delta's element is ignored).
type part[T any] struct {
	decode func(t *T, k child, path string) error
	encode func(e *encoder, parent *etree.Element, t *T)
	clone  func(n, t *T) // n is a shallow copy of t; deep-copy what they share
	zero   func(t *T) bool
	// merge applies the nth occurrence k of the element in a delta, decoded
	// into delta.
	merge func(cur *T, k *node, delta *T, nth int, rules MergeRules) error
}

// field is one row of a structure.
type field[T any] struct {
	name xml.Name
	tag  string // the qualified name written: "info:display-text", "xcon:nickname", "entity"
	kind fieldKind

	str   func(*T) *string  // attrField, textField
	u64   func(*T) *uint64  // uint64Attr
	flag  func(*T) **bool   // boolField
	count func(*T) **uint32 // uintField
	words func(*T) *[]string
	part  part[T]

	required bool // written even when empty
	trim     bool // attribute value trimmed on input
	once     bool // a second occurrence is kept as an extra
	merge    mergeMode
	refusal  string // with mergeRefuse
}

func attrRow[T any](name xml.Name, str func(*T) *string) field[T] {
	return field[T]{name: name, kind: attrField, str: str}
}

func textRow[T any](name xml.Name, str func(*T) *string) field[T] {
	return field[T]{name: name, kind: textField, str: str}
}

func boolRow[T any](name xml.Name, flag func(*T) **bool) field[T] {
	return field[T]{name: name, kind: boolField, flag: flag, once: true}
}

func uintRow[T any](name xml.Name, count func(*T) **uint32) field[T] {
	return field[T]{name: name, kind: uintField, count: count, once: true}
}

func wordsRow[T any](name xml.Name, words func(*T) *[]string) field[T] {
	return field[T]{name: name, kind: wordsField, words: words}
}

func partRow[T any](name xml.Name, p part[T]) field[T] {
	return field[T]{name: name, kind: partField, part: p}
}

// always writes the value even when it is empty.
func (f field[T]) always() field[T] { f.required = true; return f }

// trimmed trims the attribute's value on input.
func (f field[T]) trimmed() field[T] { f.trim = true; return f }

// single keeps a second occurrence as an extra.
func (f field[T]) single() field[T] { f.once = true; return f }

// focusSet makes a delta's value ignored.
func (f field[T]) focusSet() field[T] { f.merge = mergeIgnore; return f }

// serverSet makes a delta naming the row refused with reason.
func (f field[T]) serverSet(reason string) field[T] {
	f.merge, f.refusal = mergeRefuse, reason
	return f
}

// structure is the table of one type of the data model.
type structure[T any] struct {
	path string // appended to error paths: "/conference-description"
	// extras holds what is not modelled; nil when the XSD type has no
	// wildcard, so that unknown children are dropped.
	extras func(*T) *Extras
	// ignoreUnknown: a delta's unknown children are ignored instead of
	// replacing the kept ones of the same name.
	ignoreUnknown bool
	fields        []field[T]
	byName        map[xml.Name]int // child element rows
	deep          []int            // rows a clone must copy (the others are strings, shared as they are)
}

func newStructure[T any](path string, extras func(*T) *Extras, fields ...field[T]) *structure[T] {
	s := &structure[T]{path: path, extras: extras, fields: fields, byName: make(map[xml.Name]int, len(fields))}
	for i := range s.fields {
		f := &s.fields[i]
		f.tag = qualified(f.name)
		if f.kind != attrField && f.kind != uint64Attr {
			s.byName[f.name] = i
		}
		switch f.kind {
		case boolField, uintField, wordsField:
			s.deep = append(s.deep, i)
		case partField:
			if f.part.clone != nil {
				s.deep = append(s.deep, i)
			}
		}
	}
	return s
}

// qualified is the name under the prefixes Encode declares.
func qualified(n xml.Name) string {
	switch n.Space {
	case NS:
		return "info:" + n.Local
	case NSXcon:
		return "xcon:" + n.Local
	case NSXML:
		return "xml:" + n.Local
	}
	return n.Local
}

func (s *structure[T]) extrasOf(t *T) *Extras {
	if s.extras == nil {
		return nil
	}
	return s.extras(t)
}

// decode reads el's attributes and children into t.
func (s *structure[T]) decode(t *T, el *etree.Element, sc *scope, path string) error {
	path += s.path
	if x := s.extrasOf(t); x != nil {
		if err := x.attrs(el, sc, func(n xml.Name, v string) bool { return s.decodeAttr(t, n, v) }); err != nil {
			return err
		}
	}
	kids, err := children(el, sc)
	if err != nil {
		return err
	}
	var seen []bool
	for _, c := range kids {
		if err := s.decodeChild(t, c, path, &seen); err != nil {
			return err
		}
	}
	return nil
}

func (s *structure[T]) decodeAttr(t *T, n xml.Name, v string) bool {
	for i := range s.fields {
		f := &s.fields[i]
		if f.name != n {
			continue
		}
		switch f.kind {
		case attrField:
			if f.trim {
				v = strings.TrimSpace(v)
			}
			*f.str(t) = v
			return true
		case uint64Attr:
			u, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return false // kept verbatim as an extra attribute
			}
			*f.u64(t) = u
			return true
		}
	}
	return false
}

func (s *structure[T]) decodeChild(t *T, c child, path string, seen *[]bool) error {
	x := s.extrasOf(t)
	i, ok := s.byName[c.name]
	if !ok {
		return x.keepIf(c)
	}
	f := &s.fields[i]
	if f.once {
		if *seen == nil {
			*seen = make([]bool, len(s.fields))
		}
		if (*seen)[i] {
			return x.keepIf(c)
		}
		(*seen)[i] = true
	}
	var err error
	switch f.kind {
	case textField:
		dst := f.str(t)
		if *dst != "" {
			return x.keepIf(c)
		}
		*dst = text(c.el)
	case boolField:
		*f.flag(t), err = parseBool(c, path)
	case uintField:
		*f.count(t), err = parseUint32(c, path)
	case wordsField:
		w := f.words(t)
		*w = append(*w, strings.Fields(text(c.el))...)
	case partField:
		if f.part.decode != nil {
			err = f.part.decode(t, c, path)
		}
	}
	return err
}

// keepIf keeps c as an extra, or drops it where there are no extras.
func (x *Extras) keepIf(c child) error {
	if x == nil {
		return nil
	}
	return x.keep(c)
}

// encode writes t's attributes and children onto el.
func (s *structure[T]) encode(e *encoder, el *etree.Element, t *T) {
	for i := range s.fields {
		f := &s.fields[i]
		switch f.kind {
		case attrField:
			if v := *f.str(t); v != "" || f.required {
				el.CreateAttr(f.tag, clean(v))
			}
		case uint64Attr:
			if v := *f.u64(t); v > 0 {
				el.CreateAttr(f.tag, strconv.FormatUint(v, 10))
			}
		}
	}
	x := s.extrasOf(t)
	if x != nil {
		e.extraAttrs(el, *x)
	}
	for i := range s.fields {
		f := &s.fields[i]
		switch f.kind {
		case textField:
			if v := *f.str(t); v != "" || f.required {
				el.CreateElement(f.tag).SetText(clean(v))
			}
		case boolField:
			boolChild(el, f.tag, *f.flag(t))
		case uintField:
			uintChild(el, f.tag, *f.count(t))
		case wordsField:
			if w := *f.words(t); len(w) > 0 {
				textChild(el, f.tag, strings.Join(w, " "))
			}
		case partField:
			if f.part.encode != nil {
				f.part.encode(e, el, t)
			}
		}
	}
	if x != nil {
		e.extraElements(el, *x)
	}
}

// clone deep-copies into n, a shallow copy of t, what the two share.
func (s *structure[T]) clone(n, t *T) {
	for _, i := range s.deep {
		f := &s.fields[i]
		switch f.kind {
		case boolField:
			*f.flag(n) = clonePtr(*f.flag(t))
		case uintField:
			*f.count(n) = clonePtr(*f.count(t))
		case wordsField:
			*f.words(n) = slices.Clone(*f.words(t))
		case partField:
			if f.part.clone != nil {
				f.part.clone(n, t)
			}
		}
	}
	if x := s.extrasOf(t); x != nil {
		if x.IsZero() {
			*s.extras(n) = Extras{} // nothing to copy, and no backing array to share
		} else {
			*s.extras(n) = x.Clone()
		}
	}
}

// isZero tells whether t has nothing to write.
func (s *structure[T]) isZero(t *T) bool {
	for i := range s.fields {
		f := &s.fields[i]
		switch f.kind {
		case attrField, textField:
			if *f.str(t) != "" {
				return false
			}
		case uint64Attr:
			if *f.u64(t) != 0 {
				return false
			}
		case boolField:
			if *f.flag(t) != nil {
				return false
			}
		case uintField:
			if *f.count(t) != nil {
				return false
			}
		case wordsField:
			if len(*f.words(t)) > 0 {
				return false
			}
		case partField:
			if f.part.zero != nil && !f.part.zero(t) {
				return false
			}
		}
	}
	x := s.extrasOf(t)
	return x == nil || x.IsZero()
}

// merge applies the children of delta element d, decoded into delta, to cur.
func (s *structure[T]) merge(cur *T, d *node, delta *T, rules MergeRules) error {
	var nth map[int]int
	for _, k := range d.kids {
		i, ok := s.byName[k.name]
		if !ok {
			if s.extras != nil && !s.ignoreUnknown {
				s.extras(cur).Replace(k.name, *s.extras(delta))
			}
			continue
		}
		f := &s.fields[i]
		switch f.merge {
		case mergeIgnore:
			continue
		case mergeRefuse:
			return refuse(Forbidden, f.refusal)
		}
		switch f.kind {
		case textField:
			*f.str(cur) = *f.str(delta)
		case boolField:
			*f.flag(cur) = clonePtr(*f.flag(delta))
		case uintField:
			*f.count(cur) = clonePtr(*f.count(delta))
		case wordsField:
			*f.words(cur) = slices.Clone(*f.words(delta))
		case partField:
			if f.part.merge == nil {
				continue
			}
			if nth == nil {
				nth = make(map[int]int)
			}
			n := nth[i]
			nth[i]++
			if err := f.part.merge(cur, k, delta, n, rules); err != nil {
				return err
			}
		}
	}
	return nil
}
