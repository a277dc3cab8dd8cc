/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Anti-ringing (tconv.h): each output value limited towards the range of the 2 x 2 input
 * pixels around its position. */
#include "tconv-private.h"

#include <math.h>

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
tconv_antiring (const tconv_geometry *geom, const tconv_in_view *in, const tconv_out_view *out,
                float strength, tconv_error *err)
{
  tconv_status st;

  if (!(strength >= 0.0f && strength <= 1.0f))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "anti-ringing strength %g: must be from 0 to 1", (double) strength);
  if (geom == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "antiring: geometry is NULL");
  /* the weights are not read: any non-NULL pointer passes the shared check */
  if ((st = tconv_check_views (geom, (const float *) (const void *) geom, in, out, err)))
    return st;
  if (geom->out_c != geom->in_c)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "antiring: %zu output channels for %zu input channels: must be equal",
                       geom->out_c, geom->in_c);
  if (strength == 0.0f)
    return TCONV_OK;
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
