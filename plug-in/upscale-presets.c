/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernels for the plug-in: the "kernel" choice, the preset folders, and loading a kernel
 * by name (analytic presets generated at the stride, learned presets from .tconv files),
 * from a user's file (GFile I/O stays in this file), or learned from the image itself. */
#include "config.h"

#include <string.h>

#include <libgimp/gimp.h>

#include "upscale.h"

static const UpscaleKernelInfo upscale_kernel_table[] = {
  { "learned", N_("Learned (least squares on photos)"),
    N_("Learned from photographs by least squares: sharper than bicubic at the same cost") },
  { "learned-small", N_("Learned, small"),
    N_("A smaller learned kernel: faster, a little softer") },
  { "bicubic", N_("Bicubic (Keys)"), N_("Keys cubic, a = -0.5: MATLAB, PIL, ImageMagick Catrom") },
  { "lanczos3", N_("Lanczos-3"), N_("Windowed sinc, 3 lobes: sharp, some ringing") },
  { "lanczos2", N_("Lanczos-2"), N_("Windowed sinc, 2 lobes") },
  { "mitchell", N_("Mitchell-Netravali"), N_("B = C = 1/3: little ringing, a little soft") },
  { "bspline", N_("Cubic B-spline"), N_("Smoothing, never rings") },
  { "bilinear", N_("Bilinear"), N_("Tent filter") },
  { "nearest", N_("Nearest neighbour"), N_("Box filter: each pixel becomes a stride × stride block") },
  { UPSCALE_KERNEL_SELF, N_("Learned from this image"),
    N_("Learns a kernel from this image (its own down-sampled copy as the input)") },
  { UPSCALE_KERNEL_FILE, N_("Kernel file (.tconv)"), N_("The kernel in the kernel file") },
};

const UpscaleKernelInfo *
upscale_kernels (gsize *n)
{
  *n = G_N_ELEMENTS (upscale_kernel_table);
  return upscale_kernel_table;
}

GimpChoice *
upscale_kernel_choice (void)
{
  GimpChoice *choice = gimp_choice_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (upscale_kernel_table); i++)
    gimp_choice_add (choice, upscale_kernel_table[i].nick, (gint) i,
                     _(upscale_kernel_table[i].label), _(upscale_kernel_table[i].help));
  return choice;
}

gchar **
upscale_preset_dirs (void)
{
  GPtrArray   *dirs = g_ptr_array_new ();
  const gchar *env  = g_getenv ("TCONV_PRESET_DIR");
  gchar       *prog = g_path_get_dirname (gimp_get_progname ());

  if (env != NULL && *env != '\0')
    g_ptr_array_add (dirs, g_strdup (env));
  g_ptr_array_add (dirs, g_build_filename (prog, "presets", NULL));
  g_ptr_array_add (dirs, g_strdup (UPSCALE_PRESET_DIR));
  g_ptr_array_add (dirs, NULL);
  g_free (prog);
  return (gchar **) g_ptr_array_free (dirs, FALSE);
}

void
upscale_kernel_cache_clear (UpscaleKernelCache *cache)
{
  g_clear_pointer (&cache->kernel, tconv_kernel_free);
  cache->stride_h = cache->stride_w = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Files
 */

static gboolean
upscale_kernel_read (GFile         *file,
                     tconv_kernel **kernel,
                     GError       **error)
{
  gchar       *name = g_file_get_parse_name (file);
  GFileInfo   *info;
  gchar       *text = NULL;
  gsize        len  = 0;
  tconv_error  err  = { 0 };
  tconv_status st;
  GError      *io   = NULL;

  /* Refuse a huge file before reading it. */
  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE,
                            NULL, &io);
  if (info == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   _("Kernel file '%s': %s"), name, io->message);
      g_error_free (io);
      g_free (name);
      return FALSE;
    }
  if (g_file_info_get_size (info) > (goffset) TCONV_KERNEL_FILE_MAX)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Kernel file '%s' has %" G_GOFFSET_FORMAT " bytes: at most %u are "
                     "allowed"),
                   name, g_file_info_get_size (info), TCONV_KERNEL_FILE_MAX);
      g_object_unref (info);
      g_free (name);
      return FALSE;
    }
  g_object_unref (info);

  if (! g_file_load_contents (file, NULL, &text, &len, NULL, &io))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   _("Kernel file '%s': %s"), name, io->message);
      g_error_free (io);
      g_free (name);
      return FALSE;
    }
  st = tconv_kernel_parse (text, len, kernel, &err);
  g_free (text);
  if (st != TCONV_OK)
    {
      gchar *what = g_strdup_printf (_("Kernel file '%s'"), name);

      upscale_set_status_error (error, st, &err, what);
      g_free (what);
    }
  g_free (name);
  return st == TCONV_OK;
}

/* A preset that is a file: <dir>/<name>-x<s>.tconv (or -x<sh>x<sw>) in the first folder
 * that has it. */
static gboolean
upscale_kernel_find_preset (const gchar   *nick,
                            gint           stride_h,
                            gint           stride_w,
                            tconv_kernel **kernel,
                            GError       **error)
{
  gchar  **dirs = upscale_preset_dirs ();
  gchar   *base = stride_h == stride_w
                  ? g_strdup_printf ("%s-x%d.tconv", nick, stride_h)
                  : g_strdup_printf ("%s-x%dx%d.tconv", nick, stride_h, stride_w);
  GString *strides = g_string_new (NULL);
  gboolean ok = FALSE, found = FALSE;

  for (gint i = 0; dirs[i] != NULL && ! found; i++)
    {
      gchar *path = g_build_filename (dirs[i], base, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          GFile *file = g_file_new_for_path (path);

          found = TRUE;
          ok = upscale_kernel_read (file, kernel, error);
          g_object_unref (file);
        }
      g_free (path);
    }

  if (! found)
    {
      gchar *searched = g_strjoinv ("', '", dirs);

      /* Say which strides exist, so the message tells the user what to pick. */
      for (gint s = 1; s <= UPSCALE_MAX_STRIDE; s++)
        for (gint i = 0; dirs[i] != NULL; i++)
          {
            gchar *name = g_strdup_printf ("%s-x%d.tconv", nick, s);
            gchar *path = g_build_filename (dirs[i], name, NULL);
            gboolean here = g_file_test (path, G_FILE_TEST_IS_REGULAR);

            g_free (path);
            g_free (name);
            if (here)
              {
                g_string_append_printf (strides, "%s%d", strides->len ? ", " : "", s);
                break;
              }
          }
      if (strides->len > 0)
        g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                     _("Kernel '%s' at stride %d×%d: no %s; this preset exists for the "
                       "strides %s"),
                     nick, stride_h, stride_w, base, strides->str);
      else
        g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                     _("Kernel '%s': no preset file %s in '%s' (is the plug-in installed "
                       "with its presets folder?)"),
                     nick, base, searched);
      g_free (searched);
    }
  else if (ok && ((gint) (*kernel)->stride_h != stride_h || (gint) (*kernel)->stride_w != stride_w))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Preset %s has stride %zu×%zu: expected %d×%d"), base,
                   (*kernel)->stride_h, (*kernel)->stride_w, stride_h, stride_w);
      g_clear_pointer (kernel, tconv_kernel_free);
      ok = FALSE;
    }

  g_string_free (strides, TRUE);
  g_free (base);
  g_strfreev (dirs);
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * "self": a kernel learned from the image's own down-sampled copy. The same recipe as
 * `tconv upscale --kernel self` (tconv_learn_self() in cli/tconv-learn.c), so that both give
 * the same kernel: the layer's R'G'B' values (read as u16, as the command reads its file),
 * cropped at the top left to a multiple of the stride, reduced per channel by MATLAB's
 * antialiased bicubic, and the BT.601 luma of both sides fitted by least squares: 6s x 6s
 * taps, centred, every phase summing to 1, dihedral symmetry, a ridge of 1e-4 only when the
 * plain system is singular. Keep in step with the command until the recipe moves to
 * pipeline/ for both.
 */

#define SELF_SIZE  6    /* kernel side per unit of stride */
#define SELF_RIDGE 1e-4 /* only when plain least squares is singular */

static void
upscale_luma (const gfloat *rgb,
              gsize         n,
              gfloat       *y)
{
  for (gsize i = 0; i < n; i++)
    y[i] = (gfloat) (0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
}

static gboolean
upscale_kernel_learn (GimpDrawable  *drawable,
                      gint           stride,
                      tconv_kernel **kernel,
                      GError       **error)
{
  const gsize        s   = (gsize) stride;
  const gsize        k   = SELF_SIZE * s;
  const gsize        pad = (k - s + 1) / 2;
  GeglBuffer        *buffer;
  tconv_lsq         *lsq = NULL;
  tconv_lsq_options  options;
  tconv_lsq_stats    stats = { 0 };
  tconv_error        err = { 0 };
  tconv_status       st  = TCONV_OK;
  gsize              w, h, cw, ch, lw, lh, work_len = 0;
  guint16           *px = NULL;
  gfloat            *hr_rgb = NULL, *hr_y = NULL, *lr_rgb = NULL, *lr_y = NULL;
  gdouble           *work = NULL;
  gboolean           ok = FALSE;

  if (drawable == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Kernel 'self': the image has no layer to learn from"));
      return FALSE;
    }
  if (stride < 2)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Kernel 'self' at stride %d: learning needs a stride of 2 or more"),
                   stride);
      return FALSE;
    }
  w  = (gsize) gimp_drawable_get_width (drawable);
  h  = (gsize) gimp_drawable_get_height (drawable);
  cw = w / s * s;
  ch = h / s * s;
  lw = cw / s;
  lh = ch / s;
  if (lw == 0 || lh == 0)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Kernel 'self' at stride %d: the layer is %zu×%zu pixels, smaller than "
                     "the stride"),
                   stride, w, h);
      return FALSE;
    }

  px     = g_try_new (guint16, w * h * 3);
  hr_rgb = g_try_new (gfloat, cw * ch * 3);
  hr_y   = g_try_new (gfloat, cw * ch);
  lr_rgb = g_try_new (gfloat, lw * lh * 3);
  lr_y   = g_try_new (gfloat, lw * lh);
  if (tconv_degrade_work_len (TCONV_DEGRADE_BICUBIC, s, 0.0, ch, cw, &work_len, &err) == TCONV_OK)
    work = g_try_new (gdouble, work_len);
  if (px == NULL || hr_rgb == NULL || hr_y == NULL || lr_rgb == NULL || lr_y == NULL
      || work == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   _("Kernel 'self': out of memory for a %zu×%zu layer"), w, h);
      goto out;
    }

  /* Integer to integer conversions in babl are exact; its float paths need not be. */
  buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer, GEGL_RECTANGLE (0, 0, (gint) w, (gint) h), 1.0,
                   babl_format_with_space ("R'G'B' u16", gimp_drawable_get_format (drawable)),
                   px, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  g_object_unref (buffer);
  for (gsize y = 0; y < ch; y++)
    for (gsize x = 0; x < cw * 3; x++)
      hr_rgb[y * cw * 3 + x] = (gfloat) (px[y * w * 3 + x] / 65535.0);
  upscale_luma (hr_rgb, cw * ch, hr_y);

  for (gint c = 0; c < 3 && st == TCONV_OK; c++)
    {
      const tconv_plane     src = { hr_rgb + c, ch, cw, (ptrdiff_t) (cw * 3), 3 };
      const tconv_plane_out dst = { lr_rgb + c, lh, lw, (ptrdiff_t) (lw * 3), 3 };

      st = tconv_degrade (TCONV_DEGRADE_BICUBIC, s, 0.0, &src, &dst, work, work_len, &err);
    }
  upscale_luma (lr_rgb, lw * lh, lr_y);

  tconv_lsq_options_init (&options);
  options.symmetry = TCONV_LSQ_SYM_DIHEDRAL;
  {
    const tconv_plane lr = { lr_y, lh, lw, (ptrdiff_t) lw, 1 };
    const tconv_plane hr = { hr_y, ch, cw, (ptrdiff_t) cw, 1 };

    if (st == TCONV_OK
        && (st = tconv_lsq_new (s, s, k, k, pad, pad, &lsq, &err)) == TCONV_OK
        && (st = tconv_lsq_add_pair (lsq, &lr, &hr, &err)) == TCONV_OK
        && tconv_lsq_solve (lsq, &options, kernel, &stats, NULL) != TCONV_OK)
      {
        options.ridge = SELF_RIDGE;
        st = tconv_lsq_solve (lsq, &options, kernel, &stats, &err);
      }
    if (st != TCONV_OK)
      {
        gchar *what = g_strdup_printf (_("Kernel 'self' learns from the layer reduced %d "
                                         "times, which must still be larger than the "
                                         "kernel"),
                                       stride);

        upscale_set_status_error (error, st, &err, what);
        g_free (what);
        goto out;
      }
  }

  {
    gchar *text = g_strdup_printf ("self-x%d", stride);

    tconv_kernel_set_string (&(*kernel)->name, text);
    g_free (text);
    text = g_strdup_printf (_("learned from the input itself (bicubic x1/%d back to the "
                              "input), %zux%zu taps"),
                            stride, k, k);
    tconv_kernel_set_string (&(*kernel)->description, text);
    g_free (text);
    tconv_kernel_set_string (&(*kernel)->degradation, "bicubic (MATLAB imresize, antialiased)");
  }
  ok = TRUE;

out:
  tconv_lsq_free (lsq);
  g_free (work);
  g_free (lr_y);
  g_free (lr_rgb);
  g_free (hr_y);
  g_free (hr_rgb);
  g_free (px);
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * The entry point
 */

gboolean
upscale_prepare (const UpscaleParams *params,
                 gint                 in_w,
                 gint                 in_h,
                 GimpDrawable        *self_src,
                 UpscaleKernelCache  *cache,
                 tconv_kernel       **kernel,
                 gint                *out_w,
                 gint                *out_h,
                 GError             **error)
{
  const gchar   *nick = params->kernel != NULL ? params->kernel : "";
  tconv_analytic type;
  tconv_error    err = { 0 };
  tconv_status   st;
  gint64         w, h;
  gint           sh, sw;

  *kernel = NULL;
  if (params->stride < 1 || params->stride > UPSCALE_MAX_STRIDE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Stride %d: must be from 1 to %d"), params->stride, UPSCALE_MAX_STRIDE);
      return FALSE;
    }
  if (params->width < 0 || params->height < 0 || params->width > GIMP_MAX_IMAGE_SIZE
      || params->height > GIMP_MAX_IMAGE_SIZE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Output size %d×%d: each side must be from 0 (stride × input) to %d"),
                   params->width, params->height, GIMP_MAX_IMAGE_SIZE);
      return FALSE;
    }

  /* A kernel file has its own stride: it sets the default size. */
  if (strcmp (nick, UPSCALE_KERNEL_FILE) == 0)
    {
      if (params->kernel_file == NULL)
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                       _("Kernel 'file': no kernel-file given"));
          return FALSE;
        }
      if (! upscale_kernel_read (params->kernel_file, kernel, error))
        return FALSE;
      w = params->width ? params->width : (gint64) in_w * (gint64) (*kernel)->stride_w;
      h = params->height ? params->height : (gint64) in_h * (gint64) (*kernel)->stride_h;
    }
  else
    {
      w = params->width ? params->width : (gint64) in_w * params->stride;
      h = params->height ? params->height : (gint64) in_h * params->stride;
    }
  if (w > GIMP_MAX_IMAGE_SIZE || h > GIMP_MAX_IMAGE_SIZE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE,
                   _("Output of %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " pixels: each side "
                     "must be at most %d (GIMP's limit)"),
                   w, h, GIMP_MAX_IMAGE_SIZE);
      g_clear_pointer (kernel, tconv_kernel_free);
      return FALSE;
    }
  *out_w = (gint) w;
  *out_h = (gint) h;
  if (*kernel != NULL)
    return TRUE;

  /* As `tconv upscale --size`: the kernel runs at ceil (out / in) per axis. */
  sw = tconv_pipeline_stride_for_size (in_w, *out_w);
  sh = tconv_pipeline_stride_for_size (in_h, *out_h);

  if (tconv_analytic_from_name (nick, &type) == TCONV_OK)
    {
      if ((st = tconv_kernel_analytic (type, (size_t) sh, (size_t) sw, kernel, &err)) != TCONV_OK)
        {
          gchar *what = g_strdup_printf (_("Kernel '%s'"), nick);

          upscale_set_status_error (error, st, &err, what);
          g_free (what);
          return FALSE;
        }
      return TRUE;
    }

  if (strcmp (nick, UPSCALE_KERNEL_SELF) == 0)
    {
      if (sh != sw)
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                       _("Kernel 'self' at stride %d×%d: learning needs the same stride on "
                         "both axes"),
                       sh, sw);
          return FALSE;
        }
      if (cache != NULL && cache->kernel != NULL && cache->stride_h == sh
          && cache->stride_w == sw)
        return tconv_kernel_copy (cache->kernel, kernel) == TCONV_OK;

      if (! upscale_kernel_learn (self_src, sh, kernel, error))
        return FALSE;
      if (cache != NULL)
        {
          upscale_kernel_cache_clear (cache);
          if (tconv_kernel_copy (*kernel, &cache->kernel) == TCONV_OK)
            {
              cache->stride_h = sh;
              cache->stride_w = sw;
            }
        }
      return TRUE;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (upscale_kernel_table); i++)
    if (strcmp (nick, upscale_kernel_table[i].nick) == 0)
      return upscale_kernel_find_preset (nick, sh, sw, kernel, error);

  g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
               _("Kernel '%s': unknown; expected a preset name, 'self' or 'file'"), nick);
  return FALSE;
}
