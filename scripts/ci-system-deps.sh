#!/usr/bin/env bash
# Debian packages that parts of the test suite use: g++ (C simulation of the generated HLS),
# chromium (the HTML report is opened in a headless browser), postgresql (several workers on one
# study) and dataset-fashion-mnist (real Fashion-MNIST files). Tests that need one skip with a
# reason when it is absent, so users can run the suite without them; CI installs them all.
set -uo pipefail
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -e /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || need+=(dataset-fashion-mnist)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null) \
    || echo "warning: could not install ${need[*]}; the tests that need them will be skipped"
fi
exit 0
