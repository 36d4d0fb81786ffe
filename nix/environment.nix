# One Python environment holding a Peek platform and a plugin set.
#
#   mkPeekEnvironment { python3 = pkgs.python3; } (ps: [ ps.peek-plugin-noop ])
#   import ./environment.nix { python3 = peek.pythonModule; platform = peek; } [ plugin ... ]
#
# `platform` (default: the package set's peek-platform) is the platform the
# environment runs; every plugin is rebased onto it (nix/rebase.nix), so a
# different platform package gives a different closure, plugins included.
# The plugin list is de-duplicated by its normalised name (peek_plugin_x and
# peek-plugin-x are one project; the first wins) and sorted by name before
# it is used, so the same set always gives the same derivation (and
# closure), whatever order it was written in, and two different sets give
# two closures.
{
  python3,
  platform ? python3.pkgs.peek-platform,
}:
plugins:
let
  inherit (python3.pkgs) lib;
  rebase = import ./rebase.nix { inherit lib; } platform;
  chosen = map rebase (if builtins.isFunction plugins then plugins python3.pkgs else plugins);
  normalise = name: lib.toLower (lib.replaceStrings [ "_" "." ] [ "-" "-" ] name);
  byName = lib.listToAttrs (map (p: lib.nameValuePair (normalise p.pname) p) chosen);
  sorted = map (name: byName.${name}) (lib.sort (a: b: a < b) (lib.attrNames byName));
in
python3.withPackages (_: [ platform ] ++ sorted)
// {
  peekPlugins = map (p: p.pname) sorted;
}
