package token_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

func newLogoutVerifier(t testing.TB, keys token.KeySource, opts ...token.VerifyOption) *token.Verifier {
	t.Helper()
	v, err := token.NewLogoutVerifier(keys, testIssuer, testAudience, append([]token.VerifyOption{token.WithTimeFunc(fixedClock)}, opts...)...)
	if err != nil {
		t.Fatalf("NewLogoutVerifier: %v", err)
	}
	return v
}

func mintLogout(t testing.TB, key *token.Key) string {
	t.Helper()
	raw, _, err := token.MintLogout(key, token.LogoutOptions{
		Issuer: testIssuer, Audience: testAudience, Subject: testSubject, SessionID: testSID, Now: fixedClock,
	})
	if err != nil {
		t.Fatalf("MintLogout: %v", err)
	}
	return raw
}

func TestLogoutTokenRoundTrip(t *testing.T) {
	keys := newTestKeys(t)
	for _, key := range []*token.Key{keys.hs, keys.ed, keys.es, keys.rs} {
		t.Run(string(key.Algorithm()), func(t *testing.T) {
			raw := mintLogout(t, key)
			tok, err := newLogoutVerifier(t, keys.ring(t)).Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Header.Typ != token.LogoutType || tok.Claims.SessionID != testSID || tok.Claims.Subject != testSubject {
				t.Errorf("got typ %q sid %q sub %q", tok.Header.Typ, tok.Claims.SessionID, tok.Claims.Subject)
			}
			if _, ok := tok.Claims.Extra["nonce"]; ok {
				t.Error("a logout token carries a nonce")
			}
		})
	}
}

// TestLogoutAndHandoffNeverCross is explicit typing at work (RFC 8725
// §3.11): each verifier refuses the other kind of token.
func TestLogoutAndHandoffNeverCross(t *testing.T) {
	keys := newTestKeys(t)
	ctx := context.Background()
	handoff, _, err := token.Mint(keys.hs, token.MintOptions{
		Issuer: testIssuer, Audience: testAudience, Subject: testSubject, SessionID: testSID, Now: fixedClock,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		verifier *token.Verifier
		raw      string
		want     []string
	}{
		{"logout token as a handoff", newVerifier(t, keys.ring(t)), mintLogout(t, keys.hs), []string{"typ_mismatch"}},
		{"handoff as a logout token", newLogoutVerifier(t, keys.ring(t)), handoff, []string{"typ_mismatch", "logout_events_missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.verifier.Verify(ctx, tt.raw)
			got := codes(t, err)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("codes %v, want %s among them", got, w)
				}
			}
		})
	}
}

func TestLogoutTokenRules(t *testing.T) {
	keys := newTestKeys(t)
	s := keys.signer(token.HS256)
	h := header("HS256", "hs1").with("typ", token.LogoutType)
	events := map[string]any{token.BackchannelLogoutEvent: map[string]any{}}
	good := goodClaims().with("chn", deleted, "ret", deleted, "events", events)
	tests := []struct {
		name   string
		claims object
		want   []string
	}{
		{"valid", good, nil},
		{"no events", good.with("events", deleted), []string{"logout_events_missing"}},
		{"events without the member", good.with("events", map[string]any{"other": map[string]any{}}), []string{"logout_events_missing"}},
		{"member not an object", good.with("events", map[string]any{token.BackchannelLogoutEvent: "yes"}), []string{"logout_events_missing"}},
		{"nonce", good.with("nonce", "n-0S6_WzA2Mj"), []string{"logout_nonce_present"}},
		{"wrong audience", good.with("aud", "dashboard"), []string{"audience_mismatch"}},
		{"stale", good.with("iat", unix(-10*time.Minute), "exp", unix(-9*time.Minute-30*time.Second)), []string{"token_expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newLogoutVerifier(t, keys.ring(t)).Verify(context.Background(), s.sign(t, h.String(), tt.claims.String()))
			if got := codes(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("codes %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLogoutTokenReplay(t *testing.T) {
	keys := newTestKeys(t)
	v := newLogoutVerifier(t, keys.ring(t), token.WithReplayStore(&countingStore{}))
	raw := mintLogout(t, keys.hs)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("first Verify: %v", err)
	}
	_, err := v.Verify(context.Background(), raw)
	if got := codes(t, err); !slices.Equal(got, []string{"token_replayed"}) {
		t.Errorf("replay codes %v, want [token_replayed]", got)
	}
}

// Inspect shows a logout token as one (no typ_mismatch), and checks a
// handoff by the handoff rules only.
func TestInspectLogoutToken(t *testing.T) {
	keys := newTestKeys(t)
	in, err := token.Inspect(mintLogout(t, keys.hs), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Warnings) != 0 {
		t.Errorf("warnings on a good logout token: %v", in.Warnings)
	}
	raw, _, err := token.Mint(keys.hs, mintOptions())
	if err != nil {
		t.Fatal(err)
	}
	handoff, err := token.Inspect(raw, fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	if handoff.Has(token.ErrEventsMissing) || handoff.Has(token.ErrTypMismatch) {
		t.Errorf("handoff warnings: %v", handoff.Warnings)
	}
}
