# The NixOS options Peek's modules set, declared as NixOS declares them (same
# names and types; an unknown sub-option is an error, conflicting values are
# an error), plus the checks NixOS makes on them elsewhere (users need a
# declared group, ensureDBOwnership needs a database of the same name).
# Only what Peek uses is here; anything else a module sets fails evaluation.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  listOfStr = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  atom = types.oneOf [
    types.bool
    types.int
    types.str
    types.path
  ];
  # systemd's unit options: a value or a list of values (repeated lines).
  unitOption = types.either atom (types.listOf atom);
  unitOptions = mkOption {
    type = types.attrsOf unitOption;
    default = { };
  };
  ports = mkOption {
    type = types.listOf types.port;
    default = [ ];
  };
  unitCommon = {
    description = mkOption {
      type = types.str;
      default = "";
    };
    enable = mkOption {
      type = types.bool;
      default = true;
    };
    wantedBy = listOfStr;
    requiredBy = listOfStr;
    partOf = listOfStr;
    after = listOfStr;
    before = listOfStr;
    wants = listOfStr;
    requires = listOfStr;
    bindsTo = listOfStr;
    unitConfig = unitOptions;
  };
  service = types.submodule {
    options = unitCommon // {
      environment = mkOption {
        type = types.attrsOf (
          types.nullOr (
            types.oneOf [
              types.str
              types.path
              types.package
            ]
          )
        );
        default = { };
      };
      path = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
      };
      serviceConfig = unitOptions;
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      reloadTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
      startAt = mkOption {
        type = types.either types.str (types.listOf types.str);
        default = [ ];
      };
    };
  };
  user = types.submodule {
    options = {
      isSystemUser = mkOption {
        type = types.bool;
        default = false;
      };
      isNormalUser = mkOption {
        type = types.bool;
        default = false;
      };
      group = mkOption {
        type = types.str;
        default = "";
      };
      home = mkOption {
        type = types.path;
        default = "/var/empty";
      };
      createHome = mkOption {
        type = types.bool;
        default = false;
      };
      description = mkOption {
        type = types.str;
        default = "";
      };
      extraGroups = listOfStr;
      uid = mkOption {
        type = types.nullOr types.int;
        default = null;
      };
    };
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            assertion = mkOption { type = types.bool; };
            message = mkOption { type = types.str; };
          };
        }
      );
      default = [ ];
    };
    warnings = listOfStr;

    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    networking.hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
    };
    networking.firewall = {
      enable = mkOption {
        type = types.bool;
        default = true;
      };
      allowPing = mkOption {
        type = types.bool;
        default = true;
      };
      rejectPackets = mkOption {
        type = types.bool;
        default = false;
      };
      allowedTCPPorts = ports;
      allowedUDPPorts = ports;
      interfaces = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              allowedTCPPorts = ports;
              allowedUDPPorts = ports;
            };
          }
        );
        default = { };
      };
    };

    users.users = mkOption {
      type = types.attrsOf user;
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.gid = mkOption {
            type = types.nullOr types.int;
            default = null;
          };
          options.members = listOfStr;
        }
      );
      default = { };
    };

    systemd.services = mkOption {
      type = types.attrsOf service;
      default = { };
    };
    systemd.tmpfiles.rules = listOfStr;
    systemd.targets = mkOption {
      type = types.attrsOf (types.submodule { options = unitCommon; });
      default = { };
    };
    systemd.paths = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = unitCommon // {
            pathConfig = unitOptions;
          };
        }
      );
      default = { };
    };

    services.postgresql = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      ensureDatabases = listOfStr;
      ensureUsers = mkOption {
        type = types.listOf (
          types.submodule {
            options = {
              name = mkOption { type = types.str; };
              ensureDBOwnership = mkOption {
                type = types.bool;
                default = false;
              };
            };
          }
        );
        default = [ ];
      };
    };
    services.rabbitmq = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      listenAddress = mkOption {
        type = types.str;
        default = "127.0.0.1";
      };
      port = mkOption {
        type = types.port;
        default = 5672;
      };
    };
    services.redis.servers = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            enable = mkOption {
              type = types.bool;
              default = false;
            };
            bind = mkOption {
              type = types.nullOr types.str;
              default = "127.0.0.1";
            };
            port = mkOption {
              type = types.port;
              default = 0;
            };
          };
        }
      );
      default = { };
    };
  };

  config.assertions =
    lib.mapAttrsToList (name: u: {
      assertion = u.isSystemUser != u.isNormalUser;
      message = "users.users.${name}: exactly one of isSystemUser and isNormalUser must be set.";
    }) config.users.users
    ++ lib.mapAttrsToList (name: u: {
      assertion = u.group != "" && config.users.groups ? ${u.group};
      message = "users.users.${name}.group '${u.group}' is not declared in users.groups.";
    }) config.users.users
    ++ map (u: {
      assertion = !u.ensureDBOwnership || lib.elem u.name config.services.postgresql.ensureDatabases;
      message = "services.postgresql.ensureUsers: ${u.name} has ensureDBOwnership but no database of that name.";
    }) config.services.postgresql.ensureUsers;
}
