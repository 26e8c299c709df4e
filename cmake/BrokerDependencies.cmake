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

# AUTO resolves to ON or OFF here (a normal variable over the cache entry, so it is decided again
# at every configure, e.g. once scripts/install-deps.sh has installed the test packages).
if(BROKER_BUILD_TESTS STREQUAL "AUTO")
  find_package(GTest CONFIG QUIET)
  if(GTest_FOUND)
    set(BROKER_BUILD_TESTS ON)
  else()
    set(BROKER_BUILD_TESTS OFF)
    message(STATUS "GoogleTest not installed: the test tiers are left out (scripts/install-deps.sh installs everything)")
  endif()
elseif(BROKER_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(BROKER_BUILD_BENCHMARKS STREQUAL "AUTO")
  find_package(benchmark CONFIG QUIET)
  if(benchmark_FOUND)
    set(BROKER_BUILD_BENCHMARKS ON)
  else()
    set(BROKER_BUILD_BENCHMARKS OFF)
    message(STATUS "Google Benchmark not installed: brokerbench is left out (scripts/install-deps.sh installs everything)")
  endif()
elseif(BROKER_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)  # benchmark::benchmark (libbenchmark-dev)
endif()
