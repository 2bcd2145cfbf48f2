#!/usr/bin/env bash
# Installs what the tests need beyond Go, from Debian's packages, when it is missing.
# `make test` runs it first; it is idempotent and installs nothing when everything is
# there. Each line below names what the tests use and the package that provides it.
set -euo pipefail

need=()
want() { # want <package> <command that succeeds when it is there>
	local pkg=$1
	shift
	"$@" >/dev/null 2>&1 || need+=("$pkg")
}
has() { command -v "$1"; }

want python3 has python3                                     # Python components and the client's tests
want python3-venv python3 -c 'import ensurepip, venv'        # topologies' virtualenvs (python3 -m venv)
want prometheus has promtool                                 # deploy/prometheus: promtool check config|rules
want python3-kafka /usr/bin/python3 -c 'import kafka'        # Kafka interoperability with kafka-python (Debian's python3)
want chromium has chromium                                   # test/e2e TestWebUI drives the web UI in headless Chromium

if ((${#need[@]} == 0)); then
	echo "test-deps: everything the tests need is installed"
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
