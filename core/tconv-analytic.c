/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Analytic interpolation kernels (box, tent, Keys cubic, Mitchell-Netravali, Lanczos, cubic
 * B-spline) sampled at the output phases of an exact s-times up-sample, and the kernel analysis:
 * per-phase DC gains, phase normalisation, rank-1 factorisation, symmetry. Only
 * tconv_kernel_analytic() allocates (through tconv_kernel_new()). */
#include "tconv-private.h"

#include <float.h>
#include <math.h>
#include <string.h>


/* C11 has no M_PI. */
#define TCONV_PI 3.14159265358979323846

typedef struct
{
  const char *name;
  double      radius; /* the filter is 0 for |t| >= radius */
  const char *what;   /* for the description */
} analytic_info;

static const analytic_info analytic_table[] = {
  [TCONV_ANALYTIC_NEAREST] = { "nearest", 0.5, "Nearest-neighbour (box)" },
  [TCONV_ANALYTIC_BILINEAR] = { "bilinear", 1.0, "Bilinear (tent)" },
  [TCONV_ANALYTIC_BICUBIC] = { "bicubic", 2.0, "Bicubic (Keys, a = -0.5)" },
  [TCONV_ANALYTIC_MITCHELL] = { "mitchell", 2.0, "Mitchell-Netravali (B = C = 1/3)" },
  [TCONV_ANALYTIC_LANCZOS2] = { "lanczos2", 2.0, "Lanczos-2" },
  [TCONV_ANALYTIC_LANCZOS3] = { "lanczos3", 3.0, "Lanczos-3" },
  [TCONV_ANALYTIC_BSPLINE] = { "bspline", 2.0, "Cubic B-spline (smoothing)" },
};

static_assert (sizeof analytic_table / sizeof analytic_table[0] == TCONV_ANALYTIC_COUNT,
               "analytic_table must cover every tconv_analytic");

const char *
tconv_analytic_name (tconv_analytic type)
{
  if ((unsigned) type >= TCONV_ANALYTIC_COUNT)
    return NULL;
  return analytic_table[type].name;
}

tconv_status
tconv_analytic_from_name (const char *name, tconv_analytic *type, tconv_error *err)
{
  if (name == NULL || type == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "analytic kernel name: NULL");
  for (unsigned i = 0; i < TCONV_ANALYTIC_COUNT; i++)
    if (strcmp (name, analytic_table[i].name) == 0)
      {
        *type = (tconv_analytic) i;
        return TCONV_OK;
      }
  return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                     "analytic kernel '%.64s': must be one of nearest, bilinear, bicubic, "
                     "mitchell, lanczos2, lanczos3, bspline", name);
}

/* The cubic family of Mitchell and Netravali (1988): (B, C) = (0, 1/2) is Keys with a = -1/2,
 * (1/3, 1/3) Mitchell's recommendation, (1, 0) the cubic B-spline. */
static double
bc_cubic (double t, double b, double c)
{
  t = fabs (t);
  if (t < 1.0)
    return ((12.0 - 9.0 * b - 6.0 * c) * t * t * t + (-18.0 + 12.0 * b + 6.0 * c) * t * t
            + (6.0 - 2.0 * b))
           / 6.0;
  if (t < 2.0)
    return ((-b - 6.0 * c) * t * t * t + (6.0 * b + 30.0 * c) * t * t + (-12.0 * b - 48.0 * c) * t
            + (8.0 * b + 24.0 * c))
           / 6.0;
  return 0.0;
}

static double
sinc (double t)
{
  if (t == 0.0)
    return 1.0;
  t *= TCONV_PI;
  return sin (t) / t;
}

static double
filter (tconv_analytic type, double t)
{
  switch (type)
    {
    case TCONV_ANALYTIC_NEAREST:
      /* Half-open, so that each output takes exactly one input. (The sampled offsets are
       * never exactly +-1/2, see axis_weights(), so the convention cannot change a tap.) */
      return t >= -0.5 && t < 0.5 ? 1.0 : 0.0;
    case TCONV_ANALYTIC_BILINEAR:
      return fabs (t) < 1.0 ? 1.0 - fabs (t) : 0.0;
    case TCONV_ANALYTIC_BICUBIC:
      return bc_cubic (t, 0.0, 0.5);
    case TCONV_ANALYTIC_MITCHELL:
      return bc_cubic (t, 1.0 / 3.0, 1.0 / 3.0);
    case TCONV_ANALYTIC_LANCZOS2:
      return fabs (t) < 2.0 ? sinc (t) * sinc (t / 2.0) : 0.0;
    case TCONV_ANALYTIC_LANCZOS3:
      return fabs (t) < 3.0 ? sinc (t) * sinc (t / 3.0) : 0.0;
    case TCONV_ANALYTIC_BSPLINE:
      return bc_cubic (t, 1.0, 0.0);
    case TCONV_ANALYTIC_COUNT:
    default:
      break;
    }
  TCONV_ASSERT (0);
  return 0.0;
}

/* Kernel size along one axis: the smallest K with K = s (mod 2), so that pad = (K - s) / 2 is
 * an integer and the output is exactly s times the input, whose taps reach every offset
 * |t| < radius. The taps sit at t = m / (2 s) for m = -(K-1), -(K-3), ..., K-1 (see
 * axis_weights()); the next one out would be at (K + 1) / (2 s), so K + 1 >= 2 R s suffices.
 * 2 R s is an integer for every radius in the table. */
static size_t
axis_size (double radius, size_t s)
{
  const size_t two_rs = (size_t) lround (2.0 * radius * (double) s);
  size_t       k = two_rs - 1;

  if ((k + s) % 2 != 0)
    k++;
  return k;
}

/* The taps of one axis in double, each phase (taps k = r, r + s, ...) normalised to sum 1.
 *
 * In gather form output x takes input i through tap k = x + pad - i s, and output x sits at
 * input coordinate u = (x + 0.5) / s - 0.5, so the tap's offset from its input is
 * t = u - i = (k - pad + 0.5) / s - 0.5 = (2 (k - pad) + 1 - s) / (2 s), exact in double.
 * t is odd in k about the kernel centre, so symmetric filters give symmetric kernels.
 *
 * Every phase is normalised, not only Lanczos: nearest, bilinear and the cubics already sum
 * to 1 (partition of unity, to ~1e-16), and dividing by that sum in double leaves their taps
 * as they are while making "flat stays flat" hold to float precision for all of them. */
static void
axis_weights (tconv_analytic type, size_t s, size_t k_n, size_t pad, double *w)
{
  for (size_t k = 0; k < k_n; k++)
    {
      const int64_t m = 2 * ((int64_t) k - (int64_t) pad) + 1 - (int64_t) s;
      w[k] = filter (type, (double) m / (double) (2 * s));
    }
  for (size_t r = 0; r < s && r < k_n; r++)
    {
      double sum = 0.0;
      for (size_t k = r; k < k_n; k += s)
        sum += w[k];
      TCONV_ASSERT (sum > 0.0);
      for (size_t k = r; k < k_n; k += s)
        w[k] /= sum;
    }
}

tconv_status
tconv_kernel_analytic (tconv_analytic type, size_t stride_h, size_t stride_w,
                       tconv_kernel **kernel, tconv_error *err)
{
  double        col[TCONV_MAX_KERNEL_SIDE], row[TCONV_MAX_KERNEL_SIDE];
  char          name[TCONV_KERNEL_NAME_MAX], text[256], command[128];
  tconv_kernel *k = NULL;
  tconv_status  st;

  if (kernel == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "analytic kernel: NULL output pointer");
  *kernel = NULL;
  if ((unsigned) type >= TCONV_ANALYTIC_COUNT)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "analytic kernel type %d: must be 0..%d", (int) type,
                       (int) TCONV_ANALYTIC_COUNT - 1);
  if (stride_h < 1 || stride_h > TCONV_ANALYTIC_MAX_STRIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "stride_h %zu: must be 1..%u",
                       stride_h, TCONV_ANALYTIC_MAX_STRIDE);
  if (stride_w < 1 || stride_w > TCONV_ANALYTIC_MAX_STRIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "stride_w %zu: must be 1..%u",
                       stride_w, TCONV_ANALYTIC_MAX_STRIDE);

  const analytic_info *info = &analytic_table[type];
  const size_t         k_h = axis_size (info->radius, stride_h);
  const size_t         k_w = axis_size (info->radius, stride_w);

  /* 6 * 16 = 96 taps at most. */
  TCONV_ASSERT (k_h <= TCONV_MAX_KERNEL_SIDE && k_w <= TCONV_MAX_KERNEL_SIDE);

  if ((st = tconv_kernel_new (1, k_h, k_w, &k, NULL)) != TCONV_OK)
    return tconv_fail (err, st, 0, 0, "analytic kernel %s %zux%zu: %s", info->name, k_h, k_w,
                       tconv_status_string (st));

  k->stride_h = stride_h;
  k->stride_w = stride_w;
  k->pad_h = (k_h - stride_h) / 2;
  k->pad_w = (k_w - stride_w) / 2;
  k->opad_h = k->opad_w = 0;
  k->provenance = TCONV_PROVENANCE_ANALYTIC;

  axis_weights (type, stride_h, k_h, k->pad_h, col);
  axis_weights (type, stride_w, k_w, k->pad_w, row);
  for (size_t y = 0; y < k_h; y++)
    for (size_t x = 0; x < k_w; x++)
      k->weights[y * k_w + x] = (float) (col[y] * row[x]);

  if (stride_h == stride_w)
    {
      snprintf (name, sizeof name, "%s-x%zu", info->name, stride_h);
      snprintf (text, sizeof text,
                "%s interpolation, x%zu up-sampling, pixel centres aligned", info->what,
                stride_h);
      snprintf (command, sizeof command, "tconv kernel make %s --stride %zu", info->name,
                stride_h);
    }
  else
    {
      snprintf (name, sizeof name, "%s-x%zux%zu", info->name, stride_h, stride_w);
      snprintf (text, sizeof text,
                "%s interpolation, x%zu (rows) x%zu (columns) up-sampling, pixel centres "
                "aligned",
                info->what, stride_h, stride_w);
      snprintf (command, sizeof command, "tconv kernel make %s --stride %zu,%zu", info->name,
                stride_h, stride_w);
    }

  if ((st = tconv_kernel_set_string (&k->name, name)) != TCONV_OK
      || (st = tconv_kernel_set_string (&k->description, text)) != TCONV_OK
      || (st = tconv_kernel_set_string (&k->command, command)) != TCONV_OK)
    {
      tconv_kernel_free (k);
      return tconv_fail (err, st, 0, 0, "analytic kernel %s: %s", info->name,
                         tconv_status_string (st));
    }

  *kernel = k;
  return TCONV_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Analysis
 */

/* The fields the analysis reads; the full invariants are tconv_kernel_validate()'s. */
static int
kernel_shape_ok (const tconv_kernel *k)
{
  return k != NULL && k->weights != NULL && k->channels >= 1
         && k->channels <= TCONV_KERNEL_MAX_CHANNELS && k->k_h >= 1
         && k->k_h <= TCONV_MAX_KERNEL_SIDE && k->k_w >= 1 && k->k_w <= TCONV_MAX_KERNEL_SIDE
         && k->stride_h >= 1 && k->stride_h <= TCONV_MAX_STRIDE && k->stride_w >= 1
         && k->stride_w <= TCONV_MAX_STRIDE;
}

static const float *
channel_weights (const tconv_kernel *k, size_t c)
{
  return k->weights + c * k->k_h * k->k_w;
}

/* DC gain of output phase (ry, rx): the taps ky = ry (mod stride_h), kx = rx (mod stride_w).
 * A phase beyond the kernel (k < stride) has no taps and sums to 0. */
static double
phase_sum (const tconv_kernel *k, const float *w, size_t ry, size_t rx)
{
  double sum = 0.0;

  for (size_t y = ry; y < k->k_h; y += k->stride_h)
    for (size_t x = rx; x < k->k_w; x += k->stride_w)
      sum += (double) w[y * k->k_w + x];
  return sum;
}

tconv_status
tconv_kernel_phase_sums (const tconv_kernel *kernel, size_t channel, double *sums,
                         tconv_error *err)
{
  if (!kernel_shape_ok (kernel) || sums == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "phase sums: kernel NULL or of an invalid shape, or sums NULL");
  if (channel >= kernel->channels)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "phase sums: channel %zu: must be < %zu", channel, kernel->channels);

  const float *w = channel_weights (kernel, channel);
  for (size_t ry = 0; ry < kernel->stride_h; ry++)
    for (size_t rx = 0; rx < kernel->stride_w; rx++)
      sums[ry * kernel->stride_w + rx] = phase_sum (kernel, w, ry, rx);
  return TCONV_OK;
}

static double
max_abs (const float *w, size_t n)
{
  double m = 0.0;

  for (size_t i = 0; i < n; i++)
    if (fabs ((double) w[i]) > m)
      m = fabs ((double) w[i]);
  return m;
}

/* Whether one channel is col * row^T within @rel_tol of its largest |weight|. The pivot is
 * the largest entry: col = the column through it, row = the row through it divided by it.
 * The check uses the float-rounded factors, so that what is returned satisfies the bound. */
static int
channel_rank1 (const float *w, size_t k_h, size_t k_w, double rel_tol, float *col, float *row)
{
  size_t py = 0, px = 0;
  double big = 0.0;

  for (size_t y = 0; y < k_h; y++)
    for (size_t x = 0; x < k_w; x++)
      if (fabs ((double) w[y * k_w + x]) > big)
        big = fabs ((double) w[y * k_w + x]), py = y, px = x;

  const double pivot = (double) w[py * k_w + px];
  const double tol = rel_tol * big;

  for (size_t y = 0; y < k_h; y++)
    for (size_t x = 0; x < k_w; x++)
      {
        const float  r = big > 0.0 ? (float) ((double) w[py * k_w + x] / pivot) : 0.0f;
        const double pred = (double) w[y * k_w + px] * (double) r;

        /* Written so that NaN fails. */
        if (!(fabs ((double) w[y * k_w + x] - pred) <= tol))
          return 0;
      }

  if (col != NULL)
    for (size_t y = 0; y < k_h; y++)
      col[y] = w[y * k_w + px];
  if (row != NULL)
    for (size_t x = 0; x < k_w; x++)
      row[x] = big > 0.0 ? (float) ((double) w[py * k_w + x] / pivot) : 0.0f;
  return 1;
}

/* Whether @w equals its transform under @mode (0: vertical flip, 1: horizontal flip,
 * 2: transposition; square only) within @tol. */
static int
channel_symmetric (const float *w, size_t k_h, size_t k_w, int mode, double tol)
{
  for (size_t y = 0; y < k_h; y++)
    for (size_t x = 0; x < k_w; x++)
      {
        const double a = (double) w[y * k_w + x];
        double       b;

        if (mode == 0)
          b = (double) w[(k_h - 1 - y) * k_w + x];
        else if (mode == 1)
          b = (double) w[y * k_w + (k_w - 1 - x)];
        else
          b = (double) w[x * k_w + y];
        if (!(fabs (a - b) <= tol))
          return 0;
      }
  return 1;
}

tconv_status
tconv_kernel_analyze (const tconv_kernel *kernel, tconv_kernel_analysis *analysis,
                      tconv_error *err)
{
  if (!kernel_shape_ok (kernel) || analysis == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "kernel analysis: kernel NULL or of an invalid shape, or analysis NULL");

  const size_t          kk = kernel->k_h * kernel->k_w;
  const size_t          n_phases = kernel->stride_h * kernel->stride_w;
  tconv_kernel_analysis a = { .phase_min = INFINITY, .phase_max = -INFINITY,
                              .separable = 1, .symmetric_h = 1, .symmetric_w = 1,
                              .symmetric_transpose = kernel->k_h == kernel->k_w };
  double                total = 0.0;

  for (size_t c = 0; c < kernel->channels; c++)
    {
      const float *w = channel_weights (kernel, c);
      const double tol = 1e-6 * max_abs (w, kk);
      double       lo = INFINITY, hi = -INFINITY, sum = 0.0, risk;

      for (size_t ry = 0; ry < kernel->stride_h; ry++)
        for (size_t rx = 0; rx < kernel->stride_w; rx++)
          {
            const double s = phase_sum (kernel, w, ry, rx);
            lo = fmin (lo, s);
            hi = fmax (hi, s);
            sum += s;
          }
      /* The risk is per channel (a checkerboard is a pattern within one channel), so that
       * per-channel kernels with different gains but flat phases report 0, as
       * tconv_kernel_normalize_phases() promises. */
      if (hi == lo)
        risk = 0.0;
      else if (sum == 0.0)
        risk = INFINITY;
      else
        risk = (hi - lo) / fabs (sum / (double) n_phases);
      a.checkerboard_risk = fmax (a.checkerboard_risk, risk);
      a.phase_min = fmin (a.phase_min, lo);
      a.phase_max = fmax (a.phase_max, hi);
      total += sum;

      if (a.separable && !channel_rank1 (w, kernel->k_h, kernel->k_w, 1e-6, NULL, NULL))
        a.separable = 0;
      if (a.symmetric_h && !channel_symmetric (w, kernel->k_h, kernel->k_w, 0, tol))
        a.symmetric_h = 0;
      if (a.symmetric_w && !channel_symmetric (w, kernel->k_h, kernel->k_w, 1, tol))
        a.symmetric_w = 0;
      if (a.symmetric_transpose && !channel_symmetric (w, kernel->k_h, kernel->k_w, 2, tol))
        a.symmetric_transpose = 0;
    }
  a.phase_mean = total / (double) (n_phases * kernel->channels);

  *analysis = a;
  return TCONV_OK;
}

tconv_status
tconv_kernel_normalize_phases (tconv_kernel *kernel, tconv_error *err)
{
  if (!kernel_shape_ok (kernel))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "normalize phases: NULL kernel or sizes out of range");

  const size_t kk = kernel->k_h * kernel->k_w;
  const size_t n_phases = kernel->stride_h * kernel->stride_w;

  /* First every check, so that nothing is written on failure: each phase sum is finite and
   * non-zero, and every rescaled tap stays a finite float. The mean phase sum is the sum of
   * all taps over the number of phases. */
  for (size_t c = 0; c < kernel->channels; c++)
    {
      const float *w = channel_weights (kernel, c);
      double       total = 0.0;

      for (size_t i = 0; i < kk; i++)
        total += (double) w[i];
      const double mean = total / (double) n_phases;
      if (!isfinite (mean) || mean == 0.0)
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "channel %zu: mean phase sum %g: must be finite and non-zero to "
                           "normalise the phases to it",
                           c, mean);

      for (size_t ry = 0; ry < kernel->stride_h; ry++)
        for (size_t rx = 0; rx < kernel->stride_w; rx++)
          {
            const double s = phase_sum (kernel, w, ry, rx);
            if (!isfinite (s) || s == 0.0)
              return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                                 "channel %zu phase (%zu, %zu) sums to %g: must be non-zero to "
                                 "be rescaled to the mean %g",
                                 c, ry, rx, s, mean);
            const double scale = mean / s;
            for (size_t y = ry; y < kernel->k_h; y += kernel->stride_h)
              for (size_t x = rx; x < kernel->k_w; x += kernel->stride_w)
                if (!(fabs ((double) w[y * kernel->k_w + x] * scale) <= FLT_MAX))
                  return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                                     "channel %zu phase (%zu, %zu): rescaling by %g overflows "
                                     "float",
                                     c, ry, rx, scale);
          }
    }

  for (size_t c = 0; c < kernel->channels; c++)
    {
      float *w = kernel->weights + c * kk;
      double total = 0.0;

      for (size_t i = 0; i < kk; i++)
        total += (double) w[i];
      const double mean = total / (double) n_phases;

      for (size_t ry = 0; ry < kernel->stride_h; ry++)
        for (size_t rx = 0; rx < kernel->stride_w; rx++)
          {
            const double scale = mean / phase_sum (kernel, w, ry, rx);
            for (size_t y = ry; y < kernel->k_h; y += kernel->stride_h)
              for (size_t x = rx; x < kernel->k_w; x += kernel->stride_w)
                w[y * kernel->k_w + x] = (float) ((double) w[y * kernel->k_w + x] * scale);
          }
    }
  return TCONV_OK;
}

tconv_status
tconv_kernel_factor (const tconv_kernel *kernel, double rel_tol, float *col, float *row,
                     int *separable, tconv_error *err)
{
  if (col == NULL || row == NULL || separable == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "tconv_kernel_factor: col, row or separable is NULL");
  if (!kernel_shape_ok (kernel))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "tconv_kernel_factor: kernel is NULL or has an invalid shape");
  if (!(rel_tol >= 0.0))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "rel_tol %g: must be >= 0", rel_tol);

  *separable = 1;
  for (size_t c = 0; c < kernel->channels && *separable; c++)
    *separable = channel_rank1 (channel_weights (kernel, c), kernel->k_h, kernel->k_w, rel_tol,
                                col + c * kernel->k_h, row + c * kernel->k_w);
  return TCONV_OK;
}
