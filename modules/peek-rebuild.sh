# peek-rebuild.service (root, Type=oneshot), started by peek-rebuild.path when
# the Peek service user leaves a request. See modules/rebuild.nix for the
# protocol and why it is safe to act on a request the service user wrote.
# Settings come from the unit's environment (PEEK_REBUILD_*).
set -euo pipefail
umask 022

request_dir=$PEEK_REBUILD_REQUEST_DIR
flake_dir=$PEEK_REBUILD_FLAKE_DIR
state=$PEEK_REBUILD_STATE_DIR
profile=${PEEK_REBUILD_PROFILE:-/nix/var/nix/profiles/system}
current_link=${PEEK_REBUILD_CURRENT_SYSTEM:-/run/current-system}
nix=${PEEK_REBUILD_NIX:-nix}
health_timeout=${PEEK_REBUILD_HEALTH_TIMEOUT:-300}
settle=${PEEK_REBUILD_SETTLE:-10}
read -r -a units <<<"${PEEK_REBUILD_UNITS:-}"

mkdir -p "$state/results" "$state/systems" "$state/built" "$state/generations"

# Take the request by renaming it (atomic): the service can then no longer
# withdraw it, and the path unit does not fire again for it.
taken="$request_dir/.taken-$$"
mv -T -- "$request_dir/request" "$taken" 2>/dev/null || exit 0
content=$(head -c 512 -- "$taken" || true)
rm -f -- "$taken"

# Builds of generations the service pruned are no longer GC roots, and
# root's copies of their locks go with them ($state/current is its own copy).
for link in "$state"/built/* "$state"/generations/*; do
  [[ -e $link || -L $link ]] || continue
  [[ -d $flake_dir/generations/${link##*/} ]] || rm -rf -- "$link"
done

id='' action='' gen=''
while IFS= read -r line; do
  case $line in
  id=*) id=${line#id=} ;;
  action=*) action=${line#action=} ;;
  generation=*) gen=${line#generation=} ;;
  esac
done <<<"$content"
# Nothing of the request reaches a command line unless it matched these.
if ! [[ $id =~ ^[0-9a-f]{32}$ ]]; then
  echo "peek-rebuild: ignoring a request without a valid id" >&2
  exit 1
fi

json_string() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/ }
  printf '"%s"' "${s//[$'\001'-$'\037']/ }"
}

system_generation() {
  local link
  link=$(readlink -- "$profile" 2>/dev/null) || { printf null; return; }
  link=${link##*/}
  link=${link#system-}
  link=${link%-link}
  if [[ $link =~ ^[0-9]+$ ]]; then printf '%s' "$link"; else printf null; fi
}

write_json() {
  local target=$1 body=$2 tmp
  tmp=$(mktemp -p "$(dirname -- "$target")" .tmp-XXXXXX)
  printf '%s\n' "$body" >"$tmp"
  sync -- "$tmp"
  chmod 0644 -- "$tmp"
  mv -T -- "$tmp" "$target"
}

result() {
  local ok=$1 reason=$2 system=$3
  write_json "$state/results/$id.json" \
    "{\"id\":\"$id\",\"ok\":$ok,\"generation\":${gen:-null},\"system_generation\":$(system_generation),\"system\":$(json_string "$system"),\"reason\":$(json_string "$reason")}"
}

fail() {
  echo "peek-rebuild: $1" >&2
  result false "$1" "$(readlink -f -- "$current_link")"
  exit 1
}

if [[ $action != build && $action != switch && $action != rollback ]]; then
  gen=''
  fail "unknown action '${action:0:20}'"
fi
if ! [[ $gen =~ ^[1-9][0-9]{0,8}$ ]]; then
  gen=''
  fail "invalid generation number"
fi

previous=$(readlink -f -- "$current_link")

back() {
  echo "peek-rebuild: switching back to $previous" >&2
  "$previous/bin/switch-to-configuration" test || echo "peek-rebuild: switching back failed too" >&2
}

healthy() {
  # Type=notify units are "active" only once Peek sent READY=1 (its
  # plugins started); one that stays active through the settle time has
  # also passed its first watchdog intervals.
  local deadline=$((SECONDS + health_timeout)) unit unit_state pending
  while :; do
    pending=''
    for unit in "${units[@]}"; do
      unit_state=$(systemctl show -P ActiveState -- "$unit")
      case $unit_state in
      active) ;;
      failed | inactive) unhealthy="$unit is $unit_state" && return 1 ;;
      *) pending=$unit ;;
      esac
    done
    [[ -z $pending ]] && break
    if ((SECONDS >= deadline)); then
      unhealthy="$pending not ready after ${health_timeout}s"
      return 1
    fi
    sleep 1
  done
  sleep "$settle"
  for unit in "${units[@]}"; do
    unit_state=$(systemctl show -P ActiveState -- "$unit")
    if [[ $unit_state != active ]]; then
      unhealthy="$unit is $unit_state ${settle}s after it was ready"
      return 1
    fi
  done
}

# The generation a manual `nixos-rebuild switch` builds: the system flake's
# default peek-generation input is $state/current, a copy of the lock,
# manifest and wheels of the generation the running system was built from.
# Updated in place, the lock renamed last: whatever a crash leaves, the lock
# there is either the old one or the new one, and a lock whose wheels or
# manifest do not match fails evaluation rather than build another plugin set.
publish_current() {
  local from=$state/generations/$gen to=$state/current name file
  mkdir -p -- "$to/wheels"
  for file in "$from"/wheels/*.whl; do
    [[ -f $file ]] || continue
    name=${file##*/}
    cp -P -- "$file" "$to/wheels/.tmp-$name"
    mv -T -- "$to/wheels/.tmp-$name" "$to/wheels/$name"
  done
  for name in generation.json generation.lock.json; do
    [[ -f $from/$name ]] || continue
    cp -P -- "$from/$name" "$to/.tmp-$name"
    sync -- "$to/.tmp-$name"
    mv -T -- "$to/.tmp-$name" "$to/$name"
  done
  # Wheels the new lock does not name.
  for file in "$to"/wheels/*; do
    [[ -e $from/wheels/${file##*/} ]] || rm -f -- "$file"
  done
}

if [[ $action == build ]]; then
  # At prepare: build only, activate nothing. The out-link is a GC root
  # (the build survives until the switch) and the record switch reads.
  generation_dir="$flake_dir/generations/$gen"
  [[ -d $generation_dir && ! -L $generation_dir && -f $generation_dir/generation.lock.json ]] ||
    fail "plugin generation $gen is not prepared"
  # Root builds from its own copy (symlinks copied as symlinks, which the
  # lock's sha256 then refuses): what evaluation reads is what becomes
  # $state/current after the switch, whatever the service user does with
  # its directory meanwhile.
  rm -rf -- "$state/generations/.tmp-$gen" "$state/generations/$gen"
  cp -RP -- "$generation_dir" "$state/generations/.tmp-$gen"
  mv -T -- "$state/generations/.tmp-$gen" "$state/generations/$gen"
  log=$(mktemp)
  # The lock reaches evaluation as the pure flake input peek-generation
  # (a path: input is copied into the store and pinned by its hash).
  if ! new=$("$nix" build --out-link "$state/built/$gen" --print-out-paths --no-write-lock-file \
    --override-input peek-generation "path:$state/generations/$gen" \
    "$PEEK_REBUILD_FLAKE#nixosConfigurations.\"$PEEK_REBUILD_CONFIGURATION\".config.system.build.toplevel" \
    2>"$log"); then
    fail "building the system failed: $(tail -n 15 -- "$log")"
  fi
  rm -f -- "$log"
  [[ -x $new/bin/switch-to-configuration ]] || fail "$new is not a NixOS system"
  result true "" "$new"
  exit 0
fi

if [[ $action == rollback && -L $state/systems/$gen ]]; then
  # The system this plugin generation ran before.
  new=$(readlink -- "$state/systems/$gen")
elif [[ -L $state/built/$gen ]]; then
  # Built at prepare (root's own record: the request names only a number).
  new=$(readlink -- "$state/built/$gen")
else
  fail "plugin generation $gen has not been built (prepare it first)"
fi
[[ -x $new/bin/switch-to-configuration ]] || fail "$new is not a NixOS system"
[[ -f $state/generations/$gen/generation.lock.json ]] ||
  fail "root's copy of plugin generation $gen is gone (prepare it again)"

unhealthy=''
if ! "$new/bin/switch-to-configuration" test; then
  back
  fail "activating the new system failed"
fi
if ! healthy; then
  back
  fail "the new system is unhealthy: $unhealthy"
fi

# Healthy: make it the boot default (a new system profile generation).
"$nix"-env --profile "$profile" --set "$new"
"$new/bin/switch-to-configuration" boot
ln -sfn -- "$new" "$state/systems/.tmp-$gen"
mv -T -- "$state/systems/.tmp-$gen" "$state/systems/$gen"
write_json "$state/active.json" \
  "{\"generation\":$gen,\"system_generation\":$(system_generation),\"system\":$(json_string "$new")}"
# Only now, switched and healthy: a manual rebuild reproduces this system.
publish_current
result true "" "$new"
