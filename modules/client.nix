# services.peek.client: the user site browsers use, fed by the server.
{
  config,
  lib,
  ...
}:
let
  inherit (lib) mkOption mkEnableOption mkIf types optional literalExpression;
  cfg = config.services.peek;
  client = cfg.client;
  upstream = import ./upstream.nix { inherit lib config; } "client";
  mkUnit = import ./unit.nix { inherit lib cfg; };
in
{
  imports = [ ./common.nix ];

  options.services.peek.client = upstream.options // {
    enable = mkEnableOption "a Peek client (the user site for browsers)";

    listenAddress = mkOption {
      type = types.str;
      default = if client.openFirewall then "0.0.0.0" else "127.0.0.1";
      defaultText = literalExpression ''if openFirewall then "0.0.0.0" else "127.0.0.1"'';
      description = "Address the user site listens on.";
    };

    port = mkOption {
      type = types.port;
      default = 8000;
      description = "Port of the user site.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the user site's port to browsers.";
    };
  };

  config = mkIf client.enable {
    assertions = upstream.assertions;

    services.peek.settings.client = {
      host = client.listenAddress;
      inherit (client) port;
      server_url = upstream.serverUrl;
    };

    systemd.services.peek-client = mkUnit "client" (
      upstream.unit
      // {
        description = "Peek client (user site for browsers)";
      }
    );

    networking.firewall.allowedTCPPorts = optional client.openFirewall client.port;
  };
}
