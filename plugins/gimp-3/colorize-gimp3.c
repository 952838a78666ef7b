/* GIMP 3 plug-in "plug-in-colorize": plausible colour for black-and-white photos.
 *
 * A thin client of libcolorize: this file knows GIMP (PDB, dialog, undo, selection,
 * progress); plugins/common/ turns pixels into float sRGB through babl and calls the
 * library, which does all the colour work.
 *
 * PDB: plug-in-colorize (run-mode, image, drawables, model, saturation)
 *   model:      "" = the embedded default model, an embedded model name, or an .onnx path
 *   saturation: multiplies the predicted a*, b*; 1.0 = as predicted
 * The dialog additionally offers the working size (an auxiliary argument: remembered,
 * not part of the PDB signature).
 */
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "colorize.h"
#include "colorize-gimp-common.h"

#define PLUG_IN_PROC   "plug-in-colorize"
#define PLUG_IN_BINARY "colorize"

#define COLORIZE_TYPE (colorize_get_type ())
G_DECLARE_FINAL_TYPE (Colorize, colorize, COLORIZE, PLUG_IN, GimpPlugIn)

struct _Colorize
{
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE (Colorize, colorize, GIMP_TYPE_PLUG_IN)

GIMP_MAIN (COLORIZE_TYPE)

static GList          *colorize_query_procedures (GimpPlugIn    *plug_in);
static gboolean        colorize_set_i18n         (GimpPlugIn    *plug_in,
                                                  const gchar   *procedure_name,
                                                  gchar        **gettext_domain,
                                                  gchar        **catalog_dir);
static GimpProcedure  *colorize_create_procedure (GimpPlugIn    *plug_in,
                                                  const gchar   *name);
static GimpValueArray *colorize_run              (GimpProcedure        *procedure,
                                                  GimpRunMode           run_mode,
                                                  GimpImage            *image,
                                                  GimpDrawable        **drawables,
                                                  GimpProcedureConfig  *config,
                                                  gpointer              run_data);

static void
colorize_class_init (ColorizeClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = colorize_query_procedures;
  plug_in_class->create_procedure = colorize_create_procedure;
  plug_in_class->set_i18n         = colorize_set_i18n;
}

static void
colorize_init (Colorize *colorize)
{
}

static GList *
colorize_query_procedures (GimpPlugIn *plug_in)
{
  return g_list_append (NULL, g_strdup (PLUG_IN_PROC));
}

/* No translations are shipped: say so, instead of GIMP looking for a catalog. */
static gboolean
colorize_set_i18n (GimpPlugIn   *plug_in,
                   const gchar  *procedure_name,
                   gchar       **gettext_domain,
                   gchar       **catalog_dir)
{
  return FALSE;
}

static GimpProcedure *
colorize_create_procedure (GimpPlugIn  *plug_in,
                           const gchar *name)
{
  GimpProcedure *procedure;

  if (strcmp (name, PLUG_IN_PROC) != 0)
    return NULL;

  procedure = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN,
                                        colorize_run, NULL, NULL);

  gimp_procedure_set_image_types (procedure, "RGB*, GRAY*, INDEXED*");
  gimp_procedure_set_sensitivity_mask (procedure,
                                       GIMP_PROCEDURE_SENSITIVE_DRAWABLE |
                                       GIMP_PROCEDURE_SENSITIVE_DRAWABLES);
  gimp_procedure_set_menu_label (procedure, "Colori_ze (neural)...");
  gimp_procedure_add_menu_path (procedure, "<Image>/Colors");
  gimp_procedure_set_documentation (procedure,
                                    "Colorize a black-and-white photo with a neural network",
                                    "Predicts plausible colour (CIE a*, b*) from the lightness "
                                    "(L*) of each selected layer with libcolorize and keeps the "
                                    "layer's L* exactly. Grayscale and indexed images are "
                                    "converted to RGB first. Only the selection is changed "
                                    "(feathering respected); alpha is kept.",
                                    PLUG_IN_PROC);
  gimp_procedure_set_attribution (procedure, "colorize authors", "colorize authors", "2025");

  gimp_procedure_add_string_argument (procedure, "model", "_Model",
                                      "\"\" = the default model; or an embedded model name "
                                      "(general, landscape-l2, landscape-huber, landscape-pmse); or the "
                                      "path of an .onnx model file",
                                      "", G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "saturation", "_Saturation",
                                      "Multiplies the predicted a*, b* (1.0 = as predicted, 0 = grey)",
                                      0.0, 10.0, 1.0, G_PARAM_READWRITE);
  gimp_procedure_add_int_aux_argument (procedure, "working-size", "_Working size",
                                       "Short side (pixels) the network runs at; "
                                       "0 = the size the model was trained at",
                                       0, 16384, 0, G_PARAM_READWRITE);
  return procedure;
}

/* ---- dialog ---------------------------------------------------------------------- */

static gboolean
colorize_dialog (GimpProcedure       *procedure,
                 GimpProcedureConfig *config)
{
  GtkWidget *dialog;
  GtkWidget *scale;
  GtkWidget *label;
  gchar     *note;
  gboolean   ok;

  gimp_ui_init (PLUG_IN_BINARY);

  dialog = gimp_procedure_dialog_new (procedure, config, "Colorize (neural)");

  scale = gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                                 "saturation", 1.0);
  gimp_scale_entry_set_bounds (GIMP_SCALE_ENTRY (scale), 0.0, 3.0, FALSE);
  scale = gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                                 "working-size", 1.0);
  gimp_scale_entry_set_bounds (GIMP_SCALE_ENTRY (scale), 0, 2048, FALSE);

  note = g_strdup_printf ("libcolorize %s. Keeps the lightness (L*) of every pixel and "
                          "predicts its colour; only the selection changes. Model: empty "
                          "for the default, an embedded model's name, or an .onnx file.",
                          colorize_version ());
  label = gimp_procedure_dialog_get_label (GIMP_PROCEDURE_DIALOG (dialog), "note", note,
                                           FALSE, FALSE);
  g_free (note);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 48);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);

  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "model", "saturation", "working-size", "note", NULL);

  ok = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
  gtk_widget_destroy (dialog);
  return ok;
}

/* ---- the work -------------------------------------------------------------------- */

static void
progress_update (gdouble fraction, gpointer data)
{
  gimp_progress_update (fraction);
}

static void
progress_pulse (gpointer data)
{
  gimp_progress_pulse ();
}

static GimpValueArray *
colorize_run (GimpProcedure        *procedure,
              GimpRunMode           run_mode,
              GimpImage            *image,
              GimpDrawable        **drawables,
              GimpProcedureConfig  *config,
              gpointer              run_data)
{
  colorize_options  options = colorize_options_default ();
  colorize_model   *model;
  GError           *error = NULL;
  gchar            *model_spec = NULL;
  gdouble           saturation = 1.0;
  gint              working_size = 0;
  const ColorizeProgress progress = { progress_update, progress_pulse, NULL };
  ColorizeResult   *results;
  GeglRectangle    *areas;
  gboolean          ok = TRUE;
  gint              n_drawables;
  gint              i;

  if (drawables == NULL || drawables[0] == NULL)
    {
      g_set_error_literal (&error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                           "Select at least one layer to colorize.");
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_CALLING_ERROR, error);
    }
  for (i = 0; drawables[i] != NULL; i++)
    if (! gimp_item_is_layer (GIMP_ITEM (drawables[i])) ||
        gimp_item_is_group_layer (GIMP_ITEM (drawables[i])))
      {
        g_set_error_literal (&error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                             "Colorize works on layers, not on layer groups, "
                             "layer masks or channels.");
        return gimp_procedure_new_return_values (procedure, GIMP_PDB_CALLING_ERROR, error);
      }

  if (run_mode == GIMP_RUN_INTERACTIVE && ! colorize_dialog (procedure, config))
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);

  g_object_get (config,
                "model", &model_spec,
                "saturation", &saturation,
                "working-size", &working_size,
                NULL);
  model = colorize_gimp_load_model (model_spec, &error);
  g_free (model_spec);
  if (model == NULL)
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);

  options.saturation   = (float) saturation;
  options.working_size = (uint32_t) MAX (working_size, 0);

  gimp_progress_init ("Colorizing");

  /* Everything that can fail happens before the image is touched: every layer the
   * selection reaches is colorized first, then written back in one undo step. */
  n_drawables = 0;
  while (drawables[n_drawables] != NULL)
    n_drawables++;
  results = g_new0 (ColorizeResult, n_drawables);
  areas   = g_new0 (GeglRectangle, n_drawables);
  for (i = 0; ok && i < n_drawables; i++)
    if (gimp_drawable_mask_intersect (drawables[i], &areas[i].x, &areas[i].y,
                                      &areas[i].width, &areas[i].height))
      {
        GeglBuffer *buffer = gimp_drawable_get_buffer (drawables[i]);

        ok = colorize_gimp_compute (buffer, model, &options, &progress, &results[i], &error);
        g_object_unref (buffer);
      }
  colorize_model_free (model);

  if (ok)
    {
      gimp_image_undo_group_start (image);
      if (gimp_image_get_base_type (image) != GIMP_RGB)
        gimp_image_convert_rgb (image); /* the layer objects survive the conversion */
      for (i = 0; i < n_drawables; i++)
        if (results[i].pixels != NULL)
          {
            GeglBuffer *shadow = gimp_drawable_get_shadow_buffer (drawables[i]);

            colorize_gimp_write (&results[i], shadow, &areas[i], &progress);
            g_object_unref (shadow);
            /* Blends the shadow in through the selection mask (feathering). */
            gimp_drawable_merge_shadow (drawables[i], TRUE);
            gimp_drawable_update (drawables[i], areas[i].x, areas[i].y,
                                  areas[i].width, areas[i].height);
          }
      gimp_image_undo_group_end (image);
    }
  for (i = 0; i < n_drawables; i++)
    colorize_gimp_result_clear (&results[i]);
  g_free (results);
  g_free (areas);

  if (! ok)
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_displays_flush ();
  return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
}
