# Sourced by scripts/demo.sh and tests/bench/footprint.sh: a throwaway
# world for one agent on loopback.  Sets $work (a temporary directory with
# ca.pem, server.pem/server.key for localhost, an empty root "empty", a
# state directory and a git repository "repo") and $port (free on
# 127.0.0.1); demo_spawn starts a background process that demo_cleanup
# stops, last started first.

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
trap demo_cleanup EXIT INT TERM

demo_spawn() {
	"$@" &
	pids+=($!)
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
