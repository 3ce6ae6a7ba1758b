{
  # The sample fleet of scripts/demo.sh: one host, demo-host, whose host
  # tests are hosts/demo-host/tests/*.sh.  It has no inputs, so its lock
  # is complete without a network; the demo never builds it.
  description = "nixfleet-agent demo fleet";

  inputs = { };

  outputs = { self }: {
    nixosConfigurations.demo-host.config.system.build.toplevel =
      derivation {
        name = "demo-host-system";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo demo-host > $out" ];
      };
  };
}
