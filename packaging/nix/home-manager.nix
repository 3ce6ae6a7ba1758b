# Home Manager module: services.nixfleet-agent for one user.
#
# macOS: the launchd agent of nixfleet-protocol.md §8.4 (com.nixfleet.agent,
# the wait-for-dashboard start script), except that the token is not
# exported: the script passes the file's path as NIXFLEET_TOKEN_FILE and
# the agent reads it (a bare token or a NIXFLEET_TOKEN= line both work).
# Linux: the systemd user unit of §8.5.  Works without the overlay.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.nixfleet-agent;
  common = import ./common.nix { inherit lib; };
  inherit (lib) mkOption mkIf types;
  isDarwin = pkgs.stdenv.hostPlatform.isDarwin;

  configFile = pkgs.writeText "nixfleet-agent-config.json"
    (builtins.toJSON cfg.settings);

  env = common.environment cfg
    // { ${common.tokenFileVar cfg} = cfg.tokenFile; }
    // lib.optionalAttrs (cfg.sshKeyFile != null) { NIXFLEET_SSH_KEY = cfg.sshKeyFile; }
    // lib.optionalAttrs (cfg.settings != { }) { CLIENT_CONFIG_PATH = "${configFile}"; };

  # wss://h/ws -> https://h/health (the dashboard answers {"status":"ok"}).
  healthUrl =
    let
      u = lib.replaceStrings [ "wss://" "ws://" ] [ "https://" "http://" ] cfg.url;
      base = if lib.hasSuffix "/ws" u then lib.removeSuffix "/ws" u else lib.removeSuffix "/" u;
    in
    "${base}/health";

  unitEscape = lib.replaceStrings [ "%" "\\" "\"" ] [ "%%" "\\\\" "\\\"" ];

  exports = lib.concatStringsSep "\n"
    (lib.mapAttrsToList (k: v: "export ${k}=${lib.escapeShellArg v}") env);

  startScript = ''
    # Wait up to 60 s for the dashboard, then start anyway.
    i=0
    while [ "$i" -lt 30 ]; do
      if /usr/bin/curl -sf --connect-timeout 2 --max-time 5 ${lib.escapeShellArg healthUrl} >/dev/null 2>&1; then
        break
      fi
      sleep 2
      i=$((i + 1))
    done
    export PATH="$HOME/.nix-profile/bin:/nix/var/nix/profiles/default/bin:/run/current-system/sw/bin:$PATH"
    export NIXFLEET_REPO_DIR="$HOME/.local/state/nixfleet-agent/repo"
    ${exports}
    exec ${cfg.package}/bin/nixfleet-agent
  '';
in
{
  options.services.nixfleet-agent = common.options // {
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The agent package (the flake's module sets its own build).";
    };
    tokenFile = mkOption {
      type = types.str;
      description = "File with the dashboard token: a bare token or a NIXFLEET_TOKEN=<token> line, mode 0600. Passed by path (NIXFLEET_TOKEN_FILE), never read into the script or the store.";
    };
    sshKeyFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Private key for git over SSH (NIXFLEET_SSH_KEY).";
    };
  };

  config = mkIf cfg.enable (lib.mkMerge [
    {
      assertions = common.assertions cfg ++ [{
        assertion = !(common.inStore cfg.tokenFile);
        message = "services.nixfleet-agent.tokenFile is in the Nix store, which everyone can read";
      }];
      warnings = common.warnings cfg;
    }

    (mkIf isDarwin {
      launchd.agents.nixfleet-agent = {
        enable = true;
        config = {
          Label = "com.nixfleet.agent";
          ProgramArguments = [ "/bin/bash" "-c" startScript ];
          RunAtLoad = true;
          KeepAlive = true;
          StandardOutPath = "/tmp/nixfleet-agent.log";
          StandardErrorPath = "/tmp/nixfleet-agent.err";
        };
      };
    })

    (mkIf (!isDarwin) {
      systemd.user.services.nixfleet-agent = {
        Unit = {
          Description = "NixFleet Agent - Fleet management daemon";
          Documentation = [ "man:nixfleet-agent(8)" ];
          After = [ "network-online.target" ];
        };
        Service = {
          Type = "notify";
          NotifyAccess = "main";
          ExecStart = "${cfg.package}/bin/nixfleet-agent";
          Restart = "always";
          RestartSec = 3;
          WatchdogSec = 60;
          # Jobs run in their own sessions; an agent restart leaves them.
          KillMode = "process";
          # Quoted, with systemd's specifier character escaped, except the
          # one %h that is meant.
          Environment = lib.mapAttrsToList (k: v: "\"${k}=${unitEscape v}\"") env
            ++ [ "\"NIXFLEET_REPO_DIR=%h/.local/state/nixfleet-agent/repo\"" ];
        };
        Install.WantedBy = [ "default.target" ];
      };
    })
  ]);
}
