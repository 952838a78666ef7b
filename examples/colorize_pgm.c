/* colorize_pgm: read a binary 8-bit PGM (P5), colorize it, write a binary PPM (P6).
 *
 *   cc colorize_pgm.c -I../include -L../target/release -lcolorize -o colorize_pgm
 *   ./colorize_pgm photo.pgm photo.ppm [MODEL]
 *
 * MODEL is a model name or a path (colorize_model_load); without it the library's
 * embedded default model is used. Installed: cc colorize_pgm.c $(pkg-config --cflags --libs colorize) */
#include "colorize.h"

#include <stdio.h>
#include <stdlib.h>

static int read_pgm(const char *path, unsigned char **pixels, size_t *width, size_t *height) {
  FILE *f = fopen(path, "rb");
  unsigned maxval = 0;
  if (!f) return 0;
  if (fscanf(f, "P5 %zu %zu %u", width, height, &maxval) != 3 || maxval != 255 || fgetc(f) == EOF ||
      *width == 0 || *height == 0 || *width > 100000 || *height > 100000) {
    fclose(f);
    return 0;
  }
  *pixels = malloc(*width * *height * 3); /* room for RGB in place */
  size_t got = *pixels ? fread(*pixels, 1, *width * *height, f) : 0;
  fclose(f);
  return got == *width * *height;
}

/* Progress: called on this thread with 0..1; prints each quarter reached when
 * COLORIZE_PGM_PROGRESS is set. Returning false would stop the call (buffer untouched). */
static bool report_progress(float fraction, void *user_data) {
  int *last_quarter = user_data;
  int quarter = (int)(fraction * 4.0f);
  if (quarter > *last_quarter && getenv("COLORIZE_PGM_PROGRESS")) fprintf(stderr, "%d%%\n", quarter * 25);
  if (quarter > *last_quarter) *last_quarter = quarter;
  return true;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s IN.pgm OUT.ppm [MODEL.onnx]\n", argv[0]);
    return 2;
  }
  unsigned char *px = NULL;
  size_t w = 0, h = 0;
  if (!read_pgm(argv[1], &px, &w, &h)) {
    fprintf(stderr, "%s: not a binary 8-bit PGM\n", argv[1]);
    free(px);
    return 1;
  }
  /* Grey to RGB in place, from the last pixel backwards. */
  for (size_t i = w * h; i-- > 0;) px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = px[i];

  colorize_model *model = NULL; /* NULL = the embedded default */
  /* A model name ("landscape-pmse", see colorize_model_count) or a path (with / or .onnx). */
  if (argc == 4 && colorize_model_load(argv[3], &model) != COLORIZE_OK) {
    fprintf(stderr, "%s: %s\n", argv[3], colorize_last_error());
    free(px);
    return 1;
  }
  colorize_settings *settings = colorize_settings_new(); /* defaults; NULL would do too */
  int last_quarter = 0;
  colorize_settings_set_progress(settings, report_progress, &last_quarter);
  colorize_status status = colorize_run_rgb8(model, settings, px, w, h, w * 3, 3);
  colorize_settings_free(settings);
  colorize_model_free(model);
  if (status != COLORIZE_OK) {
    fprintf(stderr, "colorize: %s: %s\n", colorize_status_str(status), colorize_last_error());
    free(px);
    return 1;
  }
  FILE *out = fopen(argv[2], "wb");
  int ok = out && fprintf(out, "P6\n%zu %zu\n255\n", w, h) > 0 && fwrite(px, 1, w * h * 3, out) == w * h * 3;
  if (out && fclose(out) != 0) ok = 0;
  free(px);
  if (!ok) {
    fprintf(stderr, "%s: cannot write\n", argv[2]);
    return 1;
  }
  return 0;
}
