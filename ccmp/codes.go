package ccmp

import (
	"errors"
	"net/http"

	"github.com/beevik/etree"
)

// Response codes (RFC 6503 §5.4, §12.5.2).
const (
	CodeSuccess               = 200
	CodeBadRequest            = 400
	CodeUnauthorized          = 401
	CodeForbidden             = 403
	CodeNotFound              = 404
	CodeConflict              = 409
	CodeUserNotFound          = 420
	CodeInvalidConfUserID     = 421
	CodeInvalidPassword       = 422
	CodePasswordRequired      = 423
	CodeAuthenticationNeeded  = 424
	CodeForbiddenDeleteParent = 425
	CodeForbiddenChange       = 426
	CodeInvalidDomain         = 427
	CodeServerError           = 500
	CodeNotImplemented        = 501
	CodeTimeout               = 510
	CodeNoResources           = 511
)

// ReasonPhrase returns the registered name of a response code (RFC 6503 §12.5.2).
func ReasonPhrase(code int) string {
	switch code {
	case CodeSuccess:
		return "success"
	case CodeBadRequest:
		return "Bad Request"
	case CodeUnauthorized:
		return "Unauthorized"
	case CodeForbidden:
		return "Forbidden"
	case CodeNotFound:
		return "Object Not Found"
	case CodeConflict:
		return "Conflict"
	case CodeUserNotFound:
		return "User Not Found"
	case CodeInvalidConfUserID:
		return "Invalid confUserID"
	case CodeInvalidPassword:
		return "Invalid Conference Password"
	case CodePasswordRequired:
		return "Conference Password Required"
	case CodeAuthenticationNeeded:
		return "Authentication Required"
	case CodeForbiddenDeleteParent:
		return "Forbidden Delete Parent"
	case CodeForbiddenChange:
		return "Forbidden Change Protected"
	case CodeInvalidDomain:
		return "Invalid Domain Name"
	case CodeServerError:
		return "Server Internal Error"
	case CodeNotImplemented:
		return "Not Implemented"
	case CodeTimeout:
		return "Request Timeout"
	case CodeNoResources:
		return "Resources Not Available"
	}
	return "Unknown"
}

// Error is a CCMP outcome other than success: the response code, a reason for the
// response-string and, for 409, the object's current version.
type Error struct {
	Code    int
	Reason  string
	Version uint64
	// Extensions are foreign-namespace elements the answer carries all the same (the successor
	// of a closed room).
	Extensions []*etree.Element
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	return ReasonPhrase(e.Code)
}

func fail(code int, reason string) *Error { return &Error{Code: code, Reason: reason} }

func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
