# A stand-in for nixpkgs' `pkgs`, enough to evaluate Peek's modules without
# nixpkgs: derivations are attrsets with a store-like outPath that changes
# with what they are built from. Peek's own Python packages come from the
# real nix/python-packages.nix applied to a stub Python package set, so a
# dependency nixpkgs lacks fails here as it would there.
{ lib }:
let
  hash = value: builtins.substring 0 32 (builtins.hashString "sha256" (builtins.toJSON value));
  drv =
    name: identity: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/${hash identity}-${name}";
      drvPath = "/nix/store/${hash identity}-${name}.drv";
    }
    // extra;

  # Third-party packages: whatever Peek's projects depend on, as nixpkgs
  # names them (nixpkgs has them all; a name it lacks is caught on real CI).
  pyproject = import ../../../nix/pyproject.nix { inherit lib; };
  projectDirs = [
    ../../..
  ]
  ++ map (name: ../../../plugins + "/${name}") (
    lib.attrNames (
      lib.filterAttrs (
        name: type: type == "directory" && builtins.pathExists (../../../plugins + "/${name}/pyproject.toml")
      ) (builtins.readDir ../../../plugins)
    )
  );
  dependencyNames = lib.unique (
    lib.concatMap (dir: (pyproject.read dir).dependencies) projectDirs
  );
  leaf =
    pname:
    drv "python3.12-${pname}" { inherit pname; } {
      inherit pname;
      version = "0";
    };
  thirdParty = lib.genAttrs (
    [ "setuptools" ] ++ lib.filter (name: !(lib.hasPrefix "peek-" name)) dependencyNames
  ) leaf;

  pythonPackages = lib.fix (
    final:
    thirdParty
    // {
      buildPythonPackage =
        args:
        let
          identity = {
            inherit (args) pname version;
            format = args.format or "pyproject";
            dependencies = map (d: d.pname) (args.dependencies or [ ]);
            src = if args ? src && builtins.isAttrs args.src then args.src.name or "src" else toString (args.src or "");
          };
        in
        drv "python3.12-${args.pname}-${args.version}" identity (
          identity // { passthru = args.passthru or { }; } // (args.passthru or { })
        );
    }
    // import ../../../nix/python-packages.nix { inherit lib; } final { }
  );

  python3 = {
    pkgs = pythonPackages // {
      inherit lib;
    };
    withPackages =
      choose:
      let
        names = map (p: p.pname) (choose pythonPackages);
      in
      drv "python3.12-env" { inherit names; } { };
  };

  withPlugins =
    plugins:
    let
      names = lib.sort (a: b: a < b) (lib.unique (map (p: p.pname) plugins));
    in
    # The plugins' own store paths count too, as they do for a real
    # environment: this forces each plugin's src (a lock's wheel is checked
    # against its sha256 only when its path is computed).
    drv "python3.12-peek-env" {
      plugins = names;
      paths = lib.sort (a: b: a < b) (lib.unique (map (p: p.outPath) plugins));
    } { peekPlugins = names; };

  tomlValue =
    let
      valueType =
        lib.types.nullOr (
          lib.types.oneOf [
            lib.types.bool
            lib.types.int
            lib.types.float
            lib.types.str
            lib.types.path
            (lib.types.attrsOf valueType)
            (lib.types.listOf valueType)
          ]
        )
        // {
          description = "TOML value";
        };
    in
    valueType;
in
{
  inherit lib python3;
  python3Packages = pythonPackages;
  peek = pythonPackages.peek-platform // {
    python = python3;
    inherit withPlugins;
  };
  formats.toml =
    { }:
    {
      type = tomlValue;
      # Not TOML, but a file name that changes with the content, which is
      # what the units see; tests read the settings themselves.
      generate = name: value: "/nix/store/${hash value}-${name}";
    };
  writeShellScriptBin = name: text: drv name { inherit text; } { };
}
