# Sourced by scripts/demo.sh --socketio (after demo-env.sh: $work, $port,
# demo_spawn): the socket.io 4.8 test server with the demo's certificate,
# the agent against it, and the session as the server sees it.
sio_dir="$top/tests/peers/socketio"
if [ ! -d "$sio_dir/node_modules/socket.io" ]; then
	echo "== npm ci in tests/peers/socketio (first run)"
	(cd "$sio_dir" && npm ci --no-audit --no-fund >/dev/null)
fi
: > "$work/sio.jsonl"

echo "== control plane: socket.io 4.8 on wss://localhost:$port/socket.io/ (namespace /agents)"
demo_spawn node "$sio_dir/server.js" --port "$port" --control-port 0 \
	--cert "$work/server.pem" --key "$work/server.key" \
	--token demo-token --record "$work/sio.jsonl" \
	--ping-interval 5000 --ping-timeout 5000 \
	--app-ping-ms "${DEMO_PING_MS:-4000}" >"$work/sio.out" 2>&1
sleep 1

echo "== agent: $top/build/demo/supervisor/nixfleet-agent (clientId demo-host)"
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
	"$top"/build/demo/supervisor/nixfleet-agent

cat > "$work/view.py" <<'PY'
import json, sys, time
f = open(sys.argv[1])
while True:
    line = f.readline()
    if not line.endswith("\n"):
        time.sleep(0.2)
        f.seek(f.tell())
        continue
    r = json.loads(line)
    e, t = r.get("event"), time.strftime("%H:%M:%S", time.localtime(r["t"]))
    if e == "connect":
        q = r["query"]
        print(t, "  GET", r["url"].split("?")[0], "clientId=%s ts=%s sig=%s..."
              % (q.get("clientId"), q.get("ts"), q.get("sig", "")[:12]),
              "(HMAC checked)")
    elif e == "reject":
        print(t, "  rejected:", r.get("reason"))
    elif e == "sent":
        print(t, "<", r["name"], json.dumps(r["data"]))
    elif e == "event" and r["name"] == "stats":
        d = r["args"][0]["data"]
        print(t, "> stats cpu=%s%% mem=%d/%d MB load=%s disks=%d ifaces=%d "
              "host=%s %s %s agent %s" % (
                  d["cpu"], d["mem"]["used"] >> 20, d["mem"]["total"] >> 20,
                  d["load"]["1m"], len(d.get("disk", [])),
                  len(d.get("netIfaces", [])), d.get("hostname"),
                  d.get("platform"), d.get("release"), d["agentVersion"]))
    elif e == "event":
        print(t, ">", r["name"], json.dumps(r["args"][0] if r["args"] else {}))
    elif e == "disconnect":
        print(t, "  disconnected:", r.get("reason"))
    sys.stdout.flush()
PY
sleep 1
echo "== the session as the server records it (< server to agent, > agent to server)"
demo_spawn /usr/bin/python3 -u "$work/view.py" "$work/sio.jsonl"

# The dashboard's side of remote administration, through the server's
# control port: an allow-listed command, a refused one, a short shell.
ctl=$(sed -n 's/^LISTENING .*control=\([0-9]*\).*/\1/p' "$work/sio.out")
demo_emit() {
	exec 3<>"/dev/tcp/127.0.0.1/$ctl"
	printf 'emit %s %s\n' "$1" "$2" >&3
	read -r -t 5 _ <&3 || true
	exec 3<&-
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
