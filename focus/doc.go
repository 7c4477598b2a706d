// Package focus is the conference runtime: rooms, participants, the binding of every accepted
// m-line to a (chat-ID, xcon-userid, label) row of the room's conference object, and the MSRP
// switch that relays messages between participants (RFC 7701).
//
// focus owns all room state. Signalling reaches it through Join and Leave (called by package sip);
// MSRP reaches it through the msrp.SessionHandler it implements. When focus must act on
// signalling (a BYE after a participant's connection failed, shutdown) it calls the Signaling
// interface, which package sip implements; focus never imports sip.
//
// Concurrency: each Room has one mutex guarding its conference object and participant set. The
// fan-out path reads an immutable snapshot of the room's streams (copy-on-write on join and
// leave) and takes no lock; msrp.Session.Send never blocks, so a slow recipient costs the room
// nothing but its own bounded queue.
//
// Comments cite "session-chat §N" for draft-boulton-dispatch-session-chat-01, "Chatrooms within a
// Centralized Conferencing (XCON) System", whose room semantics (nicknames, logging, history,
// alternate venue, files) Parley implements.
package focus
