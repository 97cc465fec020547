option(CHAOSD_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(CHAOSD_WERROR "Treat warnings as errors" OFF)

if(CHAOSD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(chaosd_set_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers
    # GCC 12 false positive on Asio coroutine frames (awaitable_frame_base::operator delete).
    -Wno-mismatched-new-delete)
  if(CHAOSD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
