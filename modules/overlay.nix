# Puts Peek's packages (pkgs.peek, python3Packages.peek-*) into the system's
# nixpkgs. Imported by the flake's nixosModules; imported by path, so it is
# applied once however many Peek modules a host imports.
{
  nixpkgs.overlays = [ (import ../nix/overlay.nix) ];
}
