#!/usr/bin/env bash
# scripts/chromium.sh — print the path of a Chromium the browser tests can
# drive (internal/e2e, through chromedp). scripts/test calls it and exports
# the path as SSOCTL_CHROMIUM; the tests call it themselves when run alone.
#
#   scripts/chromium.sh        print the path; install Chromium first if needed
#
# Looks for, in order: $SSOCTL_CHROMIUM, then chromium, chromium-browser,
# google-chrome, google-chrome-stable on PATH. A candidate counts only if
# `--version` answers (Ubuntu's chromium-browser can be a stub that asks for
# snap). When none does, it installs Debian's `chromium` package with
# apt-get (as root, or with passwordless sudo), and exits 1 with the reason
# on stderr when it cannot. Already installed, it prints the path and
# nothing else.
set -euo pipefail

die() { echo "scripts/chromium.sh: $*" >&2; exit 1; }

usable() {
	[ -n "$1" ] && [ -x "$1" ] && timeout 30 "$1" --version >/dev/null 2>&1
}

find_chromium() {
	if [ -n "${SSOCTL_CHROMIUM:-}" ]; then
		if usable "$SSOCTL_CHROMIUM"; then
			echo "$SSOCTL_CHROMIUM"
			return 0
		fi
		echo "scripts/chromium.sh: SSOCTL_CHROMIUM=$SSOCTL_CHROMIUM does not run; looking on PATH" >&2
	fi
	local name path
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		path="$(command -v "$name" 2>/dev/null)" || continue
		if usable "$path"; then
			echo "$path"
			return 0
		fi
	done
	return 1
}

if find_chromium; then
	exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
	die "no Chromium on PATH (chromium, chromium-browser, google-chrome) and no apt-get to install one; install Chromium or set SSOCTL_CHROMIUM to its path"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 ||
		die "no Chromium on PATH, and installing it needs root: run 'apt-get install chromium' as root, or set SSOCTL_CHROMIUM"
	# -n: never stop at a password prompt (CI, go test); fail instead.
	sudo -n true 2>/dev/null ||
		die "no Chromium on PATH, and sudo needs a password: run 'sudo apt-get install chromium', or set SSOCTL_CHROMIUM"
	as_root=(sudo -n)
fi

echo "scripts/chromium.sh: no Chromium on PATH; installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's chatter goes to stderr: stdout carries only the path.
${as_root[@]+"${as_root[@]}"} apt-get update -qq >&2 ||
	die "apt-get update failed (see above); install Chromium by hand or set SSOCTL_CHROMIUM"
${as_root[@]+"${as_root[@]}"} apt-get install -y -qq --no-install-recommends chromium >&2 ||
	die "apt-get install chromium failed (see above; Ubuntu ships Chromium only as a snap); install Chromium or Google Chrome by hand, or set SSOCTL_CHROMIUM"

find_chromium ||
	die "installed the chromium package, but no working chromium is on PATH"
