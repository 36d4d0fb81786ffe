# Wheels of the rollout VM test's plugin (vm_tests/rollout-plugin/), built as
# a plugin author builds one: setuptools through buildPythonPackage, whose
# `dist` output holds the wheel (peek_plugin_vmcheck-<version>-py3-none-any.whl).
#
#   wheels = import ./rollout-plugin.nix { inherit pkgs; };
#   wheels.build { version = "0.2.0"; }                  # starts everywhere
#   wheels.build { version = "0.3.0"; broken = true; }   # raises in start
#   (wheels.asLockPlugin wheel).inputDerivation          # what generationLock's build needs
{ pkgs }:
let
  inherit (pkgs) lib;
  py = pkgs.python3Packages;
  pname = "peek-plugin-vmcheck";
in
{
  build =
    {
      version,
      broken ? false,
    }:
    (py.buildPythonPackage {
      inherit pname version;
      src = ./rollout-plugin;
      pyproject = true;
      build-system = [ py.setuptools ];
      # Declared like any plugin's (Requires-Dist: peek-platform); the
      # services' environment provides it at run time.
      dependencies = [ py.peek-platform ];
      postPatch = ''
        substituteInPlace pyproject.toml \
          --replace-fail 'version = "0.0.0"' 'version = "${version}"'
      ''
      + lib.optionalString broken ''
        substituteInPlace peek_plugin_vmcheck/_private/build.py \
          --replace-fail 'BROKEN = False' 'BROKEN = True'
      '';
      pythonImportsCheck = [ "peek_plugin_vmcheck" ];
    }).dist;

  # The package services.peek.generationLock makes of an uploaded wheel
  # (modules/common.nix): its inputDerivation holds everything such a build
  # needs, so a VM without substituters can build a generation offline.
  asLockPlugin =
    dist:
    py.buildPythonPackage {
      inherit pname;
      version = "lock";
      format = "wheel";
      # Only its inputs are used (asLockPlugin wheel).inputDerivation: the
      # wheel hooks, the interpreter and the platform the module makes the
      # wheel's dependency (its Requires-Dist), whatever the source.
      src = dist;
      dependencies = [ py.peek-platform ];
    };
}
