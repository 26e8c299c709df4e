# Runs one example and checks it: exit code 0, and every line of EXPECTED_FILE (a regular
# expression) matches somewhere in its output. Used by the examples' integration tests:
#   cmake -DEXAMPLE=<binary> -DEXPECTED_FILE=<file> -P check_example.cmake
execute_process(COMMAND ${EXAMPLE}
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors
  TIMEOUT 120)
message("${output}")
if(NOT exit_code EQUAL 0)
  message(FATAL_ERROR "${EXAMPLE} exited with ${exit_code}\n${errors}")
endif()
file(STRINGS ${EXPECTED_FILE} patterns)
foreach(pattern IN LISTS patterns)
  if(pattern STREQUAL "" OR pattern MATCHES "^#")
    continue()
  endif()
  if(NOT output MATCHES "${pattern}")
    message(FATAL_ERROR "the output of ${EXAMPLE} has no line matching: ${pattern}")
  endif()
endforeach()
