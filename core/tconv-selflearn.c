/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Learning from images' own reduced copies (tconv-selflearn.h): crop to a multiple of the
 * stride, degrade per channel, BT.601 luma, least squares. Shared by `tconv learn`,
 * `tconv upscale --kernel self` and the GIMP plug-in's "self" kernel. The order of every
 * operation is fixed, so the same pixels always give the same kernel bytes. */
#include "tconv-selflearn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tconv-private.h"

#define LUMA_R 0.299
#define LUMA_G 0.587
#define LUMA_B 0.114

void
tconv_luma_bt601 (const float *rgb, size_t n, float *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = (float) (LUMA_R * rgb[3 * i] + LUMA_G * rgb[3 * i + 1] + LUMA_B * rgb[3 * i + 2]);
}

/* What an 8-bit file holds: clamped to [0, 1] and rounded to 1/255 per channel. */
static void
quantize_u8 (float *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      const double c = v[i] < 0.0f ? 0.0 : v[i] > 1.0f ? 1.0 : (double) v[i];

      v[i] = (float) (nearbyint (c * 255.0) / 255.0);
    }
}

typedef struct
{
  float  *hr_rgb, *hr_y, *lr_rgb, *lr_y;
  double *work;
  size_t  work_len;
} learn_scratch;

static void
scratch_free (learn_scratch *s)
{
  free (s->hr_rgb), free (s->hr_y), free (s->lr_rgb), free (s->lr_y), free (s->work);
}

static tconv_status
scratch_alloc (learn_scratch *s, size_t cw, size_t ch, size_t stride,
               const tconv_degradation *degr, size_t n_degr, double sigma, tconv_error *err)
{
  const size_t lw = cw / stride, lh = ch / stride;
  size_t       need;
  tconv_status st;

  memset (s, 0, sizeof *s);
  for (size_t d = 0; d < n_degr; d++)
    {
      if ((st = tconv_degrade_work_len (degr[d], stride, sigma, ch, cw, &need, err)) != TCONV_OK)
        return st;
      s->work_len = need > s->work_len ? need : s->work_len;
    }
  /* cw * ch * 3 floats fit: the caller's image already holds at least that many */
  s->hr_rgb = malloc (cw * ch * 3 * sizeof (float));
  s->hr_y = malloc (cw * ch * sizeof (float));
  s->lr_rgb = malloc (lw * lh * 3 * sizeof (float));
  s->lr_y = malloc (lw * lh * sizeof (float));
  s->work = malloc ((s->work_len ? s->work_len : 1) * sizeof (double));
  if (s->hr_rgb == NULL || s->hr_y == NULL || s->lr_rgb == NULL || s->lr_y == NULL
      || s->work == NULL)
    {
      scratch_free (s);
      return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "out of memory");
    }
  return TCONV_OK;
}

/* One degradation of the cropped image: reduce, quantise, luma, hand the pair to @add. */
static tconv_status
add_degraded (tconv_pair_fn add, void *ctx, const learn_scratch *s, size_t cw, size_t ch, size_t stride,
              tconv_degradation degr, double sigma, int quantize, tconv_error *err)
{
  const size_t lw = cw / stride, lh = ch / stride;
  tconv_status st;

  for (int c = 0; c < 3; c++)
    {
      const tconv_plane     src = { s->hr_rgb + c, ch, cw, (ptrdiff_t) (cw * 3), 3 };
      const tconv_plane_out dst = { s->lr_rgb + c, lh, lw, (ptrdiff_t) (lw * 3), 3 };

      if ((st = tconv_degrade (degr, stride, sigma, &src, &dst, s->work, s->work_len, err))
          != TCONV_OK)
        return st;
    }
  if (quantize)
    quantize_u8 (s->lr_rgb, lw * lh * 3);
  tconv_luma_bt601 (s->lr_rgb, lw * lh, s->lr_y);
  {
    const tconv_plane lr = { s->lr_y, lh, lw, (ptrdiff_t) lw, 1 };
    const tconv_plane hr = { s->hr_y, ch, cw, (ptrdiff_t) cw, 1 };

    return add (ctx, &lr, &hr, err);
  }
}

static tconv_status
lsq_add (void *lsq, const tconv_plane *lr, const tconv_plane *hr, tconv_error *err)
{
  return tconv_lsq_add_pair (lsq, lr, hr, err);
}

tconv_status
tconv_learn_add_image (tconv_lsq *lsq, const float *rgb, size_t width, size_t height, size_t row,
                       unsigned stride, const tconv_degradation *degr, size_t n_degr,
                       double sigma, int quantize, tconv_error *err)
{
  if (lsq == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "learner is NULL");
  return tconv_learn_pairs (lsq_add, lsq, rgb, width, height, row, stride, degr, n_degr, sigma,
                            quantize, err);
}

tconv_status
tconv_learn_pairs (tconv_pair_fn add, void *ctx, const float *rgb, size_t width, size_t height,
                   size_t row, unsigned stride, const tconv_degradation *degr, size_t n_degr,
                   double sigma, int quantize, tconv_error *err)
{
  size_t        cw, ch;
  learn_scratch s;
  tconv_status  st = TCONV_OK;

  if (add == NULL || rgb == NULL || degr == NULL || n_degr == 0 || n_degr > TCONV_DEGRADE_COUNT)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "learner, pixels and 1..%d degradations are required",
                       (int) TCONV_DEGRADE_COUNT);
  if (stride < 1 || stride > TCONV_MAX_STRIDE || row < 3 * width)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "stride %u, row %zu for width %zu: need 1..%u and row >= 3 width",
                       stride, row, width, TCONV_MAX_STRIDE);
  cw = width / stride * stride;
  ch = height / stride * stride;
  if (cw == 0 || ch == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "image %zux%zu: smaller than the stride %u", width, height, stride);
  if ((st = scratch_alloc (&s, cw, ch, stride, degr, n_degr, sigma, err)) != TCONV_OK)
    return st;
  for (size_t y = 0; y < ch; y++)
    memcpy (s.hr_rgb + y * cw * 3, rgb + y * row, cw * 3 * sizeof (float));
  tconv_luma_bt601 (s.hr_rgb, cw * ch, s.hr_y);
  for (size_t d = 0; d < n_degr && st == TCONV_OK; d++)
    st = add_degraded (add, ctx, &s, cw, ch, stride, degr[d], sigma, quantize, err);
  scratch_free (&s);
  return st;
}

/* The self kernel's name, description and degradation. */
static tconv_status
self_describe (tconv_kernel *k, unsigned stride)
{
  char         text[160];
  tconv_status st;

  snprintf (text, sizeof text, "self-x%u", stride);
  if ((st = tconv_kernel_set_string (&k->name, text)) != TCONV_OK)
    return st;
  snprintf (text, sizeof text,
            "learned from the input itself (bicubic x1/%u back to the input), %ux%u taps",
            stride, TCONV_SELF_SIZE * stride, TCONV_SELF_SIZE * stride);
  if ((st = tconv_kernel_set_string (&k->description, text)) != TCONV_OK)
    return st;
  return tconv_kernel_set_string (&k->degradation, "bicubic (MATLAB imresize, antialiased)");
}

tconv_status
tconv_self_learn (const float *rgb, size_t width, size_t height, size_t row, unsigned stride,
                  tconv_kernel **kernel, tconv_error *err)
{
  const tconv_degradation bicubic = TCONV_DEGRADE_BICUBIC;
  const size_t            k = (size_t) TCONV_SELF_SIZE * stride;
  tconv_lsq              *lsq = NULL;
  tconv_lsq_options       opt;
  tconv_lsq_stats         stats;
  tconv_status            st;

  if (kernel == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel: must not be NULL");
  *kernel = NULL;
  if (stride < TCONV_SELF_MIN_STRIDE || stride > TCONV_SELF_MAX_STRIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "stride %u: must be %u..%u", stride,
                       TCONV_SELF_MIN_STRIDE, TCONV_SELF_MAX_STRIDE);
  /* centred: pad = ceil ((k - s) / 2), output padding s + 2 pad - k (0 or 1) */
  if ((st = tconv_lsq_new (stride, stride, k, k, (k - stride + 1) / 2, (k - stride + 1) / 2,
                           &lsq, err))
      != TCONV_OK)
    return st;
  tconv_lsq_options_init (&opt);
  opt.symmetry = TCONV_LSQ_SYM_DIHEDRAL;
  st = tconv_learn_add_image (lsq, rgb, width, height, row, stride, &bicubic, 1, 0.0, 0, err);
  if (st == TCONV_OK && tconv_lsq_solve (lsq, &opt, kernel, &stats, NULL) != TCONV_OK)
    {
      opt.ridge = TCONV_SELF_RIDGE;
      st = tconv_lsq_solve (lsq, &opt, kernel, &stats, err);
    }
  tconv_lsq_free (lsq);
  if (st == TCONV_OK && (st = self_describe (*kernel, stride)) != TCONV_OK)
    {
      tconv_kernel_free (*kernel);
      *kernel = NULL;
      tconv_fail (err, st, 0, 0, "cannot name the kernel: %s", tconv_status_string (st));
    }
  return st;
}
