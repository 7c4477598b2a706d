package sdp

import "errors"

// ErrSyntax wraps every error Parse returns for text that is not a usable
// session description. Callers answer it with SIP 400 or 488.
var ErrSyntax = errors.New("sdp: syntax error")

// ErrInvalidAnswer wraps every error BuildAnswer and BuildOffer return for
// parameters that cannot be written as valid SDP. It is a programming or
// configuration error, never the peer's fault.
var ErrInvalidAnswer = errors.New("sdp: invalid parameters")
