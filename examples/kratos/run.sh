#!/usr/bin/env bash
# examples/kratos/run.sh — run examples/kratos/chain.yaml on a real Ory Kratos:
# start Kratos (built once by scripts/kratos.sh), add the user alice@example.com,
# then run the issuer and both receivers with `ssoctl serve dev` until Ctrl-C,
# which stops Kratos too.
#
#   ./examples/kratos/run.sh
#
# Environment:
#   KRATOS_EXAMPLE_PASSWORD  alice's password (default: wonderland-kratos, a
#                            dev password for this example only)
#   SSOCTL                   the ssoctl to run (default: go run ./cmd/ssoctl)
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
dir="${SSOCTL_CACHE:-$HOME/.cache/ssoctl}/examples-kratos"
password="${KRATOS_EXAMPLE_PASSWORD:-wonderland-kratos}"

export KRATOS_PUBLIC_URL=http://auth.company.localhost:4433
export KRATOS_ADMIN_URL=http://auth.company.localhost:4434
export KRATOS_UI_URL=http://accounts.company.localhost:8080
export KRATOS_RETURN_URLS="http://accounts.company.localhost:8080 http://portal.company2.localhost:8081 http://dashboard.company3.localhost:8082"
export KRATOS_COOKIE_DOMAIN=company.localhost
./scripts/kratos.sh start "$dir" >/dev/null
trap './scripts/kratos.sh stop "$dir"' EXIT
echo "Kratos is up on $KRATOS_PUBLIC_URL (admin $KRATOS_ADMIN_URL; log $dir/kratos.log)"

# The identity, through Kratos's admin API (dsn: memory: it is gone when Kratos stops).
# The role goes in metadata_public, which only the admin API can write: traits
# are the user's own (registration, settings), and receivers send the role to
# apps as X-Auth-Role.
body=$(printf '{"schema_id":"default","traits":{"email":"alice@example.com"},"metadata_public":{"role":"admin"},"credentials":{"password":{"config":{"password":"%s"}}}}' "$password")
curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:4434/admin/identities
echo "added alice@example.com (role admin); sign in with KRATOS_EXAMPLE_PASSWORD's value (default wonderland-kratos)"
echo

if [ -n "${SSOCTL:-}" ]; then
	"$SSOCTL" serve dev -f examples/kratos/chain.yaml
else
	go run ./cmd/ssoctl serve dev -f examples/kratos/chain.yaml
fi
