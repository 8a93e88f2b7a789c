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
#   scripts/redis.sh stop DIR       stop the redis-server that start left in DIR
#
# start listens on $REDIS_PORT when set; else on the port an earlier start in
# DIR used (so stop then start brings the same URL back, as a Redis restart
# would); else on a free one. It keeps nothing on disk (--save '',
# --appendonly no): a restart comes back empty, which is what the tests of
# "Redis was down" want. Its log is DIR/redis.log, its pid DIR/redis.pid.
# No password and plain TCP on loopback: for tests and local runs, never
# production.
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

# ping reports whether a Redis answers PONG on 127.0.0.1:$1.
ping() {
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
		return
	fi
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
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

start() {
	local dir="$1" server
	server="$(install)"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	stop "$dir" 2>/dev/null || true
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
		setsid "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$dir" --daemonize no --protected-mode yes \
			>"$dir/redis.log" 2>&1 </dev/null &
		local pid=$!
		echo "$pid" >"$dir/redis.pid"
		local _
		for _ in $(seq 1 100); do
			if ! alive "$pid"; then
				break
			fi
			if ping "$port"; then
				echo "$port" >"$dir/redis.port"
				echo "redis://127.0.0.1:$port/0"
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
*) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
