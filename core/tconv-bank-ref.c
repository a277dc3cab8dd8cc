/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The kernel bank's oracle: the spatially varying transposed convolution as a scatter. Every
 * input pixel held by the view stamps its value times a tap into each output pixel its kernel
 * reaches, and the tap is taken from the kernel of that output pixel's owner (the LR pixel
 * whose s x s block holds it), accumulated in double. Written from the definition in
 * tconv-bank.h, independently of the gather, which it checks. */
#include "tconv-bank.h"
#include "tconv-private.h"

static uint16_t
owner_class (const tconv_bank_class_map *map, int64_t oy, int64_t ox, size_t s)
{
  int64_t jy = tconv_floor_div (oy, (int64_t) s), jx = tconv_floor_div (ox, (int64_t) s);
  return map->data[(jy - map->y0) * map->stride + (jx - map->x0)];
}

tconv_status
tconv_bank_upsample_ref (const tconv_bank *bank, const tconv_geometry *geom,
                         const tconv_in_view *in, const tconv_bank_class_map *map,
                         const tconv_out_view *out, double *work, size_t work_len,
                         tconv_error *err)
{
  size_t       need, plane;
  tconv_status st;

  if ((st = tconv_bank_check_args (bank, geom, in, map, out, err)))
    return st;
  if ((st = tconv_ref_work_len (geom, out, &need)) || work == NULL || work_len < need)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank oracle: work of %zu doubles is too small", work_len);
  plane = geom->k_h * geom->k_w;
  for (size_t i = 0; i < need; i++)
    work[i] = 0.0;

  for (size_t c = 0; c < geom->in_c; c++)
    for (size_t vy = 0; vy < in->h; vy++)
      for (size_t vx = 0; vx < in->w; vx++)
        {
          const int64_t iy = in->y0 + (int64_t) vy, ix = in->x0 + (int64_t) vx;
          const double  v = in->data[(ptrdiff_t) c * in->c_stride
                                     + (ptrdiff_t) vy * in->y_stride
                                     + (ptrdiff_t) vx * in->x_stride];
          for (size_t ky = 0; ky < geom->k_h; ky++)
            for (size_t kx = 0; kx < geom->k_w; kx++)
              {
                const int64_t oy = iy * (int64_t) geom->stride_h + (int64_t) ky
                                   - (int64_t) geom->pad_h;
                const int64_t ox = ix * (int64_t) geom->stride_w + (int64_t) kx
                                   - (int64_t) geom->pad_w;
                const float  *w;
                if (oy < (int64_t) out->y0 || oy >= (int64_t) (out->y0 + out->h)
                    || ox < (int64_t) out->x0 || ox >= (int64_t) (out->x0 + out->w))
                  continue;
                w = bank->weights + owner_class (map, oy, ox, geom->stride_h) * plane;
                work[(c * out->h + (size_t) (oy - (int64_t) out->y0)) * out->w
                     + (size_t) (ox - (int64_t) out->x0)]
                  += v * (double) w[ky * geom->k_w + kx];
              }
        }

  for (size_t c = 0; c < geom->out_c; c++)
    for (size_t y = 0; y < out->h; y++)
      for (size_t x = 0; x < out->w; x++)
        out->data[(ptrdiff_t) c * out->c_stride + (ptrdiff_t) y * out->y_stride
                  + (ptrdiff_t) x * out->x_stride]
          = (float) work[(c * out->h + y) * out->w + x];
  return TCONV_OK;
}
