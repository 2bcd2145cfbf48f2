#!/bin/sh
# Installs the Debian packages the tests need, only those missing; `make test` runs it.
# One package a line, so that merges stay easy.
set -eu

need() { # need <package> <command that succeeds when it is there>
	pkg=$1; shift
	if "$@" >/dev/null 2>&1; then return 0; fi
	echo "test-deps: installing $pkg"
	if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get install -y --no-install-recommends "$pkg" >/dev/null || {
		$SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "$pkg" >/dev/null
	}
}

need python3-kafka /usr/bin/python3 -c 'import kafka'
