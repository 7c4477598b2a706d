package xcon

import (
	"bytes"
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// fillRows gives every leaf row of s a value of its kind; parts are filled by
// the caller.
func fillRows[T any](s *structure[T], t *T) {
	for i := range s.fields {
		f := &s.fields[i]
		switch f.kind {
		case attrField, textField:
			*f.str(t) = "v-" + f.name.Local
		case uint64Attr:
			*f.u64(t) = 7
		case boolField:
			*f.flag(t) = ptr(true)
		case uintField:
			*f.count(t) = ptr(uint32(3))
		case wordsField:
			*f.words(t) = []string{"a", "b"}
		}
	}
}

// mutateRows changes every leaf row of s in place: through a pointer or a
// slice element where the kind has one.
func mutateRows[T any](s *structure[T], t *T) {
	for i := range s.fields {
		f := &s.fields[i]
		switch f.kind {
		case boolField:
			if p := *f.flag(t); p != nil {
				*p = !*p
			}
		case uintField:
			if p := *f.count(t); p != nil {
				*p++
			}
		case wordsField:
			if w := *f.words(t); len(w) > 0 {
				w[0] = "changed"
			}
		}
	}
}

// rowNames lists the names of s's rows with their kind, for the coverage check.
func rowNames[T any](s *structure[T]) (attrs, elems []xml.Name) {
	for _, f := range s.fields {
		switch f.kind {
		case attrField, uint64Attr:
			attrs = append(attrs, f.name)
		default:
			elems = append(elems, f.name)
		}
	}
	return attrs, elems
}

// fullConference sets every row of every table.
func fullConference() *Conference {
	uri := func() URIEntry {
		var u URIEntry
		fillRows(uriSchema, &u)
		u.Modified = execution()
		return u
	}
	var ch Channel
	fillRows(channelSchema, &ch)
	var d Description
	fillRows(descriptionSchema, &d)
	d.ConfURIs, d.ServiceURIs = []URIEntry{uri()}, []URIEntry{uri()}
	d.Media = []Channel{ch}
	d.ConferenceTime = &Element{Name: xc("conference-time"), Children: []*Element{{Name: xc("entry"), Text: "x"}}}

	var h HostInfo
	fillRows(hostInfoSchema, &h)
	h.URIs = []URIEntry{uri()}
	var st ConferenceState
	fillRows(stateSchema, &st)

	var m Media
	fillRows(mediaSchema, &m)
	var sip SIPDialogID
	fillRows(sipSchema, &sip)
	ep := &Endpoint{}
	fillRows(endpointSchema, ep)
	ep.Referred, ep.JoiningInfo, ep.DisconnectionInfo = execution(), execution(), execution()
	ep.Media = []Media{m}
	ep.CallInfo = &CallInfo{SIP: &sip}

	u := &User{}
	fillRows(userSchema, u)
	detail := uri()
	u.AssociatedAORs, u.AORDetails = []string{detail.URI}, []URIEntry{detail}
	u.Roles = []string{"participant"}
	u.Endpoints = []*Endpoint{ep}

	c := &Conference{}
	fillRows(conferenceSchema, c)
	fillRows(usersSchema, c)
	c.Description, c.HostInfo, c.State = d, &h, st
	c.Users = []*User{u}
	c.AllowedUsers = []Target{{URI: "sip:a@example.com", Method: "dial-in"}}
	c.PersistentUsers = []PersistentUser{{Name: "n", Nickname: "k", ID: "i", Email: []string{"e@example.com"}}}
	c.DenyUsers = []Target{{URI: "sip:m@example.com"}}
	c.SidebarsByRef = []URIEntry{uri()}
	c.SidebarsByVal = []*Conference{{Entity: "xcon:side@example.com", Description: Description{DisplayText: "side"}}}
	c.FloorInformation = &Element{Name: xc("floor-information"), Children: []*Element{{Name: xc("conference-ID"), Text: "1"}}}
	return c
}

func execution() *Execution {
	var x Execution
	fillRows(executionSchema, &x)
	return &x
}

// TestSchemaRoundTrip: every row of every table survives encode→decode, and a
// clone is equal to the original and shares nothing with it.
func TestSchemaRoundTrip(t *testing.T) {
	c := fullConference()
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	got, err := Decode(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("decode(encode(c)) differs from c\n%s", doc)
	}

	// Every row is written: its name appears in the document.
	canon := canonical(t, buf.Bytes())
	check := func(table string, attrs, elems []xml.Name) {
		for _, n := range attrs {
			if !strings.Contains(canon, "{"+n.Space+"}"+n.Local+"=") {
				t.Errorf("%s: attribute {%s}%s is not written", table, n.Space, n.Local)
			}
		}
		for _, n := range elems {
			if n.Space == NSParley { // kept with the extras
				continue
			}
			if !strings.Contains(canon, "{"+n.Space+"}"+n.Local+" ") {
				t.Errorf("%s: element {%s}%s is not written", table, n.Space, n.Local)
			}
		}
	}
	for name, rows := range map[string]func() ([]xml.Name, []xml.Name){
		"conference":  func() ([]xml.Name, []xml.Name) { return rowNames(conferenceSchema) },
		"description": func() ([]xml.Name, []xml.Name) { return rowNames(descriptionSchema) },
		"channel":     func() ([]xml.Name, []xml.Name) { return rowNames(channelSchema) },
		"uri":         func() ([]xml.Name, []xml.Name) { return rowNames(uriSchema) },
		"execution":   func() ([]xml.Name, []xml.Name) { return rowNames(executionSchema) },
		"host-info":   func() ([]xml.Name, []xml.Name) { return rowNames(hostInfoSchema) },
		"state":       func() ([]xml.Name, []xml.Name) { return rowNames(stateSchema) },
		"users":       func() ([]xml.Name, []xml.Name) { return rowNames(usersSchema) },
		"user":        func() ([]xml.Name, []xml.Name) { return rowNames(userSchema) },
		"endpoint":    func() ([]xml.Name, []xml.Name) { return rowNames(endpointSchema) },
		"media":       func() ([]xml.Name, []xml.Name) { return rowNames(mediaSchema) },
		"sip":         func() ([]xml.Name, []xml.Name) { return rowNames(sipSchema) },
	} {
		a, e := rows()
		check(name, a, e)
	}

	// Clone: equal, then independent of the original in every leaf.
	cl := c.Clone()
	if !reflect.DeepEqual(cl, c) {
		t.Fatal("clone differs from the original")
	}
	mutateRows(descriptionSchema, &cl.Description)
	mutateRows(stateSchema, &cl.State)
	mutateRows(userSchema, cl.Users[0])
	cl.Description.Media[0].Label = "changed"
	cl.Description.ConfURIs[0].Modified.When = "changed"
	cl.HostInfo.URIs[0].URI = "changed"
	cl.Users[0].Roles[0] = "changed"
	cl.Users[0].AORDetails[0].Purpose = "changed"
	cl.Users[0].Endpoints[0].Media[0].Status = "changed"
	cl.Users[0].Endpoints[0].CallInfo.SIP.CallID = "changed"
	cl.Users[0].Endpoints[0].JoiningInfo.By = "changed"
	cl.PersistentUsers[0].Email[0] = "changed"
	cl.DenyUsers[0].URI = "changed"
	cl.SidebarsByVal[0].Description.DisplayText = "changed"
	cl.FloorInformation.Children[0].Text = "changed"
	cl.Description.ConferenceTime.Children[0].Text = "changed"
	if !reflect.DeepEqual(c, fullConference()) {
		t.Error("changing the clone changed the original")
	}
}

// TestSchemaRFCExamples: the RFC examples decode, re-encode and decode to the
// same object, and clone to an equal one.
func TestSchemaRFCExamples(t *testing.T) {
	for _, name := range []string{
		"90-rfc6504-conference-object-main.xml",
		"91-rfc6504-conference-object-callcenter.xml",
		"92-rfc6501-conference-object-example.xml",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Decode(bytes.NewReader(readExample(t, name)))
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(bytes.NewReader(encode(t, c)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, c) {
				t.Error("decode→encode→decode differs")
			}
			if !reflect.DeepEqual(c.Clone(), c) {
				t.Error("clone differs")
			}
		})
	}
}

// TestSchemaRepeatedLeaf: a repeated leaf keeps its first value and the
// repeat as an extra, whatever its kind.
func TestSchemaRepeatedLeaf(t *testing.T) {
	doc := `<conference-info xmlns="` + NS + `" xmlns:x="` + NSXcon + `" entity="xcon:a@example.com"><conference-description>` +
		`<display-text>one</display-text><display-text>two</display-text>` +
		`<maximum-user-count>5</maximum-user-count><maximum-user-count>6</maximum-user-count>` +
		`<x:allow-sidebars>true</x:allow-sidebars><x:allow-sidebars>false</x:allow-sidebars>` +
		`</conference-description></conference-info>`
	c, err := Decode(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Description
	if d.DisplayText != "one" || *d.MaximumUserCount != 5 || !*d.AllowSidebars || len(d.Extras.Elements) != 3 {
		t.Errorf("got %q %d %v, %d extras", d.DisplayText, *d.MaximumUserCount, *d.AllowSidebars, len(d.Extras.Elements))
	}
}
