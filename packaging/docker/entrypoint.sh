#!/bin/bash
# Container entrypoint (socketio-protocol.md §7.3): makes sure
# $CLIENT_CONFIG_PATH holds a configuration, then execs the command.
# Sources, the first that exists wins:
#   1. AGENT_CONFIG_JSON (the whole file as one variable);
#   2. /data/options.json (Home Assistant add-on options);
#   3. a file the operator mounted at $CLIENT_CONFIG_PATH;
#   4. the §7.2 environment variables.
# Secrets are never written by this script: AUTH_TOKEN, AUTH_TOKEN_FILE and
# COMMAND_TOKEN stay in the environment, which the agent reads itself and
# which overrides the file.
set -euo pipefail

config=${CLIENT_CONFIG_PATH:-/data/agent-config.json}
export CLIENT_ID=${CLIENT_ID:-$(hostname)}
# Gen-3 images used /ws/agent, which is wrong for this dialect.
export TRANSPORT_PATH=${TRANSPORT_PATH:-/socket.io}
# Accepted for compatibility, without effect.
unset MAX_CLOCK_SKEW_SEC DIRBROWSE_ROOTS

write() {	# JSON on stdin -> $config, owner-only
	local tmp
	tmp=$(mktemp "$config.XXXXXX")
	jq -e 'if type == "object" then . else error("not a JSON object") end' > "$tmp"
	chmod 0600 "$tmp"
	mv -f "$tmp" "$config"
}

mkdir -p "$(dirname "$config")" "${NIXFLEET_STATE_DIR:-/data/state}"
if [ -n "${AGENT_CONFIG_JSON:-}" ]; then
	printf '%s' "$AGENT_CONFIG_JSON" | write
elif [ -f /data/options.json ]; then
	jq 'with_entries(select(.value != null and .value != ""))' /data/options.json | write
elif [ -f "$config" ]; then
	:
else
	jq -n '{clientId: env.CLIENT_ID, transport: {path: env.TRANSPORT_PATH}}
		+ (if env.SERVER_URL then {serverUrl: env.SERVER_URL} else {} end)' | write
fi

exec "$@"
