package ccmp

import (
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/corpus"
)

// malformedCCMP returns the inputs of the malformed-input corpus's CCMP cases.
func malformedCCMP(f *testing.F) [][]byte {
	cases, err := corpus.LoadDir(filepath.Join("..", "testdata", "malformed"), "ccmp.txt", "confinfo.txt")
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, c := range cases {
		out = append(out, c.Raw())
	}
	return out
}

// FuzzXPathFilter: whatever xpathFilter a client sends, compiling and matching it never panics
// and stays within the filter's budget (RFC 6504 §5.2 filters of blueprintsRequest and
// confsRequest).
func FuzzXPathFilter(f *testing.F) {
	for _, s := range []string{
		"/conference-info[conference-description/available-media/entry/type='audio' and conference-description/available-media/entry/type='video']",
		"/info:conference-info[info:conference-description/info:display-text='Talk']",
		"//user[@entity='xcon-userid:alice@example.com']/roles/entry='administrator'",
		"/conference-info/@entity='xcon:talk@example.com'", "//*", "count(//*)", "/..", "//@*", "//text()",
		"//*[count(//*) > 0][count(//*) > 0][count(//*) > 0]", "((((1))))", "/conference-info[[[",
	} {
		f.Add(s)
	}
	filter := regexp.MustCompile(`(?s)<xpathFilter>(.*?)</xpathFilter>`)
	for _, b := range malformedCCMP(f) {
		for _, m := range filter.FindAllSubmatch(b, -1) {
			f.Add(string(m[1]))
		}
	}
	room := filterRoom()
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := compileFilter(s, time.Now().Add(time.Second))
		if err != nil || flt == nil { // nil: no filter (blank), which callers skip
			return
		}
		_, _ = flt.match(room)
	})
}

// FuzzAuthorization: an Authorization header of any shape, Digest or Basic, never panics the
// CCMP credential check and never authenticates without the user's password.
func FuzzAuthorization(f *testing.F) {
	for _, s := range []string{
		`Digest username="alice", realm="example.net", nonce="abc", uri="/ccmp", qop=auth, nc=00000001, cnonce="x", response="0123456789abcdef0123456789abcdef"`,
		`Digest username=alice,realm=example.net,nonce=,uri=/ccmp,qop=auth,nc=zz,response=`,
		`Digest username="a\"b", realm="example.net\\", nonce="` + "\x00" + `"`,
		`Digest ,,,=,=",`, `Basic YWxpY2U6c2VjcmV0`, `Basic !!!`, `Digest`, `digest realm="`,
	} {
		f.Add(s)
	}
	a := newAuth(&Credentials{Realm: "example.net", Users: []Credential{{Name: "alice", Password: "secret"}}}, "example.net")
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("POST", "/ccmp", nil)
		r.Header.Set("Authorization", h)
		if name, _ := a.fromHeader(r); name != "" {
			t.Fatalf("authenticated %q from %q", name, h)
		}
	})
}
