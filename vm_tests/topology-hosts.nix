# Topology (1): the server in the core, a client in front, an agent in a DMZ,
# each segment its own VLAN (subnet 10.231.<vlan>.0/24, host number as the
# last octet). Shared by the NixOS VM test (vm_tests/topology.nix) and by
# tests/appliance/test_topology_netns.py, which evaluates these same host
# modules and turns their firewall into nftables rules in network namespaces.
#
# Interfaces are named as the NixOS test driver names them: eth<i> is the
# i-th VLAN in the host's `vlans` list.
{
  segments = {
    users = 1; # browsers and the client's user site
    dmz = 2; # the agent
    admin = 3; # administrators' workstations
    front = 4; # the client's link to the server
  };

  hosts = {
    server = {
      number = 1;
      vlans = [
        2
        3
        4
      ];
      module = {
        services.peek.server = {
          enable = true;
          listenAddress = "0.0.0.0";
          # eth1 = dmz, eth3 = front: where agents and clients dial from.
          exchangeInterfaces = [
            "eth1"
            "eth3"
          ];
          # eth2 = admin segment only.
          adminInterfaces = [ "eth2" ];
        };
        services.peek.database.createLocally = true;
        services.peek.broker.createLocally = true;
        services.peek.resultBackend.createLocally = true;
      };
    };

    client = {
      number = 2;
      vlans = [
        4
        1
      ];
      module = {
        services.peek.client = {
          enable = true;
          serverUrl = "http://10.231.4.1:8011";
          tokenFile = "/etc/peek/client.token";
          openFirewall = true;
        };
      };
    };

    agent = {
      number = 3;
      vlans = [ 2 ];
      module = {
        services.peek.agent = {
          enable = true;
          serverUrl = "http://10.231.2.1:8011";
          tokenFile = "/etc/peek/agent.token";
          # Listens on nothing: this must open no port.
          openFirewall = true;
        };
      };
    };

    admin = {
      number = 4;
      vlans = [ 3 ];
      module = { };
    };

    browser = {
      number = 5;
      vlans = [ 1 ];
      module = { };
    };
  };
}
