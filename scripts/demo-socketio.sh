# Sourced by scripts/demo.sh --socketio (after demo-env.sh: $work, $port,
# demo_spawn): the socket.io 4.8 test server with the demo's certificate,
# the agent against it, and the session as the server sees it.
sio_dir="$top/tests/peers/socketio"
if [ ! -d "$sio_dir/node_modules/socket.io" ]; then
	demo_note "npm ci in tests/peers/socketio (first run)"
	(cd "$sio_dir" && npm ci --no-audit --no-fund >/dev/null)
fi
: > "$demo_record"
demo_note "work directory: $work (removed at the end)"

demo_note "control plane: socket.io 4.8 on wss://localhost:$port/socket.io/ (namespace /agents)"
demo_spawn node "$sio_dir/server.js" --port "$port" --control-port 0 \
	--cert "$work/server.pem" --key "$work/server.key" \
	--token demo-token --record "$demo_record" \
	--ping-interval 5000 --ping-timeout 5000 \
	--app-ping-ms "${DEMO_PING_MS:-4000}" >"$work/sio.out" 2>&1
sleep 1

demo_note "agent: $build/supervisor/nixfleet-agent (clientId demo-host)"
demo_spawn env -i PATH=/usr/bin:/bin \
	CLIENT_ID=demo-host \
	SERVER_URL="https://localhost:$port/" \
	AUTH_TOKEN=demo-token \
	ADMIN_ALLOWED_COMMANDS=uname,echo \
	ENABLE_SHELL=1 \
	STATS_INTERVAL_SEC="${DEMO_INTERVAL:-5}" \
	NIXFLEET_CA_FILE="$work/ca.pem" \
	NIXFLEET_STATE_DIR="$work/state" \
	NIXFLEET_PRIVSEP_DIR="$work/empty" \
	"$build"/supervisor/nixfleet-agent

sleep 1
demo_note "the session as the server records it (< server to agent, > agent to server)"
view=(/usr/bin/python3 -u "$top/scripts/demo-view.py" socketio "$demo_record")
[ -n "$json" ] && view+=(--json)
demo_spawn "${view[@]}"

# The dashboard's side of remote administration, through the server's
# control port: an allow-listed command, a refused one, a short shell.
ctl=$(sed -n 's/^LISTENING .*control=\([0-9]*\).*/\1/p' "$work/sio.out")
demo_emit() {
	demo_ctl "$ctl" "emit $1 $2" >/dev/null
	sleep "${3:-1}"
}
sleep 3
demo_emit admin_run '{"token":"t1","cmd":{"command":"uname -sr"}}'
demo_emit admin_run '{"token":"t2","cmd":{"command":"id -u"}}'
demo_emit shell_start '{"session":"demo"}'
demo_emit shell_input '{"session":"demo","data":"echo hi from the PTY\n"}'
demo_emit shell_close '{"session":"demo"}'

if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS"
else
	wait "${pids[1]}"
fi
