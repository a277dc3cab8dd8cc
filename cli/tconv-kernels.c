/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernel lookup for the commands: a name of an analytic kernel, generated at the requested
 * stride; a preset from the preset folders (NAME-xS.tconv, e.g. learned-x3.tconv for
 * "--kernel learned --stride 3"); or a path to a .tconv file. */
#include "tconv-cli.h"

#include <string.h>

static gboolean
is_path (const char *name)
{
  return strchr (name, '/') != NULL || g_str_has_suffix (name, ".tconv");
}

/* NAME-xS.tconv (NAME-xSHxSW.tconv for unequal strides) in the first folder of the preset
 * search path (tconv-presets.c) that has it. */
static gchar *
find_preset (const char *name, gint64 stride_h, gint64 stride_w)
{
  gchar *file, *path;

  if (stride_h == stride_w)
    file = g_strdup_printf ("%s-x%" G_GINT64_FORMAT ".tconv", name, stride_h);
  else
    file = g_strdup_printf ("%s-x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ".tconv", name, stride_h,
                            stride_w);
  path = tconv_preset_locate (file, NULL);
  g_free (file);
  return path;
}

static gboolean
load_file (const char *name, gint64 stride_h, gint64 stride_w, tconv_kernel **kernel,
           GError **error)
{
  return tconv_preset_load (name, stride_h, stride_w, kernel, error);
}

gboolean
tconv_cli_kernel_lookup (const char *name, gint64 stride_h, gint64 stride_w,
                         tconv_kernel **kernel, GError **error)
{
  gchar   *preset;
  gboolean ok;

  *kernel = NULL;
  if (name == NULL || *name == '\0')
    {
      /* The default: the learned presets where they exist (x2, x3, x4), else bicubic. */
      const gint64 h = stride_h > 0 ? stride_h : 2, w = stride_w > 0 ? stride_w : 2;
      if (h == w && h >= 2 && h <= 4 && (preset = find_preset ("learned", h, w)) != NULL)
        {
          ok = load_file (preset, stride_h, stride_w, kernel, error);
          g_free (preset);
          return ok;
        }
      name = "bicubic";
    }

  if (is_path (name))
    return load_file (name, stride_h, stride_w, kernel, error);

  /* a preset file NAME-xS.tconv, else an analytic kernel at any stride (tconv-presets.c) */
  return tconv_preset_find (name, stride_h, stride_w, NULL, kernel, NULL, error);
}
