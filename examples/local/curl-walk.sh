#!/usr/bin/env bash
# Walk the local chain with curl, as a browser would: log in once at the dev
# IdP, then land signed in on three root domains. Start the chain first:
#
#   ssoctl serve dev -f examples/local/chain.yaml
#
# --resolve maps the chain's *.localhost names to this machine (browsers do
# that by themselves); the cookie jar keeps each domain's cookies apart.
# CURL_WALK_JAR=FILE keeps the jar there afterwards (scripts/bench.sh takes
# the signed-in portal_session cookie from it).
set -euo pipefail
jar="${CURL_WALK_JAR:-}"
if [ -z "$jar" ]; then
	jar="$(mktemp)"
	trap 'rm -f "$jar" "$jar.html"' EXIT
else
	trap 'rm -f "$jar.html"' EXIT
fi
resolve=()
for hp in auth.company.localhost:4433 accounts.company.localhost:8080 \
	portal.company2.localhost:8081 dashboard.company3.localhost:8082; do
	resolve+=(--resolve "$hp:127.0.0.1")
done
c() { curl -sS "${resolve[@]}" -c "$jar" -b "$jar" "$@"; }

# 1. Ask the issuer to sign us in and land on dashboard: with no session it
#    sends us to the IdP's login page.
c -L -o "$jar.html" 'http://accounts.company.localhost:8080/login?return_to=http://dashboard.company3.localhost:8082/'
field() { sed -n "s/.*name=\"$1\" value=\"\\([^\"]*\\)\".*/\\1/p" "$jar.html" | sed 's/&amp;/\&/g'; }

# 2. Post the login form; curl then follows the chain: IdP → issuer callback →
#    portal /sso → issuer /sso/continue → dashboard /sso → … → dashboard.
c -L -o /dev/null -w 'landed on %{url_effective} (HTTP %{http_code}) after %{num_redirects} redirects\n' \
	--data-urlencode "csrf_token=$(field csrf_token)" --data-urlencode "return_to=$(field return_to)" \
	--data-urlencode email=alice@example.com --data-urlencode password=wonderland \
	http://auth.company.localhost:4433/self-service/login

# 3. Every receiver now has its own cookie; forward auth says who we are.
for app in portal.company2.localhost:8081 dashboard.company3.localhost:8082; do
	printf '%s/auth: ' "$app"
	c -o /dev/null -D - "http://$app/auth" | tr -d '\r' | awk '/^HTTP/{s=$2} /^X-Auth-Email/{e=$2} END{print s, e}'
done
