# The appliance image's NixOS system: nix/appliance.nix on a qcow2 disk image
# (nixpkgs' nixos/modules/virtualisation/disk-image.nix, which provides
# `system.build.image` from nixos/lib/make-disk-image.nix), with plugin
# rollouts as system generations (services.peek.rebuild).
#
#   import ./appliance-system.nix { nixpkgsSource = nixpkgs; peekSource = self; }
#     -> a NixOS evaluation; .config.system.build.image is the disk image
#
# The appliance rebuilds itself from a system flake in its own store that
# calls this same file with the same sources and one module more, the
# generation lock: a rebuild differs from the running system in the plugin
# set and nothing else. nixpkgs' eval-config.nix is used directly (not the
# nixpkgs flake's lib.nixosSystem, which stamps the flake's revision into
# the system) so that the evaluation outside and inside give the same system.
{
  nixpkgsSource,
  peekSource,
  system ? "x86_64-linux",
  extraModules ? [ ],
}:
let
  systemFlake =
    pkgs:
    pkgs.writeTextDir "flake.nix" ''
      {
        description = "The Peek appliance's own system flake (plugin rollouts rebuild from it)";
        inputs = {
          nixpkgs = { url = "path:${nixpkgsSource}"; flake = false; };
          peek = { url = "path:${peekSource}"; flake = false; };
          peek-generation = { url = "path:/var/lib/peek-rebuild/current"; flake = false; };
        };
        outputs = { nixpkgs, peek, peek-generation, ... }: {
          nixosConfigurations.appliance = import "''${peek}/nix/appliance-system.nix" {
            nixpkgsSource = nixpkgs;
            peekSource = peek;
            system = "${system}";
            extraModules = [
              { services.peek.generationLock = "''${peek-generation}/generation.lock.json"; }
            ];
          };
        };
      }
    '';
in
import "${nixpkgsSource}/nixos/lib/eval-config.nix" {
  system = null;
  modules = [
    "${peekSource}/modules/overlay.nix"
    "${peekSource}/modules"
    "${peekSource}/nix/appliance.nix"
    "${nixpkgsSource}/nixos/modules/virtualisation/disk-image.nix"
    (
      { pkgs, ... }:
      {
        nixpkgs.hostPlatform = system;
        image = {
          format = "qcow2";
          efiSupport = true;
          baseName = "peek-appliance";
        };
        services.peek.rebuild = {
          enable = true;
          flake = "path:${systemFlake pkgs}";
          configuration = "appliance";
        };
        nix.settings.experimental-features = [
          "nix-command"
          "flakes"
        ];
      }
    )
  ]
  ++ extraModules;
}
