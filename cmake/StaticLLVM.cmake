# Link Debian's static LLVM/MLIR component archives instead of libLLVM.so, so that the tools and
# the C-API library run on machines without LLVM (the GPU machine has none).
#
# Debian builds LLVM with LLVM_LINK_LLVM_DYLIB=ON: every exported MLIR target lists "LLVM"
# (libLLVM.so) in its link interface although the static archives are installed. We switch our own
# add_llvm_* targets to component archives and rewrite the imported targets' interfaces.
option(ATTNC_STATIC_LLVM "Link static LLVM component archives instead of libLLVM.so" ON)
set(ATTNC_LLVM_COMPONENTS Support Remarks CACHE STRING
  "LLVM components that replace libLLVM.so (add one when the link reports undefined llvm:: symbols)")

if(ATTNC_STATIC_LLVM AND LLVM_LINK_LLVM_DYLIB)
  set(LLVM_LINK_LLVM_DYLIB OFF)
  llvm_map_components_to_libnames(_attnc_llvm_libs ${ATTNC_LLVM_COMPONENTS})
  get_property(_attnc_imported DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(_t IN LISTS _attnc_imported)
    get_target_property(_libs ${_t} INTERFACE_LINK_LIBRARIES)
    if(NOT _libs)
      continue()
    endif()
    set(_new "")
    foreach(_l IN LISTS _libs)
      if(_l STREQUAL "LLVM" OR _l STREQUAL "$<LINK_ONLY:LLVM>")
        list(APPEND _new ${_attnc_llvm_libs})
      elseif(_l MATCHES "libz3\\.so")
        # Only llvm::CreateZ3Solver needs z3; MLIR never calls it.
      else()
        list(APPEND _new "${_l}")
      endif()
    endforeach()
    list(REMOVE_DUPLICATES _new)
    set_property(TARGET ${_t} PROPERTY INTERFACE_LINK_LIBRARIES "${_new}")
  endforeach()
  add_link_options("LINKER:--as-needed")
endif()
