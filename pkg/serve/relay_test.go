package serve_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// relayChain is localChain in relay mode: portal mints dashboard's handoff.
var relayChain = strings.Replace(localChain, "mode: hub\n", "mode: relay\n", 1)

// handoffTokens returns the tokens of the /sso hops of a walk, by receiver
// origin.
func handoffTokens(t *testing.T, hops []browsertest.Hop) map[string]*token.Token {
	t.Helper()
	out := map[string]*token.Token{}
	for _, h := range hops {
		u, _ := url.Parse(h.URL)
		if u.Path != chain.SSOPath {
			continue
		}
		tok, err := token.Parse(u.Query().Get(chain.TokenParam))
		if err != nil {
			t.Fatalf("%s: %v", h.URL, err)
		}
		out[u.Scheme+"://"+u.Host] = tok
	}
	return out
}

func TestRelayLoginGoesFromReceiverToReceiver(t *testing.T) {
	for _, tc := range []struct{ name, returnTo string }{
		{"ending on the last receiver", dashboardURL + "/"},
		// The relay still runs to the end of the chain, then comes back.
		{"ending on the first receiver's deep link", portalURL + "/reports?q=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := startChain(t, relayChain)
			b := rc.alice()
			p := b.Visit(loginURL(tc.returnTo))
			want := []string{
				"GET " + issuerURL + "/login",
				"GET " + idpPublic + "/self-service/login/browser",
				"POST " + idpPublic + "/self-service/login",
				"GET " + issuerURL + "/callback",
				"GET " + portalURL + "/sso",
				"GET " + dashboardURL + "/sso", // straight on: no /sso/continue
			}
			if got := hopURLs(p.Hops); !slices.Equal(got[:min(len(got), len(want))], want) || p.URL != tc.returnTo {
				t.Fatalf("walk ended at %s (%d); hops:\n%s\nwant first:\n%s", p.URL, p.Status, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			toks := handoffTokens(t, p.Hops)
			first, second := toks[portalURL], toks[dashboardURL]
			if first == nil || second == nil {
				t.Fatalf("handoffs seen: %v", toks)
			}
			if first.Claims.Issuer != issuerURL || first.Claims.Audience[0] != "portal" {
				t.Errorf("first hop: iss %q aud %v, want the issuer minting for portal", first.Claims.Issuer, first.Claims.Audience)
			}
			if second.Claims.Issuer != portalURL || second.Claims.Audience[0] != "dashboard" {
				t.Errorf("second hop: iss %q aud %v, want portal minting for dashboard", second.Claims.Issuer, second.Claims.Audience)
			}
			for _, c := range []struct{ name, got, want string }{
				{"sub", second.Claims.Subject, first.Claims.Subject},
				{"sid", second.Claims.SessionID, first.Claims.SessionID},
				{"chn", second.Claims.Chain, first.Claims.Chain},
				{"ret", second.Claims.Return, tc.returnTo},
			} {
				if c.got != c.want {
					t.Errorf("relayed %s = %q, want %q", c.name, c.got, c.want)
				}
			}
			if first.Claims.ID == second.Claims.ID {
				t.Error("the relayed handoff reuses the first one's jti")
			}
			for _, origin := range []string{portalURL, dashboardURL} {
				if got := authStatus(b, origin); got != http.StatusOK {
					t.Errorf("%s/auth = %d after the relay walk", origin, got)
				}
			}
		})
	}
}

func TestRelayFormPostCarriesTheRelayedHandoffInAForm(t *testing.T) {
	rc := startChain(t, strings.Replace(relayChain, "  leeway: 5s\n", "  leeway: 5s\n  transport: form_post\n", 1))
	b := rc.alice()
	p := b.Visit(loginURL(dashboardURL + "/"))
	if p.URL != dashboardURL+"/" || p.Status != http.StatusOK {
		t.Fatalf("walk ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	var posts []string
	for _, h := range p.Hops {
		if strings.Contains(h.URL, chain.TokenParam+"=") {
			t.Errorf("a token travelled in a URL: %s %s", h.Method, h.URL)
		}
		if h.Method == http.MethodPost && strings.HasSuffix(h.URL, chain.SSOPath) {
			posts = append(posts, h.URL)
		}
	}
	if want := []string{portalURL + chain.SSOPath, dashboardURL + chain.SSOPath}; !slices.Equal(posts, want) {
		t.Errorf("handoffs by POST: %v, want %v", posts, want)
	}
	if got := authStatus(b, dashboardURL); got != http.StatusOK {
		t.Errorf("dashboard /auth = %d after a form_post relay", got)
	}
}

// A relay receiver takes handoffs from the issuer and from the receiver
// before it, and no one else; the shared key itself cannot tell them apart
// (what relay gives up), but a misrouted chain shows up as issuer_mismatch.
func TestRelayReceiverTakesHandoffsOnlyFromTheIssuerAndItsPredecessor(t *testing.T) {
	rc := startChain(t, relayChain)
	for _, tc := range []struct {
		name, iss, aud, origin string
		wantStatus             int
	}{
		{"portal from the issuer", issuerURL, "portal", portalURL, http.StatusSeeOther},
		{"dashboard from the issuer", issuerURL, "dashboard", dashboardURL, http.StatusSeeOther},
		{"dashboard from portal, its predecessor", portalURL, "dashboard", dashboardURL, http.StatusSeeOther},
		{"portal from dashboard, which comes after it", dashboardURL, "portal", portalURL, http.StatusUnauthorized},
		{"dashboard from itself", dashboardURL, "dashboard", dashboardURL, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh := rc.captureUnused(rc.alice(), portalURL)
			tok := mintFor(rc, fresh, func(o *token.MintOptions) { o.Issuer, o.Audience, o.Return = tc.iss, tc.aud, dashboardURL+"/" })
			b := browsertest.New(t, rc.net)
			resp, body := b.Get(ssoURL(tc.origin, tok))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("%s = %d, want %d: %s", tc.origin, resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == http.StatusUnauthorized && !strings.Contains(body, "issuer_mismatch") {
				t.Errorf("the refusal does not name issuer_mismatch: %s", body)
			}
		})
	}
}

func TestRelayReceiverNeedsTheSigningKeyUnlessLast(t *testing.T) {
	c, err := chain.Parse("chain.yaml", []byte(relayChain))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := serve.ResolveKeys(c, serve.Env{}, false)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.Sealer("portal", chain.Cookie{}, serve.Env{})
	if err != nil {
		t.Fatal(err)
	}
	idp, err := serve.NewIdentityProvider(c, serve.Env{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(name string) serve.ReceiverConfig {
		return serve.ReceiverConfig{Chain: c, Name: name, IdP: idp, Keys: keys.Verify, Sealer: sealer,
			Replay: store.NewMemoryReplay(store.MemoryOptions{}), Revocations: store.NewMemoryRevocations(store.MemoryOptions{})}
	}
	if _, err := serve.NewReceiver(cfg("portal")); err == nil || !strings.Contains(err.Error(), "relay mode needs the chain's signing key") {
		t.Errorf("portal without a signing key: %v, want an error naming the relay key", err)
	}
	if _, err := serve.NewReceiver(cfg("dashboard")); err != nil {
		t.Errorf("dashboard, last on the walk, needs no signing key: %v", err)
	}
	withKey := cfg("portal")
	withKey.Signer = keys.Signing
	if _, err := serve.NewReceiver(withKey); err != nil {
		t.Errorf("portal with the key: %v", err)
	}
}
