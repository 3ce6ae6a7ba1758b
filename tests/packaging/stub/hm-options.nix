# A STUB of the Home Manager options the module defines.
{ lib, ... }:
let inherit (lib) mkOption types; in
{
  options = {
    assertions = mkOption { type = types.listOf types.anything; default = [ ]; };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; };
    launchd.agents = mkOption { type = types.attrsOf types.anything; default = { }; };
    systemd.user.services = mkOption { type = types.attrsOf types.anything; default = { }; };
  };
}
