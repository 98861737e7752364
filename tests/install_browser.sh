#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing and we can (root with
# apt-get). Never fails the build: without a browser the UI tests skip and say why.
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "tests/install_browser.sh: installing Debian's chromium for the UI tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "tests/install_browser.sh: could not install chromium; the UI tests will be skipped"
else
  echo "tests/install_browser.sh: not root or no apt-get; the UI tests will be skipped"
fi
exit 0
