#!/usr/bin/env bash
# Idle footprint in the socketio dialect: resident memory of each of the
# three processes and the CPU they use over SECONDS_RUN (default 60) of an
# idle session with the socket.io 4.8 test server (node) over TLS, with
# the spec's defaults (stats every 60 s, idle ping at 45 s) and socket.io's
# own (pingInterval 25 s, pingTimeout 20 s).  CPU comes from
# /proc/<pid>/schedstat (nanoseconds on a CPU), counted from the moment
# the session is up, so start-up and the handshake are not in it.
#   tests/bench/footprint_socketio.sh [build dir]
# Needs root (the net-worker's user switch), node and tests/peers/socketio's
# node_modules (npm ci there).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
build=${1:-build}
secs=${SECONDS_RUN:-60}
peer=tests/peers/socketio

[ -d "$peer/node_modules/socket.io" ] || (cd "$peer" && npm ci --silent)

. scripts/demo-env.sh
demo_spawn node "$peer/server.js" --port "$port" --control-port 0 \
	--record "$work/record" --token t --cert "$work/server.pem" \
	--key "$work/server.key" --ping-interval 25000 --ping-timeout 20000 \
	>"$work/server.out" 2>&1
for i in $(seq 100); do
	grep -q '^LISTENING' "$work/server.out" && break
	sleep 0.1
done
demo_spawn env -i PATH=/usr/bin:/bin NIXFLEET_PROTOCOL=socketio \
	CLIENT_ID=host-01 SERVER_URL="https://localhost:$port/" AUTH_TOKEN=t \
	NIXFLEET_CA_FILE="$work/ca.pem" NIXFLEET_STATE_DIR="$work/state" \
	NIXFLEET_PRIVSEP_DIR="$work/empty" LOG_FILE="$work/agent.log" \
	"$top/$build"/supervisor/nixfleet-agent >/dev/null 2>&1
for i in $(seq 200); do
	grep -q '"name":"stats"' "$work/record" 2>/dev/null && break
	sleep 0.1
done
grep -q '"name":"stats"' "$work/record" || {
	echo "no session within 20 s" >&2
	exit 1
}

# env execs the agent: the last pid is the supervisor.
sup=${pids[1]}
procs="$sup $(ps -o pid= --ppid "$sup" | tr '\n' ' ')"
declare -A cpu0
for pid in $procs; do
	cpu0[$pid]=$(awk '{print $1}' /proc/"$pid"/schedstat)
done
sleep "$secs"

printf '%-22s %10s %10s %10s %12s\n' process "size KiB" "RSS KiB" \
	"peak KiB" "CPU ms"
for pid in $procs; do
	exe=$(readlink /proc/"$pid"/exe)
	rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)
	hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$pid"/status)
	ns=$(awk '{print $1}' /proc/"$pid"/schedstat)
	printf '%-22s %10d %10d %10d %12.1f\n' "$(basename "$exe")" \
		$(( $(stat -c %s "$exe") / 1024 )) "$rss" "$hwm" \
		"$(awk -v a="${cpu0[$pid]}" -v b="$ns" 'BEGIN {print (b - a) / 1e6}')"
done
events=$(grep -c '"event":"event"' "$work/record" || true)
conns=$(grep -c '"event":"connect"' "$work/record" || true)
echo "idle $secs s on one socketio session over TLS ($conns connection(s)," \
	"$events agent events in all)"
