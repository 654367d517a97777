#!/bin/sh
# Installs what livepipe needs and is missing on a Debian machine with Node 20+:
#   ffmpeg (apt-get), npm packages (npm ci), and with --test also Chromium (hls.js playback tests)
#   and redis-server (the cluster tests start their own on a free port), and systemd's
#   systemd-socket-activate (the restart tests hold the origin's socket as a systemd socket unit does),
#   and rtsp-server-perl (a real RTSP server for the pulled-RTSP test);
#   with --bench also nginx, wrk and a C compiler (baselines and floors the benchmarks compare against).
# Idempotent and quiet when everything is already there.
set -e
cd "$(dirname "$0")/.."

want_apt=""
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || want_apt="$want_apt ffmpeg"
for arg in "$@"; do
  case "$arg" in
    --test)
      command -v chromium >/dev/null 2>&1 || want_apt="$want_apt chromium"
      command -v redis-server >/dev/null 2>&1 || want_apt="$want_apt redis-server"
      command -v rtsp-server-perl >/dev/null 2>&1 || want_apt="$want_apt rtsp-server-perl"
      command -v systemd-socket-activate >/dev/null 2>&1 || want_apt="$want_apt systemd" ;;
    --bench)
      command -v chromium >/dev/null 2>&1 || want_apt="$want_apt chromium"
      command -v nginx >/dev/null 2>&1 || want_apt="$want_apt nginx-light"
      command -v wrk >/dev/null 2>&1 || want_apt="$want_apt wrk"
      command -v systemd-socket-activate >/dev/null 2>&1 || want_apt="$want_apt systemd"
      command -v cc >/dev/null 2>&1 || want_apt="$want_apt gcc" ;;
  esac
done

if [ -n "$want_apt" ]; then
  echo "setup: installing$want_apt with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $want_apt >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
