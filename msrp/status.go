package msrp

import (
	"errors"
	"strconv"
)

// Response codes (RFC 4975 §10, RFC 4976 §10.3, RFC 7701 §10.3).
const (
	StatusOK                 = 200
	StatusBadRequest         = 400
	StatusUnauthorized       = 401
	StatusForbidden          = 403
	StatusNotFound           = 404 // RFC 7701: private-message recipient unknown
	StatusRequestTimeout     = 408
	StatusTooLarge           = 413
	StatusUnsupportedMedia   = 415
	StatusOutOfBounds        = 423
	StatusBadNickname        = 424 // RFC 7701 §7.1
	StatusNicknameInUse      = 425 // RFC 7701 §7.1
	StatusNoPrivateMessages  = 428 // RFC 7701 §6.2
	StatusNoSuchSession      = 481
	StatusNotImplemented     = 501
	StatusSessionBoundOnConn = 506
)

// StatusText returns the conventional comment for a response code.
func StatusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 413:
		return "Message Too Large"
	case 415:
		return "Unsupported Media Type"
	case 423:
		return "Interval Out-of-Bounds"
	case 424:
		return "Bad Nickname"
	case 425:
		return "Nickname In Use"
	case 428:
		return "Private Messages Not Accepted"
	case 481:
		return "Session Does Not Exist"
	case 501:
		return "Unknown Method"
	case 506:
		return "Session Already Bound"
	}
	return ""
}

// StatusError is an error carrying an MSRP response code. Handlers return it to choose the response.
type StatusError struct {
	Code    int
	Comment string // "" = StatusText(Code)
}

func (e *StatusError) Error() string {
	c := e.Comment
	if c == "" {
		c = StatusText(e.Code)
	}
	return "msrp: " + strconv.Itoa(e.Code) + " " + c
}

// Is makes errors.Is(&StatusError{Code: 413}, ErrTooLarge) and the other code sentinels hold.
func (e *StatusError) Is(target error) bool {
	for _, m := range errorCodes {
		if m.err == target {
			return m.code == e.Code
		}
	}
	return false
}

// errorCodes is the one table mapping sentinel errors to wire codes.
var errorCodes = []struct {
	err  error
	code int
}{
	{ErrTooLarge, StatusTooLarge},
	{ErrUnknownSession, StatusNoSuchSession},
	{ErrSessionBoundElsewhere, StatusSessionBoundOnConn},
	{ErrSessionClosed, StatusNoSuchSession},
	{ErrTransactionTimeout, StatusRequestTimeout},
}

// CodeOf maps an error to the response code it stands for: nil → 200, *StatusError and *FrameError → their code,
// a sentinel through the table above, anything else → 403 (refused, do not retry; RFC 4975 §10.3).
func CodeOf(err error) (code int, comment string) {
	if err == nil {
		return StatusOK, "OK"
	}
	var se *StatusError
	if errors.As(err, &se) {
		if se.Comment != "" {
			return se.Code, se.Comment
		}
		return se.Code, StatusText(se.Code)
	}
	var fe *FrameError
	if errors.As(err, &fe) {
		return fe.Code, StatusText(fe.Code)
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code, StatusText(m.code)
		}
	}
	return StatusForbidden, StatusText(StatusForbidden)
}
