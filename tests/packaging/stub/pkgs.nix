# A STUB of the few pkgs attributes the modules touch (callPackage,
# writeText, coreutils, stdenv.hostPlatform), with store paths that say
# they are fake.  writeText keeps its text, so tests can read what would
# be written.
{ isDarwin ? false }:
let
  drv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "${builtins.storeDir}/00000000000000000000000000000000-${name}";
  } // extra;
in
{
  callPackage = fn: args: drv "nixfleet-agent-stub" { };
  writeText = name: text: drv name { inherit text; };
  writeShellScriptBin = name: text: drv name { inherit text; };
  coreutils = drv "coreutils" { };
  git = drv "git" { };
  python3.withPackages = f: drv "python3-env" { };
  stdenv.hostPlatform = { inherit isDarwin; isLinux = !isDarwin; };
}
