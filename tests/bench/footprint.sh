#!/usr/bin/env bash
# Footprint of a running agent: binary sizes, resident memory of each of
# the three processes and their CPU time, after SECONDS (default 30) of
# heartbeats every second to the reference dashboard over TLS.
#   tests/bench/footprint.sh [build dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
build=${1:-build}
secs=${SECONDS_RUN:-30}

work=$(mktemp -d /tmp/nixfleet-bench.XXXXXX)
pids=()
cleanup() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
cd "$work"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA"
ossl req -newkey rsa:2048 -nodes -keyout s.key -out s.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost\n' > san.ext
ossl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out s.pem -days 2 -extfile san.ext
mkdir -m 0755 empty state
git init -q -b main repo
git -C repo -c user.name=b -c user.email=b@b commit -q --allow-empty -m x
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 "$top"/tests/peers/dashboard.py --port "$port" --cert s.pem \
	--key s.key --token t >/dev/null 2>&1 &
pids+=($!)
sleep 1
env -i PATH=/usr/bin:/bin NIXFLEET_URL="wss://localhost:$port/ws" \
	NIXFLEET_TOKEN=t NIXFLEET_CA_FILE="$work/ca.pem" \
	NIXFLEET_REPO_DIR="$work/repo" NIXFLEET_STATE_DIR="$work/state" \
	NIXFLEET_PRIVSEP_DIR="$work/empty" NIXFLEET_INTERVAL=1 \
	"$top/$build"/supervisor/nixfleet-agent 2>/dev/null &
sup=$!
pids+=($sup)
sleep "$secs"

tck=$(getconf CLK_TCK)
printf '%-22s %10s %10s %12s\n' process "size KiB" "RSS KiB" "CPU ms"
for pid in $sup $(ps -o pid= --ppid "$sup"); do
	exe=$(readlink /proc/"$pid"/exe)
	rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)
	cpu=$(awk -v t="$tck" '{print ($14 + $15) * 1000 / t}' /proc/"$pid"/stat)
	printf '%-22s %10d %10d %12d\n' "$(basename "$exe")" \
		$(( $(stat -c %s "$exe") / 1024 )) "$rss" "$cpu"
done
echo "after $secs s connected over TLS, heartbeat every 1 s"
