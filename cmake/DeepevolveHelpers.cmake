# Small helpers in the spirit of abseil's AbseilHelpers.cmake: every component is one
# library with explicit dependencies, and every test registers itself with CTest.

set(DEEPEVOLVE_WARNINGS -Wall -Wextra -Wpedantic -Wno-unused-parameter)
if(DEEPEVOLVE_THREAD_SAFETY)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DEEPEVOLVE_THREAD_SAFETY needs clang (-DCMAKE_CXX_COMPILER=clang++)")
  endif()
  # -beta also checks the capabilities of pointers and references (Abseil's
  # MutexLockMaybe, a borrowed mutex).
  list(APPEND DEEPEVOLVE_WARNINGS -Wthread-safety -Wthread-safety-beta -Werror=thread-safety
       -Werror=thread-safety-beta)
endif()

# deepevolve_cc_library(NAME name SRCS ... DEPS ...)
function(deepevolve_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(${ARG_NAME} PRIVATE ${DEEPEVOLVE_WARNINGS})
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# deepevolve_cc_binary(NAME name SRCS ... DEPS ...)
function(deepevolve_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${DEEPEVOLVE_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

# deepevolve_cc_test(NAME name SRCS ... DEPS ... [LABELS ...])
# Links gtest_main and registers each test with CTest through gtest_discover_tests.
function(deepevolve_cc_test)
  if(NOT DEEPEVOLVE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${DEEPEVOLVE_WARNINGS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  include(GoogleTest)
  gtest_discover_tests(${ARG_NAME}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
    PROPERTIES LABELS "${ARG_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()

# deepevolve_fuzz_target(NAME name SRCS ... DEPS ...): a libFuzzer executable (with
# DEEPEVOLVE_FUZZ; its seed corpus is tests/fuzz/corpus/<name>/, run by bench/fuzz.sh).
function(deepevolve_fuzz_target)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${DEEPEVOLVE_WARNINGS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
endfunction()
