package cmdutil

import (
	"errors"
	"fmt"
)

// ExitError carries an exit code and an optional hint that names the fix.
// Commands return one; the root prints it as
//
//	ssoctl: <what went wrong>
//	hint: <how to fix it>
//
// and exits with Code.
type ExitError struct {
	Code int
	Err  error
	Hint string
	// Silent means the command already printed its result (a failed check
	// prints its full report first); only the exit code remains to give.
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError is a bad flag, argument or configuration: exit 2.
func UsageError(hint string, format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...), Hint: hint}
}

// UnavailableError is a dependency that could not be reached: exit 3.
func UnavailableError(hint string, err error) error {
	return &ExitError{Code: ExitUnavailable, Err: err, Hint: hint}
}

// CheckFailed is a check whose result was already printed: exit 1, no
// further message.
func CheckFailed() error { return &ExitError{Code: ExitCheckFailed, Silent: true} }

// FailedError is a check that failed without a printed report: exit 1.
func FailedError(hint string, format string, args ...any) error {
	return &ExitError{Code: ExitCheckFailed, Err: fmt.Errorf(format, args...), Hint: hint}
}

// ExitCode maps an error from a command to the process exit code.
// Unclassified errors are usage/configuration errors (2): every command
// classifies check failures (1) and unreachable dependencies (3) itself.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitUsage
}
