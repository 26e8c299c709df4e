// The translation unit that builds a precompiled header host (cmake/BrokerBuildSpeed.cmake); the
// header itself is what other targets reuse. Nothing else is compiled here.
