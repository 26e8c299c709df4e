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

if(BROKER_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(BROKER_BUILD_BENCHMARKS)
  find_package(CLI11 CONFIG REQUIRED)      # CLI11::CLI11 (libcli11-dev)
  find_package(benchmark CONFIG REQUIRED)  # benchmark::benchmark (libbenchmark-dev)
endif()
