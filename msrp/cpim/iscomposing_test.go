package cpim

import (
	"errors"
	"testing"
)

func TestParseIsComposing(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want IsComposing
	}{
		{
			"RFC 3994 shape active",
			`<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <state>active</state>
  <contenttype>text/html</contenttype>
  <lastactive>2003-01-27T10:43:00Z</lastactive>
  <refresh>90</refresh>
</isComposing>`,
			IsComposing{State: StateActive, LastActive: "2003-01-27T10:43:00Z", ContentType: "text/html", Refresh: 90},
		},
		{"idle", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>idle</state></isComposing>`, IsComposing{State: StateIdle}},
		{"unknown state is idle", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>typing</state></isComposing>`, IsComposing{State: StateIdle}},
		{"prefixed", `<ic:isComposing xmlns:ic="urn:ietf:params:xml:ns:im-iscomposing"><ic:state> Active </ic:state></ic:isComposing>`, IsComposing{State: StateActive}},
		{"no namespace", `<isComposing><state>active</state><refresh>-3</refresh></isComposing>`, IsComposing{State: StateActive}},
		{"bad refresh ignored", `<isComposing><state>active</state><refresh>soon</refresh></isComposing>`, IsComposing{State: StateActive}},
		{"extension element", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><x:y xmlns:x="urn:x">1</x:y></isComposing>`, IsComposing{State: StateActive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIsComposing([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseIsComposing_Errors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"not xml":    "active",
		"wrong root": `<composing><state>active</state></composing>`,
		"wrong ns":   `<isComposing xmlns="urn:other"><state>active</state></isComposing>`,
		"no state":   `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"></isComposing>`,
		"unclosed":   `<isComposing><state>active</state>`,
		"entity":     `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><isComposing><state>&e;</state></isComposing>`,
		"too large":  `<isComposing><state>active</state>` + string(make([]byte, maxIsComposingSize)) + `</isComposing>`,
	} {
		if _, err := ParseIsComposing([]byte(in)); !errors.Is(err, ErrIsComposing) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestIsComposing_MarshalRoundTrip(t *testing.T) {
	for _, c := range []IsComposing{
		{State: StateActive, ContentType: "text/plain", Refresh: 60, LastActive: "2025-01-10T09:30:00Z"},
		{State: StateIdle},
		{State: "bogus", ContentType: "a<b&c"},
	} {
		back, err := ParseIsComposing(c.Marshal())
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		want := c
		if want.State != StateActive {
			want.State = StateIdle
		}
		if *back != want {
			t.Errorf("round trip %+v = %+v", c, *back)
		}
	}
}
