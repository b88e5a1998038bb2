# Compiler flags shared by every target of the project.
add_library(stratus_warnings INTERFACE)
target_compile_options(stratus_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(STRATUS_WERROR)
  target_compile_options(stratus_warnings INTERFACE -Werror)
endif()

if(STRATUS_SANITIZE)
  string(REPLACE ";" "," _stratus_san "${STRATUS_SANITIZE}")
  add_compile_options(-fsanitize=${_stratus_san} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${_stratus_san})
endif()
