#!/usr/bin/env bash
# scripts/soak.sh [DURATION] — a soak of `ssoctl serve dev` on free loopback
# ports (default 60s; scripts/test runs it for $SSOCTL_SOAK, default 10s).
# A few workers drive full logins (dev IdP form, a handoff through every
# receiver, /auth, logout) and hostile requests (garbage, forged, expired,
# replayed and oversized handoffs by GET and POST, open-redirect return_to,
# tampered cookies, wrong methods, oversized headers). It fails on any
# unexpected status, on server goroutines growing by more than
# SOAK_MAX_GOROUTINES (default 50) or its RSS by more than SOAK_MAX_RSS_MIB
# (default 64). The program is internal/soak; its flags (-workers, -keep,
# ...) may follow DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "scripts/soak.sh: $*" >&2; exit 2; }
command -v go >/dev/null 2>&1 || die "go is not on PATH"

duration="${1:-60s}"
[ $# -gt 0 ] && shift
bin="$(mktemp -d "${TMPDIR:-/tmp}/ssoctl-soak-bin.XXXXXX")"
trap 'rm -rf "$bin"' EXIT

go build -o "$bin/ssoctl" ./cmd/ssoctl
go build -o "$bin/soak" ./internal/soak
"$bin/soak" -bin "$bin/ssoctl" -duration "$duration" \
	-max-goroutine-growth "${SOAK_MAX_GOROUTINES:-50}" \
	-max-rss-growth-mib "${SOAK_MAX_RSS_MIB:-64}" "$@"
