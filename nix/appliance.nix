# The all-in-one Peek appliance as a NixOS module: server, client, agent and
# worker on one host, with PostgreSQL, RabbitMQ and Redis made locally, the
# first-party plugins, and the local services' tokens made on first boot.
# Needs Peek's NixOS modules (the flake's nixosModules.default). Used by the
# appliance image (nix/appliance-system.nix) and the upgrade VM test
# (vm_tests/upgrade.nix).
#
# Browsers reach the user site (port 8000, opened). The admin site (8010)
# and the exchange site (8011) listen on every address but the firewall
# keeps them to this host; open the admin site to the admins' network with
# `services.peek.server.adminInterfaces = [ "<interface>" ];`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.peek;
  tokenDir = "/var/lib/peek-appliance";
  upstream = [
    "client"
    "agent"
    "worker"
  ];
  units = map (kind: "peek-${kind}.service") upstream;
in
{
  services.peek = {
    server = {
      enable = true;
      listenAddress = "0.0.0.0";
    };
    client = {
      enable = true;
      tokenFile = "${tokenDir}/client.token";
      openFirewall = true;
    };
    agent = {
      enable = true;
      tokenFile = "${tokenDir}/agent.token";
    };
    worker = {
      enable = true;
      tokenFile = "${tokenDir}/worker.token";
    };
    database.createLocally = true;
    broker.createLocally = true;
    resultBackend.createLocally = true;
    plugins = lib.attrValues (
      lib.filterAttrs (name: _: lib.hasPrefix "peek-plugin-" name) pkgs.python3Packages
    );
  };

  # The client, agent and worker present tokens made on the server; on an
  # appliance nobody is there to make them, so this does it once, before
  # they start, as `peek token create` run by the Peek user (the database
  # role authenticates by peer). Tokens stay in a root-only directory;
  # each unit gets its own through LoadCredential=.
  systemd.services.peek-appliance-tokens = {
    description = "Peek appliance: tokens for the local client, agent and worker";
    after = [ "peek-server.service" ];
    wants = [ "peek-server.service" ];
    before = units;
    wantedBy = units;
    path = [ pkgs.util-linux ];
    script = ''
      for kind in ${lib.concatStringsSep " " upstream}; do
        file=${tokenDir}/$kind.token
        [[ -s $file ]] && continue
        token=$(runuser -u ${cfg.user} -- env PEEK_CONFIG=${cfg.configFile} \
          PEEK__DATA_DIR=${cfg.dataDir} ${cfg.environment}/bin/peek token create \
          --service "$kind" --name "appliance-$kind")
        install -m 0600 /dev/stdin "$file" <<<"$token"
      done
    '';
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      StateDirectory = "peek-appliance";
      StateDirectoryMode = "0700";
    };
  };

  networking.hostName = lib.mkDefault "peek-appliance";
  # Administration over SSH with keys only; add keys with
  # users.users.root.openssh.authorizedKeys.keys.
  services.openssh = {
    enable = true;
    settings.PasswordAuthentication = false;
  };
  system.stateVersion = "25.05";
}
