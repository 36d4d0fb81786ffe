{
  description = "Peek: a plugin platform for enterprise appliances (packages, NixOS modules, VM tests)";

  # Pinned by flake.lock, which `nix flake lock` writes on first use (the
  # repository was prepared on a machine that cannot reach GitHub to pin it).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems =
        f:
        lib.genAttrs systems (
          system:
          f (
            import nixpkgs {
              inherit system;
              overlays = [ self.overlays.default ];
            }
          )
        );
      withOverlay = module: {
        imports = [
          ./modules/overlay.nix
          module
        ];
      };
    in
    {
      overlays.default = import ./nix/overlay.nix;

      packages = forAllSystems (
        pkgs:
        lib.filterAttrs (name: _: lib.hasPrefix "peek-" name) pkgs.python3Packages
        // {
          default = pkgs.peek;
          peek = pkgs.peek;
          # The platform with every first-party plugin, as one environment.
          peek-full = pkgs.mkPeekEnvironment (
            ps: lib.attrValues (lib.filterAttrs (name: _: lib.hasPrefix "peek-plugin-" name) ps)
          );
        }
      );

      lib.mkPeekEnvironment = pkgs: import ./nix/environment.nix { python3 = pkgs.python3; };

      nixosModules = {
        default = withOverlay ./modules;
        server = withOverlay ./modules/server.nix;
        client = withOverlay ./modules/client.nix;
        agent = withOverlay ./modules/agent.nix;
        worker = withOverlay ./modules/worker.nix;
      };

      checks = forAllSystems (
        pkgs:
        self.packages.${pkgs.system}
        // lib.optionalAttrs (pkgs.system == "x86_64-linux") {
          topology = import ./vm_tests/topology.nix {
            inherit pkgs;
            peekModule = self.nixosModules.default;
          };
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.python3
            pkgs.nix
            pkgs.nftables
            pkgs.iproute2
            pkgs.postgresql
            pkgs.redis
            pkgs.rabbitmq-server
          ];
          shellHook = ''
            # The project's own tools live in .venv (scripts/bootstrap dev).
            export PEEK_PYTHON=${pkgs.python3}/bin/python3
          '';
        };
      });
    };
}
