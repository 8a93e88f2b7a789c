#!/usr/bin/env bash
# scripts/bench.sh — ssoctl's performance numbers in one run, printed as one
# table (docs/PERFORMANCE.md explains them):
#
#   1. forward auth: a receiver's GET /auth under wrk, beside a bare Go
#      net/http handler and oauth2-proxy v7.8.1 /oauth2/auth, each server
#      pinned to one core and wrk to the other, by the shared perf harness
#      ../shared/perf/run-anchors.sh (outside this repository; called by
#      path, not copied). This script logs in with curl to get a valid
#      portal_session cookie and hands the harness SSOCTL_AUTH_URL,
#      SSOCTL_COOKIE and SSOCTL_CMD, so the receiver is started fresh,
#      pinned like its peers.
#   2. /sso handoffs per second, memory and Redis stores (go test -bench
#      BenchmarkSSO in pkg/serve; Redis is a real redis-server started by
#      internal/redistest through scripts/redis.sh).
#   3. where a handoff's time goes: a CPU profile of BenchmarkSSO/memory,
#      grouped into token verify, replay store, IdP check, cookie sealing.
#   4. replay store memory at 100 k and 1 M live jtis (pkg/serve/store).
#
#   scripts/bench.sh                    everything (~8 min; oauth2-proxy's
#                                       first build adds ~1 min)
#   ANCHORS=0 scripts/bench.sh          skip 1 (no wrk, no oauth2-proxy)
#
# Environment: PERF_DIR (default ../shared/perf from the repo root),
# BENCH_OUT (default a new temp dir; keeps logs, profiles, raw output),
# COUNT=3 (go test -count; medians are reported), SSO_BENCHTIME=1s,
# ROUNDS=5 (the harness runs its /auth targets that many times, in turn;
# each ratio is taken within a round, then the median over rounds),
# INTERLEAVE=16 (rounds of 1 s each of bare, bare-hmac, oauth2-proxy and
# ssoctl, all running at once and loaded in turn; 0 skips them),
# SSOCTL_LOG_LEVEL=info (the receiver's --log-level under load; info, the
# default, logs one line per request). The harness's own knobs (DURATION,
# CONNS, SERVER_CPU, LOAD_CPU, ...) pass through. It needs go, curl, taskset
# and wrk (run-anchors.sh installs wrk as root); ports 4433, 4434, 8080,
# 8081 and 8082 of examples/local/chain.yaml and 18191-18193 must be free
# (checked first).
set -euo pipefail

die() { echo "scripts/bench.sh: $*" >&2; exit 1; }
log() { echo "[bench] $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PERF_DIR="${PERF_DIR:-$ROOT/../shared/perf}"
OUT="${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ssoctl-bench.XXXXXX")}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
COUNT="${COUNT:-3}"
SSO_BENCHTIME="${SSO_BENCHTIME:-1s}"
ANCHORS="${ANCHORS:-1}"
ROUNDS="${ROUNDS:-5}"
INTERLEAVE="${INTERLEAVE:-16}"
LOG_LEVEL="${SSOCTL_LOG_LEVEL:-info}"
CHAIN="$ROOT/examples/local/chain.yaml"
command -v go >/dev/null || die "go is not on PATH"

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

log "output in $OUT"
log "building ssoctl and the benchmark binaries"
(cd "$ROOT" && go build -trimpath -o "$OUT/ssoctl" ./cmd/ssoctl)
(cd "$ROOT" && go test -c -o "$OUT/serve.test" ./pkg/serve)
(cd "$ROOT" && go test -c -o "$OUT/store.test" ./pkg/serve/store)
SSOCTL="$OUT/ssoctl"

# ------------------------------------------------------------ 1. /auth
if [ "$ANCHORS" = 1 ]; then
	[ -x "$PERF_DIR/run-anchors.sh" ] || die "$PERF_DIR/run-anchors.sh not found; set PERF_DIR, or ANCHORS=0 to skip the /auth comparison"
	command -v curl >/dev/null || die "curl is not on PATH"
	start() { # name args... ; background, logs to $OUT/name.log
		local name=$1; shift
		"$SSOCTL" serve "$@" -f "$CHAIN" --log-level warn >"$OUT/$name.log" 2>&1 &
		PIDS+=($!)
		eval "PID_${name//-/_}=$!"
	}
	up() { # URL: wait until anything answers
		local _
		for _ in $(seq 1 100); do
			curl -s -o /dev/null -m 1 "$1" && return 0
			sleep 0.1
		done
		return 1
	}
	# A role that cannot bind its port exits at once, and `up` would then
	# take whatever answers there (a chain left running) for it.
	for port in 4433 4434 8080 8081 8082 18191 18192 18193; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			die "port $port is in use; stop what listens there (ss -ltnp 'sport = :$port') and run again"
		fi
	done
	# The IdP stays up for the whole run: the receiver under load re-checks
	# the session with it (once a minute, RecheckInterval). The issuer and
	# the receivers serve only the login walk.
	start idp idp
	start issuer issuer
	start portal receiver --name portal
	start dashboard receiver --name dashboard
	for u in http://127.0.0.1:4433/ http://127.0.0.1:8080/ http://127.0.0.1:8081/ http://127.0.0.1:8082/; do
		up "$u" || die "a role did not come up on $u (logs: $OUT/*.log)"
	done

	# Log in as examples/local/curl-walk.sh does, keeping its cookie jar.
	jar="$OUT/cookies.txt"
	CURL_WALK_JAR="$jar" "$ROOT/examples/local/curl-walk.sh" | sed 's/^/[bench] /' >&2
	value="$(awk '$6 == "portal_session" {print $7}' "$jar")"
	[ -n "$value" ] || die "the login walk left no portal_session cookie (jar: $jar)"
	cookie="portal_session=$value"

	# Stop the walk's receivers: the harness starts portal itself, fresh and
	# pinned. The cookie stays valid, because the sealing key derives from
	# the chain's token secret, not from the process.
	for p in "$PID_portal" "$PID_dashboard" "$PID_issuer"; do kill "$p"; wait "$p" 2>/dev/null || true; done

	# /auth needs no Host header: the receiver's mux is not host-routed and
	# the cookie is read from the Cookie header, so http://127.0.0.1:8081
	# works with the harness's plain `wrk -H "Cookie: ..."`.
	log "running $PERF_DIR/run-anchors.sh with an ssoctl row, $ROUNDS rounds (receiver --log-level $LOG_LEVEL)"
	ROUNDS="$ROUNDS" SSOCTL_AUTH_URL=http://127.0.0.1:8081/auth SSOCTL_COOKIE="$cookie" \
		SSOCTL_CMD="$SSOCTL serve receiver -f $CHAIN --name portal --log-level $LOG_LEVEL" \
		"$PERF_DIR/run-anchors.sh" | tee "$OUT/anchors.txt" >&2 || log "run-anchors.sh reported a failure (see above)"

	# The same comparison in short slices: the harness's own bare,
	# bare-hmac and oauth2-proxy binaries (as it runs them) and the
	# receiver, all up at once and pinned to one core (only the one under
	# load runs), loaded in turn for 1 s each, INTERLEAVE rounds. The
	# harness's 10 s rows are minutes apart, and the machine drifts by more
	# than the servers differ within that; a round here takes 4 s.
	PBIN="${PERF_CACHE:-$HOME/.cache/ssoctl-perf}/bin"
	BARE="$PBIN/bare" O2P="$PBIN/oauth2-proxy-v7.8.1"
	if [ "$INTERLEAVE" -gt 0 ] && [ -x "$BARE" ] && [ -x "$O2P" ] && [ -x "$PBIN/o2pcookie" ] && command -v wrk >/dev/null; then
		log "interleaved: bare, bare-hmac, oauth2-proxy and ssoctl, 1 s each, $INTERLEAVE rounds"
		ipids=()
		taskset -c 0 "$BARE" -mode=bare -addr=127.0.0.1:18191 >"$OUT/i-bare.log" 2>&1 &
		ipids+=($!)
		taskset -c 0 "$BARE" -mode=hmac -addr=127.0.0.1:18192 >"$OUT/i-bare-hmac.log" 2>&1 &
		ipids+=($!)
		taskset -c 0 "$SSOCTL" serve receiver -f "$CHAIN" --name portal --log-level "$LOG_LEVEL" >"$OUT/i-ssoctl.log" 2>&1 &
		ipids+=($!)
		# run-anchors.sh's oauth2-proxy flags (see ../shared/perf/RESULTS.md)
		o2p_secret=0123456789abcdef0123456789abcdef
		taskset -c 0 "$O2P" --http-address=127.0.0.1:18193 \
			--provider=oidc --skip-oidc-discovery \
			--oidc-issuer-url=http://127.0.0.1:9/ --login-url=http://127.0.0.1:9/authorize \
			--redeem-url=http://127.0.0.1:9/token --oidc-jwks-url=http://127.0.0.1:9/jwks \
			--client-id=bench --client-secret=bench \
			--cookie-secret="$o2p_secret" --cookie-name=_oauth2_proxy --cookie-secure=false \
			--cookie-expire=87600h --cookie-refresh=0 \
			--email-domain='*' --upstream=static://200 --reverse-proxy --skip-provider-button \
			--set-xauthrequest --request-logging=false --auth-logging=false >"$OUT/i-oauth2-proxy.log" 2>&1 &
		ipids+=($!)
		PIDS+=("${ipids[@]}")
		bare_cookie="$("$BARE" -mint)"
		o2p_cookie="$("$PBIN/o2pcookie" -secret "$o2p_secret" -name _oauth2_proxy -expire 87600h 2>/dev/null)"
		declare -A IURL=([bare]=http://127.0.0.1:18191/auth [bare-hmac]=http://127.0.0.1:18192/auth
			[oauth2-proxy]=http://127.0.0.1:18193/oauth2/auth [ssoctl]=http://127.0.0.1:8081/auth)
		declare -A ICK=([bare]="$bare_cookie" [bare-hmac]="$bare_cookie" [oauth2-proxy]="$o2p_cookie" [ssoctl]="$cookie")
		for t in bare bare-hmac oauth2-proxy ssoctl; do
			up "${IURL[$t]}" || die "interleaved: $t did not come up"
			code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: ${ICK[$t]}" "${IURL[$t]}")
			[[ "$code" == 2?? ]] || die "interleaved: $t answered $code with its cookie"
			code=$(curl -s -o /dev/null -w '%{http_code}' "${IURL[$t]}")
			[ "$code" = 401 ] || die "interleaved: $t answered $code without a cookie"
			taskset -c 1 wrk -t1 -c32 -d1s -H "Cookie: ${ICK[$t]}" "${IURL[$t]}" >/dev/null
		done
		: >"$OUT/interleaved.tsv"
		for r in $(seq 1 "$INTERLEAVE"); do
			for t in bare bare-hmac oauth2-proxy ssoctl; do
				taskset -c 1 wrk -t1 -c32 -d1s --latency -H "Cookie: ${ICK[$t]}" "${IURL[$t]}" |
					awk -v r="$r" -v t="$t" '/Requests\/sec/ {print r, t, $2} / Non-2xx/ {print "[bench] interleaved: non-2xx answers from " t > "/dev/stderr"}' >>"$OUT/interleaved.tsv"
			done
		done
		for p in "${ipids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
	elif [ "$INTERLEAVE" -gt 0 ]; then
		log "interleaved comparison skipped: it needs wrk and the harness's bare, oauth2-proxy and o2pcookie in $PBIN"
	fi
	kill "$PID_idp"; wait "$PID_idp" 2>/dev/null || true
fi

# ------------------------------------------------------------ 2. /sso
# Redis: install Debian's redis-server when missing, so the Redis rows run.
"$ROOT/scripts/redis.sh" install >/dev/null || log "no redis-server: the Redis rows will be skipped"
log "BenchmarkSSO (count $COUNT, benchtime $SSO_BENCHTIME, GOMAXPROCS $(nproc))"
(cd "$ROOT/pkg/serve" && "$OUT/serve.test" -test.run '^$' -test.bench '^BenchmarkSSO$' -test.benchmem \
	-test.benchtime "$SSO_BENCHTIME" -test.count "$COUNT") | tee "$OUT/sso.txt" >&2

# ------------------------------------------------------------ 3. profile
log "CPU profile of BenchmarkSSO/memory (3s)"
(cd "$ROOT/pkg/serve" && "$OUT/serve.test" -test.run '^$' -test.bench '^BenchmarkSSO$/^memory$' -test.benchmem \
	-test.benchtime 3s -test.cpuprofile "$OUT/sso.cpu.prof") | tee "$OUT/sso.prof.txt" >&2
go tool pprof -top -cum -nodecount 5000 "$OUT/serve.test" "$OUT/sso.cpu.prof" >"$OUT/sso.pprof.top" 2>/dev/null
# The IdP check alone, to tell its JSON decoding from the token's (both
# use JSON v2).
go tool pprof -top -cum -nodecount 5000 -focus 'serve\.\(\*Kratos\)\.Session$' "$OUT/serve.test" "$OUT/sso.cpu.prof" >"$OUT/sso-idp.pprof.top" 2>/dev/null

# ------------------------------------------------------------ 4. memory
for n in 100k 1M; do
	log "BenchmarkReplayMemory$n (its own process)"
	(cd "$ROOT/pkg/serve/store" && "$OUT/store.test" -test.run '^$' -test.bench "^BenchmarkReplayMemory$n\$" \
		-test.benchtime 1x) | tee "$OUT/mem-$n.txt" >&2
done

# ------------------------------------------------------------ the table
# median VALUE of UNIT over the lines of benchmark NAME in FILE
median() {
	awk -v name="$1" -v unit="$3" '$1 ~ "^"name"(-[0-9]+)?$" {
		for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' "$2" |
		sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR+1)/2)]; else print "-"}'
}
# anchors COLUMN of TARGET from run-anchors.sh's table, one line per round
# (its rows are TARGET, or TARGET.r1, TARGET.r2, ... when ROUNDS > 1)
anchors() {
	awk -v t="$1" -v col="$2" '$1 == t || (index($1, t ".r") == 1 && substr($1, length(t) + 3) ~ /^[0-9]+$/) {print $col}' \
		"$OUT/anchors.txt" 2>/dev/null
}
# the median of the numbers on stdin, or - for none
med() { sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR+1)/2)]; else print "-"}'; }
# COLUMN of A over COLUMN of B, round by round, as "median (each round)"
per_round() {
	local r
	r=$(paste <(anchors "$1" "$3") <(anchors "$2" "$3") | awk 'NF == 2 && $2 > 0 {printf "%.2f\n", $1 / $2}')
	[ -n "$r" ] || { echo "-"; return; }
	echo "$(med <<<"$r")x ($(echo $r | tr ' ' '/'))"
}
# A's req/s over B's in each interleaved round: "median (min-max)"
interleaved() {
	awk -v a="$1" -v b="$2" '$2 == a {x[$1] = $3} $2 == b {y[$1] = $3}
		END {for (r in x) if (y[r] > 0) printf "%.3f\n", x[r] / y[r]}' "$OUT/interleaved.tsv" |
		sort -g | awk '{v[NR] = $1} END {if (!NR) {print "-"; exit}
			m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
			printf "%.2fx (%.2f-%.2f)\n", m, v[1], v[NR]}'
}
# cum seconds of the function matching REGEX in the profile (in PROF,
# by default the whole one)
cum() {
	# ENVIRON, not -v: awk -v would eat the regex's backslashes.
	RE="$1" awk 'BEGIN { re = ENVIRON["RE"] } $NF ~ re || $(NF-1) ~ re {
		v = $4; m = 1
		if (v ~ /ms$/) { m = 0.001; sub(/ms$/, "", v) } else if (v ~ /us$/) { m = 1e-6; sub(/us$/, "", v) } else { sub(/s$/, "", v) }
		print v * m; exit }' "${2:-$OUT/sso.pprof.top}"
}
pct() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
us() { awk -v a="${1:-0}" -v n="${2:-0}" 'BEGIN { if (n > 0) printf "%.1f", 1e6 * a / n; else print "-" }'; }
row() { printf '%-44s %14s %14s %s\n' "$@"; }

{
	echo
	echo "# ssoctl benchmarks  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(go version | cut -d' ' -f3-4)  $(nproc) CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	row measure value target note
	if [ "$ANCHORS" = 1 ] && [ -s "$OUT/anchors.txt" ]; then
		for t in bare bare-hmac oauth2-proxy ssoctl; do
			row "/auth $t req/s (p99 us)" "$(anchors "$t" 2 | med) ($(anchors "$t" 5 | med))" "" "median of $ROUNDS round(s)"
		done
		# Each ratio is taken within a round (the targets of a round run
		# back to back), then the median over rounds: the machine's speed
		# drifts between rounds more than ssoctl differs from its peers.
		row "/auth ssoctl vs bare" "$(per_round ssoctl bare 2)" ">= 0.85x" ""
		row "/auth ssoctl vs bare-hmac" "$(per_round ssoctl bare-hmac 2)" "" "a minimal signed-cookie check"
		row "/auth ssoctl vs oauth2-proxy" "$(per_round ssoctl oauth2-proxy 2)" ">= 5x" ""
		row "/auth p99 ssoctl / bare" "$(per_round ssoctl bare 5)" "<= 1.5x" ""
	fi
	if [ -s "$OUT/interleaved.tsv" ]; then
		for pair in "ssoctl bare" "bare-hmac bare" "ssoctl bare-hmac" "ssoctl oauth2-proxy" "bare-hmac oauth2-proxy"; do
			set -- $pair
			row "/auth $1 vs $2, interleaved" "$(interleaved "$1" "$2")" "" "median (min-max) of $INTERLEAVE 1 s rounds"
		done
	fi
	for v in memory memory-parallel redis redis-parallel; do
		row "/sso handoffs/s, $v" "$(median "BenchmarkSSO/$v" "$OUT/sso.txt" req/s)" \
			"$(case $v in memory*) echo '>= 5000' ;; redis*) echo '>= 2000' ;; esac)" \
			"$(median "BenchmarkSSO/$v" "$OUT/sso.txt" allocs/op) allocs"
	done
	n=$(awk '/^BenchmarkSSO\/memory/ {print $2; exit}' "$OUT/sso.prof.txt")
	sso=$(cum 'serve\.\(\*Receiver\)\.sso$')
	verify=$(cum 'token\.\(\*Verifier\)\.Verify$')
	consume=$(cum 'store\.\(\*MemoryReplay\)\.Consume$')
	idp=$(cum 'serve\.\(\*Kratos\)\.Session$')
	decode=$(cum 'json\.Unmarshal$' "$OUT/sso-idp.pprof.top")
	idpsrv=$(cum 'serve\.\(\*DevIdP\)\.serveAdmin$')
	seal=$(cum 'serve\.\(\*Sealer\)\.SealSession$')
	gc=$(cum 'runtime\.gcBgMarkWorker$')
	rest=$(awk -v a="${sso:-0}" -v v="${verify:-0}" -v i="${idp:-0}" -v s="${seal:-0}" 'BEGIN{print a - v - i - s}')
	row "handoff CPU us, /sso handler (= 100%)" "$(us "$sso" "$n")" "" "profile of $n handoffs"
	row "  token verify (w/o replay store)" "$(us "$(awk -v a="${verify:-0}" -v b="${consume:-0}" 'BEGIN{print a-b}')" "$n")" "" "$(pct "$(awk -v a="${verify:-0}" -v b="${consume:-0}" 'BEGIN{print a-b}')" "$sso")"
	row "  replay store (memory Consume)" "$(us "$consume" "$n")" "" "$(pct "$consume" "$sso")"
	row "  IdP check, client side" "$(us "$idp" "$n")" "" "$(pct "$idp" "$sso"); JSON decode alone $(pct "$decode" "$sso")"
	row "  cookie sealing" "$(us "$seal" "$n")" "" "$(pct "$seal" "$sso")"
	row "  rest of the handler (query, headers, ...)" "$(us "$rest" "$n")" "" "$(pct "$rest" "$sso")"
	row "  + dev IdP serving the check (server)" "$(us "$idpsrv" "$n")" "" "outside the handler"
	row "  + GC background marking" "$(us "$gc" "$n")" "" "outside the handler"
	for m in 100k 1M; do
		row "replay store $m jtis: RSS MB (heap B/jti)" \
			"$(median "BenchmarkReplayMemory$m" "$OUT/mem-$m.txt" RSS-MB) ($(median "BenchmarkReplayMemory$m" "$OUT/mem-$m.txt" heap-B/jti))" \
			"$([ "$m" = 1M ] && echo '< 200' || true)" \
			"peak $(median "BenchmarkReplayMemory$m" "$OUT/mem-$m.txt" peakRSS-MB), base $(median "BenchmarkReplayMemory$m" "$OUT/mem-$m.txt" baseRSS-MB)"
	done
	echo "# raw output, logs and the profile: $OUT"
} | tee "$OUT/table.txt"
