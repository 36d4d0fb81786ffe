# NixOS VM test of topology (1) (vm_tests/topology-hosts.nix): server in the
# core, client in front, agent in a DMZ, admins on their own segment, each a
# VLAN, the NixOS firewall on every host. Run: nix build .#checks.x86_64-linux.topology
# (needs KVM; the same reachability table runs without VMs in
# tests/appliance/test_topology_netns.py).
{
  pkgs,
  peekModule,
}:
let
  inherit (pkgs) lib;
  topology = import ./topology-hosts.nix;
  address = host: vlan: "10.231.${toString vlan}.${toString host.number}";
  node =
    name: host:
    { ... }:
    {
      imports = [
        peekModule
        host.module
      ];
      virtualisation.vlans = host.vlans;
      networking.useDHCP = false;
      networking.nftables.enable = true;
      networking.firewall.enable = true;
      networking.interfaces = lib.listToAttrs (
        lib.imap1 (
          i: vlan:
          lib.nameValuePair "eth${toString i}" {
            ipv4.addresses = lib.mkForce [
              {
                address = address host vlan;
                prefixLength = 24;
              }
            ];
          }
        ) host.vlans
      );
      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
        pkgs.netcat-openbsd
      ];
    };
in
pkgs.testers.runNixOSTest {
  name = "peek-topology-dmz";
  # The Peek modules add Peek's overlay to each node's nixpkgs.
  node.pkgsReadOnly = false;
  nodes = lib.mapAttrs node topology.hosts;

  testScript = ''
    SERVER_DMZ = "10.231.2.1"
    SERVER_ADMIN = "10.231.3.1"
    SERVER_FRONT = "10.231.4.1"
    CLIENT_USERS = "10.231.1.2"
    AGENT_DMZ = "10.231.2.3"

    def unreachable(machine, host, port):
        machine.fail(f"nc -z -w 2 {host} {port}")

    start_all()

    with subtest("the server starts with its database, broker and result backend"):
        server.wait_for_unit("postgresql.service")
        server.wait_for_unit("rabbitmq.service")
        server.wait_for_unit("redis-peek.service")
        server.wait_for_unit("peek-server.service")
        server.wait_for_open_port(8011)

    with subtest("client and agent start with tokens made on the server"):
        for kind, machine in (("client", client), ("agent", agent)):
            token = server.succeed(
                f"runuser -u peek -- /run/current-system/sw/bin/peek token create --service {kind} --name {kind}"
            ).strip()
            machine.succeed(f"install -D -m 0600 /dev/stdin /etc/peek/{kind}.token <<< '{token}'")
            machine.systemctl(f"restart peek-{kind}.service")
            machine.wait_for_unit(f"peek-{kind}.service")

    with subtest("client and agent connect and run their plugins"):
        server.wait_until_succeeds(
            "peek status --json | jq -e '[.services[] | select(.state == \"running\") | .kind]"
            " | sort == [\"agent\", \"client\", \"server\"]'",
            timeout=120,
        )

    with subtest("browsers reach the client's user site"):
        browser.succeed(f"curl --fail --max-time 5 http://{CLIENT_USERS}:8000/healthz")

    with subtest("browsers reach nothing of the server"):
        for host in (SERVER_FRONT, SERVER_DMZ, SERVER_ADMIN):
            unreachable(browser, host, 8011)

    with subtest("the DMZ cannot reach the database, broker, result backend or admin site"):
        for port in (5432, 5672, 6379, 8010):
            unreachable(agent, SERVER_DMZ, port)
        agent.succeed(f"curl --fail --max-time 5 http://{SERVER_DMZ}:8011/healthz")

    with subtest("admins reach the admin site and nothing else"):
        admin.succeed(f"curl --fail --max-time 5 http://{SERVER_ADMIN}:8010/healthz")
        for port in (8011, 5432, 5672, 6379):
            unreachable(admin, SERVER_ADMIN, port)

    with subtest("the client's link side does not expose the admin site"):
        unreachable(client, SERVER_FRONT, 8010)

    with subtest("nothing reaches the agent"):
        for port in (22, 8000, 8010, 8011):
            unreachable(server, AGENT_DMZ, port)

    with subtest("units are hardened and the journals are clean"):
        for machine, unit in ((server, "peek-server"), (client, "peek-client"), (agent, "peek-agent")):
            machine.log(machine.succeed(f"systemd-analyze security {unit}.service | tail -1"))
            machine.succeed(f"systemd-analyze security --threshold=2.0 {unit}.service")
            machine.fail(f"journalctl -u {unit}.service | grep -q ' ERROR '")
  '';
}
