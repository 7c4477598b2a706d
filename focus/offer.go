package focus

import (
	"strings"
	"unique"

	"github.com/parleychat/parley/sdp"
)

// keptOffer is what a stream keeps of its m-line once it has joined: what the participant accepts
// (accept-types, accept-wrapped-types, max-size: RFC 4975 §8.6; a=chatroom: RFC 7701 §8) and, for
// a file, its a=file-date (RFC 5547 §6). Nothing else of the offer is read later, and every string
// the SDP parser returns is a piece of the whole offer, which one kept string would keep alive.
// The media type lists are interned: ten thousand members accept the same few types.
func keptOffer(m *sdp.Media, file bool) sdp.Media {
	k := sdp.Media{AcceptTypes: interned(m.AcceptTypes), AcceptWrappedTypes: interned(m.AcceptWrappedTypes), MaxSize: m.MaxSize}
	if m.Chatroom != nil {
		c := *m.Chatroom
		c.Tokens = interned(c.Tokens)
		k.Chatroom = &c
	}
	if file {
		if a := m.Attribute("file-date"); a != nil {
			k.Attributes = []sdp.Attribute{{Key: "file-date", Value: strings.Clone(a.Value)}}
		}
	}
	return k
}

// interned returns list with every string replaced by its canonical copy, in a new slice.
func interned(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = unique.Make(s).Value()
	}
	return out
}
