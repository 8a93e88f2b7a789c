package tracecmd

import (
	"context"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// browse is the real walk: a chain.Browser walks from the start URL, then,
// unless a host was unreachable, checks the expectations (and /auth on each
// receiver), with --probe sends the hostile variants, and with --logout
// logs out and times each receiver's sign-out.
func browse(ctx context.Context, r *walkRequest) (*chain.Trace, error) {
	b, err := chain.NewBrowser(chain.BrowserOptions{
		Dialer:   r.Dialer,
		Chain:    r.Chain,
		User:     r.User,
		Password: r.Password,
		Now:      r.Now,
		Timeout:  r.Timeout,
	})
	if err != nil {
		return nil, cmdutil.UsageError("", "%s", cmdutil.Printable(err.Error()))
	}
	t, err := b.Walk(ctx, r.Start)
	if err != nil || t == nil || t.Unreachable != "" {
		return t, err
	}
	b.Expect(ctx, t, r.Expect)
	if r.Probe {
		probe(ctx, b, t, r)
	}
	if r.Logout {
		logout(ctx, b, t, r)
	}
	return t, nil
}

// logout runs --logout after a clean walk. The revoked_session probe ends
// the walk's session, so after --probe the browser signs in once more
// first; a walk that did not sign in leaves nothing to sign out.
func logout(ctx context.Context, b *chain.Browser, t *chain.Trace, r *walkRequest) {
	if t.Failed() && !r.Probe {
		r.notef("--logout: skipped, the login walk did not come out clean")
		return
	}
	if r.Probe {
		if again, err := b.Walk(ctx, r.Start); err != nil || again.Unreachable != "" || again.Failed() {
			r.notef("--logout: skipped, signing in again after the probes failed")
			return
		}
	}
	if err := b.Logout(ctx, t, r.Logouts); err != nil {
		r.notef("--logout: %s", cmdutil.Printable(err.Error()))
	}
}
