# services.peek.agent: integrates outside systems; dials out, listens on nothing.
{
  config,
  lib,
  ...
}:
let
  inherit (lib) mkOption mkEnableOption mkIf types;
  cfg = config.services.peek;
  agent = cfg.agent;
  upstream = import ./upstream.nix { inherit lib config; } "agent";
  mkUnit = import ./unit.nix { inherit lib cfg; };
in
{
  imports = [ ./common.nix ];

  options.services.peek.agent = upstream.options // {
    enable = mkEnableOption "a Peek agent (dials out to the server, e.g. from a DMZ)";

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Accepted for symmetry with the other services, but the agent listens
        on nothing, so it opens no port.
      '';
    };
  };

  config = mkIf agent.enable {
    assertions = upstream.assertions;
    warnings = lib.optional agent.openFirewall "services.peek.agent.openFirewall has no effect: the agent listens on no port.";

    services.peek.settings.agent.server_url = upstream.serverUrl;

    systemd.services.peek-agent = mkUnit "agent" (
      upstream.unit
      // {
        description = "Peek agent (dials out to the server)";
        # It only dials out; a listening socket would be a bug or an intrusion.
        serviceConfig = upstream.unit.serviceConfig // {
          SocketBindDeny = "any";
        };
      }
    );
  };
}
