// Package chain reads chain files (the YAML that describes one propagating
// single sign-on chain), validates them with line and column, holds the
// return_to allowlist, turns a chain into the ordered hops a browser takes,
// and walks a chain as a browser would (Browser, Trace): every hop, cookie
// and handoff token recorded, findings with stable codes, expectations.
//
// The file rules are data only. The walk is HTTP: it follows what the
// servers say, so it works on chains that ssoctl did not build, and it
// reaches host names through a Dialer, never through a DNS change. The
// roles themselves live in pkg/serve.
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
//   - Problem text never quotes what a secret field holds (token.secret,
//     idp.client_secret, idp.users[].password, issuer.cookie.secret,
//     receivers[].cookie.secret, the previous_secrets, apps[].secret,
//     store.redis): not a value, not a key of a
//     mapping written around a value (secret: {s3cr3t}), not an env "name"
//     that fails the name rule, not a tag; its paths stop at the field.
//     Anything else quoted from the file, and every URL, has what may be a
//     user:password@ part replaced by "(redacted)". So every caller of
//     Parse may print a Problem as it is.
//   - Listens: in a dev chain, issuer.listen, receivers[].listen,
//     idp.listen and idp.admin_listen default to 127.0.0.1 at the port of
//     issuer.url, the receiver's url, idp.public_url and idp.admin_url. No
//     two may share an address; a collision of a defaulted listen says what
//     it was defaulted from. idp.admin_listen applies only when admin_url
//     has an origin of its own (with public_url's, the dev IdP serves the
//     admin API on idp.listen). For kind kratos and oidc, ssoctl runs no IdP,
//     so the idp listens are neither defaulted nor allowed.
//   - Shared-cookie receivers are not served by ssoctl in this release: the
//     app reads the issuer's parent-domain cookie and asks the issuer about
//     it. They take no listen, cookie or recheck_interval.
//   - idp.cookie_domain is where the IdP sets its session cookie (Kratos's
//     session.cookie.domain); the issuer must receive it, since it logs
//     users in by asking the IdP who that cookie belongs to. Kind dev
//     defaults it to the registrable domain (eTLD+1) of the IdP's host when
//     the issuer's host is under it, and it is an error when the issuer is
//     under neither it nor the IdP's own host. A given value must
//     domain-match both hosts (RFC 6265 §5.1.3) and not be a public suffix.
//     Kratos's is checked only when given; oidc has none.
//   - receivers[].recheck_interval, how long a receiver trusts its cookie
//     before asking the IdP again, defaults to 1m and lies in [1s, 1h].
//   - receivers[].upstream is the app a receiver reverse-proxies for
//     signed-in browsers (pkg/serve: identity headers injected, client-sent
//     X-Auth-* headers stripped, the receiver's cookie withheld). It is an
//     absolute http or https URL and may carry a path prefix, but no query,
//     fragment or userinfo. Unlike role URLs it may use http outside dev:
//     without a warning when its host is loopback (localhost, *.localhost,
//     127.0.0.0/8, ::1), with one otherwise. Shared-cookie receivers take
//     none. `ssoctl serve receiver --upstream` overrides it for one run.
//   - receivers[].backchannel_logout (default true) makes the issuer's
//     /logout POST a logout token to the receiver's /backchannel-logout,
//     which revokes the session there at once. false leaves the receiver
//     to the front-channel (which clears only the cookie of the browser
//     that walks it) and its next IdP re-check (recheck_interval later),
//     so trace chain --logout reports it (SSO403). Shared-cookie receivers
//     take no backchannel_logout: ssoctl serves no endpoint for them.
//   - receivers[].max_auth_age (optional, in [1m, 720h]) is how long ago
//     the user may have logged in at the IdP (the session's
//     authenticated_at) for the receiver to accept the session. An older
//     one is refused at /sso, /auth and the upstream proxy; /sso sends the
//     browser to the issuer's /login with prompt=login, which asks the IdP
//     for the password again even with a session (Kratos and the dev IdP:
//     refresh=true), so authenticated_at is new when the walk comes back.
//     It needs idp.admin_url (the receiver reads authenticated_at there);
//     shared-cookie receivers take none. The issuer's /sso/check answers
//     login_required instead of walking when the session is older than the
//     max_auth_age of any receiver on the walk.
//   - issuer.cookie.secret and receivers[].cookie.secret are the keys the
//     roles sign their cookies with, written like token.secret (inline only
//     with dev: true). HS256 chains may leave them out (the keys are derived
//     from token.secret), and so may dev chains; EdDSA, ES256 and RS256
//     chains outside dev must give one per role that sets a cookie.
//   - token.previous_secrets (HS256 only) and cookie.previous_secrets are
//     keys being rotated out: what they signed or sealed is still
//     accepted, nothing new is made with them. Each is written like the
//     secret beside it, which must be given; at most MaxPreviousSecrets,
//     none naming the same env or file as the current secret or another
//     previous one.
//   - faults (Faults) make the roles misbehave on purpose, so that trace
//     has broken chains to find (examples/broken). Only dev chains may
//     have the block; a chain with a fault switched on always loads with
//     the warning FaultsWarning, and Chain.IssuerFaults and
//     Chain.ReceiverFaults give the roles nothing outside dev. Receiver
//     names must name served (not shared_cookie) receivers; ignore entries
//     must be pkg/token reason codes of a readable token (not
//     token_malformed and the like, which leave nothing to accept). An
//     idp.cookie_domain that does not reach the issuer is a warning rather
//     than an error when faults.issuer.loop_on_callback is set, since that
//     fault exists to show the loop such a cookie makes.
//   - apps (App) are the clients of the issuer's IntrospectPath, usually
//     the apps behind shared_cookie receivers (docs/introspect.md). Names
//     are DNS labels and keys are RFC 7617 user names without ':' (letters,
//     digits, '.', '_', '~', '-', at most 128); both unique. secret is
//     required, written like token.secret (inline only with dev: true, then
//     at least 32 bytes). permissions are non-empty words without spaces,
//     each listed once; metadata_admin.permissions.<app name> on the
//     identity, a list of strings, replaces them for that identity.
package chain
