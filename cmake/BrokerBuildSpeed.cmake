# What makes a cold build affordable on a 2-core machine (docs/testing.md, "Build time"):
#
# - Precompiled headers. Every test translation unit parses gtest and gmock, and every file of the
#   gRPC adapter, the gRPC transport and brokerctl parses grpcpp and the generated broker.v1 code:
#   2.5-4.5 s of parsing each before any of our code. broker_precompile_headers() gives a target
#   the precompiled header of its kind, built once per build tree by a host target and reused
#   (REUSE_FROM), so each kind costs one parse. ccache caches both the header and its users, also
#   across clones, provided its sloppiness allows precompiled headers (CMakePresets.json sets
#   CCACHE_SLOPPINESS in the compiler launcher).
# - Test code at -O1 in optimised builds: the engine, brokerd and the client library under test
#   stay at -O2, while gtest's macro-heavy test bodies compile in two thirds of the time.
# - -g1 in the CI presets (CMakePresets.json): line tables for sanitizer reports and backtraces,
#   objects a fifth the size, so linking and ccache have far less to move.
# - The mold linker, where installed (scripts/install-deps.sh installs it): three dozen test and
#   tool executables with full debug information link in a fraction of the time ld takes.
option(BROKER_PCH "Precompile the heavy third-party headers (gtest/gmock, gRPC + broker.v1)" ON)

find_program(BROKER_MOLD mold)
if(BROKER_MOLD)
  set(BROKER_LINKER_DEFAULT mold)
else()
  set(BROKER_LINKER_DEFAULT "")
endif()
set(BROKER_LINKER "${BROKER_LINKER_DEFAULT}" CACHE STRING
    "Linker for executables, passed as -fuse-ld=<value> (mold, gold, bfd); empty: the compiler's default")

# broker_link_defaults(<target>): the linker choice, for every executable of ours.
function(broker_link_defaults target)
  if(BROKER_LINKER)
    target_link_options(${target} PRIVATE -fuse-ld=${BROKER_LINKER})
  endif()
endfunction()

# Test code in optimised builds: -O1 after the build type's -O2 (the last -O wins).
function(_broker_test_optimization target)
  target_compile_options(${target} PRIVATE $<$<CONFIG:RelWithDebInfo,Release>:-O1>)
endfunction()

# The hosts: one object library per kind, compiled with the same flags as our own targets
# (broker_target_defaults), so its precompiled header is valid in theirs (-Winvalid-pch, an error
# under -Werror, says so when it is not).
function(_broker_pch_host kind)
  set(host broker_pch_${kind})
  if(TARGET ${host})
    return()
  endif()
  add_library(${host} OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch_host.cc)
  broker_target_defaults(${host})
  set(std_headers <algorithm> <atomic> <chrono> <condition_variable> <functional> <map> <memory>
                  <mutex> <optional> <string> <string_view> <thread> <unordered_map> <vector>)
  if(kind STREQUAL "gtest")
    _broker_test_optimization(${host})
    target_link_libraries(${host} PRIVATE GTest::gmock GTest::gtest Threads::Threads)
    target_precompile_headers(${host} PRIVATE <gtest/gtest.h> <gmock/gmock.h> ${std_headers})
  elseif(kind STREQUAL "grpc")
    target_link_libraries(${host} PRIVATE broker_proto gRPC::grpc++ Threads::Threads)
    target_precompile_headers(${host} PRIVATE <grpcpp/grpcpp.h> <broker/v1/broker.grpc.pb.h>
                              <broker/v1/admin.grpc.pb.h> ${std_headers})
  else()
    message(FATAL_ERROR "broker_precompile_headers: unknown kind '${kind}' (gtest, grpc)")
  endif()
endfunction()

# broker_precompile_headers(<target> <kind>): <target> uses the precompiled header of <kind>:
#   gtest  gtest, gmock and the standard library (every test target)
#   grpc   grpcpp, the generated broker.v1 messages and services, the standard library
function(broker_precompile_headers target kind)
  if(NOT BROKER_PCH)
    return()
  endif()
  _broker_pch_host(${kind})
  target_precompile_headers(${target} REUSE_FROM broker_pch_${kind})
endfunction()

# broker_test_code_defaults(<target>): what every target of test code gets (test binaries and the
# conformance bodies): -O1 in optimised builds and the gtest precompiled header.
function(broker_test_code_defaults target)
  _broker_test_optimization(${target})
  broker_precompile_headers(${target} gtest)
endfunction()
