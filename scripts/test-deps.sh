#!/usr/bin/env bash
# Installs what the tests need beyond Go and Python, from Debian's packages, when it is
# missing. `make test` runs it first; it is idempotent and installs nothing when
# everything is there. Each line below names a command or file the tests use and the
# package that provides it.
set -euo pipefail

need=()
want() { # want <command or absolute path> <Debian package>
	if [[ $1 == /* ]]; then [[ -e $1 ]] && return; else command -v "$1" >/dev/null 2>&1 && return; fi
	need+=("$2")
}

want promtool prometheus # deploy/prometheus: promtool check config|rules

if ((${#need[@]} == 0)); then
	exit 0
fi
echo "test-deps: installing ${need[*]} (Debian packages the tests use)"
if ! command -v apt-get >/dev/null 2>&1; then
	echo "test-deps: apt-get is not available; install these packages by hand: ${need[*]}" >&2
	exit 1
fi
sudo=()
if ((EUID != 0)); then
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${need[@]}"; then
	"${sudo[@]}" apt-get update
	"${sudo[@]}" apt-get install -y --no-install-recommends "${need[@]}"
fi
