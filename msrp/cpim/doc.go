// Package cpim is the codec for message/cpim bodies (RFC 3862, the envelope
// every message in a chat room travels in, RFC 7701 §5.2) and for the
// application/im-iscomposing+xml status documents of RFC 3994.
//
// What it covers:
//   - RFC 3862 §2: the three parts of a CPIM object (message headers, the
//     encapsulated MIME headers, the content) and the blank lines between them.
//   - RFC 3862 §3: header syntax, case-sensitive names, header parameters,
//     the escapes of §2.3 in quoted strings.
//   - RFC 3862 §4: From, To, cc, DateTime, Subject, NS and Require.
//   - RFC 3994 §3.3 and §6: the isComposing document; an unknown state means
//     idle.
//
// Parse is lenient where real clients (and the examples in RFC 4975 §11.4 and
// RFC 7701 §9) are sloppy: LF as well as CRLF, and a Content-* line inside the
// CPIM header block starts the MIME part even without the required blank
// line. It is strict where the focus makes decisions: From must be present
// exactly once, and every address must have the [name] <URI> form.
//
// Relayed messages are never re-encoded: the switch forwards the client's
// bytes unchanged (RFC 3862 §2.2, RFC 7701 §6.1). Marshal exists only for
// messages the focus itself originates, and always writes the blank separator
// line.
//
// Allocation: Parse copies the header text once into a single string (names,
// values and URIs are substrings of it) and allocates the Message and its
// header slices: five allocations for a typical room message. Body aliases
// the input and is never copied, so the input must not change while the
// Message is in use. Names are unescaped into new strings only when they
// contain a backslash. Marshal allocates only its output; AppendTo appends to
// the caller's buffer.
//
// Concurrency: functions are pure; a Message is a plain value.
package cpim
