#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those missing; idempotent. One line
# per package.
set -euo pipefail
missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)                             # Python components and the client's tests
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)        # topologies' virtualenvs (python3 -m venv)
if [ ${#missing[@]} -gt 0 ]; then
	echo "test-deps: installing ${missing[*]}"
	apt-get install -y --no-install-recommends "${missing[@]}"
else
	echo "test-deps: everything the tests need is installed"
fi
