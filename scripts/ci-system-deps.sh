#!/usr/bin/env bash
# Debian packages used by parts of the test suite; tests that need one skip with a reason when it
# is absent, so this script is an optimisation for CI, not a requirement for users.
set -uo pipefail
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
if ((${#need[@]})); then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null || echo "warning: could not install ${need[*]}"
fi
exit 0
