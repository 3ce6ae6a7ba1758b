# A STUB of the NixOS options the module (and the VM test's agent node)
# define, each with a type as loose as nixpkgs' or looser.  Only what
# tests/packaging evaluates is here.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  any = mkOption { type = types.anything; default = { }; };
in
{
  options = {
    assertions = mkOption { type = types.listOf types.anything; default = [ ]; };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; };
    users.users = mkOption { type = types.attrsOf types.anything; default = { }; };
    users.groups = mkOption { type = types.attrsOf types.anything; default = { }; };
    security.sudo.extraRules = mkOption { type = types.listOf types.anything; default = [ ]; };
    security.sudo-rs.extraRules = mkOption { type = types.listOf types.anything; default = [ ]; };
    systemd.services = mkOption { type = types.attrsOf types.anything; default = { }; };
    systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
    system.disableInstallerTools = mkOption { type = types.bool; default = false; };
    system.activationScripts = any;
    environment.systemPackages = mkOption { type = types.listOf types.anything; default = [ ]; };
    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.int; default = [ ]; };
  };
}
