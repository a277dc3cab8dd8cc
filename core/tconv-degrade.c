/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Degradations that make low-resolution training inputs: s-times reductions of a float plane
 * by antialiased bicubic (MATLAB imresize), box averaging, or a Gaussian blur sampled at the
 * block centres. All three are the same separable resampler with a different filter: output
 * pixel x sits at input coordinate u = (x + 0.5) s - 0.5, borders are mirrored with the edge
 * pixel repeated, each output's taps are normalised to sum 1. Nothing is allocated. */
#include "tconv-private.h"

#include <math.h>
#include <string.h>

/* Largest Gaussian sigma accepted, in output (low-resolution) pixels: keeps the tap count
 * and the scratch size small and fixed. */
#define GAUSS_MAX_SIGMA 16.0

static const char *const degradation_names[TCONV_DEGRADE_COUNT] = {
  [TCONV_DEGRADE_BICUBIC] = "bicubic",
  [TCONV_DEGRADE_AREA] = "area",
  [TCONV_DEGRADE_GAUSS] = "gauss",
};

const char *
tconv_degradation_name (tconv_degradation type)
{
  return (unsigned) type < TCONV_DEGRADE_COUNT ? degradation_names[type] : NULL;
}

tconv_status
tconv_degradation_from_name (const char *name, tconv_degradation *type, tconv_error *err)
{
  if (name == NULL || type == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "degradation name: NULL");
  for (unsigned i = 0; i < TCONV_DEGRADE_COUNT; i++)
    if (strcmp (name, degradation_names[i]) == 0)
      {
        *type = (tconv_degradation) i;
        return TCONV_OK;
      }
  return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                     "degradation '%.64s': not a known degradation (tconv_degradation_name "
                     "lists them)", name);
}

/* Keys' cubic with a = -0.5, MATLAB's "cubic" (imresize.m). */
static double
keys_cubic (double x)
{
  const double ax = fabs (x), ax2 = ax * ax, ax3 = ax2 * ax;

  if (ax <= 1.0)
    return 1.5 * ax3 - 2.5 * ax2 + 1.0;
  if (ax <= 2.0)
    return -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0;
  return 0.0;
}

typedef struct
{
  tconv_degradation type;
  double            s;      /* reduction factor */
  double            sigma;  /* gauss: standard deviation in input pixels */
  double            width;  /* support of the widened filter, in input pixels */
  size_t            taps;   /* taps per output: ceil (width) + 2, as in imresize.m */
} filter;

static double
filter_eval (const filter *f, double d)
{
  switch (f->type)
    {
    case TCONV_DEGRADE_BICUBIC:
      /* imresize's antialiasing: h(x) = scale * kernel (scale * x), scale = 1 / s. The
       * constant factor cancels in the normalisation but is kept to follow the definition. */
      return keys_cubic (d / f->s) / f->s;
    case TCONV_DEGRADE_AREA:
      /* imresize's "box": 1 on [-0.5, 0.5), widened by s. For an integer s the taps of output
       * x are exactly input pixels x s .. x s + s - 1. */
      {
        const double t = d / f->s;
        return (t >= -0.5 && t < 0.5) ? 1.0 / f->s : 0.0;
      }
    case TCONV_DEGRADE_GAUSS:
      /* cut at exactly +-4 sigma, so that the taps are symmetric about u whatever the
       * window's rounding */
      return fabs (d) <= 4.0 * f->sigma ? exp (-0.5 * (d / f->sigma) * (d / f->sigma)) : 0.0;
    case TCONV_DEGRADE_COUNT:
    default:
      break;
    }
  TCONV_ASSERT (0);
  return 0.0;
}

static tconv_status
filter_init (filter *f, tconv_degradation type, size_t factor, double sigma, tconv_error *err)
{
  if ((unsigned) type >= TCONV_DEGRADE_COUNT)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "degradation %d: must be 0..%d",
                       (int) type, (int) TCONV_DEGRADE_COUNT - 1);
  if (factor < 1 || factor > TCONV_MAX_STRIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "reduction factor %zu: must be 1..%u",
                       factor, TCONV_MAX_STRIDE);
  f->type = type;
  f->s = (double) factor;
  f->sigma = 0.0;
  switch (type)
    {
    case TCONV_DEGRADE_BICUBIC:
      f->width = 4.0 * f->s;
      break;
    case TCONV_DEGRADE_AREA:
      f->width = f->s;
      break;
    case TCONV_DEGRADE_GAUSS:
    default:
      if (sigma == 0.0)
        sigma = TCONV_DEGRADE_GAUSS_SIGMA;
      if (!(sigma > 0.0 && sigma <= GAUSS_MAX_SIGMA))
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "gauss sigma %g: must be > 0 and <= %g (low-resolution pixels)",
                           sigma, GAUSS_MAX_SIGMA);
      f->sigma = sigma * f->s;
      f->width = 8.0 * f->sigma; /* +-4 sigma: the truncated mass is below 1e-4 */
      break;
    }
  f->taps = (size_t) ceil (f->width) + 2;
  return TCONV_OK;
}

/* MATLAB's symmetric extension (aux = [1:n, n:-1:1] indexed modulo 2n). */
static size_t
mirror (int64_t i, size_t n)
{
  int64_t m = tconv_floor_mod (i, 2 * (int64_t) n);
  return (size_t) (m < (int64_t) n ? m : 2 * (int64_t) n - 1 - m);
}

/* The normalised taps of output @x: input indices @left + j (before mirroring), weights @w. */
static int64_t
contributions (const filter *f, size_t x, double *w)
{
  const double  u = ((double) x + 0.5) * f->s - 0.5;
  const int64_t left = (int64_t) floor (u - f->width / 2.0);
  double        sum = 0.0;

  for (size_t j = 0; j < f->taps; j++)
    {
      w[j] = filter_eval (f, u - (double) (left + (int64_t) j));
      sum += w[j];
    }
  /* Every filter has a positive tap near u, so sum > 0. */
  TCONV_ASSERT (sum > 0.0);
  for (size_t j = 0; j < f->taps; j++)
    w[j] /= sum;
  return left;
}

tconv_status
tconv_degrade_work_len (tconv_degradation type, size_t factor, double sigma, size_t src_h,
                        size_t src_w, size_t *work_len, tconv_error *err)
{
  filter       f = { 0 };
  tconv_status st;
  size_t       tmp, taps, n;

  if (work_len == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "degrade: NULL work_len");
  if ((st = filter_init (&f, type, factor, sigma, err)) != TCONV_OK)
    return st;
  if (src_h == 0 || src_w == 0 || src_h > TCONV_MAX_SIDE || src_w > TCONV_MAX_SIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "source %zux%zu: each side must be 1..%u", src_w, src_h, TCONV_MAX_SIDE);
  /* intermediate src_h x dst_w, one row accumulator dst_w, one tap table */
  if (!tconv_mul_size (src_h, src_w / factor, &tmp) || !tconv_add_size (tmp, src_w / factor, &n)
      || !tconv_add_size (n, f.taps, &taps) || taps > SIZE_MAX / sizeof (double))
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0, "degrade: scratch size overflows");
  *work_len = taps;
  return TCONV_OK;
}

tconv_status
tconv_degrade (tconv_degradation type, size_t factor, double sigma, const tconv_plane *src,
               const tconv_plane_out *dst, double *work, size_t work_len, tconv_error *err)
{
  filter       f;
  tconv_status st;
  size_t       need;

  if (src == NULL || dst == NULL || src->data == NULL || dst->data == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "degrade: NULL plane");
  if ((st = tconv_degrade_work_len (type, factor, sigma, src->h, src->w, &need, err)) != TCONV_OK)
    return st;
  filter_init (&f, type, factor, sigma, NULL);
  if (src->h % factor != 0 || src->w % factor != 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "source %zux%zu: both sides must be multiples of the factor %zu "
                       "(crop first)",
                       src->w, src->h, factor);
  if (dst->h != src->h / factor || dst->w != src->w / factor)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "destination %zux%zu: must be the source %zux%zu divided by %zu", dst->w,
                       dst->h, src->w, src->h, factor);
  if (src->x_stride == 0 || src->y_stride == 0 || dst->x_stride == 0 || dst->y_stride == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "degrade: plane strides must be non-zero");
  if (work == NULL || work_len < need)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "degrade: scratch of %zu doubles: needs %zu (tconv_degrade_work_len)",
                       work_len, need);

  const size_t ow = dst->w, oh = dst->h;
  double      *tmp = work;                /* src->h x ow: after the horizontal pass */
  double      *acc = tmp + src->h * ow;   /* one output row */
  double      *w = acc + ow;              /* f.taps weights */

  /* Horizontal pass. The weights depend on the output column only; recomputing them per
   * column of each row would cost more than the pass, so the loop runs column-major. */
  for (size_t x = 0; x < ow; x++)
    {
      const int64_t left = contributions (&f, x, w);
      for (size_t y = 0; y < src->h; y++)
        {
          const float *row = src->data + (ptrdiff_t) y * src->y_stride;
          double       a = 0.0;

          for (size_t j = 0; j < f.taps; j++)
            if (w[j] != 0.0)
              a += w[j] * (double) row[(ptrdiff_t) mirror (left + (int64_t) j, src->w)
                                       * src->x_stride];
          tmp[y * ow + x] = a;
        }
    }

  /* Vertical pass, row by row into the accumulator: contiguous inner loop over columns. */
  for (size_t y = 0; y < oh; y++)
    {
      const int64_t left = contributions (&f, y, w);
      float        *out = dst->data + (ptrdiff_t) y * dst->y_stride;

      memset (acc, 0, ow * sizeof *acc);
      for (size_t j = 0; j < f.taps; j++)
        {
          const double *trow = tmp + mirror (left + (int64_t) j, src->h) * ow;
          const double  wj = w[j];

          if (wj == 0.0)
            continue;
          for (size_t x = 0; x < ow; x++)
            acc[x] += wj * trow[x];
        }
      for (size_t x = 0; x < ow; x++)
        out[(ptrdiff_t) x * dst->x_stride] = (float) acc[x];
    }
  return TCONV_OK;
}
