#!/usr/bin/env bash
# Installs what building and testing the hook needs on Debian 12, idempotently:
# FFmpeg (the child it supervises), libclang (the v4l crate's bindings),
# GStreamer's RTSP server (a real RTSP peer for the tests) and PyYAML (the
# Control API stand-in reads MediaMTX's openapi.yaml), and what the operator
# tests check the generated files with: zsh and fish (completions), groff
# (man page), shellcheck (install.sh), systemd (systemd-analyze verify); a C
# compiler and the V4L2 headers for the tests' fake cameras
# (tests/support/fakecam/); and the fleet view's: prometheus (promtool for the
# alert rules' unit tests, and a real Prometheus server) and
# prometheus-node-exporter (its textfile collector), which the tests start
# themselves on free loopback ports, and Jinja2 (the Home Assistant example's
# templates, rendered as it renders them).
set -euo pipefail

packages=(
  ffmpeg
  libclang-dev
  pkg-config
  python3-gi
  python3-yaml
  python3-jinja2
  gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  gstreamer1.0-tools
  zsh
  fish
  groff-base
  shellcheck
  systemd
  gcc
  libc6-dev
  linux-libc-dev
  prometheus
  prometheus-node-exporter
)

# Services these packages start on installation; the tests run their own
# on free ports, so ones this script installed are stopped again.
services=(prometheus prometheus-node-exporter)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} packages"

for s in "${services[@]}"; do
  [[ " ${missing[*]} " == *" $s "* ]] || continue
  if [ -d /run/systemd/system ]; then
    "${sudo[@]}" systemctl disable --now "$s" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$s" ] && "/etc/init.d/$s" status >/dev/null 2>&1; then
    "${sudo[@]}" "/etc/init.d/$s" stop >/dev/null 2>&1 || true
  fi
  echo "deps: $s installed for the tests, left stopped"
done
