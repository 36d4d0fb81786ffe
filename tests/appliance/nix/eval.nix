# Evaluate Peek's NixOS modules with nixpkgs' module system, a stub pkgs and
# stub NixOS options; returns what the tests assert on (JSON-friendly).
#   nix-instantiate --eval --strict --json -E \
#     'import ./tests/appliance/nix/eval.nix { lib = import ../shared/nixpkgs-lib/lib; modules = [ { services.peek.server.enable = true; } ]; }'
{
  lib,
  modules,
}:
let
  pkgs = import ./pkgs.nix { inherit lib; };
  evaluated = lib.evalModules {
    modules = [
      ./nixos-options.nix
      ../../../modules
    ]
    ++ modules;
    specialArgs = {
      inherit pkgs;
      modulesPath = null;
    };
  };
  config = evaluated.config;
  peekUnits = lib.filterAttrs (name: _: lib.hasPrefix "peek" name);
in
{
  services = peekUnits config.systemd.services;
  targets = peekUnits config.systemd.targets;
  paths = peekUnits config.systemd.paths;
  tmpfiles = config.systemd.tmpfiles.rules;
  users = config.users.users;
  groups = lib.attrNames config.users.groups;
  firewall = config.networking.firewall;
  postgresql = config.services.postgresql;
  rabbitmq = config.services.rabbitmq;
  redis = config.services.redis.servers;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  inherit (config) warnings;
  settings = config.services.peek.settings;
  # Set only when a service is enabled.
  environmentPlugins =
    let
      tried = builtins.tryEval config.services.peek.environment.peekPlugins;
    in
    if tried.success then tried.value else null;
  environmentPath =
    let
      tried = builtins.tryEval config.services.peek.environment.outPath;
    in
    if tried.success then tried.value else null;
  # The environment's Python closure: { pname, version, path } of each package.
  environmentModules =
    let
      tried = builtins.tryEval config.services.peek.environment.modules;
    in
    if tried.success then tried.value else null;
  systemPackages = map (p: p.name) config.environment.systemPackages;
}
