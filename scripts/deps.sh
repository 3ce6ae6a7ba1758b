#!/usr/bin/env bash
# Install what building and testing nixfleet-agent needs on Debian 12.
# Installs only what is missing; needs root (or sudo).
set -euo pipefail

pkgs=(
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	libev-dev libwslay-dev libmbedtls-dev libjansson-dev libseccomp-dev
	check libsubunit-dev
	python3-websockets openssl git ca-certificates iproute2 procps
	python3-socketio python3-aiohttp
	cron
	rsync openssh-client openssh-server passwd
	nix-bin systemd libxml2-utils man-db groff-base jq
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
	"${missing[@]}" >/dev/null
