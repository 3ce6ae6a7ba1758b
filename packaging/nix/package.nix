# The agent as a nixpkgs derivation: `pkgs.callPackage ./package.nix { }`.
#
# The binary goes to bin/ (meson's default is sbin/), the two workers to
# libexec/, the unit to lib/systemd/system and the man pages to share/man.
# The suites that need no root (unit tests and the fuzz corpus replay) run
# as the checkPhase; the integration suites need root and real peers and
# are covered by the NixOS VM test instead.
{ lib
, stdenv
, meson
, ninja
, pkg-config
, python3
, libev
, wslay
, mbedtls
, jansson
, libseccomp
, check
, version ? lib.fileContents ../../VERSION
, sourceCommit ? "unknown"
, src ? builtins.path {
    # Without the flake (the modules' default): the tree minus build
    # directories and git metadata.
    path = ../..;
    name = "nixfleet-agent-source";
    filter = path: type:
      let base = baseNameOf path; in
      !(lib.hasPrefix "build" base) && base != ".git" && base != "result";
  }
}:

stdenv.mkDerivation {
  pname = "nixfleet-agent";
  inherit version src;

  # python3: meson looks for it to define the integration suites.
  nativeBuildInputs = [ meson ninja pkg-config python3 ];
  # nixpkgs ships mbedTLS 3.x; the sources build against 2.28 as well.
  buildInputs = [ libev wslay mbedtls jansson check ]
    ++ lib.optional stdenv.hostPlatform.isLinux libseccomp;

  # The project's own build type (-O2), the one CI builds.  Warnings stay
  # on but are not errors: a newer compiler in nixpkgs must not break a
  # release build.
  mesonBuildType = "debugoptimized";
  mesonFlags = [
    "-Dwerror=false"
    "--sbindir=bin"
    "-Dsource_commit=${sourceCommit}"
    "-Dtests=true"
    "-Dsystemdsystemunitdir=${placeholder "out"}/lib/systemd/system"
    (if stdenv.hostPlatform.isLinux then "-Dseccomp=enabled" else "-Dseccomp=disabled")
  ];

  doCheck = true;
  # The build user is not root: the sandbox test's "root" case (a real
  # chroot) is left to the integration suites and the VM test.
  checkPhase = ''
    runHook preCheck
    meson test --no-rebuild --print-errorlogs --suite fuzz
    meson test --no-rebuild --print-errorlogs \
      $(meson test --no-rebuild --list --suite unit 2>/dev/null |
        sed -n 's|^nixfleet-agent:unit / ||p' | grep -vx sandbox)
    for case in unprivileged bad_privsep_dir; do
      CK_RUN_CASE=$case tests/check_sandbox
    done
    runHook postCheck
  '';

  meta = {
    description = "Privilege-separated NixFleet fleet host agent";
    homepage = "https://github.com/nixfleet/nixfleet-agent";
    license = lib.licenses.bsd2;
    mainProgram = "nixfleet-agent";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
