# What a client, agent and worker module share: the server they dial and the
# token they present, handed to the unit through LoadCredential= so the
# service never reads a file outside its sandbox.
{ lib, config }:
kind:
let
  inherit (lib) mkOption types;
  cfg = config.services.peek;
  this = cfg.${kind};
  # On the server's own host the local exchange site is the default upstream.
  localServer = "http://127.0.0.1:${toString cfg.server.exchangePort}";
in
rec {
  options = {
    serverUrl = mkOption {
      type = types.nullOr (types.strMatching "https?://.+");
      default = null;
      example = "http://peek-server.example:8011";
      description = ''
        The server's data-exchange site. May be left unset only on the
        server's own host, where it defaults to the local exchange site
        (`http://127.0.0.1:<exchangePort>`).
      '';
    };

    tokenFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/etc/peek/${kind}.token";
      description = ''
        Root-only file holding this ${kind}'s token (made on the server with
        `peek token create --service ${kind}`). systemd hands the service a
        private copy (LoadCredential=); it is never copied to the Nix store.
      '';
    };
  };

  serverUrl =
    if this.serverUrl != null then
      this.serverUrl
    else if cfg.server.enable then
      localServer
    else
      null;

  assertions = [
    {
      assertion = serverUrl != null;
      message = "services.peek.${kind}.serverUrl must be set to the Peek server's data-exchange URL (e.g. http://peek-server:8011), since no server runs on this host.";
    }
    {
      assertion = this.tokenFile != null;
      message = "services.peek.${kind}.tokenFile must name a root-only file holding the ${kind}'s token: create one on the server with `peek token create --service ${kind}`.";
    }
  ];

  unit = {
    after = lib.optional cfg.server.enable "peek-server.service";
    environment."PEEK__${lib.toUpper kind}__TOKEN_FILE" = "%d/token";
    serviceConfig.LoadCredential = "token:${toString this.tokenFile}";
  };
}
