# Options every Peek service shares (services.peek.*), the one configuration
# file, the Python environment, the peek user, peek.target, and the local
# database, broker and result backend when asked to create them.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    mkMerge
    types
    literalExpression
    optional
    optionalAttrs
    ;
  cfg = config.services.peek;
  format = pkgs.formats.toml { };
  kinds = [
    "server"
    "client"
    "agent"
    "worker"
  ];
  enabled = lib.filter (kind: cfg.${kind}.enable) kinds;
  stateDirectory = lib.removePrefix "/var/lib/" cfg.dataDir;

  # The platform and everything built against it. The interpreter is the
  # one services.peek.package was built with; every plugin is rebased onto
  # that package (nix/rebase.nix), so another package (a newer Peek, an
  # overrideAttrs of pkgs.peek) changes the whole closure, plugins included.
  python = cfg.package.pythonModule;
  pyproject = import ../nix/pyproject.nix { inherit lib; };
  rebase = import ../nix/rebase.nix { inherit lib; } cfg.package;
  normalise = name: lib.toLower (lib.replaceStrings [ "_" "." ] [ "-" "-" ] name);

  # The generation lock written by a rollout: plugin name -> version, the
  # wheel's sha256 and its path relative to the lock. Each wheel is taken
  # into the store by content; a file that does not match the lock fails
  # evaluation.
  lock = if cfg.generationLock == null then null else lib.importJSON cfg.generationLock;
  lockEntries = if lock == null then { } else lock.plugins or { };
  lockDir = dirOf cfg.generationLock;
  lockNames = lib.mapAttrs' (name: _: lib.nameValuePair (normalise name) name) lockEntries;

  # An uploaded plugin replaces a configured one of the same project, as a
  # generation's uploads replace its environment plugins.
  configured = lib.filter (p: !(lockNames ? ${normalise p.pname})) (map rebase cfg.plugins);

  # What each wheel requires (its METADATA's Requires-Dist) is in the
  # generation's manifest, generation.json beside the lock, which the lock
  # names by its SHA-256 (`digest`): read only when the lock has plugins.
  manifest =
    let
      file = lockDir + "/generation.json";
    in
    if !(builtins.pathExists file) then
      throw "services.peek.generationLock: ${toString file} (the generation's manifest, written beside the lock by Peek's nixos backend) is missing; it names what each wheel requires."
    else if builtins.hashFile "sha256" file != (lock.digest or "") then
      throw "services.peek.generationLock: ${toString file} is not the manifest the lock names (its sha256 is not the lock's digest)."
    else
      lib.importJSON file;

  # "peek-plugin-user (>=0.1) ; extra == 'x'" -> { name = "peek-plugin-user"; marker = " extra == 'x'"; }
  parseRequirement =
    text:
    let
      parts = builtins.match "([^;]*)(;(.*))?" text;
    in
    {
      name = pyproject.requirementName (builtins.head parts);
      marker = builtins.elemAt parts 2;
    };

  # A wheel's dependency, by its normalised name: the platform, another
  # plugin of the lock, a configured plugin, or (not a Peek project) a
  # package of the Python package set. Requirements of an extra are never
  # installed (the upload check evaluates markers without extras), and one
  # under another marker is taken when the package set has it. Anything
  # else fails evaluation naming the plugin and the requirement.
  lockDependency =
    lockPackages: plugin: text:
    let
      requirement = parseRequirement text;
      inherit (requirement) name marker;
      known =
        {
          peek-platform = cfg.package;
        }
        // lib.listToAttrs (map (p: lib.nameValuePair (normalise p.pname) p) configured)
        // lib.mapAttrs' (lockName: p: lib.nameValuePair (normalise lockName) p) lockPackages;
    in
    if marker != null && lib.hasInfix "extra" marker then
      null
    else if known ? ${name} then
      known.${name}
    else if !(lib.hasPrefix "peek-" name) && python.pkgs ? ${name} then
      python.pkgs.${name}
    else if marker != null then
      null
    else
      throw "services.peek.generationLock: ${plugin} requires '${text}', which is neither services.peek.package, a plugin of the lock or of services.peek.plugins, nor a package of the Python package set.";

  # Each wheel becomes a package whose dependencies are what its
  # Requires-Dist names (every plugin names peek-platform): nixpkgs'
  # runtime-dependency check, where it runs, finds them installed, and the
  # package's closure holds exactly services.peek.package and the plugins it
  # needs, as the environment does.
  lockPackages = lib.fix (
    self:
    lib.mapAttrs (
      pname: entry:
      python.pkgs.buildPythonPackage {
        inherit pname;
        inherit (entry) version;
        format = "wheel";
        src = builtins.path {
          path = lockDir + "/${entry.wheel}";
          name = baseNameOf entry.wheel;
          recursive = false;
          inherit (entry) sha256;
        };
        dependencies = lib.filter (d: d != null) (
          map (lockDependency self pname) (manifest.plugins.${pname}.requires_dist or [ ])
        );
      }
    ) lockEntries
  );

  urlOption =
    what:
    mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''
        URL of the ${what}. Secrets in it belong in
        {option}`services.peek.environmentFile` instead (the matching
        `PEEK__...` variable), since this value ends up in the Nix store.
      '';
    };
  localDatabaseUrl = "postgresql+asyncpg://${cfg.user}@/${cfg.user}?host=/run/postgresql";
  databaseUrl = if cfg.database.createLocally then localDatabaseUrl else cfg.database.url;
  brokerUrl = if cfg.broker.createLocally then "amqp://guest:guest@127.0.0.1:5672//" else cfg.broker.url;
  resultBackendUrl =
    if cfg.resultBackend.createLocally then "redis://127.0.0.1:6379/0" else cfg.resultBackend.url;
in
{
  # Plugin rollouts as system generations (off unless rebuild.enable).
  imports = [ ./rebuild.nix ];

  options.services.peek = {
    package = mkOption {
      type = types.package;
      default = pkgs.peek;
      defaultText = literalExpression "pkgs.peek";
      description = ''
        The Peek platform package (a Python package; Peek's overlay provides
        `pkgs.peek`). The services' environment is this package and the
        plugins rebuilt against it, so setting another one (a newer Peek,
        `pkgs.peek.overrideAttrs ...`) upgrades every host that runs it.
      '';
    };

    plugins = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = literalExpression "with pkgs.python3Packages; [ peek-plugin-user peek-plugin-active-task ]";
      description = ''
        Plugin packages built into the services' Python environment. The
        same set always gives the same environment; every installed plugin
        is enabled unless `settings.plugins.enabled` names a subset.
      '';
    };

    generationLock = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "./generation.json";
      description = ''
        A rollout's generation lock (JSON: `plugins.<name> = { version,
        sha256, wheel }`, wheel paths relative to the lock, and `digest`,
        the sha256 of the manifest `generation.json` beside it, which lists
        each wheel's `requires_dist`). Its plugins are built from their
        wheels, depending on {option}`services.peek.package` and the plugins
        they require, and join {option}`services.peek.plugins` (replacing a
        configured plugin of the same project). In a flake this is a file of
        a flake input, so evaluation stays pure; see `modules/rebuild.nix`
        (`peek-rebuild.service`).
      '';
    };

    environment = mkOption {
      type = types.package;
      readOnly = true;
      description = "The Python environment the services run: the platform and the plugins.";
    };

    settings = mkOption {
      type = types.submodule { freeformType = format.type; };
      default = { };
      example = {
        plugins.hook_timeout = 60;
        plugin.peek_plugin_noop.greeting = "hello";
      };
      description = ''
        Peek's configuration, rendered to the TOML file every service reads
        (see Peek's README). The typed options below fill in their keys;
        anything else (plugin tables, `plugins.enabled`) goes here. No
        secrets: they would land in the Nix store.
      '';
    };

    configFile = mkOption {
      type = types.path;
      readOnly = true;
      description = "The rendered configuration file.";
    };

    dataDir = mkOption {
      type = types.str;
      default = "/var/lib/peek";
      description = "Where Peek keeps its state (a directory under /var/lib, made by systemd).";
    };

    user = mkOption {
      type = types.str;
      default = "peek";
      description = ''
        The user the services run as; also the PostgreSQL role when the
        database is created locally (peer authentication).
      '';
    };

    group = mkOption {
      type = types.str;
      default = "peek";
      description = "The services' group.";
    };

    environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/peek.env";
      description = ''
        A root-only file of `PEEK__SECTION__KEY=value` lines for secrets
        (database password, broker credentials), read by every unit.
      '';
    };

    watchdogSec = mkOption {
      type = types.ints.positive;
      default = 60;
      description = "systemd restarts a service whose event loop has not answered for this long.";
    };

    database = {
      createLocally = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Run PostgreSQL on this host with a database and a role named after
          {option}`services.peek.user`, reached through its unix socket
          with peer authentication (no password anywhere).
        '';
      };
      url = urlOption "database (null: an SQLite file in the data directory)";
    };

    broker = {
      createLocally = mkOption {
        type = types.bool;
        default = false;
        description = "Run RabbitMQ on this host as the task broker.";
      };
      url = urlOption "task broker (null: the embedded default)";
    };

    resultBackend = {
      createLocally = mkOption {
        type = types.bool;
        default = false;
        description = "Run Redis on this host (127.0.0.1:6379) as the task result backend.";
      };
      url = urlOption "task result backend";
    };
  };

  config = mkIf (enabled != [ ]) (mkMerge [
    {
      assertions = [
        {
          assertion = lib.hasPrefix "/var/lib/" cfg.dataDir && stateDirectory != "";
          message = "services.peek.dataDir must be a directory under /var/lib (systemd's StateDirectory), not '${cfg.dataDir}'.";
        }
        {
          assertion = !(cfg.database.createLocally && cfg.database.url != null);
          message = "services.peek.database: set either createLocally or url, not both.";
        }
        {
          assertion = !(cfg.broker.createLocally && cfg.broker.url != null);
          message = "services.peek.broker: set either createLocally or url, not both.";
        }
        {
          assertion = !(cfg.resultBackend.createLocally && cfg.resultBackend.url != null);
          message = "services.peek.resultBackend: set either createLocally or url, not both.";
        }
      ];

      services.peek = {
        environment = import ../nix/environment.nix {
          python3 = python;
          platform = cfg.package;
        } (configured ++ lib.attrValues lockPackages);
        configFile = format.generate "peek.toml" cfg.settings;
        settings = {
          data_dir = cfg.dataDir;
        }
        // optionalAttrs (databaseUrl != null) { server.database_url = databaseUrl; }
        // optionalAttrs (brokerUrl != null || resultBackendUrl != null) {
          worker =
            optionalAttrs (brokerUrl != null) { broker_url = brokerUrl; }
            // optionalAttrs (resultBackendUrl != null) { result_backend = resultBackendUrl; };
        };
      };

      users.users.${cfg.user} = {
        isSystemUser = true;
        inherit (cfg) group;
        home = cfg.dataDir;
        description = "Peek appliance services";
      };
      users.groups.${cfg.group} = { };

      # `peek token create ...` as root or the peek user, against this
      # host's configuration and data.
      environment.systemPackages = [
        (pkgs.writeShellScriptBin "peek" ''
          export PEEK_CONFIG=${cfg.configFile}
          export PEEK__DATA_DIR=${cfg.dataDir}
          exec ${cfg.environment}/bin/peek "$@"
        '')
      ];

      systemd.targets.peek = {
        description = "Peek appliance services";
        wantedBy = [ "multi-user.target" ];
      };
    }

    (mkIf cfg.database.createLocally {
      services.postgresql = {
        enable = true;
        ensureDatabases = [ cfg.user ];
        ensureUsers = [
          {
            name = cfg.user;
            ensureDBOwnership = true;
          }
        ];
      };
    })

    (mkIf cfg.broker.createLocally {
      services.rabbitmq = {
        enable = true;
        listenAddress = "127.0.0.1";
      };
    })

    (mkIf cfg.resultBackend.createLocally {
      services.redis.servers.peek = {
        enable = true;
        bind = "127.0.0.1";
        port = 6379;
      };
    })
  ]);
}
