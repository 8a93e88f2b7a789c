package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Deliberate faults (chain.Faults): bugs the roles must never have, made
// switchable in dev chains so that trace chain has broken chains to find.
// pkg/chain refuses them outside dev and Chain.IssuerFaults and
// Chain.ReceiverFaults return none there, so none of this runs in a real
// chain. Each hook in issuer.go and receiver.go is marked
// "// fault (dev only):".

// ignoreFailures is the receiver's ignore fault: it drops the listed
// reasons from a refused handoff. When nothing is left, the handoff
// proceeds as if it were valid; err is then nil.
//
// Verify consumes a jti only when every other check passed, so a token
// that failed some ignored check has not been counted as used. It is
// consumed here, and a replay is refused unless token_replayed is ignored
// too: a receiver that skips the audience check still enforces single use.
func (rc *Receiver) ignoreFailures(ctx context.Context, tok *token.Token, err error) error {
	var inv *token.InvalidError
	if len(rc.faults.Ignore) == 0 || tok == nil || !errors.As(err, &inv) {
		return err
	}
	var kept []*token.Failure
	replayChecked := false
	for _, f := range inv.Failures {
		if f.Reason == token.ErrReplayed {
			replayChecked = true
		}
		if !rc.faults.Ignores(f.Reason.Code) {
			kept = append(kept, f)
		}
	}
	switch {
	case len(kept) > 0:
		return &token.InvalidError{Failures: kept}
	case replayChecked || tok.Claims.ID == "":
		// The replay check ran (and its verdict is ignored), or there is no
		// jti to count (jti_missing is ignored).
		return nil
	}
	now, t := rc.cfg.Now(), rc.cfg.Chain.Token
	// Kept as long as Verify would keep it, and no shorter than any token
	// the receiver takes could live: an expired token may be ignored too.
	until := now.Add(t.MaxTTL + t.Leeway)
	if exp := tok.Claims.Expiry.Add(t.Leeway); exp.After(until) {
		until = exp
	}
	fresh, cerr := rc.cfg.Replay.Consume(ctx, tok.Claims.ID, until)
	switch {
	case cerr != nil:
		return fmt.Errorf("%w: %w", token.ErrReplayStoreUnavailable, cerr)
	case !fresh && !rc.faults.Ignores(token.ErrReplayed.Code):
		return &token.InvalidError{Failures: []*token.Failure{{Reason: token.ErrReplayed, Detail: "jti was already used"}}}
	}
	return nil
}

// faultyNext is where a receiver sends the browser when ret is outside
// the allowlist, which only a receiver that ignores ret_not_allowed ever
// gets to: to ret itself when it is at least a well-formed http(s) URL (the
// open redirect the fault stands for), else to the receiver's root. Any
// other receiver goes to its root: Verify refused such a token already, and
// if that ever changed this must not turn into an open redirect.
func (rc *Receiver) faultyNext(ret string) string {
	if rc.faults.Ignores(token.ErrReturnNotAllowed.Code) {
		if u, err := chain.ParseReturnTo(ret); err == nil {
			return u.String()
		}
	}
	return rc.origin + "/"
}

// warnFaults logs, once at start-up, that a role runs with faults.
func warnFaults(log *slog.Logger, active bool) {
	if active {
		log.Warn("deliberate faults are switched on: this dev chain misbehaves on purpose, for examples and tests only")
	}
}
