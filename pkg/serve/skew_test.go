package serve_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// skewedChain is localChain with the issuer and the receivers on clocks of
// their own, as on two machines: two NewRoles from one file, one building
// the issuer and one the receivers. The token secret is inline, so both
// hold the same key (a dev chain without one would make up a key per
// process).
type skewedChain struct {
	*runningChain // clock is the receivers'
	issuerClock   *clock
}

func startSkewedChain(t *testing.T) *skewedChain {
	t.Helper()
	yaml := strings.Replace(localChain, "  alg: HS256\n", "  alg: HS256\n  secret: \"skew-test-secret-0123456789abcdef\"\n", 1)
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Second)
	sc := &skewedChain{
		runningChain: &runningChain{t: t, net: browsertest.NewNet(), clock: &clock{now: base}, chain: c},
		issuerClock:  &clock{now: base},
	}
	idpClock := &clock{now: base}
	if sc.idp, err = serve.NewDevIdPFromChain(c, serve.Env{HTTPClient: sc.net.Client(), Now: idpClock.Now}); err != nil {
		t.Fatal(err)
	}
	sc.net.Serve(t, idpPublic, sc.idp.Public())
	sc.net.Serve(t, idpAdmin, sc.idp.Admin())
	issuer, err := serve.NewRoles(c, serve.Env{HTTPClient: sc.net.Client(), Now: sc.issuerClock.Now}, serve.RoleOptions{Only: []string{"issuer"}})
	if err != nil {
		t.Fatal(err)
	}
	receivers, err := serve.NewRoles(c, serve.Env{HTTPClient: sc.net.Client(), Now: sc.clock.Now}, serve.RoleOptions{Only: []string{"portal", "dashboard"}})
	if err != nil {
		t.Fatal(err)
	}
	sc.roles = receivers
	sc.net.Serve(t, issuerURL, issuer.Issuer)
	sc.net.Serve(t, portalURL, receivers.Receivers["portal"])
	sc.net.Serve(t, dashboardURL, receivers.Receivers["dashboard"])
	return sc
}

// TestClockSkewBetweenIssuerAndReceiver mints a handoff on the issuer's
// clock and presents it on portal's (token.leeway 5s, token.ttl 30s;
// DESIGN §4). An issuer ahead of the receiver mints an iat in the
// receiver's future: within the leeway that is accepted, beyond it refused
// as iat_in_future. An issuer behind the receiver mints a token that is
// already older on arrival than it says, so the skew eats into its
// lifetime: presented 29s after minting, a handoff expires (token_expired)
// once the issuer is more than the leeway behind. A refusal sets no cookie
// and leaves the jti unused: once the clocks agree, the same handoff is
// accepted.
func TestClockSkewBetweenIssuerAndReceiver(t *testing.T) {
	t.Parallel()
	const leeway = 5 * time.Second
	tests := []struct {
		description string
		skew        time.Duration // issuer's clock minus the receiver's
		delay       time.Duration // from minting to presenting, on the receiver's clock
		wantStatus  int
		wantReason  string        // on the refusal page; "" when accepted
		retryAfter  time.Duration // refused: advance the receiver's clock this much and present again, which is accepted
	}{
		{"Issuer ahead by leeway-1s: accepted.", leeway - time.Second, 0, http.StatusSeeOther, "", 0},
		{"Issuer ahead by leeway+1s: iat is in the receiver's future, refused.", leeway + time.Second, 0, http.StatusUnauthorized, "iat_in_future", 2 * time.Second},
		{"Issuer behind by leeway-1s, presented at once: accepted.", -(leeway - time.Second), 0, http.StatusSeeOther, "", 0},
		{"Issuer behind by leeway+1s, presented at once: accepted, a slow clock only shortens the lifetime.", -(leeway + time.Second), 0, http.StatusSeeOther, "", 0},
		{"Issuer behind by leeway-1s, presented 29s after minting: accepted.", -(leeway - time.Second), 29 * time.Second, http.StatusSeeOther, "", 0},
		{"Issuer behind by leeway+1s, presented 29s after minting: expired, refused.", -(leeway + time.Second), 29 * time.Second, http.StatusUnauthorized, "token_expired", 0},
		{"Issuer behind by ttl+leeway+1s: expired on arrival.", -36 * time.Second, 0, http.StatusUnauthorized, "token_expired", 0},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			sc := startSkewedChain(t)
			if got := sc.chain.Token.Leeway; got != leeway {
				t.Fatalf("chain leeway %s, want %s", got, leeway)
			}
			alice := sc.alice()
			if p := alice.Visit(loginURL(issuerURL + "/")); p.Status != http.StatusOK || p.URL != issuerURL+"/" {
				t.Fatalf("login with the clocks in step ended at %s with %d: %v", p.URL, p.Status, hopURLs(p.Hops))
			}

			sc.issuerClock.Advance(tt.skew)
			resp, _ := alice.Get(loginURL(portalURL + "/"))
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), portalURL+chain.SSOPath) {
				t.Fatalf("issuer did not hand off to portal: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			handoff := loc.String()
			minted, err := token.Parse(loc.Query().Get(chain.TokenParam))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := minted.Claims.IssuedAt.Sub(sc.clock.Now()), tt.skew; got != want {
				t.Fatalf("iat is %s from the receiver's now, want the skew %s", got, want)
			}

			sc.clock.Advance(tt.delay)
			b := browsertest.New(t, sc.net)
			resp, body := b.Get(handoff)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantReason) {
				t.Errorf("portal /sso = %d, want %d %s\n%s", resp.StatusCode, tt.wantStatus, tt.wantReason, body)
			}
			accepted := resp.StatusCode == http.StatusSeeOther
			if got := setCookies(resp)["portal_session"] != nil; got != accepted {
				t.Errorf("portal /sso answered %d and set its cookie: %v", resp.StatusCode, got)
			}
			if accepted && !strings.HasPrefix(resp.Header.Get("Location"), issuerURL+chain.ContinuePath) {
				t.Errorf("accepted handoff went on to %q, want the issuer's %s", resp.Header.Get("Location"), chain.ContinuePath)
			}
			if tt.retryAfter > 0 {
				sc.clock.Advance(tt.retryAfter)
				if resp, body := b.Get(handoff); resp.StatusCode != http.StatusSeeOther || setCookies(resp)["portal_session"] == nil {
					t.Errorf("the refused handoff once the clocks agree = %d, want 303 with portal's cookie: the refusal must not consume the jti\n%s", resp.StatusCode, body)
				}
			}
		})
	}
}
