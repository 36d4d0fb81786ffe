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
  # Python packages carry what nixpkgs' buildPythonPackage gives the Peek
  # files: pythonModule (the interpreter), requiredPythonModules (the
  # closure of their dependencies) and overridePythonAttrs. A package's
  # store path changes with its dependencies' store paths.
  leaf =
    pname:
    drv "python3.12-${pname}" { inherit pname; } {
      inherit pname;
      version = "0";
      pythonModule = python3;
      requiredPythonModules = [ ];
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
          deps = (args.dependencies or [ ]) ++ (args.propagatedBuildInputs or [ ]);
          identity = {
            inherit (args) pname version;
            format = args.format or "pyproject";
            dependencies = map (d: d.outPath) deps;
            # A wheel (a lock's) counts by its store path, which checks it
            # against its sha256; a source tree not at all: Peek's use
            # lib.fileset, which needs a newer Nix than tests may have.
            src = if (args.format or null) == "wheel" then toString args.src else "src";
          };
        in
        drv "python3.12-${args.pname}-${args.version}" identity (
          {
            inherit (args) pname version;
            inherit (identity) format src;
            dependencies = map (d: d.pname) (args.dependencies or [ ]);
            pythonModule = python3;
            requiredPythonModules = lib.unique (deps ++ lib.concatMap (d: d.requiredPythonModules or [ ]) deps);
            overridePythonAttrs =
              f: final.buildPythonPackage (args // (if builtins.isFunction f then f args else f));
            passthru = args.passthru or { };
          }
          // (args.passthru or { })
        );
    }
    // import ../../../nix/python-packages.nix { inherit lib; } final { }
  );

  # An environment is the closure of what it is given, as python.withPackages
  # makes it (requiredPythonModules); `modules` lists it for the tests.
  python3 = {
    pkgs = pythonPackages // {
      inherit lib;
    };
    withPackages =
      choose:
      let
        chosen = choose pythonPackages;
        closure = lib.unique (chosen ++ lib.concatMap (p: p.requiredPythonModules or [ ]) chosen);
      in
      drv "python3.12-env" { paths = lib.sort (a: b: a < b) (map (p: p.outPath) closure); } {
        modules = map (p: {
          inherit (p) pname version;
          path = p.outPath;
          dependencies = p.dependencies or [ ];
        }) closure;
      };
  };

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

  # nixpkgs' importNpmLock: every package of a lock becomes a fetch of its
  # `resolved` URL checked against its `integrity`; a relative `resolved`
  # (an npm workspace member or file: dependency) is read from npmRoot. A
  # registry package without `resolved` is refused here: the real one skips
  # it and `npm ci` then fails offline in the build sandbox.
  importNpmLock =
    let
      fetchModule =
        npmRoot: path: entry:
        if !(entry ? resolved) then
          if lib.hasInfix "node_modules/" path then
            throw "importNpmLock: ${path} has no resolved URL"
          else
            null
        else if builtins.match "https?://.*" entry.resolved != null then
          if entry ? integrity then
            {
              url = entry.resolved;
              inherit (entry) integrity;
            }
          else
            throw "importNpmLock: ${path} has no integrity"
        else if builtins.match "[a-z+]+:.*" entry.resolved != null then
          throw "importNpmLock: unsupported URL ${entry.resolved}"
        else
          # Read from npmRoot when built (tests check the folder is there).
          assert lib.assertMsg (npmRoot != null) "importNpmLock: ${path} is relative and there is no npmRoot";
          {
            local = "${npmRoot}/${entry.resolved}";
          };
      importLock =
        {
          npmRoot ? null,
          package ? lib.importJSON (npmRoot + "/package.json"),
          packageLock ? lib.importJSON (npmRoot + "/package-lock.json"),
          pname ? package.name or "unknown",
          version ? package.version or "0.0.0",
        }:
        let
          modules = lib.filterAttrs (_: m: m != null) (lib.mapAttrs (fetchModule npmRoot) packageLock.packages);
        in
        drv (storeName "${pname}-${version}-sources") { inherit modules; } { inherit modules; };
      # As Nix checks a derivation's name (a scoped npm name is not one).
      storeName =
        name:
        assert lib.assertMsg (
          builtins.match "[a-zA-Z0-9+._?=-]+" name != null
        ) "importNpmLock: ${name} is not a valid store path name";
        name;
    in
    {
      __functor = _: importLock;
      npmConfigHook = drv "npm-config-hook" "importNpmLock" { };
      buildNodeModules =
        {
          nodejs,
          npmRoot ? null,
          package ? lib.importJSON (npmRoot + "/package.json"),
          packageLock ? lib.importJSON (npmRoot + "/package-lock.json"),
          ...
        }@args:
        let
          npmDeps = importLock { inherit npmRoot package packageLock; };
          pname = args.pname or "${package.name or "unknown"}-node-modules";
          version = args.version or package.version or "0.0.0";
        in
        drv (storeName "${pname}-${version}") { npmDeps = npmDeps.outPath; } {
          inherit npmDeps nodejs;
        };
    };

  # nixpkgs' buildNpmPackage: its dependencies are npmDeps (fetchNpmDeps,
  # which needs npmDepsHash, or importNpmLock, which needs its own
  # npmConfigHook); passthru attributes are the derivation's own.
  buildNpmPackage =
    args:
    assert lib.assertMsg (args ? npmDeps || args ? npmDepsHash) "buildNpmPackage: npmDeps or npmDepsHash";
    assert lib.assertMsg (
      !(args.npmDeps ? modules) || (args.npmConfigHook or null) == importNpmLock.npmConfigHook
    ) "buildNpmPackage: importNpmLock's npmDeps need npmConfigHook = importNpmLock.npmConfigHook";
    drv "${args.pname}-${args.version}"
      {
        inherit (args) pname version;
        src = toString args.src;
        npmDeps = (args.npmDeps or { outPath = args.npmDepsHash; }).outPath;
      }
      (args // (args.passthru or { }));
in
lib.fix (self: {
  inherit
    lib
    python3
    importNpmLock
    buildNpmPackage
    ;
  callPackage = lib.callPackageWith self;
  nodejs = drv "nodejs-22" "nodejs" { };
  diffutils = drv "diffutils" "diffutils" { };
  jq = drv "jq" "jq" { };
  runCommand =
    name: env: script:
    drv name { inherit env script; } (env // { inherit script; });
  python3Packages = pythonPackages;
  # As nix/overlay.nix makes it.
  peek = pythonPackages.peek-platform // {
    withPlugins = import ../../../nix/environment.nix { inherit python3; };
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
})
