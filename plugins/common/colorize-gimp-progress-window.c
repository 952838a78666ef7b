/* See colorize-gimp-progress-window.h. Written to compile with GTK 2 and GTK 3. */
#include "colorize-gimp-progress-window.h"

struct ColorizeProgressWindow
{
  GtkWidget        *dialog;
  GtkWidget        *bar;
  ColorizeProgress *progress;
  gboolean          writing; /* too late to cancel */
};

static void
on_response (GtkDialog *dialog, gint response, ColorizeProgressWindow *window)
{
  /* Any response — Cancel, Escape, the window's close button — means stop. */
  if (window->writing)
    return;
  colorize_gimp_progress_cancel (window->progress);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (window->bar), "Cancelling…");
  gtk_dialog_set_response_sensitive (dialog, GTK_RESPONSE_CANCEL, FALSE);
}

static gboolean
on_delete (GtkWidget *widget, GdkEvent *event, ColorizeProgressWindow *window)
{
  on_response (GTK_DIALOG (widget), GTK_RESPONSE_DELETE_EVENT, window);
  return TRUE; /* the window stays until the run has stopped */
}

static void
pump_events (void)
{
  while (gtk_events_pending ())
    gtk_main_iteration_do (FALSE);
}

ColorizeProgressWindow *
colorize_progress_window_new (const gchar *title, ColorizeProgress *progress)
{
  ColorizeProgressWindow *window = g_new0 (ColorizeProgressWindow, 1);
  GtkWidget              *content;

  window->progress = progress;
  window->dialog = gtk_dialog_new_with_buttons (title, NULL, 0,
                                                "_Cancel", GTK_RESPONSE_CANCEL, NULL);
  gtk_window_set_resizable (GTK_WINDOW (window->dialog), FALSE);
  content = gtk_dialog_get_content_area (GTK_DIALOG (window->dialog));
  gtk_container_set_border_width (GTK_CONTAINER (content), 12);

  window->bar = gtk_progress_bar_new ();
#if GTK_CHECK_VERSION (3, 0, 0)
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (window->bar), TRUE);
#endif
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (window->bar), "Colorizing…");
  gtk_widget_set_size_request (window->bar, 320, -1);
  gtk_box_pack_start (GTK_BOX (content), window->bar, FALSE, FALSE, 6);

  g_signal_connect (window->dialog, "response", G_CALLBACK (on_response), window);
  g_signal_connect (window->dialog, "delete-event", G_CALLBACK (on_delete), window);
  gtk_widget_show_all (window->dialog);
  pump_events ();
  return window;
}

GtkWidget *
colorize_progress_window_widget (ColorizeProgressWindow *window)
{
  return window->dialog;
}

void
colorize_progress_window_update (gdouble fraction, gpointer data)
{
  ColorizeProgressWindow *window = data;

  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (window->bar), CLAMP (fraction, 0.0, 1.0));
  pump_events ();
}

void
colorize_progress_window_writing (ColorizeProgressWindow *window)
{
  window->writing = TRUE;
  gtk_dialog_set_response_sensitive (GTK_DIALOG (window->dialog), GTK_RESPONSE_CANCEL, FALSE);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (window->bar), "Writing the result…");
  pump_events ();
}

void
colorize_progress_window_destroy (ColorizeProgressWindow *window)
{
  if (window == NULL)
    return;
  gtk_widget_destroy (window->dialog);
  pump_events ();
  g_free (window);
}
