/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The convolution-matrix view: build C, the matrix of the strided convolution, explicitly,
 * and compute the transposed convolution as C^T x. For learners and tests (small sizes). */
#include "tconv-private.h"

#include <string.h>

tconv_status
tconv_matrix_size (const tconv_geometry *geom, size_t *rows, size_t *cols)
{
  size_t n;

  if (geom == NULL || rows == NULL || cols == NULL)
    return TCONV_ERR_INVALID_ARG;
  if (!tconv_mul_size (geom->in_len, geom->out_len, &n) || n > TCONV_MAX_MATRIX_ELEMS)
    return TCONV_ERR_TOO_LARGE;
  *rows = geom->in_len;
  *cols = geom->out_len;
  return TCONV_OK;
}

tconv_status
tconv_matrix_build (const tconv_geometry *geom, const float *weight, double *c, size_t n_elems)
{
  size_t rows, cols;

  if (weight == NULL || c == NULL || tconv_matrix_size (geom, &rows, &cols) != TCONV_OK
      || n_elems < rows * cols)
    return TCONV_ERR_INVALID_ARG;

  const size_t cin_g = geom->in_c / geom->groups, cout_g = geom->out_c / geom->groups;

  memset (c, 0, rows * cols * sizeof (double));
  /* Row (ci, iy, ix) is one output of conv2d(v, weight): the dot product of the kernel
   * weight[ci, j] with the window of v that starts at (iy*s - p, ix*s - p), dilated by d,
   * over the channels co = group * cout_g + j. */
  for (size_t ci = 0; ci < geom->in_c; ci++)
    for (size_t iy = 0; iy < geom->in_h; iy++)
      for (size_t ix = 0; ix < geom->in_w; ix++)
        {
          double *crow = c + ((ci * geom->in_h + iy) * geom->in_w + ix) * cols;

          for (size_t j = 0; j < cout_g; j++)
            {
              const size_t co = (ci / cin_g) * cout_g + j;
              const float *w = weight + (ci * cout_g + j) * geom->k_h * geom->k_w;

              for (size_t ky = 0; ky < geom->k_h; ky++)
                for (size_t kx = 0; kx < geom->k_w; kx++)
                  {
                    const int64_t y = (int64_t) (iy * geom->stride_h + ky * geom->dil_h)
                                      - (int64_t) geom->pad_h;
                    const int64_t x = (int64_t) (ix * geom->stride_w + kx * geom->dil_w)
                                      - (int64_t) geom->pad_w;
                    if (y < 0 || y >= (int64_t) geom->out_h || x < 0
                        || x >= (int64_t) geom->out_w)
                      continue; /* the convolution's zero padding */
                    crow[(co * geom->out_h + (size_t) y) * geom->out_w + (size_t) x]
                      += w[ky * geom->k_w + kx];
                  }
            }
        }
  return TCONV_OK;
}

tconv_status
tconv_matrix_apply_transpose (const tconv_geometry *geom, const double *c, const float *bias,
                              const float *x, float *y)
{
  size_t rows, cols;

  if (c == NULL || x == NULL || y == NULL || tconv_matrix_size (geom, &rows, &cols) != TCONV_OK)
    return TCONV_ERR_INVALID_ARG;

  const size_t plane = geom->out_h * geom->out_w;

  for (size_t col = 0; col < cols; col++)
    {
      double acc = bias ? (double) bias[col / plane] : 0.0;
      for (size_t row = 0; row < rows; row++)
        acc += c[row * cols + col] * (double) x[row];
      y[col] = (float) acc;
    }
  return TCONV_OK;
}
