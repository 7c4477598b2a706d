package xcon

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

const limitsOpen = `<conference-info xmlns="` + NS + `" entity="xcon:a@example.com"`

// sameNameAttrs is a root with n prefixes, each bound to its own namespace, and n attributes of
// one local name under them: distinct names (Namespaces in XML §6.3), so well-formed. Comparing
// each pair of them while resolving both prefixes from the root cost n³: 14 kB (n = 512) took
// seconds.
func sameNameAttrs(n int) []byte {
	var b strings.Builder
	b.WriteString(limitsOpen)
	for i := range n {
		fmt.Fprintf(&b, ` xmlns:p%d="urn:x:%d"`, i, i)
	}
	for i := range n {
		fmt.Fprintf(&b, ` p%d:k=""`, i)
	}
	b.WriteString("/>")
	return []byte(b.String())
}

// declaredThenPairs is a root declaring n prefixes over n children with two attributes of one
// local name each: resolving their prefixes from the root for each child cost n².
func declaredThenPairs(n int) []byte {
	var b strings.Builder
	b.WriteString(limitsOpen)
	for i := range n {
		fmt.Fprintf(&b, ` xmlns:p%d="urn:x:%d"`, i, i)
	}
	b.WriteString(">")
	for range n {
		b.WriteString(`<x p0:k="" p1:k=""/>`)
	}
	b.WriteString("</conference-info>")
	return []byte(b.String())
}

// TestExtraAttributesBounded: an element keeps at most MaxExtraAttrs attributes the schema does
// not model; one more is refused, with a SyntaxError saying so.
func TestExtraAttributesBounded(t *testing.T) {
	unknownChild := func(n int) []byte {
		var b strings.Builder
		b.WriteString(limitsOpen + `><x xmlns="urn:x"`)
		for i := range n {
			fmt.Fprintf(&b, ` a%d="v"`, i)
		}
		b.WriteString("/></conference-info>")
		return []byte(b.String())
	}
	for _, tt := range []struct {
		name string
		doc  []byte
	}{
		{"root, one local name in 512 namespaces", sameNameAttrs(512)},
		{"root, one namespace each", sameNameAttrs(MaxExtraAttrs + 1)},
		{"kept element", unknownChild(MaxExtraAttrs + 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.doc))
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode: %v, want a SyntaxError", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("more than %d attributes", MaxExtraAttrs)) {
				t.Errorf("error %q does not name the bound", err)
			}
		})
	}
	// At the bound, the document is read and written back with all of them.
	for _, doc := range [][]byte{sameNameAttrs(MaxExtraAttrs), unknownChild(MaxExtraAttrs)} {
		c, err := Decode(bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		out := encode(t, c)
		c2, err := Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if got := len(c2.Extras.Attrs) + countElementAttrs(c2.Extras.Elements); got != MaxExtraAttrs {
			t.Errorf("%d kept attributes after a round trip, want %d", got, MaxExtraAttrs)
		}
	}
}

func countElementAttrs(es []*Element) int {
	n := 0
	for _, e := range es {
		n += len(e.Attrs) + countElementAttrs(e.Children)
	}
	return n
}

// TestReadRootLinear: ReadRoot's checks do work linear in the document. The bytes it allocates,
// which were a scope of all the root's declarations per pair of attributes compared, grow about
// as the document when it doubles.
func TestReadRootLinear(t *testing.T) {
	for _, tt := range []struct {
		name string
		doc  func(n int) []byte
	}{
		{"one local name in many namespaces", sameNameAttrs},
		{"many declarations over many elements", declaredThenPairs},
	} {
		t.Run(tt.name, func(t *testing.T) {
			allocated := func(n int) uint64 {
				doc := tt.doc(n)
				if _, err := ReadRoot(doc); err != nil {
					t.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				_, _ = ReadRoot(doc)
				runtime.ReadMemStats(&after)
				return after.TotalAlloc - before.TotalAlloc
			}
			small, large := allocated(128), allocated(256)
			if float64(large) > 3*float64(small) {
				t.Errorf("allocated bytes grow from %d to %d when the document doubles", small, large)
			}
		})
	}
}

// TestLookupPrefixAllocatesNothing: resolving a prefix reads the declarations in place.
func TestLookupPrefixAllocatesNothing(t *testing.T) {
	root, err := ReadRoot(declaredThenPairs(64))
	if err != nil {
		t.Fatal(err)
	}
	el := root.ChildElements()[63]
	for _, tt := range []struct {
		prefix, want string
		ok           bool
	}{{"p0", "urn:x:0", true}, {"p63", "urn:x:63", true}, {"", NS, true}, {"q", "", false}, {"xml", NSXML, true}} {
		if got, ok := LookupPrefix(el, tt.prefix); got != tt.want || ok != tt.ok {
			t.Errorf("LookupPrefix(%q) = %q, %v, want %q, %v", tt.prefix, got, ok, tt.want, tt.ok)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _, _ = LookupPrefix(el, "p63") }); n != 0 {
		t.Errorf("LookupPrefix allocates %.0f times", n)
	}
}

// TestManyAORDetails: with more details than associated-aors entries can be compared against
// cheaply, each AOR is still written with its first details entry.
func TestManyAORDetails(t *testing.T) {
	u := &User{Entity: "sip:u@example.com"}
	for i := range 20 {
		uri := fmt.Sprintf("sip:a%d@example.com", i)
		u.AssociatedAORs = append(u.AssociatedAORs, uri)
		if i%2 == 0 {
			u.AORDetails = append(u.AORDetails, URIEntry{URI: uri, DisplayText: fmt.Sprint("d", i)})
		}
	}
	u.AORDetails = append(u.AORDetails, URIEntry{URI: "sip:a0@example.com", DisplayText: "second"})
	var b bytes.Buffer
	if err := u.Encode(&b); err != nil {
		t.Fatal(err)
	}
	u2, err := DecodeUser(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(u2.AssociatedAORs) != 20 || len(u2.AORDetails) != 10 {
		t.Fatalf("%d AORs, %d details after a round trip, want 20, 10", len(u2.AssociatedAORs), len(u2.AORDetails))
	}
	for i, d := range u2.AORDetails {
		if want := fmt.Sprint("d", 2*i); d.DisplayText != want {
			t.Errorf("details %d: display text %q, want %q", i, d.DisplayText, want)
		}
	}
}
