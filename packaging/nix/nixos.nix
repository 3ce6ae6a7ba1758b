# NixOS module: services.nixfleet-agent (nixfleet-protocol.md §8.1-§8.3).
#
# A drop-in for upstream's module (same option names, types, defaults and
# assertions) that works without the overlay.  The unit is the shipped
# packaging/systemd/nixfleet-agent.service, read and rendered into
# systemd.services.nixfleet-agent, so the hardening that tests/packaging
# scores is exactly what NixOS runs.  The agent runs as root and drops
# privileges itself (the net-worker chroots and switches to netUser); jobs
# run outside this unit as transient units (systemd-run), which is what
# lets the unit be locked down and still run `nixos-rebuild switch`.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.nixfleet-agent;
  common = import ./common.nix { inherit lib; };
  unit = import ./unit.nix { inherit lib; };
  inherit (lib) mkOption mkIf types;

  defaultStateDir = "/var/lib/nixfleet-agent";

  configFile = pkgs.writeText "nixfleet-agent-config.json"
    (builtins.toJSON cfg.settings);

  environment =
    common.environment cfg
    // unit.environment
    // {
      NIXFLEET_REPO_DIR = "${cfg.stateDir}/repo";
      NIXFLEET_TOKEN_CACHE = "${cfg.stateDir}/token";
      NIXFLEET_STATE_DIR = cfg.stateDir;
      NIXFLEET_NET_USER = cfg.netUser;
      # git, the host tests and home-manager run as this user (its HOME
      # and SSH key); nixos-rebuild and reboot as root.
      NIXFLEET_USER = cfg.user;
      HOME = "/home/${cfg.user}";
      # The path only: the agent reads the file as root before it starts
      # any worker; the token is never in the store or in this unit.
      ${common.tokenFileVar cfg} = toString cfg.tokenFile;
    }
    // lib.optionalAttrs (cfg.sshKeyFile != null) { NIXFLEET_SSH_KEY = toString cfg.sshKeyFile; }
    // lib.optionalAttrs (cfg.settings != { }) { CLIENT_CONFIG_PATH = "${configFile}"; };

  sudoRules =
    let
      cmd = c: { command = c; options = [ "NOPASSWD" ]; };
    in
    [{
      users = [ cfg.user ];
      commands = [ (cmd "/run/current-system/sw/bin/nixos-rebuild") ]
        ++ lib.optionals cfg.allowReboot [ (cmd "/run/current-system/sw/bin/reboot") ];
    }];
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
      type = types.path;
      description = "File with the dashboard token (bare, or a NIXFLEET_TOKEN=<token> line), mode 0600 or 0400. Its path is passed as NIXFLEET_TOKEN_FILE (AUTH_TOKEN_FILE for socketio); it must not be in the Nix store.";
    };
    user = mkOption {
      type = types.str;
      description = "Upstream's unit user: its home is HOME, and it gets the sudo rule for nixos-rebuild (and reboot with allowReboot). The agent itself runs as root and drops privileges per process.";
    };
    sshKeyFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = "Private key for git over SSH (NIXFLEET_SSH_KEY).";
    };
    allowReboot = mkOption {
      type = types.bool;
      default = false;
      description = "Add a sudo and sudo-rs NOPASSWD rule for reboot for user, so the dashboard's reboot command works.";
    };
    stateDir = mkOption {
      type = types.str;
      default = defaultStateDir;
      description = "State directory: job logs, the job records, the isolated repository (NIXFLEET_STATE_DIR).";
    };
    netUser = mkOption {
      type = types.str;
      default = "nixfleet-agent";
      description = "System user the net-worker runs as (NIXFLEET_NET_USER); the module creates it.";
    };
    hardening = mkOption {
      type = types.bool;
      default = true;
      description = "Apply the sandboxing of the shipped unit (docs/operator-guide.md). Turn off only if jobs cannot run as transient units, e.g. socketio admin commands that write system files.";
    };
  };

  config = mkIf cfg.enable {
    assertions = common.assertions cfg ++ [
      {
        assertion = !(common.inStore cfg.tokenFile);
        message = "services.nixfleet-agent.tokenFile is in the Nix store, which everyone can read: use a secret outside it (agenix, sops-nix, /run/keys)";
      }
      {
        assertion = lib.hasPrefix "/" cfg.stateDir;
        message = "services.nixfleet-agent.stateDir must be an absolute path";
      }
    ];
    warnings = common.warnings cfg;

    users.users.${cfg.netUser} = {
      isSystemUser = true;
      group = cfg.netUser;
      description = "NixFleet agent network worker";
    };
    users.groups.${cfg.netUser} = { };

    security.sudo.extraRules = sudoRules;
    security.sudo-rs.extraRules = sudoRules;

    # The isolated checkout belongs to the user git runs as (an existing
    # root-owned one is handed over); the state directory is 0711 so that
    # user can reach it, and everything else in it stays 0700/0600.
    systemd.tmpfiles.rules = lib.optional (cfg.stateDir != defaultStateDir)
      "d ${cfg.stateDir} 0711 root root -"
    ++ [
      "d ${cfg.stateDir}/repo 0700 ${cfg.user} - -"
      "Z ${cfg.stateDir}/repo - ${cfg.user} - -"
    ];

    systemd.services.nixfleet-agent = {
      description = "NixFleet Agent - Fleet management daemon";
      documentation = [ "man:nixfleet-agent(8)" "man:nixfleet-agent.conf(5)" ];
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      wantedBy = [ "multi-user.target" ];
      # nixos-rebuild switch must not stop the agent that runs it: the
      # agent exits 101 after a successful switch instead.
      restartIfChanged = false;
      stopIfChanged = false;
      path = [ "/run/wrappers" "/run/current-system/sw" ];
      inherit environment;
      serviceConfig = unit.base // (if cfg.hardening then unit.hardening else { }) // {
        ExecStart = "${cfg.package}/bin/nixfleet-agent";
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        StandardOutput = "journal";
        StandardError = "journal";
        StateDirectoryMode = "0711";	# the repository user passes through
      } // lib.optionalAttrs (cfg.hardening && cfg.stateDir != defaultStateDir) {
        ReadWritePaths = [ cfg.stateDir ];
      };
    };
  };
}
