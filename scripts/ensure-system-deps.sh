#!/usr/bin/env bash
# Installs the Debian packages some tests drive for real, when they are missing and this machine can:
#   prometheus              promtool (alert rules) and the prometheus server (dashboard queries)
#   prometheus-alertmanager amtool (the Alertmanager config)
#   systemd                 systemd-analyze (the unit file)
#   chromium                the screenshot test of the HTML report
# Without root or apt-get it only says what is missing; the tests needing them then fail loudly.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf "%s\n" "${need[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "warning: missing Debian packages ${need[*]} (install them: apt-get install ${need[*]});" \
       "the tests that drive them will fail" >&2
fi
