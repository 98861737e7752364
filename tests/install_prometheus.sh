#!/usr/bin/env bash
# Installs Debian's prometheus for the scrape test (tests/metrics/test_prometheus.py) when it
# is missing and we can (root with apt-get). Never fails the build: without it that test
# skips and says why.
set -u
if [ -x /usr/bin/prometheus ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "tests/install_prometheus.sh: installing Debian's prometheus for the scrape test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
    || echo "tests/install_prometheus.sh: could not install prometheus; the scrape test will be skipped"
else
  echo "tests/install_prometheus.sh: not root or no apt-get; the scrape test will be skipped"
fi
exit 0
