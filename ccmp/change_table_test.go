package ccmp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/xcon"
)

// The principals of TestChangeCodes: the server's administrator, and users whose rights are the
// roles the room gives them (RFC 6501 §4.6.5.2; their rights are policy, RFC 6503 §10.2).
const (
	adminID = "xcon-userid:admin@example.net"
	modID   = "xcon-userid:mod@example.com"   // moderator of the room
	bobID   = "xcon-userid:bob@example.com"   // participant
	eveID   = "xcon-userid:eve@example.com"   // not in the room
	carolID = "xcon-userid:carol@example.com" // not in the room
)

// byRoles takes confUserID as it comes: adminID administers the server, anyone else is whatever
// the room makes him.
func byRoles(_ *http.Request, req *ccmp.Request) (*ccmp.Principal, error) {
	return &ccmp.Principal{UserID: req.ConfUserID, Admin: req.ConfUserID == adminID}, nil
}

// confInfo is a confInfo of entity (none when "") that sets the display-text.
func confInfo(entity, title string) *etree.Element {
	info := etree.NewElement("confInfo")
	info.CreateAttr("xmlns:info", xcon.NS)
	if entity != "" {
		info.CreateAttr("entity", entity)
	}
	info.CreateElement("info:conference-description").CreateElement("info:display-text").SetText(title)
	return info
}

// allowing is a usersInfo whose allowed-users-list is the SIP URI uri (RFC 6501 §4.6.3).
func allowing(uri string) *etree.Element {
	info := etree.NewElement("usersInfo")
	info.CreateAttr("xmlns:xcon", xcon.NSXcon)
	target := info.CreateElement("xcon:allowed-users-list").CreateElement("xcon:target")
	target.CreateAttr("method", "dial-in")
	target.CreateAttr("uri", uri)
	return info
}

// nicknamed is a userInfo of entity with a nickname.
func nicknamed(entity, nickname string) *etree.Element {
	return (&xcon.User{Entity: entity, Nickname: nickname}).Element("userInfo")
}

// closing is a setup that creates the room create, then closes the room closed with the room
// successor as where it continues (extended.go).
func closing(create, closed, successor string) func(*testing.T, *ccmp.Client) {
	return func(t *testing.T, c *ccmp.Client) {
		t.Helper()
		if _, err := c.CreateRoom(context.Background(), ccmp.RoomSpec{Name: create}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CloseRoom(context.Background(), closed, "sip:"+successor+"@example.net"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestChangeCodes: the CCMP requests that change something (RFC 6503 §5.3.4-§5.3.6: create,
// update and delete of conferences, their users container and their users) through the handler
// on an HTTP listener, one a row on a room of its own, and the response code each gets (§5.4):
// who may make each change, what each needs, and what stops it.
func TestChangeCodes(t *testing.T) {
	room, nowhere := "xcon:room@example.net", "xcon:nowhere@example.net"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, c *ccmp.Client) // after mod and bob are added
		user  string                             // confUserID
		req   ccmp.Request                       // confUserID and HasBody set by the test
		want  int
	}{
		// confRequest (§5.3.4)
		{name: "conf create, default blueprint", user: adminID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate}},
		{name: "conf create from confInfo", user: adminID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, Info: confInfo("xcon:new@example.net", "New")}},
		{name: "conf create, name taken", user: adminID, want: ccmp.CodeConflict,
			req: ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, Info: confInfo(room, "Again")}},
		{name: "conf create, clone and confInfo", user: adminID, want: ccmp.CodeBadRequest,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpCreate, Info: confInfo("xcon:new@example.net", "New")}},
		{name: "conf create, no such blueprint", user: adminID, want: ccmp.CodeNotFound,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: "xcon:nothing@blueprints.example.net", Operation: ccmp.OpCreate}},
		{name: "conf create in another domain", user: adminID, want: ccmp.CodeInvalidDomain,
			req: ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, Info: confInfo("xcon:new@example.org", "New")}},
		{name: "conf create, room name refused", user: adminID, want: ccmp.CodeBadRequest,
			req: ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, Info: confInfo("xcon:"+strings.Repeat("n", 65)+"@example.net", "Long")}},
		{name: "conf update by an administrator", user: adminID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpUpdate, Info: confInfo(room, "Renamed")}},
		{name: "conf update by a moderator", user: modID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpUpdate, Info: confInfo(room, "Renamed")}},
		{name: "conf update by a participant", user: bobID, want: ccmp.CodeUnauthorized,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpUpdate, Info: confInfo(room, "Renamed")}},
		{name: "conf update without confInfo", user: adminID, want: ccmp.CodeBadRequest,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpUpdate}},
		{name: "conf update, confInfo of another room", user: adminID, want: ccmp.CodeBadRequest,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpUpdate, Info: confInfo("xcon:other@example.net", "Renamed")}},
		{name: "conf update, no such room", user: adminID, want: ccmp.CodeNotFound,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: nowhere, Operation: ccmp.OpUpdate, Info: confInfo("", "Renamed")}},
		{name: "conf delete by an administrator", user: adminID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpDelete}},
		{name: "conf delete by a moderator", user: modID, want: ccmp.CodeUnauthorized,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpDelete}},
		{name: "conf delete, no such room", user: adminID, want: ccmp.CodeNotFound,
			req: ccmp.Request{Type: ccmp.TypeConf, ConfObjID: nowhere, Operation: ccmp.OpDelete}},
		{name: "conf delete, the successor of a closed room", user: adminID, want: ccmp.CodeForbiddenDeleteParent,
			setup: closing("old", "old", "room"),
			req:   ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpDelete}},

		// usersRequest (§5.3.5)
		{name: "users update by a moderator", user: modID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpUpdate, Info: allowing("sip:carol@example.com")}},
		{name: "users update by a participant", user: bobID, want: ccmp.CodeForbiddenChange,
			req: ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpUpdate, Info: allowing("sip:carol@example.com")}},
		{name: "users update without usersInfo", user: adminID, want: ccmp.CodeBadRequest,
			req: ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpUpdate}},
		{name: "users create", user: adminID, want: ccmp.CodeForbidden,
			req: ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpCreate, Info: allowing("sip:carol@example.com")}},
		{name: "users delete", user: adminID, want: ccmp.CodeForbidden,
			req: ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpDelete}},

		// userRequest (§5.3.6)
		{name: "user added by a moderator", user: modID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, Info: userInfo(carolID)}},
		{name: "user joins by himself", user: eveID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate}},
		{name: "user added by a participant", user: bobID, want: ccmp.CodeUnauthorized,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, Info: userInfo(carolID)}},
		{name: "user added twice", user: adminID, want: ccmp.CodeConflict,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, Info: userInfo(bobID)}},
		{name: "user added, not an XCON-USERID", user: adminID, want: ccmp.CodeUserNotFound,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, Info: userInfo("sip:carol@example.com")}},
		{name: "user added to a closed room", user: adminID, want: ccmp.CodeNotFound, // as every answer about it (extended.go)
			setup: closing("next", "room", "next"),
			req:   ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, Info: userInfo(carolID)}},
		{name: "user updates himself", user: bobID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, Info: nicknamed(bobID, "robert")}},
		{name: "user updated by a moderator", user: modID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, Info: nicknamed(bobID, "robert")}},
		{name: "user updated by a participant", user: bobID, want: ccmp.CodeUnauthorized,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, Info: nicknamed(modID, "boss")}},
		{name: "user update without userInfo", user: bobID, want: ccmp.CodeBadRequest,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate}},
		{name: "user update, not in the room", user: adminID, want: ccmp.CodeUserNotFound,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, Info: nicknamed(eveID, "eve")}},
		{name: "user removed by a moderator", user: modID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpDelete, Info: userInfo(bobID)}},
		{name: "user leaves", user: bobID, want: ccmp.CodeSuccess,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpDelete}},
		{name: "user removed by a participant", user: bobID, want: ccmp.CodeUnauthorized,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpDelete, Info: userInfo(modID)}},
		{name: "user removed, not in the room", user: adminID, want: ccmp.CodeUserNotFound,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpDelete, Info: userInfo(eveID)}},
		{name: "user removed, no such room", user: adminID, want: ccmp.CodeNotFound,
			req: ccmp.Request{Type: ccmp.TypeUser, ConfObjID: nowhere, Operation: ccmp.OpDelete, Info: userInfo(bobID)}},

		// blueprintRequest (§5.3.3): read-only here.
		{name: "blueprint update", user: adminID, want: ccmp.CodeForbidden,
			req: ccmp.Request{Type: ccmp.TypeBlueprint, ConfObjID: "xcon:chat@blueprints.example.net", Operation: ccmp.OpUpdate,
				Info: confInfo("", "Mine")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newServerWith(t, byRoles)
			for _, u := range []*xcon.User{{Entity: modID, Roles: []string{"moderator"}}, {Entity: bobID, Roles: []string{"participant"}}} {
				if _, err := c.Do(context.Background(), &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate,
					HasBody: true, Info: u.Element("userInfo")}); err != nil {
					t.Fatalf("adding %s: %v", u.Entity, err)
				}
			}
			if tc.setup != nil {
				tc.setup(t, c)
			}
			req := tc.req
			req.HasBody, req.ConfUserID = true, tc.user
			resp, _, err := c.Exchange(context.Background(), &req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Code != tc.want {
				t.Fatalf("CCMP %d %s, want %d", resp.Code, resp.Reason, tc.want)
			}
		})
	}
}
