/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The fast path: transposed convolution as a phase-decomposed gather.
 *
 * Output row y only sees kernel rows ky with (y + pad_h - ky * dil_h) divisible by stride_h,
 * reading input row iy = (y + pad_h - ky * dil_h) / stride_h; the same holds for columns, and
 * the valid column taps depend only on the phase (x + pad_w) mod stride_w. So each output
 * phase is a stride-1 correlation of the input with one sub-kernel: no multiplication by
 * inserted zeros and every output element is written exactly once, from a register.
 *
 * Invariants: nothing is allocated; the tap lists live on the stack (at most
 * TCONV_MAX_KERNEL_SIDE entries per axis); input outside the view reads as zero. */
#include "tconv-private.h"

typedef struct
{
  size_t    k;  /* kernel row or column */
  ptrdiff_t i;  /* input index relative to the view, at the first output of the run */
} tap;

/* Taps of the output position @o along one axis, as view-relative input indices. Returns
 * how many; @in_lo/@in_n is the view's extent along that axis. With @keep_outside, taps whose
 * input lies outside the view are kept (the caller range-checks them per pixel). */
static size_t
axis_taps (int64_t o, size_t k_n, size_t s, size_t pad, size_t dil, int64_t in_lo,
           size_t in_n, int keep_outside, tap *taps)
{
  size_t n = 0;

  for (size_t k = 0; k < k_n; k++)
    {
      const int64_t t = o + (int64_t) pad - (int64_t) (k * dil);
      if (tconv_floor_mod (t, (int64_t) s) != 0)
        continue;
      const int64_t i = tconv_floor_div (t, (int64_t) s) - in_lo;
      if (!keep_outside && (i < 0 || i >= (int64_t) in_n))
        continue;
      taps[n].k = k;
      taps[n].i = (ptrdiff_t) i;
      n++;
    }
  return n;
}

/* One run of output columns of a single phase: columns x0, x0 + s, ... (@n of them) of output
 * row @orow, for every output channel. */
static void
phase_run (const tconv_geometry *g, const float *weight, const float *bias,
           const tconv_in_view *in, float *orow, ptrdiff_t o_cs, ptrdiff_t o_xs, size_t n,
           size_t s, const tap *rows, size_t n_rows, const tap *cols, size_t n_cols)
{
  const size_t cin_g = g->in_c / g->groups;
  const size_t cout_g = g->out_c / g->groups;
  const size_t kk = g->k_h * g->k_w;

  for (size_t co = 0; co < g->out_c; co++)
    {
      const size_t grp = co / cout_g, j = co % cout_g;
      float       *o = orow + (ptrdiff_t) co * o_cs;
      const float  b = bias ? bias[co] : 0.0f;

      for (size_t m = 0; m < n; m++)
        {
          float acc = b;

          for (size_t ci = grp * cin_g; ci < (grp + 1) * cin_g; ci++)
            {
              const float *w = weight + (ci * cout_g + j) * kk;
              const float *ic = in->data + (ptrdiff_t) ci * in->c_stride;

              for (size_t r = 0; r < n_rows; r++)
                {
                  const float *irow = ic + rows[r].i * in->y_stride;
                  const float *wrow = w + rows[r].k * g->k_w;

                  for (size_t c = 0; c < n_cols; c++)
                    {
                      const ptrdiff_t ix = cols[c].i + (ptrdiff_t) m;
                      if (ix >= 0 && (size_t) ix < in->w)
                        acc += wrow[cols[c].k] * irow[ix * in->x_stride];
                    }
                }
            }
          o[(ptrdiff_t) (m * s) * o_xs] = acc;
        }
    }
}

tconv_status
tconv_upsample (const tconv_geometry *geom, const float *weight, const float *bias,
                const tconv_in_view *in, const tconv_out_view *out, tconv_error *err)
{
  tconv_status st;
  tap          rows[TCONV_MAX_KERNEL_SIDE];
  tap          cols[TCONV_MAX_KERNEL_SIDE];

  if ((st = tconv_check_views (geom, weight, in, out, err)) != TCONV_OK)
    return st;
  if (geom->k_h > TCONV_MAX_KERNEL_SIDE || geom->k_w > TCONV_MAX_KERNEL_SIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel %zux%zu: must be at most %ux%u",
                       geom->k_h, geom->k_w, TCONV_MAX_KERNEL_SIDE, TCONV_MAX_KERNEL_SIDE);

  if (tconv_depthwise_applies (geom, in, out))
    {
      tconv_depthwise_upsample (geom, weight, bias, in, out);
      return TCONV_OK;
    }
  if (geom->groups == geom->in_c && geom->out_c == geom->in_c && geom->in_c > 1
      && in->x_stride == 1 && out->x_stride == 1)
    {
      /* Planar depthwise: each plane is a one-channel problem for the fast path. */
      tconv_geometry one = *geom;
      one.in_c = one.out_c = one.groups = 1;
      for (size_t c = 0; c < geom->in_c; c++)
        {
          tconv_in_view  ic = *in;
          tconv_out_view oc = *out;
          ic.data += (ptrdiff_t) c * in->c_stride;
          oc.data += (ptrdiff_t) c * out->c_stride;
          if (!tconv_depthwise_applies (&one, &ic, &oc))
            break;
          tconv_depthwise_upsample (&one, weight + c * geom->k_h * geom->k_w,
                                    bias ? bias + c : NULL, &ic, &oc);
          if (c + 1 == geom->in_c)
            return TCONV_OK;
        }
    }

  const size_t sw = geom->stride_w;

  for (size_t y = 0; y < out->h; y++)
    {
      const int64_t oy = (int64_t) (out->y0 + y);
      const size_t  n_rows = axis_taps (oy, geom->k_h, geom->stride_h, geom->pad_h, geom->dil_h,
                                        in->y0, in->h, 0, rows);
      float        *orow = out->data + (ptrdiff_t) y * out->y_stride;

      /* One pass per column phase; a phase's columns step by stride_w and their input
       * index steps by one. */
      for (size_t p = 0; p < sw && p < out->w; p++)
        {
          const int64_t ox = (int64_t) (out->x0 + p);
          const size_t  n = (out->w - p + sw - 1) / sw;
          const size_t  n_cols = axis_taps (ox, geom->k_w, sw, geom->pad_w, geom->dil_w, in->x0,
                                            in->w, 1, cols);

          phase_run (geom, weight, bias, in, orow + (ptrdiff_t) p * out->x_stride, out->c_stride,
                     out->x_stride, n, sw, rows, n_rows, cols, n_cols);
        }
    }
  return TCONV_OK;
}
