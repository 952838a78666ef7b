/* Shared by both GIMP plug-ins; see colorize-gimp-common.h for why it looks like this. */
#include <string.h>

#include <babl/babl.h>

#include "colorize-gimp-common.h"

/* How often the progress bar is pulsed while the library works (microseconds). */
#define PULSE_INTERVAL_US (100 * 1000)

G_DEFINE_QUARK (colorize-gimp-error-quark, colorize_gimp_error)

static const gchar * const model_names[] = {
  "default", "general", "landscape-l2", "landscape-huber", "landscape-pmse", NULL
};

const gchar * const *
colorize_gimp_model_names (void)
{
  return model_names;
}

/* colorize_last_error() is thread-local and only valid until the next call: copy it. */
static gchar *
library_message (colorize_status status)
{
  const gchar *detail = colorize_last_error ();

  if (detail != NULL && *detail != '\0')
    return g_strdup (detail);
  return g_strdup (colorize_status_str (status));
}

colorize_model *
colorize_gimp_load_model (const gchar  *spec,
                          GError      **error)
{
  const gboolean   wants_default = (spec == NULL || *spec == '\0' ||
                                    strcmp (spec, "default") == 0);
  colorize_model  *model = NULL;
  colorize_status  status;
  gchar           *detail;

  status = colorize_model_load_named (wants_default ? "default" : spec, &model);
  if (status == COLORIZE_OK)
    return model;

  detail = library_message (status);
  if (wants_default)
    {
      g_set_error (error, COLORIZE_GIMP_ERROR, status,
                   "No default model is available: %s. Give an embedded model's "
                   "name or the path of an .onnx model file.", detail);
      g_free (detail);
      return NULL;
    }
  if (status != COLORIZE_ERROR_NO_MODEL)
    {
      g_set_error (error, COLORIZE_GIMP_ERROR, status,
                   "The embedded model \"%s\" could not be loaded: %s", spec, detail);
      g_free (detail);
      return NULL;
    }
  g_free (detail);

  /* Not an embedded name: it must be a file. */
  if (! g_file_test (spec, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_NO_MODEL,
                   "Unknown model \"%s\": it is neither an embedded model "
                   "(default, general, landscape-l2, landscape-huber, landscape-pmse) "
                   "nor an existing .onnx file.", spec);
      return NULL;
    }
  status = colorize_model_load_file (spec, &model);
  if (status == COLORIZE_OK)
    return model;

  detail = library_message (status);
  g_set_error (error, COLORIZE_GIMP_ERROR, status,
               "Could not use the model file \"%s\": %s", spec, detail);
  g_free (detail);
  return NULL;
}

/* One library call, run on a worker thread so that the plug-in's main thread can keep
 * GIMP's progress bar alive. The job owns nothing: the pixel buffer belongs to the
 * caller of colorize_gimp_process_buffer(), which joins the thread before freeing it. */
typedef struct
{
  const colorize_model   *model;
  const colorize_options *options;
  gfloat                 *pixels;
  gsize                   width;
  gsize                   height;
  gsize                   stride;   /* in floats */
  gsize                   channels; /* 3 or 4 */
  gboolean                linear;
  colorize_status         status;
  gchar                  *message;  /* set by the worker on failure; freed by the caller */
  gint                    done;     /* atomic */
} ColorizeJob;

static gpointer
colorize_job_run (gpointer data)
{
  ColorizeJob *job = data;

  job->status = colorize_rgb_float (job->model, job->options, job->pixels,
                                    job->width, job->height, job->stride,
                                    job->channels, job->linear);
  if (job->status != COLORIZE_OK)
    job->message = library_message (job->status);
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

/* Perceptual formats ("R'G'B'A", "Y'", "R~G~B~A" …) are read as sRGB-encoded float so a
 * round trip through 8-/16-bit storage adds no extra transfer-curve rounding; linear
 * ones as linear-light float. */
static gboolean
format_is_linear (const Babl *format)
{
  const gchar *model_name = babl_get_name (babl_format_get_model (format));

  return strchr (model_name, '\'') == NULL && strchr (model_name, '~') == NULL;
}

/* COLORIZE_GIMP_TIMING=1 in GIMP's environment prints where the time goes (to stderr). */
static void
report_timing (const gchar *phase, gint64 since_us, const GeglRectangle *extent)
{
  static gint enabled = -1;

  if (enabled < 0)
    enabled = g_getenv ("COLORIZE_GIMP_TIMING") != NULL;
  if (enabled)
    g_printerr ("colorize: %s %d×%d: %.3f s\n", phase, extent->width, extent->height,
                (g_get_monotonic_time () - since_us) / 1e6);
}

static void
progress_update (const ColorizeProgress *progress, gdouble fraction)
{
  if (progress != NULL && progress->update != NULL)
    progress->update (fraction, progress->data);
}

static void
progress_pulse (const ColorizeProgress *progress)
{
  if (progress != NULL && progress->pulse != NULL)
    progress->pulse (progress->data);
}

gboolean
colorize_gimp_compute (GeglBuffer              *source,
                       const colorize_model    *model,
                       const colorize_options  *options,
                       const ColorizeProgress  *progress,
                       ColorizeResult          *result,
                       GError                 **error)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (source);
  const Babl          *source_format = gegl_buffer_get_format (source);
  const gboolean       has_alpha = babl_format_has_alpha (source_format);
  const gboolean       linear = format_is_linear (source_format);
  const gsize          channels = has_alpha ? 4 : 3;
  const Babl          *float_format;
  gsize                stride;
  gfloat              *pixels;
  ColorizeJob          job = { 0 };
  GThread             *thread;
  GError              *thread_error = NULL;
  gint64               started;

  memset (result, 0, sizeof (*result));
  if (linear)
    float_format = babl_format (has_alpha ? "RGBA float" : "RGB float");
  else
    float_format = babl_format (has_alpha ? "R'G'B'A float" : "R'G'B' float");

  stride = (gsize) extent->width * channels;
  pixels = g_try_malloc_n ((gsize) extent->height, stride * sizeof (gfloat));
  if (pixels == NULL)
    {
      g_set_error (error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_TOO_LARGE,
                   "Not enough memory to colorize a %d × %d layer (%zu MiB needed).",
                   extent->width, extent->height,
                   ((gsize) extent->height * stride * sizeof (gfloat)) >> 20);
      return FALSE;
    }

  progress_update (progress, 0.0);
  started = g_get_monotonic_time ();
  gegl_buffer_get (source, extent, 1.0, float_format, pixels,
                   (gint) (stride * sizeof (gfloat)), GEGL_ABYSS_NONE);
  report_timing ("read pixels from GIMP", started, extent);
  progress_update (progress, 0.05);

  job.model    = model;
  job.options  = options;
  job.pixels   = pixels;
  job.width    = (gsize) extent->width;
  job.height   = (gsize) extent->height;
  job.stride   = stride;
  job.channels = channels;
  job.linear   = linear;

  started = g_get_monotonic_time ();
  thread = g_thread_try_new ("colorize", colorize_job_run, &job, &thread_error);
  if (thread == NULL)
    {
      /* No thread: run it here, just without a live progress bar. */
      g_clear_error (&thread_error);
      colorize_job_run (&job);
    }
  else
    {
      while (! g_atomic_int_get (&job.done))
        {
          g_usleep (PULSE_INTERVAL_US);
          if (! g_atomic_int_get (&job.done))
            progress_pulse (progress);
        }
      g_thread_join (thread);
    }
  report_timing ("libcolorize", started, extent);

  if (job.status != COLORIZE_OK)
    {
      g_set_error (error, COLORIZE_GIMP_ERROR, job.status,
                   "Colorizing failed (%s): %s",
                   colorize_status_str (job.status), job.message);
      g_free (job.message);
      g_free (pixels);
      return FALSE;
    }
  progress_update (progress, 0.9);

  result->pixels   = pixels;
  result->format   = float_format;
  result->extent   = *extent;
  result->stride   = stride;
  result->channels = channels;
  return TRUE;
}

void
colorize_gimp_write (const ColorizeResult   *result,
                     GeglBuffer             *destination,
                     const GeglRectangle    *write_area,
                     const ColorizeProgress *progress)
{
  GeglRectangle area;
  gint64        started;

  if (result->pixels == NULL ||
      ! gegl_rectangle_intersect (&area, write_area, &result->extent))
    return; /* nothing of the layer to change */

  started = g_get_monotonic_time ();
  gegl_buffer_set (destination, &area, 0, result->format,
                   result->pixels
                     + (gsize) (area.y - result->extent.y) * result->stride
                     + (gsize) (area.x - result->extent.x) * result->channels,
                   (gint) (result->stride * sizeof (gfloat)));
  gegl_buffer_flush (destination);
  report_timing ("write pixels to GIMP", started, &area);
  progress_update (progress, 1.0);
}

void
colorize_gimp_result_clear (ColorizeResult *result)
{
  g_clear_pointer (&result->pixels, g_free);
}
