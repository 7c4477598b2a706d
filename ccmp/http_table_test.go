package ccmp_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/xcon"
)

// TestHTTPBinding: the HTTP binding of RFC 6503 §9 on the handler itself: what is not CCMP gets
// an HTTP error, everything else (a CCMP error included) HTTP 200, never cached.
func TestHTTPBinding(t *testing.T) {
	f, _ := focustest.Start(t, focus.RoomSpec{Name: "room"})
	h := ccmp.NewHandler(ccmp.HandlerConfig{Domain: focustest.Domain, Logger: focustest.Quiet}, f)
	valid, err := os.ReadFile(filepath.Join("..", "testdata", "spec", "ccmp-examples", "corrected", "08-rfc6503-options-request.xml"))
	if err != nil {
		t.Fatal(err)
	}
	big := append([]byte(`<?xml version="1.0"?><!--`), bytes.Repeat([]byte("x"), 70<<10)...)
	for _, tc := range []struct {
		name, method, contentType, accept string
		header                            [2]string
		body                              []byte
		want                              int
	}{
		{"ok, no Accept", "POST", "application/ccmp+xml", "", [2]string{}, valid, 200},
		{"ok, charset", "POST", "application/ccmp+xml; charset=utf-8", "application/ccmp+xml", [2]string{}, valid, 200},
		{"ok, */*", "POST", "application/ccmp+xml", "text/html, */*;q=0.1", [2]string{}, valid, 200},
		{"ok, application/*", "POST", "application/ccmp+xml", "application/*", [2]string{}, valid, 200},
		{"wrong media type", "POST", "application/xml", "", [2]string{}, valid, 415},
		{"no media type", "POST", "", "", [2]string{}, valid, 415},
		{"not acceptable", "POST", "application/ccmp+xml", "text/html", [2]string{}, valid, 406},
		{"refused with q=0", "POST", "application/ccmp+xml", "application/ccmp+xml;q=0", [2]string{}, valid, 406},
		{"GET", "GET", "", "", [2]string{}, nil, 405},
		{"conditional", "POST", "application/ccmp+xml", "", [2]string{"If-Match", `"1"`}, valid, 412},
		{"too large", "POST", "application/ccmp+xml", "", [2]string{}, big, 413},
		{"not XML: CCMP 400 in HTTP 200", "POST", "application/ccmp+xml", "", [2]string{}, []byte("hello"), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/ccmp", bytes.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.header[0] != "" {
				req.Header.Set(tc.header[0], tc.header[1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if tc.want == 200 && w.Header().Get("Content-Type") != ccmp.MediaType+"; charset=utf-8" {
				t.Fatalf("Content-Type %q", w.Header().Get("Content-Type"))
			}
		})
	}
}

// TestRequestCodes: CCMP requests through the handler on an HTTP listener, one a row, and the
// response code each gets (RFC 6503 §5.4).
func TestRequestCodes(t *testing.T) {
	_, c := newServer(t)
	room, nowhere, other := "xcon:room@example.net", "xcon:nowhere@example.net", "xcon:room@example.org"
	for _, tc := range []struct {
		name string
		user string // confUserID; "" the administrator's
		req  ccmp.Request
		want int
	}{
		{"options", "", ccmp.Request{Type: ccmp.TypeOptions}, ccmp.CodeSuccess},
		{"blueprints", "", ccmp.Request{Type: ccmp.TypeBlueprints}, ccmp.CodeSuccess},
		{"room retrieved", "", ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpRetrieve}, ccmp.CodeSuccess},
		{"no such room", "", ccmp.Request{Type: ccmp.TypeConf, ConfObjID: nowhere, Operation: ccmp.OpRetrieve}, ccmp.CodeNotFound},
		{"conf without confObjID", "", ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpRetrieve}, ccmp.CodeBadRequest},
		{"conf without operation", "", ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room}, ccmp.CodeBadRequest},
		{"users of the room", "", ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpRetrieve}, ccmp.CodeSuccess},
		{"unknown user", "", ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpRetrieve,
			Info: userInfo("xcon-userid:ghost@example.com")}, ccmp.CodeUserNotFound},
		{"malformed confUserID", "not a user id", ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpRetrieve}, ccmp.CodeInvalidConfUserID},
		{"confUserID with a space", "xcon-userid:bad user@example.com", ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpRetrieve}, ccmp.CodeInvalidConfUserID},
		{"room of another domain", "", ccmp.Request{Type: ccmp.TypeConf, ConfObjID: other, Operation: ccmp.OpRetrieve}, ccmp.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.HasBody = req.Type != ccmp.TypeOptions
			req.ConfUserID = c.UserID
			if tc.user != "" {
				req.ConfUserID = tc.user
			}
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

func userInfo(entity string) *etree.Element {
	info := etree.NewElement("userInfo")
	info.CreateAttr("xmlns:info", xcon.NS)
	info.CreateAttr("entity", entity)
	return info
}
