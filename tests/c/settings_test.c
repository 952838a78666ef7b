/* The growing part of the C API from real C: colorize_settings (defaults, every setter and
 * its errors, BF16 against F32), progress (non-decreasing, ends at 1, on the calling
 * thread) and cancel (COLORIZE_ERROR_CANCELLED, buffers byte-identical, at every point of a call), threads,
 * colorize_status_str on any int, the model list and the name-or-path loader. Run by
 * tests/capi.rs as:
 *   settings_test LINEAR_MODEL.onnx HAS_DEFAULT(0|1) INSTALLED_NAME [WIDE_MODEL.onnx]
 * with COLORIZE_MODEL_PATH naming a folder that holds INSTALLED_NAME.onnx (a copy of
 * LINEAR_MODEL, which predicts a* = 0.5 (L* - 50), b* = -0.25 (L* - 50)); WIDE_MODEL
 * (tests/common's wide_model) is used only to compare BF16 with F32. */
#include "colorize.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A W x H RGBA image with a gradient and a stride with padding; big enough that the
 * calls report progress in several chunks (tests/ci.d/61-valgrind.sh builds it smaller). */
#ifndef TEST_WIDTH
#define TEST_WIDTH 1100
#define TEST_HEIGHT 1000
#endif
enum { W = TEST_WIDTH, H = TEST_HEIGHT, CH = 4, STRIDE = W * CH + 12 };

static uint8_t *test_image(void) {
  uint8_t *px = malloc((size_t)STRIDE * H);
  for (size_t y = 0; y < H; y++)
    for (size_t x = 0; x < (size_t)STRIDE; x++)
      px[y * STRIDE + x] = (uint8_t)(x < (size_t)W * CH ? (x / CH * 3 + y * 5) % 256 : 0xA5);
  return px;
}

/* Progress log and a stop after `stop_at` calls (0 = never stop). */
typedef struct {
  float fractions[4096];
  size_t count;
  size_t stop_at;
  pthread_t caller;
  int wrong_thread;
} progress_log;

static bool record(float fraction, void *user_data) {
  progress_log *log = user_data;
  if (!pthread_equal(pthread_self(), log->caller)) log->wrong_thread = 1;
  if (log->count < sizeof log->fractions / sizeof log->fractions[0]) log->fractions[log->count] = fraction;
  log->count++;
  return log->stop_at == 0 || log->count < log->stop_at;
}

static void test_status_str(void) {
  const int unknown[] = {-1, 11, 1000, INT_MIN, INT_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    CHECK(strcmp(colorize_status_str(unknown[i]), "unknown status") == 0, "status %d: %s", unknown[i],
          colorize_status_str(unknown[i]));
  for (int s = COLORIZE_OK; s <= COLORIZE_ERROR_CANCELLED; s++)
    CHECK(strlen(colorize_status_str(s)) > 0 && strcmp(colorize_status_str(s), "unknown status") != 0, "status %d", s);
  CHECK(COLORIZE_ERROR_CANCELLED == 10, "CANCELLED is 10");
}

static void test_setters(const colorize_model *m) {
  EXPECT_STATUS(colorize_settings_set_working_size(NULL, 1), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_settings_set_saturation(NULL, 1), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_settings_set_mode(NULL, COLORIZE_MODE_NATIVE), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_settings_set_tile_size(NULL, 64), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_settings_set_upsampling(NULL, COLORIZE_UPSAMPLING_BILINEAR), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_settings_set_threads(NULL, 1), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_settings_set_precision(NULL, COLORIZE_PRECISION_BF16), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_settings_set_progress(NULL, record, NULL), COLORIZE_ERROR_NULL_POINTER);
  colorize_settings_free(NULL);

  colorize_settings *s = colorize_settings_new();
  CHECK(s != NULL, "settings_new");
  EXPECT_STATUS(colorize_settings_set_saturation(s, -1.0f), COLORIZE_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(colorize_last_error(), "saturation") != NULL, "message names saturation");
  EXPECT_STATUS(colorize_settings_set_saturation(s, NAN), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_saturation(s, INFINITY), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_working_size(s, 9000), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_tile_size(s, 8), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_tile_size(s, 9000), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_mode(s, (colorize_mode)7), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_upsampling(s, (colorize_upsampling)5), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_threads(s, 5000), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_precision(s, (colorize_precision)7), COLORIZE_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(colorize_last_error(), "precision") != NULL && strstr(colorize_last_error(), "COLORIZE_PRECISION_BF16") != NULL,
        "message names the precision and its values: %s", colorize_last_error());

  /* After only failed setters the settings are still the defaults: the same pixels as
   * settings NULL and as the options call with NULL options. */
  uint8_t *by_settings = test_image(), *by_null = test_image(), *by_options = test_image();
  EXPECT_STATUS(colorize_run_rgb8(m, s, by_settings, W, H, STRIDE, CH), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_rgb8(m, NULL, by_null, W, H, STRIDE, CH), COLORIZE_OK);
  EXPECT_STATUS(colorize_rgb8(m, NULL, by_options, W, H, STRIDE, CH), COLORIZE_OK);
  CHECK(memcmp(by_settings, by_null, (size_t)STRIDE * H) == 0, "failed setters changed the settings");
  CHECK(memcmp(by_settings, by_options, (size_t)STRIDE * H) == 0, "settings defaults differ from options defaults");

  /* Threads: a private pool gives the same pixels. */
  uint8_t *threaded = test_image();
  EXPECT_STATUS(colorize_settings_set_threads(s, 2), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_rgb8(m, s, threaded, W, H, STRIDE, CH), COLORIZE_OK);
  CHECK(memcmp(threaded, by_null, (size_t)STRIDE * H) == 0, "2 threads give other pixels");
  EXPECT_STATUS(colorize_settings_set_threads(s, 0), COLORIZE_OK);
  free(threaded);

  /* Saturation 0: grey (R = G = B) wherever the input is. */
  uint8_t *grey = test_image();
  EXPECT_STATUS(colorize_settings_set_saturation(s, 0.0f), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_rgb8(m, s, grey, W, H, STRIDE, CH), COLORIZE_OK);
  int coloured = 0;
  for (size_t y = 0; y < H; y++)
    for (size_t x = 0; x < W; x++) {
      const uint8_t *p = grey + y * STRIDE + x * CH;
      if (abs(p[0] - p[1]) > 1 || abs(p[1] - p[2]) > 1) coloured++;
    }
  CHECK(coloured == 0, "%d coloured pixels at saturation 0", coloured);
  free(grey);

  /* The other setters take their valid values; NATIVE tiles and BILINEAR run. */
  EXPECT_STATUS(colorize_settings_set_saturation(s, 1.0f), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_working_size(s, 64), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_upsampling(s, COLORIZE_UPSAMPLING_BILINEAR), COLORIZE_OK);
  uint8_t *small = test_image();
  EXPECT_STATUS(colorize_run_rgb8(m, s, small, 100, 80, STRIDE, CH), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_mode(s, COLORIZE_MODE_NATIVE), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_tile_size(s, 32), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_rgb8(m, s, small, 100, 80, STRIDE, CH), COLORIZE_OK);
  free(small);
  colorize_settings_free(s);
  free(by_settings);
  free(by_null);
  free(by_options);
}

/* max |BF16 - F32| over the a*, b* of `m` on a PW x PH L* gradient (0.0 .. 99.9), the
 * largest |a*|, |b*| of the F32 run (so a model that predicts zeros cannot pass) and how
 * many values differ. */
enum { PW = 37, PH = 23 };
typedef struct { float worst, largest; size_t differing; } precision_gap;

static precision_gap bf16_against_f32(const colorize_model *m) {
  static float l[PW * PH], ab_f32[PW * PH * 2], ab_bf16[PW * PH * 2];
  precision_gap gap = {0.0f, 0.0f, 0};
  for (size_t i = 0; i < (size_t)PW * PH; i++) l[i] = (float)(i * 37 % 1000) / 10.0f;
  colorize_settings *s = colorize_settings_new();
  EXPECT_STATUS(colorize_settings_set_mode(s, COLORIZE_MODE_NATIVE), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_precision(s, COLORIZE_PRECISION_F32), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_l_channel(m, s, l, PW, PH, PW, ab_f32, 2 * PW), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_precision(s, COLORIZE_PRECISION_BF16), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_l_channel(m, s, l, PW, PH, PW, ab_bf16, 2 * PW), COLORIZE_OK);
  for (size_t i = 0; i < (size_t)PW * PH * 2; i++) {
    const float d = fabsf(ab_bf16[i] - ab_f32[i]);
    if (!(d <= gap.worst)) gap.worst = d; /* NaN too */
    if (fabsf(ab_f32[i]) > gap.largest) gap.largest = fabsf(ab_f32[i]);
    gap.differing += ab_bf16[i] != ab_f32[i];
  }
  colorize_settings_free(s);
  return gap;
}

/* Precision: both values are accepted and BF16 gives a*, b* close to F32's.
 * The linear test model is a 1x1 convolution, a* = 0.5 L* - 25, b* = -0.25 L* + 12.5: were
 * it run in bf16, its input L* (< 128) would be rounded to 8 significant bits, an error of
 * at most 2^-9 of L* < 0.2, so a* would move by at most 0.1 (the weights 0.5, -0.25 are
 * exact in bf16, the accumulation is f32); tolerance 0.25.
 * The linear model's 1x1 convolution is too narrow for the bf16 kernel (tract keeps f32
 * below K = 128), so BF16 gives exactly F32's values there. `wide` (may be NULL) has a 3x3
 * convolution over 64 channels (K = 576) that BF16 does run in bf16: measured max |BF16 -
 * F32| 0.127 of a*, b* up to 37 (Xeon with AMX-BF16; every value differs a little); the
 * tolerance is 4 times that. Where bf16 runs natively some value must differ, or the
 * BF16 setting did not reach the network. */
#define TOLERANCE_WIDE 0.5f
static void test_precision(const colorize_model *linear, const colorize_model *wide) {
  const int native = colorize_precision_runs_natively(COLORIZE_PRECISION_BF16);
  CHECK(colorize_precision_runs_natively(COLORIZE_PRECISION_F32), "F32 runs natively everywhere");
  CHECK(!colorize_precision_runs_natively((colorize_precision)7), "a value outside the enum");
  precision_gap gap = bf16_against_f32(linear);
  CHECK(gap.worst <= 0.25f, "linear model: bf16 a*, b* differ from f32 by up to %g", gap.worst);
  CHECK(gap.largest > 20.0f, "linear model: f32 a*, b* are (almost) zero: largest %g", gap.largest);
  printf("precision: bf16 %s on this CPU; linear model: max |bf16 - f32| of a*, b* = %g (%zu of %d values differ)\n",
         native ? "runs natively" : "runs as f32", gap.worst, gap.differing, PW * PH * 2);
  if (wide == NULL) return;
  gap = bf16_against_f32(wide);
  CHECK(gap.worst <= TOLERANCE_WIDE, "wide model: bf16 a*, b* differ from f32 by up to %g", gap.worst);
  CHECK(gap.largest > 10.0f, "wide model: f32 a*, b* are (almost) zero: largest %g", gap.largest);
  if (native) CHECK(gap.differing > 0, "wide model: BF16 gives exactly F32's values on a CPU with AMX-BF16");
  printf("precision: wide model: max |bf16 - f32| of a*, b* = %g (%zu of %d values differ; largest |a*|, |b*| %g)\n",
         gap.worst, gap.differing, PW * PH * 2, gap.largest);
}

/* A call with progress reports 0..1, never decreasing, on the calling thread, 1 last; a
 * stop after the k-th report for every k returns CANCELLED and leaves the buffer
 * byte-identical (padding included). */
/* Vividness: the setter's range, the default per model, a regression model's refusal at
 * the call (output untouched), and a classification model's more vivid colour. */
static void test_vividness(const colorize_model *regression, const colorize_model *classes) {
  EXPECT_STATUS(colorize_settings_set_vividness(NULL, 1.0f), COLORIZE_ERROR_NULL_POINTER);
  colorize_settings *s = colorize_settings_new();
  EXPECT_STATUS(colorize_settings_set_vividness(s, -1.0f), COLORIZE_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(colorize_last_error(), "vividness") != NULL, "message names vividness: %s", colorize_last_error());
  EXPECT_STATUS(colorize_settings_set_vividness(s, NAN), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_settings_set_vividness(s, 11.0f), COLORIZE_ERROR_INVALID_ARGUMENT);
  CHECK(colorize_model_default_vividness(NULL) == 0.0f, "NULL model: vividness 0");
  CHECK(colorize_model_default_vividness(regression) == 0.0f, "regression model: vividness 0");
  CHECK(colorize_model_default_vividness(classes) == 1.0f, "two-class model: default %g",
        colorize_model_default_vividness(classes));

  EXPECT_STATUS(colorize_settings_set_vividness(s, 3.0f), COLORIZE_OK);
  uint8_t *px = test_image(), *original = test_image();
  EXPECT_STATUS(colorize_run_rgb8(regression, s, px, W, H, STRIDE, CH), COLORIZE_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(colorize_last_error(), "no vividness") != NULL, "regression refusal: %s", colorize_last_error());
  CHECK(memcmp(px, original, (size_t)STRIDE * H) == 0, "a refused call changed the buffer");

  uint8_t *muted = test_image();
  EXPECT_STATUS(colorize_run_rgb8(classes, s, px, W, H, STRIDE, CH), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_vividness(s, 0.0f), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_rgb8(classes, s, muted, W, H, STRIDE, CH), COLORIZE_OK);
  long vivid_chroma = 0, muted_chroma = 0;
  for (size_t y = 0; y < H; y++)
    for (size_t x = 0; x < W; x++) {
      const uint8_t *p = px + y * STRIDE + x * CH, *q = muted + y * STRIDE + x * CH;
      vivid_chroma += abs(p[0] - p[1]) + abs(p[1] - p[2]);
      muted_chroma += abs(q[0] - q[1]) + abs(q[1] - q[2]);
    }
  CHECK(vivid_chroma > muted_chroma, "vividness 3 (%ld) not more colourful than the default (%ld)",
        vivid_chroma, muted_chroma);
  free(px);
  free(original);
  free(muted);
  colorize_settings_free(s);
}

static void test_progress_and_cancel(const colorize_model *m, colorize_mode mode) {
  colorize_settings *s = colorize_settings_new();
  progress_log *log = calloc(1, sizeof *log);
  log->caller = pthread_self();
  EXPECT_STATUS(colorize_settings_set_progress(s, record, log), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_mode(s, mode), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_tile_size(s, 256), COLORIZE_OK);
  uint8_t *px = test_image(), *original = test_image(), *plain = test_image();
  EXPECT_STATUS(colorize_run_rgb8(m, s, px, W, H, STRIDE, CH), COLORIZE_OK);
  size_t reports = log->count;
  CHECK(reports >= 5, "only %zu progress reports", reports);
  CHECK(!log->wrong_thread, "progress called on another thread");
  for (size_t i = 0; i < reports && i < 4096; i++) {
    CHECK(log->fractions[i] >= 0.0f && log->fractions[i] <= 1.0f, "fraction %g", log->fractions[i]);
    if (i > 0) CHECK(log->fractions[i] >= log->fractions[i - 1], "fraction %zu decreases: %g < %g", i, log->fractions[i], log->fractions[i - 1]);
  }
  CHECK(reports > 0 && log->fractions[reports - 1] == 1.0f, "last fraction %g", reports ? log->fractions[reports - 1] : -1.0f);
  /* Progress does not change the result. */
  colorize_settings *no_progress = colorize_settings_new();
  EXPECT_STATUS(colorize_settings_set_mode(no_progress, mode), COLORIZE_OK);
  EXPECT_STATUS(colorize_settings_set_tile_size(no_progress, 256), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_rgb8(m, no_progress, plain, W, H, STRIDE, CH), COLORIZE_OK);
  CHECK(memcmp(px, plain, (size_t)STRIDE * H) == 0, "progress changed the pixels");
  colorize_settings_free(no_progress);

  for (size_t k = 1; k <= reports; k++) { /* the last report (1.0) too */
    memcpy(px, original, (size_t)STRIDE * H);
    log->count = 0;
    log->stop_at = k;
    EXPECT_STATUS(colorize_run_rgb8(m, s, px, W, H, STRIDE, CH), COLORIZE_ERROR_CANCELLED);
    CHECK(log->count == k, "stopped at report %zu, %zu reports", k, log->count);
    CHECK(memcmp(px, original, (size_t)STRIDE * H) == 0, "cancel at report %zu changed the buffer", k);
  }

  /* The other formats: a stop at the last report before 1 leaves them untouched too. */
  float *l = malloc(sizeof(float) * W * H), *ab = malloc(sizeof(float) * 2 * W * H);
  for (size_t i = 0; i < (size_t)W * H; i++) l[i] = (float)(i % 101);
  for (size_t i = 0; i < (size_t)2 * W * H; i++) ab[i] = -999.0f;
  log->count = 0;
  log->stop_at = 0;
  EXPECT_STATUS(colorize_run_l_channel(m, s, l, W, H, W, ab, 2 * W), COLORIZE_OK);
  size_t l_reports = log->count;
  CHECK(ab[0] != -999.0f, "ab not written");
  for (size_t i = 0; i < (size_t)2 * W * H; i++) ab[i] = -999.0f;
  log->count = 0;
  log->stop_at = l_reports - 1;
  EXPECT_STATUS(colorize_run_l_channel(m, s, l, W, H, W, ab, 2 * W), COLORIZE_ERROR_CANCELLED);
  int touched = 0;
  for (size_t i = 0; i < (size_t)2 * W * H; i++) touched += ab[i] != -999.0f;
  CHECK(touched == 0, "cancelled L* call wrote %d floats", touched);

  uint16_t *px16 = malloc(sizeof(uint16_t) * W * H * 3), *orig16 = malloc(sizeof(uint16_t) * W * H * 3);
  float *pxf = malloc(sizeof(float) * W * H * 3), *origf = malloc(sizeof(float) * W * H * 3);
  for (size_t i = 0; i < (size_t)W * H * 3; i++) {
    orig16[i] = px16[i] = (uint16_t)(i * 37);
    origf[i] = pxf[i] = (float)(i % 1000) / 1000.0f;
  }
  log->count = 0;
  log->stop_at = l_reports - 1;
  EXPECT_STATUS(colorize_run_rgb16(m, s, px16, W, H, W * 3, 3), COLORIZE_ERROR_CANCELLED);
  CHECK(memcmp(px16, orig16, sizeof(uint16_t) * W * H * 3) == 0, "cancelled 16-bit call changed the buffer");
  log->count = 0;
  EXPECT_STATUS(colorize_run_rgb_float(m, s, pxf, W, H, W * 3, 3, true), COLORIZE_ERROR_CANCELLED);
  CHECK(memcmp(pxf, origf, sizeof(float) * W * H * 3) == 0, "cancelled float call changed the buffer");
  log->stop_at = 0;
  EXPECT_STATUS(colorize_run_rgb16(m, s, px16, W, H, W * 3, 3), COLORIZE_OK);
  EXPECT_STATUS(colorize_run_rgb_float(m, s, pxf, W, H, W * 3, 3, false), COLORIZE_OK);
  /* Bad arguments fail before any progress report. */
  log->count = 0;
  EXPECT_STATUS(colorize_run_rgb8(m, s, NULL, W, H, STRIDE, CH), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_run_rgb8(m, s, px, W, H, STRIDE, 2), COLORIZE_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(colorize_run_l_channel(m, s, l, W, H, W, l, 2 * W), COLORIZE_ERROR_INVALID_ARGUMENT);
  CHECK(log->count == 0, "%zu reports before failing argument checks", log->count);

  free(px16);
  free(orig16);
  free(pxf);
  free(origf);
  free(l);
  free(ab);
  free(px);
  free(original);
  free(plain);
  free(log);
  colorize_settings_free(s);
}

static void test_models(const char *model_path, int has_default, const char *installed) {
  size_t count = colorize_model_count();
  CHECK(count >= 1, "model count %zu", count);
  CHECK(colorize_model_name_at(count) == NULL, "name past the end");
  CHECK(colorize_model_name_at((size_t)-1) == NULL, "name at SIZE_MAX");
  CHECK(colorize_model_metadata_at(count, "colorize.format") == NULL, "metadata past the end");
  size_t found = count;
  for (size_t i = 0; i < count; i++) {
    const char *name = colorize_model_name_at(i);
    CHECK(name != NULL && strlen(name) > 0, "name %zu", i);
    if (name && strcmp(name, installed) == 0) found = i;
  }
  CHECK(found < count, "installed model %s not listed", installed);
  if (found < count) {
    const char *format = colorize_model_metadata_at(found, "colorize.format");
    CHECK(format != NULL && strcmp(format, "1") == 0, "colorize.format of %s: %s", installed, format ? format : "NULL");
    CHECK(colorize_model_metadata_at(found, "no.such.key") == NULL, "absent key");
    CHECK(colorize_model_metadata_at(found, NULL) == NULL, "NULL key");
    /* Names stay valid: a second listing gives the same pointer. */
    const char *first = colorize_model_name_at(found);
    CHECK(colorize_model_count() == count && colorize_model_name_at(found) == first, "name storage is stable");
  }

  colorize_model *const sentinel = (colorize_model *)(uintptr_t)0x1234;
  colorize_model *m = sentinel;
  EXPECT_STATUS(colorize_model_load(NULL, &m), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_model_load(installed, NULL), COLORIZE_ERROR_NULL_POINTER);
  EXPECT_STATUS(colorize_model_load("no-such-model", &m), COLORIZE_ERROR_NO_MODEL);
  EXPECT_STATUS(colorize_model_load("./no-such-model", &m), COLORIZE_ERROR_MODEL_LOAD);
  EXPECT_STATUS(colorize_model_load("no-such-model.onnx", &m), COLORIZE_ERROR_MODEL_LOAD);
  CHECK(m == sentinel, "out written on failure");
  EXPECT_STATUS(colorize_model_load(installed, &m), COLORIZE_OK);
  CHECK(m != sentinel && strcmp(colorize_model_metadata(m, "colorize.format"), "1") == 0, "installed by name");
  colorize_model_free(m);
  m = sentinel;
  EXPECT_STATUS(colorize_model_load(model_path, &m), COLORIZE_OK);
  CHECK(m != sentinel, "by path");
  colorize_model_free(m);
  m = sentinel;
  EXPECT_STATUS(colorize_model_load("default", &m), has_default ? COLORIZE_OK : COLORIZE_ERROR_NO_MODEL);
  if (has_default) colorize_model_free(m);
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 6) {
    fprintf(stderr, "usage: %s LINEAR_MODEL HAS_DEFAULT INSTALLED_NAME [WIDE_MODEL [CLASSES_MODEL]]\n", argv[0]);
    return 2;
  }
  test_status_str();
  colorize_model *m = NULL;
  EXPECT_STATUS(colorize_model_load(argv[1], &m), COLORIZE_OK);
  if (m) {
    test_setters(m);
    colorize_model *wide = NULL;
    if (argc >= 5) EXPECT_STATUS(colorize_model_load(argv[4], &wide), COLORIZE_OK);
    test_precision(m, wide);
    colorize_model_free(wide);
    colorize_model *classes = NULL;
    if (argc == 6) {
      EXPECT_STATUS(colorize_model_load(argv[5], &classes), COLORIZE_OK);
      if (classes) test_vividness(m, classes);
      colorize_model_free(classes);
    }
    test_progress_and_cancel(m, COLORIZE_MODE_WORKING);
    test_progress_and_cancel(m, COLORIZE_MODE_NATIVE);
    colorize_model_free(m);
  }
  test_models(argv[1], atoi(argv[2]), argv[3]);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
