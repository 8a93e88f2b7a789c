package tracecmd

import (
	"context"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// browse is the real walk: a chain.Browser walks from the start URL, then,
// unless a host was unreachable, checks the expectations (and /auth on each
// receiver) and, with --probe, sends the hostile variants.
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
	return t, nil
}
