/* colorize_pgm: read a binary 8-bit PGM (P5), colorize it, write a binary PPM (P6).
 *
 *   cc colorize_pgm.c -I../include -L../target/release -lcolorize -o colorize_pgm
 *   ./colorize_pgm photo.pgm photo.ppm [model.onnx]
 *
 * Without a model file the library's embedded default model is used. */
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
  if (argc == 4 && colorize_model_load_file(argv[3], &model) != COLORIZE_OK) {
    fprintf(stderr, "%s: %s\n", argv[3], colorize_last_error());
    free(px);
    return 1;
  }
  colorize_options options = colorize_options_default();
  colorize_status status = colorize_rgb8(model, &options, px, w, h, w * 3, 3);
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
