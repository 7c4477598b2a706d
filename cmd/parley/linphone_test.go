package main

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// organizerAOR returns the SIP associated-aor of a user of c with the role organizer, "" when
// no such user exists (liblinphone refuses such a conference object).
func organizerAOR(c *xcon.Conference) string {
	for _, u := range c.Users {
		if !slices.Contains(u.Roles, "organizer") {
			continue
		}
		for _, a := range u.AssociatedAORs {
			if strings.HasPrefix(a, "sip:") || strings.HasPrefix(a, "sips:") {
				return a
			}
		}
	}
	return ""
}

// TestCCMPProvisionedRoomsHaveOrganizer: a room of parley.yaml names its owner as an organizer
// with a SIP associated-aor in a conf retrieve: the administrator identity by default, the
// room's owner key when set; a stored room that lost its organizer gets it back on restart.
func TestCCMPProvisionedRoomsHaveOrganizer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Rooms = append(cfg.Rooms, configs.Room{Name: "desk", Owner: "boss"}, configs.Room{Name: "ops", Owner: "sip:carol@corp.example"})
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	d := startConfigured(t, cfg)
	p := newCCMPPeer(t, d)
	for room, want := range map[string]string{"lobby": "sip:admin@example.net", "desk": "sip:boss@example.net", "ops": "sip:carol@corp.example"} {
		c := p.retrieveConf("xcon:" + room + "@example.net")
		if got := organizerAOR(c); got != want {
			t.Errorf("%s: organizer %q, want %q (users %+v)", room, got, want, c.Users)
		}
		u := c.User(xcon.UserIDFromAOR(want))
		if u == nil || !slices.Contains(u.Roles, "administrator") {
			t.Errorf("%s: owner %+v is not the room's administrator", room, u)
		}
	}
	// A room created over CCMP by a confUserID without a domain: its creator is the organizer,
	// at the room's domain.
	p.createRoomAs("xcon-userid:marie", "bare")
	if got := organizerAOR(p.retrieveConf("xcon:bare@example.net")); got != "sip:marie@example.net" {
		t.Errorf("room of xcon-userid:marie: organizer %q", got)
	}
	// The lobby of an earlier version: nobody in it is an organizer.
	update(t, d, "lobby", func(c *xcon.Conference) error { c.Users = nil; return nil })
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
	d = startConfigured(t, cfg)
	defer d.shutdown()
	p = newCCMPPeer(t, d)
	if got := organizerAOR(p.retrieveConf("xcon:lobby@example.net")); got != "sip:admin@example.net" {
		t.Fatalf("lobby after restart: organizer %q", got)
	}
}

// TestCCMPCalendarForm: the iCalendar of conference-time, sent with blanks before it, LF line
// ends and no start, is answered for a create, an update and a retrieve after a restart
// starting at BEGIN:VCALENDAR, with CRLF line ends once parsed as XML, and with a VEVENT that
// has a DTSTART; every answer validates against the RFC schemas.
func TestCCMPCalendarForm(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	p := newCCMPPeer(t, d)
	confInfo := func(entity, ics string) string {
		return `<confInfo entity="` + entity + `">
      <conference-info:conference-description>
        <conference-info:subject>Planning</conference-info:subject>
        <xcon-conference-info:conference-time><xcon-conference-info:entry>
          <xcon-conference-info:base>` + ics + `</xcon-conference-info:base>
        </xcon-conference-info:entry></xcon-conference-info:conference-time>
      </conference-info:conference-description>
    </confInfo>`
	}
	post := func(step string, body []byte) string {
		t.Helper()
		res, err := http.Post(p.url, "application/ccmp+xml", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		p.validate(raw)
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(raw); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if code := doc.FindElement("//response-code"); code == nil || code.Text() != "200" {
			t.Fatalf("%s: %s", step, raw)
		}
		base := doc.FindElement("//conference-time/entry/base")
		if base == nil {
			t.Fatalf("%s: no conference-time in %s", step, raw)
		}
		ics := base.Text()
		if !strings.HasPrefix(ics, "BEGIN:VCALENDAR\r\n") || !strings.HasSuffix(ics, "END:VCALENDAR\r\n") {
			t.Fatalf("%s: iCalendar does not run from BEGIN:VCALENDAR to END:VCALENDAR CRLF: %q", step, ics)
		}
		if strings.Count(ics, "\n") != strings.Count(ics, "\r\n") || strings.Count(ics, "\r") != strings.Count(ics, "\r\n") {
			t.Fatalf("%s: line ends are not all CRLF: %q", step, ics)
		}
		_, event, ok := strings.Cut(ics, "\r\nBEGIN:VEVENT\r\n")
		if event, _, _ = strings.Cut(event, "END:VEVENT\r\n"); !ok || !strings.Contains("\r\n"+event, "\r\nDTSTART") {
			t.Fatalf("%s: no VEVENT with a DTSTART: %q", step, ics)
		}
		return ics
	}
	created := post("create", linphoneRequest("create", "", confInfo("xcon:plan@example.net",
		"\n            BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:test\nBEGIN:VEVENT\nUID:1\nSUMMARY:Planning\nEND:VEVENT\nEND:VCALENDAR\n          ")))
	if !strings.Contains(created, "SUMMARY:Planning\r\nDTSTART:") {
		t.Fatalf("create: DTSTART not added to the VEVENT: %q", created)
	}
	post("retrieve", linphoneRequest("retrieve", "xcon:plan@example.net", ""))
	// An update with a calendar without any VEVENT, written with CR LF by the client.
	updated := post("update", linphoneRequest("update", "xcon:plan@example.net", confInfo("xcon:plan@example.net",
		"  BEGIN:VCALENDAR&#xD;&#xA;VERSION:2.0&#xD;&#xA;PRODID:test&#xD;&#xA;END:VCALENDAR&#xD;&#xA;")))
	if !strings.Contains(updated, "UID:xcon:plan@example.net\r\n") {
		t.Fatalf("update: %q", updated)
	}
	// A calendar that has its start already is kept as it was sent.
	const withStart = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;TZID=Europe/Paris:20261201T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	if got := post("update with start", linphoneRequest("update", "xcon:plan@example.net", confInfo("xcon:plan@example.net",
		strings.ReplaceAll(withStart, "\r", "&#xD;")))); got != withStart {
		t.Fatalf("update with start: %q, want %q", got, withStart)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
	d = startConfigured(t, cfg)
	defer d.shutdown()
	p = newCCMPPeer(t, d)
	if got := post("retrieve after restart", linphoneRequest("retrieve", "xcon:plan@example.net", "")); got != withStart {
		t.Fatalf("after restart: %q, want %q", got, withStart)
	}
}

// createRoomAs creates the room name over CCMP with confUserID user.
func (p *ccmpPeer) createRoomAs(user, name string) {
	p.t.Helper()
	body := `<?xml version="1.0" encoding="UTF-8"?>
<ccmp:ccmpRequest xmlns:ccmp="urn:ietf:params:xml:ns:xcon-ccmp" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <ccmpRequest xsi:type="ccmp:ccmp-conf-request-message-type">
  <confUserID>` + user + `</confUserID>
  <operation>create</operation>
  <ccmp:confRequest><confInfo entity="xcon:` + name + `@` + p.domain + `"/></ccmp:confRequest>
 </ccmpRequest>
</ccmp:ccmpRequest>`
	if r := p.post([]byte(body)); r.Code != 200 {
		p.t.Fatalf("create %s as %s: %d %s", name, user, r.Code, r.Reason)
	}
}
