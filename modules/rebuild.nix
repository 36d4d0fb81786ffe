# services.peek.rebuild: plugin uploads become NixOS system generations.
#
# How a rollout reaches the system (peek.rollout.backends.nixos):
#
# 1. The server (as the peek user, no privileges) writes the generation
#    lock and its wheels to <dataDir>/system-flake/generations/<n>/
#    (generation.lock.json: plugins.<name> = { version, sha256, wheel }),
#    beside the running generation, by write-then-rename.
# 2. It asks root for something by renaming <dataDir>/rebuild/request into
#    place (id=<32 hex>, action=build|switch|rollback, generation=<n>).
#    peek-rebuild.path sees it and starts peek-rebuild.service, the only
#    root part. No Nix command runs as the peek user, and the peek user
#    gains nothing it could not already do: the request names a number,
#    never a path or a command (each line is checked against a strict
#    pattern before anything uses it).
# 3. At prepare, `build`: the oneshot copies that directory to its own
#    /var/lib/peek-rebuild/generations/<n> and builds
#    `rebuild.flake#nixosConfigurations.<configuration>` with
#    `--override-input peek-generation path:/var/lib/peek-rebuild/generations/<n>`
#    into the out-link /var/lib/peek-rebuild/built/<n> (a GC root) and
#    activates nothing. A failed build fails the prepare with the builder's
#    output, so the rollout aborts before any host changed.
# 4. At the switch, `switch`: it runs `switch-to-configuration test` of the
#    system built for <n>, waits until every Peek unit is active
#    (Type=notify: READY=1 after the plugins started) and stays so for
#    `settleSec`, then makes it the boot default (`nix-env --profile
#    /nix/var/nix/profiles/system --set`, `switch-to-configuration boot`).
#    On any failure it runs the previous system's `switch-to-configuration
#    test` and says why. A `rollback` does the same with the system
#    recorded for a generation that ran before (/var/lib/peek-rebuild/systems/<n>).
#    After either, healthy and the boot default, it copies that generation's
#    lock, manifest and wheels to /var/lib/peek-rebuild/current (below).
# Every answer is /var/lib/peek-rebuild/results/<id>.json, and the running
# generation is recorded in /var/lib/peek-rebuild/active.json (root-owned:
# the peek user reads, never writes, what root reports). The switch
# restarts the Peek units, the one that asked among them: after its
# restart a service finds its request in <dataDir>/rebuild/in-flight.json
# and reads the answer from there (the server continues the rollout).
#
# Peek's own configuration selects this backend: the module renders
# `[rollout] backend = "nixos"` and `[rollout.nixos]` with these paths and
# timeouts, and stretches the rollout's prepare and health timeouts to the
# build and the switch (mkDefault: settings may set them).
#
# How the lock reaches evaluation, and why: as a PURE flake input. The
# system flake (`rebuild.flake`, root-owned, e.g. /etc/nixos) declares
#     inputs.peek-generation = { url = "path:/var/lib/peek-rebuild/current"; flake = false; };
# and sets `services.peek.generationLock = "${peek-generation}/generation.lock.json";`.
# A `path:` input is copied into the Nix store and pinned by its NAR hash;
# each wheel is then taken by the sha256 the lock names, and the manifest
# (generation.json, each wheel's requirements) by the lock's digest, so a
# mismatch fails evaluation. The built system records exactly which lock and
# wheels it came from, and evaluation needs no --impure. An impure path
# (builtins.getEnv, a fixed /var/lib path read with --impure) was rejected:
# the result would depend on whatever the file held at evaluation time,
# unrecorded, and nothing would tie a system to its plugin set.
#
# Which generation that input is:
# - The oneshot's builds override it: at `build` root first copies
#   <dataDir>/system-flake/generations/<n> to its own
#   /var/lib/peek-rebuild/generations/<n> (the service user cannot change
#   what root evaluates after that), then builds with
#   `--override-input peek-generation path:/var/lib/peek-rebuild/generations/<n>`.
# - The default, for everything else, is /var/lib/peek-rebuild/current:
#   root's copy (lock, manifest, wheels) of the generation the running
#   system was built from. The oneshot updates it only after a switch or
#   rollback that passed the health wait and became the boot default (the
#   lock renamed last); tmpfiles creates it with an empty lock before the
#   first rollout. A manual rebuild of the host therefore builds the plugin
#   set that runs, never generation 1 or none:
#       nixos-rebuild switch --flake <rebuild.flake>#<configuration> --no-write-lock-file
#   (--no-write-lock-file: a flake in the Nix store cannot take a lock
#   file; and a flake.lock that pinned an earlier `current` makes Nix stop
#   with "NAR hash mismatch in input 'path:/var/lib/peek-rebuild/current'"
#   rather than build another plugin set: then add
#   `--override-input peek-generation path:/var/lib/peek-rebuild/current`,
#   or `nix flake update peek-generation` in a writable flake).
# The flake itself stays out of the peek user's reach: only the generation
# directory comes from the data directory, and root evaluates its own copy.
{
  config,
  lib,
  ...
}:
let
  inherit (lib) mkOption mkEnableOption mkIf types;
  cfg = config.services.peek;
  rebuild = cfg.rebuild;
  kinds = [
    "server"
    "client"
    "agent"
    "worker"
  ];
  units = map (kind: "peek-${kind}.service") (lib.filter (kind: cfg.${kind}.enable) kinds);
  requestDir = "${cfg.dataDir}/rebuild";
  flakeDir = "${cfg.dataDir}/system-flake";
  stateDir = "/var/lib/peek-rebuild";
  # The system flakes' default peek-generation input (see above).
  currentDir = "${stateDir}/current";
  lockGeneration =
    if cfg.generationLock == null then null else (lib.importJSON cfg.generationLock).generation or null;
  # The oneshot's own bound; the services wait a little less for each answer.
  oneshotTimeout = lib.max rebuild.buildTimeoutSec rebuild.switchTimeoutSec + 60;
  # Downloads and the import check come on top of the build at prepare.
  prepareMargin = 300;
in
{
  options.services.peek.rebuild = {
    enable = mkEnableOption "plugin rollouts as NixOS system generations (peek-rebuild.path and peek-rebuild.service)";

    flake = mkOption {
      type = types.str;
      example = "path:/etc/nixos";
      description = ''
        The system flake the oneshot builds, root-owned (never under
        {option}`services.peek.dataDir`). It must declare the non-flake
        input `peek-generation = { url = "path:/var/lib/peek-rebuild/current"; flake = false; }`
        (the running generation, so that a manual `nixos-rebuild` keeps the
        uploaded plugins) and pass `"''${peek-generation}/generation.lock.json"`
        to {option}`services.peek.generationLock`.
      '';
    };

    configuration = mkOption {
      type = types.str;
      default = config.networking.hostName;
      defaultText = lib.literalExpression "config.networking.hostName";
      description = "The `nixosConfigurations` attribute of {option}`services.peek.rebuild.flake` for this host.";
    };

    healthTimeoutSec = mkOption {
      type = types.ints.positive;
      default = 300;
      description = "How long every Peek unit has to become ready on the new system before it is switched back.";
    };

    settleSec = mkOption {
      type = types.ints.unsigned;
      default = 10;
      description = "How long every Peek unit must then stay active before the new system becomes the boot default.";
    };

    buildTimeoutSec = mkOption {
      type = types.ints.positive;
      default = 1800;
      description = ''
        How long a service waits at prepare for root to build the system of
        a new plugin generation; the rollout's prepare timeout
        (`settings.rollout.prepare_timeout`) defaults to this plus downloads.
      '';
    };

    switchTimeoutSec = mkOption {
      type = types.ints.positive;
      default = 900;
      description = ''
        How long a service waits for a switch or rollback: activation, the
        health wait ({option}`healthTimeoutSec` plus {option}`settleSec`) and
        making it the boot default.
      '';
    };
  };

  config = mkIf (rebuild.enable && units != [ ]) {
    assertions = [
      {
        assertion = !(lib.hasPrefix "${cfg.dataDir}/" (lib.removePrefix "path:" rebuild.flake));
        message = "services.peek.rebuild.flake must not be under services.peek.dataDir: the peek user could change what root builds.";
      }
      {
        assertion = rebuild.switchTimeoutSec > rebuild.healthTimeoutSec + rebuild.settleSec;
        message = "services.peek.rebuild.switchTimeoutSec must exceed healthTimeoutSec + settleSec: services would give up on a switch that is still waiting for their health.";
      }
      {
        assertion = (cfg.settings.rollout.prepare_timeout or prepareMargin) >= rebuild.buildTimeoutSec;
        message = "services.peek.settings.rollout.prepare_timeout must be at least services.peek.rebuild.buildTimeoutSec: the rollout would be aborted while the system still builds.";
      }
    ];

    # Peek's configuration selects the NixOS backend with the paths and
    # timeouts of this oneshot (read once by peek.config, see [rollout.nixos]).
    services.peek.settings.rollout = {
      backend = "nixos";
      nixos = {
        flake_dir = flakeDir;
        request_dir = requestDir;
        state_dir = stateDir;
        build_timeout = rebuild.buildTimeoutSec;
        switch_timeout = rebuild.switchTimeoutSec;
      }
      # The generation this system is built from: what a restarted service runs.
      // lib.optionalAttrs (lockGeneration != null) {
        generation = lockGeneration;
      };
      prepare_timeout = lib.mkDefault (rebuild.buildTimeoutSec + prepareMargin);
      # The switch phase covers every host's activation and health wait.
      health_timeout = lib.mkDefault (rebuild.switchTimeoutSec + 60);
    };

    # Before the first rollout the default input is an empty lock: a manual
    # rebuild then builds the system without uploaded plugins, as it runs.
    # Never overwritten (the oneshot owns it from the first switch on).
    systemd.tmpfiles.rules = [
      "d ${stateDir} 0755 root root -"
      "d ${currentDir} 0755 root root -"
      ''f ${currentDir}/generation.lock.json 0644 root root - {"plugins":{}}''
    ];

    systemd.paths.peek-rebuild = {
      description = "Peek rollout: watch for rebuild requests";
      wantedBy = [ "peek.target" ];
      pathConfig = {
        # PathExists, not PathChanged: a request left while the oneshot
        # ran (or before boot) still starts it. The oneshot renames the
        # request away first, so it does not fire again for the same one.
        PathExists = "${requestDir}/request";
        Unit = "peek-rebuild.service";
      };
    };

    systemd.services.peek-rebuild = {
      description = "Peek rollout: rebuild and switch the system to a plugin generation";
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      # Switching restarts the Peek units and maybe this one's own definition:
      # never restart it in the middle of a switch.
      restartIfChanged = false;
      environment = {
        PEEK_REBUILD_REQUEST_DIR = requestDir;
        PEEK_REBUILD_FLAKE_DIR = flakeDir;
        PEEK_REBUILD_STATE_DIR = stateDir;
        PEEK_REBUILD_FLAKE = rebuild.flake;
        PEEK_REBUILD_CONFIGURATION = rebuild.configuration;
        PEEK_REBUILD_UNITS = lib.concatStringsSep " " units;
        PEEK_REBUILD_HEALTH_TIMEOUT = toString rebuild.healthTimeoutSec;
        PEEK_REBUILD_SETTLE = toString rebuild.settleSec;
        PEEK_REBUILD_NIX = "/run/current-system/sw/bin/nix";
      };
      script = builtins.readFile ./peek-rebuild.sh;
      serviceConfig = {
        Type = "oneshot";
        User = "root";
        StateDirectory = "peek-rebuild";
        StateDirectoryMode = "0755";
        # One build, or one activation with its health wait.
        TimeoutStartSec = "${toString oneshotTimeout}s";
      };
    };
  };
}
