package tracecmd

import (
	"context"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// probe runs the --probe step after the walk with what the mode could give:
// the sandbox gives a signing key, a way to revoke a session and the roles'
// clock; a live chain its key when this process can read it and the IdP's
// admin API; --start alone nothing. The Browser appends its results and
// findings to t.
func probe(ctx context.Context, b *chain.Browser, t *chain.Trace, r *walkRequest) {
	b.Probe(ctx, t, r.Probes)
}
