# `cmake --install`: public headers, libraries, brokerd/brokerctl and a CMake package, so that an
# outside project can do
#
#   find_package(broker CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE broker::client)        # client API, embedded transport
#   target_link_libraries(app PRIVATE broker::broker)        # the engine alone (embedded)
#   target_link_libraries(app PRIVATE broker::client_grpc)   # + the gRPC transport to brokerd
#
# Installed interface: only broker/include/broker and client/include/broker/client are installed,
# and <prefix>/include is the only include directory of the exported targets (set through
# INSTALL_INTERFACE on broker_common and broker_client, the two that carry public headers). The engine's
# internal modules (storage, delivery, wire translation, generated protobuf code) are static
# libraries linked by the public ones; they are installed and exported as broker::internal_*
# targets with no include directories (their include paths are BUILD_INTERFACE only), so nothing
# internal can be #included from an installation. Use them only through the public targets.
#
# Two export sets keep gRPC optional for embedded users: broker-targets.cmake (engine, client)
# needs RocksDB; broker-grpc-targets.cmake (client_grpc) also needs Protobuf and gRPC and is loaded
# when they are found (or required with `find_package(broker CONFIG COMPONENTS grpc)`).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BROKER_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/broker
    CACHE STRING "Where the broker CMake package files are installed, relative to the prefix")

set_target_properties(broker_engine PROPERTIES EXPORT_NAME broker)
set_target_properties(broker_client PROPERTIES EXPORT_NAME client)
set_target_properties(broker_client_grpc PROPERTIES EXPORT_NAME client_grpc)
foreach(internal common storage delivery xxhash rpc_wire proto)
  set_target_properties(broker_${internal} PROPERTIES EXPORT_NAME internal_${internal})
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/broker/include/broker
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/client/include/broker/client
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/broker COMPONENT development)

install(TARGETS broker_common broker_storage broker_delivery broker_engine broker_xxhash
                broker_client
        EXPORT broker-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
install(TARGETS broker_proto broker_rpc_wire broker_client_grpc
        EXPORT broker-grpc-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
install(EXPORT broker-targets NAMESPACE broker:: DESTINATION ${BROKER_INSTALL_CMAKEDIR}
        COMPONENT development)
install(EXPORT broker-grpc-targets NAMESPACE broker:: DESTINATION ${BROKER_INSTALL_CMAKEDIR}
        COMPONENT development)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/broker-config.cmake.in
  ${PROJECT_BINARY_DIR}/broker-config.cmake
  INSTALL_DESTINATION ${BROKER_INSTALL_CMAKEDIR})
# 0.x: minor versions may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/broker-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/broker-config.cmake
              ${PROJECT_BINARY_DIR}/broker-config-version.cmake
        DESTINATION ${BROKER_INSTALL_CMAKEDIR} COMPONENT development)

# The daemon and the admin CLI.
foreach(tool brokerd brokerctl)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  endif()
endforeach()

# What operators read, and the systemd files it refers to.
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/packaging/brokerd.service
              ${PROJECT_SOURCE_DIR}/packaging/brokerd.sysusers
              ${PROJECT_SOURCE_DIR}/packaging/brokerd.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
