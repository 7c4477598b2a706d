package focus

import "errors"

// Errors returned by Join; package sip maps each to one SIP response code.
var (
	ErrRoomNotFound  = errors.New("focus: no such room")              // 404
	ErrNotAcceptable = errors.New("focus: no acceptable MSRP stream") // 488
	ErrRoomFull      = errors.New("focus: room is full")              // 486
	ErrForbidden     = errors.New("focus: not allowed in this room")  // 403
	ErrShuttingDown  = errors.New("focus: shutting down")             // 503
)

// MovedError says the room was closed with a successor (session-chat §5.4); SIP answers 302.
type MovedError struct {
	Successor string // the successor's SIP URI: the 302's Contact
	ConfObjID string // its XCON-URI, for CCMP
}

func (e *MovedError) Error() string { return "focus: room moved to " + e.Successor }
