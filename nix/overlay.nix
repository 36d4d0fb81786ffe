# nixpkgs overlay: Peek's Python packages in every Python package set, plus
#   pkgs.peek                 the platform (python3Packages.peek-platform),
#                             with passthru.withPlugins for the NixOS modules
#   pkgs.mkPeekEnvironment    platform + plugin set -> one Python environment
final: prev:
let
  mkPeekEnvironment = import ./environment.nix { python3 = final.python3; };
in
{
  pythonPackagesExtensions = (prev.pythonPackagesExtensions or [ ]) ++ [
    (import ./python-packages.nix { inherit (prev) lib; })
  ];

  inherit mkPeekEnvironment;

  peek = final.python3Packages.peek-platform.overrideAttrs (old: {
    passthru = (old.passthru or { }) // {
      withPlugins = mkPeekEnvironment;
    };
  });
}
