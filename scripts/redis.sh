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
#   scripts/redis.sh stop DIR       stop the redis-server that start, replica,
#                                   sentinel or node left in DIR, or every node
#                                   of the cluster in DIR
#   scripts/redis.sh replica DIR PORT
#                                   start as start does, as a replica of the
#                                   redis-server on 127.0.0.1:PORT
#   scripts/redis.sh sentinel DIR PORT
#                                   start a Sentinel watching 127.0.0.1:PORT as
#                                   "mymaster" (quorum 1, down after 1s), print its
#                                   URL (redis://127.0.0.1:SPORT/0?master_name=mymaster)
#   scripts/redis.sh cluster DIR [N]
#                                   start a Redis Cluster of N primaries (default 3,
#                                   no replicas), one node in each of DIR/1 … DIR/N,
#                                   share the slots out (redis-cli --cluster create),
#                                   wait for cluster_state:ok on every node, print
#                                   its URL (redis://127.0.0.1:P1/0?cluster=true&
#                                   addr=127.0.0.1:P2&addr=127.0.0.1:P3)
#   scripts/redis.sh node DIR       start one cluster node as start does (DIR/1 …
#                                   after stop DIR/1: it comes back on its port,
#                                   empty, and rejoins the cluster with its slots,
#                                   which DIR/nodes.conf remembers)
#
# start listens on $REDIS_PORT when set; else on the port an earlier start in
# DIR used (so stop then start brings the same URL back, as a Redis restart
# would); else on a free one (replica, sentinel and node alike). It keeps
# nothing on disk (--save '', --appendonly no): a restart comes back empty,
# which is what the tests of "Redis was down" want. Its log is DIR/redis.log,
# its pid DIR/redis.pid; a Sentinel's config, which it rewrites,
# DIR/sentinel.conf; a cluster node's, DIR/nodes.conf. Cluster nodes decide a
# node is down after 2s (cluster-node-timeout) and keep answering for the
# slots of the nodes that are up (cluster-require-full-coverage no, so a test
# can tell the keys of a stopped node from the rest; Redis's default refuses
# them all while a node is down). No password (unless $REDIS_PASSWORD: then
# every verb's server requires it, and replicas, the Sentinel and redis-cli use
# it to reach the others; it shows in ps) and plain TCP on loopback: for tests
# and local runs, never production.
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
# prints redis://127.0.0.1:PORT/0 followed by URLSUFFIX. A cluster node
# (--cluster-enabled in the arguments) also needs PORT+10000 free, for the
# cluster bus.
launch() {
	local dir="$1" suffix="$2"
	shift 2
	local port="${REDIS_PORT:-}" pinned=1 bus=0 range=40000
	if [ -z "$port" ] && [ -f "$dir/redis.port" ]; then
		port="$(cat "$dir/redis.port")"
	fi
	[ -n "$port" ] || pinned=0
	case " $* " in *" --cluster-enabled "*) bus=1 range=30000 ;; esac
	local attempt
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		if [ "$pinned" = 0 ]; then
			# A port nothing answers on now; another process may still take
			# it before redis-server binds, in which case it exits and the
			# next attempt picks again.
			port=$((20000 + RANDOM % range))
			listening "$port" && continue
			[ "$bus" = 1 ] && listening $((port + 10000)) && continue
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

cluster_cli() {
	if [ -n "${REDIS_PASSWORD:-}" ]; then
		REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli "$@"
	else
		redis-cli "$@"
	fi
}

node() {
	# No persistence, like the other verbs; nodes.conf (the node's id, its
	# slots, its peers) is written all the same.
	server "$1" --cluster-enabled yes --cluster-config-file nodes.conf \
		--cluster-node-timeout 2000 --cluster-require-full-coverage no
}

cluster() {
	local dir="$1" n="${2:-3}"
	case "$n" in '' | *[!0-9]*) die "cluster: N must be a number (3 or more)" ;; esac
	[ "$n" -ge 3 ] || die "cluster: a Redis Cluster needs 3 primaries or more"
	install >/dev/null
	command -v redis-cli >/dev/null 2>&1 || die "redis-cli is not installed (Debian's redis-tools)"
	dir="$(prepare "$dir")"
	local i addrs=() ports=()
	for i in $(seq 1 "$n"); do
		mkdir -p "$dir/$i"
		# A new cluster: forget the one an earlier run left here.
		rm -f "$dir/$i/nodes.conf" "$dir/$i/redis.port"
		node "$dir/$i" >/dev/null
		ports+=("$(cat "$dir/$i/redis.port")")
		addrs+=("127.0.0.1:${ports[-1]}")
	done
	if ! cluster_cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1; then
		cat "$dir/create.log" >&2
		die "redis-cli --cluster create failed (log: $dir/create.log)"
	fi
	local port _ ok
	for port in "${ports[@]}"; do
		ok=0
		for _ in $(seq 1 200); do
			if cluster_cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
				ok=1
				break
			fi
			sleep 0.1
		done
		[ "$ok" = 1 ] || die "node 127.0.0.1:$port did not report cluster_state:ok within 20s (log: $dir/*/redis.log)"
	done
	local url="redis://${addrs[0]}/0?cluster=true"
	for i in "${addrs[@]:1}"; do
		url="$url&addr=$i"
	done
	echo "$url"
}

stop() {
	local dir="$1" pid sub
	# A cluster's DIR holds one node per subdirectory.
	for sub in "$dir"/*/; do
		[ -f "$sub/redis.pid" ] && stop "${sub%/}"
	done
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
cluster) [ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: scripts/redis.sh cluster DIR [N]"; cluster "$2" "${3:-3}" ;;
node) [ $# -eq 2 ] || die "usage: scripts/redis.sh node DIR"; node "$2" ;;
*) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
esac
