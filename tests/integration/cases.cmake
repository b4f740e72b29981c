# One CTest test per Python test method, discovered at configure time so
# that the list cannot drift from the files.
execute_process(
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/list_tests.py
  OUTPUT_VARIABLE GS_IT_IDS OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE GS_IT_RC)
if(NOT GS_IT_RC EQUAL 0 OR GS_IT_IDS STREQUAL "")
  message(FATAL_ERROR "cannot list the integration tests")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/list_tests.py)
file(GLOB GS_IT_FILES ${CMAKE_CURRENT_LIST_DIR}/test_*.py)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${GS_IT_FILES})
string(REPLACE "\n" ";" GS_IT_IDS "${GS_IT_IDS}")
foreach(id IN LISTS GS_IT_IDS)
  add_test(NAME it.${id}
    COMMAND ${Python3_EXECUTABLE} -m unittest -v ${id}
    WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
  set_tests_properties(it.${id} PROPERTIES LABELS integration TIMEOUT 300
    ENVIRONMENT "GROUPSYNC_BIN=$<TARGET_FILE:groupsync>;GS_SHARED_DIR=${GS_SHARED_DIR};PYTHONDONTWRITEBYTECODE=1")
endforeach()

# The Okta stand-in's own self-test (tests/standins): the tests above rely on it.
add_test(NAME standin.okta
  COMMAND ${Python3_EXECUTABLE} -m unittest test_okta_standin
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR}/../standins)
set_tests_properties(standin.okta PROPERTIES LABELS integration TIMEOUT 600
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
