#!/usr/bin/env bash
# scripts/redis.sh — a real redis-server for ssoctl's tests and local runs.
# The tests call it (internal/redistest); you need it by hand only to try
# store: {redis: …} on one machine.
#
#   scripts/redis.sh install        install Debian's redis-server when missing,
#                                   print its path
#   scripts/redis.sh start DIR      start redis-server on a free loopback port with
#                                   DIR as its working directory, wait for PING,
#                                   print its URL (redis://127.0.0.1:PORT/0)
#   scripts/redis.sh stop DIR       stop the redis-server that start, replica or
#                                   sentinel left in DIR
#   scripts/redis.sh replica DIR PORT
#                                   start as start does, as a replica of the
#                                   redis-server on 127.0.0.1:PORT
#   scripts/redis.sh sentinel DIR PORT
#                                   start a Sentinel watching 127.0.0.1:PORT as
#                                   "mymaster" (quorum 1, down after 1s), print its
#                                   URL (redis://127.0.0.1:SPORT/0?master_name=mymaster)
#
# start listens on $REDIS_PORT when set; else on the port an earlier start in
# DIR used (so stop then start brings the same URL back, as a Redis restart
# would); else on a free one (replica and sentinel alike). It keeps nothing on
# disk (--save '', --appendonly no): a restart comes back empty, which is what
# the tests of "Redis was down" want. Its log is DIR/redis.log, its pid
# DIR/redis.pid; a Sentinel's config, which it rewrites, DIR/sentinel.conf.
# No password (unless $REDIS_PASSWORD: then every verb's server requires it,
# and replicas and the Sentinel use it to reach the primary; it shows in ps)
# and plain TCP on loopback: for tests and local runs, never production.
set -euo pipefail

die() { echo "scripts/redis.sh: $*" >&2; exit 1; }

install() {
	local bin
	if bin="$(command -v redis-server)"; then
		echo "$bin"
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "redis-server is not installed and there is no apt-get to install it; install Redis 7 or later"
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "installing redis-server needs root or sudo (apt-get install -y redis-server)"
		sudo="sudo"
	fi
	echo "scripts/redis.sh: installing Debian's redis-server" >&2
	# A fresh machine may have no package lists yet; update only then.
	if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2; then
		$sudo apt-get update >&2 || die "apt-get update failed"
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2 ||
			die "apt-get install redis-server failed"
	fi
	bin="$(command -v redis-server)" || die "redis-server is still not on PATH after installing it"
	echo "$bin"
}

# ping reports whether a Redis answers PONG on 127.0.0.1:$1, logging in
# with $REDIS_PASSWORD when set.
ping() {
	local password="${REDIS_PASSWORD:-}"
	if command -v redis-cli >/dev/null 2>&1; then
		if [ -n "$password" ]; then
			[ "$(REDISCLI_AUTH="$password" redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
		else
			[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
		fi
		return
	fi
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
	if [ -n "$password" ]; then
		printf 'AUTH %s\r\n' "$password" >&3
		read -r -t 1 reply <&3 || true
	fi
	printf 'PING\r\n' >&3
	read -r -t 1 reply <&3 || true
	exec 3<&- 3>&-
	[ "${reply%$'\r'}" = +PONG ]
}

# alive reports whether process $1 runs. A zombie counts as gone: it no
# longer serves, and in a container the reaper may take a second or more.
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	local state
	state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 0
	[ "$state" != Z ]
}

# listening reports whether something accepts connections on 127.0.0.1:$1.
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# launch DIR URLSUFFIX SERVER-ARGS... starts redis-server with those
# arguments and --port on a free (or the pinned) port, waits for PING and
# prints redis://127.0.0.1:PORT/0 followed by URLSUFFIX.
launch() {
	local dir="$1" suffix="$2"
	shift 2
	local port="${REDIS_PORT:-}" pinned=1
	if [ -z "$port" ] && [ -f "$dir/redis.port" ]; then
		port="$(cat "$dir/redis.port")"
	fi
	[ -n "$port" ] || pinned=0
	local attempt
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		if [ "$pinned" = 0 ]; then
			# A port nothing answers on now; another process may still take
			# it before redis-server binds, in which case it exits and the
			# next attempt picks again.
			port=$((20000 + RANDOM % 40000))
			listening "$port" && continue
		fi
		: >"$dir/redis.log"
		# Its own session, so stop can end it with anything it started.
		setsid "$@" --port "$port" >"$dir/redis.log" 2>&1 </dev/null &
		local pid=$!
		echo "$pid" >"$dir/redis.pid"
		local _
		for _ in $(seq 1 100); do
			if ! alive "$pid"; then
				break
			fi
			if ping "$port"; then
				echo "$port" >"$dir/redis.port"
				echo "redis://127.0.0.1:$port/0$suffix"
				return
			fi
			sleep 0.05
		done
		stop "$dir" || true
		if [ "$pinned" = 1 ] || [ "$attempt" = 10 ]; then
			tail -20 "$dir/redis.log" >&2
			die "redis-server did not answer PING on 127.0.0.1:$port (log: $dir/redis.log)"
		fi
	done
	die "found no free loopback port for redis-server"
}

# prepare DIR makes DIR, stops what an earlier start left there and prints
# its absolute path.
prepare() {
	local dir="$1"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	stop "$dir" 2>/dev/null || true
	echo "$dir"
}

# server DIR [ARGS...] starts a data node: start, or replica with
# --replicaof in ARGS.
server() {
	local dir="$1" bin
	shift
	bin="$(install)"
	dir="$(prepare "$dir")"
	local auth=()
	if [ -n "${REDIS_PASSWORD:-}" ]; then
		# masterauth too: after a failover this one may replicate another.
		auth=(--requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD")
	fi
	# No 5 s wait before a replica's first sync.
	launch "$dir" "" "$bin" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$dir" --daemonize no --protected-mode yes --repl-diskless-sync-delay 0 \
		"${auth[@]}" "$@"
}

start() { server "$1"; }

replica() { server "$1" --replicaof 127.0.0.1 "$2"; }

sentinel() {
	local dir="$1" primary="$2" bin
	bin="$(install)"
	dir="$(prepare "$dir")"
	# Written once: Sentinel rewrites it with what it learns (the replicas,
	# the current primary after a failover), which a restart keeps.
	if [ ! -f "$dir/sentinel.conf" ]; then
		{
			echo "sentinel monitor mymaster 127.0.0.1 $primary 1"
			echo "sentinel down-after-milliseconds mymaster 1000"
			echo "sentinel failover-timeout mymaster 5000"
			if [ -n "${REDIS_PASSWORD:-}" ]; then
				local quoted="${REDIS_PASSWORD//\\/\\\\}"
				quoted="\"${quoted//\"/\\\"}\""
				echo "requirepass $quoted"
				echo "sentinel auth-pass mymaster $quoted"
			fi
		} >"$dir/sentinel.conf"
	fi
	launch "$dir" "?master_name=mymaster" "$bin" "$dir/sentinel.conf" --sentinel --dir "$dir" \
		--bind 127.0.0.1 --daemonize no --protected-mode yes
}

stop() {
	local dir="$1" pid
	[ -f "$dir/redis.pid" ] || return 0
	pid="$(cat "$dir/redis.pid")"
	rm -f "$dir/redis.pid"
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
install) [ $# -eq 1 ] || die "usage: scripts/redis.sh install"; install ;;
start) [ $# -eq 2 ] || die "usage: scripts/redis.sh start DIR"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: scripts/redis.sh stop DIR"; stop "$2" ;;
replica) [ $# -eq 3 ] || die "usage: scripts/redis.sh replica DIR PRIMARY-PORT"; replica "$2" "$3" ;;
sentinel) [ $# -eq 3 ] || die "usage: scripts/redis.sh sentinel DIR PRIMARY-PORT"; sentinel "$2" "$3" ;;
*) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
