# One CTest test per Python test method, discovered at configure time so
# that the list cannot drift from the files. Each suite folder becomes a
# prefix: it.* (integration), rel.* (tests/reliability), sec.* (tests/security).
get_filename_component(GS_TESTS_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/list_tests.py)

function(gs_python_suite prefix folder label)
  set(dir ${GS_TESTS_DIR}/${folder})
  if(NOT EXISTS ${dir})
    return()
  endif()
  execute_process(
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/list_tests.py ${dir}
    OUTPUT_VARIABLE ids OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR ids STREQUAL "")
    message(FATAL_ERROR "cannot list the tests in ${folder}: ${err}")
  endif()
  file(GLOB files ${dir}/test_*.py ${dir}/*.py)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  string(REPLACE "\n" ";" ids "${ids}")
  foreach(id IN LISTS ids)
    add_test(NAME ${prefix}.${id}
      COMMAND ${Python3_EXECUTABLE} -m unittest -v ${id}
      WORKING_DIRECTORY ${dir})
    # a skipped test must show as skipped, never as passed
    set_tests_properties(${prefix}.${id} PROPERTIES LABELS ${label} TIMEOUT 600
      SKIP_REGULAR_EXPRESSION "\\.\\.\\. skipped '"
      ENVIRONMENT "GROUPSYNC_BIN=$<TARGET_FILE:groupsync>;GS_TEST_DATA_DIR=${GS_TEST_DATA_DIR};PYTHONDONTWRITEBYTECODE=1;PYTHONPATH=${GS_TESTS_DIR}/integration")
  endforeach()
endfunction()

gs_python_suite(it integration integration)
gs_python_suite(rel reliability reliability)
gs_python_suite(sec security security)

# The Okta stand-in's own self-test (tests/standins): the tests above rely on it.
add_test(NAME standin.okta
  COMMAND ${Python3_EXECUTABLE} -m unittest test_okta_standin
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR}/../standins)
set_tests_properties(standin.okta PROPERTIES LABELS integration TIMEOUT 600
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
