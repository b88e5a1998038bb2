# cmake -DBOOTSTRAP=<file> -DREADELF=<readelf> [-DMAX_GLIBC=2.34] -P check_bootstrap_dependencies.cmake
#
# Fails unless the bootstrap's dynamic section needs only glibc's own objects (libc, libm and the
# dynamic loader), and, when MAX_GLIBC is given, no GLIBC_x.y symbol version above it.
if(NOT EXISTS "${BOOTSTRAP}")
  message(FATAL_ERROR "bootstrap not found at '${BOOTSTRAP}': build target stratus-bootstrap")
endif()
if(NOT READELF)
  message(FATAL_ERROR "readelf not found: install the Debian package 'binutils'")
endif()

execute_process(COMMAND ${READELF} --wide --dynamic ${BOOTSTRAP}
                OUTPUT_VARIABLE dynamic ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "readelf --dynamic ${BOOTSTRAP} failed: ${errors}")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]+\\]" needed_lines "${dynamic}")
set(allowed "^(libc\\.so\\.6|libm\\.so\\.6|ld-linux-[a-z0-9_-]+\\.so\\.[0-9]+)$")
set(needed "")
set(unexpected "")
foreach(line IN LISTS needed_lines)
  string(REGEX REPLACE ".*\\[([^]]+)\\]$" "\\1" library "${line}")
  list(APPEND needed "${library}")
  if(NOT library MATCHES "${allowed}")
    list(APPEND unexpected "${library}")
  endif()
endforeach()
message(STATUS "${BOOTSTRAP} needs: ${needed}")
if(unexpected)
  message(FATAL_ERROR "the bootstrap needs shared libraries beyond glibc: ${unexpected} "
                      "(link them statically, or stop using them)")
endif()

execute_process(COMMAND ${READELF} --wide --version-info ${BOOTSTRAP}
                OUTPUT_VARIABLE versions RESULT_VARIABLE status)
string(REGEX MATCHALL "GLIBC_[0-9]+\\.[0-9]+(\\.[0-9]+)?" glibc_versions "${versions}")
set(highest "")
foreach(tag IN LISTS glibc_versions)
  string(REPLACE "GLIBC_" "" version "${tag}")
  if(highest STREQUAL "" OR version VERSION_GREATER highest)
    set(highest "${version}")
  endif()
endforeach()
message(STATUS "highest glibc symbol version needed: ${highest}")
if(MAX_GLIBC AND highest VERSION_GREATER MAX_GLIBC)
  message(FATAL_ERROR "the bootstrap needs glibc ${highest} symbols, above the limit ${MAX_GLIBC}")
endif()
