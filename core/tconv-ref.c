/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The reference: transposed convolution as its definition, a one-to-many scatter. Each input
 * pixel stamps the kernel, scaled by its value, into a double accumulator. It is the oracle
 * that every other path is tested against, so it stays plain and is never optimised. */
#include "tconv-private.h"

tconv_status
tconv_ref_work_len (const tconv_geometry *geom, const tconv_out_view *out, size_t *work_len)
{
  size_t n;

  if (geom == NULL || out == NULL || work_len == NULL)
    return TCONV_ERR_INVALID_ARG;
  if (!tconv_mul3_size (geom->out_c, out->h, out->w, &n) || n > SIZE_MAX / sizeof (double))
    return TCONV_ERR_TOO_LARGE;
  *work_len = n;
  return TCONV_OK;
}

tconv_status
tconv_upsample_ref (const tconv_geometry *geom, const float *weight, const float *bias,
                    const tconv_in_view *in, const tconv_out_view *out, double *work,
                    size_t work_len)
{
  size_t       need;
  tconv_status st;

  if ((st = tconv_check_views (geom, weight, in, out, NULL)) != TCONV_OK)
    return st;
  if (work == NULL || (st = tconv_ref_work_len (geom, out, &need)) != TCONV_OK)
    return TCONV_ERR_INVALID_ARG;
  if (work_len < need)
    return TCONV_ERR_INVALID_ARG;

  const size_t  cin_g = geom->in_c / geom->groups;
  const size_t  cout_g = geom->out_c / geom->groups;
  const int64_t roi_y0 = (int64_t) out->y0, roi_x0 = (int64_t) out->x0;
  const int64_t roi_h = (int64_t) out->h, roi_w = (int64_t) out->w;

  for (size_t i = 0; i < need; i++)
    work[i] = 0.0;

  for (size_t ci = 0; ci < geom->in_c; ci++)
    for (size_t vy = 0; vy < in->h; vy++)
      for (size_t vx = 0; vx < in->w; vx++)
        {
          const int64_t iy = in->y0 + (int64_t) vy, ix = in->x0 + (int64_t) vx;
          const double  v = in->data[(ptrdiff_t) ci * in->c_stride + (ptrdiff_t) vy * in->y_stride
                                     + (ptrdiff_t) vx * in->x_stride];
          const size_t  g = ci / cin_g;

          for (size_t j = 0; j < cout_g; j++)
            {
              const size_t co = g * cout_g + j;
              const float *w = weight + (ci * cout_g + j) * geom->k_h * geom->k_w;

              for (size_t ky = 0; ky < geom->k_h; ky++)
                for (size_t kx = 0; kx < geom->k_w; kx++)
                  {
                    /* Full-stamp position, then the padding crop. */
                    const int64_t y = iy * (int64_t) geom->stride_h + (int64_t) (ky * geom->dil_h)
                                      - (int64_t) geom->pad_h - roi_y0;
                    const int64_t x = ix * (int64_t) geom->stride_w + (int64_t) (kx * geom->dil_w)
                                      - (int64_t) geom->pad_w - roi_x0;

                    if (y < 0 || y >= roi_h || x < 0 || x >= roi_w)
                      continue;
                    work[(co * (size_t) roi_h + (size_t) y) * (size_t) roi_w + (size_t) x]
                      += v * (double) w[ky * geom->k_w + kx];
                  }
            }
        }

  for (size_t co = 0; co < geom->out_c; co++)
    for (size_t y = 0; y < out->h; y++)
      for (size_t x = 0; x < out->w; x++)
        out->data[(ptrdiff_t) co * out->c_stride + (ptrdiff_t) y * out->y_stride
                  + (ptrdiff_t) x * out->x_stride]
          = (float) ((bias ? (double) bias[co] : 0.0) + work[(co * out->h + y) * out->w + x]);
  return TCONV_OK;
}
