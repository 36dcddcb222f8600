#!/usr/bin/env bash
# Installs the Debian packages some tests drive for real, when they are missing and this machine can:
#   prometheus  (promtool for the alert rules, the prometheus server for the dashboard queries)
#   chromium    (the screenshot test of the HTML report)
# Without root or apt-get it only says what is missing; the tests needing them then fail loudly.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "warning: missing Debian packages ${need[*]} (install them: apt-get install ${need[*]});" \
       "the tests that drive them will fail" >&2
fi
