# Helpers shared by every layer and executable.
#
# berth_layer(NAME <layer> DEPS <targets...>): src/<layer>/**/*.cc (tests excluded) become the
# static library berth_<layer>. Unit tests beside the code (src/<layer>/**/*_test.cc) become one
# executable per layer, berth_<layer>_tests, so a layer's tests link only what that layer needs.
function(berth_layer)
  cmake_parse_arguments(L "" "NAME" "DEPS;TEST_DEPS" ${ARGN})
  set(dir ${PROJECT_SOURCE_DIR}/src/${L_NAME})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_test\\.cc$")
  if(srcs)
    add_library(berth_${L_NAME} STATIC ${srcs})
    target_include_directories(berth_${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(berth_${L_NAME} PUBLIC ${L_DEPS})
  else()  # a layer still being written: headers only
    add_library(berth_${L_NAME} INTERFACE)
    target_include_directories(berth_${L_NAME} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(berth_${L_NAME} INTERFACE ${L_DEPS})
  endif()
  if(BUILD_TESTING)
    file(GLOB_RECURSE tests CONFIGURE_DEPENDS ${dir}/*_test.cc)
    if(tests)
      add_executable(berth_${L_NAME}_tests ${tests})
      target_link_libraries(berth_${L_NAME}_tests PRIVATE berth_${L_NAME} ${L_TEST_DEPS}
                            GTest::gtest GTest::gtest_main)
      gtest_discover_tests(berth_${L_NAME}_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 30)
    endif()
  endif()
endfunction()

# berth_command(NAME <exe> DEPS <targets...>): cmd/<exe>/*.cc become the executable.
function(berth_command)
  cmake_parse_arguments(C "" "NAME" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cmd/${C_NAME}/*.cc)
  if(NOT srcs)
    return()
  endif()
  add_executable(${C_NAME} ${srcs})
  target_link_libraries(${C_NAME} PRIVATE ${C_DEPS})
  target_compile_definitions(${C_NAME} PRIVATE BERTH_VERSION="${PROJECT_VERSION}")
  install(TARGETS ${C_NAME} RUNTIME DESTINATION bin)
endfunction()

# berth_python_tests(DIR <dir> LABEL <label> [ENV k=v...]): every <dir>/*_test.py is one ctest
# entry named <label>.<file>, with the built binaries and the source dir in its environment.
function(berth_python_tests)
  cmake_parse_arguments(P "" "DIR;LABEL;TIMEOUT" "ENV" ${ARGN})
  if(NOT P_TIMEOUT)
    set(P_TIMEOUT 600)
  endif()
  file(GLOB tests CONFIGURE_DEPENDS ${P_DIR}/*_test.py)
  foreach(test_file ${tests})
    get_filename_component(test_name ${test_file} NAME_WE)
    add_test(NAME ${P_LABEL}.${test_name} COMMAND python3 ${test_file} -v)
    set_tests_properties(${P_LABEL}.${test_name} PROPERTIES
      LABELS ${P_LABEL}
      TIMEOUT ${P_TIMEOUT}
      ENVIRONMENT "BERTH_SOURCE_DIR=${PROJECT_SOURCE_DIR};BERTH_BUILD_DIR=${PROJECT_BINARY_DIR};${P_ENV}")
  endforeach()
endfunction()
