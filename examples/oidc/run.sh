#!/usr/bin/env bash
# examples/oidc/run.sh — run examples/oidc/chain.yaml on a real Ory Hydra:
# start Hydra (built once by scripts/hydra.sh) with ssoctl's login pages as
# its login and consent provider, register the issuer as Hydra's client
# (client.json), then run the login pages, the issuer and both receivers
# with `ssoctl serve dev` until Ctrl-C, which stops Hydra too.
#
#   ./examples/oidc/run.sh
#
# Environment:
#   SSOCTL   the ssoctl to run (default: go run ./cmd/ssoctl)
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
dir="${SSOCTL_CACHE:-$HOME/.cache/ssoctl}/examples-oidc"
mkdir -p "$dir"

./scripts/hydra.sh build >/dev/null
# Hydra's own URLs are *.localhost names the browser and ssoctl map to this
# machine; Hydra listens on loopback and never looks its own name up.
export HYDRA_PUBLIC_URL=http://hydra.oidc.localhost:4444
export HYDRA_ADMIN_URL=http://hydra.oidc.localhost:4445
export HYDRA_PUBLIC_LISTEN=127.0.0.1:4444 HYDRA_ADMIN_LISTEN=127.0.0.1:4445
export HYDRA_LOGIN_URL=http://login.oidc.localhost:4455/hydra/login
export HYDRA_CONSENT_URL=http://login.oidc.localhost:4455/hydra/consent
export HYDRA_LOGOUT_URL=http://login.oidc.localhost:4455/hydra/logout
./scripts/hydra.sh start "$dir" >/dev/null
trap './scripts/hydra.sh stop "$dir"' EXIT
echo "Hydra is up on $HYDRA_PUBLIC_URL (admin $HYDRA_ADMIN_URL; log $dir/hydra.log)"

# The issuer as Hydra's client (dsn: memory: gone when Hydra stops).
curl -fsS -o /dev/null -H 'Content-Type: application/json' -d @examples/oidc/client.json http://127.0.0.1:4445/admin/clients
echo "registered the client ssoctl-accounts"
echo

if [ -n "${SSOCTL:-}" ]; then
	"$SSOCTL" serve dev -f examples/oidc/chain.yaml
else
	go run ./cmd/ssoctl serve dev -f examples/oidc/chain.yaml
fi
