#!/usr/bin/env bash
# The test command (README): installs the real SIP peers the integration tests talk to,
# then checks formatting and lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")"
# The real peers: SIPp (sip-tester) and baresip (baresip-core); the TLS tests also use
# OpenSSL's command line (certificates for a TLS peer) and Python's ssl module (a client
# limited to old TLS versions); the hostile-traffic tests run SIPVicious (sipvicious); the
# fuzz targets' libFuzzer needs a C++ compiler; the web portal's browser test drives
# Debian's chromium through its chromium-driver; the relay's kernel fast path is checked
# against its C source with clang (the embedded BPF object) and tested through a veth pair
# into a network namespace (iproute2's ip, ethtool to turn checksum offloads off).
missing=
for tool in sipp baresip openssl python3 svwar g++ chromium chromedriver clang ip ethtool; do
  command -v "$tool" >/dev/null 2>&1 || missing=1
done
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq sip-tester baresip-core openssl python3 sipvicious g++ chromium chromium-driver clang iproute2 ethtool >/dev/null
fi
# tests/metrics.rs reads GET /metrics with a real Prometheus parser: the Python client's
# (PyPI prometheus-client); tests/openapi.rs validates the OpenAPI document with PyPI's
# openapi-spec-validator; tests/daily_usage.rs receives vozbox's e-mail with a real SMTP
# server, PyPI's aiosmtpd; tests/portal.rs drives the browser with PyPI's selenium;
# tests/dns.rs serves carriers' SRV and A records with PyPI's dnslib (tests/dns_server.py).
if ! python3 -c 'import prometheus_client, openapi_spec_validator, aiosmtpd, selenium, dnslib' >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
  fi
  python3 -m pip install --quiet prometheus-client openapi-spec-validator aiosmtpd selenium dnslib \
    || python3 -m pip install --quiet --break-system-packages prometheus-client openapi-spec-validator aiosmtpd selenium dnslib
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# Every fuzz target for a short while (FUZZ_SECONDS each, 30 by default; 0 skips): a new
# crash, panic or broken invariant fails the run. Long runs: fuzz/run.sh 600.
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  SANITIZER=${SANITIZER:-none} fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi
