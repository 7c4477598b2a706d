package confinfo

import (
	"testing"

	"github.com/parleychat/parley/xcon"
)

// FuzzUnmarshal checks that Unmarshal and Apply never panic, and that a document Unmarshal
// accepts encodes to one it accepts again.
func FuzzUnmarshal(f *testing.F) {
	empty := room()
	empty.Users = nil
	v := View(room(), roomURI, Options{})
	for _, doc := range []*xcon.Conference{Full(v, 1), Partial(View(empty, roomURI, Options{}), v, 2), Deleted(roomURI, 3)} {
		b, err := Marshal(doc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="2" state="partial"><users state="partial"><user entity="u" state="partial"><endpoint entity="e" state="deleted"/></user></users></conference-info>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := Unmarshal(b)
		if err != nil {
			return
		}
		out, err := Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Unmarshal(out); err != nil {
			t.Fatalf("re-reading our own encoding: %v\n%s", err, out)
		}
		local, err := Apply(nil, doc)
		if err == nil && local != nil {
			next := doc.Clone()
			next.Version = local.Version + 1
			_, _ = Apply(local, next)
		}
	})
}
