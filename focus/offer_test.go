package focus

import (
	"testing"
	"unsafe"

	"github.com/parleychat/parley/sdp"
)

// TestKeptOfferHoldsNothingOfTheOffer: what a stream keeps of its m-line points into no byte of
// the offer it was parsed from, so the offer is freed once the join is answered, and it keeps what
// the relay reads (accept lists, max-size, chatroom, a file's date).
func TestKeptOfferHoldsNothingOfTheOffer(t *testing.T) {
	body := []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=message 7394 TCP/MSRP *\r\na=accept-types:message/cpim\r\na=accept-wrapped-types:text/plain text/html\r\n" +
		"a=max-size:4096\r\na=chatroom:nickname private-messages x-ext\r\na=label:chat\r\na=file-date:creation:\"Mon, 01 Jan 2024 00:00:00 GMT\"\r\n" +
		"a=path:msrp://192.0.2.1:7394/s1;tcp\r\n")
	offer, err := sdp.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	m := &offer.Media[0]
	// The parser's strings are pieces of one copy of the body: its extent is theirs.
	lo, hi := ^uintptr(0), uintptr(0)
	for _, a := range m.Attributes {
		for _, s := range []string{a.Key, a.Value} {
			p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
			lo, hi = min(lo, p), max(hi, p+uintptr(len(s)))
		}
	}
	if hi-lo > uintptr(len(body)) {
		t.Fatal("the parser's strings are not pieces of one copy of the offer; this test needs another way to tell")
	}
	inOffer := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return len(s) > 0 && p >= lo && p < hi
	}
	k := keptOffer(m, true)
	var kept []string
	kept = append(kept, k.AcceptTypes...)
	kept = append(kept, k.AcceptWrappedTypes...)
	kept = append(kept, k.Chatroom.Tokens...)
	for _, a := range k.Attributes {
		kept = append(kept, a.Key, a.Value)
	}
	kept = append(kept, k.Path...)
	kept = append(kept, k.Label, k.Proto, k.Type)
	for _, s := range kept {
		if inOffer(s) {
			t.Errorf("kept %q points into the offer", s)
		}
	}
	if !k.AcceptsWrapped("text/html") || k.AcceptsWrapped("image/png") || k.MaxSize != 4096 ||
		!k.Chatroom.Nickname || !k.Chatroom.PrivateMessages || k.Attribute("file-date") == nil {
		t.Errorf("kept offer lost what the relay reads: %+v", k)
	}
	if c := keptOffer(m, false); c.Attributes != nil {
		t.Errorf("a chat stream kept attributes: %v", c.Attributes)
	}
}
