# Sourced by scripts/demo.sh (after demo-env.sh: $work, $port, $top,
# demo_spawn, demo_say, demo_wait, demo_ctl, $demo_record; $json set by
# --json): the agent's main job.  The sample fleet of scripts/demo-fleet
# goes into a local bare remote, the agent runs in isolated mode on a
# checkout of it against the reference dashboard (wss:// on loopback),
# then the demo pushes a commit, sends `pull` and `test`, and shows what
# the dashboard receives.  Every wait is bounded; it ends by itself.
agent_log=$work/agent.log
stop_file=$work/view.stop
host=demo-host

hb_count() { grep -c '"type": "heartbeat"' "$demo_record" || true; }
# has_status <command>: the dashboard has received that command's status.
has_status() {
	grep '"type": "status"' "$demo_record" | grep -q "\"command\": \"$1\""
}
heartbeats_past() { [ "$(hb_count)" -gt "$1" ]; }
demo_fail() {
	echo "demo: $1; the agent's last log lines:" >&2
	tail -n 20 "$agent_log" >&2 || true
	exit 1
}

# The sample fleet: a first commit in the remote; the agent clones its
# checkout itself at startup (isolated mode, nixfleet §4.2).
git_demo() { git -c user.name=demo -c user.email=demo@localhost "$@"; }
cp -R "$top/scripts/demo-fleet" "$work/src"
git -C "$work/src" init -q -b main
git -C "$work/src" add -A
git_demo -C "$work/src" commit -q -m "demo fleet: one host, two tests"
git clone -q --bare "$work/src" "$work/fleet.git"
git -C "$work/src" remote add origin "$work/fleet.git"
printf 'NIXFLEET_TOKEN=demo-token\n' > "$work/token"
chmod 600 "$work/token"

view=(/usr/bin/python3 -u "$top/scripts/demo-view.py" nixfleet
	"$demo_record" --stop-file "$stop_file")
[ -n "$json" ] && view+=(--json)
: > "$demo_record"
demo_spawn "${view[@]}"

demo_say "fleet repository: $work/fleet.git (bare), commit $(git -C "$work/src" rev-parse --short HEAD):" \
	"flake.nix, flake.lock, hosts/$host/tests/{10-flake.sh, 20-backup.sh, 30-manual.sh (not executable)}"
demo_say "dashboard: wss://localhost:$port/ws (what it receives: > from the agent, < to it, | output, ! stderr)"
demo_spawn /usr/bin/python3 "$top/tests/peers/dashboard.py" --port "$port" \
	--cert "$work/server.pem" --key "$work/server.key" --token demo-token \
	--record "$demo_record" >"$work/dash.out" 2>&1
demo_wait 10 "the dashboard to listen" grep -q '^LISTENING' "$work/dash.out" ||
	demo_fail "no dashboard"
ctl=$(sed -n 's/^LISTENING .*control=\([0-9]*\).*/\1/p' "$work/dash.out")

demo_say "agent: $build/supervisor/nixfleet-agent, isolated mode:" \
	"it clones $work/fleet.git into $work/checkout and pulls from there," \
	"heartbeat every ${DEMO_INTERVAL:-2} s"
demo_spawn env -i PATH=/usr/bin:/bin \
	NIXFLEET_URL="wss://localhost:$port/ws" \
	NIXFLEET_TOKEN_FILE="$work/token" \
	NIXFLEET_CA_FILE="$work/ca.pem" \
	NIXFLEET_REPO_URL="$work/fleet.git" \
	NIXFLEET_REPO_DIR="$work/checkout" \
	NIXFLEET_HOSTNAME="$host" \
	NIXFLEET_STATE_DIR="$work/state" \
	NIXFLEET_PRIVSEP_DIR="$work/empty" \
	NIXFLEET_INTERVAL="${DEMO_INTERVAL:-2}" \
	"$build"/supervisor/nixfleet-agent 2>"$agent_log"
demo_wait 30 "the first heartbeat" heartbeats_past 0 ||
	demo_fail "no heartbeat"
demo_wait 15 "a second heartbeat" heartbeats_past 1 ||
	demo_fail "no second heartbeat"

# Someone pushes a new test for the host.
cat > "$work/src/hosts/$host/tests/15-kernel.sh" <<'EOF'
#!/bin/sh
# Passes: reports the kernel the host runs.
echo "kernel $(uname -sr)"
EOF
chmod 755 "$work/src/hosts/$host/tests/15-kernel.sh"
git -C "$work/src" add -A
git_demo -C "$work/src" commit -q -m "$host: a test for the kernel"
git -C "$work/src" push -q origin main
demo_say "pushed $(git -C "$work/src" rev-parse --short HEAD) to the remote" \
	"(adds hosts/$host/tests/15-kernel.sh); the dashboard sends pull"

# run_command <name> <seconds>: send it, wait for its status and the
# heartbeat the agent sends right after it.
run_command() {
	local before
	demo_ctl "$ctl" "command $1" | grep -q '"ok": true' ||
		demo_fail "the dashboard could not send $1"
	demo_wait "$2" "the status of $1" has_status "$1" ||
		demo_fail "no status for $1"
	before=$(hb_count)
	demo_wait 15 "a heartbeat after $1" heartbeats_past "$before" ||
		demo_fail "no heartbeat after $1"
}
run_command pull 30
demo_say "the dashboard sends test"
run_command test 60
if [ -n "${DEMO_SECONDS:-}" ]; then
	demo_sleep "$DEMO_SECONDS"
fi

demo_say "stopping the agent (it closes with 1000 shutdown), then the dashboard"
kill -TERM "${pids[2]}" 2>/dev/null || true
wait "${pids[2]}" 2>/dev/null || true
kill -TERM "${pids[1]}" 2>/dev/null || true
wait "${pids[1]}" 2>/dev/null || true
touch "$stop_file"
wait "${pids[0]}" 2>/dev/null || true
