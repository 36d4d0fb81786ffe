# services.peek.rebuild: plugin uploads become NixOS system generations.
#
# How a rollout reaches the system (peek.rollout.backends.nixos):
#
# 1. The server (as the peek user, no privileges) writes the generation
#    lock and its wheels to <dataDir>/system-flake/generations/<n>/
#    (generation.lock.json: plugins.<name> = { version, sha256, wheel }),
#    beside the running generation, by write-then-rename.
# 2. It asks for a switch by renaming <dataDir>/rebuild/request into place
#    (id=<32 hex>, action=switch|rollback, generation=<n>). peek-rebuild.path
#    sees it and starts peek-rebuild.service, the only root part. No Nix
#    command runs as the peek user, and the peek user gains nothing it could
#    not already do: the request names a number, never a path or a command.
# 3. The oneshot builds `rebuild.flake#nixosConfigurations.<configuration>`
#    with `--override-input peek-generation path:<dataDir>/system-flake/generations/<n>`,
#    runs `switch-to-configuration test`, waits until every Peek unit is
#    active (Type=notify: READY=1 after the plugins started) and stays so
#    for `settleSec`, then makes it the boot default (`nix-env --profile
#    /nix/var/nix/profiles/system --set`, `switch-to-configuration boot`).
#    On any failure it runs the previous system's `switch-to-configuration
#    test` and says why. It answers in /var/lib/peek-rebuild/results/<id>.json
#    and records the running generation in /var/lib/peek-rebuild/active.json
#    (root-owned: the peek user reads, never writes, what root reports).
#    A rollback to a generation that ran before reactivates the system
#    recorded for it (/var/lib/peek-rebuild/systems/<n>) without a rebuild.
#
# How the lock reaches evaluation, and why: as a PURE flake input. The
# system flake (`rebuild.flake`, root-owned, e.g. /etc/nixos) declares
#     inputs.peek-generation = { url = "path:/var/lib/peek/system-flake/generations/1"; flake = false; };
# and sets `services.peek.generationLock = "${peek-generation}/generation.lock.json";`.
# The oneshot overrides that input per rebuild. A `path:` input is copied
# into the Nix store and pinned by its hash, and each wheel is then taken
# by the sha256 the lock names (a mismatch fails evaluation), so the built
# system records exactly which lock and wheels it came from and evaluation
# needs no --impure. An impure path (builtins.getEnv, a fixed /var/lib
# path read with --impure) was rejected: the result would depend on
# whatever the file held at evaluation time, and a later rebuild of the
# same flake could silently pick up another plugin set. The flake itself
# stays out of the peek user's reach: only the generation directory comes
# from the data directory.
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
        input `peek-generation` and pass
        `"''${peek-generation}/generation.lock.json"` to
        {option}`services.peek.generationLock`.
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
  };

  config = mkIf (rebuild.enable && units != [ ]) {
    assertions = [
      {
        assertion = !(lib.hasPrefix "${cfg.dataDir}/" (lib.removePrefix "path:" rebuild.flake));
        message = "services.peek.rebuild.flake must not be under services.peek.dataDir: the peek user could change what root builds.";
      }
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
        PEEK_REBUILD_FLAKE_DIR = "${cfg.dataDir}/system-flake";
        PEEK_REBUILD_STATE_DIR = "/var/lib/peek-rebuild";
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
        # Build, activation and the health wait.
        TimeoutStartSec = "3600s";
      };
    };
  };
}
