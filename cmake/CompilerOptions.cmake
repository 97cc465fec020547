option(CHAOSD_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(CHAOSD_WERROR "Treat warnings as errors" OFF)
# ThreadSanitizer for the HTTP<->event-loop boundary (docs/reliability.md). TSan cannot share a
# process with ASan, hence its own build directory (build-tsan).
option(CHAOSD_TSAN "Build with ThreadSanitizer" OFF)
if(CHAOSD_TSAN AND CHAOSD_SANITIZE)
  message(FATAL_ERROR "CHAOSD_TSAN and CHAOSD_SANITIZE exclude each other: use two build dirs")
endif()

# libFuzzer targets (tests/fuzz, scripts/fuzz): every library is built with the fuzzer's coverage
# instrumentation plus ASan and UBSan, so that a crash anywhere in the product is found.
option(CHAOSD_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only)" OFF)
if(CHAOSD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CHAOSD_FUZZ needs clang (libFuzzer): CXX=clang++ (scripts/fuzz does it)")
  endif()
  if(CHAOSD_TSAN OR CHAOSD_SANITIZE)
    message(FATAL_ERROR "CHAOSD_FUZZ brings ASan+UBSan itself; build it without CHAOSD_TSAN and "
                        "CHAOSD_SANITIZE")
  endif()
  # -fno-sanitize=function: clang 14 cannot emit its prologue data for split coroutine functions
  # ("Cannot represent a difference across sections").
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function
                      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(CHAOSD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(CHAOSD_TSAN)
  # TSan does not model std::atomic_thread_fence (GCC warns -Wtsan); Asio's fenced blocks only
  # order handler memory that its scheduler mutex already orders, so TSan builds go without them.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_compile_definitions(BOOST_ASIO_DISABLE_FENCED_BLOCK)
  add_link_options(-fsanitize=thread)
endif()

function(chaosd_set_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers
    # GCC 12 false positive on Asio coroutine frames (awaitable_frame_base::operator delete).
    -Wno-mismatched-new-delete)
  if(CHAOSD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
