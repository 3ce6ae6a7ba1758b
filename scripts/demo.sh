#!/usr/bin/env bash
# The agent's main job, shown on one machine: build it, start the reference
# NixFleet dashboard on loopback with TLS (a CA and a server certificate
# made on the spot), start the agent against it, and show the registration
# and the live heartbeats until interrupted (or for DEMO_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

./scripts/deps.sh
[ -f build/demo/build.ninja ] || meson setup build/demo -Dtests=false >/dev/null
ninja -C build/demo >/dev/null

work=$(mktemp -d /tmp/nixfleet-demo.XXXXXX)
pids=()
cleanup() {
	trap - EXIT INT TERM
	# The agent first, so the dashboard sees its close 1000 "shutdown".
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cd "$work"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
	-subj "/CN=nixfleet demo CA"
ossl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
	-subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	-out server.pem -days 2 -extfile san.ext
printf 'NIXFLEET_TOKEN=demo-token\n' > token && chmod 600 token
mkdir -m 0755 empty state
git init -q -b main repo
git -C repo -c user.name=demo -c user.email=demo@localhost commit -q \
	--allow-empty -m "demo configuration"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

echo "== dashboard: wss://localhost:$port/ws (messages below are what it receives)"
/usr/bin/python3 "$top"/tests/peers/dashboard.py --port "$port" \
	--cert server.pem --key server.key --token demo-token &
pids+=($!)
sleep 1

echo "== agent: $top/build/demo/supervisor/nixfleet-agent"
env -i PATH=/usr/bin:/bin \
	NIXFLEET_URL="wss://localhost:$port/ws" \
	NIXFLEET_TOKEN_FILE="$work/token" \
	NIXFLEET_CA_FILE="$work/ca.pem" \
	NIXFLEET_REPO_DIR="$work/repo" \
	NIXFLEET_STATE_DIR="$work/state" \
	NIXFLEET_PRIVSEP_DIR="$work/empty" \
	NIXFLEET_INTERVAL="${DEMO_INTERVAL:-2}" \
	"$top"/build/demo/supervisor/nixfleet-agent &
pids+=($!)

if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS"
else
	wait "${pids[1]}"
fi
