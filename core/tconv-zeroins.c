/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The textbook emulation of a transposed convolution: stretch the input with stride-1 zeros,
 * pad it by dil*(k-1) - pad on each side (a crop when negative) plus output_padding at the
 * bottom/right, and run a stride-1 dilated correlation with the kernel rotated 180 degrees and
 * its in/out channels swapped per group. Wasteful by design (1 - 1/s^2 of the products are
 * with zeros); it exists to show, and test, that the other paths mean the same thing. */
#include "tconv-private.h"

#include <string.h>

/* Stretched + padded extent along one axis, and the offset of input 0 inside it. */
static void
zeroins_axis (size_t in, size_t k, size_t s, size_t p, size_t o, size_t d, size_t *extent,
              int64_t *offset)
{
  const int64_t pad = (int64_t) (d * (k - 1)) - (int64_t) p; /* may be negative: a crop */
  *offset = pad;
  *extent = (size_t) ((int64_t) ((in - 1) * s + 1) + 2 * pad + (int64_t) o);
}

tconv_status
tconv_zeroins_work_len (const tconv_geometry *geom, size_t *work_len)
{
  size_t  zh, zw, n;
  int64_t oy, ox;

  if (geom == NULL || work_len == NULL)
    return TCONV_ERR_INVALID_ARG;
  zeroins_axis (geom->in_h, geom->k_h, geom->stride_h, geom->pad_h, geom->opad_h, geom->dil_h,
                &zh, &oy);
  zeroins_axis (geom->in_w, geom->k_w, geom->stride_w, geom->pad_w, geom->opad_w, geom->dil_w,
                &zw, &ox);
  if (!tconv_mul3_size (geom->in_c, zh, zw, &n) || !tconv_add_size (n, geom->weight_len, &n)
      || n > SIZE_MAX / sizeof (float))
    return TCONV_ERR_TOO_LARGE;
  *work_len = n;
  return TCONV_OK;
}

tconv_status
tconv_upsample_zeroins (const tconv_geometry *geom, const float *weight, const float *bias,
                        const float *in, float *out, float *work, size_t work_len)
{
  size_t  need, zh, zw;
  int64_t oy, ox;

  if (geom == NULL || weight == NULL || in == NULL || out == NULL || work == NULL
      || tconv_zeroins_work_len (geom, &need) != TCONV_OK || work_len < need)
    return TCONV_ERR_INVALID_ARG;

  zeroins_axis (geom->in_h, geom->k_h, geom->stride_h, geom->pad_h, geom->opad_h, geom->dil_h,
                &zh, &oy);
  zeroins_axis (geom->in_w, geom->k_w, geom->stride_w, geom->pad_w, geom->opad_w, geom->dil_w,
                &zw, &ox);

  const size_t cin_g = geom->in_c / geom->groups, cout_g = geom->out_c / geom->groups;
  const size_t kh = geom->k_h, kw = geom->k_w;
  float       *z = work;                        /* in_c x zh x zw */
  float       *wc = work + geom->in_c * zh * zw; /* out_c x cin_g x kh x kw */

  /* 1. Stretch and pad. */
  memset (z, 0, geom->in_c * zh * zw * sizeof (float));
  for (size_t c = 0; c < geom->in_c; c++)
    for (size_t iy = 0; iy < geom->in_h; iy++)
      for (size_t ix = 0; ix < geom->in_w; ix++)
        {
          const int64_t zy = (int64_t) (iy * geom->stride_h) + oy;
          const int64_t zx = (int64_t) (ix * geom->stride_w) + ox;
          if (zy >= 0 && zy < (int64_t) zh && zx >= 0 && zx < (int64_t) zw)
            z[(c * zh + (size_t) zy) * zw + (size_t) zx] = in[(c * geom->in_h + iy) * geom->in_w + ix];
        }

  /* 2. Rotate the kernel 180 degrees and swap in/out channels within each group:
   *    wc[g*cout_g + j][i][ky][kx] = w[g*cin_g + i][j][kh-1-ky][kw-1-kx]. */
  for (size_t grp = 0; grp < geom->groups; grp++)
    for (size_t j = 0; j < cout_g; j++)
      for (size_t i = 0; i < cin_g; i++)
        for (size_t ky = 0; ky < kh; ky++)
          for (size_t kx = 0; kx < kw; kx++)
            wc[(((grp * cout_g + j) * cin_g + i) * kh + ky) * kw + kx]
              = weight[(((grp * cin_g + i) * cout_g + j) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)];

  /* 3. Stride-1 dilated correlation; its output is exactly out_h x out_w. */
  for (size_t co = 0; co < geom->out_c; co++)
    {
      const size_t grp = co / cout_g;
      for (size_t y = 0; y < geom->out_h; y++)
        for (size_t x = 0; x < geom->out_w; x++)
          {
            double acc = bias ? (double) bias[co] : 0.0;
            for (size_t i = 0; i < cin_g; i++)
              {
                const float *zc = z + (grp * cin_g + i) * zh * zw;
                const float *w = wc + (co * cin_g + i) * kh * kw;
                for (size_t ky = 0; ky < kh; ky++)
                  for (size_t kx = 0; kx < kw; kx++)
                    acc += (double) w[ky * kw + kx]
                           * (double) zc[(y + ky * geom->dil_h) * zw + x + kx * geom->dil_w];
              }
            out[(co * geom->out_h + y) * geom->out_w + x] = (float) acc;
          }
    }
  return TCONV_OK;
}
