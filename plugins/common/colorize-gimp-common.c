/* Shared by both GIMP plug-ins; see colorize-gimp-common.h for why it looks like this. */
#include <string.h>

#include <babl/babl.h>

#include "colorize-gimp-common.h"

/* How often the main thread looks at the worker (µs): bounds how late a Cancel reaches
 * the flag the library reads. */
#define POLL_INTERVAL_US (20 * 1000)
/* How often the plug-in's progress display is updated (µs): each GIMP update is a
 * round trip to GIMP, so not on every band or library report. */
#define PROGRESS_INTERVAL_US (50 * 1000)
/* Rows read from / written to GIMP at a time, so that progress moves and a cancel is
 * seen while a large layer is transferred. */
#define BAND_ROWS 256

/* The parts of one layer's share of the progress bar. */
#define READ_END    0.10
#define LIBRARY_END COLORIZE_GIMP_COMPUTE_PART

G_DEFINE_QUARK (colorize-gimp-error-quark, colorize_gimp_error)

void
colorize_gimp_progress_init (ColorizeProgress *progress,
                             void            (*update) (gdouble, gpointer),
                             gpointer          data)
{
  memset (progress, 0, sizeof (*progress));
  progress->update = update;
  progress->data   = data;
  progress->first  = 0.0;
  progress->last   = 1.0;
}

void
colorize_gimp_progress_cancel (ColorizeProgress *progress)
{
  if (g_atomic_int_compare_and_exchange (&progress->cancel_requested, 0, 1))
    progress->cancel_requested_at = g_get_monotonic_time ();
}

static gboolean
cancel_requested (ColorizeProgress *progress)
{
  return g_atomic_int_get (&progress->cancel_requested) != 0;
}

gboolean
colorize_gimp_error_is_cancel (const GError *error)
{
  return g_error_matches (error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_CANCELLED);
}

static void
set_cancelled (GError **error)
{
  g_set_error_literal (error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_CANCELLED, "Cancelled.");
}

/* `fraction` is of the current layer; `force` skips the rate limit (ends of phases). */
static void
report (ColorizeProgress *progress, gdouble fraction, gboolean force)
{
  gint64 now;

  if (progress->update == NULL)
    return;
  now = g_get_monotonic_time ();
  if (! force && now - progress->last_update_at < PROGRESS_INTERVAL_US)
    return;
  progress->last_update_at = now;
  progress->update (progress->first + (progress->last - progress->first) * CLAMP (fraction, 0.0, 1.0),
                    progress->data);
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

gchar **
colorize_gimp_model_names (void)
{
  GPtrArray *names = g_ptr_array_new ();
  gsize      count = colorize_model_count ();
  gsize      i;

  g_ptr_array_add (names, g_strdup ("default"));
  for (i = 0; i < count; i++)
    {
      const gchar *name = colorize_model_name_at (i);

      if (name != NULL && strcmp (name, "default") != 0)
        g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_add (names, NULL);
  return (gchar **) g_ptr_array_free (names, FALSE);
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

  status = colorize_model_load (wants_default ? "default" : spec, &model);
  if (status == COLORIZE_OK)
    return model;

  detail = library_message (status);
  if (wants_default)
    g_set_error (error, COLORIZE_GIMP_ERROR, status,
                 "No default model is available: %s. Choose a model from the list or "
                 "give the path of an .onnx model file.", detail);
  else if (status == COLORIZE_ERROR_NO_MODEL)
    {
      gchar **names = colorize_gimp_model_names ();
      gchar  *known = g_strjoinv (", ", names);
      gchar  *folder = colorize_gimp_user_model_folder ();

      g_set_error (error, COLORIZE_GIMP_ERROR, status,
                   "Unknown model \"%s\". Choose one of %s, or put %s.onnx in %s.",
                   spec, known, spec, folder);
      g_free (folder);
      g_free (known);
      g_strfreev (names);
    }
  else
    g_set_error (error, COLORIZE_GIMP_ERROR, status,
                 "Could not use the model \"%s\": %s", spec, detail);
  g_free (detail);
  return NULL;
}

/* One library call, run on a worker thread so that the plug-in's main thread can keep
 * the progress display alive and take a Cancel. The job owns nothing: the pixel buffer
 * belongs to colorize_gimp_compute(), which joins the thread before freeing it. */
typedef struct
{
  const colorize_model *model;
  colorize_settings    *settings;
  ColorizeProgress     *progress;
  gfloat               *pixels;
  gsize                 width;
  gsize                 height;
  gsize                 stride;   /* in floats */
  gsize                 channels; /* 3 or 4 */
  gboolean              linear;
  colorize_status       status;
  gchar                *message;  /* set by the worker on failure; freed by the caller */
  gint                  fraction; /* atomic: the library's last report, in millionths */
  gint                  reports;  /* atomic: how many reports so far */
  gint64                returned_at; /* monotonic µs; read after the join */
  gint64                last_report_at;  /* worker only until the join: */
  gint64                longest_gap;     /* the longest time without a report (µs), */
  gfloat                longest_gap_end; /* and the fraction reported at its end */
  gint                  done;     /* atomic */
} ColorizeJob;

/* The library's progress callback, on the worker thread: store, and say whether to go on. */
static bool
library_progress (float fraction, void *data)
{
  ColorizeJob  *job = data;
  const gint64  now = g_get_monotonic_time ();

  /* The longest gap bounds how late a cancel is seen: COLORIZE_GIMP_TIMING reports it. */
  if (now - job->last_report_at > job->longest_gap)
    {
      job->longest_gap = now - job->last_report_at;
      job->longest_gap_end = fraction;
    }
  job->last_report_at = now;
  g_atomic_int_set (&job->fraction, (gint) (CLAMP (fraction, 0.0f, 1.0f) * 1e6f));
  g_atomic_int_inc (&job->reports);
  return ! cancel_requested (job->progress);
}

static gpointer
colorize_job_run (gpointer data)
{
  ColorizeJob *job = data;

  job->last_report_at = g_get_monotonic_time ();
  job->status = colorize_run_rgb_float (job->model, job->settings, job->pixels,
                                        job->width, job->height, job->stride,
                                        job->channels, job->linear);
  if (job->status != COLORIZE_OK && job->status != COLORIZE_ERROR_CANCELLED)
    job->message = library_message (job->status);
  job->returned_at = g_get_monotonic_time ();
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

/* For the headless tests only: COLORIZE_GIMP_TEST_CANCEL_AT=F in GIMP's environment
 * cancels the run, as the Cancel button would, once the library has reported a fraction
 * of at least F, and prints how long the library then took to return. Negative: unset. */
static gdouble
test_cancel_at (void)
{
  const gchar *value = g_getenv ("COLORIZE_GIMP_TEST_CANCEL_AT");

  return value != NULL && *value != '\0' ? g_ascii_strtod (value, NULL) : -1.0;
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
static gboolean
timing_enabled (void)
{
  return g_getenv ("COLORIZE_GIMP_TIMING") != NULL;
}

static void
report_timing (const gchar *phase, gint64 since_us, const GeglRectangle *extent)
{
  if (timing_enabled ())
    g_printerr ("colorize: %s %d×%d: %.3f s\n", phase, extent->width, extent->height,
                (g_get_monotonic_time () - since_us) / 1e6);
}

const gchar *const colorize_gimp_precision_names[] = { "default", "f32", "bf16", NULL };

gchar *
colorize_gimp_precision_help (void)
{
  const gboolean native = colorize_precision_runs_natively (COLORIZE_PRECISION_BF16);

  return g_strdup_printf ("How the network computes. f32: exactly as the model was trained. "
                          "bf16: several times faster on processors with AMX (Intel Xeon "
                          "of the 4th generation and later), with colours that differ very "
                          "slightly; elsewhere it computes as f32. default: bf16, which on "
                          "this computer %s.",
                          native ? "runs natively" : "computes as f32 (no AMX)");
}

const ColorizeWorkingSize colorize_gimp_working_sizes[] =
{
  { 0,    "The model's own (recommended)" },
  { 384,  "384 px: finer colour edges, slower" },
  { 512,  "512 px: finer still, about 4x slower" },
  { 1024, "1024 px: slowest, colours may drift" },
  { 0,    NULL }
};

const gchar colorize_gimp_working_size_help[] =
  "The size the network looks at the photo, in pixels of its short side. Every size keeps "
  "the photo's full resolution: the colour is laid over the original lightness. The "
  "model's own size gives the most reliable colours. A larger size finds the colour of "
  "smaller things and follows edges more closely, but each doubling takes about four "
  "times as long, and far from the size the model learned at, colours fade or turn to "
  "the wrong hue.";

gchar *
colorize_gimp_user_model_folder (void)
{
  return g_build_filename (g_get_user_data_dir (), "colorize", "models", NULL);
}

gchar *
colorize_gimp_help_folder (const gchar *program)
{
  gchar *folder = g_path_get_dirname (program);
  gchar *help = g_build_filename (folder, "help", NULL);

  g_free (folder);
  return help;
}

/* The library's value for a precision name; FALSE with `error` set for an unknown name.
 * *set is FALSE for "default" (the settings keep the library's default). */
static gboolean
parse_precision (const gchar         *name,
                 gboolean            *set,
                 colorize_precision  *precision,
                 GError             **error)
{
  *set = FALSE;
  if (name == NULL || *name == '\0' || strcmp (name, "default") == 0)
    return TRUE;
  *set = TRUE;
  if (strcmp (name, "f32") == 0)
    *precision = COLORIZE_PRECISION_F32;
  else if (strcmp (name, "bf16") == 0)
    *precision = COLORIZE_PRECISION_BF16;
  else
    {
      g_set_error (error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                   "Unknown precision \"%s\": use \"default\", \"f32\" or \"bf16\".", name);
      return FALSE;
    }
  return TRUE;
}

const gchar colorize_gimp_vividness_help[] =
  "How vivid the colours are, for models that predict a colour distribution (the default "
  "model does): 1 gives the average of the likely colours (muted, safest), higher values "
  "pick the most likely colour more boldly (vivid, sometimes patchy). 0 = the model's own "
  "choice. Models that predict one colour per pixel (general, the landscape models) ignore "
  "it: use Saturation for them.";

static colorize_settings *
make_settings (const ColorizeParams       *params,
               const colorize_model       *model,
               ColorizeJob                *job,
               GError                    **error)
{
  colorize_settings *settings;
  colorize_status    status;
  colorize_precision precision = COLORIZE_PRECISION_F32;
  gboolean           set_precision;
  gchar             *detail;

  if (! parse_precision (params->precision, &set_precision, &precision, error))
    return NULL;
  settings = colorize_settings_new ();

  if (settings == NULL)
    {
      g_set_error_literal (error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_TOO_LARGE,
                           "Not enough memory for the colorize settings.");
      return NULL;
    }
  status = colorize_settings_set_saturation (settings, (float) params->saturation);
  if (status == COLORIZE_OK)
    status = colorize_settings_set_working_size (settings,
                                                 (uint32_t) MAX (params->working_size, 0));
  if (status == COLORIZE_OK && set_precision)
    status = colorize_settings_set_precision (settings, precision);
  /* A regression model has no vividness and the library refuses one: the dialog's value
   * then stays unused rather than failing the run. */
  if (status == COLORIZE_OK && params->vividness > 0.0
      && colorize_model_default_vividness (model) > 0.0f)
    status = colorize_settings_set_vividness (settings, (float) params->vividness);
  if (status == COLORIZE_OK)
    status = colorize_settings_set_progress (settings, library_progress, job);
  /* The test cancel must catch the library mid-way on a small layer: one thread makes
   * its run last about as long on a many-core machine as on a small one. */
  if (status == COLORIZE_OK && test_cancel_at () >= 0.0)
    status = colorize_settings_set_threads (settings, 1);
  if (status == COLORIZE_OK)
    return settings;

  detail = library_message (status);
  g_set_error (error, COLORIZE_GIMP_ERROR, status, "Invalid settings: %s", detail);
  g_free (detail);
  colorize_settings_free (settings);
  return NULL;
}

/* Runs the job on a worker thread; the main thread reports progress meanwhile. */
static void
run_job (ColorizeJob *job, ColorizeProgress *progress)
{
  const gdouble  cancel_at = test_cancel_at ();
  gboolean       cancel_seen = FALSE;
  gdouble        cancelled_at_fraction = 0.0;
  gint           cancelled_at_report = 0;
  GThread       *thread;
  GError        *thread_error = NULL;

  thread = g_thread_try_new ("colorize", colorize_job_run, job, &thread_error);
  if (thread == NULL)
    {
      /* No thread: run it here, just without a live progress display. */
      g_clear_error (&thread_error);
      colorize_job_run (job);
      return;
    }
  while (! g_atomic_int_get (&job->done))
    {
      const gint    reports = g_atomic_int_get (&job->reports);
      const gdouble fraction = g_atomic_int_get (&job->fraction) / 1e6;

      if (cancel_at >= 0.0 && reports > 0 && fraction >= cancel_at)
        colorize_gimp_progress_cancel (progress);
      /* Showing the progress is also where a click on Cancel is handled. */
      report (progress, READ_END + (LIBRARY_END - READ_END) * fraction, FALSE);
      if (cancel_requested (progress) && ! cancel_seen)
        {
          cancel_seen = TRUE;
          cancelled_at_fraction = fraction;
          cancelled_at_report = reports;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  g_thread_join (thread);

  if (cancel_requested (progress) && (cancel_at >= 0.0 || timing_enabled ()))
    g_printerr ("colorize: %s cancel requested at library fraction %.3f after %d "
                    "reports; then %d more reports, the last at %.3f; the library returned "
                    "status %d (%s) %.3f s after the request; the longest time without a "
                    "report %.3f s\n",
                    cancel_at >= 0.0 ? "test" : "user", cancelled_at_fraction, cancelled_at_report,
                    g_atomic_int_get (&job->reports) - cancelled_at_report,
                    g_atomic_int_get (&job->fraction) / 1e6,
                    (gint) job->status, colorize_status_str (job->status),
                    (job->returned_at - progress->cancel_requested_at) / 1e6,
                    job->longest_gap / 1e6);
  else if (cancel_at >= 0.0)
    g_printerr ("colorize: test cancel never requested (%d library reports, last %.3f)\n",
                g_atomic_int_get (&job->reports), g_atomic_int_get (&job->fraction) / 1e6);
}

gboolean
colorize_gimp_compute (GeglBuffer              *source,
                       const colorize_model    *model,
                       const ColorizeParams    *params,
                       ColorizeProgress        *progress,
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
  gint64               started;
  gint                 y;

  memset (result, 0, sizeof (*result));
  if (cancel_requested (progress))
    {
      set_cancelled (error);
      return FALSE;
    }
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

  report (progress, 0.0, TRUE);
  started = g_get_monotonic_time ();
  for (y = 0; y < extent->height; y += BAND_ROWS)
    {
      const GeglRectangle band = { extent->x, extent->y + y, extent->width,
                                   MIN (BAND_ROWS, extent->height - y) };

      gegl_buffer_get (source, &band, 1.0, float_format, pixels + (gsize) y * stride,
                       (gint) (stride * sizeof (gfloat)), GEGL_ABYSS_NONE);
      report (progress, READ_END * (y + band.height) / extent->height, FALSE);
      if (cancel_requested (progress))
        {
          g_free (pixels);
          set_cancelled (error);
          return FALSE;
        }
    }
  report_timing ("read pixels from GIMP", started, extent);
  report (progress, READ_END, TRUE);

  job.model    = model;
  job.progress = progress;
  job.pixels   = pixels;
  job.width    = (gsize) extent->width;
  job.height   = (gsize) extent->height;
  job.stride   = stride;
  job.channels = channels;
  job.linear   = linear;
  job.settings = make_settings (params, model, &job, error);
  if (job.settings == NULL)
    {
      g_free (pixels);
      return FALSE;
    }

  started = g_get_monotonic_time ();
  run_job (&job, progress);
  colorize_settings_free (job.settings);
  report_timing ("libcolorize", started, extent);
  if (timing_enabled ())
    g_printerr ("colorize: %d progress reports; the longest time without one %.3f s, "
                "ending at %.3f\n", g_atomic_int_get (&job.reports), job.longest_gap / 1e6,
                job.longest_gap_end);

  if (job.status == COLORIZE_ERROR_CANCELLED)
    {
      g_free (pixels);
      set_cancelled (error);
      return FALSE;
    }
  if (job.status != COLORIZE_OK)
    {
      g_set_error (error, COLORIZE_GIMP_ERROR, job.status,
                   "Colorizing failed (%s): %s",
                   colorize_status_str (job.status), job.message);
      g_free (job.message);
      g_free (pixels);
      return FALSE;
    }
  report (progress, LIBRARY_END, TRUE);

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
                     ColorizeProgress       *progress)
{
  GeglRectangle area;
  gint64        started;
  gint          y;

  if (result->pixels == NULL ||
      ! gegl_rectangle_intersect (&area, write_area, &result->extent))
    return; /* nothing of the layer to change */

  started = g_get_monotonic_time ();
  for (y = 0; y < area.height; y += BAND_ROWS)
    {
      const GeglRectangle band = { area.x, area.y + y, area.width,
                                   MIN (BAND_ROWS, area.height - y) };

      gegl_buffer_set (destination, &band, 0, result->format,
                       result->pixels
                         + (gsize) (band.y - result->extent.y) * result->stride
                         + (gsize) (band.x - result->extent.x) * result->channels,
                       (gint) (result->stride * sizeof (gfloat)));
      report (progress, LIBRARY_END + (1.0 - LIBRARY_END) * (y + band.height) / area.height,
              FALSE);
    }
  gegl_buffer_flush (destination);
  report_timing ("write pixels to GIMP", started, &area);
  report (progress, 1.0, TRUE);
}

void
colorize_gimp_result_clear (ColorizeResult *result)
{
  g_clear_pointer (&result->pixels, g_free);
}
