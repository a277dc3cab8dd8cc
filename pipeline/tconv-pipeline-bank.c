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
  st = tconv_bank_upsample (job->bank, job->bank_plan, &job->geom, in, &cmap, out, NULL);
  /* the rows and columns held cover the owners and their halo by construction */
  g_assert (st == TCONV_OK);
}
