/* The plug-ins' own progress window, with a Cancel button that stops the library.
 *
 * Why not GIMP's progress bar: its Cancel (in the image window's status bar) makes GIMP
 * kill the plug-in process, which the plug-in never hears about. Killing does leave the
 * image as it was while the library works (nothing is written until it has finished),
 * but this window's Cancel stops the library itself: the plug-in ends normally and says
 * GIMP_PDB_CANCEL. Needs GTK (2 for GIMP 2.10, 3 for GIMP 3) but not libgimp.
 */
#ifndef COLORIZE_GIMP_PROGRESS_WINDOW_H
#define COLORIZE_GIMP_PROGRESS_WINDOW_H

#include <gtk/gtk.h>

#include "colorize-gimp-common.h"

G_BEGIN_DECLS

typedef struct ColorizeProgressWindow ColorizeProgressWindow;

/* Shows the window; Cancel (or closing it) calls colorize_gimp_progress_cancel(progress).
 * The plug-in makes it transient for GIMP's window with its GIMP's own call. */
ColorizeProgressWindow *colorize_progress_window_new     (const gchar            *title,
                                                          ColorizeProgress       *progress);
GtkWidget              *colorize_progress_window_widget  (ColorizeProgressWindow *window);

/* Shows `fraction` and lets GTK handle pending events (a click on Cancel). Fits
 * ColorizeProgress.update. */
void                    colorize_progress_window_update  (gdouble                 fraction,
                                                          gpointer                window);

/* Once the result is being written into the image, a cancel is no longer honoured:
 * the button says so by going insensitive. */
void                    colorize_progress_window_writing (ColorizeProgressWindow *window);

void                    colorize_progress_window_destroy (ColorizeProgressWindow *window);

G_END_DECLS

#endif
