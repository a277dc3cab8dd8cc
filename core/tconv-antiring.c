/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Anti-ringing (tconv.h): each output value limited towards the range of the 2 x 2 input
 * pixels around its position. */
#include "tconv-private.h"
#include "tconv-oracle.h"

#include <math.h>

#define TCONV_MAX_CHANNELS_ANTIRING 4 /* more channels take the oracle's loop */

/* The first of the two input rows (columns) around output @o: floor (u) with
 * u = (o + pad - (k - 1) / 2) / s, in halves to stay in integers: 2u = (2 o + 2 pad - k + 1) / s. */
static int64_t
first_around (size_t o, size_t pad, size_t k, size_t s)
{
  const int64_t twice = 2 * (int64_t) o + 2 * (int64_t) pad - (int64_t) k + 1;
  return tconv_floor_div (twice, 2 * (int64_t) s);
}

static float
held (const tconv_in_view *in, int64_t y, int64_t x, size_t c)
{
  y -= in->y0, x -= in->x0;
  if (y < 0 || x < 0 || y >= (int64_t) in->h || x >= (int64_t) in->w)
    return 0.0f;
  return in->data[y * in->y_stride + x * in->x_stride + (ptrdiff_t) c * in->c_stride];
}

tconv_status
tconv_antiring_check_strength (float strength, tconv_error *err)
{
  if (!(strength >= 0.0f && strength <= 1.0f))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "anti-ringing strength %g: must be from 0 to 1", (double) strength);
  return TCONV_OK;
}

/* The checks both versions share. */
static tconv_status
check_args (const tconv_geometry *geom, const tconv_in_view *in, const tconv_out_view *out,
            float strength, tconv_error *err)
{
  tconv_status st;

  if ((st = tconv_antiring_check_strength (strength, err)))
    return st;
  if (geom == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "antiring: geometry is NULL");
  /* the weights are not read: any non-NULL pointer passes the shared check */
  if ((st = tconv_check_views (geom, (const float *) (const void *) geom, in, out, err)))
    return st;
  if (geom->out_c != geom->in_c)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "antiring: %zu output channels for %zu input channels: must be equal",
                       geom->out_c, geom->in_c);
  return TCONV_OK;
}

/* @v limited towards [@lo, @hi]: v - A (v - hi) above, v + A (lo - v) below (the same float
 * operations as the oracle's, written without branches). */
static inline float
limit (float v, float lo, float hi, float strength)
{
  const float t = v > hi ? hi : v < lo ? lo : v;
  return v - strength * (v - t);
}

tconv_status
tconv_antiring_ref (const tconv_geometry *geom, const tconv_in_view *in,
                    const tconv_out_view *out, float strength, tconv_error *err)
{
  tconv_status st;

  if ((st = check_args (geom, in, out, strength, err)) || strength == 0.0f)
    return st;
  for (size_t y = 0; y < out->h; y++)
    {
      const int64_t iy = first_around (out->y0 + y, geom->pad_h, geom->k_h, geom->stride_h);
      for (size_t x = 0; x < out->w; x++)
        {
          const int64_t ix = first_around (out->x0 + x, geom->pad_w, geom->k_w, geom->stride_w);
          for (size_t c = 0; c < geom->out_c; c++)
            {
              float *v = out->data + (ptrdiff_t) y * out->y_stride + (ptrdiff_t) x * out->x_stride
                         + (ptrdiff_t) c * out->c_stride;
              const float a = held (in, iy, ix, c), b = held (in, iy, ix + 1, c);
              const float d = held (in, iy + 1, ix, c), e = held (in, iy + 1, ix + 1, c);
              const float lo = fminf (fminf (a, b), fminf (d, e));
              const float hi = fmaxf (fmaxf (a, b), fmaxf (d, e));
              if (*v > hi)
                *v -= strength * (*v - hi);
              else if (*v < lo)
                *v += strength * (lo - *v);
            }
        }
    }
  return TCONV_OK;
}

#define RUN       256 /* output columns per run: their input columns' ranges fit on the stack */
#define RUN_INPUT (RUN + 2)

/* One output row of the region, in runs of RUN columns: the vertical range of the two input
 * rows is taken once per input column, then each output value is limited by the range of the
 * two columns around it. Input columns advance by whole steps: ix (x) is tracked as a
 * quotient and remainder of 2 x + 2 pad - k + 1 by 2 s. */
static void
antiring_row (const tconv_geometry *geom, const tconv_in_view *in, float *row,
              const tconv_out_view *out, int64_t iy, float strength)
{
  const size_t C = geom->out_c, two_s = 2 * geom->stride_w;
  float        vlo[RUN_INPUT * TCONV_MAX_CHANNELS_ANTIRING], vhi[RUN_INPUT * TCONV_MAX_CHANNELS_ANTIRING];

  for (size_t x0 = 0; x0 < out->w; x0 += RUN)
    {
      const size_t  n = out->w - x0 < RUN ? out->w - x0 : RUN;
      const int64_t first = first_around (out->x0 + x0, geom->pad_w, geom->k_w, geom->stride_w);
      const int64_t last = first_around (out->x0 + x0 + n - 1, geom->pad_w, geom->k_w,
                                         geom->stride_w) + 1;
      int64_t       q = first, r;

      for (int64_t ix = first; ix <= last; ix++)
        for (size_t c = 0; c < C; c++)
          {
            const float a = held (in, iy, ix, c), d = held (in, iy + 1, ix, c);
            vlo[(size_t) (ix - first) * C + c] = a < d ? a : d;
            vhi[(size_t) (ix - first) * C + c] = a > d ? a : d;
          }
      r = 2 * (int64_t) (out->x0 + x0) + 2 * (int64_t) geom->pad_w - (int64_t) geom->k_w + 1
          - q * (int64_t) two_s;
      for (size_t x = 0; x < n; x++)
        {
          const size_t j = (size_t) (q - first) * C;
          float       *v = row + (ptrdiff_t) (x0 + x) * out->x_stride;
          for (size_t c = 0; c < C; c++)
            {
              const float lo = vlo[j + c] < vlo[j + C + c] ? vlo[j + c] : vlo[j + C + c];
              const float hi = vhi[j + c] > vhi[j + C + c] ? vhi[j + c] : vhi[j + C + c];
              v[(ptrdiff_t) c * out->c_stride] = limit (v[(ptrdiff_t) c * out->c_stride], lo,
                                                        hi, strength);
            }
          if ((r += 2) >= (int64_t) two_s)
            r -= (int64_t) two_s, q++;
        }
    }
}

tconv_status
tconv_antiring (const tconv_geometry *geom, const tconv_in_view *in, const tconv_out_view *out,
                float strength, tconv_error *err)
{
  tconv_status st;

  if ((st = check_args (geom, in, out, strength, err)) || strength == 0.0f)
    return st;
  if (geom->out_c > TCONV_MAX_CHANNELS_ANTIRING)
    return tconv_antiring_ref (geom, in, out, strength, err);
  for (size_t y = 0; y < out->h; y++)
    antiring_row (geom, in, out->data + (ptrdiff_t) y * out->y_stride, out,
                  first_around (out->y0 + y, geom->pad_h, geom->k_h, geom->stride_h), strength);
  return TCONV_OK;
}
