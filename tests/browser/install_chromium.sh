#!/bin/sh
# Installs Debian's chromium for the browser tests: the browser Playwright drives (no browser
# is downloaded by Playwright itself). Needs root and apt; does nothing when it is there.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# fonts-dejavu-core: text in the screenshots on a machine with no fonts at all.
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
