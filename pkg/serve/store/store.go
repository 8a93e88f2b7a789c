// Package store holds the chain's server-side state: the replay store that
// makes each handoff token single use, and the revocation store that signs
// a session out on every receiver. Memory implementations (the default,
// for one instance per role) are bounded and expiring; Redis ones (redis.go,
// for several instances per role) share the state between instances, and
// both pass the same contract tests (storetest).
package store

import (
	"context"
	"errors"
	"time"
)

// ReplayStore records used jti values until they expire. It is
// pkg/token.ReplayStore, restated here so the store package imports nothing
// of ours.
type ReplayStore interface {
	// Consume records jti as used until the given time. It reports false,
	// with no error, when jti was already used.
	Consume(ctx context.Context, jti string, until time.Time) (fresh bool, err error)
}

// RevocationStore remembers IdP sessions that were signed out, so every
// receiver refuses their cookies at once instead of at the next re-check.
type RevocationStore interface {
	// Revoke marks session id revoked until the given time (the longest a
	// cookie for it can live).
	Revoke(ctx context.Context, sessionID string, until time.Time) error
	// Revoked reports whether session id is revoked. It is on the hot path
	// of every forward-auth request.
	Revoked(ctx context.Context, sessionID string) (bool, error)
}

// ErrFull means a bounded store reached its limit and could not make room:
// the caller refuses new handoffs (503) rather than grow without bound.
var ErrFull = errors.New("store is full")

// ErrUnavailable means the store could not be reached (Redis down); callers
// fail closed.
var ErrUnavailable = errors.New("store unavailable")
