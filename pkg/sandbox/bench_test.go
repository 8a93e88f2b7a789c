package sandbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/sandbox"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// generatedChain is a hub chain with n receivers, each on a root domain of
// its own (appI.companyI.localhost), the walk landing on the last one.
func generatedChain(tb testing.TB, n int) *chain.Chain {
	tb.Helper()
	return generatedChainMode(tb, n, chain.ModeHub)
}

// generatedChainMode is generatedChain in hub or relay mode.
func generatedChainMode(tb testing.TB, n int, mode chain.Mode) *chain.Chain {
	tb.Helper()
	return generatedChainWith(tb, n, mode, chain.TransportQuery)
}

// generatedChainWith is generatedChain in a mode, with a token transport.
func generatedChainWith(tb testing.TB, n int, mode chain.Mode, transport chain.Transport) *chain.Chain {
	tb.Helper()
	var recv, allow strings.Builder
	for i := 1; i <= n; i++ {
		origin := fmt.Sprintf("http://app%d.company%d.localhost:%d", i, i+1, 9000+i)
		fmt.Fprintf(&recv, "  - name: app%d\n    url: %s\n", i, origin)
		fmt.Fprintf(&allow, "    - %s\n", origin)
	}
	yaml := fmt.Sprintf(`version: 1
name: generated-%d
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:4433
  admin_url: http://auth.company.localhost:4434
  users:
    - {email: alice@example.com, password: wonderland}
issuer:
  url: http://accounts.company.localhost:8080
token:
  alg: HS256
  secret: dev-only-hs256-secret-for-the-sandbox-benchmark-0123
  transport: %s
mode: %s
receivers:
%sreturn_to:
  allow:
    - http://*.company.localhost:8080
%sexpect:
  final_url_prefix: http://app%d.company%d.localhost:%d/
`, n, transport, mode, recv.String(), allow.String(), n, n+1, 9000+n)
	c, err := chain.Parse("generated.yaml", []byte(yaml))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// walk is one first login through the sandbox with a fresh browser, as
// trace chain --sandbox makes it.
func walk(tb testing.TB, sb *sandbox.Sandbox) *chain.Trace {
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: sb.Dialer(), Chain: sb.Chain(), Now: sb.Now})
	if err != nil {
		tb.Fatal(err)
	}
	t, err := b.Walk(context.Background(), chain.StartURL(sb.Chain()))
	if err != nil {
		tb.Fatal(err)
	}
	if t.Unreachable != "" || t.FinalStatus != 200 || t.Failed() {
		tb.Fatalf("the walk failed: unreachable %q, final %s %d, findings %v", t.Unreachable, t.Final, t.FinalStatus, t.Findings)
	}
	return t
}

// TestGeneratedChain: the benchmark's chains walk clean, one handoff and
// one continue per receiver, and in hub mode a resume page every six
// receivers (the issuer breaks the run of redirects, which browsers cut
// at the 20th).
func TestGeneratedChain(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 10, 13} {
		sb := start(t, generatedChain(t, n), serve.Env{})
		tr := walk(t, sb)
		pauses := (n - 1) / 6
		if got, want := len(tr.Steps), 5+2*n+pauses; got != want {
			t.Errorf("%d receivers: %d steps, want %d", n, got, want)
		}
		resumed := 0
		for _, s := range tr.Steps {
			if strings.Contains(s.URL, "/sso/continue") && strings.Contains(s.URL, "resume=1") {
				resumed++
			}
		}
		if resumed != pauses {
			t.Errorf("%d receivers: %d resume pages, want %d", n, resumed, pauses)
		}
		if n > 10 {
			// By form_post every handoff is a page: no resume pages.
			sb = start(t, generatedChainWith(t, n, chain.ModeHub, chain.TransportFormPost), serve.Env{})
			for _, s := range walk(t, sb).Steps {
				if strings.Contains(s.URL, "resume=1") {
					t.Errorf("%d receivers by form_post: resumed from a page at step %d", n, s.N)
				}
			}
			continue // relay: N+2 redirects in a row, which chain lint caps at 17 receivers
		}
		// Relay: one hop per receiver, none back to the issuer.
		sb = start(t, generatedChainMode(t, n, chain.ModeRelay), serve.Env{})
		if got, want := len(walk(t, sb).Steps), 5+n; got != want {
			t.Errorf("%d receivers, relay: %d steps, want %d", n, got, want)
		}
	}
}

// The front-channel logout of a long hub chain breaks its run of
// redirects the same way: a resume page every six receivers, and no
// SSO304 (which the logout walk reports like any other).
func TestGeneratedChainLogout(t *testing.T) {
	t.Parallel()
	const n = 13
	sb := start(t, generatedChain(t, n), serve.Env{})
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: sb.Dialer(), Chain: sb.Chain(), Now: sb.Now})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.Walk(context.Background(), chain.StartURL(sb.Chain()))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Logout(context.Background(), tr, chain.LogoutOptions{}); err != nil {
		t.Fatal(err)
	}
	lo := tr.Logout
	if tr.Failed() || lo.FinalStatus != 200 || !strings.HasSuffix(lo.Final, ":8080/") {
		t.Fatalf("logout ended at %s (%d); findings %v", lo.Final, lo.FinalStatus, tr.Findings)
	}
	resumed := 0
	for _, s := range lo.Steps {
		if strings.Contains(s.URL, "/logout/continue") && strings.Contains(s.URL, "resume=1") {
			resumed++
		}
	}
	if want := (n - 1) / 6; resumed != want {
		t.Errorf("%d resume pages in the logout, want %d", resumed, want)
	}
}

// BenchmarkWalk measures one sandbox walk (a fresh browser: login form,
// every handoff, landing) on a running sandbox, and how it grows with the
// number of receivers. The dev IdP hashes passwords with bcrypt's default
// cost, so the login's POST is a fixed share of every walk.
func BenchmarkWalk(b *testing.B) {
	for _, bc := range []struct {
		n    int
		mode chain.Mode
	}{{3, chain.ModeHub}, {10, chain.ModeHub}, {3, chain.ModeRelay}, {10, chain.ModeRelay}} {
		n := bc.n
		b.Run(fmt.Sprintf("mode=%s/receivers=%d", bc.mode, n), func(b *testing.B) {
			sb := start(b, generatedChainMode(b, n, bc.mode), serve.Env{})
			walk(b, sb) // warm: connections, first-use allocations
			b.ReportAllocs()
			b.ResetTimer()
			var login float64
			for b.Loop() {
				for _, s := range walk(b, sb).Steps {
					if s.Form == "login" {
						login += s.ElapsedMS
					}
				}
			}
			walkMS := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
			b.ReportMetric(walkMS, "ms/walk")
			// The login POST is one bcrypt comparison at the dev IdP's
			// cost, the same for any chain; the rest is what grows.
			b.ReportMetric(walkMS-login/float64(b.N), "ms/walk-less-login")
		})
	}
}

// BenchmarkStartWalkClose measures what `trace chain --sandbox` does once:
// stand the chain up (bcrypt of the dev user's password included), walk
// it, shut it down.
func BenchmarkStartWalkClose(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) {
			c := generatedChain(b, n)
			b.ReportAllocs()
			for b.Loop() {
				sb, err := sandbox.Start(context.Background(), c, serve.Env{})
				if err != nil {
					b.Fatal(err)
				}
				walk(b, sb)
				if err := sb.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/walk")
		})
	}
}
