/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernels for the plug-in: the "kernel" choice, built from the shared preset listing
 * (pipeline/tconv-pipeline-presets.c) so that a user's own .tconv presets are offered, and
 * loading a kernel by name (the pipeline's rule: a preset file, else an analytic kernel
 * generated at the stride), from the kernel-file argument, or learned from the image itself
 * (pipeline/tconv-pipeline-learn.c). */
#include "config.h"

#include <string.h>

#include <libgimp/gimp.h>

#include "upscale.h"
#include "tconv-pipeline-learn.h"
#include "tconv-pipeline-presets.h"

/* Labels of the kernels the plug-in ships, in menu order; other preset families found in the
 * preset folders follow them under their own names. */
static const UpscaleKernelInfo upscale_kernel_table[] = {
  { UPSCALE_KERNEL_ADAPTIVE, N_("Adaptive (learned, per pixel)"),
    N_("A bank of learned kernels, one chosen for every pixel by its local structure (edges, "
       "texture, flat areas): the sharpest at ×2, ×3 and ×4. At other scales, the default "
       "kernel (learned, else bicubic)") },
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
};

static const UpscaleKernelInfo upscale_kernel_extra[] = {
  { UPSCALE_KERNEL_SELF, N_("Learned from this image"),
    N_("Learns a kernel from this image (its own down-sampled copy as the input)") },
  { UPSCALE_KERNEL_FILE, N_("Kernel file (.tconv)"), N_("The kernel in the kernel file") },
};

const gchar *const *
upscale_preset_installed (void)
{
  static gchar **dirs = NULL;

  if (g_once_init_enter (&dirs))
    {
      gchar  *prog = g_path_get_dirname (gimp_get_progname ());
      gchar **list = g_new0 (gchar *, 3);

      /* the presets installed beside the plug-in, then the tconv command's */
      list[0] = g_build_filename (prog, "presets", NULL);
      list[1] = g_strdup (UPSCALE_PRESET_DIR);
      g_free (prog);
      g_once_init_leave (&dirs, list);
    }
  return (const gchar *const *) dirs;
}

static gboolean
upscale_kernel_in_table (const gchar *nick)
{
  for (gsize i = 0; i < G_N_ELEMENTS (upscale_kernel_table); i++)
    if (strcmp (nick, upscale_kernel_table[i].nick) == 0)
      return TRUE;
  return FALSE;
}

GimpChoice *
upscale_kernel_choice (void)
{
  GimpChoice *choice   = gimp_choice_new ();
  gchar     **families = tconv_pipeline_preset_families (upscale_preset_installed ());
  gint        id       = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (upscale_kernel_table); i++)
    gimp_choice_add (choice, upscale_kernel_table[i].nick, id++,
                     _(upscale_kernel_table[i].label), _(upscale_kernel_table[i].help));
  /* A user's presets (and any other family of the preset folders), by name. */
  for (gchar **f = families; *f != NULL; f++)
    if (! upscale_kernel_in_table (*f) && strcmp (*f, UPSCALE_KERNEL_SELF) != 0
        && strcmp (*f, UPSCALE_KERNEL_FILE) != 0)
      {
        gchar *help = g_strdup_printf (_("The preset %s-x<stride>.tconv of a preset folder"),
                                       *f);

        gimp_choice_add (choice, *f, id++, *f, help);
        g_free (help);
      }
  for (gsize i = 0; i < G_N_ELEMENTS (upscale_kernel_extra); i++)
    gimp_choice_add (choice, upscale_kernel_extra[i].nick, id++,
                     _(upscale_kernel_extra[i].label), _(upscale_kernel_extra[i].help));
  g_strfreev (families);
  return choice;
}

void
upscale_kernel_clear (UpscaleKernel *kernel)
{
  if (kernel->bank != NULL)
    kernel->kernel = NULL; /* the bank's global kernel */
  g_clear_pointer (&kernel->bank, tconv_bank_free);
  g_clear_pointer (&kernel->kernel, tconv_kernel_free);
}

void
upscale_kernel_cache_clear (UpscaleKernelCache *cache)
{
  g_clear_pointer (&cache->kernel, tconv_kernel_free);
  cache->stride_h = cache->stride_w = 0;
}

/* @name (a preset name, a path, or NULL for the default) at @stride_h x @stride_w (0: a
 * file's own) as `tconv upscale --kernel` finds it: a kernel bank first, else a single
 * kernel. */
static gboolean
upscale_kernel_find (const gchar   *name,
                     gint           stride_h,
                     gint           stride_w,
                     UpscaleKernel *kernel,
                     GError       **error)
{
  const gchar *const *installed = upscale_preset_installed ();

  if (! tconv_pipeline_bank_find (name, stride_h, stride_w, installed, &kernel->bank, NULL,
                                  error))
    return FALSE;
  if (kernel->bank != NULL)
    {
      kernel->kernel = kernel->bank->global;
      return TRUE;
    }
  if (name != NULL && strchr (name, '/') != NULL)
    return tconv_pipeline_preset_load (name, stride_h, stride_w, &kernel->kernel, error);
  return tconv_pipeline_preset_find (name, stride_h, stride_w, installed, &kernel->kernel, NULL,
                                     error);
}

/* The kernel-file argument, read through the shared preset reader (its own stride): a kernel
 * bank or a single kernel. */
static gboolean
upscale_kernel_read (GFile         *file,
                     UpscaleKernel *kernel,
                     GError       **error)
{
  gchar   *path = g_file_get_path (file);
  gboolean ok;

  if (path == NULL)
    {
      gchar *name = g_file_get_parse_name (file);

      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Kernel file '%s': not a local file"), name);
      g_free (name);
      return FALSE;
    }
  ok = upscale_kernel_find (path, 0, 0, kernel, error);
  g_free (path);
  return ok;
}

/* "self" at @stride_h x @stride_w, from @drawable; @cache (nullable) is reused and updated. */
static gboolean
upscale_kernel_self (GimpDrawable        *drawable,
                     gint                 stride_h,
                     gint                 stride_w,
                     UpscaleKernelCache  *cache,
                     tconv_kernel       **kernel,
                     GError             **error)
{
  GeglBuffer *buffer;
  gboolean    ok;

  if (drawable == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Kernel 'self': the image has no layer to learn from"));
      return FALSE;
    }
  if (cache != NULL && cache->kernel != NULL && cache->stride_h == stride_h
      && cache->stride_w == stride_w)
    return tconv_kernel_copy (cache->kernel, kernel, NULL) == TCONV_OK;

  buffer = gimp_drawable_get_buffer (drawable);
  ok = tconv_pipeline_learn_self (buffer, stride_h, stride_w, kernel, error);
  g_object_unref (buffer);
  if (ok && cache != NULL)
    {
      upscale_kernel_cache_clear (cache);
      if (tconv_kernel_copy (*kernel, &cache->kernel, NULL) == TCONV_OK)
        {
          cache->stride_h = stride_h;
          cache->stride_w = stride_w;
        }
    }
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * The entry point
 */

static gboolean
upscale_check_params (const UpscaleParams *params,
                      GError             **error)
{
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
  if (params->kernel != NULL && strcmp (params->kernel, UPSCALE_KERNEL_FILE) == 0
      && params->kernel_file == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Kernel 'file': no kernel-file given"));
      return FALSE;
    }
  return TRUE;
}

/* The output size: the arguments', a 0 side being @stride x the input. */
static gboolean
upscale_output_size (const UpscaleParams *params,
                     gint                 in_w,
                     gint                 in_h,
                     gint64               stride_h,
                     gint64               stride_w,
                     gint                *out_w,
                     gint                *out_h,
                     GError             **error)
{
  const gint64 w = params->width ? params->width : (gint64) in_w * stride_w;
  const gint64 h = params->height ? params->height : (gint64) in_h * stride_h;

  if (w > GIMP_MAX_IMAGE_SIZE || h > GIMP_MAX_IMAGE_SIZE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE,
                   _("Output of %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " pixels: each side "
                     "must be at most %d (GIMP's limit)"),
                   w, h, GIMP_MAX_IMAGE_SIZE);
      return FALSE;
    }
  *out_w = (gint) w;
  *out_h = (gint) h;
  return TRUE;
}

gboolean
upscale_prepare (const UpscaleParams *params,
                 gint                 in_w,
                 gint                 in_h,
                 GimpDrawable        *self_src,
                 UpscaleKernelCache  *cache,
                 UpscaleKernel       *kernel,
                 gint                *out_w,
                 gint                *out_h,
                 GError             **error)
{
  const gchar *nick = params->kernel != NULL ? params->kernel : "";
  gint         sh, sw;

  kernel->kernel = NULL;
  kernel->bank = NULL;
  if (! upscale_check_params (params, error))
    return FALSE;

  /* A kernel file has its own stride: it sets the default size. */
  if (strcmp (nick, UPSCALE_KERNEL_FILE) == 0)
    {
      if (! upscale_kernel_read (params->kernel_file, kernel, error))
        return FALSE;
      if (! upscale_output_size (params, in_w, in_h, (gint64) kernel->kernel->stride_h,
                                 (gint64) kernel->kernel->stride_w, out_w, out_h, error))
        {
          upscale_kernel_clear (kernel);
          return FALSE;
        }
      return TRUE;
    }
  if (! upscale_output_size (params, in_w, in_h, params->stride, params->stride, out_w, out_h,
                             error))
    return FALSE;

  /* As `tconv upscale --size`: the kernel runs at ceil (out / in) per axis. */
  sw = tconv_pipeline_stride_for_size (in_w, *out_w);
  sh = tconv_pipeline_stride_for_size (in_h, *out_h);
  if (strcmp (nick, UPSCALE_KERNEL_SELF) == 0)
    return upscale_kernel_self (self_src, sh, sw, cache, &kernel->kernel, error);
  return upscale_kernel_find (strcmp (nick, UPSCALE_KERNEL_ADAPTIVE) == 0 ? NULL : nick, sh, sw,
                              kernel, error);
}
