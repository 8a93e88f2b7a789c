# scripts/lib.sh — shell helpers that scripts/kratos.sh and scripts/hydra.sh
# share; sourced, never run.

# url_port URL: the port a URL names, or its scheme's default.
url_port() {
	local rest="${1#*://}"
	rest="${rest%%/*}"
	case "$rest" in
	*:*) echo "${rest##*:}" ;;
	*) case "$1" in https:*) echo 443 ;; *) echo 80 ;; esac ;;
	esac
}

# stop_pidfile FILE: stop the process group FILE names (TERM, then KILL
# after 5 s) and remove FILE; nothing to do without FILE.
stop_pidfile() {
	local file="$1" pid
	[ -f "$file" ] || return 0
	pid="$(cat "$file")"
	rm -f "$file"
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}
