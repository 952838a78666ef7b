/* The C ABI from real C: every export, bad arguments, outputs untouched on failure,
 * strides with garbage padding, threads. Run by tests/capi.rs as:
 *   capi_test LINEAR_MODEL.onnx BROKEN_MODEL.onnx HAS_DEFAULT(0|1)
 * LINEAR_MODEL predicts a* = 0.5 (L* - 50), b* = -0.25 (L* - 50) per pixel. */
#include "colorize.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* Every function of the header, so a missing export fails to link. */
typedef void (*any_function)(void);
static const any_function every_export[] = {
  (any_function)colorize_options_default, (any_function)colorize_model_load_file, (any_function)colorize_model_load_memory,
  (any_function)colorize_model_load_named, (any_function)colorize_model_free, (any_function)colorize_model_metadata,
  (any_function)colorize_l_channel, (any_function)colorize_l_channel_with_model, (any_function)colorize_rgb8,
  (any_function)colorize_rgb16, (any_function)colorize_rgb_float, (any_function)colorize_last_error,
  (any_function)colorize_status_str, (any_function)colorize_version,
};

static float test_l(size_t x, size_t y) { return (float)((x * 7 + y * 13) % 101); }

static void test_version_and_statuses(void) {
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", COLORIZE_VERSION_MAJOR, COLORIZE_VERSION_MINOR, COLORIZE_VERSION_PATCH);
  CHECK(strcmp(colorize_version(), expected) == 0, "version %s vs macros %s", colorize_version(), expected);
  CHECK(strcmp(colorize_version(), COLORIZE_VERSION_STRING) == 0, "version string");
  for (int s = COLORIZE_OK; s <= COLORIZE_ERROR_PANIC; s++) {
    const char *text = colorize_status_str((colorize_status)s);
    CHECK(text != NULL && strlen(text) > 0, "status %d has no text", s);
  }
  colorize_options o = colorize_options_default();
  CHECK(o.working_size == 0 && o.saturation == 1.0f && o.mode == COLORIZE_MODE_WORKING && o.tile_size == 0, "defaults");
  for (size_t i = 0; i < sizeof every_export / sizeof every_export[0]; i++) CHECK(every_export[i] != NULL, "export %zu", i);
}

static colorize_model *test_loading(const char *model_path, const char *broken_path, int has_default) {
  colorize_model *const sentinel = (colorize_model *)(uintptr_t)0x1234;
  colorize_model *m = sentinel;
  EXPECT_STATUS(colorize_model_load_file(NULL, &m), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_model_load_file(model_path, NULL), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_model_load_file("/nonexistent/model.onnx", &m), COLORIZE_ERROR_MODEL_LOAD);
  EXPECT_STATUS(colorize_model_load_file(broken_path, &m), COLORIZE_ERROR_MODEL_CONTRACT);
  CHECK(strstr(colorize_last_error(), "channel") != NULL, "contract message: %s", colorize_last_error());
  EXPECT_STATUS(colorize_model_load_memory(NULL, 10, &m), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_model_load_memory((const uint8_t *)"x", 0, &m), COLORIZE_ERROR_MODEL_LOAD);
  EXPECT_STATUS(colorize_model_load_memory((const uint8_t *)"not an onnx file", 16, &m), COLORIZE_ERROR_MODEL_LOAD);
  EXPECT_STATUS(colorize_model_load_memory((const uint8_t *)"x", SIZE_MAX, &m), COLORIZE_ERROR_TOO_LARGE);
  EXPECT_STATUS(colorize_model_load_named(NULL, &m), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_model_load_named("no-such-model", &m), COLORIZE_ERROR_NO_MODEL);
  CHECK(strstr(colorize_last_error(), "no-such-model") != NULL, "names the model: %s", colorize_last_error());
  if (!has_default) {
    EXPECT_STATUS(colorize_model_load_named("default", &m), COLORIZE_ERROR_NO_MODEL);
    CHECK(strstr(colorize_last_error(), "no embedded default model") != NULL, "%s", colorize_last_error());
  } else {
    colorize_model *d = NULL;
    EXPECT_STATUS(colorize_model_load_named("default", &d), COLORIZE_OK);
    colorize_model_free(d);
  }
  CHECK(m == sentinel, "out written on failure");
  colorize_model_free(NULL);

  size_t len = 0;
  unsigned char *bytes = read_file(model_path, &len);
  CHECK(bytes != NULL, "read %s", model_path);
  colorize_model *from_memory = NULL;
  EXPECT_STATUS(colorize_model_load_memory(bytes, len, &from_memory), COLORIZE_OK);
  free(bytes); /* the library copied what it needs */
  CHECK(from_memory != NULL, "memory model");
  CHECK(colorize_model_metadata(from_memory, "colorize.loss") != NULL &&
            strcmp(colorize_model_metadata(from_memory, "colorize.loss"), "none") == 0, "metadata");
  CHECK(colorize_model_metadata(from_memory, "colorize.absent") == NULL, "absent key");
  CHECK(colorize_model_metadata(from_memory, NULL) == NULL, "NULL key");
  CHECK(colorize_model_metadata(NULL, "colorize.loss") == NULL, "NULL model");
  colorize_model_free(from_memory);

  EXPECT_STATUS(colorize_model_load_file(model_path, &m), COLORIZE_OK);
  CHECK(strlen(colorize_last_error()) == 0, "message cleared after success");
  return m;
}

static void test_l_channel(const colorize_model *m, int has_default) {
  colorize_options native = colorize_options_default();
  native.mode = COLORIZE_MODE_NATIVE;
  native.tile_size = 64;
  const size_t sizes[][2] = {{1, 1}, {3, 1000}, {1000, 3}, {257, 129}};
  for (size_t k = 0; k < 4; k++) {
    size_t w = sizes[k][0], h = sizes[k][1], ls = w + 3, as = 2 * w + 5;
    float *l = malloc(sizeof(float) * ls * h), *ab = malloc(sizeof(float) * as * h);
    for (size_t i = 0; i < ls * h; i++) l[i] = NAN; /* garbage in the padding */
    for (size_t i = 0; i < as * h; i++) ab[i] = -777.0f;
    for (size_t y = 0; y < h; y++)
      for (size_t x = 0; x < w; x++) l[y * ls + x] = test_l(x, y);
    EXPECT_STATUS(colorize_l_channel_with_model(m, &native, l, w, h, ls, ab, as), COLORIZE_OK);
    int bad = 0;
    for (size_t y = 0; y < h; y++) {
      for (size_t x = 0; x < w; x++) {
        float L = test_l(x, y), a = ab[y * as + 2 * x], b = ab[y * as + 2 * x + 1];
        if (fabsf(a - 0.5f * (L - 50.0f)) > 1e-3f || fabsf(b + 0.25f * (L - 50.0f)) > 1e-3f) bad++;
      }
      for (size_t x = 2 * w; x < as && y + 1 < h; x++) if (ab[y * as + x] != -777.0f) bad++;
    }
    CHECK(bad == 0, "%zux%zu: %d wrong values", w, h, bad);
    /* working mode (default options) also gives finite values everywhere */
    EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, w, h, ls, ab, as), COLORIZE_OK);
    for (size_t y = 0; y < h; y++)
      for (size_t x = 0; x < 2 * w; x++) if (!isfinite(ab[y * as + x])) bad++;
    CHECK(bad == 0, "%zux%zu working mode: non-finite values", w, h);
    free(l);
    free(ab);
  }

  float l[16], ab[32];
  for (int i = 0; i < 16; i++) l[i] = 40.0f;
  for (int i = 0; i < 32; i++) ab[i] = 9.0f;
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, NULL, 4, 4, 4, ab, 8), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 4, 4, NULL, 8), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 0, 4, 4, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 0, 4, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 4, 3, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 4, 4, ab, 7), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, SIZE_MAX / 2, 3, SIZE_MAX, ab, SIZE_MAX), COLORIZE_ERROR_TOO_LARGE);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, SIZE_MAX, 1, SIZE_MAX, ab, SIZE_MAX), COLORIZE_ERROR_TOO_LARGE);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 4, 4, (float *)l, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  colorize_options bad_mode = colorize_options_default();
  *(int *)&bad_mode.mode = 7; /* an uninitialised field, as C callers may pass */
  EXPECT_STATUS(colorize_l_channel_with_model(m, &bad_mode, l, 4, 4, 4, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  colorize_options bad_sat = colorize_options_default();
  bad_sat.saturation = NAN;
  EXPECT_STATUS(colorize_l_channel_with_model(m, &bad_sat, l, 4, 4, 4, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  l[5] = NAN;
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 4, 4, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(colorize_last_error(), "NaN") != NULL, "NaN named: %s", colorize_last_error());
  l[5] = 150.0f;
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 4, 4, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  l[5] = -20.0f;
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, l, 4, 4, 4, ab, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  l[5] = 40.0f;
  if (!has_default) {
    EXPECT_STATUS(colorize_l_channel(l, 4, 4, 4, ab, 8), COLORIZE_ERROR_NO_MODEL);
    EXPECT_STATUS(colorize_l_channel_with_model(NULL, NULL, l, 4, 4, 4, ab, 8), COLORIZE_ERROR_NO_MODEL);
  }
  int touched = 0;
  for (int i = 0; i < 32; i++) touched += ab[i] != 9.0f;
  CHECK(touched == 0, "ab written by failing calls (%d values)", touched);
  if (has_default) EXPECT_STATUS(colorize_l_channel(l, 4, 4, 4, ab, 8), COLORIZE_OK);
}

static void test_rgb(const colorize_model *m) {
  enum { W = 33, H = 21 };
  uint8_t rgba[H][W * 4 + 4];
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W * 4 + 4; x++) rgba[y][x] = (uint8_t)(x < W * 4 ? (x % 4 == 3 ? 200 : 30 + 5 * y) : 0xAB);
  EXPECT_STATUS(colorize_rgb8(m, NULL, &rgba[0][0], W, H, W * 4 + 4, 4), COLORIZE_OK);
  int bad = 0, coloured = 0;
  for (int y = 0; y < H; y++) {
    for (int x = 0; x < W; x++) {
      bad += rgba[y][4 * x + 3] != 200;
      coloured += rgba[y][4 * x] != rgba[y][4 * x + 2];
    }
    for (int x = W * 4; x < W * 4 + 4; x++) bad += rgba[y][x] != 0xAB;
  }
  CHECK(bad == 0, "alpha or padding changed (%d)", bad);
  CHECK(coloured > 0, "no colour added");
  uint8_t small[12] = {0};
  EXPECT_STATUS(colorize_rgb8(m, NULL, NULL, 2, 2, 6, 3), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_rgb8(m, NULL, small, 2, 2, 6, 2), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_rgb8(m, NULL, small, 2, 2, 5, 3), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_rgb8(m, NULL, small, SIZE_MAX / 2, 2, SIZE_MAX, 3), COLORIZE_ERROR_TOO_LARGE);

  uint16_t rgb16[4 * 3];
  for (int i = 0; i < 12; i++) rgb16[i] = 40000;
  EXPECT_STATUS(colorize_rgb16(m, NULL, rgb16, 2, 2, 6, 3), COLORIZE_OK);
  CHECK(rgb16[0] != rgb16[2], "16-bit colour added");
  EXPECT_STATUS(colorize_rgb16(m, NULL, rgb16, 2, 2, 6, 5), COLORIZE_ERROR_INVALID_ARGUMENT);

  float px[4 * 4];
  for (int i = 0; i < 16; i++) px[i] = (i % 4 == 3) ? 0.25f : 0.6f;
  EXPECT_STATUS(colorize_rgb_float(m, NULL, px, 2, 2, 8, 4, true), COLORIZE_OK);
  CHECK(px[3] == 0.25f && px[0] != px[2], "float alpha kept, colour added");
  px[1] = NAN;
  EXPECT_STATUS(colorize_rgb_float(m, NULL, px, 2, 2, 8, 4, false), COLORIZE_ERROR_INVALID_ARGUMENT);
}

enum { TW = 48, TH = 40, CALLS = 50, THREADS = 8 };
static float thread_l[TW * TH], serial_ab[TW * TH * 2];
struct thread_arg { const colorize_model *m; int ok; };

static void *worker(void *p) {
  struct thread_arg *arg = p;
  float ab[TW * TH * 2];
  arg->ok = 1;
  for (int i = 0; i < CALLS; i++) {
    if (colorize_l_channel_with_model(arg->m, NULL, thread_l, TW, TH, TW, ab, 2 * TW) != COLORIZE_OK ||
        memcmp(ab, serial_ab, sizeof ab) != 0)
      arg->ok = 0;
  }
  return NULL;
}

static void test_threads(const colorize_model *m) {
  for (int i = 0; i < TW * TH; i++) thread_l[i] = (float)((i * 37) % 100);
  EXPECT_STATUS(colorize_l_channel_with_model(m, NULL, thread_l, TW, TH, TW, serial_ab, 2 * TW), COLORIZE_OK);
  pthread_t threads[THREADS];
  struct thread_arg args[THREADS];
  for (int t = 0; t < THREADS; t++) {
    args[t].m = m;
    pthread_create(&threads[t], NULL, worker, &args[t]);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    CHECK(args[t].ok, "thread %d differs from serial", t);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s LINEAR_MODEL BROKEN_MODEL HAS_DEFAULT\n", argv[0]);
    return 2;
  }
  int has_default = atoi(argv[3]);
  test_version_and_statuses();
  colorize_model *m = test_loading(argv[1], argv[2], has_default);
  if (m) {
    test_l_channel(m, has_default);
    test_rgb(m);
    test_threads(m);
    colorize_model_free(m);
  }
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("capi_test: all checks passed (colorize %s)\n", colorize_version());
  return 0;
}
