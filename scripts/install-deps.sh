#!/usr/bin/env bash
# Installs every build, test and benchmark dependency from Debian bookworm packages, or with
# --main only what building brokerd and brokerctl needs (scripts/run.sh).
# Safe to run twice: apt-get skips what is already installed. Runs as root or through sudo.
set -euo pipefail

main_only=false
if [[ "${1:-}" == "--main" ]]; then main_only=true; fi

packages=(
  g++ cmake ninja-build pkg-config ccache git mold
  librocksdb-dev libasio-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc grpc-proto
  libcli11-dev libspdlog-dev libfmt-dev libxxhash-dev
  nlohmann-json3-dev libcpp-httplib-dev
  # brokerd's and brokerbench's allocator (cmd/allocator); the broker library links none.
  libmimalloc-dev
  # gzip record batches of the Kafka listener (broker/kafka).
  zlib1g-dev
)
if ! $main_only; then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev openssl
    # The NATS JetStream transport (libnats 3.4) and the server its tests run as a cluster (2.9).
    libnats-dev nats-server
    # The Kafka tier's clients (tests/kafka): kcat (bookworm's kafkacat is a transitional package
    # for it) and librdkafka 2.0 (C and C++).
    kcat librdkafka-dev
  )
  # kafkajs runs on Node.js (tests/kafka/js). A machine whose node comes from elsewhere
  # (NodeSource's nodejs package bundles npm) keeps it; otherwise bookworm's nodejs and npm.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
fi

# npm packages of the kafkajs tests, exactly as package-lock.json pins them; reinstalled only when
# the lock file changed since the last install.
install_node_packages() {
  local dir tests_dir
  if $main_only; then return; fi
  tests_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/kafka/js"
  dir="$tests_dir/node_modules"
  if [[ -f "$dir/.package-lock.json" && "$dir/.package-lock.json" -nt "$tests_dir/package-lock.json" ]]; then
    echo "install-deps: npm packages of tests/kafka/js already installed"
    return
  fi
  echo "install-deps: npm ci in tests/kafka/js"
  (cd "$tests_dir" && npm ci --no-audit --no-fund --loglevel=error)
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  install_node_packages
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_node_packages
