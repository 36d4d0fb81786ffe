# One Python environment holding the Peek platform and a plugin set.
#
#   mkPeekEnvironment { python3 = pkgs.python3; } (ps: [ ps.peek-plugin-noop ])
#
# The plugin list is de-duplicated and sorted by name before it is used, so
# the same set always gives the same derivation (and closure), whatever order
# it was written in, and two different sets give two closures.
{ python3 }:
plugins:
let
  inherit (python3.pkgs) lib;
  chosen = if builtins.isFunction plugins then plugins python3.pkgs else plugins;
  byName = lib.listToAttrs (map (p: lib.nameValuePair p.pname p) chosen);
  sorted = map (name: byName.${name}) (lib.sort (a: b: a < b) (lib.attrNames byName));
in
python3.withPackages (ps: [ ps.peek-platform ] ++ sorted)
// {
  peekPlugins = map (p: p.pname) sorted;
}
