#!/usr/bin/env bash
# scripts/hydra.sh — a real Ory Hydra (OAuth 2.0 and OpenID Connect provider)
# for ssoctl's OIDC tests. The tests call it; you need it by hand only to try
# idp.kind: oidc against a local provider.
#
#   scripts/hydra.sh build          build Hydra once, print the binary's path
#   scripts/hydra.sh start DIR      write DIR/hydra.yml, start Hydra on loopback,
#                                   wait for /health/ready, print its pid
#                                   (its log is DIR/hydra.log)
#   scripts/hydra.sh stop DIR       stop the Hydra that start left in DIR
#
# build compiles Ory Hydra v2.3.0 from the Go module proxy (with sqlite, for
# dsn: memory) into $SSOCTL_CACHE/hydra-v2.3.0 (default
# $HOME/.cache/ssoctl/hydra-v2.3.0); later runs reuse it. A cold build takes
# a few minutes.
#
# start reads the provider it serves from the environment:
#   HYDRA_PUBLIC_URL    the issuer: browser-facing URL and the id_token's iss
#                       (http://hydra.company.localhost:4444)
#   HYDRA_ADMIN_URL     the admin URL (http://hydra.company.localhost:4445)
#   HYDRA_PUBLIC_LISTEN, HYDRA_ADMIN_LISTEN
#                       loopback addresses to bind (default 127.0.0.1 and
#                       the URLs' ports)
#   HYDRA_LOGIN_URL     the login provider's page; Hydra sends the browser
#                       there with ?login_challenge=
#   HYDRA_CONSENT_URL   the consent provider's page (?consent_challenge=)
#   HYDRA_LOGOUT_URL    the logout page (?logout_challenge=); default:
#                       Hydra's own fallback, which accepts every logout
#   HYDRA_POST_LOGOUT_URL
#                       where a logout without post_logout_redirect_uri
#                       ends; default: Hydra's own fallback page
#   HYDRA_SECRET_FILE   a file holding Hydra's system secret (32+ bytes);
#                       default: a random one in DIR/hydra.secret, kept
#                       across restarts
# The host names in these URLs are only names: Hydra never resolves them
# (its listeners are the loopback addresses above), so a test reaches them
# through its own dialer, never through DNS.
# Hydra stores everything in memory (dsn: memory) and runs with --dev, which
# allows an http issuer; it is for tests and local runs, never production.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

version=v2.3.0
cache="${SSOCTL_CACHE:-$HOME/.cache/ssoctl}"
bin="$cache/hydra-$version/hydra"
die() { echo "scripts/hydra.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

build() {
	if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
		echo "$bin"
		return
	fi
	command -v go >/dev/null 2>&1 || die "Go is not installed; it builds Hydra"
	command -v gcc >/dev/null 2>&1 || die "gcc is not installed; Hydra's sqlite driver (for dsn: memory) needs cgo (apt-get install gcc)"
	mkdir -p "$(dirname "$bin")"
	# Built in a fresh directory next to the binary and renamed into place:
	# an interrupted build leaves no half-written hydra for the next run to
	# trust, and the rename is atomic on one file system.
	local work log="$cache/hydra-$version.build.log"
	work="$(mktemp -d "$cache/hydra-$version.build.XXXXXX")"
	# shellcheck disable=SC2064 # expand now: work is local
	trap "rm -rf '$work'" EXIT
	trap "rm -rf '$work'; exit 130" INT TERM
	# A wrapper module: Hydra's main package imports its cmd package, and
	# building through a module of ours lets the pop fork Hydra's go.mod
	# relies on apply (without it: "p.conn.Store.SQLDB undefined"), which
	# `go install module@version` would ignore. Hydra's other replace (its
	# client, to a local path) is left out: the released client builds.
	cat >"$work/go.mod" <<-EOF
	module ssoctl.invalid/hydra

	go 1.22

	require github.com/ory/hydra/v2 $version

	replace github.com/gobuffalo/pop/v6 => github.com/ory/pop/v6 v6.2.1-0.20241121111754-e5dfc0f3344b
	EOF
	cat >"$work/main.go" <<-'EOF'
	// Command hydra is Ory Hydra, built by ssoctl's scripts/hydra.sh.
	package main

	import "github.com/ory/hydra/v2/cmd"

	func main() { cmd.Execute() }
	EOF
	echo "scripts/hydra.sh: building Ory Hydra $version into $bin (a few minutes, once)" >&2
	local start=$SECONDS
	(
		cd "$work"
		export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=1 GOTOOLCHAIN=local
		go mod tidy >"$log" 2>&1 || { tail -20 "$log" >&2; die "resolving Hydra $version's modules failed (log: $log)"; }
		# -tags sqlite: dsn: memory is sqlite too; without it serve exits
		# with "SQLite support was not built into the binary". The -X sets
		# what `hydra version` prints (else "master").
		go build -tags sqlite,sqlite_omit_load_extension -trimpath \
			-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
			-o "$work/hydra" . >>"$log" 2>&1 || { tail -20 "$log" >&2; die "building Hydra $version failed (log: $log)"; }
	)
	"$work/hydra" version >/dev/null 2>&1 || die "the Hydra just built does not run ($work/hydra version failed)"
	mv -f "$work/hydra" "$bin"
	echo "scripts/hydra.sh: built Hydra $version in $((SECONDS - start))s" >&2
	echo "$bin"
}

start() {
	local dir="$1"
	: "${HYDRA_PUBLIC_URL:?set HYDRA_PUBLIC_URL, the issuer URL}"
	: "${HYDRA_ADMIN_URL:?set HYDRA_ADMIN_URL}"
	: "${HYDRA_LOGIN_URL:?set HYDRA_LOGIN_URL, the login provider's page}"
	: "${HYDRA_CONSENT_URL:?set HYDRA_CONSENT_URL, the consent provider's page}"
	local hydra
	hydra="$(build)"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	local publisten="${HYDRA_PUBLIC_LISTEN:-127.0.0.1:$(url_port "$HYDRA_PUBLIC_URL")}"
	local admlisten="${HYDRA_ADMIN_LISTEN:-127.0.0.1:$(url_port "$HYDRA_ADMIN_URL")}"
	local l
	for l in "$publisten" "$admlisten"; do
		case "${l%:*}" in
		127.* | localhost) ;;
		*) die "Hydra listens on loopback only, not $l (HYDRA_PUBLIC_LISTEN, HYDRA_ADMIN_LISTEN)" ;;
		esac
	done
	local secret
	if [ -n "${HYDRA_SECRET_FILE:-}" ]; then
		secret="$(tr -d '\n' <"$HYDRA_SECRET_FILE")"
	else
		if [ ! -s "$dir/hydra.secret" ]; then
			(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/hydra.secret")
		fi
		secret="$(tr -d '\n' <"$dir/hydra.secret")"
	fi
	[ "${#secret}" -ge 32 ] || die "HYDRA_SECRET_FILE must hold at least 32 bytes"
	local logout="" postlogout=""
	[ -z "${HYDRA_LOGOUT_URL:-}" ] || logout="  logout: $HYDRA_LOGOUT_URL"
	[ -z "${HYDRA_POST_LOGOUT_URL:-}" ] || postlogout="  post_logout_redirect: $HYDRA_POST_LOGOUT_URL"

	# Written with the secret in it: readable by the owner only.
	# same_site_mode Lax: Hydra's default, None, is dropped by browsers
	# without Secure, which --dev over http leaves off.
	(umask 077 && cat >"$dir/hydra.yml") <<-EOF
	dsn: memory
	serve:
	  public:
	    host: ${publisten%:*}
	    port: ${publisten##*:}
	  admin:
	    host: ${admlisten%:*}
	    port: ${admlisten##*:}
	  cookies:
	    same_site_mode: Lax
	urls:
	  self:
	    issuer: ${HYDRA_PUBLIC_URL%/}
	    public: ${HYDRA_PUBLIC_URL%/}
	    admin: ${HYDRA_ADMIN_URL%/}
	  login: $HYDRA_LOGIN_URL
	  consent: $HYDRA_CONSENT_URL
	$logout
	$postlogout
	secrets:
	  system:
	    - $secret
	oidc:
	  subject_identifiers:
	    supported_types:
	      - public
	ttl:
	  login_consent_request: 10m
	oauth2:
	  expose_internal_errors: true
	log:
	  level: info
	  format: text
	  leak_sensitive_values: false
	EOF
	stop "$dir" 2>/dev/null || true
	# --dev: an http issuer on loopback; --sqa-opt-out: no usage reports
	# (on by default), so Hydra never dials out. Started in its own session
	# so stop can end it with its children.
	setsid "$hydra" serve all --dev --sqa-opt-out -c "$dir/hydra.yml" >"$dir/hydra.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$dir/hydra.pid"
	# Unlike Kratos, Hydra answers health on the admin port at /health,
	# not /admin/health (that is a 404).
	local pubready="http://$publisten/health/ready" admready="http://$admlisten/health/ready"
	local deadline=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -20 "$dir/hydra.log" >&2
			die "Hydra exited while starting (log: $dir/hydra.log)"
		fi
		if curl -fsS --max-time 2 -o /dev/null "$pubready" 2>/dev/null && curl -fsS --max-time 2 -o /dev/null "$admready" 2>/dev/null; then
			echo "$pid"
			return
		fi
		sleep 0.1
	done
	tail -20 "$dir/hydra.log" >&2
	stop "$dir" || true
	die "Hydra did not answer $pubready and $admready within 30s (log: $dir/hydra.log)"
}

stop() { stop_pidfile "$1/hydra.pid"; }

case "${1:-}" in
build) build ;;
start) [ $# -eq 2 ] || die "usage: scripts/hydra.sh start DIR"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: scripts/hydra.sh stop DIR"; stop "$2" ;;
*) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
