# services.peek.server: the admin site and the data-exchange site.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption mkEnableOption mkIf types optional genAttrs mkMerge literalExpression;
  cfg = config.services.peek;
  server = cfg.server;
  mkUnit = import ./unit.nix { inherit lib cfg; };
  opensAnything = server.openFirewall || server.exchangeInterfaces != [ ];
  localUnits =
    optional cfg.database.createLocally "postgresql.service"
    ++ optional cfg.broker.createLocally "rabbitmq.service"
    ++ optional cfg.resultBackend.createLocally "redis-peek.service";
in
{
  imports = [ ./common.nix ];

  options.services.peek.server = {
    enable = mkEnableOption "the Peek server (admin site and data exchange for clients, agents and workers)";

    listenAddress = mkOption {
      type = types.str;
      default = if opensAnything then "0.0.0.0" else "127.0.0.1";
      defaultText = literalExpression ''if openFirewall || exchangeInterfaces != [ ] then "0.0.0.0" else "127.0.0.1"'';
      description = "Address both sites listen on; the firewall decides who reaches which.";
    };

    adminPort = mkOption {
      type = types.port;
      default = 8010;
      description = "Port of the admin site.";
    };

    exchangePort = mkOption {
      type = types.port;
      default = 8011;
      description = "Port of the data-exchange site every client, agent and worker dials.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the exchange port on every interface. The admin port is never opened by this.";
    };

    exchangeInterfaces = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "eth1" ];
      description = "Open the exchange port on these interfaces only (the segments clients and agents live on).";
    };

    adminInterfaces = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "eth2" ];
      description = "Open the admin port on these interfaces only (the admins' segment).";
    };
  };

  config = mkIf server.enable {
    services.peek.settings.server = {
      host = server.listenAddress;
      admin_port = server.adminPort;
      exchange_port = server.exchangePort;
    };

    systemd.services.peek-server = mkUnit "server" {
      description = "Peek server (admin site, data exchange)";
      after = localUnits;
      requires = localUnits;
    };

    networking.firewall = {
      allowedTCPPorts = optional server.openFirewall server.exchangePort;
      interfaces = mkMerge [
        (genAttrs server.exchangeInterfaces (_: {
          allowedTCPPorts = [ server.exchangePort ];
        }))
        (genAttrs server.adminInterfaces (_: {
          allowedTCPPorts = [ server.adminPort ];
        }))
      ];
    };
  };
}
