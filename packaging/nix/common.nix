# What the NixOS and the Home Manager modules share: upstream's options
# (nixfleet-protocol.md §8.1, same names, types and defaults), ours, and
# the mapping from options to the agent's environment (§4.1).
{ lib }:

let
  inherit (lib) mkOption types;

  pinRe = "sha256//[A-Za-z0-9+/]{43}=|[0-9A-Fa-f]{64}";
  secretKeys = [ "authToken" "commandToken" ];
in
rec {
  options = {
    enable = lib.mkEnableOption "the NixFleet agent";

    # ---- upstream's options, unchanged
    url = mkOption {
      type = types.str;
      default = "";
      example = "wss://fleet.example.com/ws";
      description = "Dashboard WebSocket URL (NIXFLEET_URL); with protocol = \"socketio\" the control plane URL (SERVER_URL). Required.";
    };
    configRepo = mkOption {
      type = types.str;
      default = "";
      description = "Deprecated: an existing repository directory (NIXFLEET_NIXCFG, legacy mode). Use repoUrl.";
    };
    repoUrl = mkOption {
      type = types.str;
      default = "";
      description = "Repository the agent clones into its state directory (NIXFLEET_REPO_URL, isolated mode).";
    };
    branch = mkOption {
      type = types.str;
      default = "main";
      description = "Branch to clone and fetch (NIXFLEET_BRANCH).";
    };
    interval = mkOption {
      type = types.ints.between 1 3600;
      default = 5;
      description = "Heartbeat interval in seconds (NIXFLEET_INTERVAL).";
    };
    logLevel = mkOption {
      type = types.enum [ "debug" "info" "warn" "error" ];
      default = "info";
      description = "Log level (NIXFLEET_LOG_LEVEL).";
    };
    hostname = mkOption {
      type = types.str;
      default = "";
      description = "Host name to report; empty = detected (NIXFLEET_HOSTNAME).";
    };
    version = mkOption {
      type = types.str;
      default = "0.0.0";
      description = "Kept for compatibility with upstream's module; unused.";
    };
    nixpkgsVersion = mkOption {
      type = types.str;
      default = "";
      description = "nixpkgs version to report; empty = detected (NIXFLEET_NIXPKGS_VERSION).";
    };
    themeColor = mkOption {
      type = types.str;
      default = "";
      description = "Colour the dashboard shows for this host (NIXFLEET_THEME_COLOR).";
    };
    location = mkOption {
      type = types.enum [ "home" "work" "cloud" ];
      default = "home";
      description = "Location passed to the dashboard (NIXFLEET_LOCATION).";
    };
    deviceType = mkOption {
      type = types.enum [ "server" "desktop" "laptop" "gaming" ];
      default = "desktop";
      description = "Device type passed to the dashboard (NIXFLEET_DEVICE_TYPE).";
    };

    # ---- ours
    protocol = mkOption {
      type = types.enum [ "nixfleet" "socketio" ];
      default = "nixfleet";
      description = "Dialect (NIXFLEET_PROTOCOL). With \"socketio\", url is the control plane URL, tokenFile holds the HMAC key and settings the rest of agent-config.json.";
    };
    settings = mkOption {
      type = types.attrsOf types.anything;
      default = { };
      example = { clientId = "host-01"; admin.allowedCommands = [ "uptime" ]; };
      description = "agent-config.json keys (socketio-protocol.md §7.2, docs/configuration.md), rendered to a JSON file named by CLIENT_CONFIG_PATH. Secrets are not allowed here: the HMAC key comes from tokenFile.";
    };
    caFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = "PEM CA bundle to verify the dashboard with instead of the system's (NIXFLEET_CA_FILE).";
    };
    tlsPins = mkOption {
      type = types.listOf (types.strMatching pinRe);
      default = [ ];
      description = "Up to 4 SHA-256 public-key pins of the dashboard, sha256//<base64> or 64 hex digits (NIXFLEET_PINNED_PUBKEY).";
    };
  };

  # Environment variables every platform sets, before the platform's own.
  environment = cfg:
    let
      nonEmpty = name: value: lib.optionalAttrs (value != "") { ${name} = value; };
    in
    {
      NIXFLEET_PROTOCOL = cfg.protocol;
      NIXFLEET_BRANCH = cfg.branch;
      NIXFLEET_INTERVAL = toString cfg.interval;
      NIXFLEET_LOG_LEVEL = cfg.logLevel;
      NIXFLEET_LOCATION = cfg.location;
      NIXFLEET_DEVICE_TYPE = cfg.deviceType;
    }
    // (if cfg.protocol == "socketio" then { SERVER_URL = cfg.url; } else { NIXFLEET_URL = cfg.url; })
    // nonEmpty "NIXFLEET_NIXCFG" cfg.configRepo
    // nonEmpty "NIXFLEET_REPO_URL" cfg.repoUrl
    // nonEmpty "NIXFLEET_HOSTNAME" cfg.hostname
    // nonEmpty "NIXFLEET_NIXPKGS_VERSION" cfg.nixpkgsVersion
    // nonEmpty "NIXFLEET_THEME_COLOR" cfg.themeColor
    // lib.optionalAttrs (cfg.caFile != null) { NIXFLEET_CA_FILE = toString cfg.caFile; }
    // nonEmpty "NIXFLEET_PINNED_PUBKEY" (lib.concatStringsSep "," cfg.tlsPins);

  # The variable that names the secret file, per dialect.
  tokenFileVar = cfg:
    if cfg.protocol == "socketio" then "AUTH_TOKEN_FILE" else "NIXFLEET_TOKEN_FILE";

  assertions = cfg: [
    {
      assertion = cfg.url != "";
      message = "services.nixfleet-agent.url must be set";
    }
    {
      assertion = cfg.protocol != "nixfleet" || ((cfg.configRepo != "") != (cfg.repoUrl != ""));
      message = "services.nixfleet-agent: set either configRepo or repoUrl, but not both";
    }
    {
      assertion = builtins.length cfg.tlsPins <= 4;
      message = "services.nixfleet-agent.tlsPins: at most 4 pins";
    }
    {
      assertion = !(lib.any (k: cfg.settings ? ${k} || (cfg.settings.admin or { }) ? ${k}) secretKeys);
      message = "services.nixfleet-agent.settings must not hold secrets (authToken, admin.commandToken): they would land in the world-readable Nix store; use tokenFile";
    }
  ];

  warnings = cfg:
    lib.optional (cfg.configRepo != "")
      "services.nixfleet-agent.configRepo is deprecated; use repoUrl (isolated mode)";

  # A file under the store directory is readable by everyone.
  inStore = p: lib.hasPrefix builtins.storeDir (toString p);
}
