package sdp

import "testing"

const twoMediaOffer = "v=0\r\n" +
	"o=dave 3905 3905 IN IP4 203.0.113.20\r\n" +
	"s=-\r\n" +
	"c=IN IP4 203.0.113.20\r\n" +
	"t=0 0\r\n" +
	"m=message 40000 TCP/MSRP *\r\n" +
	"a=label:main\r\n" +
	"a=setup:actpass\r\n" +
	"a=accept-types:message/cpim text/plain\r\n" +
	"a=accept-wrapped-types:text/plain text/html application/im-iscomposing+xml\r\n" +
	"a=path:msrp://203.0.113.20:40000/Qm3uVb9kTz1;tcp\r\n" +
	"a=chatroom:nickname private-messages\r\n" +
	"m=message 40000 TCP/MSRP *\r\n" +
	"a=label:ops\r\n" +
	"a=setup:actpass\r\n" +
	"a=accept-types:message/cpim\r\n" +
	"a=accept-wrapped-types:*\r\n" +
	"a=path:msrp://203.0.113.20:40000/Wr7cLp2sXa4;tcp\r\n" +
	"a=chatroom:nickname private-messages\r\n"

func BenchmarkParse(b *testing.B) {
	in := []byte(twoMediaOffer)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildAnswer(b *testing.B) {
	offer, err := Parse([]byte(twoMediaOffer))
	if err != nil {
		b.Fatal(err)
	}
	media := []MediaAnswer{focusChatAnswer("main", "p0Hq8Nn2Ys6dEw1"), focusChatAnswer("ops", "Ag5Tr3Kb9Vm0Lc2")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildAnswer(offer, focusParams, media); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMedia_AcceptsWrapped(b *testing.B) {
	m := Media{AcceptTypes: []string{"message/cpim", "text/plain"}, AcceptWrappedTypes: []string{"text/html", "application/im-iscomposing+xml"}}
	b.ReportAllocs()
	for b.Loop() {
		if !m.AcceptsWrapped("application/im-iscomposing+xml") {
			b.Fatal("not accepted")
		}
	}
}
