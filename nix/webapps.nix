# The web apps (admin, desktop, mobile shells) and the first-party plugins'
# UI modules, built from ui/ by ui/build/build-all.mjs as `npm run build`
# does on a developer's machine.
#
# Its npm dependencies come from importNpmLock: one fixed-output fetch per
# package of ui/package-lock.json (and ui/vortex/package-lock.json), by the
# lock's `resolved` URL and checked against its `integrity`. So the locks
# must carry `resolved` URLs (tests/appliance/test_webapps.py checks them).
#
# $out/webapps/<app>             what the build writes to peek_src/peek/webapps/<app>
# $out/plugins/<name>/<dist>     what it writes to plugins/<name>/<dist> ("peek.dist")
#
# passthru.matchesCommitted compares both with the copies committed in the
# repository, which are what the Python wheels ship.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs,
  runCommand,
  diffutils,
  jq,
  # The repository (a path).
  src ? ../.,
}:
let
  uiPackage = lib.importJSON (src + "/ui/package.json");
  # The plugins whose UI the ui/ workspace names ("../plugins/<name>").
  pluginNames = map (w: lib.removePrefix "../plugins/" w) (
    lib.filter (lib.hasPrefix "../plugins/") uiPackage.workspaces
  );
  pluginDist =
    name: (lib.importJSON (src + "/plugins/${name}/package.json")).peek.dist or null;
  builtPlugins = lib.filter (name: pluginDist name != null) pluginNames;

  srcRoot = toString src;
  relative = path: lib.removePrefix (srcRoot + "/") (toString path);
  within = prefix: rel: rel == prefix || lib.hasPrefix (prefix + "/") rel;
  # Whether `rel` is `prefix` itself or one of the folders leading to it
  # (a folder must be kept for the filter to look inside it).
  towards = prefix: rel: rel == "" || lib.hasPrefix (rel + "/") (prefix + "/");

  # A plugin's UI: its package.json and tsconfig.json, ui-api/ and the
  # peek_plugin_<name>/_private/<app>-app folders, not its Python nor its
  # committed ui-dist (the build writes that afresh).
  pluginUi =
    name: rel:
    let
      root = "plugins/${name}";
      private = "${root}/peek_plugin_${name}/_private";
      rest = lib.removePrefix "${private}/" rel;
      first = lib.head (lib.splitString "/" rest);
    in
    towards private rel
    || rel == "${root}/package.json"
    || rel == "${root}/tsconfig.json"
    || within "${root}/ui-api" rel
    || (lib.hasPrefix "${private}/" rel && lib.hasSuffix "-app" first);

  # ui/ without installed or built trees, plus the plugins' UI.
  source = lib.cleanSourceWith {
    name = "peek-webapps-source";
    inherit src;
    filter =
      path: type:
      let
        rel = relative path;
        base = baseNameOf path;
      in
      (
        (towards "ui" rel || within "ui" rel)
        && base != "node_modules"
        && rel != "ui/vortex/dist"
        && rel != "ui/vortex/build"
      )
      || lib.any (name: pluginUi name rel) pluginNames;
  };

  uiLock = lib.importJSON (src + "/ui/package-lock.json");
  # npm links each workspace member into ui/node_modules: an entry with
  # "link": true and "resolved" its folder relative to ui/. importNpmLock
  # (nixpkgs 25.05) knows no workspaces: it would drop "link" and make the
  # entry a file: dependency, which `npm install` then finds out of sync
  # with package.json's "workspaces". So it is given the lock without them,
  # and they are put back into the lock it writes, for npm to link as usual.
  workspaceLinks = lib.filterAttrs (_: entry: entry.link or false) uiLock.packages;
  imported = importNpmLock {
    pname = "peek-ui-workspace";
    package = uiPackage;
    packageLock = uiLock // {
      packages = removeAttrs uiLock.packages (lib.attrNames workspaceLinks);
    };
  };
  uiNpmDeps =
    runCommand "peek-ui-workspace-npm-deps"
      {
        nativeBuildInputs = [ jq ];
        links = builtins.toJSON workspaceLinks;
        passAsFile = [ "links" ];
      }
      ''
        mkdir $out
        cp ${imported}/package.json $out/package.json
        jq --slurpfile links "$linksPath" '.packages += $links[0]' \
          ${imported}/package-lock.json > $out/package-lock.json
      '';

  # ui/vortex is its own npm project; build-all.mjs compiles it first with
  # its own node_modules (it runs `npm ci` there only when they are missing).
  # Store paths cannot hold "@" or "/": buildNodeModules names its inner
  # importNpmLock after package.json's "name" (only the root's, which npm
  # does not compare with the lock's).
  vortexModules = importNpmLock.buildNodeModules {
    pname = "peek-vortex-node-modules";
    version = "0";
    package = lib.importJSON (src + "/ui/vortex/package.json") // {
      name = "peek-vortex";
    };
    packageLock = lib.importJSON (src + "/ui/vortex/package-lock.json");
    inherit nodejs;
  };

  webapps = buildNpmPackage {
    pname = "peek-webapps";
    version = "0";
    src = source;
    sourceRoot = "${source.name}/ui";
    inherit nodejs;

    npmDeps = uiNpmDeps;
    npmConfigHook = importNpmLock.npmConfigHook;

    # The build writes outside ui/ (../peek_src, ../plugins/*): the
    # unpacked tree must be writable beyond sourceRoot.
    postUnpack = ''
      chmod -R u+w "$sourceRoot/.."
    '';

    # A copy rather than a link, so that module paths are the ones a
    # developer's tree has (the output must match the committed copies).
    preBuild = ''
      cp -r ${vortexModules}/node_modules vortex/node_modules
      chmod -R u+w vortex/node_modules
    '';
    npmBuildScript = "build";

    installPhase = ''
      runHook preInstall
      mkdir -p $out/webapps $out/plugins
      cp -r ../peek_src/peek/webapps/. $out/webapps/
      ${lib.concatMapStringsSep "\n" (name: ''
        mkdir -p $out/plugins/${name}/${pluginDist name}
        cp -r ../plugins/${name}/${pluginDist name}/. $out/plugins/${name}/${pluginDist name}/
      '') builtPlugins}
      runHook postInstall
    '';

    passthru = {
      inherit source imported vortexModules;
      plugins = builtPlugins;
      # The committed copies must equal a fresh build (CI's
      # `npm run check-built` checks the same from a developer's tree).
      matchesCommitted = runCommand "peek-webapps-match-committed" { nativeBuildInputs = [ diffutils ]; } ''
        diff -r ${webapps}/webapps ${src + "/peek_src/peek/webapps"}
        ${lib.concatMapStringsSep "\n" (name: ''
          diff -r ${webapps}/plugins/${name}/${pluginDist name} ${src + "/plugins/${name}/${pluginDist name}"}
        '') builtPlugins}
        touch $out
      '';
    };

    meta.description = "Peek's web apps and first-party plugin UI modules, built from ui/";
  };
in
webapps
