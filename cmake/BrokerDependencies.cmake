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

# An ON/OFF/AUTO part of the build that needs config package `package`: ON requires it; AUTO
# becomes ON where it is installed, else OFF with a note. The result is a normal variable over the
# cache entry, so AUTO is decided again at every configure (e.g. once scripts/install-deps.sh has
# installed the test packages).
function(broker_resolve_part var package what)
  if(${var} STREQUAL "AUTO")
    find_package(${package} CONFIG QUIET)
    if(${package}_FOUND)
      set(${var} ON PARENT_SCOPE)
    else()
      set(${var} OFF PARENT_SCOPE)
      message(STATUS "${package} not installed: ${what} left out (scripts/install-deps.sh installs everything)")
    endif()
  elseif(${var})
    find_package(${package} CONFIG REQUIRED)
  endif()
endfunction()
broker_resolve_part(BROKER_BUILD_TESTS GTest "the test tiers are")  # libgtest-dev, libgmock-dev
broker_resolve_part(BROKER_BUILD_BENCHMARKS benchmark "brokerbench is")  # libbenchmark-dev
