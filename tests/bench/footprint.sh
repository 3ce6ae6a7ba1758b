#!/usr/bin/env bash
# Footprint of a running agent: binary sizes, resident memory of each of
# the three processes and their CPU time, after SECONDS_RUN (default 30)
# of heartbeats every second to the reference dashboard over TLS.
#   tests/bench/footprint.sh [build dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
build=${1:-build}
secs=${SECONDS_RUN:-30}

. scripts/demo-env.sh
demo_spawn /usr/bin/python3 tests/peers/dashboard.py --port "$port" \
	--cert "$work/server.pem" --key "$work/server.key" --token t \
	>/dev/null 2>&1
sleep 1
demo_spawn env -i PATH=/usr/bin:/bin NIXFLEET_URL="wss://localhost:$port/ws" \
	NIXFLEET_TOKEN=t NIXFLEET_CA_FILE="$work/ca.pem" \
	NIXFLEET_REPO_DIR="$work/repo" NIXFLEET_STATE_DIR="$work/state" \
	NIXFLEET_PRIVSEP_DIR="$work/empty" NIXFLEET_INTERVAL=1 \
	"$top/$build"/supervisor/nixfleet-agent 2>/dev/null
sleep "$secs"

# env execs the agent: the last pid is the supervisor.
sup=${pids[1]}
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
