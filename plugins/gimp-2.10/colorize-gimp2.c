/* GIMP 2.10 plug-in "plug-in-colorize": plausible colour for black-and-white photos.
 *
 * A thin client of libcolorize: this file knows GIMP (PDB, dialog, undo, selection,
 * progress); plugins/common/ turns pixels into float sRGB through babl and calls the
 * library, which does all the colour work.
 *
 * PDB: plug-in-colorize  (run-mode, image, drawable, model, saturation)
 *      plug-in-colorize2 (run-mode, image, drawable, model, saturation, precision)
 *      plug-in-colorize3 (run-mode, image, drawable, model, saturation, precision,
 *                         vividness, working-size)
 *   model:      "" or "default" = the default model, a model name the library lists, or
 *               the path of an .onnx file (the library's colorize_model_load decides)
 *   saturation: multiplies the predicted a*, b*; 1.0 = as predicted
 *   precision:  "" or "default" = the library's default, "f32" or "bf16"
 * GIMP 2.10's Script-Fu wants exactly as many arguments as a procedure declares, so the
 * precision argument comes with a second procedure (GIMP's own file-png-save2 way), the
 * vividness and the working size with a third, and existing calls keep working; the
 * shorter procedures use the library's default precision, the model's default
 * vividness and its own working size. The dialog offers every setting; it remembers
 * them as soon as the user presses OK, so a run that is cancelled or fails keeps them
 * for the next dialog and for Filters > Repeat.
 * Help opens the plug-in's own page (help/ beside the binary, a GIMP help domain).
 * Interactive runs show their own progress window, whose Cancel stops the library and
 * leaves the image as it was (see colorize-gimp-progress-window.h).
 */
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "colorize.h"
#include "colorize-gimp-common.h"
#include "colorize-gimp-progress-window.h"

#define PLUG_IN_PROC   "plug-in-colorize"
#define PLUG_IN_PROC2  "plug-in-colorize2" /* the same, with the precision argument */
#define PLUG_IN_PROC3  "plug-in-colorize3" /* and with vividness and working size */
#define PLUG_IN_BINARY "colorize"
#define PLUG_IN_ROLE   "gimp-colorize-neural"

/* What the dialog edits and gimp_set_data() remembers between runs. Plain old data,
 * because gimp_set_data() stores the bytes. */
typedef struct
{
  gchar   model[1024];  /* "" = default model */
  gdouble saturation;
  gint    working_size; /* 0 = the model's training size */
  gchar   precision[8]; /* a colorize_gimp_precision_names entry */
  gdouble vividness;    /* 0 = the model's default. New fields go last, so that the data
                         * an older version remembered still fills the fields before them */
} ColorizeValues;

static void query (void);
static void run   (const gchar      *name,
                   gint              nparams,
                   const GimpParam  *param,
                   gint             *nreturn_vals,
                   GimpParam       **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = { NULL, NULL, query, run };

MAIN ()

static void
query (void)
{
  gchar  **names = colorize_gimp_model_names ();
  gchar   *name_list = g_strjoinv (", ", names);
  gchar   *model_help = g_strdup_printf ("\"\" = the default model; or a model name (%s); "
                                         "or the path of an .onnx model file", name_list);
  gchar   *precision_help = colorize_gimp_precision_help ();
  gchar   *precision_arg_help = g_strdup_printf ("\"default\" (or \"\"), \"f32\" or \"bf16\". %s",
                                                 precision_help);
  gchar   *working_size_help = g_strdup_printf ("0 = the model's own size (recommended). %s",
                                                colorize_gimp_working_size_help);
  GimpParamDef args[] =
  {
    { GIMP_PDB_INT32,    "run-mode",   "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1), RUN-WITH-LAST-VALS (2) }" },
    { GIMP_PDB_IMAGE,    "image",      "Input image" },
    { GIMP_PDB_DRAWABLE, "drawable",   "Layer to colorize (its L* is kept, its colour replaced)" },
    { GIMP_PDB_STRING,   "model",      model_help },
    { GIMP_PDB_FLOAT,    "saturation", "Multiplies the predicted a*, b* (1.0 = as predicted, 0 = grey)" },
    { GIMP_PDB_STRING,   "precision",  precision_arg_help },
    { GIMP_PDB_FLOAT,    "vividness",  (gchar *) colorize_gimp_vividness_help },
    { GIMP_PDB_INT32,    "working-size", working_size_help }
  };
  gchar   *help_folder = colorize_gimp_help_folder (gimp_get_progname ());
  gchar   *help_uri = g_filename_to_uri (help_folder, NULL, NULL);

  gimp_install_procedure (PLUG_IN_PROC,
                          "Colorize a black-and-white photo with a neural network",
                          "Predicts plausible colour (CIE a*, b*) from the lightness (L*) "
                          "of the layer with libcolorize and keeps the layer's L* exactly. "
                          "Grayscale and indexed images are converted to RGB first. "
                          "Only the selection is changed (feathering respected); alpha is kept. "
                          "The network runs at the library's default precision; "
                          PLUG_IN_PROC2 " takes the precision as a sixth argument.",
                          "colorize authors",
                          "colorize authors",
                          "2025",
                          "Colori_ze (neural)...",
                          "RGB*, GRAY*, INDEXED*",
                          GIMP_PLUGIN,
                          G_N_ELEMENTS (args) - 3, 0,
                          args, NULL);
  gimp_install_procedure (PLUG_IN_PROC2,
                          "Colorize a black-and-white photo with a neural network, at a chosen precision",
                          "As " PLUG_IN_PROC ", with the precision of the network as a "
                          "sixth argument.",
                          "colorize authors",
                          "colorize authors",
                          "2026",
                          NULL,
                          "RGB*, GRAY*, INDEXED*",
                          GIMP_PLUGIN,
                          G_N_ELEMENTS (args) - 2, 0,
                          args, NULL);
  gimp_install_procedure (PLUG_IN_PROC3,
                          "Colorize a black-and-white photo with a neural network, with every setting",
                          "As " PLUG_IN_PROC2 ", with the vividness (0 = the model's default) "
                          "and the working size (0 = the model's own) as seventh and eighth "
                          "arguments.",
                          "colorize authors",
                          "colorize authors",
                          "2026",
                          NULL,
                          "RGB*, GRAY*, INDEXED*",
                          GIMP_PLUGIN,
                          G_N_ELEMENTS (args), 0,
                          args, NULL);

  /* The Help button opens the plug-in's own page, installed beside it. */
  if (help_uri != NULL)
    gimp_plugin_help_register (COLORIZE_GIMP_HELP_DOMAIN, help_uri);
  g_free (help_uri);
  g_free (help_folder);

  gimp_plugin_menu_register (PLUG_IN_PROC, "<Image>/Colors");
  g_free (model_help);
  g_free (precision_arg_help);
  g_free (working_size_help);
  g_free (precision_help);
  g_free (name_list);
  g_strfreev (names);
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

/* The working size as a few labelled choices; a remembered size that is not one of them
 * (set through plug-in-colorize3) is offered too, as "N px". The combo keeps the size of
 * each row in a GArray (GTK 2's combo has no row ids). */
static GtkWidget *
working_size_combo (gint current)
{
  GtkWidget *combo = gtk_combo_box_text_new ();
  GArray    *sizes = g_array_new (FALSE, FALSE, sizeof (gint));
  gint       active = -1;
  gint       i;

  for (i = 0; colorize_gimp_working_sizes[i].label != NULL; i++)
    {
      gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (combo),
                                      colorize_gimp_working_sizes[i].label);
      g_array_append_val (sizes, colorize_gimp_working_sizes[i].size);
      if (colorize_gimp_working_sizes[i].size == current)
        active = i;
    }
  if (active < 0)
    {
      gchar *label = g_strdup_printf ("%d px", current);

      gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (combo), label);
      g_array_append_val (sizes, current);
      active = sizes->len - 1;
      g_free (label);
    }
  gtk_combo_box_set_active (GTK_COMBO_BOX (combo), active);
  g_object_set_data_full (G_OBJECT (combo), "sizes", sizes, (GDestroyNotify) g_array_unref);
  gimp_help_set_help_data (combo, colorize_gimp_working_size_help, NULL);
  return combo;
}

static gint
working_size_chosen (GtkWidget *combo)
{
  GArray *sizes = g_object_get_data (G_OBJECT (combo), "sizes");
  gint    row = gtk_combo_box_get_active (GTK_COMBO_BOX (combo));

  return row >= 0 && (guint) row < sizes->len ? g_array_index (sizes, gint, row) : 0;
}

static gboolean
colorize_dialog (ColorizeValues *values)
{
  GtkWidget     *dialog;
  GtkWidget     *main_vbox;
  GtkWidget     *table;
  GtkWidget     *model_combo;
  GtkWidget     *file_button;
  GtkWidget     *hbox;
  GtkWidget     *note;
  GtkFileFilter *filter;
  GtkObject     *saturation_adj;
  GtkWidget     *size_combo;
  GtkObject     *vividness_adj;
  GtkWidget     *precision_combo;
  gchar        **names;
  gchar        **name;
  gchar         *version;
  gint           i;
  gboolean       ok;

  gimp_ui_init (PLUG_IN_BINARY, FALSE);

  dialog = gimp_dialog_new ("Colorize (neural)", PLUG_IN_ROLE,
                            NULL, 0,
                            gimp_standard_help_func, PLUG_IN_PROC,
                            "_Cancel", GTK_RESPONSE_CANCEL,
                            "_OK",     GTK_RESPONSE_OK,
                            NULL);
  gtk_dialog_set_alternative_button_order (GTK_DIALOG (dialog),
                                           GTK_RESPONSE_OK, GTK_RESPONSE_CANCEL, -1);
  gimp_window_set_transient (GTK_WINDOW (dialog));

  main_vbox = gtk_vbox_new (FALSE, 12);
  gtk_container_set_border_width (GTK_CONTAINER (main_vbox), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))),
                      main_vbox, TRUE, TRUE, 0);

  table = gtk_table_new (5, 3, FALSE);
  gtk_table_set_col_spacings (GTK_TABLE (table), 6);
  gtk_table_set_row_spacings (GTK_TABLE (table), 6);
  gtk_box_pack_start (GTK_BOX (main_vbox), table, FALSE, FALSE, 0);

  /* Model: one the library lists, or a file (typed or browsed). */
  hbox = gtk_hbox_new (FALSE, 6);
  model_combo = gtk_combo_box_text_new_with_entry ();
  names = colorize_gimp_model_names ();
  for (name = names; *name != NULL; name++)
    gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (model_combo), *name);
  g_strfreev (names);
  gtk_entry_set_text (GTK_ENTRY (gtk_bin_get_child (GTK_BIN (model_combo))),
                      values->model[0] != '\0' ? values->model : "default");
  gimp_help_set_help_data (model_combo,
                           "A model from the list, or the path of an .onnx model file", NULL);
  gtk_box_pack_start (GTK_BOX (hbox), model_combo, TRUE, TRUE, 0);

  file_button = gtk_file_chooser_button_new ("Choose an ONNX model",
                                             GTK_FILE_CHOOSER_ACTION_OPEN);
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, "ONNX models (*.onnx)");
  gtk_file_filter_add_pattern (filter, "*.onnx");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (file_button), filter);
  gtk_widget_set_size_request (file_button, 120, -1);
  g_signal_connect (file_button, "file-set", G_CALLBACK (model_file_chosen), model_combo);
  gtk_box_pack_start (GTK_BOX (hbox), file_button, FALSE, FALSE, 0);

  gimp_table_attach_aligned (GTK_TABLE (table), 0, 0, "_Model:", 0.0, 0.5,
                             hbox, 2, FALSE);

  saturation_adj = gimp_scale_entry_new (GTK_TABLE (table), 0, 1, "_Saturation:",
                                         200, 6, values->saturation,
                                         0.0, 3.0, 0.05, 0.25, 2,
                                         FALSE, 0.0, 10.0,
                                         "Multiplies the predicted colour: 1 = as predicted, 0 = grey",
                                         NULL);
  g_signal_connect (saturation_adj, "value-changed",
                    G_CALLBACK (gimp_double_adjustment_update), &values->saturation);

  vividness_adj = gimp_scale_entry_new (GTK_TABLE (table), 0, 4, "_Vividness:",
                                        200, 6, values->vividness,
                                        0.0, 5.0, 0.1, 0.5, 1,
                                        FALSE, 0.0, COLORIZE_GIMP_MAX_VIVIDNESS,
                                        colorize_gimp_vividness_help, NULL);
  g_signal_connect (vividness_adj, "value-changed",
                    G_CALLBACK (gimp_double_adjustment_update), &values->vividness);

  size_combo = working_size_combo (values->working_size);
  gimp_table_attach_aligned (GTK_TABLE (table), 0, 2, "_Working size:", 0.0, 0.5,
                             size_combo, 2, FALSE);

  /* Precision: "default" (the library's), f32 or bf16. */
  precision_combo = gtk_combo_box_text_new ();
  for (i = 0; colorize_gimp_precision_names[i] != NULL; i++)
    {
      gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (precision_combo),
                                      colorize_gimp_precision_names[i]);
      if (strcmp (colorize_gimp_precision_names[i], values->precision) == 0)
        gtk_combo_box_set_active (GTK_COMBO_BOX (precision_combo), i);
    }
  if (gtk_combo_box_get_active (GTK_COMBO_BOX (precision_combo)) < 0)
    gtk_combo_box_set_active (GTK_COMBO_BOX (precision_combo), 0);
  {
    gchar *help = colorize_gimp_precision_help ();

    gimp_help_set_help_data (precision_combo, help, NULL);
    g_free (help);
  }
  gimp_table_attach_aligned (GTK_TABLE (table), 0, 3, "_Precision:", 0.0, 0.5,
                             precision_combo, 1, FALSE);

  version = g_strdup_printf ("libcolorize %s. Keeps the lightness (L*) of every pixel "
                             "and predicts its colour; only the selection changes.",
                             colorize_version ());
  note = gtk_label_new (version);
  g_free (version);
  gtk_label_set_line_wrap (GTK_LABEL (note), TRUE);
  gtk_misc_set_alignment (GTK_MISC (note), 0.0, 0.5);
  gimp_label_set_attributes (GTK_LABEL (note), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  gtk_box_pack_start (GTK_BOX (main_vbox), note, FALSE, FALSE, 0);

  gtk_widget_show_all (dialog);

  ok = (gimp_dialog_run (GIMP_DIALOG (dialog)) == GTK_RESPONSE_OK);
  if (ok)
    {
      const gchar *text =
        gtk_entry_get_text (GTK_ENTRY (gtk_bin_get_child (GTK_BIN (model_combo))));

      gint precision = gtk_combo_box_get_active (GTK_COMBO_BOX (precision_combo));

      g_strlcpy (values->model, strcmp (text, "default") == 0 ? "" : text,
                 sizeof (values->model));
      g_strlcpy (values->precision, colorize_gimp_precision_names[MAX (precision, 0)],
                 sizeof (values->precision));
      values->working_size = working_size_chosen (size_combo);
    }
  gtk_widget_destroy (dialog);
  return ok;
}

/* ---- the work -------------------------------------------------------------------- */

static void
gimp_progress_show (gdouble fraction, gpointer data)
{
  gimp_progress_update (fraction);
}

/* `with_window`: the plug-in's own progress window with a Cancel button (interactive
 * runs); otherwise GIMP's progress bar (scripts). */
static gboolean
colorize_drawable (gint32                image,
                   gint32                drawable,
                   const ColorizeValues *values,
                   gboolean              with_window,
                   GError              **error)
{
  const ColorizeParams    params = { values->saturation, values->working_size,
                                     values->precision, values->vividness };
  ColorizeProgress        progress;
  ColorizeProgressWindow *window = NULL;
  colorize_model         *model;
  ColorizeResult          result;
  GeglBuffer             *buffer;
  GeglRectangle           area;
  gboolean                ok;

  if (! gimp_item_is_layer (drawable) || gimp_item_is_group (drawable))
    {
      g_set_error_literal (error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                           "Colorize works on a layer, not on a layer group, "
                           "layer mask or channel.");
      return FALSE;
    }
  if (! gimp_drawable_mask_intersect (drawable, &area.x, &area.y, &area.width, &area.height))
    return TRUE; /* the selection misses this layer: nothing to do */

  model = colorize_gimp_load_model (values->model, error);
  if (model == NULL)
    return FALSE;

  if (with_window)
    {
      gimp_ui_init (PLUG_IN_BINARY, FALSE);
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

  /* Everything that can fail, and a cancel, happen before the image is touched. */
  buffer = gimp_drawable_get_buffer (drawable);
  ok = colorize_gimp_compute (buffer, model, &params, &progress, &result, error);
  g_object_unref (buffer);
  colorize_model_free (model);
  if (! ok)
    {
      colorize_progress_window_destroy (window);
      return FALSE;
    }
  if (window != NULL)
    colorize_progress_window_writing (window);

  /* One undo step for the conversion to RGB and the new colour. */
  gimp_image_undo_group_start (image);
  if (gimp_image_base_type (image) != GIMP_RGB)
    gimp_image_convert_rgb (image); /* layer IDs survive the conversion */

  buffer = gimp_drawable_get_shadow_buffer (drawable);
  colorize_gimp_write (&result, buffer, &area, &progress);
  g_object_unref (buffer);
  colorize_gimp_result_clear (&result);

  /* Blends the shadow into the layer through the selection mask (feathering). */
  gimp_drawable_merge_shadow (drawable, TRUE);
  gimp_drawable_update (drawable, area.x, area.y, area.width, area.height);
  gimp_image_undo_group_end (image);
  colorize_progress_window_destroy (window);
  return TRUE;
}

static void
run (const gchar      *name,
     gint              nparams,
     const GimpParam  *param,
     gint             *nreturn_vals,
     GimpParam       **return_vals)
{
  static GimpParam  values_out[2];
  ColorizeValues    values = { "", 1.0, 0, "default", 0.0 };
  GimpRunMode       run_mode = param[0].data.d_int32;
  const gint        wanted_params = strcmp (name, PLUG_IN_PROC3) == 0 ? 8 :
                                    strcmp (name, PLUG_IN_PROC2) == 0 ? 6 : 5;
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  GError           *error = NULL;
  gint32            image;
  gint32            drawable;

  gegl_init (NULL, NULL); /* 2.10 plug-ins start GEGL themselves */

  *nreturn_vals = 1;
  *return_vals  = values_out;
  values_out[0].type = GIMP_PDB_STATUS;

  if (nparams < 3)
    {
      values_out[0].data.d_status = GIMP_PDB_CALLING_ERROR;
      return;
    }
  image    = param[1].data.d_image;
  drawable = param[2].data.d_drawable;

  switch (run_mode)
    {
    case GIMP_RUN_INTERACTIVE:
      gimp_get_data (PLUG_IN_PROC, &values);
      values.model[sizeof (values.model) - 1] = '\0';
      values.precision[sizeof (values.precision) - 1] = '\0';
      if (! colorize_dialog (&values))
        status = GIMP_PDB_CANCEL;
      else /* kept even if the run is then cancelled or fails */
        gimp_set_data (PLUG_IN_PROC, &values, sizeof (values));
      break;

    case GIMP_RUN_NONINTERACTIVE:
      if (nparams != wanted_params)
        {
          status = GIMP_PDB_CALLING_ERROR;
          break;
        }
      g_strlcpy (values.model, param[3].data.d_string != NULL ? param[3].data.d_string : "",
                 sizeof (values.model));
      values.saturation = param[4].data.d_float;
      if (nparams == 6 && param[5].data.d_string != NULL && param[5].data.d_string[0] != '\0')
        {
          if (! g_strv_contains ((const gchar *const *) colorize_gimp_precision_names,
                                 param[5].data.d_string))
            {
              g_set_error (&error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                           "Unknown precision \"%s\": use \"default\", \"f32\" or \"bf16\".",
                           param[5].data.d_string);
              status = GIMP_PDB_CALLING_ERROR;
              break;
            }
          g_strlcpy (values.precision, param[5].data.d_string, sizeof (values.precision));
        }
      if (nparams == 8)
        {
          values.vividness = param[6].data.d_float;
          values.working_size = param[7].data.d_int32;
        }
      if (! (values.saturation >= 0.0 && values.saturation <= 10.0))
        {
          g_set_error (&error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                       "saturation must be between 0 and 10, not %g", values.saturation);
          status = GIMP_PDB_CALLING_ERROR;
        }
      else if (! (values.vividness >= 0.0 && values.vividness <= COLORIZE_GIMP_MAX_VIVIDNESS))
        {
          g_set_error (&error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                       "vividness must be between 0 and %g, not %g",
                       COLORIZE_GIMP_MAX_VIVIDNESS, values.vividness);
          status = GIMP_PDB_CALLING_ERROR;
        }
      else if (values.working_size < 0 || values.working_size > 16384)
        {
          g_set_error (&error, COLORIZE_GIMP_ERROR, COLORIZE_ERROR_INVALID_ARGUMENT,
                       "working size must be between 0 and 16384, not %d",
                       values.working_size);
          status = GIMP_PDB_CALLING_ERROR;
        }
      break;

    case GIMP_RUN_WITH_LAST_VALS:
      gimp_get_data (PLUG_IN_PROC, &values);
      values.model[sizeof (values.model) - 1] = '\0';
      values.precision[sizeof (values.precision) - 1] = '\0';
      break;

    default:
      status = GIMP_PDB_CALLING_ERROR;
      break;
    }

  if (status == GIMP_PDB_SUCCESS)
    {
      if (colorize_drawable (image, drawable, &values,
                             run_mode != GIMP_RUN_NONINTERACTIVE, &error))
        {
          if (run_mode != GIMP_RUN_NONINTERACTIVE)
            gimp_displays_flush ();
        }
      else if (colorize_gimp_error_is_cancel (error))
        {
          status = GIMP_PDB_CANCEL;
          g_clear_error (&error);
        }
      else
        {
          status = GIMP_PDB_EXECUTION_ERROR;
        }
    }

  values_out[0].data.d_status = status;
  if (error != NULL)
    {
      /* GIMP shows this string to the user (or Script-Fu prints it): the GIMP way. */
      static gchar *message = NULL;

      g_free (message);
      message = g_strdup (error->message);
      *nreturn_vals = 2;
      values_out[1].type = GIMP_PDB_STRING;
      values_out[1].data.d_string = message;
      g_error_free (error);
    }
}
