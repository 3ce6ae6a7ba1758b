#!/usr/bin/env bash
# The agent's main job, shown on one machine: build it, start the reference
# NixFleet dashboard on loopback with TLS (a CA and a server certificate
# made on the spot), start the agent in isolated mode on a sample flake
# repository whose host tests come from a local bare git remote, push a
# commit, send `pull` and `test`, and show in a readable view what the
# dashboard receives: the host's state line from the heartbeats, every
# output line (stderr marked `!`), the per-test progress and each
# command's status (scripts/demo-nixfleet.sh).  It ends by itself.
#
#   ./scripts/demo.sh [--json] [--socketio]
#
# --json: the raw frames instead, one JSON object per line on stdout (the
# narration goes to stderr).
# --socketio: the same for the socketio dialect, against the socket.io 4.8
# test server of tests/peers/socketio (wss://, HMAC-signed handshake):
# the handshake, the stats samples, the ping/pong events and a short
# remote administration session, as the server records them; it runs
# until interrupted (or for DEMO_SECONDS).
#
# DEMO_BUILD_DIR (default build/demo) is the build it uses; DEMO_INTERVAL
# the heartbeat interval; DEMO_SECONDS how long it goes on at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
mode=nixfleet
json=
for a in "$@"; do
	case $a in
	--socketio) mode=socketio ;;
	--json) json=1 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--json] [--socketio]" >&2; exit 64 ;;
	esac
done
build=${DEMO_BUILD_DIR:-build/demo}
case $build in /*) ;; *) build=$top/$build ;; esac

./scripts/deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" -Dtests=false >/dev/null
ninja -C "$build" >/dev/null

# Narration outside the view: stdout, or stderr with --json.
demo_note() {
	if [ -n "$json" ]; then echo "== $*" >&2; else echo "== $*"; fi
}

. scripts/demo-env.sh
if [ "$mode" = socketio ]; then
	. scripts/demo-socketio.sh
else
	. scripts/demo-nixfleet.sh
fi
