#!/usr/bin/env bash
# scripts/install-deps.sh — install the Debian packages that building
# certsync and running its test suite need.  Does nothing (and needs no
# network) when they are all installed already; otherwise runs apt-get as
# root, through sudo when not root.  Then the npm packages of the test
# parsers (tests/parsers: tree-sitter-powershell), with `npm ci` from its
# package-lock.json when tests/parsers/node_modules is missing.
set -euo pipefail

packages=(
	meson ninja-build pkg-config gcc libc6-dev clang-16 libfuzzer-16-dev libclang-rt-16-dev
	libyaml-dev libssl-dev libssh2-1-dev libcurl4-openssl-dev libjansson-dev libxml2-dev
	openssl ca-certificates curl python3 python3-icalendar python3-winrm python3-jsonschema python3-yaml
	nginx-light haproxy dovecot-imapd socat pebble time strace
	openssh-server openssh-client sudo
	scdoc zsh fish
	libpq-dev postgresql-15 postgresql-client-15
	systemd util-linux chromium acl
	default-jre-headless
	nodejs npm dash
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] && continue
	# A Node.js built with its own npm (e.g. NodeSource's nodejs) conflicts
	# with Debian's npm package: a working npm is enough.
	[[ $p == npm ]] && command -v npm >/dev/null 2>&1 && continue
	missing+=("$p")
done

# The parsers' npm packages: exactly the versions in package-lock.json, no
# install scripts (.npmrc); the npm cache serves them when it has them.
npm_packages() {
	local dir
	dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/parsers"
	[[ -d $dir/node_modules ]] && return 0
	echo "install-deps: npm ci in tests/parsers"
	(cd "$dir" && npm ci --prefer-offline --no-audit --no-fund)
}

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages already installed"
	npm_packages
	exit $?
fi

as_root=()
if ((EUID != 0)); then
	command -v sudo >/dev/null 2>&1 || {
		echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	}
	as_root=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
npm_packages
