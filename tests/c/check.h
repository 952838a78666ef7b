/* The C tests' assertions: a failed CHECK counts in `failures` and prints where, what and
 * the library's last error; EXPECT_STATUS also wants a message after every error status. */
#ifndef COLORIZE_TEST_CHECK_H
#define COLORIZE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "colorize.h"

static int failures = 0;
#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      failures++;                                                          \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
      fprintf(stderr, __VA_ARGS__);                                        \
      fprintf(stderr, " (last error: %s)\n", colorize_last_error());      \
    }                                                                      \
  } while (0)
#define EXPECT_STATUS(call, expected)                                              \
  do {                                                                             \
    colorize_status got_ = (call);                                                 \
    CHECK(got_ == (expected), "%s gave %d (%s)", #call, (int)got_, colorize_status_str(got_)); \
    if ((expected) != COLORIZE_OK)                                                 \
      CHECK(strlen(colorize_last_error()) > 0, "no message after %s", #call);     \
  } while (0)

#endif
