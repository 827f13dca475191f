// Package telemetryd holds the domain of the telemetry store: the sealed
// snapshot record, date filters, permissions and the error codes every
// transport maps in one place. It imports nothing else of the project.
package telemetryd

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error codes. Transports map them to HTTP statuses and GraphQL
// extensions.code values; nothing else should branch on messages.
const (
	EINVALID         = "BAD_USER_INPUT"
	EUNAUTHENTICATED = "UNAUTHENTICATED"
	EFORBIDDEN       = "FORBIDDEN"
	ENOTFOUND        = "NOT_FOUND"
	ECONFLICT        = "CONFLICT"
	ETOOMANYREQUESTS = "TOO_MANY_REQUESTS"
	EUNAVAILABLE     = "UNAVAILABLE"
	EINTERNAL        = "INTERNAL"
)

// Error is an error a client may see: a code and a message safe to show.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "internal error" for any other error, so internal details never reach a
// client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// MaxMessageBytes bounds an error message shown to a client. Messages may
// quote what the caller sent; a caller must not get a large value of its
// own echoed back.
const MaxMessageBytes = 512

// ShownMessage returns m cut to at most MaxMessageBytes, at a UTF-8
// boundary, and marked "… (truncated)" when cut.
func ShownMessage(m string) string {
	const mark = "… (truncated)"
	if len(m) <= MaxMessageBytes {
		return m
	}
	cut := MaxMessageBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return m[:cut] + mark
}
