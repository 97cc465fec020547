# Asio coroutine code compiles slowly: cache objects across fresh clones and link with a fast linker.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  # CI builds a fresh clone in a new folder: hash paths relative to the source root. Precompiled
  # headers need the sloppiness settings for ccache to accept them.
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${CCACHE_PROGRAM})
endif()

find_program(MOLD_PROGRAM mold)
if(MOLD_PROGRAM)
  add_link_options(-fuse-ld=mold)
else()
  find_program(LLD_PROGRAM ld.lld)
  if(LLD_PROGRAM)
    add_link_options(-fuse-ld=lld)
  endif()
endif()
