# Every third-party library comes from Debian 12 packages (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

add_library(chaosd_deps INTERFACE)
target_link_libraries(chaosd_deps INTERFACE
  Boost::headers spdlog::spdlog nlohmann_json::nlohmann_json prometheus-cpp::core
  PkgConfig::HIREDIS PkgConfig::TOMLPP PkgConfig::HTTPLIB Threads::Threads)
# One io_context thread; Asio need not lock its own internals for other threads.
target_compile_definitions(chaosd_deps INTERFACE BOOST_ASIO_NO_DEPRECATED)
