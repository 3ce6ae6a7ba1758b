# Evaluates one module of packaging/nix against the stubs in stub/ and
# returns plain data for test_packaging.py:
#   nix-instantiate --eval --strict --json eval.nix \
#     --argstr kind nixos|hm-linux|hm-darwin|flake|package|vm \
#     --arg config '{ services.nixfleet-agent = { ... }; }'
{ kind, config ? { } }:

let
  lib = import ./stub/lib.nix;
  src = ../..;
  isDarwin = kind == "hm-darwin";
  pkgs = import ./stub/pkgs.nix { inherit isDarwin; };

  evalWith = evalPkgs: stubOptions: modules:
    (lib.evalModules {
      modules = [ stubOptions ] ++ modules;
      specialArgs = { pkgs = evalPkgs; };
    });

  summary = ev:
    let
      c = ev.config;
      decls = ev.options.services.nixfleet-agent;
    in
    {
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
      inherit (c) warnings;
      options = builtins.mapAttrs
        (n: o: { type = o.type.name; } // lib.optionalAttrs (o ? default) {
          default = if builtins.isAttrs o.default && o.default ? outPath then o.default.outPath else o.default;
        })
        decls;
    };

  nixosWith = evalPkgs: modules:
    let ev = evalWith evalPkgs ./stub/nixos-options.nix modules; c = ev.config; in
    summary ev // {
      service = c.systemd.services.nixfleet-agent or null;
      users = c.users.users;
      groups = c.users.groups;
      sudo = c.security.sudo.extraRules;
      sudoRs = c.security.sudo-rs.extraRules;
      tmpfiles = c.systemd.tmpfiles.rules;
      inherit (c.services.nixfleet-agent) version;
    };

  nixos = nixosWith pkgs;

  hm = modules:
    let ev = evalWith pkgs ./stub/hm-options.nix modules; c = ev.config; in
    summary ev // {
      launchd = c.launchd.agents.nixfleet-agent or null;
      userService = c.systemd.user.services.nixfleet-agent or null;
    };

  # The flake's outputs against a stub nixpkgs: names, and one package.
  flake =
    let
      flakePkgs = pkgs // {
        callPackage = fn: args: import fn (packageArgs // args);
        mkShell = a: { type = "derivation"; shell = true; };
        testers.nixosTest = t: t;
      };
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      # A flake's self is its own outputs plus the source's metadata.
      outputs = (import (src + "/flake.nix")).outputs {
        self = outputs // { shortRev = "abc1234"; outPath = "/stub-src"; };
        nixpkgs = { inherit lib; legacyPackages = lib.genAttrs systems (_: flakePkgs); };
      };
      vm = outputs.checks.x86_64-linux.vm;
      agentNode = nixosWith flakePkgs [ vm.nodes.agent ];
    in
    {
      packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
      package = outputs.packages.x86_64-linux.default;
      overlay = builtins.attrNames (outputs.overlays.default flakePkgs { });
      nixosModules = builtins.attrNames outputs.nixosModules;
      homeManagerModules = builtins.attrNames outputs.homeManagerModules;
      checks = builtins.mapAttrs (_: builtins.attrNames) outputs.checks;
      devShells = builtins.mapAttrs (_: builtins.attrNames) outputs.devShells;
      vmName = vm.name;
      vmNodes = builtins.attrNames vm.nodes;
      vmScript = vm.testScript;
      vmAgent = {
        inherit (agentNode) failedAssertions;
        package = agentNode.service.serviceConfig.ExecStart;
        environment = agentNode.service.environment;
      };
      nixosModule = let n = nixosWith flakePkgs [ outputs.nixosModules.default config ]; in {
        inherit (n) failedAssertions;
        execStart = n.service.serviceConfig.ExecStart;
        version = n.version;
      };
      hmModule = let ev = evalWith flakePkgs ./stub/hm-options.nix [ outputs.homeManagerModules.default (builtins.removeAttrs config [ "user" ] // {
          services.nixfleet-agent = builtins.removeAttrs (config.services.nixfleet-agent or { }) [ "user" ];
        }) ]; in
        ev.config.services.nixfleet-agent.version;
    };

  # package.nix with a stub stdenv: what meson would be called with.
  packageArgs = {
    inherit lib;
    stdenv = {
      mkDerivation = a: a // { type = "derivation"; outPath = "/nix/store/00000000000000000000000000000000-${a.pname}-${a.version}"; };
      hostPlatform = { isLinux = true; isDarwin = false; };
    };
    meson = "meson"; ninja = "ninja"; pkg-config = "pkg-config"; python3 = "python3";
    libev = "libev"; wslay = "wslay"; mbedtls = "mbedtls"; jansson = "jansson";
    libseccomp = "libseccomp"; check = "check";
  };
  package = import (src + "/packaging/nix/package.nix") (packageArgs // { sourceCommit = "abc1234"; src = "/stub-src"; });
in
if kind == "nixos" then nixos [ (src + "/packaging/nix/nixos.nix") config ]
else if kind == "hm-linux" || kind == "hm-darwin" then hm [ (src + "/packaging/nix/home-manager.nix") config ]
else if kind == "flake" then flake
else if kind == "package" then { inherit (package) pname version mesonFlags doCheck checkPhase buildInputs nativeBuildInputs; }
else throw "unknown kind ${kind}"
