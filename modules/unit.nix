# One Peek service as a hardened Type=notify unit in peek.target. Imported
# by each service module with its kind and what differs.
{ lib, cfg }:
kind:
{
  description,
  after ? [ ],
  requires ? [ ],
  environment ? { },
  serviceConfig ? { },
}:
{
  inherit description;
  wantedBy = [ "peek.target" ];
  partOf = [ "peek.target" ];
  wants = [ "network-online.target" ];
  after = [ "network-online.target" ] ++ after;
  inherit requires;
  # Peek has no reload: a new configuration or environment restarts it.
  restartTriggers = [
    cfg.configFile
    cfg.environment
  ];
  environment = {
    PEEK__DATA_DIR = cfg.dataDir;
    PYTHONUNBUFFERED = "1";
  }
  // environment;
  serviceConfig =
    (import ./hardening.nix)
    // {
      # Peek sends READY=1 once its plugins have started, and feeds the
      # watchdog from its event loop (peek/services/systemd.py).
      Type = "notify";
      NotifyAccess = "main";
      WatchdogSec = "${toString cfg.watchdogSec}s";
      # Many plugins, each allowed plugins.hook_timeout to start.
      TimeoutStartSec = "300s";
      ExecStart = "${cfg.environment}/bin/peek --config ${cfg.configFile} ${kind}";
      Restart = "on-failure";
      RestartSec = "5s";
      User = cfg.user;
      Group = cfg.group;
      StateDirectory = lib.removePrefix "/var/lib/" cfg.dataDir;
      StateDirectoryMode = "0700";
    }
    // lib.optionalAttrs (cfg.environmentFile != null) { EnvironmentFile = cfg.environmentFile; }
    // serviceConfig;
}
