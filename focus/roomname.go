package focus

import "github.com/parleychat/parley/internal/randomid"

// maxRoomNameLen bounds a room name, the user part of its SIP URI and XCON-URI.
const maxRoomNameLen = 64

// ValidRoomName reports whether name can be the user part of a room's SIP URI and XCON-URI:
// 1 to 64 letters, digits, '.', '_', '-' and '+', none of which needs escaping in a SIP URI
// (RFC 3261 §25.1) or an XCON-URI (RFC 6501 §3.3).
func ValidRoomName(name string) bool {
	if name == "" || len(name) > maxRoomNameLen {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '+':
		default:
			return false
		}
	}
	return true
}

const (
	lowerLetters = "abcdefghijklmnopqrstuvwxyz"
	lowerAlnum   = lowerLetters + "0123456789"
)

// NewRoomName returns a fresh random room name of ten lower-case letters and digits, the first
// a letter. Lower case, because room names are compared without case by the store and by CCMP,
// so a mixed-case name could not be told apart there; a letter first, so that the name never
// looks like a telephone number to a proxy. Whether a room of that name exists is the caller's
// to check.
func NewRoomName() string { return NewName(10) }

// NewName returns n random lower-case letters and digits, the first a letter: the shape of the
// names and labels the server allocates (rooms, channel labels, XCON-USERIDs).
func NewName(n int) string {
	if n <= 0 {
		return ""
	}
	return randomid.String(lowerLetters, 1) + randomid.String(lowerAlnum, n-1)
}
