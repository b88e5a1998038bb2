# cmake -DBOOTSTRAP=<file> -DREADELF=<readelf> -P check_bootstrap_dependencies.cmake
#
# Fails unless the product bootstrap is self-contained: no dynamic dependencies at all, so the file
# that goes into functions.zip runs on provided.al2023 (older glibc than this machine) or anywhere.
if(NOT EXISTS "${BOOTSTRAP}")
  message(FATAL_ERROR "bootstrap not found at '${BOOTSTRAP}': build target stratus-bootstrap")
endif()
if(NOT READELF)
  message(FATAL_ERROR "readelf not found: install the Debian package 'binutils'")
endif()
execute_process(COMMAND ${READELF} --wide --dynamic --program-headers ${BOOTSTRAP}
                OUTPUT_VARIABLE info ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "readelf ${BOOTSTRAP} failed: ${errors}")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]+\\]" needed "${info}")
if(needed OR info MATCHES "INTERP")
  message(FATAL_ERROR "the bootstrap is dynamically linked (${needed}); it must be static so it "
                      "does not depend on the target's glibc")
endif()
message(STATUS "${BOOTSTRAP} is statically linked")
