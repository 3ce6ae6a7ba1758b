# Sourced by scripts/demo.sh and tests/bench/footprint.sh: a throwaway
# world for one agent on loopback.  Sets $work (a temporary directory with
# ca.pem, server.pem/server.key for localhost, an empty root "empty", a
# state directory and a git repository "repo") and $port (free on
# 127.0.0.1); demo_spawn starts a background process that demo_cleanup
# stops, last started first.  For the demos' views: demo_say adds a line
# of narration to the record file $demo_record, demo_wait polls for a
# condition within a time bound, demo_ctl sends one command line to a
# peer's control port and prints its one-line answer.

work=$(mktemp -d /tmp/nixfleet-demo.XXXXXX)
pids=()

demo_cleanup() {
	trap - EXIT INT TERM
	# The agent before the dashboard, so the dashboard sees its close.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap demo_cleanup EXIT
trap 'demo_cleanup; exit 130' INT
trap 'demo_cleanup; exit 143' TERM

demo_spawn() {
	"$@" &
	pids+=($!)
}

demo_record=$work/record.jsonl

demo_say() {
	local s=${*//\\/\\\\}
	s=${s//\"/\\\"}
	printf '{"t": %s, "event": "demo", "text": "%s"}\n' \
		"$(date +%s.%N)" "$s" >> "$demo_record"
}

# demo_wait <seconds> <what> <command...>: run the command every 0.2 s
# until it succeeds; after <seconds>, say what did not happen and fail.
demo_wait() {
	local n=$(($1 * 5)) what=$2
	shift 2
	while ! "$@" 2>/dev/null; do
		if ((--n <= 0)); then
			echo "demo: timed out waiting for $what" >&2
			return 1
		fi
		demo_sleep 0.2
	done
}

# A sleep that a signal interrupts at once (a trap runs only between
# commands, and the builtin wait is one).
demo_sleep() {
	sleep "$1" &
	wait $!
}

demo_ctl() {
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf '%s\n' "$2" >&3
	read -r -t 5 reply <&3 || true
	exec 3<&-
	printf '%s\n' "$reply"
}

(
	cd "$work"
	ossl() { openssl "$@" >/dev/null 2>&1; }
	ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
		-days 2 -subj "/CN=nixfleet demo CA"
	ossl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
		-subj "/CN=localhost"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
	ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
		-CAcreateserial -out server.pem -days 2 -extfile san.ext
	mkdir -m 0755 empty state
	git init -q -b main repo
	git -C repo -c user.name=demo -c user.email=demo@localhost \
		commit -q --allow-empty -m "demo configuration"
)
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
