#!/usr/bin/env bash
# Installs mediamtx-hook on this machine, or removes it (--uninstall).
#
#   scripts/install.sh [--user USER] [--prefix DIR] [--destdir DIR] [--binary FILE]
#   scripts/install.sh --uninstall [--purge] [same options]
#
# What it installs (PREFIX defaults to /usr/local):
#   PREFIX/bin/hook                              the program (built with cargo build --release --locked)
#   PREFIX/share/man/man1/hook.1                 man page      (hook man)
#   PREFIX/share/bash-completion/completions/hook              (hook completions bash)
#   PREFIX/share/zsh/site-functions/_hook                      (hook completions zsh)
#   PREFIX/share/fish/vendor_completions.d/hook.fish           (hook completions fish)
#   PREFIX/share/mediamtx-hook/                  the shipped examples, refreshed every time,
#                                                and the fleet's alert rules and dashboard
#   PREFIX/lib/systemd/system/mediamtx.service and mediamtx-hook-metrics.{service,timer}
#   /etc/mediamtx-hook/mediamtx.yml, hook.json   the configs the service uses; an edited
#                                                one is never overwritten (the script says so)
#   /var/lib/mediamtx-hook                       the state directory, owned by USER
# and creates USER (default mediamtx) as a system user if missing, in group
# video so it can open /dev/video*.
#
# Running it again changes only what differs and says what it did. --uninstall
# removes what it installed; it keeps edited configs and the state directory
# unless --purge is given, and never deletes the user.
#
# --destdir DIR (or DESTDIR=DIR) stages everything under DIR and leaves the
# system alone: no user is created, no ownership changed, systemd not told.
# --binary FILE (or HOOK_BIN=FILE) installs an already built `hook` instead of
# building one.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/usr/local
destdir="${DESTDIR:-}"
user=mediamtx
binary="${HOOK_BIN:-}"
mode=install
purge=no

usage() {
  sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) mode=uninstall ;;
    --purge) purge=yes ;;
    --user) user="${2:?--user needs a user name}"; shift ;;
    --prefix) prefix="${2:?--prefix needs a directory}"; shift ;;
    --destdir) destdir="${2:?--destdir needs a directory}"; shift ;;
    --binary) binary="${2:?--binary needs a file}"; shift ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

case "$prefix" in
  /*) ;;
  *) echo "install.sh: --prefix '$prefix' must be an absolute path" >&2; exit 2 ;;
esac
if ! [[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
  echo "install.sh: --user '$user' is not a valid user name (lower case letters, digits, _ and -)" >&2
  exit 2
fi
if [ "$purge" = yes ] && [ "$mode" != uninstall ]; then
  echo "install.sh: --purge goes with --uninstall" >&2
  exit 2
fi

staged=no
[ -n "$destdir" ] && staged=yes
destdir="${destdir%/}"

bindir="$prefix/bin"
sharedir="$prefix/share/mediamtx-hook"
mandir="$prefix/share/man/man1"
unitdir="$prefix/lib/systemd/system"
confdir=/etc/mediamtx-hook
statedir=/var/lib/mediamtx-hook
# Checksums of the configs as installed, to tell an edited config from ours.
sums="$sharedir/installed-configs.sha256"

completion_files=(
  "bash:$prefix/share/bash-completion/completions/hook"
  "zsh:$prefix/share/zsh/site-functions/_hook"
  "fish:$prefix/share/fish/vendor_completions.d/hook.fish"
)
units=(mediamtx.service mediamtx-hook-metrics.service mediamtx-hook-metrics.timer)
examples=(mediamtx.yml hook.json)
# For the Prometheus and Grafana that watch the fleet (docs/fleet.md): shared
# files only, never configuration of this machine.
fleet_files=(alerts.yml alerts.test.yml grafana-dashboard.json)

say() { echo "install.sh: $*"; }

# Real path of an installed path (under DESTDIR when staging).
r() { echo "$destdir$1"; }

systemd_running() { [ "$staged" = no ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

# Puts content file $1 at $2 with mode $3, saying whether it changed.
put() {
  local src="$1" dst="$2" mode="$3" target
  target="$(r "$dst")"
  if [ -f "$target" ] && cmp -s "$src" "$target"; then
    chmod "$mode" "$target"
    say "unchanged $dst"
    return
  fi
  local existed=no
  [ -e "$target" ] && existed=yes
  mkdir -p "$(dirname "$target")"
  # Copy then rename: a running `hook` is never overwritten in place.
  install -m "$mode" "$src" "$target.new.$$"
  mv -f "$target.new.$$" "$target"
  if [ "$existed" = yes ]; then say "updated $dst"; else say "installed $dst"; fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# The checksum recorded for an installed config, empty when none.
recorded_sum() {
  local f
  f="$(r "$sums")"
  [ -f "$f" ] || return 0
  awk -v n="$1" '$2 == n { print $1 }' "$f"
}

record_sum() {
  local name="$1" sum="$2" f
  f="$(r "$sums")"
  mkdir -p "$(dirname "$f")"
  touch "$f"
  awk -v n="$name" '$2 != n' "$f" >"$f.tmp"
  echo "$sum $name" >>"$f.tmp"
  mv -f "$f.tmp" "$f"
}

# Installs a config the service reads, without ever replacing one the operator edited.
put_config() {
  local src="$1" dst="$2" target name recorded
  target="$(r "$dst")"
  name="$(basename "$dst")"
  recorded="$(recorded_sum "$name")"
  if [ ! -e "$target" ]; then
    mkdir -p "$(dirname "$target")"
    install -m 0644 "$src" "$target"
    record_sum "$name" "$(sha "$target")"
    say "installed $dst"
  elif cmp -s "$src" "$target"; then
    record_sum "$name" "$(sha "$target")"
    say "unchanged $dst"
  elif [ -n "$recorded" ] && [ "$(sha "$target")" = "$recorded" ]; then
    # Still exactly what an earlier run installed: not edited, safe to refresh.
    install -m 0644 "$src" "$target.new.$$"
    mv -f "$target.new.$$" "$target"
    record_sum "$name" "$(sha "$target")"
    say "updated $dst"
  else
    say "kept $dst: it was edited (or not installed by this script); the new example is $sharedir/$name (diff them to see what changed)"
  fi
}

build_binary() {
  if [ -n "$binary" ]; then
    [ -x "$binary" ] || { echo "install.sh: --binary/HOOK_BIN '$binary' is not an executable file" >&2; exit 2; }
    say "using the binary $binary"
    return
  fi
  command -v cargo >/dev/null || {
    echo "install.sh: cargo is not on PATH (under sudo, try: sudo env PATH=\"\$PATH\" $0 …), or pass --binary FILE" >&2
    exit 1
  }
  say "building the release binary (cargo build --release --locked)"
  (cd "$repo" && cargo build --release --locked --quiet)
  binary="$repo/target/release/hook"
}

ensure_user() {
  if [ "$staged" = yes ]; then
    say "staged install under $destdir: user $user, its groups and file ownership left alone"
    return
  fi
  if getent passwd "$user" >/dev/null; then
    say "user $user exists"
  else
    useradd --system --home-dir /var/lib/mediamtx --no-create-home \
      --shell /usr/sbin/nologin --user-group "$user"
    say "created system user $user"
  fi
  if getent group video >/dev/null; then
    if id -nG "$user" | tr ' ' '\n' | grep -qx video; then
      say "user $user is in group video"
    else
      usermod -a -G video "$user"
      say "added user $user to group video (for /dev/video*)"
    fi
  else
    say "no group video on this machine: check that $user can open /dev/video*"
  fi
}

ensure_state_dir() {
  local d
  d="$(r "$statedir")"
  if [ -d "$d" ]; then say "state directory $statedir exists"; else mkdir -p "$d"; say "created $statedir"; fi
  chmod 0750 "$d"
  # Created here, owned by the service user, so that a command run as root
  # first can never leave a lock file or directory the service cannot use.
  [ -e "$d/state.lock" ] || : >"$d/state.lock"
  mkdir -p "$d/ledger" "$d/locks" "$d/holds"
  if [ "$staged" = no ]; then
    chown "$user:" "$d" "$d/state.lock" "$d/ledger" "$d/locks" "$d/holds"
    say "$statedir belongs to $user"
  fi
}

install_units() {
  local u tmp
  tmp="$(mktemp -d)"
  for u in "${units[@]}"; do
    # The units name /usr/local/bin/hook and the user mediamtx: follow --prefix and --user.
    sed -e "s|/usr/local/bin/hook|$bindir/hook|g" \
        -e "s|^User=mediamtx$|User=$user|" -e "s|^Group=mediamtx$|Group=$user|" \
        "$repo/mediamtx/$u" >"$tmp/$u"
    put "$tmp/$u" "$unitdir/$u" 0644
  done
  rm -rf "$tmp"
  if [ "$staged" = no ] && [ -f "/etc/systemd/system/mediamtx.service" ]; then
    say "note: /etc/systemd/system/mediamtx.service exists and takes precedence over $unitdir/mediamtx.service; remove it or merge the two"
  fi
  if systemd_running; then
    systemctl daemon-reload
    say "systemd reloaded"
  fi
}

do_install() {
  build_binary
  put "$binary" "$bindir/hook" 0755
  local bin tmp shell file
  bin="$(r "$bindir/hook")"
  tmp="$(mktemp -d)"
  "$bin" man >"$tmp/hook.1"
  put "$tmp/hook.1" "$mandir/hook.1" 0644
  for entry in "${completion_files[@]}"; do
    shell="${entry%%:*}"
    file="${entry#*:}"
    "$bin" completions "$shell" >"$tmp/completion"
    put "$tmp/completion" "$file" 0644
  done
  rm -rf "$tmp"
  for f in "${examples[@]}" "${fleet_files[@]}"; do
    put "$repo/mediamtx/$f" "$sharedir/$f" 0644
  done
  for f in "${examples[@]}"; do
    put_config "$repo/mediamtx/$f" "$confdir/$f"
  done
  install_units
  ensure_user
  ensure_state_dir
  say "done. Next: install MediaMTX as /usr/local/bin/mediamtx, then"
  say "  systemctl enable --now mediamtx.service   (and mediamtx-hook-metrics.timer with node_exporter)"
  say "  sudo -u $user hook status"
}

# Removes an installed file, saying so.
remove() {
  local target
  target="$(r "$1")"
  if [ -e "$target" ] || [ -L "$target" ]; then
    rm -f "$target"
    say "removed $1"
  fi
}

# Removes a directory when it is empty.
prune() {
  local d
  d="$(r "$1")"
  if [ -d "$d" ] && rmdir "$d" 2>/dev/null; then
    say "removed $1"
  fi
}

do_uninstall() {
  if systemd_running; then
    for u in mediamtx-hook-metrics.timer mediamtx.service; do
      [ -f "$unitdir/$u" ] || continue
      if systemctl is-enabled --quiet "$u" 2>/dev/null || systemctl is-active --quiet "$u" 2>/dev/null; then
        systemctl disable --now "$u" >/dev/null 2>&1 || true
        say "stopped and disabled $u"
      fi
    done
  fi
  local f name recorded target
  for f in "${examples[@]}"; do
    target="$(r "$confdir/$f")"
    [ -e "$target" ] || continue
    recorded="$(recorded_sum "$f")"
    if [ "$purge" = yes ] || { [ -n "$recorded" ] && [ "$(sha "$target")" = "$recorded" ]; }; then
      remove "$confdir/$f"
    else
      say "kept $confdir/$f: it was edited (--purge removes it)"
    fi
  done
  [ "$purge" = yes ] && remove "$confdir/environment"
  prune "$confdir"
  remove "$bindir/hook"
  remove "$mandir/hook.1"
  for entry in "${completion_files[@]}"; do
    remove "${entry#*:}"
  done
  for f in "${examples[@]}" "${fleet_files[@]}"; do
    remove "$sharedir/$f"
  done
  remove "$sums"
  prune "$sharedir"
  for u in "${units[@]}"; do
    remove "$unitdir/$u"
  done
  # Directories only these files live in, when nothing else is left in them
  # (never man1 or other shared ones).
  prune "$unitdir"
  prune "$(dirname "$unitdir")"
  for entry in "${completion_files[@]}"; do
    d="$(dirname "${entry#*:}")"
    prune "$d"
    prune "$(dirname "$d")"
  done
  if systemd_running; then
    systemctl daemon-reload
    say "systemd reloaded"
  fi
  if [ "$purge" = yes ]; then
    if [ -d "$(r "$statedir")" ]; then
      rm -rf "$(r "$statedir")"
      say "removed $statedir and its state"
    fi
  elif [ -d "$(r "$statedir")" ]; then
    say "kept $statedir (the state and segment ledgers; --purge removes it)"
  fi
  if [ "$staged" = no ] && getent passwd "$user" >/dev/null; then
    say "kept user $user (remove it with: userdel $user)"
  fi
  say "done"
}

if [ "$mode" = install ]; then do_install; else do_uninstall; fi
