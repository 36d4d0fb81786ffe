# Peek's Python packages as an extension of a nixpkgs Python package set:
# the platform and every first-party plugin under plugins/, each built with
# buildPythonPackage from its own pyproject.toml (name, version, dependencies).
#
# Use through the overlay (nix/overlay.nix, which appends it to
# pythonPackagesExtensions) or directly:
#   python3.override { packageOverrides = import ./python-packages.nix { inherit lib; }; }
{ lib }:
final: prev:
let
  pyproject = import ./pyproject.nix { inherit lib; };

  # Only what belongs in a build: no virtualenvs, caches or egg-info.
  clean =
    src:
    lib.cleanSourceWith {
      inherit src;
      filter =
        path: type:
        let
          base = baseNameOf path;
        in
        !(
          lib.hasSuffix ".egg-info" base
          || lib.elem base [
            "__pycache__"
            ".venv"
            ".mypy_cache"
            ".ruff_cache"
            ".pytest_cache"
            "result"
          ]
        );
    };

  build =
    {
      dir,
      src ? clean dir,
    }:
    let
      project = pyproject.read dir;
    in
    final.buildPythonPackage {
      inherit (project) pname version;
      inherit src;
      pyproject = true;
      build-system = [ final.setuptools ];
      dependencies = pyproject.resolve final project;
      pythonImportsCheck = [
        (if project.pname == "peek-platform" then "peek" else project.importName)
      ];
      # The test suites need PostgreSQL, RabbitMQ, Redis and network
      # namespaces; they run in CI (scripts/test), not in the sandbox.
      doCheck = false;
      passthru = {
        inherit (project) importName;
        peekPlugin = project.entryPoints ? "peek.plugins";
      };
      meta = {
        inherit (project) description;
        license = lib.licenses.mit;
        platforms = lib.platforms.linux;
      };
    };

  root = ../.;

  # Every directory under plugins/ with a pyproject.toml is a plugin.
  pluginDirs = lib.filterAttrs (
    name: type: type == "directory" && builtins.pathExists (root + "/plugins/${name}/pyproject.toml")
  ) (builtins.readDir (root + "/plugins"));

  plugins = lib.mapAttrs' (
    name: _:
    let
      dir = root + "/plugins/${name}";
    in
    lib.nameValuePair (pyproject.read dir).pname (build { inherit dir; })
  ) pluginDirs;
in
{
  peek-platform = build {
    dir = root;
    # The platform alone: its package, metadata and README (pyproject's readme).
    src = lib.fileset.toSource {
      inherit root;
      fileset = lib.fileset.unions [
        (root + "/pyproject.toml")
        (root + "/README.md")
        (lib.fileset.difference (root + "/peek_src") (
          lib.fileset.fileFilter (file: lib.hasSuffix ".pyc" file.name) (root + "/peek_src")
        ))
      ];
    };
  };
}
// plugins
