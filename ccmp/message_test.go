package ccmp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const examples = "../testdata/spec/ccmp-examples/corrected"

// TestDecodeExamples: every corrected RFC 6503/6504 request decodes, with its type,
// operation and specialised content.
func TestDecodeExamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(examples, "*-request.xml"))
	if len(files) < 30 {
		t.Fatalf("found %d example requests", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		req, err := DecodeRequest(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if !req.HasBody && req.Type != TypeOptions {
			t.Errorf("%s: no specialised element", filepath.Base(f))
		}
		var out bytes.Buffer
		if err := req.Encode(&out); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRequest(&out)
		if err != nil || again.Type != req.Type || again.Operation != req.Operation || again.ConfObjID != req.ConfObjID ||
			again.ConfUserID != req.ConfUserID || (again.Info == nil) != (req.Info == nil) || again.ExtensionName != req.ExtensionName {
			t.Errorf("%s: re-encoded request differs: %v %+v", filepath.Base(f), err, again)
		}
	}
}

const envelope1 = `<?xml version="1.0"?>
<%s:ccmpRequest xmlns:%s="urn:ietf:params:xml:ns:xcon-ccmp" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
 <ccmpRequest i:type="%s:ccmp-conf-request-message-type">
  <confUserID>xcon-userid:alice@example.com</confUserID>
  <confObjID>xcon:lobby@example.com</confObjID>
  <operation>retrieve</operation>
  <%s:confRequest/>
 </ccmpRequest>
</%s:ccmpRequest>
`

func TestDecodeRequestNamespaces(t *testing.T) {
	for _, prefix := range []string{"ccmp", "xcon-ccmp", "p"} {
		doc := strings.ReplaceAll(envelope1, "%s", prefix)
		req, err := DecodeRequest(strings.NewReader(doc))
		if err != nil || req.Type != TypeConf || req.Operation != OpRetrieve || req.ConfObjID != "xcon:lobby@example.com" {
			t.Errorf("prefix %s: %v %+v", prefix, err, req)
		}
	}
	// The default namespace on the root makes the inner elements CCMP-qualified; accepted.
	def := `<ccmpRequest xmlns="urn:ietf:params:xml:ns:xcon-ccmp" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <ccmpRequest xsi:type="ccmp-options-request-message-type"><confUserID>xcon-userid:a@b</confUserID></ccmpRequest></ccmpRequest>`
	if req, err := DecodeRequest(strings.NewReader(def)); err != nil || req.Type != TypeOptions {
		t.Errorf("default namespace: %v %+v", err, req)
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	good := strings.ReplaceAll(envelope1, "%s", "ccmp")
	tests := []struct{ name, doc string }{
		{"not XML", "hello"},
		{"two roots", good + "<x/>"},
		{"trailing text", good + "junk"},
		{"wrong root namespace", strings.Replace(good, "urn:ietf:params:xml:ns:xcon-ccmp", "urn:ietf:params:xml:ns:xcon:ccmp", 1)},
		{"xsi:type in another namespace", strings.Replace(good, `i:type="ccmp:`, `i:type="i:`, 1)},
		{"unknown type", strings.Replace(good, "ccmp-conf-request", "ccmp-bogus-request", 1)},
		{"undeclared prefix", strings.Replace(good, `i:type="ccmp:`, `i:type="zz:`, 1)},
		{"no specialised element", strings.Replace(good, "<ccmp:confRequest/>", "", 1)},
		{"bad operation", strings.Replace(good, ">retrieve<", ">fetch<", 1)},
		{"duplicate confObjID", strings.Replace(good, "<operation>", "<confObjID>x</confObjID><operation>", 1)},
		{"unclosed", strings.Replace(good, "</ccmpRequest>\n", "", 1)},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + strings.Replace(good[strings.Index(good, "\n")+1:], "retrieve", "&x;", 1)},
		{"too deep", "<a>" + strings.Repeat("<b>", 100) + strings.Repeat("</b>", 100) + "</a>"},
	}
	for _, tc := range tests {
		if _, err := DecodeRequest(strings.NewReader(tc.doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", tc.name, err)
		}
	}
}

// FuzzDecodeRequest: no input makes the decoder panic, and whatever decodes re-encodes into
// something that decodes to the same message type.
func FuzzDecodeRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examples, "*-request.xml"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(strings.ReplaceAll(envelope1, "%s", "x")))
	for _, b := range malformedCCMP(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := req.Encode(&out); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRequest(&out)
		if err != nil || again.Type != req.Type {
			t.Fatalf("re-encoded request: %v\n%s", err, out.Bytes())
		}
	})
}

func TestAutogen(t *testing.T) {
	a := newAutogen("example.com")
	if ph, err := a.identifier("xcon:AUTO_GENERATE_1@example.com"); err != nil || ph != "AUTO_GENERATE_1" {
		t.Fatalf("identifier: %q %v", ph, err)
	}
	var ce *Error
	if _, err := a.identifier("xcon-userid:AUTO_GENERATE_2@elsewhere.org"); !errors.As(err, &ce) || ce.Code != CodeInvalidDomain {
		t.Fatalf("foreign domain: %v", err)
	}
	x, y := a.replace("AUTO_GENERATE_3"), a.replace("label AUTO_GENERATE_3")
	if strings.Contains(x, "AUTO") || y != "label "+x || a.replace("AUTO_GENERATE_4") == x {
		t.Fatalf("replace: %q %q", x, y)
	}
}
