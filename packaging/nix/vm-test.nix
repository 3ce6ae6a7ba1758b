# NixOS VM test (flake check `vm`): a reference dashboard and an agent in
# two nodes.  The agent registers, runs the `test` command against a
# repository with one passing test script, and after a (stubbed,
# successful) `switch` exits 101, is restarted by systemd and registers
# again.  It needs KVM and the nixpkgs of flake.lock, so it runs with
# `nix flake check` on a NixOS or Nix host, not in this repository's CI;
# tests/packaging parses this file and evaluates the agent node's module.
{ pkgs, module }:

let
  dashboardPy = pkgs.python3.withPackages (ps: [ ps.websockets ]);
  token = "vm-test-token";
  ctl = "${dashboardPy}/bin/python3 ${../../tests/peers/dashboard.py} ctl 9000";
in
pkgs.testers.nixosTest {
  name = "nixfleet-agent";

  nodes.dashboard = { ... }: {
    networking.firewall.allowedTCPPorts = [ 8000 ];
    systemd.services.dashboard = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig.ExecStart = "${dashboardPy}/bin/python3 ${../../tests/peers/dashboard.py}"
        + " --host 0.0.0.0 --port 8000 --control-port 9000 --token ${token}"
        + " --record /tmp/dash.jsonl";
    };
  };

  nodes.agent = { pkgs, ... }: {
    imports = [ module ];
    # The real nixos-rebuild would need the network; a successful stub
    # is enough to see the exit-101 restart.
    system.disableInstallerTools = true;
    environment.systemPackages = [
      (pkgs.writeShellScriptBin "nixos-rebuild" "echo stub nixos-rebuild \"$@\"")
    ];
    users.users.alice = { isNormalUser = true; };
    services.nixfleet-agent = {
      enable = true;
      url = "ws://dashboard:8000/ws";
      tokenFile = "/var/lib/nixfleet-token";
      user = "alice";
      configRepo = "/var/lib/nixfleet-repo";
      hostname = "agent";
      interval = 2;
    };
    # Plain ws:// to another VM: allowed explicitly, as on a test network.
    systemd.services.nixfleet-agent.environment.NIXFLEET_ALLOW_INSECURE_HTTP = "1";
    system.activationScripts.nixfleetTest = ''
      install -m 0600 /dev/null /var/lib/nixfleet-token
      echo ${token} > /var/lib/nixfleet-token
      d=/var/lib/nixfleet-repo
      mkdir -p $d/hosts/agent/tests
      printf '#!/bin/sh\necho ok\n' > $d/hosts/agent/tests/ok.sh
      chmod 0755 $d/hosts/agent/tests/ok.sh
      [ -d $d/.git ] || ${pkgs.git}/bin/git -C $d init -q
      chown -R alice $d   # git and the tests run as the module's user
    '';
  };

  testScript = ''
    start_all()
    dashboard.wait_for_open_port(8000)
    agent.wait_for_unit("nixfleet-agent.service")

    def count(what):
        return int(dashboard.succeed(f"grep -c '{what}' /tmp/dash.jsonl || true").strip() or 0)

    dashboard.wait_until_succeeds("grep -q '\"type\": \"register\"' /tmp/dash.jsonl", timeout=60)

    dashboard.succeed("${ctl} command test")
    dashboard.wait_until_succeeds(
        "grep '\"type\": \"status\"' /tmp/dash.jsonl | grep -q '1/1 passed'", timeout=60)

    registers = count('"type": "register"')
    dashboard.succeed("${ctl} command switch")
    agent.wait_until_succeeds(
        "journalctl -u nixfleet-agent.service | grep -q 'status=101'", timeout=60)
    dashboard.wait_until_succeeds(
        f"[ $(grep -c '\"type\": \"register\"' /tmp/dash.jsonl) -gt {registers} ]", timeout=60)
    agent.succeed("systemctl is-active nixfleet-agent.service")

    # The hardening the unit ships with is what runs.
    agent.succeed("systemctl show nixfleet-agent -p ProtectSystem | grep -q strict")
  '';
}
