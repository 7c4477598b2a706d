package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/ccmp"
)

// TestCCMPOptionsListsEveryRequest: optionsResponse (RFC 6503 §5.3.11) names every request type
// the server answers, the sidebar ones included, and each listed request and operation is
// answered with something other than 501 on the wire.
func TestCCMPOptionsListsEveryRequest(t *testing.T) {
	d := startTestDaemon(t, nil)
	p := newCCMPPeer(t, d)
	lobby := "xcon:lobby@" + p.domain

	r := p.do(&ccmp.Request{Type: ccmp.TypeOptions})
	if r.Code != 200 || r.Options == nil {
		t.Fatalf("options: %d %s", r.Code, r.Reason)
	}
	want := []string{"blueprintsRequest", "blueprintRequest", "confsRequest", "confRequest", "usersRequest",
		"userRequest", "sidebarsByValRequest", "sidebarByValRequest", "sidebarsByRefRequest", "sidebarByRefRequest"}
	var got []string
	for _, m := range r.Options.Standard {
		got = append(got, m.Name)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("optionsResponse lacks %s (lists %v)", w, got)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	allOps := []string{ccmp.OpRetrieve, ccmp.OpCreate, ccmp.OpUpdate, ccmp.OpDelete}
	for _, m := range r.Options.Standard {
		typ := strings.TrimSuffix(m.Name, "Request")
		list := typ == ccmp.TypeBlueprints || typ == ccmp.TypeConfs || typ == ccmp.TypeSidebarsByVal || typ == ccmp.TypeSidebarsByRef
		ops := m.Operations
		switch {
		case list:
			ops = []string{""}
		case len(ops) == 0:
			ops = allOps
		}
		for _, op := range ops {
			req := &ccmp.Request{Type: typ, Operation: op, HasBody: true}
			switch {
			case typ == ccmp.TypeBlueprint:
				req.ConfObjID = "xcon:chat@blueprints." + p.domain
			case typ == ccmp.TypeSidebarByVal || typ == ccmp.TypeSidebarByRef:
				req.ConfObjID = lobby
				if op != ccmp.OpCreate {
					req.ConfObjID = "xcon:nosuchsidebar@" + p.domain
				}
			case typ != ccmp.TypeBlueprints && typ != ccmp.TypeConfs:
				req.ConfObjID = lobby
			}
			if typ == ccmp.TypeConf && op == ccmp.OpCreate {
				req.ConfObjID = ""
			}
			if typ == ccmp.TypeConf && op == ccmp.OpDelete {
				req.ConfObjID = "xcon:nosuchroom@" + p.domain
			}
			res := p.do(req)
			if res.Code == ccmp.CodeNotImplemented {
				t.Errorf("%s %q is listed but answered 501: %s", m.Name, op, res.Reason)
			}
		}
	}
}
