# Every dependency comes from a Debian bookworm package (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(RocksDB CONFIG REQUIRED)

find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
find_library(XXHASH_LIBRARY xxhash REQUIRED)
add_library(broker_xxhash INTERFACE)
target_include_directories(broker_xxhash SYSTEM INTERFACE ${XXHASH_INCLUDE_DIR})
target_link_libraries(broker_xxhash INTERFACE ${XXHASH_LIBRARY})

find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
# cpp-httplib (libcpp-httplib-dev): brokerd's Prometheus endpoint. Debian ships it as a compiled
# library with a pkg-config file only: PkgConfig::HTTPLIB.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

if(BROKER_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(BROKER_BUILD_BENCHMARKS)
  find_package(CLI11 CONFIG REQUIRED)      # CLI11::CLI11 (libcli11-dev)
  find_package(benchmark CONFIG REQUIRED)  # benchmark::benchmark (libbenchmark-dev)
endif()
