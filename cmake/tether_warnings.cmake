# Warnings for the project's own targets: -Wall -Wextra -Wpedantic, errors
# when TETHER_WERROR is on. Third-party headers come in as SYSTEM includes.
function(tether_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(TETHER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
