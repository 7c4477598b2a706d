// Package sdp owns the Session Description Protocol side of MSRP chat:
// it turns an offer (or answer) into typed m-lines and builds the focus's
// answers and offers. It is a thin layer over github.com/pion/sdp/v3 and
// performs no I/O.
//
// What it covers:
//   - RFC 4566 session structure and RFC 3264 §6 answer rules (one answer
//     m-line per offered m-line, in order; a refused stream keeps the offered
//     media type, proto and formats with port 0).
//   - RFC 4975 §8 MSRP media lines: a=path (§8.2), a=accept-types and
//     a=accept-wrapped-types with their matching rules (§8.6), a=max-size.
//   - RFC 6135 a=setup, RFC 4574 a=label, RFC 7701 §8 a=chatroom,
//     RFC 5547 a=file-selector and a=file-transfer-id, RFC 8122 a=fingerprint,
//     RFC 7977 TCP/WSS/MSRP.
//
// pion/sdp rejects media types and protos outside its whitelist (for example
// m=image ... udptl t38 and TCP/WSS/MSRP), needs a trailing newline and a t=
// line. Parse therefore normalises the text first: line ends become CRLF,
// blank lines are dropped, a missing t= is supplied, and every m-line is
// handed to pion as a placeholder while its real type, proto and formats are
// kept aside. Unknown media stay in Session.Media as opaque entries so that an
// answer can refuse them in place.
//
// Semantics beyond syntax (is the path URI valid, is message/cpim offered)
// belong to the caller: path URIs are returned as strings for msrp.ParsePath.
//
// Allocation: Parse allocates the normalised copy of the input, pion's
// description and the returned Session; no field aliases the input.
// BuildAnswer and BuildOffer allocate the output once via pion's Marshal.
//
// Concurrency: all functions are pure; a Session is a plain value and may be
// shared read-only between goroutines.
package sdp
