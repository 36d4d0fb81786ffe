# services.peek.worker: runs plugins' tasks from the broker.
{
  config,
  lib,
  ...
}:
let
  inherit (lib) mkOption mkEnableOption mkIf types optional;
  cfg = config.services.peek;
  worker = cfg.worker;
  upstream = import ./upstream.nix { inherit lib config; } "worker";
  mkUnit = import ./unit.nix { inherit lib cfg; };
  localUnits =
    optional cfg.database.createLocally "postgresql.service"
    ++ optional cfg.broker.createLocally "rabbitmq.service"
    ++ optional cfg.resultBackend.createLocally "redis-peek.service";
in
{
  imports = [ ./common.nix ];

  options.services.peek.worker = upstream.options // {
    enable = mkEnableOption "a Peek worker (plugin tasks)";

    concurrency = mkOption {
      type = types.ints.positive;
      default = 2;
      description = "Tasks run at once.";
    };
  };

  config = mkIf worker.enable {
    assertions = upstream.assertions;

    services.peek.settings.worker = {
      server_url = upstream.serverUrl;
      inherit (worker) concurrency;
    };

    systemd.services.peek-worker = mkUnit "worker" (
      upstream.unit
      // {
        description = "Peek worker (plugin tasks)";
        after = upstream.unit.after ++ localUnits;
        requires = localUnits;
        serviceConfig = upstream.unit.serviceConfig // {
          SocketBindDeny = "any";
        };
      }
    );
  };
}
