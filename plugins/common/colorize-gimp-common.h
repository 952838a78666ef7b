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
 *
 * Threads: the library call runs on a worker thread; everything else here, and every
 * callback into the plug-in, runs on the plug-in's main thread (libgimp and GTK are not
 * thread-safe). The worker only stores the library's progress fraction and reads the
 * cancel flag, both atomically.
 */
#ifndef COLORIZE_GIMP_COMMON_H
#define COLORIZE_GIMP_COMMON_H

#include <glib.h>
#include <gegl.h>

#include "colorize.h"

G_BEGIN_DECLS

#define COLORIZE_GIMP_ERROR (colorize_gimp_error_quark ())
GQuark colorize_gimp_error_quark (void);

/* Progress and cancel of one plug-in run (which may colorize several layers). */
typedef struct
{
  /* Called on the main thread, at most every PROGRESS_INTERVAL (and at the ends), with
   * the fraction of the whole run done (0..1). The plug-in shows it (gimp_progress_update
   * or its own window) and, for its own window, lets GTK handle events there — that is
   * where a click on Cancel arrives. May be NULL. */
  void     (*update) (gdouble fraction, gpointer data);
  gpointer   data;

  /* The part of the whole run the next colorize_gimp_compute() covers: the plug-in sets
   * these before each layer (0, 1 for a single layer). */
  gdouble    first;
  gdouble    last;

  /* Private: set through colorize_gimp_progress_cancel(), read by the worker. */
  gint       cancel_requested; /* atomic */
  gint64     cancel_requested_at; /* monotonic µs; main thread only */
  gint64     last_update_at;      /* monotonic µs; main thread only */
} ColorizeProgress;

/* Of a layer's share of the bar, colorize_gimp_compute() fills the first this much (reading
 * the pixels, then the library) and colorize_gimp_write() the rest. */
#define COLORIZE_GIMP_COMPUTE_PART 0.9

/* A progress that starts at 0 and covers the whole run with one layer. */
void     colorize_gimp_progress_init   (ColorizeProgress *progress,
                                        void            (*update) (gdouble, gpointer),
                                        gpointer          data);

/* Asks the run to stop (main thread: e.g. from a Cancel button's handler). The library
 * sees it at its next progress report and returns COLORIZE_ERROR_CANCELLED without
 * touching the pixels; colorize_gimp_compute() then fails with that code, and the
 * plug-in returns GIMP_PDB_CANCEL with the image as it was. Once writing to GIMP has
 * begun (colorize_gimp_write) a cancel is no longer honoured: the image would otherwise
 * be left half written. */
void     colorize_gimp_progress_cancel (ColorizeProgress *progress);

/* TRUE if `error` says the user cancelled. */
gboolean colorize_gimp_error_is_cancel (const GError *error);

/* Loads the model the user asked for with the library's one rule for names and paths
 * (colorize_model_load): "" or "default" for the default model, a model name from
 * colorize_gimp_model_names(), or the path of an .onnx file. Returns a model the caller
 * frees with colorize_model_free(), or NULL with `error` set to a message fit for the
 * user. */
colorize_model *colorize_gimp_load_model (const gchar  *spec,
                                          GError      **error);

/* The names offered in the dialogs' model menus: "default" first, then every model the
 * library lists (embedded and installed). A NULL-terminated array to g_strfreev(). */
gchar  **colorize_gimp_model_names (void);

/* The choices of the precision argument: "default" (the library's default, whichever it
 * is: the plug-ins never name it themselves), then the library's precisions by the names
 * the CLI's --precision uses. A NULL-terminated array of static strings. */
extern const gchar *const colorize_gimp_precision_names[];

/* The precision argument's help (the dialog's tooltip), saying whether bf16 runs natively
 * on this CPU. To g_free(). */
gchar   *colorize_gimp_precision_help (void);

/* The settings of one run; see colorize_gimp_compute(). */
typedef struct
{
  gdouble      saturation;   /* multiplies a*, b*; 1.0 = as predicted */
  gint         working_size; /* short side the network runs at; 0 = the model's */
  const gchar *precision;    /* one of colorize_gimp_precision_names; NULL or "" = "default" */
  gdouble      vividness;    /* 0 = the model's default; a regression model ignores it */
} ColorizeParams;

/* The working sizes the dialogs offer, each with a label that says what it does; the
 * list ends with a NULL label. 0 = the size the model was trained at. */
typedef struct
{
  gint         size;
  const gchar *label;
} ColorizeWorkingSize;
extern const ColorizeWorkingSize colorize_gimp_working_sizes[];

/* The working size's help (the dialog's tooltip and the argument's description). */
extern const gchar colorize_gimp_working_size_help[];

/* The folder where a user puts model files of their own (NAME.onnx), to g_free(). */
gchar   *colorize_gimp_user_model_folder (void);

/* The help pages' folder installed beside the plug-in's binary (`program`: its path), as
 * GIMP's help system wants it: a folder holding <language>/gimp-help.xml. To g_free(). */
gchar   *colorize_gimp_help_folder (const gchar *program);

/* The help domain of the plug-in's pages and the help ID of its dialog. */
#define COLORIZE_GIMP_HELP_DOMAIN "colorize"

/* The vividness control's range and help (the dialog's tooltip). */
#define COLORIZE_GIMP_MAX_VIVIDNESS 10.0
extern const gchar colorize_gimp_vividness_help[];

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
 * reporting progress and honouring a cancel. Changes nothing in GIMP, so a failure or a
 * cancel (FALSE, `error` set) leaves the image as it was. The network sees the whole
 * layer: colour depends on the whole picture, and the inside of a selection then gets
 * exactly what the whole image would. */
gboolean colorize_gimp_compute (GeglBuffer              *source,
                                const colorize_model    *model,
                                const ColorizeParams    *params,
                                ColorizeProgress        *progress,
                                ColorizeResult          *result,
                                GError                 **error);

/* Step 2: writes `write_area` of the result into `destination` (the drawable's shadow
 * buffer, after any conversion to RGB); GIMP's merge_shadow then blends it in through
 * the selection mask, which is how feathering is honoured. */
void     colorize_gimp_write   (const ColorizeResult    *result,
                                GeglBuffer              *destination,
                                const GeglRectangle     *write_area,
                                ColorizeProgress        *progress);

void     colorize_gimp_result_clear (ColorizeResult *result);

G_END_DECLS

#endif
