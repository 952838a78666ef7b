/* Code shared by the GIMP 2.10 and GIMP 3 plug-ins: everything that needs GEGL and babl
 * but not libgimp (so it is the same for both GIMPs and testable without one).
 *
 * Colour science stays in libcolorize. babl's only job here is to turn whatever the
 * drawable holds (8/16/32-bit integer, half or float, linear or perceptual, any colour
 * space GIMP attached) into float sRGB and back. We deliberately never go through babl's
 * "CIE Lab" formats: those are D50-relative (ICC), while libcolorize's L*a*b* is D65
 * (sRGB's own white), and mixing them would tint greys. The library converts sRGB to
 * its own Lab, keeps each pixel's L*, replaces a*b*, and maps back into gamut at
 * constant L* — the same code path as the command-line tool, so results agree with it.
 */
#ifndef COLORIZE_GIMP_COMMON_H
#define COLORIZE_GIMP_COMMON_H

#include <glib.h>
#include <gegl.h>

#include "colorize.h"

G_BEGIN_DECLS

#define COLORIZE_GIMP_ERROR (colorize_gimp_error_quark ())
GQuark colorize_gimp_error_quark (void);

/* Where the plug-in reports progress; both callbacks may be NULL. */
typedef struct
{
  void   (*update) (gdouble fraction, gpointer data); /* 0..1 */
  void   (*pulse)  (gpointer data);                   /* "still busy", fraction unknown */
  gpointer data;
} ColorizeProgress;

/* Loads the model the user asked for. `spec` is "" or "default" for the embedded
 * default model, one of the embedded model names (landscape-l2, …), or a path to an
 * .onnx file. Returns a model the caller frees with colorize_model_free(), or NULL with
 * `error` set to a message fit for the user. */
colorize_model *colorize_gimp_load_model (const gchar  *spec,
                                          GError      **error);

/* A colorized copy of a whole layer, as float sRGB(A), waiting to be written back. */
typedef struct
{
  gfloat        *pixels;   /* owned; g_free'd by colorize_gimp_result_clear() */
  const Babl    *format;   /* the babl float format of `pixels` */
  GeglRectangle  extent;   /* the layer's extent the pixels cover */
  gsize          stride;   /* floats per row */
  gsize          channels; /* 3, or 4 with alpha (copied unchanged) */
} ColorizeResult;

/* Step 1: reads the whole of `source` (any mode — RGB, GRAY, INDEXED —, any precision)
 * as float sRGB through babl and colorizes it with the library on a worker thread,
 * pulsing `progress` while it works. Changes nothing in GIMP, so a failure (FALSE,
 * `error` set) leaves the image as it was. The network sees the whole layer: colour
 * depends on the whole picture, and the inside of a selection then gets exactly what
 * the whole image would. */
gboolean colorize_gimp_compute (GeglBuffer              *source,
                                const colorize_model    *model,
                                const colorize_options  *options,
                                const ColorizeProgress  *progress,
                                ColorizeResult          *result,
                                GError                 **error);

/* Step 2: writes `write_area` of the result into `destination` (the drawable's shadow
 * buffer, after any conversion to RGB); GIMP's merge_shadow then blends it in through
 * the selection mask, which is how feathering is honoured. */
void     colorize_gimp_write   (const ColorizeResult    *result,
                                GeglBuffer              *destination,
                                const GeglRectangle     *write_area,
                                const ColorizeProgress  *progress);

void     colorize_gimp_result_clear (ColorizeResult *result);

/* The names offered in the dialogs' model lists. NULL-terminated, static. */
const gchar * const *colorize_gimp_model_names (void);

G_END_DECLS

#endif
