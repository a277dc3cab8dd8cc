/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernel lookup for the commands: a name of an analytic kernel, generated at the requested
 * stride; a preset from the preset folders (NAME-xS.tconv, e.g. learned-x3.tconv for
 * "--kernel learned --stride 3"); or a path to a .tconv file. The search itself is the
 * pipeline's (tconv-pipeline-presets.c), shared with the GIMP plug-in; this file adds the
 * command's installed folders and its exit codes. */
#include "tconv-cli.h"
#include "tconv-pipeline.h"

#include <string.h>

/* The folder of the running binary, resolved through /proc/self/exe; NULL when unknown. */
static gchar *
cli_exe_dir (void)
{
  gchar *exe = g_file_read_link ("/proc/self/exe", NULL);
  gchar *dir = NULL;

  if (exe != NULL && g_path_is_absolute (exe))
    dir = g_path_get_dirname (exe);
  g_free (exe);
  return dir;
}

const gchar *const *
cli_preset_installed (void)
{
  static gchar **dirs = NULL;

  if (g_once_init_enter (&dirs))
    {
      GPtrArray *list = g_ptr_array_new ();
#ifdef TCONV_PRESET_DIR_RELATIVE
      gchar     *bin = cli_exe_dir ();

      /* lexically: ".." steps out of the binary's real folder, whether or not it exists */
      if (bin != NULL)
        g_ptr_array_add (list, g_canonicalize_filename (TCONV_PRESET_DIR_RELATIVE, bin));
      g_free (bin);
#endif
#ifdef TCONV_PRESET_DIR_INSTALLED
      g_ptr_array_add (list, g_strdup (TCONV_PRESET_DIR_INSTALLED));
#endif
      g_ptr_array_add (list, NULL);
      g_once_init_leave (&dirs, (gchar **) g_ptr_array_free (list, FALSE));
    }
  return (const gchar *const *) dirs;
}

void
cli_error_from_pipeline (GError *error)
{
  if (error == NULL || error->domain != TCONV_PIPELINE_ERROR)
    return;
  error->code = error->code == TCONV_PIPELINE_ERROR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
  error->domain = CLI_ERROR;
}

gboolean
cli_preset_load (const char *path, gint64 stride_h, gint64 stride_w, tconv_kernel **kernel,
                 GError **error)
{
  GError  *local = NULL;
  gboolean ok = tconv_pipeline_preset_load (path, stride_h, stride_w, kernel, &local);

  cli_error_from_pipeline (local);
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

gboolean
cli_preset_find (const char *name, gint64 stride_h, gint64 stride_w, tconv_kernel **kernel,
                 gchar **path, GError **error)
{
  GError  *local = NULL;
  gboolean ok = tconv_pipeline_preset_find (name, stride_h, stride_w, cli_preset_installed (),
                                            kernel, path, &local);

  cli_error_from_pipeline (local);
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

gboolean
cli_bank_find (const char *name, gint64 stride_h, gint64 stride_w, tconv_bank **bank,
               gchar **path, GError **error)
{
  GError  *local = NULL;
  gboolean ok = tconv_pipeline_bank_find (name, stride_h, stride_w, cli_preset_installed (),
                                          bank, path, &local);

  cli_error_from_pipeline (local);
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

static gboolean
is_path (const char *name)
{
  return strchr (name, '/') != NULL || g_str_has_suffix (name, ".tconv");
}

gboolean
cli_kernel_lookup (const char *name, gint64 stride_h, gint64 stride_w,
                         tconv_kernel **kernel, GError **error)
{
  *kernel = NULL;
  if (name != NULL && is_path (name))
    return cli_preset_load (name, stride_h, stride_w, kernel, error);

  /* a preset file NAME-xS.tconv, else an analytic kernel at any stride; NULL: the default */
  return cli_preset_find (name, stride_h, stride_w, kernel, NULL, error);
}
