# The shipped unit, packaging/systemd/nixfleet-agent.service, read into
# attribute sets for systemd.services.<name>.serviceConfig, so the NixOS
# module and the unit other distributions install never drift apart.
#
#   base        [Service] keys before CapabilityBoundingSet= (restart
#               policy, notify, state and runtime directories), minus the
#               ones the module sets itself (paths, environment);
#   hardening   CapabilityBoundingSet= and every key after it;
#   environment the unit's Environment= assignments as an attribute set.
#
# A key given more than once (SystemCallFilter=) becomes a list, which
# NixOS renders as repeated lines again.  Only builtins are used.
{ lib }:

let
  text = builtins.readFile ../systemd/nixfleet-agent.service;
  lines = builtins.filter builtins.isString (builtins.split "\n" text);

  add = set: k: v:
    set // {
      ${k} =
        if !(set ? ${k}) then v
        else if builtins.isList set.${k} then set.${k} ++ [ v ]
        else [ set.${k} v ];
    };

  step = st: line:
    let
      sec = builtins.match "[[]([A-Za-z]+)]" line;
      kv = builtins.match "([A-Za-z]+)=(.*)" line;
      k = builtins.elemAt kv 0;
      hard = st.hard || k == "CapabilityBoundingSet";
      bucket = if hard then "hardening" else "base";
    in
    if sec != null then st // { section = builtins.head sec; }
    else if kv == null || st.section != "Service" then st
    else st // { inherit hard; ${bucket} = add st.${bucket} k (builtins.elemAt kv 1); };

  parsed = builtins.foldl' step
    { section = ""; hard = false; base = { }; hardening = { }; } lines;

  envList = let e = parsed.base.Environment or [ ]; in
    if builtins.isList e then e else [ e ];
  envPair = s: let m = builtins.match "([A-Za-z_][A-Za-z0-9_]*)=(.*)" s; in
    { name = builtins.elemAt m 0; value = builtins.elemAt m 1; };
in
{
  base = builtins.removeAttrs parsed.base
    [ "ExecStart" "ExecReload" "Environment" "EnvironmentFile" ];
  inherit (parsed) hardening;
  environment = builtins.listToAttrs (map envPair envList);
}
