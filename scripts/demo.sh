#!/usr/bin/env bash
# The agent's main job, shown on one machine: build it, start the reference
# NixFleet dashboard on loopback with TLS (a CA and a server certificate
# made on the spot), start the agent against it, and show the registration
# and the live heartbeats until interrupted (or for DEMO_SECONDS).
#
# --socketio: the same for the socketio dialect, against the socket.io 4.8
# test server of tests/peers/socketio (wss://, HMAC-signed handshake):
# the handshake, the stats samples and the ping/pong events, as the server
# records them.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
mode=nixfleet
[ "${1:-}" = "--socketio" ] && mode=socketio

./scripts/deps.sh
[ -f build/demo/build.ninja ] || meson setup build/demo -Dtests=false >/dev/null
ninja -C build/demo >/dev/null

. scripts/demo-env.sh
if [ "$mode" = socketio ]; then
	. scripts/demo-socketio.sh
	exit 0
fi
printf 'NIXFLEET_TOKEN=demo-token\n' > "$work/token"
chmod 600 "$work/token"

echo "== dashboard: wss://localhost:$port/ws (messages below are what it receives)"
demo_spawn /usr/bin/python3 tests/peers/dashboard.py --port "$port" \
	--cert "$work/server.pem" --key "$work/server.key" --token demo-token
sleep 1

echo "== agent: $top/build/demo/supervisor/nixfleet-agent"
demo_spawn env -i PATH=/usr/bin:/bin \
	NIXFLEET_URL="wss://localhost:$port/ws" \
	NIXFLEET_TOKEN_FILE="$work/token" \
	NIXFLEET_CA_FILE="$work/ca.pem" \
	NIXFLEET_REPO_DIR="$work/repo" \
	NIXFLEET_STATE_DIR="$work/state" \
	NIXFLEET_PRIVSEP_DIR="$work/empty" \
	NIXFLEET_INTERVAL="${DEMO_INTERVAL:-2}" \
	"$top"/build/demo/supervisor/nixfleet-agent

if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS"
else
	wait "${pids[1]}"
fi
