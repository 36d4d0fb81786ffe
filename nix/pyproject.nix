# Read a Python project's own metadata (pyproject.toml) so the Nix packages
# never restate a name, version or dependency by hand.
{ lib }:
rec {
  # { pname, version, description, dependencies = [ "aiohttp" ... ]; importName; entryPoints }
  read =
    dir:
    let
      project = (lib.importTOML (dir + "/pyproject.toml")).project;
    in
    {
      pname = project.name;
      inherit (project) version;
      description = project.description or "";
      dependencies = map requirementName (project.dependencies or [ ]);
      # peek-plugin-noop -> peek_plugin_noop (Python cannot import hyphens).
      importName = lib.replaceStrings [ "-" ] [ "_" ] project.name;
      entryPoints = project.entry-points or { };
    };

  # "pydantic-settings>=2.3" -> "pydantic-settings"; "Foo_Bar[x]" -> "foo-bar"
  # (PEP 503 normalisation, which is also how nixpkgs names its attributes).
  requirementName =
    requirement:
    let
      match = builtins.match "[[:space:]]*([A-Za-z0-9][A-Za-z0-9._-]*).*" requirement;
    in
    if match == null then
      throw "pyproject.nix: cannot read a package name from the requirement '${requirement}'"
    else
      lib.toLower (lib.replaceStrings [ "_" "." ] [ "-" "-" ] (builtins.head match));

  # Map requirement names to packages of a Python package set, with a clear
  # error naming the project when nixpkgs has no such package.
  resolve =
    pythonPackages: project:
    map (
      name:
      pythonPackages.${name}
        or (throw "${project.pname}: dependency '${name}' is not in this Python package set; add it to nix/python-packages.nix")
    ) project.dependencies;
}
