#!/usr/bin/env bash
# Installs the Debian packages zrobot needs to build and test (curl and openssl for the HTTP
# tests, graphviz's dot for @robot/graph in test-blueprint-fs.sh, wrk and nginx for
# tests/bench/bench-http.sh; the real servers of the built-in templates,
# tests/integration/test-tmpl-*.sh: redis, memcached, nginx, postgresql; s6 as the peer of
# tests/bench/bench-supervise.sh; bash-completion, mandoc, man-db and systemd for
# tests/integration/test-install.sh; chromium, chromium-driver and python3-selenium for the
# dashboard's browser test, tests/integration/test-dashboard.sh). Debian ships no mongod:
# test-tmpl-mongodb.sh skips without it. A machine that already has them is left alone (no apt-get update, no network), so
# tests/run.sh can call this every time.
set -euo pipefail

packages=(
	meson ninja-build pkg-config gcc
	libfuse3-dev fuse3 libuv1-dev libjansson-dev
	libgit2-dev git libcurl4-openssl-dev libmicrohttpd-dev libsqlite3-dev libyaml-dev
	python3 procps util-linux
	curl openssl graphviz
	bash-completion mandoc man-db systemd
	wrk nginx-light
	redis-server redis-tools memcached postgresql s6
	chromium chromium-driver python3-selenium
)

missing=()
for p in "${packages[@]}"; do
	# db:Status-Status is exactly "installed" only for a fully installed package; removed
	# packages whose config files remain say "config-files" and must be reinstalled.
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [[ $status != installed ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

if ((EUID != 0)); then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: install them with: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
