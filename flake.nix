{
  description = "nixfleet-agent: privilege-separated NixFleet fleet host agent";

  # One input: the Home Manager module is exported as a plain module and
  # needs no home-manager input.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      version = lib.fileContents ./VERSION;
      shortRev = self.shortRev or self.dirtyShortRev or "dirty";

      build = pkgs: pkgs.callPackage ./packaging/nix/package.nix {
        inherit version;
        sourceCommit = shortRev;
        src = self;
      };

      # The modules default to this flake's build, so they work without
      # the overlay, as upstream's do.
      withPackage = file: { pkgs, ... }: {
        imports = [ file ];
        services.nixfleet-agent.package = lib.mkDefault (build pkgs);
        services.nixfleet-agent.version = lib.mkDefault "${version}-${shortRev}";
      };
    in
    {
      packages = forAll (system: pkgs: rec {
        nixfleet-agent = build pkgs;
        default = nixfleet-agent;
      });

      overlays.default = final: prev: { nixfleet-agent = build final; };

      nixosModules = rec {
        nixfleet-agent = withPackage ./packaging/nix/nixos.nix;
        default = nixfleet-agent;
      };

      homeManagerModules = rec {
        nixfleet-agent = withPackage ./packaging/nix/home-manager.nix;
        default = nixfleet-agent;
      };

      checks = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system:
        let pkgs = nixpkgs.legacyPackages.${system}; in {
          package = self.packages.${system}.nixfleet-agent;
          vm = import ./packaging/nix/vm-test.nix {
            inherit pkgs;
            module = self.nixosModules.nixfleet-agent;
          };
        });

      devShells = forAll (system: pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${system}.nixfleet-agent ];
          packages = with pkgs; [ clang-tools gdb python3 python3Packages.websockets openssl ]
            ++ lib.optionals pkgs.stdenv.isLinux [ valgrind ];
        };
      });
    };
}
