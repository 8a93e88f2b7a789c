// Package chain reads chain files (the YAML that describes one propagating
// single sign-on chain), validates them with line and column, holds the
// return_to allowlist, and turns a chain into the ordered hops a browser takes.
//
// It is data and rules only: no HTTP, no clock, no token code. The roles in
// pkg/serve and the walk in trace read what this package returns.
//
// Decisions the design leaves open, made here so every caller agrees:
//
//   - A chain file is one YAML document of at most 1 MiB. Unknown keys,
//     duplicate keys, merge keys (<<) and custom tags are errors; aliases are
//     allowed but their expansion is capped (see maxDecodedValues). Top-level
//     keys starting with "x-" are ignored, as in Compose files, so anchors
//     have somewhere to live.
//   - Every problem is reported, sorted by position, in a *LintError; warnings
//     never stop a chain from loading and are kept in Chain.Warnings.
//   - Role URLs (issuer, receivers, the dev IdP) are origins: no path, query,
//     fragment or userinfo. They are stored in canonical form
//     (lower-case ASCII host, no default port, no trailing slash).
//   - A return_to pattern's leading "*." matches exactly one DNS label, as in
//     TLS certificates (RFC 6125 §6.4.3): *.company.com matches
//     accounts.company.com but neither company.com nor a.b.company.com.
//   - An issuer or receiver origin that no return_to pattern covers is a
//     warning, not an error: the chain still runs, only logins that want to
//     land there are refused, and some operators allow only a few landing pages.
//   - Kratos's admin_url may use http outside dev chains with a warning: it
//     is usually a cluster-internal address. Every browser-facing URL needs
//     https unless dev: true.
//   - Load takes relative secret and key file paths relative to the chain
//     file; Parse leaves them as written.
//   - Token lifetime: ttl defaults to 30s and may not exceed max_ttl (the
//     receivers' limit, default 30s); raising ttl means raising max_ttl too,
//     and max_ttl stops at 5m.
package chain
