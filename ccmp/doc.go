// Package ccmp implements the Centralized Conferencing Manipulation Protocol (RFC 6503) for
// Parley's chat rooms: the message types and their XML (Request, Response, DecodeRequest,
// DecodeResponse), the HTTP handler of POST /ccmp (Handler) and the client `parley room` uses
// (Client).
//
// # Wire
//
// Requests are application/ccmp+xml POSTs (HTTP 415 otherwise; 406 only when an Accept header
// is present and admits none of application/ccmp+xml, application/*, */*; 413 above
// HandlerConfig.MaxBodyBytes). Every CCMP outcome, errors included, is a <response-code> in an
// HTTP 200 with Cache-Control: no-store. The decoder matches namespace URIs, never prefixes,
// resolves xsi:type through the prefixes in scope (senders such as liblinphone use their own),
// bounds nesting (MaxDepth), admits one root and expands no entities besides the predefined
// ones. Responses use the prefixes xcon-ccmp:, info: and xcon: and validate against the
// RFC 6503 schema.
//
// # Objects
//
// A room is a conference object xcon:NAME@DOMAIN, owned by package focus. Blueprints live in
// their own name space, xcon:NAME@blueprints.DOMAIN, and come from the configuration
// (HandlerConfig.Blueprints: configs' blueprints, by default "chat" and "chat-multilingual");
// the first is the default blueprint. Nobody dials a blueprint (its SIP URI is unknown, 404).
// A confObjID of the wrong kind is a 404.
//
// # Operations
//
//   - blueprintsRequest, blueprintRequest/retrieve (other operations: 403).
//   - confsRequest: the open rooms (closed ones are tombstones and not listed) and the
//     sidebars by reference, each with its xcon:sidebar-parent, that the requester may read:
//     members-only rooms only to their members, moderators and administrators.
//     Empty lists leave *Info out (the schema's uris-type needs an entry).
//   - confRequest: create (clone of a blueprint or of a room given as confObjID; from
//     confInfo, AUTO_GENERATE_n placeholders replaced; or bare: the chat blueprint); retrieve
//     (the live object and its version); update (a delta, all or nothing; 409 carries the
//     current version); delete (everyone is told and gets a BYE; 425 while a closed room
//     redirects to this one, or a room cloned from it is in use).
//   - usersRequest: retrieve, update (create and delete: 403).
//   - userRequest: create (first-party join, third-party add, AUTO_GENERATE entity: the ID
//     a SIP address maps to, or a fresh one; no confUserID at all: the new ID comes back as
//     confUserID; a user the room lists without a nickname yet, such as its creator, joins),
//     retrieve, update, delete (a participant present is kicked). A <user> may carry
//     <parley:history-on-join count="N" max-age="D"/> (namespace xcon.NSParley): how much
//     history the user is replayed on joining, clamped to the room's depth when set
//     (settleHistoryOnJoin), so the answer shows the value in effect; malformed: 400.
//   - sidebarsByValRequest, sidebarsByRefRequest (lists, with the parent's version) and
//     sidebarByRefRequest (create, retrieve, update, delete), sidebarByValRequest
//     (retrieve, update, delete; create: 403, a sidebar by value has no room to dial): see
//     sidebar.go. A room with sidebars by reference is not deleted before them (425).
//   - optionsRequest.
//   - extendedRequest "parley": history by time range and close with a successor, another
//     open room of this server (404 otherwise); every answer about a closed room is a 404
//     carrying <parley:successor> with the successor's XCON-URI (see ExtensionName). Who reads the log, and which of its private messages, is the focus's
//     rule (focus.History): 403 for a reader the room would not admit.
//   - xpathFilter (blueprints, confs, sidebarsByVal): XPath 1.0 over each object, names
//     matched namespace-blind; limits and codes in filter.go (400, 510, 511).
//
// Codes follow RFC 6503 §5.4: 400 malformed or missing parameters, 403 an operation the
// message does not allow, 404 unknown object, 409 conflict (with version), 420 user not in
// the room, 421 confUserID not an XCON-USERID, 422/423 wrong/missing conference-password
// (xcon:conference-password of a conf-uris entry; required on every request that targets the
// room, by the same rule, focus.CheckPassword, as SIP joins), 424 authentication required, 425, 426 protected change, 427 AUTO_GENERATE outside
// our domain, 500, 501, 510 when an operation exceeds HandlerConfig.RequestTimeout, 511 a
// full room (focus.HasRoomFor: the users present, counted as for a SIP join).
//
// # Updates
//
// The *Info of an update holds the changes only: a leaf present replaces the value and an
// empty one removes it; keyed elements merge by key (user and endpoint by entity, media by
// id, available-media entry by label, uris entries by uri, xcon:target by uri and method),
// and one carrying state="deleted" (any namespace) is removed; an empty list element empties
// the list. conf-uris are the focus's addresses: only their password, display text and purpose
// change. The room policy (logging, history depth, moderated, and the limits max-message-size,
// keep-for and keep-messages) travels as <parley:room-policy> of
// namespace xcon.NSParley in confInfo; a room's successor is set only by the extension's close.
//
// # Nicknames
//
// userRequest create and update may carry a preferred nickname as the xcon:nickname attribute
// of userInfo (an unqualified nickname attribute is schema-invalid and answered 400). It is
// claimed through focus.ClaimNickname (PRECIS, unique): malformed 400. When it is taken the
// focus allocates another, the preferred one followed by a number (session-chat §5.1: "or allocates a
// different nickname"); a request that wants that name or none says so with the attribute
// parley:exact-nickname="true" (namespace NSParley) on userInfo, and gets 409 instead. A user
// created without one gets its user part (or that with a digit) when free. The response
// always carries userInfo with the nickname allocated, and the focus gives it to the user's
// chat sessions (endpoint xcon:nickname, binding rows, the log's sender nickname).
//
// # Authorisation
//
// HandlerConfig.Authenticate maps a request to a Principal. The default, LoopbackAdmin,
// checks no credentials: requests from loopback act as administrators under any well-formed
// confUserID; requests from elsewhere get 424. With HandlerConfig.Credentials every request
// needs a configured user's credentials (HTTP Digest SHA-256/MD5, Basic over TLS only, or
// the CCMP subject; auth.go): none is an HTTP 401 challenge, a wrong subject CCMP 424, a
// confUserID of another user 401, of nobody 421. Rights follow the requester's role in the
// room (roles.go): the creator is recorded as a user with roles administrator and organizer;
// moderators change rooms and users, and give voice (the roles participant and observer) to
// users below them; only administrators give other roles; participants and observers act on
// themselves, never on their roles; only administrators see passwords. For HTTPS, serve the same handler with TLSConfig's
// configuration.
//
// # Nicknames released
//
// A nickname changed or removed over CCMP, or held by a user deleted, is released through
// focus's ReleaseNickname(room, userID, nickname) when focus offers it (see user.go).
//
// # SIP conferencing clients
//
// Rules for liblinphone and alike (compat.go): SIP targets of the allowed list become users
// with XCON-USERIDs, every user has a SIP associated-aor, resent confInfos match their
// AUTO_GENERATE labels to the existing channels, iCalendar text starts at BEGIN:VCALENDAR,
// keeps CRLF (&#xD;) and has a VEVENT with a DTSTART (calendar.go), direct creates inherit
// from the default blueprint, create and update answers carry the whole confInfo. Every room
// names an organizer with a SIP associated-aor: its creator, or for rooms of parley.yaml their
// owner (focus.RoomSpec.Owner). Dial-out targets are recorded, never called: no answer waits
// on signalling.
package ccmp
