package focus

import "github.com/parleychat/parley/xcon"

// sipURI is the part of a SIP or SIPS URI that identifies a user or a room (xcon.SIPAddress).
type sipURI = xcon.SIPAddress

// parseSIPURI reads a SIP URI, a name-addr or another scheme's URI (xcon.ParseSIPAddress).
func parseSIPURI(s string) (sipURI, bool) { return xcon.ParseSIPAddress(s) }

// sameUser tells whether two addresses name the same user to the room (xcon.SIPAddress.Same:
// the XCON-USERID's rule), for the access lists and for addressing a participant.
func sameUser(a, b sipURI) bool { return a.Same(b) }

// sameAddress tells whether an address a user presents as his own is his address
// (xcon.SIPAddress.Equal: RFC 3261 §19.1.4), for the CPIM From of what he sends and the
// proven address of a page-mode member.
func sameAddress(a, b sipURI) bool { return a.Equal(b) }
