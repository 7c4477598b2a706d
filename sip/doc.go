// Package sip is Parley's SIP signalling on github.com/emiago/sipgo: INVITE, ACK, BYE, CANCEL
// and OPTIONS for the focus (RFC 3261, RFC 4579), translating each request into one call of
// package focus and its outcome into one response code. It keeps the dialogs (sipgo leaves
// them to the application) but no room state. SUBSCRIBE and NOTIFY carry the conference
// event package (RFC 4575): subscribe.go answers subscriptions, notify.go sends each one's
// roster, built by xcon/confinfo from one snapshot of the room per change that every
// subscription of the room shares (views.go).
//
// The files follow a request: server.go binds the listeners and vets what arrives (counted)
// and admits a request addressed to a room (admit: room, authentication, identity);
// invite.go sets up a dialog, dialogs.go keeps the dialogs, responses.go answers (one table
// of reason phrases, one table from focus outcomes to responses).
//
// Concurrency: sipgo runs each request's handler in its own goroutine; the INVITE handler
// blocks until the 2xx is acknowledged, never while holding a lock of ours.
package sip
