/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pixels for the learner and the "self" kernel of an image (tconv-pipeline-learn.h). */
#include "tconv-pipeline-learn.h"

#include "tconv-pipeline.h"
#include "tconv-pipeline-util.h"

gboolean
tconv_pipeline_buffer_rgb (GeglBuffer *buffer, const gchar *what, gfloat **rgb, gsize *width,
                           gsize *height, GError **error)
{
  const GeglRectangle r = *gegl_buffer_get_extent (buffer);
  guint16            *px;
  gsize               n;

  *rgb = NULL;
  if (r.width <= 0 || r.height <= 0)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED, "%s: no pixels",
                   what);
      return FALSE;
    }
  n = (gsize) r.width * (gsize) r.height * 3;
  px = g_try_new (guint16, n);
  *rgb = g_try_new (gfloat, n);
  if (px == NULL || *rgb == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   "%s (%dx%d): out of memory", what, r.width, r.height);
      g_free (px);
      g_clear_pointer (rgb, g_free);
      return FALSE;
    }
  gegl_buffer_get (buffer, &r, 1.0,
                   babl_format_with_space ("R'G'B' u16",
                                           babl_format_get_space (gegl_buffer_get_format (buffer))),
                   px, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  for (gsize i = 0; i < n; i++)
    (*rgb)[i] = (gfloat) (px[i] / 65535.0);
  g_free (px);
  *width = (gsize) r.width;
  *height = (gsize) r.height;
  return TRUE;
}

gboolean
tconv_pipeline_learn_self (GeglBuffer *input, gint64 stride_h, gint64 stride_w,
                           tconv_kernel **kernel, GError **error)
{
  gfloat      *rgb = NULL;
  gsize        w, h;
  tconv_error  err = { 0 };
  tconv_status st;

  *kernel = NULL;
  if (stride_h != stride_w || stride_h < TCONV_SELF_MIN_STRIDE || stride_h > TCONV_SELF_MAX_STRIDE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel self at stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                   ": needs one stride for both axes, %u..%u",
                   stride_h, stride_w, TCONV_SELF_MIN_STRIDE, TCONV_SELF_MAX_STRIDE);
      return FALSE;
    }
  if (!tconv_pipeline_buffer_rgb (input, "kernel self: the input", &rgb, &w, &h, error))
    return FALSE;
  st = tconv_self_learn (rgb, w, h, w * 3, (unsigned) stride_h, kernel, &err);
  g_free (rgb);
  /* the input's fault, not the caller's: too small or too flat for the kernel */
  if (st != TCONV_OK)
    g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                 "kernel self learns from the input reduced %" G_GINT64_FORMAT " times, which "
                 "must still be larger than the kernel: %s",
                 stride_h, tconv_pipeline_status_message (st, &err));
  return st == TCONV_OK;
}
