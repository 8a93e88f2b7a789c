// Package serve implements the HTTP roles of a propagating SSO chain: the
// issuer (logs users in at the identity provider and mints handoff tokens),
// the receiver (verifies a handoff, sets its own cookie, answers forward
// auth) and the development identity provider (the subset of the Ory Kratos
// API the chain uses, plus a login page).
//
// Constructors return values that implement http.Handler; the caller
// listens. Everything that reads the clock takes a func() time.Time, and
// nothing here logs a token, a cookie value or a secret.
package serve
