# broker_target_defaults(<target>): warnings and sanitizers for our own (non-generated) code.
function(broker_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    # Options structs are meant to be filled with designated initializers, leaving defaults.
    -Wno-missing-field-initializers
    # Every target is multi-threaded; -pthread everywhere (not only where gRPC's usage requirements
    # add it) also keeps the precompiled headers (cmake/BrokerBuildSpeed.cmake) valid in every
    # target, since -pthread defines _REENTRANT.
    -pthread)
  target_link_options(${target} PRIVATE -pthread)
  if(BROKER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(BROKER_SANITIZERS)
    target_compile_options(${target} PRIVATE -fsanitize=${BROKER_SANITIZERS} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${BROKER_SANITIZERS})
    if(BROKER_SANITIZERS MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # gcc 12 warns (-Wtsan) that TSan does not model std::atomic_thread_fence, which Asio's
      # fenced blocks use (broker_rpc's executor); with -Werror that stops the tsan build.
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
  broker_link_defaults(${target})
  if(BROKER_FUZZ)
    # Coverage feedback for libFuzzer in every library a fuzz target links; a finding must stop the
    # run, so sanitizer reports are fatal (UBSan's default is to print and go on).
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link -fno-sanitize-recover=all)
  endif()
endfunction()
