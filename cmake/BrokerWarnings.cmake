# broker_target_defaults(<target>): warnings and sanitizers for our own (non-generated) code.
function(broker_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    # Options structs are meant to be filled with designated initializers, leaving defaults.
    -Wno-missing-field-initializers)
  if(BROKER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(BROKER_SANITIZERS)
    target_compile_options(${target} PRIVATE -fsanitize=${BROKER_SANITIZERS} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${BROKER_SANITIZERS})
  endif()
endfunction()
