package serve_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
)

// scale_test.go covers Redis going down under a running chain: 503 while
// it is down (/sso, /auth), recovery without a restart, a handoff refused
// during the outage usable once afterwards, and no jti accepted twice
// (startScaledChain's cleanup). What it does not cover is the other half
// of a Redis outage without persistence: Redis comes back empty, so the
// record of every jti consumed before it went down is gone while those
// tokens still verify for up to max_ttl + leeway.

// TestRedisRestartedEmptyAcceptsNoHandoffTwice: alice's walk used a
// handoff at portal; Redis restarts and forgets it; the same handoff URL,
// replayed within its lifetime (the clock has not moved), must be refused
// by every portal instance, not accepted a second time. Once tokens from
// before the restart can no longer verify, logins work as before.
//
// It fails until the Redis replay store can tell that it lost its records
// (for example an epoch key, SET NX with the time it was written, that a
// restart without persistence loses too) and receivers refuse handoffs
// minted before that epoch; nothing in receiver.go or roles.go can see
// that through store.ReplayStore's Consume alone.
func TestRedisRestartedEmptyAcceptsNoHandoffTwice(t *testing.T) {
	sc := startScaledChain(t)
	alice := sc.alice()
	used := sc.handoffURL(alice, portalURL) // accepted by one portal instance
	sc.redis.Stop(t)
	sc.redis.Restart(t) // empty: the jti's record is gone
	sc.waitReady(t)

	thief := browsertest.New(t, sc.net)
	for i := range 2 {
		resp := sc.on(portalURL, i, thief, http.MethodGet, strings.TrimPrefix(used, portalURL))
		if resp.StatusCode == http.StatusSeeOther || setsCookie(resp.Header, "portal_session") {
			t.Errorf("portal#%d took a handoff already used before Redis restarted empty: %d, Location %q", i, resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	sc.clock.Advance(sc.chain.Token.MaxTTL + sc.chain.Token.Leeway + time.Second)
	if p := alice.Visit(loginURL(dashboardURL + "/")); p.Status != http.StatusOK || p.URL != dashboardURL+"/" {
		t.Errorf("login after Redis restarted ended at %s with %d: %v", p.URL, p.Status, hopURLs(p.Hops))
	}
}
