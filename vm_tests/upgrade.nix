# NixOS VM test (3): upgrading the Peek platform package by switching the
# system keeps the data and the plugins. Run:
# nix build .#checks.x86_64-linux.platform-upgrade (needs KVM).
#
# One all-in-one appliance (nix/appliance.nix: server, client, agent,
# worker, local PostgreSQL, RabbitMQ and Redis). Before the upgrade the test
# writes data through plugins (a user through the user plugin, pings the
# noop plugin stores in its own table) and uploads a plugin through the admin
# API; then it switches to the specialisation `upgraded`, whose system is the
# same configuration with services.peek.package set to a later Peek (the
# same sources as version <version>.post1), as a sysadmin upgrades: the
# modules rebuild the plugins against that package (nix/rebase.nix). The
# switch is the one `nixos-rebuild switch` makes. After it the new Peek
# runs everywhere, and the data, the uploaded plugin and the plugin
# generation are the ones from before.
#
# Uploads here go through the plain backend (rebuild is off on this node):
# the NixOS backend's own rollout is vm_tests/plugin-rollout.nix.
{ pkgs, peekModule }:
let
  wheels = import ./rollout-plugin.nix { inherit pkgs; };
  vmcheck = wheels.build { version = "0.2.0"; };

  # The upgrade: a later Peek as services.peek.package, nothing else.
  upgraded =
    peek:
    peek.overrideAttrs (old: {
      version = "${old.version}.post1";
      postPatch = (old.postPatch or "") + ''
        substituteInPlace pyproject.toml \
          --replace-fail 'version = "${old.version}"' 'version = "${old.version}.post1"'
      '';
    });
in
pkgs.testers.runNixOSTest {
  name = "peek-platform-upgrade";
  # The Peek modules set the nodes' nixpkgs overlays.
  node.pkgsReadOnly = false;

  nodes.appliance =
    { pkgs, ... }:
    {
      imports = [
        peekModule
        ../nix/appliance.nix
      ];
      virtualisation = {
        cores = 2;
        memorySize = 3072;
      };
      environment.systemPackages = [ pkgs.curl ];

      specialisation.upgraded.configuration =
        { pkgs, ... }:
        {
          services.peek.package = upgraded pkgs.peek;
        };
    };

  testScript =
    builtins.readFile ./admin_api.py
    + ''
    import shlex
    PASSWORD = "upgrade-vm-test-admin"
    KINDS = ["agent", "client", "server", "worker"]
    VMCHECK_WHEELS = "${vmcheck}"
    admin = AdminApi(appliance, PASSWORD)
    log_in, answer, api = admin.log_in, admin.answer, admin.api


    def running(status):
        return sorted(s["kind"] for s in status["services"] if s["state"] == "running")


    def all_running():
        status = answer("GET", "/api/status")
        return status is not None and running(status) == KINDS


    def plugin_set():
        plugins = api("GET", "/api/plugins")
        listed = sorted((p["name"], p["version"], p["source"]) for p in plugins["plugins"])
        return plugins["generation"], listed


    def server_version():
        status = api("GET", "/api/status")
        return next(s["version"] for s in status["services"] if s["kind"] == "server")


    appliance.start()

    with subtest("the appliance starts every service with tokens it made itself"):
        appliance.wait_for_unit("peek-appliance-tokens.service")
        for kind in KINDS:
            appliance.wait_for_unit(f"peek-{kind}.service")
        appliance.wait_for_open_port(8010)
        appliance.succeed(
            "runuser -u peek -- /run/current-system/sw/bin/peek admin set-password --stdin "
            f"<<< '{PASSWORD}'"
        )
        log_in()
        wait_until("every service running", all_running, 300)

    with subtest("data and an uploaded plugin before the upgrade"):
        user = json.dumps({"username": "alice", "password": "alice-password-1", "display_name": "Alice"})
        api("POST", "/plugins/user/users", "-H 'Content-Type: application/json'", f"-d '{user}'")
        for _ in range(3):
            api("GET", "/plugins/noop/ping")
        pings = api("GET", "/plugins/noop/pings")["pings"]
        assert pings >= 3, pings
        wheel = appliance.succeed(f"ls {VMCHECK_WHEELS}/*.whl").strip()
        accepted = api(
            "POST", "/api/plugins", f"-F file=@{wheel}", "-F " + shlex.quote("reason=before the upgrade")
        )
        number = accepted["generation"]

        def finished():
            history = answer("GET", "/api/generations")
            if history is None:
                return False
            record = next(g for g in history["generations"] if g["number"] == number)
            return record["state"] in ("active", "failed")

        wait_until(f"generation {number} finished", finished, 600)
        generation_before, plugins_before = plugin_set()
        # Active: the plugin set now is the uploaded generation's.
        assert generation_before == number, (generation_before, number)
        assert ("peek_plugin_vmcheck", "0.2.0", "upload") in plugins_before, plugins_before
        version_before = server_version()
        users_before = api("GET", "/plugins/user/users")["users"]

    with subtest("the upgraded platform is switched to like nixos-rebuild switch does"):
        appliance.succeed("/run/current-system/specialisation/upgraded/bin/switch-to-configuration switch")
        for kind in KINDS:
            appliance.wait_for_unit(f"peek-{kind}.service")
        appliance.wait_for_open_port(8010)
        # A fresh login: the server restarted, and a session need not outlive it.
        log_in()
        wait_until("every service running again", all_running, 300)
        versions = {s["kind"]: s["version"] for s in api("GET", "/api/status")["services"]}
        assert versions == {kind: f"{version_before}.post1" for kind in KINDS}, versions

    with subtest("the data written before the upgrade is there"):
        assert api("GET", "/plugins/user/users")["users"] == users_before
        assert any(u["username"] == "alice" for u in users_before), users_before
        assert api("GET", "/plugins/noop/pings")["pings"] == pings

    with subtest("the plugin set and its generation are the ones from before"):
        assert plugin_set() == (generation_before, plugins_before)
        status = api("GET", "/api/status")
        for service in status["services"]:
            assert service["generation"] == generation_before, service
            if service["kind"] == "worker":
                continue  # vmcheck has no worker hook
            vmcheck = [p for p in service["plugins"] if p["name"] == "peek_plugin_vmcheck"]
            assert [(p["version"], p["state"]) for p in vmcheck] == [("0.2.0", "started")], service

    with subtest("the worker still answers tasks through the local broker"):
        echoed = api("GET", "/plugins/noop/echo?value=after-upgrade")
        assert "after-upgrade" in json.dumps(echoed), echoed
  '';
}
