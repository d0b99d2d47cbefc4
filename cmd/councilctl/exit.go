package main

import (
	"errors"
	"flag"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes of councilctl. A failed call exits with the code of its gRPC
// status; the README lists them.
const (
	exitOK = 0
	// exitFailure is any other failure: the connection could not be set
	// up, output could not be written, a file could not be read.
	exitFailure = 1
	// exitUsage is a command line councilctl does not understand.
	exitUsage = 2
	// exitInvalidArgument: the server refused the request as invalid.
	exitInvalidArgument = 3
	// exitDeadlineExceeded: the call's deadline (--timeout) or the
	// server's time limit passed.
	exitDeadlineExceeded = 4
	// exitUnavailable: the server is down, shutting down, or could not
	// convene a council (too few answers, no synthesis).
	exitUnavailable = 5
	// exitResourceExhausted: the server refused the call under load;
	// retrying later may succeed.
	exitResourceExhausted = 6
	// exitUnauthenticated: no valid token, or not permitted.
	exitUnauthenticated = 7
	// exitCanceled: the call was cancelled, as by Ctrl-C.
	exitCanceled = 8
	// exitInternal: any other status (INTERNAL, UNKNOWN, UNIMPLEMENTED…).
	exitInternal = 9
)

// usageError is a command line councilctl does not understand.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badUsage returns a usageError with a formatted message.
func badUsage(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// statusError is a failed call; it keeps the status for the exit code and
// reads as callError formats it.
type statusError struct {
	st  *status.Status
	msg string
}

func (e *statusError) Error() string { return e.msg }

// exitCode maps the error run returned to councilctl's exit code.
func exitCode(err error) int {
	var (
		ue usageError
		se *statusError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &se):
		return statusExit(se.st.Code())
	}
	return exitFailure
}

// statusExit is the exit code of a call that ended with code.
func statusExit(code codes.Code) int {
	switch code {
	case codes.OK:
		return exitOK
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		return exitInvalidArgument
	case codes.DeadlineExceeded:
		return exitDeadlineExceeded
	case codes.Unavailable:
		return exitUnavailable
	case codes.ResourceExhausted:
		return exitResourceExhausted
	case codes.Unauthenticated, codes.PermissionDenied:
		return exitUnauthenticated
	case codes.Canceled:
		return exitCanceled
	}
	return exitInternal
}
