# Rebuild Python packages against one Peek platform package.
#
#   rebase = import ./rebase.nix { inherit lib; } platform;
#   rebase pkgs.python3Packages.peek-plugin-user
#
# A plugin from a Python package set was built against that set's
# peek-platform. Put beside another platform (services.peek.package, e.g. a
# newer Peek) it would bring its own platform along, and the environment
# would hold two: python.withPackages refuses the colliding files. `rebase`
# returns a package whose Python closure holds `platform` and no other
# peek-platform: the package itself when that is already so (same store
# path, nothing rebuilt), else the package rebuilt with overridePythonAttrs,
# its dependencies rebased the same way (a plugin needing another plugin).
# The platform itself rebases to `platform`.
{ lib }:
platform:
let
  isPlatform = p: (p.pname or null) == "peek-platform";
  foreign = p: lib.any (m: isPlatform m && m.outPath != platform.outPath) (p.requiredPythonModules or [ ]);
  rebase =
    p:
    if isPlatform p then
      platform
    else if !(foreign p) then
      p
    else if !(p ? overridePythonAttrs) then
      throw "${p.name or "a package"} is built against another peek-platform than services.peek.package and is not a buildPythonPackage package that could be rebuilt against it"
    else
      p.overridePythonAttrs (old: {
        dependencies = map rebase (old.dependencies or [ ]);
        propagatedBuildInputs = map rebase (old.propagatedBuildInputs or [ ]);
      });
in
rebase
