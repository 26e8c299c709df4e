# Installs the broker from BUILD_DIR (built from PROJECT_SOURCE) into a fresh prefix under WORK_DIR, configures and builds the
# outside project in consumer/ against it (find_package(broker CONFIG)) and runs its programs.
# Run by ctest (tests/install/CMakeLists.txt) as: cmake -D... -P run_install_test.cmake
foreach(var BUILD_DIR WORK_DIR SOURCE_DIR PROJECT_SOURCE CXX_COMPILER GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# Nothing internal may be installed: only the public header trees.
file(GLOB_RECURSE installed_headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(header ${installed_headers})
  if(NOT header MATCHES "^broker/([a-z_]+\\.h|testing/[a-z_]+\\.h|client/[a-z_]+\\.h)$")
    message(FATAL_ERROR "unexpected installed header: include/${header}")
  endif()
endforeach()
foreach(expected broker/broker.h broker/client/client.h broker/client/grpc_transport.h)
  if(NOT EXISTS ${prefix}/include/${expected})
    message(FATAL_ERROR "include/${expected} was not installed")
  endif()
endforeach()
# The exported targets' include directories point at the installed public headers only.
file(GLOB target_files ${prefix}/lib*/cmake/broker/broker*-targets.cmake)
foreach(f ${target_files})
  file(READ ${f} text)
  string(FIND "${text}" "${PROJECT_SOURCE}" in_source)
  string(FIND "${text}" "${BUILD_DIR}" in_build)
  if(NOT in_source EQUAL -1 OR NOT in_build EQUAL -1)
    message(FATAL_ERROR "${f} refers to the source or build tree")
  endif()
endforeach()

set(flags "")
if(SANITIZERS)
  set(flags "-fsanitize=${SANITIZERS}")
endif()
run("configure the consumer project" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/consumer -B ${consumer_build}
    -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=${BUILD_TYPE} "-DCMAKE_CXX_FLAGS=${flags}" "-DCMAKE_EXE_LINKER_FLAGS=${flags}")
run("build the consumer project" ${CMAKE_COMMAND} --build ${consumer_build})
run("embedded_check" ${consumer_build}/embedded_check ${WORK_DIR}/data)
message(STATUS "${last_output}")
run("grpc_check" ${consumer_build}/grpc_check)
message(STATUS "${last_output}")
file(REMOVE_RECURSE ${WORK_DIR})
