// Package cmdutil holds what every ssoctl command shares: IO streams, exit
// codes, error classes, output formats and styling. Protocol logic lives in
// pkg/; this package only turns it into a command-line experience.
package cmdutil

// Exit codes, the same for every command (DESIGN §2). Scripts and CI key on
// them, so they never change meaning.
const (
	ExitOK          = 0 // success
	ExitCheckFailed = 1 // the check failed: invalid token, failing trace
	ExitUsage       = 2 // usage or configuration error
	ExitUnavailable = 3 // a dependency was unreachable: IdP, Redis, JWKS URL, a live host
)
