# How a fulgur plugin is built — the same file in fulgur's own tree (each plugin folder's
# CMakeLists.txt calls it) and in the installed SDK (find_package(fulgur) includes it), so a
# plugin folder copied out of the tree builds against the SDK unchanged.
#
#   fulgur_add_plugin(NAME SOURCES a.cpp [b.cpp ...] [TEST a_test.cpp [b_test.cpp ...]]
#                     [LIBRARIES lib ...] [OUTPUT_DIRECTORY dir] [DEFAULT])
#
# builds NAME.so (by default into <build>/plugins/, where fulgur looks) exporting only its
# factory and ABI tag; the folder's include/ is its public headers. TEST builds a GoogleTest
# program NAME_test that runs under CTest with FULGUR_PLUGIN_PATH set to the plugins' folder.
# DEFAULT marks a plugin a default run loads (the Trainer's default callbacks, the examples'
# loggers): scripts/demo.sh builds only those.
#
#   fulgur_add_module_library(NAME SOURCES a.cpp [...] [LIBRARIES lib ...] [OUTPUT_DIRECTORY dir])
#
# builds NAME.so holding registered Modules and DataModules (FULGUR_REGISTER_MODULE,
# FULGUR_EXPORT_MODULES), which the `fulgur` command finds in the same folders.
#
# In fulgur's tree (FULGUR_IN_TREE) a plugin's target is fulgur_plugin_NAME, it reuses the
# kernel's precompiled header, sees every plugin's public headers, installs itself with its
# README, and its test links the tree's test helpers; in an SDK project the target is NAME.
include_guard(GLOBAL)

function(fulgur_add_plugin name)
  cmake_parse_arguments(PLUGIN "DEFAULT" "OUTPUT_DIRECTORY" "SOURCES;TEST;LIBRARIES" ${ARGN})
  if(NOT PLUGIN_SOURCES)
    message(FATAL_ERROR "fulgur_add_plugin(${name}): no SOURCES given")
  endif()
  if(FULGUR_IN_TREE)
    set(target fulgur_plugin_${name})
  else()
    set(target ${name})
  endif()
  _fulgur_add_loadable_library(${target} ${name} "${PLUGIN_OUTPUT_DIRECTORY}" "${PLUGIN_SOURCES}" "${PLUGIN_LIBRARIES}")
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)
  endif()
  if(FULGUR_IN_TREE)
    # A plugin may read another's public header (e.g. nan_guard asks model_checkpoint for its files).
    target_include_directories(${target} PRIVATE ${FULGUR_PLUGIN_INCLUDE_DIRS})
    add_dependencies(fulgur_plugins ${target})
    if(PLUGIN_DEFAULT)
      add_dependencies(fulgur_default_plugins ${target})
    endif()
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
      install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    endif()
    # Its README (options, checkpoint state) goes with the SDK's docs: share/doc/fulgur/plugins/NAME.md.
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/README.md)
      install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/plugins RENAME ${name}.md)
    endif()
  endif()
  if(PLUGIN_TEST)
    _fulgur_add_plugin_test(${name} ${target} "${PLUGIN_TEST}" "${PLUGIN_LIBRARIES}")
  endif()
endfunction()

function(fulgur_add_module_library name)
  cmake_parse_arguments(LIB "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  _fulgur_add_loadable_library(${name} ${name} "${LIB_OUTPUT_DIRECTORY}" "${LIB_SOURCES}" "${LIB_LIBRARIES}")
endfunction()

# A MODULE library NAME.so that links the kernel and exports only what it marks.
function(_fulgur_add_loadable_library target name output_dir sources libraries)
  if(NOT output_dir)
    if(FULGUR_PLUGIN_OUTPUT_DIR)
      set(output_dir ${FULGUR_PLUGIN_OUTPUT_DIR})
    else()
      set(output_dir ${CMAKE_BINARY_DIR}/plugins)
    endif()
  endif()
  add_library(${target} MODULE ${sources})
  target_link_libraries(${target} PRIVATE fulgur::fulgur ${libraries})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
    LIBRARY_OUTPUT_DIRECTORY ${output_dir} CXX_VISIBILITY_PRESET hidden
    CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  if(FULGUR_IN_TREE)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
    fulgur_use_pch(${target})
    install(TARGETS ${target} LIBRARY DESTINATION ${FULGUR_INSTALL_PLUGIN_DIR})
  endif()
endfunction()

# NAME_test: the plugin's GoogleTest program, discovered by CTest.
function(_fulgur_add_plugin_test name target sources libraries)
  if(FULGUR_IN_TREE AND NOT FULGUR_BUILD_TESTS)
    return()
  endif()
  if(NOT TARGET GTest::gtest_main)
    find_package(GTest REQUIRED)
  endif()
  include(GoogleTest)
  add_executable(${name}_test ${sources})
  target_link_libraries(${name}_test PRIVATE fulgur::fulgur GTest::gtest_main ${libraries})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_include_directories(${name}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)
  endif()
  get_target_property(plugin_dir ${target} LIBRARY_OUTPUT_DIRECTORY)
  add_dependencies(${name}_test ${target})
  if(FULGUR_IN_TREE)
    # Beside the kernel's test programs; the tests may load any plugin of the tree.
    target_link_libraries(${name}_test PRIVATE fulgur_testing)
    set_target_properties(${name}_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
    add_dependencies(${name}_test fulgur_plugins)
    fulgur_use_pch(${name}_test)
  endif()
  gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "FULGUR_PLUGIN_PATH=${plugin_dir}")
endfunction()
