#!/usr/bin/env bash
# scripts/kratos.sh — a real Ory Kratos for ssoctl's tests and examples.
# The tests call it; you need it by hand only for examples/kratos.
#
#   scripts/kratos.sh build          build Kratos once, print the binary's path
#   scripts/kratos.sh start DIR      write DIR/kratos.yml and DIR/identity.schema.json,
#                                    start Kratos on loopback, wait for /health/ready,
#                                    print its pid (its log is DIR/kratos.log)
#   scripts/kratos.sh stop DIR       stop the Kratos that start left in DIR
#
# build compiles Ory Kratos v1.3.1 from the Go module proxy (with sqlite, for
# dsn: memory) into $SSOCTL_CACHE/kratos-v1.3.1 (default
# $HOME/.cache/ssoctl/kratos-v1.3.1); later runs reuse it. A cold build
# takes a few minutes.
#
# start reads the chain it serves from the environment:
#   KRATOS_PUBLIC_URL   the browser-facing URL (http://auth.company.localhost:4433)
#   KRATOS_ADMIN_URL    the admin URL (http://auth.company.localhost:4434)
#   KRATOS_PUBLIC_LISTEN, KRATOS_ADMIN_LISTEN
#                       loopback addresses to bind (default 127.0.0.1 and
#                       the URLs' ports)
#   KRATOS_UI_URL       the issuer's URL: its /ui/login and /ui/registration
#                       pages render Kratos' flows (http://accounts.company.localhost:8080)
#   KRATOS_RETURN_URLS  space-separated URLs Kratos may send the browser back
#                       to after a flow (default KRATOS_UI_URL)
#   KRATOS_COOKIE_DOMAIN
#                       domain of Kratos' session cookie (default: the
#                       public host, host-only); a parent of the issuer's
#                       host lets the issuer see the session
#   KRATOS_SECRET_FILE  a file holding Kratos' cookie and cipher secret (32+
#                       bytes); default: a fresh random one in DIR
# Kratos stores everything in memory (dsn: memory) and runs with --dev, which
# allows http URLs on loopback; it is for tests and local runs, never production.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

version=v1.3.1
cache="${SSOCTL_CACHE:-$HOME/.cache/ssoctl}"
bin="$cache/kratos-$version/kratos"
die() { echo "scripts/kratos.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

build() {
	if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
		echo "$bin"
		return
	fi
	command -v go >/dev/null 2>&1 || die "Go is not installed; it builds Kratos"
	command -v gcc >/dev/null 2>&1 || die "gcc is not installed; Kratos' sqlite driver (for dsn: memory) needs cgo (apt-get install gcc)"
	local src="$cache/kratos-$version-src"
	mkdir -p "$src" "$(dirname "$bin")"
	# A wrapper module: Kratos' own main package imports its cmd package,
	# and building through a module of ours lets the replaces Kratos'
	# go.mod relies on (forks of pop, gorilla/sessions and a pinned sqlite)
	# apply, which `go install module@version` would ignore.
	cat >"$src/go.mod" <<-EOF
	module ssoctl.invalid/kratos

	go 1.22

	require github.com/ory/kratos $version

	replace (
		github.com/gobuffalo/pop/v6 => github.com/ory/pop/v6 v6.2.0
		github.com/gorilla/sessions => github.com/ory/sessions v1.2.2-0.20220110165800-b09c17334dc2
		github.com/mattn/go-sqlite3 => github.com/mattn/go-sqlite3 v1.14.22
	)
	EOF
	cat >"$src/main.go" <<-'EOF'
	// Command kratos is Ory Kratos, built by ssoctl's scripts/kratos.sh.
	package main

	import (
		"os"

		"github.com/ory/kratos/cmd"
	)

	func main() { os.Exit(cmd.Execute()) }
	EOF
	echo "scripts/kratos.sh: building Ory Kratos $version into $bin (a few minutes, once)" >&2
	local start=$SECONDS
	(
		cd "$src"
		export GOFLAGS=-mod=mod CGO_ENABLED=1 GOTOOLCHAIN=local
		go mod tidy >"$src/tidy.log" 2>&1 || { tail -20 "$src/tidy.log" >&2; die "resolving Kratos $version's modules failed (log: $src/tidy.log)"; }
		go build -tags sqlite -trimpath -o "$bin.tmp" . >"$src/build.log" 2>&1 || { tail -20 "$src/build.log" >&2; die "building Kratos $version failed (log: $src/build.log)"; }
	)
	mv "$bin.tmp" "$bin"
	echo "scripts/kratos.sh: built Kratos $version in $((SECONDS - start))s" >&2
	echo "$bin"
}

start() {
	local dir="$1"
	: "${KRATOS_PUBLIC_URL:?set KRATOS_PUBLIC_URL, the browser-facing URL}"
	: "${KRATOS_ADMIN_URL:?set KRATOS_ADMIN_URL}"
	: "${KRATOS_UI_URL:?set KRATOS_UI_URL, the issuer that renders the login page}"
	local kratos
	kratos="$(build)"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	local publisten="${KRATOS_PUBLIC_LISTEN:-127.0.0.1:$(url_port "$KRATOS_PUBLIC_URL")}"
	local admlisten="${KRATOS_ADMIN_LISTEN:-127.0.0.1:$(url_port "$KRATOS_ADMIN_URL")}"
	local ui="${KRATOS_UI_URL%/}"
	local secret
	if [ -n "${KRATOS_SECRET_FILE:-}" ]; then
		secret="$(tr -d '\n' <"$KRATOS_SECRET_FILE")"
	else
		secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	fi
	[ "${#secret}" -ge 32 ] || die "KRATOS_SECRET_FILE must hold at least 32 bytes"
	local returns=""
	for u in ${KRATOS_RETURN_URLS:-$ui}; do
		returns="$returns      - $u"$'\n'
	done
	# cookies.domain covers Kratos's CSRF cookies, session.cookie.domain its
	# session: the issuer must receive both, to read a flow and a session.
	local cookiedomain="" sessiondomain=""
	if [ -n "${KRATOS_COOKIE_DOMAIN:-}" ]; then
		cookiedomain="  domain: $KRATOS_COOKIE_DOMAIN"
		sessiondomain="    domain: $KRATOS_COOKIE_DOMAIN"
	fi

	cat >"$dir/identity.schema.json" <<-'EOF'
	{
	  "$id": "https://ssoctl.invalid/identity.schema.json",
	  "$schema": "http://json-schema.org/draft-07/schema#",
	  "title": "Person",
	  "type": "object",
	  "properties": {
	    "traits": {
	      "type": "object",
	      "properties": {
	        "email": {
	          "type": "string",
	          "format": "email",
	          "title": "E-mail",
	          "ory.sh/kratos": {
	            "credentials": {"password": {"identifier": true}}
	          }
	        }
	      },
	      "required": ["email"],
	      "additionalProperties": false
	    }
	  }
	}
	EOF
	# Written with the secret in it: readable by the owner only.
	(umask 077 && cat >"$dir/kratos.yml") <<-EOF
	version: $version
	dsn: memory
	serve:
	  public:
	    base_url: ${KRATOS_PUBLIC_URL%/}/
	    host: ${publisten%:*}
	    port: ${publisten##*:}
	  admin:
	    base_url: ${KRATOS_ADMIN_URL%/}/
	    host: ${admlisten%:*}
	    port: ${admlisten##*:}
	selfservice:
	  default_browser_return_url: $ui/
	  allowed_return_urls:
	$returns
	  methods:
	    password:
	      enabled: true
	      config:
	        haveibeenpwned_enabled: false
	  flows:
	    login:
	      ui_url: $ui/ui/login
	      lifespan: 10m
	    registration:
	      ui_url: $ui/ui/registration
	      lifespan: 10m
	      after:
	        password:
	          hooks:
	            - hook: session
	    error:
	      ui_url: $ui/ui/error
	    logout:
	      after:
	        default_browser_return_url: $ui/
	cookies:
	  same_site: Lax
	$cookiedomain
	session:
	  lifespan: 8h
	  cookie:
	    name: ory_kratos_session
	    same_site: Lax
	$sessiondomain
	secrets:
	  cookie:
	    - $secret
	  cipher:
	    - ${secret:0:32}
	ciphers:
	  algorithm: xchacha20-poly1305
	hashers:
	  algorithm: bcrypt
	  bcrypt:
	    cost: 4
	identity:
	  default_schema_id: default
	  schemas:
	    - id: default
	      url: file://$dir/identity.schema.json
	log:
	  level: info
	  format: text
	  leak_sensitive_values: false
	courier:
	  smtp:
	    connection_uri: smtp://127.0.0.1:1/?disable_starttls=true
	EOF
	stop "$dir" 2>/dev/null || true
	# --dev: http base URLs on loopback and non-Secure cookies. Started in
	# its own session so stop can end it with its children.
	setsid "$kratos" serve --dev --watch-courier=false -c "$dir/kratos.yml" >"$dir/kratos.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$dir/kratos.pid"
	# Kratos serves the admin API under /admin (its /health/ready there
	# only redirects).
	local ready="http://$admlisten/admin/health/ready"
	for _ in $(seq 1 300); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -20 "$dir/kratos.log" >&2
			die "Kratos exited while starting (log: $dir/kratos.log)"
		fi
		if curl -fsS -o /dev/null "$ready" 2>/dev/null && curl -fsS -o /dev/null "http://$publisten/health/ready" 2>/dev/null; then
			echo "$pid"
			return
		fi
		sleep 0.1
	done
	tail -20 "$dir/kratos.log" >&2
	stop "$dir" || true
	die "Kratos did not answer $ready within 30s (log: $dir/kratos.log)"
}

stop() { stop_pidfile "$1/kratos.pid"; }

case "${1:-}" in
build) build ;;
start) [ $# -eq 2 ] || die "usage: scripts/kratos.sh start DIR"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: scripts/kratos.sh stop DIR"; stop "$2" ;;
*) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
