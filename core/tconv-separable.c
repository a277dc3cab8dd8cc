/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The two-pass path for rank-1 depthwise kernels, w[c] = col[c] * row[c]^T. With the gather
 * form, output (c, y, x) = bias[c] + sum_ky col[ky] * T[c, iy(y, ky), x], where
 * T[c, iy, x] = sum_kx row[kx] * in[c, iy, ix(x, kx)] is a 1-D transposed convolution of one
 * input row along W. So the first pass computes T, into the caller's scratch, for the input
 * rows the output region reads and for the region's columns only; the second is a 1-D transposed
 * convolution of T along H straight into the output view.
 *
 * Invariants: nothing is allocated; input outside the view reads as zero in both passes (a row
 * outside the view is never in T; a column outside it is skipped), exactly as tconv_upsample();
 * every output element is written once. */
#include "tconv-private.h"

typedef struct
{
  size_t    k; /* kernel row or column */
  ptrdiff_t i; /* input index, relative to the view, of the first output of the run */
} tap;

/* Taps of output position @o along one axis (stride @s, padding @pad, no dilation), as
 * view-relative input indices, kept even when outside the view. */
static size_t
axis_taps (int64_t o, size_t k_n, size_t s, size_t pad, int64_t in_lo, tap *taps)
{
  size_t n = 0;

  for (size_t k = 0; k < k_n; k++)
    {
      const int64_t t = o + (int64_t) pad - (int64_t) k;
      if (tconv_floor_mod (t, (int64_t) s) != 0)
        continue;
      taps[n].k = k;
      taps[n].i = (ptrdiff_t) (tconv_floor_div (t, (int64_t) s) - in_lo);
      n++;
    }
  return n;
}

/* The view-relative input rows [*lo, *lo + *n) that output rows [y0, y0 + h) read: input row
 * iy feeds output y when y + pad - ky = iy * s for some 0 <= ky < k, clipped to the view. All
 * terms are bounded by tconv_check_views() and the geometry limits, so int64 cannot overflow. */
static void
rows_needed (const tconv_geometry *g, const tconv_in_view *in, const tconv_out_view *out,
             int64_t *lo, size_t *n)
{
  const int64_t s = (int64_t) g->stride_h;
  const int64_t first = (int64_t) out->y0 + (int64_t) g->pad_h - (int64_t) (g->k_h - 1);
  const int64_t last = (int64_t) (out->y0 + out->h - 1) + (int64_t) g->pad_h;
  int64_t       a = -tconv_floor_div (-first, s); /* ceil (first / s) */
  int64_t       b = tconv_floor_div (last, s);

  a -= in->y0;
  b -= in->y0;
  if (a < 0)
    a = 0;
  if (b > (int64_t) in->h - 1)
    b = (int64_t) in->h - 1;
  *lo = a;
  *n = b >= a ? (size_t) (b - a + 1) : 0;
}

static tconv_status
check_separable (const tconv_geometry *geom, const float *col, const float *row,
                 const tconv_in_view *in, const tconv_out_view *out, tconv_error *err)
{
  tconv_status st;

  if ((st = tconv_check_views (geom, col, in, out, err)) != TCONV_OK)
    return st;
  if (row == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "separable: row factors are NULL");
  /* Depthwise without a channel multiplier, and no dilation. */
  if (geom->groups != geom->in_c || geom->out_c != geom->in_c || geom->dil_h != 1
      || geom->dil_w != 1)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "separable: in_c %zu, out_c %zu, groups %zu, dilation %zux%zu: must be "
                       "depthwise (groups == in_c == out_c) with dilation 1",
                       geom->in_c, geom->out_c, geom->groups, geom->dil_h, geom->dil_w);
  if (geom->k_h > TCONV_MAX_KERNEL_SIDE || geom->k_w > TCONV_MAX_KERNEL_SIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel %zux%zu: must be at most %ux%u",
                       geom->k_h, geom->k_w, TCONV_MAX_KERNEL_SIDE, TCONV_MAX_KERNEL_SIDE);
  return TCONV_OK;
}

tconv_status
tconv_separable_work_len (const tconv_geometry *geom, const tconv_in_view *in,
                          const tconv_out_view *out, size_t *work_len, tconv_error *err)
{
  int64_t      lo;
  size_t       n_rows, n;
  tconv_status st;

  if (geom == NULL || in == NULL || out == NULL || work_len == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "separable work length: a NULL geometry, view or result pointer");
  /* The view checks without the pointers, which a size query does not need. */
  float          dummy = 0.0f; /* only compared with NULL */
  tconv_in_view  i = *in;
  tconv_out_view o = *out;
  i.data = &dummy;
  o.data = &dummy;
  if ((st = tconv_check_views (geom, &dummy, &i, &o, err)) != TCONV_OK)
    return st;

  rows_needed (geom, in, out, &lo, &n_rows);
  if (!tconv_mul3_size (geom->in_c, n_rows, out->w, &n) || n > SIZE_MAX / sizeof (float))
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "separable scratch of %zu channels x %zu rows x %zu columns overflows",
                       geom->in_c, n_rows, out->w);
  *work_len = n;
  return TCONV_OK;
}

tconv_status
tconv_upsample_separable (const tconv_geometry *geom, const float *col, const float *row,
                          const float *bias, const tconv_in_view *in, const tconv_out_view *out,
                          float *work, size_t work_len, tconv_error *err)
{
  tconv_status st;
  int64_t      row_lo;
  size_t       n_rows, need;
  tap          taps[TCONV_MAX_KERNEL_SIDE];

  if ((st = check_separable (geom, col, row, in, out, err)) != TCONV_OK)
    return st;
  if ((st = tconv_separable_work_len (geom, in, out, &need, err)) != TCONV_OK)
    return st;
  if (work_len < need || (need > 0 && work == NULL))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "separable scratch of %zu floats%s: needs %zu", work_len,
                       work == NULL ? " (NULL)" : "", need);

  rows_needed (geom, in, out, &row_lo, &n_rows);

  const size_t c_n = geom->in_c, w_n = out->w, sw = geom->stride_w;

  /* Pass 1, along W: T[c][r][x] for view row row_lo + r and ROI column x. One sweep per column
   * phase, as in tconv_upsample(): the phase's outputs step by stride_w in T and its input
   * index steps by one. T is contiguous in x so the second pass streams it. */
  for (size_t p = 0; p < sw && p < w_n; p++)
    {
      const size_t n_run = (w_n - p + sw - 1) / sw;
      const size_t n_taps = axis_taps ((int64_t) (out->x0 + p), geom->k_w, sw, geom->pad_w,
                                       in->x0, taps);

      for (size_t c = 0; c < c_n; c++)
        {
          const float *rw = row + c * geom->k_w;

          for (size_t r = 0; r < n_rows; r++)
            {
              const float *irow = in->data + (ptrdiff_t) c * in->c_stride
                                  + (ptrdiff_t) ((size_t) row_lo + r) * in->y_stride;
              float       *t = work + (c * n_rows + r) * w_n + p;

              for (size_t m = 0; m < n_run; m++)
                {
                  float acc = 0.0f;

                  for (size_t j = 0; j < n_taps; j++)
                    {
                      const ptrdiff_t ix = taps[j].i + (ptrdiff_t) m;
                      if (ix >= 0 && (size_t) ix < in->w)
                        acc += rw[taps[j].k] * irow[ix * in->x_stride];
                    }
                  t[m * sw] = acc;
                }
            }
        }
    }

  /* Pass 2, along H: each output row gathers the T rows of its taps that lie in the view. */
  for (size_t y = 0; y < out->h; y++)
    {
      const size_t n_all = axis_taps ((int64_t) (out->y0 + y), geom->k_h, geom->stride_h,
                                      geom->pad_h, in->y0, taps);
      size_t       n_taps = 0;

      /* Keep the taps whose input row is in T (i.e. in the view), as T-relative rows. */
      for (size_t j = 0; j < n_all; j++)
        {
          const ptrdiff_t r = taps[j].i - (ptrdiff_t) row_lo;
          if (r >= 0 && (size_t) r < n_rows)
            taps[n_taps].k = taps[j].k, taps[n_taps].i = r, n_taps++;
        }

      for (size_t c = 0; c < c_n; c++)
        {
          const float *cw = col + c * geom->k_h;
          const float  b = bias != NULL ? bias[c] : 0.0f;
          float       *o = out->data + (ptrdiff_t) c * out->c_stride
                           + (ptrdiff_t) y * out->y_stride;
          const float *tc = n_rows > 0 ? work + c * n_rows * w_n : work; /* work may be NULL */

          for (size_t x = 0; x < w_n; x++)
            {
              float acc = b;

              for (size_t j = 0; j < n_taps; j++)
                acc += cw[taps[j].k] * tc[(size_t) taps[j].i * w_n + x];
              o[(ptrdiff_t) x * out->x_stride] = acc;
            }
        }
    }
  return TCONV_OK;
}
