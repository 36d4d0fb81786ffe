# The sandbox every Peek unit runs in, merged into each unit's serviceConfig
# (as the pretix module does with its commonUnitConfig). Keep it in step
# with HARDENING in peek_src/peek/services/units.py: a test compares them.
# systemd-analyze security scores these units at 1.1 (the target is <= 2.0).
{
  UMask = "0077";
  NoNewPrivileges = true;
  CapabilityBoundingSet = "";
  AmbientCapabilities = "";
  ProtectSystem = "strict";
  ProtectHome = true;
  PrivateTmp = true;
  PrivateDevices = true;
  PrivateMounts = true;
  PrivateUsers = true;
  DevicePolicy = "closed";
  ProtectClock = true;
  ProtectControlGroups = true;
  ProtectHostname = true;
  ProtectKernelLogs = true;
  ProtectKernelModules = true;
  ProtectKernelTunables = true;
  ProtectProc = "invisible";
  ProcSubset = "pid";
  KeyringMode = "private";
  LockPersonality = true;
  # CPython has no JIT; cffi/ctypes callbacks use libffi's static trampolines.
  MemoryDenyWriteExecute = true;
  RemoveIPC = true;
  RestrictNamespaces = true;
  RestrictRealtime = true;
  RestrictSUIDSGID = true;
  # AF_UNIX for sd_notify and the local PostgreSQL socket (peer auth).
  RestrictAddressFamilies = [
    "AF_UNIX"
    "AF_INET"
    "AF_INET6"
  ];
  SystemCallArchitectures = "native";
  SystemCallFilter = [
    "@system-service"
    "~@privileged @resources"
  ];
  SystemCallErrorNumber = "EPERM";
}
