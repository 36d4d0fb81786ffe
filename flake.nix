{
  description = "Peek: a plugin platform for enterprise appliances (packages, NixOS modules, VM tests)";

  # Pinned by flake.lock to nixos-25.05 at ac62194c3917d5f474c1a844b6fd6da2db95077d
  # (lastModified 2026-01-02). The repository was prepared on a machine that
  # cannot reach GitHub, so the lock was not written by `nix flake lock`: its
  # rev, narHash and lastModified are the ones several public flake.lock files
  # record for that nixos-25.05 commit, and the same rev/narHash pair appears
  # in a public builtins.fetchTree pin. The first `nix flake metadata` on a
  # networked machine verifies the narHash against what it fetches.
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
          # The web apps and first-party plugin UI modules built from ui/
          # (nix/webapps.nix). The wheels ship the committed copies;
          # checks.<system>.webapps-match-committed keeps the two equal.
          peek-webapps = pkgs.callPackage ./nix/webapps.nix { };
        }
        // lib.optionalAttrs (pkgs.system == "x86_64-linux") {
          # nixpkgs' make-disk-image through disk-image.nix: peek-appliance.qcow2 (EFI).
          appliance-image = self.nixosConfigurations.appliance.config.system.build.image;
        }
      );

      lib.mkPeekEnvironment = pkgs: import ./nix/environment.nix { python3 = pkgs.python3; };

      # The all-in-one appliance (nix/appliance.nix) on a qcow2 disk image;
      # its image is packages.x86_64-linux.appliance-image.
      nixosConfigurations.appliance = import ./nix/appliance-system.nix {
        nixpkgsSource = nixpkgs;
        peekSource = self;
      };

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
        // {
          webapps-match-committed = self.packages.${pkgs.system}.peek-webapps.matchesCommitted;
        }
        // lib.optionalAttrs (pkgs.system == "x86_64-linux") {
          topology = import ./vm_tests/topology.nix {
            inherit pkgs;
            peekModule = self.nixosModules.default;
          };
          plugin-rollout = import ./vm_tests/plugin-rollout.nix {
            inherit pkgs;
            peekSource = self;
            nixpkgsSource = nixpkgs;
          };
          platform-upgrade = import ./vm_tests/upgrade.nix {
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
