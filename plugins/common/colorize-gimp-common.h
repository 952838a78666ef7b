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

/* Colorizes `source` into `destination` (normally the drawable's shadow buffer).
 *
 * The network sees the whole extent of `source` (colour depends on the whole picture,
 * and this makes a selection's inside equal to what the whole image would get), but
 * only `write_area` is written to `destination`; GIMP's merge_shadow then blends it
 * through the selection mask, which is how feathering is honoured. Alpha is copied
 * unchanged. Runs the library call on a worker thread and pulses `progress` while it
 * works. Returns FALSE with `error` set on failure; `destination` is then untouched. */
gboolean colorize_gimp_process_buffer (GeglBuffer              *source,
                                       GeglBuffer              *destination,
                                       const GeglRectangle     *write_area,
                                       const colorize_model    *model,
                                       const colorize_options  *options,
                                       const ColorizeProgress  *progress,
                                       GError                 **error);

/* The names offered in the dialogs' model lists. NULL-terminated, static. */
const gchar * const *colorize_gimp_model_names (void);

G_END_DECLS

#endif
