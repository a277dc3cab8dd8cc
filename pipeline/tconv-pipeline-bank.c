/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernel banks in the band code: each band's input rows are held with the classifier's halo
 * around the owners of its output (border mode applied like every other pixel), their luma is
 * classified, and the core's gather runs with that class map. A pixel's class depends only on
 * the pixels within the halo, which are the same whatever the band, so bands and threads give
 * the same bytes. */
#include "tconv-pipeline-private.h"

#include <string.h>

gboolean
tconv_pipeline_bank_check (const tconv_bank *bank, const tconv_kernel *kernel, GError **error)
{
  tconv_error err = { 0 };

  if (kernel != bank->global)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "a kernel bank runs with its own global kernel as the kernel");
      return FALSE;
    }
  if (tconv_bank_validate (bank, &err) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel bank '%s': %s", bank->global->name, err.message);
      return FALSE;
    }
  return TRUE;
}

/* The core's vectorised layout of the filters for this image's channels, where it exists
 * (windows up to 17 pixels, 1..4 channels); without it the core runs its portable loop. */
void
tconv_pipeline_bank_plan (TconvPipelineJob *job)
{
  gsize bytes;

  if (tconv_bank_plan_size (job->bank, job->C, &bytes, NULL) != TCONV_OK)
    return;
  job->bank_plan_mem = g_malloc (bytes);
  if (tconv_bank_plan_init (job->bank, job->C, job->bank_plan_mem, bytes, &job->bank_plan, NULL)
      != TCONV_OK)
    g_clear_pointer (&job->bank_plan_mem, g_free);
}

/* Widens the input range [a, b] that stride x rows (or columns) [m0, m1) read to the owners
 * [m0 / s, (m1 - 1) / s] and their classification halo. */
void
tconv_pipeline_bank_widen (const TconvPipelineJob *job, gint64 m0, gint64 m1, gint64 *a,
                           gint64 *b)
{
  const gint64 s = (gint64) job->geom.stride_h, h = (gint64) job->bank_halo;
  const gint64 o0 = m0 >= 0 ? m0 / s : -((-m0 + s - 1) / s);
  const gint64 o1 = m1 - 1 >= 0 ? (m1 - 1) / s : -((-(m1 - 1) + s - 1) / s);

  *a = MIN (*a, o0 - h);
  *b = MAX (*b, o1 + h);
}

gboolean
tconv_pipeline_bank_scratch (const TconvPipelineJob *job, gsize n_in, gsize sizes[SCRATCH_COUNT])
{
  gsize plane, work;

  if (!g_size_checked_mul (&plane, n_in, job->in_cols)
      || tconv_bank_work_len (&job->bank->classifier, n_in, job->in_cols, &work, NULL)
           != TCONV_OK)
    return FALSE;
  sizes[SCRATCH_LUMA] = plane;
  sizes[SCRATCH_BANK] = work;
  sizes[SCRATCH_MAP] = plane / 2 + 1; /* uint16 classes in floats */
  return TRUE;
}

/* Whether the gather hands its output straight to the narrowing (tconv_bank_upsample_to()):
 * with a plan, on an exact stride x image narrowed here to 8 or 16 bits. The band's floats
 * then never exist as a whole; the bytes are the same. */
gboolean
tconv_pipeline_bank_narrows (const TconvPipelineJob *job)
{
  return job->bank != NULL && job->bank_plan != NULL && !job->resample && job->write_bytes != 0;
}

typedef struct
{
  const TconvPipelineJob *job;
  const tconv_out_view   *out; /* the band, whose memory receives the narrowed rows */
} NarrowSink;

/* A finished piece of output row @y: unpremultiplied and narrowed into the band's rows. */
static void
narrow_piece (void *user, size_t y, size_t x, size_t n, float *px)
{
  const NarrowSink       *k = user;
  const TconvPipelineJob *job = k->job;
  const gsize             sample = job->write_bytes, row = k->out->w * job->C * sample;
  guint8                 *dst = (guint8 *) k->out->data + (y - k->out->y0) * row
                                + (x - k->out->x0) * job->C * sample;

  tconv_pipeline_unpremultiply (job, px, n);
  tconv_pipeline_narrow_to (job, px, dst, n * job->C);
}

/* The band's output: as floats in @out, or, when tconv_pipeline_bank_narrows(), as its
 * narrowed rows (write_bytes per sample, rows w C samples apart) in @out's memory. */
void
tconv_pipeline_bank_rows (const TconvPipelineJob *job, TconvPipelineScratch *s,
                          const tconv_in_view *in, const tconv_out_view *out)
{
  const gsize          halo = job->bank_halo, h = in->h, w = in->w;
  guint16             *map = (guint16 *) (void *) s->buf[SCRATCH_MAP];
  tconv_bank_class_map cmap;
  tconv_status         st;

  /* the luma of every held pixel, premultiplied as the pixels are */
  st = tconv_bank_luma (in, job->C >= 3 ? (job->alpha ? 4 : 3) : (job->alpha ? 2 : 1),
                        s->buf[SCRATCH_LUMA], (ptrdiff_t) w, NULL);
  g_assert (st == TCONV_OK);
  st = tconv_bank_classify (&job->bank->classifier, s->buf[SCRATCH_LUMA], h, w, (ptrdiff_t) w,
                            map, (ptrdiff_t) (w - 2 * halo), s->buf[SCRATCH_BANK],
                            job->scratch_floats[SCRATCH_BANK], NULL);
  g_assert (st == TCONV_OK);
  cmap = (tconv_bank_class_map) { map, in->y0 + (gint64) halo, in->x0 + (gint64) halo,
                                  h - 2 * halo, w - 2 * halo, (ptrdiff_t) (w - 2 * halo) };
  if (tconv_pipeline_bank_narrows (job))
    {
      NarrowSink            k = { job, out };
      const tconv_bank_sink sink = { narrow_piece, &k };
      st = tconv_bank_upsample_to (job->bank, job->bank_plan, &job->geom, in, &cmap, out->y0,
                                   out->x0, out->h, out->w, &sink, job->antiring, NULL);
    }
  else
    st = tconv_bank_upsample (job->bank, job->bank_plan, &job->geom, in, &cmap, out,
                              job->antiring, NULL);
  /* the rows and columns held cover the owners and their halo by construction */
  g_assert (st == TCONV_OK);
}

/* The luma of @src's working values, extended by @halo pixels of @border on every side. */
static gfloat *
extended_luma (GeglBuffer *src, TconvBorder border, gboolean linear, gsize halo, gsize *ew,
               gsize *eh)
{
  const GeglRectangle *e = gegl_buffer_get_extent (src);
  const gboolean       grey = babl_format_get_n_components (gegl_buffer_get_format (src)) <= 2;
  const Babl          *fmt = babl_format (grey ? (linear ? "YaA float" : "Y'aA float")
                                               : (linear ? "RaGaBaA float" : "R'aG'aB'aA float"));
  const gsize          C = grey ? 2 : 4, w = (gsize) e->width, h = (gsize) e->height;
  gfloat              *px = g_new (gfloat, w * h * C), *row = g_new (gfloat, w);
  gfloat              *luma;

  gegl_buffer_get (src, e, 1.0, fmt, px, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  *ew = w + 2 * halo, *eh = h + 2 * halo;
  luma = g_new0 (gfloat, *ew * *eh);
  for (gsize y = 0; y < h; y++)
    {
      const tconv_in_view in = { px + y * w * C, 0, 0, 1, w, 1, (ptrdiff_t) (w * C),
                                 (ptrdiff_t) C };
      tconv_bank_luma (&in, grey ? 2 : 4, row, (ptrdiff_t) w, NULL);
      memcpy (luma + (y + halo) * *ew + halo, row, w * sizeof (gfloat));
    }
  for (gsize y = 0; y < *eh; y++)
    for (gsize x = 0; x < *ew; x++)
      {
        const gint64 sy = tconv_pipeline_border_map (border, (gint64) y - (gint64) halo, (gint64) h);
        const gint64 sx = tconv_pipeline_border_map (border, (gint64) x - (gint64) halo, (gint64) w);
        if (y >= halo && y < h + halo && x >= halo && x < w + halo)
          continue;
        luma[y * *ew + x] = sy < 0 || sx < 0 ? 0.0f : luma[(gsize) (sy + (gint64) halo) * *ew
                                                           + (gsize) (sx + (gint64) halo)];
      }
  g_free (px), g_free (row);
  return luma;
}

guint16 *
tconv_pipeline_bank_classes (GeglBuffer *src, const tconv_bank *bank, TconvBorder border,
                             gboolean linear, GError **error)
{
  const gsize  halo = tconv_bank_halo (&bank->classifier), band = 64;
  gsize        ew, eh, w, h, need;
  gfloat      *luma = extended_luma (src, border, linear, halo, &ew, &eh), *work;
  guint16     *classes;
  tconv_error  err = { 0 };

  w = ew - 2 * halo, h = eh - 2 * halo;
  if (tconv_bank_work_len (&bank->classifier, band + 2 * halo, ew, &need, &err) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE, "class map: %s",
                   err.message);
      g_free (luma);
      return NULL;
    }
  work = g_new (gfloat, need);
  classes = g_new (guint16, w * h);
  for (gsize y0 = 0; y0 < h; y0 += band)
    {
      const gsize n = MIN (band, h - y0);
      if (tconv_bank_classify (&bank->classifier, luma + y0 * ew, n + 2 * halo, ew,
                               (ptrdiff_t) ew, classes + y0 * w, (ptrdiff_t) w, work, need, &err)
          != TCONV_OK)
        g_assert_not_reached (); /* the sizes are the ones asked for */
    }
  g_free (luma), g_free (work);
  return classes;
}
