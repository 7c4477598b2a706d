package msrp

import (
	"strings"
	"time"

	"github.com/parleychat/parley/internal/digest"
)

// AuthOption configures Endpoint.Authenticate.
type AuthOption func(*authOptions)

type authOptions struct {
	username, password string
	hasCredentials     bool
	expires            time.Duration
	allowPlain         bool
}

// WithCredentials answers a 401 challenge with HTTP Digest (MD5, qop=auth; RFC 4976 §5.1).
func WithCredentials(username, password string) AuthOption {
	return func(o *authOptions) { o.username, o.password, o.hasCredentials = username, password, true }
}

// WithExpires asks the relay to keep the Use-Path valid this long (the Expires header, whole
// seconds). Without it the relay chooses. If the relay answers 423 with Min-Expires or
// Max-Expires, the AUTH is repeated once with that value (RFC 4976 §5.1). Kamailio 5.6 misreads
// Expires when an Authorization header is present (it answers 423 whatever the value), so leave
// it out towards Kamailio.
func WithExpires(d time.Duration) AuthOption {
	return func(o *authOptions) { o.expires = d }
}

// AllowPlainRelay permits an msrp: relay URI, i.e. AUTH and Digest over TCP without TLS. RFC 4976
// §5 expects TLS towards relays; use this only on loopback or a network you trust.
func AllowPlainRelay() AuthOption {
	return func(o *authOptions) { o.allowPlain = true }
}

// authorize answers a relay's 401 (RFC 4976 §5.1) with the Authorization header of the AUTH to
// repeat: Digest MD5, with qop auth or in the RFC 2069 form without qop. A second challenge is
// answered only when it says the nonce was stale (answered: one was answered already).
func (o *authOptions) authorize(relay URI, resp *Message, answered bool) (string, error) {
	ch, ok := digest.ParseChallenge(resp.Header("WWW-Authenticate"))
	if !ok || !o.hasCredentials || answered && !ch.Stale {
		return "", authFailure(relay, resp, o.hasCredentials)
	}
	if ch.Algorithm != "" && !strings.EqualFold(ch.Algorithm, digest.MD5) {
		return "", authFailure(relay, resp, o.hasCredentials)
	}
	authorization := ch.Authorize(o.username, o.password, "AUTH", relay.String(), randomID(16))
	if authorization == "" {
		return "", authFailure(relay, resp, o.hasCredentials)
	}
	return authorization, nil
}

// authFailure is the error of an AUTH refused 401 for good.
func authFailure(relay URI, resp *Message, hadCredentials bool) error {
	comment := resp.Comment
	switch {
	case !hadCredentials:
		comment = "relay " + relay.String() + " requires credentials"
	case resp.Header("WWW-Authenticate") == "":
		comment = "relay " + relay.String() + " sent 401 without a Digest challenge"
	default:
		comment = "relay " + relay.String() + " rejected the credentials"
	}
	return &StatusError{Code: StatusUnauthorized, Comment: comment}
}
