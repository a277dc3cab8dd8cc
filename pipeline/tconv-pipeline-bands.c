/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The region in bands of output rows: which input rows and columns a band reads (the halo,
 * filled by the border mode beyond the image), the convolution of the stride x image, the
 * exact-size reduction, and the 8-bit path.
 *
 * Why a region's pixels equal the whole image's: a band holds every input row and column its
 * pixels read, with the same values (the border mode is applied to image coordinates, never
 * to the band's edges); the core computes each output pixel from those values by the same
 * operations whatever the view (core/tconv-depthwise.c, tconv-separable.c); the reduction
 * sums each pixel's taps in a fixed order; and rows are never split. */
#include "tconv-pipeline-private.h"

#include <string.h>


static gint64
floor_div (gint64 a, gint64 b)
{
  gint64 q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static gint64
ceil_div (gint64 a, gint64 b)
{
  return -floor_div (-a, b);
}

/* Input rows [*lo, *lo + *n) that rows [m0, m1) of the stride x image read (the halo). */
static void
input_rows (const TconvPipelineJob *job, gint64 m0, gint64 m1, gint64 *lo, gsize *n)
{
  const tconv_geometry *g = &job->geom;
  gint64                a = ceil_div (m0 + (gint64) g->pad_h - (gint64) (g->k_h - 1),
                                      (gint64) g->stride_h);
  gint64                b = floor_div (m1 - 1 + (gint64) g->pad_h, (gint64) g->stride_h);

  if (job->bank != NULL)
    tconv_pipeline_bank_widen (job, m0, m1, &a, &b);
  *lo = a;
  *n = b >= a ? (gsize) (b - a + 1) : 0;
}

/* An upper bound on input_rows() for any @m rows. */
static gsize
input_rows_max (const TconvPipelineJob *job, gsize m)
{
  const tconv_geometry *g = &job->geom;
  return (m + g->stride_h - 1) / g->stride_h + (g->k_h + g->stride_h - 1) / g->stride_h + 1
         + 2 * job->bank_halo;
}

/* Rows of the stride x image that output rows [y0, y1) read through the reduction. */
static void
mid_rows (const TconvPipelineJob *job, gint y0, gint y1, gint64 *lo, gsize *n)
{
  *lo = job->ry.first[y0];
  *n = (gsize) ((gint64) job->ry.first[y1 - 1] + job->ry.taps - *lo);
}

static gsize
mid_rows_max (const TconvPipelineJob *job, gsize rows)
{
  /* first[] advances by at most ceil (mid / out) per output row */
  const gsize step = ((gsize) job->mid_h + (gsize) job->out_h - 1) / (gsize) job->out_h;
  return (rows - 1) * step + (gsize) job->ry.taps + 1;
}

/* ---------------------------------------------------------------------------------------------
 * The 8-bit path (core/tconv-u8.c): every call into it is in this section. It computes whole
 * output rows; the region's columns are cut from them when stored.
 */

/* The path applies when the source and destination are 8-bit in the working encoding
 * (read_bytes == write_bytes == 1: perceptual, same space, exactly the working components)
 * and opaque, at an exact stride x: then the float path's result is the rounded convolution
 * of the 8-bit values divided by 255, which this path computes on the values themselves. With
 * alpha the colours are premultiplied first, which 8 bits cannot hold exactly.
 * TCONV_PIPELINE_NO_FAST8=1 turns it off (tests compare the two). */
static void
fast8_setup (TconvPipelineJob *job)
{
  int64_t lo;
  size_t  n, bytes;

  if (job->bank != NULL || job->antiring > 0.0f || job->resample || job->read_bytes != 1 || job->write_bytes != 1 || job->alpha
      || job->read_table != NULL || g_getenv ("TCONV_PIPELINE_NO_FAST8") != NULL)
    return;
  /* a geometry it does not handle: the float path */
  if (tconv_u8_columns (&job->geom, &lo, &n, NULL) != TCONV_OK
      || tconv_u8_plan_size (&job->geom, &bytes, NULL) != TCONV_OK)
    return;
  /* the whole image row is always held */
  job->f8_lo = MIN (lo, 0);
  job->f8_cols = (gsize) (MAX (lo + (gint64) n, (gint64) job->in_w) - job->f8_lo);
  job->fast8_mem = g_malloc (bytes);
  if (tconv_u8_plan_init (&job->geom, job->weight, job->bias, job->f8_lo, job->f8_cols,
                          job->fast8_mem, bytes, &job->fast8, NULL) != TCONV_OK)
    {
      g_clear_pointer (&job->fast8_mem, g_free);
      return;
    }
  job->f8_map = g_new (gint, job->f8_cols);
  for (gsize x = 0; x < job->f8_cols; x++)
    job->f8_map[x] = (gint) tconv_pipeline_border_map (job->border, job->f8_lo + (gint64) x, job->in_w);
}

void
tconv_pipeline_fast8_clear (TconvPipelineJob *job)
{
  g_clear_pointer (&job->f8_map, g_free);
  job->fast8 = NULL; /* inside fast8_mem */
  g_clear_pointer (&job->fast8_mem, g_free);
}

/* Scratch for bands of @rows rows, in floats rounded up from bytes. */
static gboolean
fast8_scratch_sizes (const TconvPipelineJob *job, gsize rows, gsize sizes[SCRATCH_COUNT])
{
  const gsize n_in = input_rows_max (job, rows);

  if (!g_size_checked_mul (&sizes[SCRATCH_IN8], n_in, job->f8_cols)
      || !g_size_checked_mul (&sizes[SCRATCH_IN8], sizes[SCRATCH_IN8], job->C)
      || !g_size_checked_mul (&sizes[SCRATCH_EXP], n_in, tconv_u8_row_floats (job->fast8))
      || !g_size_checked_mul (&sizes[SCRATCH_OUT], rows, (gsize) job->out_w)
      || !g_size_checked_mul (&sizes[SCRATCH_OUT], sizes[SCRATCH_OUT], job->C))
    return FALSE;
  sizes[SCRATCH_IN8] = sizes[SCRATCH_IN8] / sizeof (gfloat) + 1;
  sizes[SCRATCH_OUT] = sizes[SCRATCH_OUT] / sizeof (gfloat) + 1;
  sizes[SCRATCH_PTR] = n_in * sizeof (gpointer) / sizeof (gfloat) + 1;
  return TRUE;
}

/* Input rows [lo, lo + n): columns [f8_lo, f8_lo + f8_cols) in the source's own 8-bit format,
 * everything outside the image filled by the border mode. */
static void
fast8_fill (const TconvPipelineJob *job, gint64 lo, gsize n, guint8 *buf)
{
  const gsize  C = job->C, stride = job->f8_cols * C;
  const gsize  left = (gsize) -job->f8_lo; /* columns before image column 0 */
  const gsize  image = (gsize) job->in_w * C;
  const gint64 a = MAX (lo, 0), b = MIN (lo + (gint64) n, (gint64) job->in_h);

  if (a < b)
    gegl_buffer_get (job->src,
                     GEGL_RECTANGLE (job->src_x, job->src_y + (gint) a, job->in_w, (gint) (b - a)),
                     1.0, job->src_fmt, buf + (gsize) (a - lo) * stride + left * C,
                     (gint) stride, GEGL_ABYSS_NONE);
  for (gsize r = 0; r < n; r++)
    {
      const gint64 iy = lo + (gint64) r;
      guint8      *row = buf + r * stride;

      if (iy < 0 || iy >= job->in_h)
        {
          const gint64 m = tconv_pipeline_border_map (job->border, iy, job->in_h);

          if (m < 0)
            {
              memset (row, 0, stride);
              continue;
            }
          if (m >= a && m < b)
            memcpy (row + left * C, buf + (gsize) (m - lo) * stride + left * C, image);
          else
            gegl_buffer_get (job->src,
                             GEGL_RECTANGLE (job->src_x, job->src_y + (gint) m, job->in_w, 1),
                             1.0, job->src_fmt, row + left * C, GEGL_AUTO_ROWSTRIDE,
                             GEGL_ABYSS_NONE);
        }
      for (gsize x = 0; x < job->f8_cols; x++)
        {
          if (x == left && job->in_w > 0)
            {
              x += (gsize) job->in_w - 1; /* the image columns are there already */
              continue;
            }
          if (job->f8_map[x] < 0)
            memset (row + x * C, 0, C);
          else
            memcpy (row + x * C, row + (left + (gsize) job->f8_map[x]) * C, C);
        }
    }
}

/* Output rows [y0, y1), whole, into the 8-bit rows @out8: read, expand, convolve. */
static void
fast8_band (const TconvPipelineJob *job, TconvPipelineScratch *s, gint y0, gint y1, guint8 *out8)
{
  const gsize    row_floats = tconv_u8_row_floats (job->fast8);
  guint8        *in8 = (guint8 *) s->buf[SCRATCH_IN8];
  const gfloat **rows = (const gfloat **) s->buf[SCRATCH_PTR];
  gint64         lo, t0 = job->profile ? tconv_pipeline_prof_now () : 0;
  gsize          n;
  tconv_status   st;

  input_rows (job, y0, y1, &lo, &n);
  fast8_fill (job, lo, n, in8);
  tconv_pipeline_prof_add (job, 0, &t0);
  for (gsize r = 0; r < n; r++)
    {
      gfloat *e = s->buf[SCRATCH_EXP] + r * row_floats;

      tconv_u8_expand (job->fast8, in8 + r * job->f8_cols * job->C, e, NULL);
      rows[r] = e;
    }
  st = tconv_u8_rows (job->fast8, rows, lo, n, (gsize) y0, (gsize) y1, out8,
                      (gsize) job->out_w * job->C, NULL);
  g_assert (st == TCONV_OK); /* input_rows() gave every row the band reads */
  tconv_pipeline_prof_add (job, 1, &t0);
}

/* ---------------------------------------------------------------------------------------------
 * The region's columns
 */

static gint
align_down (gint x)
{
  return x / TCONV_PIPELINE_ALIGN * TCONV_PIPELINE_ALIGN;
}

static gint
align_up (gint x, gint limit)
{
  const gint64 a = ((gint64) x + TCONV_PIPELINE_ALIGN - 1) / TCONV_PIPELINE_ALIGN
                   * TCONV_PIPELINE_ALIGN;
  return (gint) MIN (a, (gint64) limit);
}

/* Columns [mx0, mx1) of the stride x image that output columns [cx0, cx1) read: through the
 * reduction, every tap with a weight (border-mapped already); else the same columns. */
static void
set_mid_columns (TconvPipelineJob *job)
{
  const gint taps = job->rx.taps;
  gint       lo = G_MAXINT, hi = -1;

  if (!job->resample)
    {
      job->mx0 = job->cx0, job->mx1 = job->cx1;
      return;
    }
  for (gint x = job->cx0; x < job->cx1; x++)
    for (gint t = 0; t < taps; t++)
      {
        const gint i = job->rx.index[(gsize) x * (gsize) taps + t];

        if (job->rx.weights[(gsize) x * (gsize) taps + t] == 0.0f || i < 0)
          continue;
        lo = MIN (lo, i), hi = MAX (hi, i);
      }
  if (hi < lo)
    lo = hi = 0; /* every tap reads zero: compute one column, read by none */
  job->mx0 = lo, job->mx1 = hi + 1;
}

/* The input columns the stride x columns [mx0, mx1) read, [a, b], held with their halo; the
 * image columns behind them (border-mapped) are read from fx_lo, aligned for babl. */
static void
set_input_columns (TconvPipelineJob *job)
{
  const tconv_geometry *g = &job->geom;
  gint64 a = ceil_div ((gint64) job->mx0 + (gint64) g->pad_w - (gint64) (g->k_w - 1),
                       (gint64) g->stride_w);
  gint64 b = floor_div ((gint64) job->mx1 - 1 + (gint64) g->pad_w, (gint64) g->stride_w);
  gint64 lo = job->in_w, hi = -1, ix_hi;

  if (job->bank != NULL)
    tconv_pipeline_bank_widen (job, job->mx0, job->mx1, &a, &b);

  for (gint64 i = a; i <= b; i++)
    {
      const gint64 m = tconv_pipeline_border_map (job->border, i, job->in_w);

      if (m >= 0)
        lo = MIN (lo, m), hi = MAX (hi, m);
    }
  if (hi < lo)
    job->fx_lo = 0, job->fx_n = 0;
  else
    {
      job->fx_lo = align_down ((gint) lo);
      job->fx_n = align_up ((gint) hi + 1, job->in_w) - job->fx_lo;
    }
  job->ix_lo = job->fx_n > 0 ? MIN (a, (gint64) job->fx_lo) : a;
  ix_hi = job->fx_n > 0 ? MAX (b, (gint64) (job->fx_lo + job->fx_n - 1)) : b;
  job->in_cols = (gsize) (ix_hi - job->ix_lo + 1);
  job->col_map = g_new (gint, job->in_cols);
  for (gsize x = 0; x < job->in_cols; x++)
    job->col_map[x] = (gint) tconv_pipeline_border_map (job->border, job->ix_lo + (gint64) x, job->in_w);
}

/* Everything that depends on the region's columns (the rows are handled band by band). The
 * 8-bit path computes whole rows; the float path the region's columns widened to
 * TCONV_PIPELINE_ALIGN, so that babl sees the same runs as for whole rows. */
void
tconv_pipeline_set_region (TconvPipelineJob *job)
{
  fast8_setup (job);
  if (job->fast8 != NULL)
    {
      job->cx0 = 0, job->cx1 = job->out_w;
      return;
    }
  job->cx0 = align_down (job->roi.x);
  job->cx1 = align_up (job->roi.x + job->roi.width, job->out_w);
  set_mid_columns (job);
  set_input_columns (job);
}

/* ---------------------------------------------------------------------------------------------
 * Bands and their scratch
 */

/* Scratch floats for bands of @rows output rows; FALSE on overflow. */
static gboolean
scratch_sizes (const TconvPipelineJob *job, gsize rows, gsize sizes[SCRATCH_COUNT])
{
  const gsize C = job->C, w = (gsize) (job->cx1 - job->cx0), mw = (gsize) (job->mx1 - job->mx0);
  gsize       m = rows, n_in;

  memset (sizes, 0, SCRATCH_COUNT * sizeof sizes[0]);
  if (job->fast8 != NULL)
    return fast8_scratch_sizes (job, rows, sizes);
  if (job->resample)
    {
      m = mid_rows_max (job, rows);
      if (!g_size_checked_mul (&sizes[SCRATCH_MID], m, mw)
          || !g_size_checked_mul (&sizes[SCRATCH_MID], sizes[SCRATCH_MID], C))
        return FALSE;
      sizes[SCRATCH_TMP] = mw * C;
    }
  n_in = input_rows_max (job, m);
  if (!g_size_checked_mul (&sizes[SCRATCH_IN], n_in, job->in_cols)
      || !g_size_checked_mul (&sizes[SCRATCH_IN], sizes[SCRATCH_IN], C)
      || !g_size_checked_mul (&sizes[SCRATCH_OUT], rows, w)
      || !g_size_checked_mul (&sizes[SCRATCH_OUT], sizes[SCRATCH_OUT], C))
    return FALSE;
  if (job->bank != NULL && !tconv_pipeline_bank_scratch (job, n_in, sizes))
    return FALSE;
  /* narrowed inside the gather: the band's rows only ever hold integer samples */
  if (tconv_pipeline_bank_narrows (job))
    {
      if (!g_size_checked_mul (&sizes[SCRATCH_OUT], sizes[SCRATCH_OUT], job->write_bytes))
        return FALSE;
      sizes[SCRATCH_OUT] = sizes[SCRATCH_OUT] / sizeof (gfloat) + 1;
    }
  if (job->col != NULL
      && (!g_size_checked_mul (&sizes[SCRATCH_SEP], n_in, mw)
          || !g_size_checked_mul (&sizes[SCRATCH_SEP], sizes[SCRATCH_SEP], C)))
    return FALSE;
  if (job->write_bytes == 0 && job->write_fmt != job->dst_fmt
      && (!g_size_checked_mul (&sizes[SCRATCH_CONV], rows * w,
                               (gsize) babl_format_get_bytes_per_pixel (job->dst_fmt))))
    return FALSE;
  sizes[SCRATCH_CONV] = sizes[SCRATCH_CONV] ? sizes[SCRATCH_CONV] / sizeof (gfloat) + 1 : 0;
  return TRUE;
}

static gboolean
scratch_bytes (const TconvPipelineJob *job, gsize rows, guint64 *bytes)
{
  gsize   sizes[SCRATCH_COUNT];
  guint64 total = 0;

  if (!scratch_sizes (job, rows, sizes))
    return FALSE;
  for (gint i = 0; i < SCRATCH_COUNT; i++)
    {
      if (sizes[i] > G_MAXUINT64 / 8 - total)
        return FALSE;
      total += (guint64) sizes[i] * sizeof (gfloat);
    }
  *bytes = total;
  return TRUE;
}

/* Band height from the memory budget and @threads; FALSE when one row per thread does not
 * fit. */
gboolean
tconv_pipeline_plan_bands (TconvPipelineJob *job, gint threads, guint64 budget, GError **error)
{
  const gint h = job->roi.height;
  guint64    one, bytes;
  gint       rows;

  if (!scratch_bytes (job, 1, &one) || one > budget)
    {
      if (!scratch_bytes (job, 1, &one))
        one = G_MAXUINT64;
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE,
                   "output of %dx%d: one band row needs %" G_GUINT64_FORMAT " bytes of working "
                   "memory, more than the memory budget of %" G_GUINT64_FORMAT " bytes",
                   job->out_w, job->out_h, one, budget);
      return FALSE;
    }
  threads = (gint) MIN ((guint64) threads, budget / one);
  threads = MAX (threads, 1);

  /* As many rows as the budget allows per thread, up to 64; then evened out so that the last
   * band is not a sliver. */
  rows = 1;
  while (rows < 64 && rows < h && scratch_bytes (job, (gsize) rows * 2, &bytes)
         && bytes * (guint64) threads <= budget)
    rows *= 2;
  rows = MIN (rows, h);
  job->n_bands = (h + rows - 1) / rows;
  job->band_rows = (h + job->n_bands - 1) / job->n_bands;
  if (!scratch_sizes (job, (gsize) job->band_rows, job->scratch_floats))
    g_assert_not_reached (); /* smaller than a size that passed */
  job->max_threads = MIN (threads, job->n_bands);
  return TRUE;
}

gboolean
tconv_pipeline_scratch_alloc (const TconvPipelineJob *job, TconvPipelineScratch *s)
{
  memset (s, 0, sizeof *s);
  for (gint i = 0; i < SCRATCH_COUNT; i++)
    if (job->scratch_floats[i] > 0
        && (s->buf[i] = g_try_new (gfloat, job->scratch_floats[i])) == NULL)
      return FALSE;
  return TRUE;
}

void
tconv_pipeline_scratch_free (TconvPipelineScratch *s)
{
  for (gint i = 0; i < SCRATCH_COUNT; i++)
    g_clear_pointer (&s->buf[i], g_free);
}

/* ---------------------------------------------------------------------------------------------
 * The float path
 */

/* The halo columns of one input row (those outside the image columns read), from the row's
 * own pixels by the border mapping. */
static void
fill_halo_columns (const TconvPipelineJob *job, gfloat *row)
{
  const gsize  C = job->C;
  const gint64 f0 = job->fx_lo - job->ix_lo, f1 = f0 + job->fx_n; /* read, buffer-relative */

  for (gsize x = 0; x < job->in_cols; x++)
    {
      if ((gint64) x >= f0 && (gint64) x < f1)
        {
          x = (gsize) f1 - 1; /* skip the columns read */
          continue;
        }
      if (job->col_map[x] < 0)
        memset (row + x * C, 0, C * sizeof (gfloat));
      else
        memcpy (row + x * C, row + (gsize) (job->col_map[x] - job->ix_lo) * C,
                C * sizeof (gfloat));
    }
}

/* Input rows [lo, lo + n), columns [ix_lo, ix_lo + in_cols), premultiplied float, with
 * everything outside the image filled by the border mode. */
static void
fill_input (const TconvPipelineJob *job, gint64 lo, gsize n, gfloat *buf)
{
  const gsize  C = job->C, row_floats = job->in_cols * C;
  const gsize  at = (gsize) (job->fx_lo - job->ix_lo) * C; /* where the read columns go */
  const gint64 a = MAX (lo, 0), b = MIN (lo + (gint64) n, (gint64) job->in_h);
  gint64       t0 = job->profile ? tconv_pipeline_prof_now () : 0;

  if (a < b && job->fx_n > 0)
    tconv_pipeline_fetch_rows (job, a, b - a, buf + (gsize) (a - lo) * row_floats + at,
                               row_floats);
  tconv_pipeline_prof_add (job, 0, &t0);

  for (gsize r = 0; r < n; r++)
    {
      const gint64 iy = lo + (gint64) r;
      gfloat      *row = buf + r * row_floats;

      if (iy < 0 || iy >= job->in_h)
        {
          const gint64 m = tconv_pipeline_border_map (job->border, iy, job->in_h);

          if (m < 0)
            {
              memset (row, 0, row_floats * sizeof (gfloat));
              continue;
            }
          if (m >= a && m < b)
            memcpy (row + at, buf + (gsize) (m - lo) * row_floats + at,
                    (gsize) job->fx_n * C * sizeof (gfloat));
          else if (job->fx_n > 0)
            tconv_pipeline_fetch_rows (job, m, 1, row + at, row_floats);
        }
      fill_halo_columns (job, row);
    }
}

/* Rows [m0, m1) of the stride x image, columns [mx0, mx1), into @dst. */
static void
convolve_rows (const TconvPipelineJob *job, TconvPipelineScratch *s, gint64 m0, gint64 m1,
               gfloat *dst)
{
  const gsize    C = job->C, mw = (gsize) (job->mx1 - job->mx0);
  gint64         lo;
  gsize          n;
  tconv_status   st;
  tconv_in_view  in;
  tconv_out_view out;

  input_rows (job, m0, m1, &lo, &n);
  fill_input (job, lo, n, s->buf[SCRATCH_IN]);
  in = (tconv_in_view) { .data = s->buf[SCRATCH_IN], .y0 = lo, .x0 = job->ix_lo, .h = n,
                         .w = job->in_cols, .c_stride = 1,
                         .y_stride = (ptrdiff_t) (job->in_cols * C), .x_stride = (ptrdiff_t) C };
  out = (tconv_out_view) { .data = dst, .y0 = (size_t) m0, .x0 = (size_t) job->mx0,
                           .h = (size_t) (m1 - m0), .w = mw, .c_stride = 1,
                           .y_stride = (ptrdiff_t) (mw * C), .x_stride = (ptrdiff_t) C };
  if (job->bank != NULL)
    st = (tconv_pipeline_bank_rows (job, s, &in, &out), TCONV_OK);
  else if (job->col != NULL)
    {
      size_t need = 0;

      st = tconv_separable_work_len (&job->geom, &in, &out, &need, NULL);
      g_assert (st == TCONV_OK && need <= job->scratch_floats[SCRATCH_SEP]);
      st = tconv_upsample_separable (&job->geom, job->col, job->row, job->bias, &in, &out,
                                     s->buf[SCRATCH_SEP], job->scratch_floats[SCRATCH_SEP], NULL);
    }
  else
    st = tconv_upsample (&job->geom, job->weight, job->bias, &in, &out, NULL);
  /* a bank limits inside its gather */
  if (st == TCONV_OK && job->bank == NULL && job->antiring > 0.0f)
    st = tconv_antiring (&job->geom, &in, &out, job->antiring, NULL);
  /* the views are built from a validated geometry: a failure here is a bug */
  g_assert (st == TCONV_OK);
}

/* The rows [lo, lo + n) of the stride x image that a band reduces, into @mid: those inside
 * it computed in one go, the few beyond its edges mapped by the border mode. */
static void
mid_band (const TconvPipelineJob *job, TconvPipelineScratch *s, gint64 lo, gsize n, gfloat *mid)
{
  const gsize  mid_row = (gsize) (job->mx1 - job->mx0) * job->C;
  const gint64 a = MAX (lo, 0), b = MIN (lo + (gint64) n, (gint64) job->mid_h);

  if (a < b)
    convolve_rows (job, s, a, b, mid + (gsize) (a - lo) * mid_row);
  for (gsize r = 0; r < n; r++)
    {
      const gint64 i = lo + (gint64) r;
      gint64       m;

      if (i >= 0 && i < job->mid_h)
        continue;
      m = tconv_pipeline_border_map (job->border, i, job->mid_h);
      if (m < 0)
        memset (mid + r * mid_row, 0, mid_row * sizeof (gfloat));
      else if (m >= a && m < b)
        memcpy (mid + r * mid_row, mid + (gsize) (m - lo) * mid_row, mid_row * sizeof (gfloat));
      else
        convolve_rows (job, s, m, m + 1, mid + r * mid_row);
    }
}

/* Output rows [y0, y1), columns [cx0, cx1), through the reduction, into @dst. */
static void
resample_rows (const TconvPipelineJob *job, TconvPipelineScratch *s, gint y0, gint y1,
               gfloat *dst)
{
  const gsize C = job->C, mid_row = (gsize) (job->mx1 - job->mx0) * C;
  const gsize w = (gsize) (job->cx1 - job->cx0);
  gfloat     *mid = s->buf[SCRATCH_MID], *tmp = s->buf[SCRATCH_TMP];
  gint64      lo;
  gsize       n;

  mid_rows (job, y0, y1, &lo, &n);
  mid_band (job, s, lo, n, mid);
  for (gint y = y0; y < y1; y++)
    {
      const gint    taps_y = job->ry.taps, taps_x = job->rx.taps;
      const gint   *iy = job->ry.index + (gsize) y * (gsize) taps_y;
      const gfloat *wy = job->ry.weights + (gsize) y * (gsize) taps_y;
      gfloat       *orow = dst + (gsize) (y - y0) * w * C;

      /* vertical: tmp = sum_t wy[t] * mid row (iy[t]); the mapped row iy[t] is the unmapped
       * row first + t except at the edges, where the band holds the mapped copy in place */
      for (gsize k = 0; k < mid_row; k++)
        tmp[k] = 0.0f;
      for (gint t = 0; t < taps_y; t++)
        {
          const gint64  r = (gint64) job->ry.first[y] + t - lo;
          const gfloat  wt = wy[t];
          const gfloat *src = mid + (gsize) r * mid_row;

          if (wt == 0.0f || iy[t] < 0)
            continue;
          for (gsize k = 0; k < mid_row; k++)
            tmp[k] += wt * src[k];
        }

      /* horizontal, each pixel's taps in order */
      for (gint x = job->cx0; x < job->cx1; x++)
        {
          const gint   *ix = job->rx.index + (gsize) x * (gsize) taps_x;
          const gfloat *wx = job->rx.weights + (gsize) x * (gsize) taps_x;
          gfloat       *o = orow + (gsize) (x - job->cx0) * C;

          for (gsize c = 0; c < C; c++)
            o[c] = 0.0f;
          for (gint t = 0; t < taps_x; t++)
            {
              const gfloat *p;

              if (wx[t] == 0.0f || ix[t] < 0)
                continue;
              p = tmp + (gsize) (ix[t] - job->mx0) * C;
              for (gsize c = 0; c < C; c++)
                o[c] += wx[t] * p[c];
            }
        }
    }
}

/* One band: output rows [y0, y1) of the region, computed, converted and stored. */
void
tconv_pipeline_band (TconvPipelineJob *job, TconvPipelineScratch *s, gint band)
{
  const gint    y0 = job->roi.y + band * job->band_rows;
  const gint    y1 = MIN (y0 + job->band_rows, job->roi.y + job->roi.height);
  const gsize   n = (gsize) (y1 - y0) * (gsize) (job->cx1 - job->cx0);
  gfloat       *out = s->buf[SCRATCH_OUT];
  const guint8 *pixels = (const guint8 *) out;
  gint64        t0;

  if (job->fast8 != NULL)
    fast8_band (job, s, y0, y1, (guint8 *) out);
  else
    {
      /* a bank's gather may narrow each piece as it finishes it */
      const gboolean narrowed = tconv_pipeline_bank_narrows (job);
      t0 = job->profile ? tconv_pipeline_prof_now () : 0;
      if (job->resample)
        resample_rows (job, s, y0, y1, out);
      else
        convolve_rows (job, s, y0, y1, out);
      if (!narrowed)
        tconv_pipeline_unpremultiply (job, out, n);
      tconv_pipeline_prof_add (job, 1, &t0);
      if (job->write_bytes == 0)
        pixels = tconv_pipeline_convert_rows (job, out, (gsize) (y1 - y0),
                                              (guint8 *) s->buf[SCRATCH_CONV]);
      else if (!narrowed)
        tconv_pipeline_narrow (job, out, n * job->C);
      tconv_pipeline_prof_add (job, 2, &t0);
    }
  t0 = job->profile ? tconv_pipeline_prof_now () : 0;
  tconv_pipeline_store_band (job, y0, y1, pixels);
  tconv_pipeline_prof_add (job, 3, &t0);
}
