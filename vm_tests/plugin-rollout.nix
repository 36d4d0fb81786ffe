# NixOS VM test (2): a plugin upload on the admin API becomes a new NixOS
# system generation on every host, and a plugin that fails to start rolls
# every host back. Run: nix build .#checks.x86_64-linux.plugin-rollout (needs
# KVM; the same protocol runs without VMs in tests/rollout/).
#
# Three hosts on one VLAN (server, client, agent), each with
# services.peek.rebuild: the server takes the upload and coordinates, every
# host's peek-rebuild.service builds its own system from the system flake
# below with the generation lock its Peek service wrote, switches, and
# answers (modules/rebuild.nix describes the protocol).
#
# The system flake each host rebuilds from reproduces that host exactly: it
# imports this very file from the Peek source and takes the host's node
# (`passthru.nodes` of the test) with one module more, the generation lock
# (`extraNodeModule`). The VMs have no network, so everything a rebuild
# needs is in their store beforehand: the whole build closure of each
# system (system.includeBuildDependencies, as nixpkgs' own nixos-rebuild
# tests do) and the inputs of a wheel-built plugin package. Nothing is
# substituted and nothing is downloaded.
{
  pkgs,
  # The Peek source tree (the flake's `self`) and nixpkgs' (the flake input):
  # both become inputs of the in-VM system flake, by store path.
  peekSource,
  nixpkgsSource,
  # Added to every node; the in-VM system flake passes the generation lock here.
  extraNodeModule ? { },
}:
let
  inherit (pkgs) lib;
  system = pkgs.stdenv.hostPlatform.system;
  wheels = import ./rollout-plugin.nix { inherit pkgs; };
  good = wheels.build { version = "0.2.0"; };
  broken = wheels.build {
    version = "0.3.0";
    broken = true;
  };
  peekModule = {
    imports = [
      "${peekSource}/modules/overlay.nix"
      "${peekSource}/modules"
    ];
  };

  # Root-owned (a store path), outside the peek user's reach, as
  # services.peek.rebuild.flake requires. peek-rebuild.sh overrides
  # `peek-generation` with its copy of the generation it builds; by default
  # it is the generation the host runs (modules/rebuild.nix), which is what
  # a manual rebuild builds.
  systemFlake = pkgs.writeTextDir "flake.nix" ''
    {
      description = "System flake of Peek's rollout VM test: each host with a plugin generation";
      inputs = {
        nixpkgs = { url = "path:${nixpkgsSource}"; flake = false; };
        peek = { url = "path:${peekSource}"; flake = false; };
        peek-generation = { url = "path:/var/lib/peek-rebuild/current"; flake = false; };
      };
      outputs = { nixpkgs, peek, peek-generation, ... }:
        let
          pkgs = import nixpkgs {
            system = "${system}";
            overlays = [ (import "''${peek}/nix/overlay.nix") ];
          };
          test = import "''${peek}/vm_tests/plugin-rollout.nix" {
            inherit pkgs;
            peekSource = peek;
            nixpkgsSource = nixpkgs;
            extraNodeModule = {
              services.peek.generationLock = "''${peek-generation}/generation.lock.json";
            };
          };
        in
        {
          # peek-rebuild.sh builds nixosConfigurations.<host>.config.system.build.toplevel.
          nixosConfigurations = builtins.mapAttrs (name: node: { config = node; }) test.nodes;
        };
    }
  '';

  hosts = {
    server = {
      services.peek.server = {
        enable = true;
        listenAddress = "0.0.0.0";
        # The exchange port only; the admin site stays on this host.
        openFirewall = true;
      };
      services.peek.database.createLocally = true;
    };
    client.services.peek.client = {
      enable = true;
      serverUrl = "http://server:8011";
      tokenFile = "/etc/peek/client.token";
    };
    agent.services.peek.agent = {
      enable = true;
      serverUrl = "http://server:8011";
      tokenFile = "/etc/peek/agent.token";
    };
  };

  node =
    name: host:
    { ... }:
    {
      imports = [
        peekModule
        host
        extraNodeModule
      ];
      services.peek.rebuild = {
        enable = true;
        flake = "path:${systemFlake}";
        # Evaluating and building a system in a small VM takes minutes.
        buildTimeoutSec = 1500;
        switchTimeoutSec = 600;
        healthTimeoutSec = 240;
        settleSec = 5;
      };
      nix.settings = {
        experimental-features = [
          "nix-command"
          "flakes"
        ];
        substituters = lib.mkForce [ ];
        hashed-mirrors = null;
        connect-timeout = 1;
      };
      system.includeBuildDependencies = true;
      # What services.peek.generationLock's wheel packages are built with.
      system.extraDependencies = map (dist: (wheels.asLockPlugin dist).inputDerivation) [
        good
        broken
      ];
      virtualisation = {
        cores = 2;
        memorySize = 3072;
        diskSize = 8192;
        # New builds land on disk, not in a RAM-backed overlay.
        writableStoreUseTmpfs = false;
      };
      environment.systemPackages = [ pkgs.curl ];
    };
in
pkgs.testers.runNixOSTest {
  name = "peek-plugin-rollout";
  # The Peek modules add Peek's overlay to each node's nixpkgs.
  node.pkgsReadOnly = false;
  nodes = lib.mapAttrs node hosts;

  testScript =
    builtins.readFile ./admin_api.py
    + ''
    import shlex
    PASSWORD = "rollout-vm-test-admin"
    GOOD_WHEELS = "${good}"
    BROKEN_WHEELS = "${broken}"
    GOOD_REASON = "vm test: vmcheck 0.2.0"
    BROKEN_REASON = "vm test: vmcheck 0.3.0, broken on purpose"
    HOSTS = {"server": server, "client": client, "agent": agent}
    KINDS = sorted(HOSTS)
    admin = AdminApi(server, PASSWORD)
    log_in, answer, api = admin.log_in, admin.answer, admin.api


    def upload(wheels, reason):
        wheel = server.succeed(f"ls {wheels}/*.whl").strip()
        return api(
            "POST", "/api/plugins", f"-F file=@{wheel}", "-F " + shlex.quote(f"reason={reason}")
        )


    def generation(number):
        history = api("GET", "/api/generations")["generations"]
        return next(g for g in history if g["number"] == number)


    def finished(number):
        # Polled through the rollout, while the server itself restarts.
        history = answer("GET", "/api/generations")
        if history is None:
            return False
        record = next(g for g in history["generations"] if g["number"] == number)
        return record["state"] in ("active", "failed")


    def services():
        return api("GET", "/api/status")["services"]


    def all_on(number):
        status = answer("GET", "/api/status")
        if status is None:
            return False
        running = [
            s for s in status["services"] if s["state"] == "running" and s["generation"] == number
        ]
        return sorted(s["kind"] for s in running) == KINDS


    def vmcheck(service):
        return next((p for p in service["plugins"] if p["name"] == "peek_plugin_vmcheck"), None)


    def running_system(machine):
        return machine.succeed("readlink -f /run/current-system").strip()


    def boot_default(machine):
        return machine.succeed("readlink -f /nix/var/nix/profiles/system").strip()


    def manual_rebuild(name, machine):
        # What `nixos-rebuild switch --flake <flake>#<host> --no-write-lock-file`
        # builds: the host's system flake (as its oneshot is configured) with
        # the flake's default peek-generation input.
        environment = machine.succeed("systemctl show -P Environment peek-rebuild.service").split()
        flake = next(v for v in environment if v.startswith("PEEK_REBUILD_FLAKE="))
        flake = flake.removeprefix("PEEK_REBUILD_FLAKE=")
        return machine.succeed(
            "nix build --no-link --print-out-paths --no-write-lock-file "
            f"'{flake}#nixosConfigurations.\"{name}\".config.system.build.toplevel'"
        ).strip()


    def recorded_generation(machine):
        # Written by root's oneshot only (modules/rebuild.nix).
        return json.loads(machine.succeed("cat /var/lib/peek-rebuild/active.json"))["generation"]


    start_all()

    with subtest("the server starts, then client and agent with tokens made on the server"):
        server.wait_for_unit("postgresql.service")
        server.wait_for_unit("peek-server.service")
        server.wait_for_open_port(8010)
        server.wait_for_open_port(8011)
        for kind in ("client", "agent"):
            token = server.succeed(
                "runuser -u peek -- /run/current-system/sw/bin/peek token create "
                f"--service {kind} --name {kind}"
            ).strip()
            machine = HOSTS[kind]
            machine.succeed(f"install -D -m 0600 /dev/stdin /etc/peek/{kind}.token <<< '{token}'")
            machine.systemctl(f"restart peek-{kind}.service")
            machine.wait_for_unit(f"peek-{kind}.service")
        for machine in HOSTS.values():
            machine.wait_for_unit("peek-rebuild.path")

    with subtest("the admin logs in to the admin API; without the session it refuses"):
        server.succeed(
            "runuser -u peek -- /run/current-system/sw/bin/peek admin set-password --stdin "
            f"<<< '{PASSWORD}'"
        )
        log_in()
        server.fail(f"curl -sS --fail {ADMIN}/api/generations")

    with subtest("every service runs the initial generation"):
        initial = api("GET", "/api/plugins")["generation"]
        wait_until("every service on the initial generation", lambda: all_on(initial), 300)
        initial_systems = {name: running_system(m) for name, m in HOSTS.items()}

    with subtest("an uploaded plugin becomes a new system generation on every host"):
        accepted = upload(GOOD_WHEELS, GOOD_REASON)
        assert accepted["plugin"]["name"] == "peek_plugin_vmcheck", accepted
        assert accepted["plugin"]["version"] == "0.2.0", accepted
        good = accepted["generation"]
        wait_until(f"generation {good} finished", lambda: finished(good), 3600)
        record = generation(good)
        assert record["state"] == "active" and record["active"], record
        assert record["reason"] == GOOD_REASON, record

    with subtest("every host runs the new system, which is also its boot default"):
        wait_until(f"every service on generation {good}", lambda: all_on(good), 300)
        for name, machine in HOSTS.items():
            assert recorded_generation(machine) == good, name
            now = running_system(machine)
            assert now != initial_systems[name], f"{name} still runs {now}"
            assert boot_default(machine) == now, name
            machine.succeed(f"systemctl is-active peek-{name}.service")
        for service in services():
            plugin = vmcheck(service)
            assert plugin is not None, service
            assert (plugin["version"], plugin["state"]) == ("0.2.0", "started"), service
        state = api("GET", "/plugins/vmcheck/state")
        assert state == {"version": "0.2.0", "started": True}, state
        good_systems = {name: running_system(m) for name, m in HOSTS.items()}

    with subtest("a manual rebuild of each host builds the system it runs, uploaded plugin included"):
        for name, machine in HOSTS.items():
            assert manual_rebuild(name, machine) == good_systems[name], name

    with subtest("a plugin that raises on start fails, with its reason in the history"):
        accepted = upload(BROKEN_WHEELS, BROKEN_REASON)
        bad = accepted["generation"]
        assert bad > good
        wait_until(f"generation {bad} finished", lambda: finished(bad), 3600)
        record = generation(bad)
        assert record["state"] == "failed" and not record["active"], record
        assert record["reason"] == BROKEN_REASON, record
        assert any("refuses to start" in p for p in record["problems"]), record["problems"]
        assert api("GET", "/api/plugins")["generation"] == good

    with subtest("every host is back on the previous system, still its boot default"):
        wait_until(f"every service back on generation {good}", lambda: all_on(good), 600)
        for name, machine in HOSTS.items():
            wait_until(
                f"{name}'s oneshot recorded generation {good}",
                lambda: recorded_generation(machine) == good,
                300,
            )
            assert running_system(machine) == good_systems[name], name
            assert boot_default(machine) == good_systems[name], name
            machine.succeed(f"systemctl is-active peek-{name}.service")
        for service in services():
            plugin = vmcheck(service)
            assert plugin is not None and plugin["version"] == "0.2.0", service
            assert plugin["state"] == "started", service

    with subtest("after the rollback a manual rebuild still builds the good system"):
        for name, machine in HOSTS.items():
            assert manual_rebuild(name, machine) == good_systems[name], name

    with subtest("the history keeps the good generation active and the broken one failed"):
        states = {g["number"]: g["state"] for g in api("GET", "/api/generations")["generations"]}
        assert states[good] == "active" and states[bad] == "failed", states

    with subtest("every host still watches for the next rebuild request"):
        for machine in HOSTS.values():
            machine.succeed("systemctl is-active peek-rebuild.path")
  '';
}
