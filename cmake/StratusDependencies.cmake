# All third-party code comes from Debian packages. When one is missing, say which package to install
# (scripts/setup.sh installs all of them).
macro(stratus_require package debian_package)
  find_package(${package} ${ARGN} QUIET)
  if(NOT ${package}_FOUND)
    message(FATAL_ERROR "${package} not found: install the Debian package '${debian_package}' "
                        "(or run scripts/setup.sh, which installs everything)")
  endif()
endmacro()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
stratus_require(Boost libboost-dev 1.74)
stratus_require(nlohmann_json nlohmann-json3-dev 3.10)
stratus_require(spdlog libspdlog-dev)
stratus_require(OpenSSL libssl-dev)
stratus_require(ZLIB zlib1g-dev)
# Debian 12's libzip CMake config also checks for the libzip tools.
stratus_require(libzip "libzip-dev zipcmp zipmerge ziptool")
stratus_require(CLI11 libcli11-dev)
stratus_require(simdjson libsimdjson-dev)
stratus_require(Eigen3 libeigen3-dev 3.3 NO_MODULE)
# SAM templates (stratus-emulator --template template.yaml).
stratus_require(yaml-cpp libyaml-cpp-dev)
if(STRATUS_BUILD_TESTS)
  stratus_require(GTest libgtest-dev)
endif()
if(STRATUS_BUILD_BENCH)
  stratus_require(benchmark libbenchmark-dev)
endif()
