/* GIMP 3 plug-in "plug-in-colorize": plausible colour for black-and-white photos.
 *
 * A thin client of libcolorize: this file knows GIMP (PDB, dialog, undo, selection,
 * progress); plugins/common/ turns pixels into float sRGB through babl and calls the
 * library, which does all the colour work.
 *
 * PDB: plug-in-colorize (run-mode, image, drawables, model, saturation, precision, vividness,
 *                        working-size)
 *   model:      "" or "default" = the default model, a model name the library lists, or
 *               the path of an .onnx file (the library's colorize_model_load decides)
 *   saturation: multiplies the predicted a*, b*; 1.0 = as predicted
 *   precision:  a choice: "default" (the library's default; what a call that leaves the
 *               argument out gets), "f32" or "bf16"
 *   vividness:  0 (default) = the model's own; from 0.1 up, how vivid a classification
 *               model's colours are (the library's colorize_settings_set_vividness);
 *               ignored by regression models
 *   working-size: 0 (default) = the model's own; else the short side, in pixels, the
 *               network runs at
 * Interactive runs show their own progress window, whose Cancel stops the library and
 * leaves the image as it was (see colorize-gimp-progress-window.h). GIMP remembers the
 * settings of successful runs only; the plug-in keeps those of a run that was cancelled
 * or failed itself (CANCELLED_SETTINGS), so the next dialog and Filters > Repeat start
 * from them. Help opens the plug-in's own page (help/ beside the binary).
 */
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "colorize.h"
#include "colorize-gimp-common.h"
#include "colorize-gimp-progress-window.h"

#define PLUG_IN_PROC   "plug-in-colorize"
#define PLUG_IN_BINARY "colorize"

/* In GIMP's profile folder: the settings of the last interactive run that did not succeed,
 * newer than GIMP's own last values while the file exists. */
#define CANCELLED_SETTINGS "colorize-unfinished-run-settings"

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
  gchar *help_folder = colorize_gimp_help_folder (gimp_get_progname ());
  GFile *help = g_file_new_for_path (help_folder);

  /* The Help button opens the plug-in's own page, installed beside it. */
  gimp_plug_in_set_help_domain (plug_in, COLORIZE_GIMP_HELP_DOMAIN, help);
  g_object_unref (help);
  g_free (help_folder);
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
  gchar        **names;
  gchar         *name_list;
  gchar         *model_help;
  gchar         *precision_help;
  gchar         *working_size_help;

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

  names = colorize_gimp_model_names ();
  name_list = g_strjoinv (", ", names);
  model_help = g_strdup_printf ("\"\" = the default model; or a model name (%s); "
                                "or the path of an .onnx model file", name_list);
  gimp_procedure_add_string_argument (procedure, "model", "_Model", model_help,
                                      "", G_PARAM_READWRITE);
  g_free (model_help);
  g_free (name_list);
  g_strfreev (names);
  gimp_procedure_add_double_argument (procedure, "saturation", "S_aturation",
                                      "Multiplies the predicted a*, b* (1.0 = as predicted, 0 = grey)",
                                      0.0, 10.0, 1.0, G_PARAM_READWRITE);
  precision_help = colorize_gimp_precision_help ();
  gimp_procedure_add_choice_argument (procedure, "precision", "_Precision", precision_help,
                                      gimp_choice_new_with_values ("default", 0, "default", NULL,
                                                                   "f32", 1, "f32", NULL,
                                                                   "bf16", 2, "bf16", NULL,
                                                                   NULL),
                                      "default", G_PARAM_READWRITE);
  g_free (precision_help);
  gimp_procedure_add_double_argument (procedure, "vividness", "_Vividness",
                                      colorize_gimp_vividness_help,
                                      0.0, COLORIZE_GIMP_MAX_VIVIDNESS, 0.0, G_PARAM_READWRITE);
  working_size_help = g_strdup_printf ("0 = the model's own size (recommended). %s",
                                       colorize_gimp_working_size_help);
  gimp_procedure_add_int_argument (procedure, "working-size", "_Working size",
                                   working_size_help, 0, 16384, 0, G_PARAM_READWRITE);
  g_free (working_size_help);
  return procedure;
}

/* ---- dialog ---------------------------------------------------------------------- */

static void
model_file_chosen (GtkFileChooser *chooser,
                   GtkComboBox    *model_combo)
{
  gchar *path = gtk_file_chooser_get_filename (chooser);

  if (path != NULL)
    gtk_entry_set_text (GTK_ENTRY (gtk_bin_get_child (GTK_BIN (model_combo))), path);
  g_free (path);
}

/* The model row: a menu of the library's models whose entry also takes a typed path,
 * and a file chooser; the entry's text is the "model" argument. (GIMP's generated
 * widget for a string argument is a plain entry, with no menu.) */
static GtkWidget *
model_row (GimpProcedureConfig *config)
{
  GtkWidget     *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget     *label = gtk_label_new_with_mnemonic ("_Model");
  GtkWidget     *combo = gtk_combo_box_text_new_with_entry ();
  GtkWidget     *entry = gtk_bin_get_child (GTK_BIN (combo));
  GtkWidget     *file_button;
  GtkFileFilter *filter;
  gchar        **names = colorize_gimp_model_names ();
  gchar        **name;
  gchar         *model = NULL;

  for (name = names; *name != NULL; name++)
    gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (combo), *name);
  g_strfreev (names);

  /* "" and "default" mean the same model; the menu shows the name. */
  g_object_get (config, "model", &model, NULL);
  if (model == NULL || *model == '\0')
    g_object_set (config, "model", "default", NULL);
  g_free (model);
  g_object_bind_property (config, "model", entry, "text",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  gtk_widget_set_tooltip_text (combo, "A model from the list, or the path of an .onnx model file");
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), combo);

  file_button = gtk_file_chooser_button_new ("Choose an ONNX model",
                                             GTK_FILE_CHOOSER_ACTION_OPEN);
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, "ONNX models (*.onnx)");
  gtk_file_filter_add_pattern (filter, "*.onnx");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (file_button), filter);
  gtk_widget_set_size_request (file_button, 120, -1);
  g_signal_connect (file_button, "file-set", G_CALLBACK (model_file_chosen), combo);

  gtk_box_pack_start (GTK_BOX (row), label, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (row), combo, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (row), file_button, FALSE, FALSE, 0);
  gtk_widget_show_all (row);
  return row;
}

/* The working size as a few labelled choices; a size that is not one of them (set through
 * the PDB) is offered too, as "N px". */
static GtkListStore *
working_size_store (GimpProcedureConfig *config)
{
  GtkListStore *store = GTK_LIST_STORE (g_object_new (GIMP_TYPE_INT_STORE, NULL));
  GtkTreeIter   iter;
  gboolean      listed = FALSE;
  gint          current = 0;
  gint          i;

  g_object_get (config, "working-size", &current, NULL);
  for (i = 0; colorize_gimp_working_sizes[i].label != NULL; i++)
    {
      gtk_list_store_append (store, &iter);
      gtk_list_store_set (store, &iter,
                          GIMP_INT_STORE_VALUE, colorize_gimp_working_sizes[i].size,
                          GIMP_INT_STORE_LABEL, colorize_gimp_working_sizes[i].label,
                          -1);
      listed |= colorize_gimp_working_sizes[i].size == current;
    }
  if (! listed)
    {
      gchar *label = g_strdup_printf ("%d px", current);

      gtk_list_store_append (store, &iter);
      gtk_list_store_set (store, &iter, GIMP_INT_STORE_VALUE, current,
                          GIMP_INT_STORE_LABEL, label, -1);
      g_free (label);
    }
  return store;
}

/* GIMP keeps the settings of successful interactive runs only. Those of a run that was
 * cancelled or failed are kept here, and win over GIMP's while they exist. */
static GFile *
unfinished_settings_file (void)
{
  return gimp_directory_file (CANCELLED_SETTINGS, NULL);
}

static void
load_unfinished_settings (GimpProcedureConfig *config)
{
  GFile  *file = unfinished_settings_file ();
  GError *error = NULL;

  if (g_file_query_exists (file, NULL) &&
      ! gimp_config_deserialize_file (GIMP_CONFIG (config), file, NULL, &error))
    {
      g_printerr ("colorize: ignoring %s: %s\n", g_file_peek_path (file), error->message);
      g_clear_error (&error);
    }
  g_object_unref (file);
}

static void
keep_unfinished_settings (GimpProcedureConfig *config, gboolean finished)
{
  GFile  *file = unfinished_settings_file ();
  GError *error = NULL;

  if (finished)
    g_file_delete (file, NULL, NULL);
  else if (! gimp_config_serialize_to_file (GIMP_CONFIG (config), file,
                                            "settings of an unfinished colorize run",
                                            "end", NULL, &error))
    {
      g_printerr ("colorize: cannot keep the settings: %s\n", error->message);
      g_clear_error (&error);
    }
  g_object_unref (file);
}

static gboolean
colorize_dialog (GimpProcedure       *procedure,
                 GimpProcedureConfig *config)
{
  GtkWidget *dialog;
  GtkWidget *content;
  GtkWidget *row;
  GtkWidget *scale;
  GtkWidget *combo;
  GtkWidget *label;
  GtkListStore *store;
  gchar     *note;
  gboolean   ok;

  gimp_ui_init (PLUG_IN_BINARY);

  dialog = gimp_procedure_dialog_new (procedure, config, "Colorize (neural)");

  scale = gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                                 "saturation", 1.0);
  gimp_scale_entry_set_bounds (GIMP_SCALE_ENTRY (scale), 0.0, 3.0, FALSE);
  scale = gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                                 "vividness", 1.0);
  gimp_scale_entry_set_bounds (GIMP_SCALE_ENTRY (scale), 0.0, 5.0, FALSE);
  store = working_size_store (config);
  combo = gimp_procedure_dialog_get_int_combo (GIMP_PROCEDURE_DIALOG (dialog),
                                               "working-size", GIMP_INT_STORE (store));
  g_object_unref (store);
  gtk_widget_set_tooltip_text (combo, colorize_gimp_working_size_help);

  note = g_strdup_printf ("libcolorize %s. Keeps the lightness (L*) of every pixel and "
                          "predicts its colour; only the selection changes.",
                          colorize_version ());
  label = gimp_procedure_dialog_get_label (GIMP_PROCEDURE_DIALOG (dialog), "note", note,
                                           FALSE, FALSE);
  g_free (note);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 48);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);

  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "saturation", "vividness", "working-size", "precision", "note",
                              NULL);
  content = gtk_dialog_get_content_area (GTK_DIALOG (dialog));
  row = model_row (config);
  gtk_box_pack_start (GTK_BOX (content), row, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (content), row, 0);

  ok = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
  gtk_widget_destroy (dialog);
  return ok;
}

/* ---- the work -------------------------------------------------------------------- */

static void
gimp_progress_show (gdouble fraction, gpointer data)
{
  gimp_progress_update (fraction);
}

/* Each layer's share of the bar is [i/n, (i+1)/n], of which colorize_gimp_compute fills
 * the first COLORIZE_GIMP_COMPUTE_PART and colorize_gimp_write the rest. All layers are
 * written only after all are computed, so the writes split the last layer's writing
 * part between them instead, in order, to keep the bar moving forward. */
static void
write_share (ColorizeProgress *progress, gint i, gint n)
{
  const gdouble part = COLORIZE_GIMP_COMPUTE_PART;
  const gdouble write_start = 1.0 - (1.0 - part) / n; /* where computing the last layer ended */
  const gdouble width = (1.0 - write_start) / n;
  const gdouble start = write_start + i * width;

  /* first + part (last - first) = start, and last = start + width */
  progress->last  = start + width;
  progress->first = progress->last - width / (1.0 - part);
}

static GimpValueArray *
colorize_run (GimpProcedure        *procedure,
              GimpRunMode           run_mode,
              GimpImage            *image,
              GimpDrawable        **drawables,
              GimpProcedureConfig  *config,
              gpointer              run_data)
{
  ColorizeParams          params = { 1.0, 0, NULL, 0.0 };
  ColorizeProgress        progress;
  ColorizeProgressWindow *window = NULL;
  colorize_model         *model;
  GError                 *error = NULL;
  gchar                  *model_spec = NULL;
  gchar                  *precision = NULL;
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

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    load_unfinished_settings (config);
  if (run_mode == GIMP_RUN_INTERACTIVE && ! colorize_dialog (procedure, config))
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);

  g_object_get (config,
                "model", &model_spec,
                "saturation", &params.saturation,
                "working-size", &params.working_size,
                "precision", &precision,
                "vividness", &params.vividness,
                NULL);
  params.precision = precision;
  model = colorize_gimp_load_model (model_spec, &error);
  g_free (model_spec);
  if (model == NULL)
    {
      g_free (precision);
      if (run_mode == GIMP_RUN_INTERACTIVE)
        keep_unfinished_settings (config, FALSE);
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);
    }

  /* Interactive runs (and repeats) get the window with a Cancel that stops the library;
   * scripts get GIMP's progress bar. */
  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    {
      gimp_ui_init (PLUG_IN_BINARY);
      colorize_gimp_progress_init (&progress, colorize_progress_window_update, NULL);
      window = colorize_progress_window_new ("Colorizing", &progress);
      progress.data = window;
      gimp_window_set_transient (GTK_WINDOW (colorize_progress_window_widget (window)));
    }
  else
    {
      colorize_gimp_progress_init (&progress, gimp_progress_show, NULL);
      gimp_progress_init ("Colorizing");
    }

  /* Everything that can fail, and a cancel, happen before the image is touched: every
   * layer the selection reaches is colorized first, then written back in one undo step.
   * Each layer gets an equal share of the progress bar. */
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

        progress.first = (gdouble) i / n_drawables;
        progress.last  = (gdouble) (i + 1) / n_drawables;
        ok = colorize_gimp_compute (buffer, model, &params, &progress, &results[i], &error);
        g_object_unref (buffer);
      }
  colorize_model_free (model);
  g_free (precision);

  if (ok)
    {
      if (window != NULL)
        colorize_progress_window_writing (window);
      gimp_image_undo_group_start (image);
      if (gimp_image_get_base_type (image) != GIMP_RGB)
        gimp_image_convert_rgb (image); /* the layer objects survive the conversion */
      for (i = 0; i < n_drawables; i++)
        if (results[i].pixels != NULL)
          {
            GeglBuffer *shadow = gimp_drawable_get_shadow_buffer (drawables[i]);

            write_share (&progress, i, n_drawables);
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
  colorize_progress_window_destroy (window);
  if (run_mode == GIMP_RUN_INTERACTIVE)
    keep_unfinished_settings (config, ok);

  if (! ok && colorize_gimp_error_is_cancel (error))
    {
      g_clear_error (&error);
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);
    }
  if (! ok)
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_displays_flush ();
  return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
}
