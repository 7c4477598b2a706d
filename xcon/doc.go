// Package xcon owns the XCON conference object and its durable storage
// interface.
//
// A room is one conference object: an RFC 4575 <conference-info> document
// extended by the XCON data model of RFC 6501 (§4) and by the chat-room
// nickname of draft-boulton-dispatch-session-chat (§5.1), carried as the
// attribute xcon:nickname on <user> and <endpoint>. Conference and its parts
// are plain Go values; Decode and Encode translate them to and from XML.
//
// Decoding matches elements and attributes by namespace URI, never by prefix
// (RFC 6501 §3.2: a document may bind any prefix, or none), accepts children
// in any order (the normative RELAX NG of RFC 6501 §5 uses interleave) and
// keeps everything it does not model in Extras, so that a decoded object
// re-encodes without loss. Encoding emits the XSD sequence order, which is
// valid under both the RFC 4575/6501 XSDs and the RELAX NG.
//
// The data model is stated once: tables.go holds a table per structure, a row
// per attribute or child element (its name, kind, field and partial-update
// rule), and Decode, Encode, Clone and the merge of a partial update
// (ConferenceDelta, UserDelta; RFC 6503 §4.2) all read it. ReadRoot is the one
// XML reader, shared with CCMP: it refuses DTDs, ill-formed documents and
// more than one root, so Decode refuses what a CCMP server refuses.
//
// The Store interface is the durable state: conference objects, the live
// (chat-ID, XCON-USERID, label, nickname) bindings of session-chat's figures 2–4,
// and the per-room message log. The SQL implementation lives in xcon/sqlstore.
//
// Concurrency: a *Conference is a value with no internal locking; the focus
// owns the live object and hands readers a Clone. Decode and Encode share no
// state and may run concurrently. Store implementations are safe for
// concurrent use.
package xcon
