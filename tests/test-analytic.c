/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Analytic kernels against interpolation written here from the published filter formulas:
 * for every type and stride, tconv_upsample() with the kernel replicated depthwise equals a
 * direct interpolation (output x at input coordinate u = (x + 0.5)/s - 0.5, sum over inputs i
 * of f(u - i) in[i]; Lanczos normalised over the taps used) away from the borders. For
 * bicubic this is MATLAB imresize's bicubic up-sampling (Keys a = -0.5, same centre alignment).
 * Then the analysis (phase sums, symmetry, rank 1), phase normalisation and factorisation,
 * each against values computed here. */
#include "test-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* ---------------------------------------------------------------------------------------------
 * The test's own filters, from the formulas in the literature (not the library's BC form).
 */

static double
f_box (double t)
{
  return t >= -0.5 && t < 0.5 ? 1.0 : 0.0;
}

static double
f_tent (double t)
{
  return fabs (t) < 1.0 ? 1.0 - fabs (t) : 0.0;
}

/* Keys (1981), a = -0.5. */
static double
f_keys (double t)
{
  const double a = -0.5;
  t = fabs (t);
  if (t <= 1.0)
    return (a + 2.0) * t * t * t - (a + 3.0) * t * t + 1.0;
  if (t < 2.0)
    return a * t * t * t - 5.0 * a * t * t + 8.0 * a * t - 4.0 * a;
  return 0.0;
}

/* Mitchell-Netravali with B = C = 1/3, coefficients expanded by hand. */
static double
f_mitchell (double t)
{
  t = fabs (t);
  if (t < 1.0)
    return (7.0 * t * t * t - 12.0 * t * t + 16.0 / 3.0) / 6.0;
  if (t < 2.0)
    return (-7.0 / 3.0 * t * t * t + 12.0 * t * t - 20.0 * t + 32.0 / 3.0) / 6.0;
  return 0.0;
}

static double
f_bspline (double t)
{
  t = fabs (t);
  if (t < 1.0)
    return 2.0 / 3.0 - t * t + t * t * t / 2.0;
  if (t < 2.0)
    return (2.0 - t) * (2.0 - t) * (2.0 - t) / 6.0;
  return 0.0;
}

static double
lanczos (double t, double a)
{
  if (t == 0.0)
    return 1.0;
  if (fabs (t) >= a)
    return 0.0;
  return a * sin (PI * t) * sin (PI * t / a) / (PI * PI * t * t);
}

static double
f_lanczos2 (double t)
{
  return lanczos (t, 2.0);
}

static double
f_lanczos3 (double t)
{
  return lanczos (t, 3.0);
}

typedef struct
{
  tconv_analytic type;
  const char    *name;
  double         radius;
  double (*f) (double);
  int            normalised; /* weights divided by the sum over the taps used */
} filter_def;

static const filter_def filters[] = {
  { TCONV_ANALYTIC_NEAREST, "nearest", 0.5, f_box, 0 },
  { TCONV_ANALYTIC_BILINEAR, "bilinear", 1.0, f_tent, 0 },
  { TCONV_ANALYTIC_BICUBIC, "bicubic", 2.0, f_keys, 0 },
  { TCONV_ANALYTIC_MITCHELL, "mitchell", 2.0, f_mitchell, 0 },
  { TCONV_ANALYTIC_LANCZOS2, "lanczos2", 2.0, f_lanczos2, 1 },
  { TCONV_ANALYTIC_LANCZOS3, "lanczos3", 3.0, f_lanczos3, 1 },
  { TCONV_ANALYTIC_BSPLINE, "bspline", 2.0, f_bspline, 0 },
};
#define N_FILTERS (sizeof filters / sizeof filters[0])

/* Offset from its input of tap k, from the ConvTranspose2d gather relation k = x + pad - i s
 * and u = (x + 0.5)/s - 0.5: t = u - i = (k - pad + 0.5)/s - 0.5. */
static double
tap_offset (int64_t k, size_t pad, size_t s)
{
  return ((double) (k - (int64_t) pad) + 0.5) / (double) s - 0.5;
}

/* ---------------------------------------------------------------------------------------------
 * (a) up-sampling equals direct interpolation away from the borders
 */

/* Direct interpolation of one output sample; returns 0 when the sample needs inputs outside
 * the image (a border sample, not compared). */
static int
direct_sample (const filter_def *fd, const float *img, size_t in_h, size_t in_w, size_t sh,
               size_t sw, size_t y, size_t x, double *value)
{
  const double  uy = ((double) y + 0.5) / (double) sh - 0.5;
  const double  ux = ((double) x + 0.5) / (double) sw - 0.5;
  const int64_t y_lo = (int64_t) floor (uy - fd->radius), y_hi = (int64_t) ceil (uy + fd->radius);
  const int64_t x_lo = (int64_t) floor (ux - fd->radius), x_hi = (int64_t) ceil (ux + fd->radius);
  double        acc = 0.0, norm_y = 0.0, norm_x = 0.0;

  if (y_lo < 0 || x_lo < 0 || y_hi >= (int64_t) in_h || x_hi >= (int64_t) in_w)
    return 0;
  for (int64_t i = y_lo; i <= y_hi; i++)
    norm_y += fd->f (uy - (double) i);
  for (int64_t j = x_lo; j <= x_hi; j++)
    norm_x += fd->f (ux - (double) j);
  for (int64_t i = y_lo; i <= y_hi; i++)
    for (int64_t j = x_lo; j <= x_hi; j++)
      acc += fd->f (uy - (double) i) * fd->f (ux - (double) j)
             * (double) img[(size_t) i * in_w + (size_t) j];
  *value = fd->normalised ? acc / (norm_y * norm_x) : acc;
  return 1;
}

static void
upsample_matches_direct_one (test_rng *rng, const filter_def *fd, size_t sh, size_t sw)
{
  tconv_kernel  *k = NULL;
  tconv_error    err = { 0 };
  tconv_params   p;
  tconv_geometry g;
  const size_t   channels = 2;

  if (tconv_kernel_analytic (fd->type, sh, sw, &k, &err) != TCONV_OK)
    {
      CHECK (0, "%s s=%zu,%zu: tconv_kernel_analytic failed: %s", fd->name, sh, sw, err.message);
      return;
    }
  CHECK (k->k_h % 2 == sh % 2 && k->k_w % 2 == sw % 2 && k->opad_h == 0 && k->opad_w == 0
           && k->k_h + k->opad_h - 2 * k->pad_h == sh && k->k_w + k->opad_w - 2 * k->pad_w == sw,
         "%s s=%zu,%zu: K=%zux%zu pad=%zu,%zu opad=%zu,%zu gives an exact s-times up-sample",
         fd->name, sh, sw, k->k_h, k->k_w, k->pad_h, k->pad_w, k->opad_h, k->opad_w);

  const int64_t margin = (int64_t) ceil (2.0 * fd->radius) + 2;
  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = (int64_t) channels;
  p.in_h = test_rng_range (rng, margin + 1, margin + 6);
  p.in_w = test_rng_range (rng, margin + 1, margin + 6);
  p.k_h = (int64_t) k->k_h, p.k_w = (int64_t) k->k_w;
  p.stride_h = (int64_t) sh, p.stride_w = (int64_t) sw;
  p.pad_h = (int64_t) k->pad_h, p.pad_w = (int64_t) k->pad_w;
  p.opad_h = (int64_t) k->opad_h, p.opad_w = (int64_t) k->opad_w;
  if (tconv_geometry_init (&g, &p, &err) != TCONV_OK)
    {
      CHECK (0, "%s s=%zu,%zu: geometry: %s", fd->name, sh, sw, err.message);
      tconv_kernel_free (k);
      return;
    }
  CHECK (g.out_h == sh * g.in_h && g.out_w == sw * g.in_w,
         "%s s=%zu,%zu: output %zux%zu is s x %zux%zu", fd->name, sh, sw, g.out_h, g.out_w,
         g.in_h, g.in_w);

  float *w = test_malloc (g.weight_len * sizeof (float));
  float *x = test_malloc (g.in_len * sizeof (float));
  float *y = test_alloc_poisoned (g.out_len);
  float *got = test_malloc (g.out_len * sizeof (float));
  float *want = test_malloc (g.out_len * sizeof (float));
  size_t n = 0;

  for (size_t c = 0; c < channels; c++)
    memcpy (w + c * k->k_h * k->k_w, k->weights, k->k_h * k->k_w * sizeof (float));
  test_rng_fill (rng, x, g.in_len);
  tconv_in_view  in = tconv_in_view_planar (&g, x);
  tconv_out_view out = tconv_out_view_planar (&g, y);
  CHECK_STATUS (tconv_upsample (&g, w, NULL, &in, &out, NULL));

  for (size_t c = 0; c < channels; c++)
    for (size_t oy = 0; oy < g.out_h; oy++)
      for (size_t ox = 0; ox < g.out_w; ox++)
        {
          double v;
          if (!direct_sample (fd, x + c * g.in_h * g.in_w, g.in_h, g.in_w, sh, sw, oy, ox, &v))
            continue;
          got[n] = y[(c * g.out_h + oy) * g.out_w + ox];
          want[n] = (float) v;
          n++;
        }
  CHECK (n > 0 && test_near_array (got, want, n, 0.0, 1e-5, NULL),
         "%s s=%zu,%zu in=%zux%zu: tconv_upsample == direct interpolation on %zu interior samples",
         fd->name, sh, sw, g.in_h, g.in_w, n);

  free (w);
  free (x);
  free (y);
  free (got);
  free (want);
  tconv_kernel_free (k);
}

static void
upsample_matches_direct_interpolation (test_rng *rng)
{
  static const size_t pairs[][2] = { { 2, 3 }, { 3, 2 }, { 1, 4 }, { 5, 2 } };

  for (size_t f = 0; f < N_FILTERS; f++)
    {
      for (size_t s = 1; s <= 5; s++)
        upsample_matches_direct_one (rng, &filters[f], s, s);
      for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        upsample_matches_direct_one (rng, &filters[f], pairs[i][0], pairs[i][1]);
    }
  /* Larger strides for a few types. */
  static const tconv_analytic big[] = { TCONV_ANALYTIC_NEAREST, TCONV_ANALYTIC_BILINEAR,
                                        TCONV_ANALYTIC_BICUBIC, TCONV_ANALYTIC_LANCZOS3 };
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
    {
      upsample_matches_direct_one (rng, &filters[big[i]], 7, 7);
      upsample_matches_direct_one (rng, &filters[big[i]], 16, 16);
      upsample_matches_direct_one (rng, &filters[big[i]], 7, 16);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Taps: the sampled filter itself, support coverage, the two hand-computed cases
 */

static void
taps_are_the_sampled_filter (void)
{
  for (size_t f = 0; f < N_FILTERS; f++)
    for (size_t s = 1; s <= 16; s++)
      {
        const filter_def *fd = &filters[f];
        tconv_kernel     *k = NULL;
        double            col[256], ok_support = 1, max_d = 0.0, max_unity = 0.0;

        if (tconv_kernel_analytic (fd->type, s, s, &k, NULL) != TCONV_OK)
          {
            CHECK (0, "%s s=%zu: tconv_kernel_analytic failed", fd->name, s);
            continue;
          }
        /* The test's own 1-D taps, normalised per phase only for Lanczos. */
        for (size_t i = 0; i < k->k_h; i++)
          col[i] = fd->f (tap_offset ((int64_t) i, k->pad_h, s));
        for (size_t r = 0; r < s; r++)
          {
            double sum = 0.0;
            for (size_t i = r; i < k->k_h; i += s)
              sum += col[i];
            if (fd->normalised)
              for (size_t i = r; i < k->k_h; i += s)
                col[i] /= sum;
            else if (fabs (sum - 1.0) > max_unity)
              max_unity = fabs (sum - 1.0); /* partition of unity of the filter itself */
          }
        for (size_t i = 0; i < k->k_h; i++)
          for (size_t j = 0; j < k->k_w; j++)
            {
              const double d = fabs ((double) k->weights[i * k->k_w + j] - col[i] * col[j]);
              if (d > max_d)
                max_d = d;
            }
        /* The kernel covers the support: the next taps out are 0; and it is minimal: the outer
         * taps lie strictly inside it. */
        if (fd->f (tap_offset (-1, k->pad_h, s)) != 0.0
            || fd->f (tap_offset ((int64_t) k->k_h, k->pad_h, s)) != 0.0
            || !(fabs (tap_offset (0, k->pad_h, s)) < fd->radius))
          ok_support = 0;
        CHECK (max_d <= 1e-7 && max_unity <= 1e-7 && ok_support,
               "%s s=%zu K=%zu pad=%zu: taps == f(t) x f(t) (max |d| %.3g), phases of f sum to 1 "
               "(max |sum-1| %.3g), support covered minimally",
               fd->name, s, k->k_h, k->pad_h, max_d, max_unity);
        tconv_kernel_free (k);
      }
}

static void
hand_computed_cases (void)
{
  tconv_kernel *k = NULL;

  for (size_t s = 1; s <= 16; s++)
    {
      CHECK_STATUS (tconv_kernel_analytic (TCONV_ANALYTIC_NEAREST, s, s, &k, NULL));
      int ones = k != NULL && k->k_h == s && k->k_w == s && k->pad_h == 0 && k->pad_w == 0;
      for (size_t i = 0; ones && i < s * s; i++)
        ones = k->weights[i] == 1.0f;
      CHECK (ones, "nearest x%zu: K=%zu pad 0, all ones (each output takes exactly one input)",
             s, s);
      tconv_kernel_free (k);
    }

  CHECK_STATUS (tconv_kernel_analytic (TCONV_ANALYTIC_BILINEAR, 2, 2, &k, NULL));
  static const float tent[4] = { 0.25f, 0.75f, 0.75f, 0.25f };
  int                exact = k != NULL && k->k_h == 4 && k->k_w == 4 && k->pad_h == 1
              && k->pad_w == 1;
  for (size_t i = 0; exact && i < 4; i++)
    for (size_t j = 0; j < 4; j++)
      exact = exact && k->weights[i * 4 + j] == tent[i] * tent[j];
  CHECK (exact, "bilinear x2: K=4, pad=1, taps .25 .75 .75 .25 (outer product, exact)");
  tconv_kernel_free (k);

  /* The table for the report. */
  for (size_t f = 0; f < N_FILTERS; f++)
    {
      char   line[128];
      size_t len = (size_t) snprintf (line, sizeof line, "%-9s", filters[f].name);
      for (size_t s = 2; s <= 4; s++)
        {
          if (tconv_kernel_analytic (filters[f].type, s, s, &k, NULL) == TCONV_OK)
            len += (size_t) snprintf (line + len, sizeof line - len, "  s=%zu K=%-2zu pad=%-2zu",
                                      s, k->k_h, k->pad_h);
          tconv_kernel_free (k);
        }
      test_diag ("%s", line);
    }
}

/* ---------------------------------------------------------------------------------------------
 * (b) analysis of every analytic kernel
 */

static int
name_ok (const char *s)
{
  if (s == NULL || *s == '\0' || strlen (s) > TCONV_KERNEL_NAME_MAX)
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_'
          || *s == '-'))
      return 0;
  return 1;
}

static void
analytic_kernels_are_flat_symmetric_separable_one (const filter_def *fd, size_t sh, size_t sw)
{
  tconv_kernel          *k = NULL;
  tconv_kernel_analysis  a;
  tconv_error            err = { 0 };

  if (tconv_kernel_analytic (fd->type, sh, sw, &k, &err) != TCONV_OK)
    {
      CHECK (0, "%s s=%zu,%zu: %s", fd->name, sh, sw, err.message);
      return;
    }

  /* Phase sums computed here, and compared with the library's. */
  double *api = test_malloc (sh * sw * sizeof (double));
  double  lo = INFINITY, hi = -INFINITY, api_d = 0.0;
  CHECK_STATUS (tconv_kernel_phase_sums (k, 0, api, NULL));
  for (size_t ry = 0; ry < sh; ry++)
    for (size_t rx = 0; rx < sw; rx++)
      {
        double s = 0.0;
        for (size_t y = ry; y < k->k_h; y += sh)
          for (size_t x = rx; x < k->k_w; x += sw)
            s += (double) k->weights[y * k->k_w + x];
        lo = fmin (lo, s), hi = fmax (hi, s);
        api_d = fmax (api_d, fabs (s - api[ry * sw + rx]));
      }
  free (api);

  /* Symmetry checked here. */
  int    sym = 1;
  double big = 0.0;
  for (size_t i = 0; i < k->k_h * k->k_w; i++)
    big = fmax (big, fabs ((double) k->weights[i]));
  for (size_t y = 0; y < k->k_h; y++)
    for (size_t x = 0; x < k->k_w; x++)
      {
        const double v = k->weights[y * k->k_w + x];
        if (fabs (v - k->weights[(k->k_h - 1 - y) * k->k_w + x]) > 1e-6 * big
            || fabs (v - k->weights[y * k->k_w + (k->k_w - 1 - x)]) > 1e-6 * big)
          sym = 0;
      }

  CHECK (hi - lo <= 1e-6 && fabs (lo - 1.0) <= 1e-6 && fabs (hi - 1.0) <= 1e-6 && api_d <= 1e-12,
         "%s s=%zu,%zu: phase sums in [%.9f, %.9f] equal 1, library's agree (|d| %.3g)",
         fd->name, sh, sw, lo, hi, api_d);
  CHECK (sym, "%s s=%zu,%zu: w[k] == w[K-1-k] on both axes", fd->name, sh, sw);

  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (a.checkerboard_risk <= 1e-6 && a.separable && a.symmetric_h && a.symmetric_w
           && a.symmetric_transpose == (sh == sw) && fabs (a.phase_mean - 1.0) <= 1e-6,
         "%s s=%zu,%zu: analysis risk %.3g separable %d sym %d,%d,%d mean %.9f", fd->name, sh,
         sw, a.checkerboard_risk, a.separable, a.symmetric_h, a.symmetric_w,
         a.symmetric_transpose, a.phase_mean);

  /* The factorisation reproduces the kernel. */
  float *col = test_malloc (k->k_h * sizeof (float)), *row = test_malloc (k->k_w * sizeof (float));
  int    fac = 0;
  CHECK_STATUS (tconv_kernel_factor (k, 1e-6, col, row, &fac, NULL));
  double fd_max = 0.0;
  for (size_t y = 0; fac && y < k->k_h; y++)
    for (size_t x = 0; x < k->k_w; x++)
      fd_max = fmax (fd_max, fabs ((double) col[y] * row[x] - k->weights[y * k->k_w + x]));
  CHECK (fac && fd_max <= 1e-6 * big, "%s s=%zu,%zu: factor -> col x row (max |d| %.3g)",
         fd->name, sh, sw, fd_max);
  free (col);
  free (row);

  /* Metadata. */
  CHECK (name_ok (k->name) && strncmp (k->name, fd->name, strlen (fd->name)) == 0
           && k->description != NULL && k->description[0] != '\0'
           && strchr (k->description, '\n') == NULL && k->command != NULL
           && strncmp (k->command, "tconv kernel make ", 18) == 0
           && strstr (k->command, fd->name) != NULL && k->provenance == TCONV_PROVENANCE_ANALYTIC
           && k->channels == 1 && k->bias == NULL && k->stride_h == sh && k->stride_w == sw,
         "%s s=%zu,%zu: name \"%s\", description \"%s\", command \"%s\", provenance analytic",
         fd->name, sh, sw, k->name ? k->name : "(null)",
         k->description ? k->description : "(null)", k->command ? k->command : "(null)");
  CHECK (tconv_kernel_validate (k, &err) == TCONV_OK, "%s s=%zu,%zu: validates", fd->name, sh,
         sw);
  tconv_kernel_free (k);
}

static void
analytic_kernels_are_flat_symmetric_separable (void)
{
  for (size_t f = 0; f < N_FILTERS; f++)
    {
      for (size_t s = 1; s <= 16; s++)
        analytic_kernels_are_flat_symmetric_separable_one (&filters[f], s, s);
      analytic_kernels_are_flat_symmetric_separable_one (&filters[f], 2, 3);
      analytic_kernels_are_flat_symmetric_separable_one (&filters[f], 16, 1);
    }
}

/* ---------------------------------------------------------------------------------------------
 * (c) phase normalisation
 */

static tconv_kernel *
kernel_from (size_t channels, size_t k_h, size_t k_w, size_t sh, size_t sw, const float *w)
{
  tconv_kernel *k = NULL;
  if (tconv_kernel_new (channels, k_h, k_w, &k, NULL) != TCONV_OK)
    {
      fprintf (stderr, "tconv_kernel_new failed\n");
      abort ();
    }
  k->stride_h = sh, k->stride_w = sw;
  memcpy (k->weights, w, channels * k_h * k_w * sizeof (float));
  return k;
}

/* Phase sums of one channel, computed here; returns the risk and the mean. */
static double
own_risk (const tconv_kernel *k, size_t c, double *mean, double *sums)
{
  const float *w = k->weights + c * k->k_h * k->k_w;
  double       lo = INFINITY, hi = -INFINITY, total = 0.0;

  for (size_t ry = 0; ry < k->stride_h; ry++)
    for (size_t rx = 0; rx < k->stride_w; rx++)
      {
        double s = 0.0;
        for (size_t y = ry; y < k->k_h; y += k->stride_h)
          for (size_t x = rx; x < k->k_w; x += k->stride_w)
            s += w[y * k->k_w + x];
        if (sums != NULL)
          sums[ry * k->stride_w + rx] = s;
        lo = fmin (lo, s), hi = fmax (hi, s), total += s;
      }
  *mean = total / (double) (k->stride_h * k->stride_w);
  return (hi - lo) / fabs (*mean);
}

static void
normalize_phases_flattens_one (test_rng *rng, size_t channels, size_t k_h, size_t k_w, size_t sh,
                               size_t sw)
{
  const size_t  kk = k_h * k_w, n = channels * kk;
  float        *w = test_malloc (n * sizeof (float));
  double        before_mean[8] = { 0 }, before_risk[8] = { 0 }, sums[64];
  tconv_error   err = { 0 };

  for (size_t i = 0; i < n; i++)
    w[i] = (float) (0.05 + 0.95 * (test_rng_signed (rng) + 1.0) / 2.0); /* positive */
  tconv_kernel *k = kernel_from (channels, k_h, k_w, sh, sw, w);
  int           risky = 1;
  for (size_t c = 0; c < channels; c++)
    {
      before_risk[c] = own_risk (k, c, &before_mean[c], NULL);
      risky = risky && before_risk[c] > 1e-3;
    }

  tconv_status st = tconv_kernel_normalize_phases (k, &err);
  CHECK (st == TCONV_OK, "normalize_phases %zux%zu s=%zu,%zu c=%zu: %s", k_h, k_w, sh, sw,
         channels, st == TCONV_OK ? "ok" : err.message);

  int    flat = 1, gain = 1, uniform = 1;
  double worst_risk = 0.0;
  for (size_t c = 0; c < channels; c++)
    {
      double mean;
      double risk = own_risk (k, c, &mean, sums);
      worst_risk = fmax (worst_risk, risk);
      flat = flat && risk <= 1e-6;
      gain = gain && fabs (mean - before_mean[c]) <= 1e-6 * before_mean[c];
      /* Each phase is one scale factor: every tap of a phase changed by the same ratio. */
      for (size_t y = 0; y < k_h; y++)
        for (size_t x = 0; x < k_w; x++)
          {
            const size_t ry = y % sh, rx = x % sw, i = c * kk + y * k_w + x;
            const size_t i0 = c * kk + ry * k_w + rx;
            const double r = (double) k->weights[i] / w[i], r0 = (double) k->weights[i0] / w[i0];
            uniform = uniform && fabs (r - r0) <= 1e-6 * r0;
          }
    }
  CHECK (risky && flat && gain && uniform,
         "normalize_phases %zux%zu s=%zu,%zu c=%zu: risk %.3g -> %.3g, mean gain kept %d, "
         "one scale per phase %d",
         k_h, k_w, sh, sw, channels, before_risk[0], worst_risk, gain, uniform);

  tconv_kernel_analysis a;
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (a.checkerboard_risk <= 1e-6, "analysis after normalize: risk %.3g", a.checkerboard_risk);
  tconv_kernel_free (k);
  free (w);
}

static void
normalize_phases_flattens (test_rng *rng)
{
  for (int i = 0; i < 20; i++)
    normalize_phases_flattens_one (rng, 1, 5, 5, 2, 2);
  for (int i = 0; i < 5; i++)
    normalize_phases_flattens_one (rng, 3, 7, 4, 3, 2);
  normalize_phases_flattens_one (rng, 2, 12, 12, 4, 4);
}

static void
normalize_phases_rejects_zero_phase (void)
{
  /* 1x1 kernel at stride 2: three phases have no taps. */
  const float   one[1] = { 1.0f };
  tconv_kernel *k = kernel_from (1, 1, 1, 2, 2, one);
  tconv_error   err = { 0 };
  CHECK (tconv_kernel_normalize_phases (k, &err) == TCONV_ERR_INVALID_ARG
           && k->weights[0] == 1.0f && strstr (err.message, "phase") != NULL,
         "normalize: empty phase rejected, kernel untouched (\"%s\")", err.message);
  tconv_kernel_free (k);

  /* Phase (0, 0) of this 3x1 stride-2 kernel sums to 0 (taps 0 and 2), phase 1 does not. */
  const float cancel[3] = { 1.0f, 2.0f, -1.0f };
  k = kernel_from (1, 3, 1, 2, 1, cancel);
  memset (&err, 0, sizeof err);
  CHECK (tconv_kernel_normalize_phases (k, &err) == TCONV_ERR_INVALID_ARG
           && k->weights[0] == 1.0f && k->weights[1] == 2.0f && k->weights[2] == -1.0f,
         "normalize: zero phase sum rejected, kernel untouched (\"%s\")", err.message);
  tconv_kernel_free (k);
}

/* ---------------------------------------------------------------------------------------------
 * (d) rank-1 detection and hand-computed analysis
 */

static void
non_separable_detected (test_rng *rng)
{
  tconv_kernel_analysis a;
  float                 col[3 * 12], row[3 * 12];

  /* A cross: rank 2. */
  const float   cross[9] = { 0, 1, 0, 1, 1, 1, 0, 1, 0 };
  tconv_kernel *k = kernel_from (1, 3, 3, 2, 2, cross);
  int           sep = 1;
  CHECK (tconv_kernel_factor (k, 1e-6, col, row, &sep, NULL) == TCONV_OK && sep == 0,
         "cross kernel: not rank 1");
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (!a.separable && a.symmetric_h && a.symmetric_w && a.symmetric_transpose,
         "cross kernel: analysis not separable, symmetric");
  tconv_kernel_free (k);

  /* The identity: rank 3, symmetric under transposition only. */
  const float eye[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
  k = kernel_from (1, 3, 3, 1, 1, eye);
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (!a.separable && !a.symmetric_h && !a.symmetric_w && a.symmetric_transpose
           && tconv_kernel_factor (k, 1e-6, col, row, &sep, NULL) == TCONV_OK && sep == 0,
         "identity kernel: not separable, transpose-symmetric only");
  tconv_kernel_free (k);

  /* Random rank 1 is found and reproduced; perturbed by 1e-3 it is not. */
  for (int iter = 0; iter < 20; iter++)
    {
      const size_t kh = (size_t) test_rng_range (rng, 1, 12);
      const size_t kw = (size_t) test_rng_range (rng, 1, 12);
      float        u[12], v[12], w[3 * 144];
      for (size_t i = 0; i < kh; i++)
        u[i] = (float) test_rng_signed (rng);
      for (size_t j = 0; j < kw; j++)
        v[j] = (float) test_rng_signed (rng);
      for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < kh; i++)
          for (size_t j = 0; j < kw; j++)
            w[c * kh * kw + i * kw + j] = (float) (c + 1) * u[i] * v[j];
      k = kernel_from (3, kh, kw, 2, 2, w);
      int    fac = 0;
      CHECK (tconv_kernel_factor (k, 1e-6, col, row, &fac, NULL) == TCONV_OK, "factor status");
      double big = 0.0, d = 0.0;
      for (size_t i = 0; i < 3 * kh * kw; i++)
        big = fmax (big, fabs ((double) w[i]));
      for (size_t c = 0; fac && c < 3; c++)
        for (size_t i = 0; i < kh; i++)
          for (size_t j = 0; j < kw; j++)
            d = fmax (d, fabs ((double) col[c * kh + i] * row[c * kw + j]
                              - w[c * kh * kw + i * kw + j]));
      CHECK (fac && d <= 1e-6 * big, "rank-1 %zux%zu x3 channels: factored (max |d| %.3g)", kh,
             kw, d);
      tconv_kernel_free (k);

      if (kh >= 2 && kw >= 2)
        {
          /* Perturb one entry of channel 1 by 1e-3 of the largest weight. */
          w[kh * kw + (kh - 1) * kw + (kw - 1)] += (float) (1e-3 * big);
          k = kernel_from (3, kh, kw, 2, 2, w);
          CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
          CHECK (tconv_kernel_factor (k, 1e-6, col, row, &sep, NULL) == TCONV_OK && sep == 0
                   && !a.separable,
                 "rank-1 %zux%zu plus a 1e-3 bump in channel 1: not separable", kh, kw);
          tconv_kernel_free (k);
        }
    }
}

static void
analysis_hand_computed (void)
{
  tconv_kernel_analysis a;
  double                sums[4];

  /* 2x2 at stride 2: each phase is one tap. */
  const float   w[4] = { 1, 2, 3, 4 };
  tconv_kernel *k = kernel_from (1, 2, 2, 2, 2, w);
  CHECK_STATUS (tconv_kernel_phase_sums (k, 0, sums, NULL));
  CHECK (sums[0] == 1 && sums[1] == 2 && sums[2] == 3 && sums[3] == 4,
         "phase sums of [[1,2],[3,4]] at stride 2 are 1,2,3,4");
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (a.phase_min == 1 && a.phase_max == 4 && a.phase_mean == 2.5
           && fabs (a.checkerboard_risk - 1.2) < 1e-12 && !a.symmetric_h && !a.symmetric_w
           && !a.symmetric_transpose,
         "analysis of [[1,2],[3,4]]: min 1 max 4 mean 2.5 risk 1.2 (got %g %g %g %g)",
         a.phase_min, a.phase_max, a.phase_mean, a.checkerboard_risk);
  CHECK (tconv_kernel_phase_sums (k, 1, sums, NULL) == TCONV_ERR_INVALID_ARG,
         "phase sums of channel 1 of a 1-channel kernel rejected");
  tconv_kernel_free (k);

  /* 2x3 at stride (1, 2): left-right symmetric only; phases (0,0) = 1+1+3+3, (0,1) = 2+4. */
  const float lr[6] = { 1, 2, 1, 3, 4, 3 };
  k = kernel_from (1, 2, 3, 1, 2, lr);
  CHECK_STATUS (tconv_kernel_phase_sums (k, 0, sums, NULL));
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (sums[0] == 8 && sums[1] == 6 && a.symmetric_w && !a.symmetric_h && !a.symmetric_transpose
           && fabs (a.checkerboard_risk - 2.0 / 7.0) < 1e-12,
         "[[1,2,1],[3,4,3]] s=1,2: sums 8,6, risk 2/7, symmetric_w only");
  tconv_kernel_free (k);

  /* Two channels, each flat over its phases but with different gains: min/max/mean over all
   * channels, the risk per channel (0); then channel 1 made uneven: 1,1,1,3 -> risk 2/1.5. */
  float two[8] = { 1, 1, 1, 1, 2, 2, 2, 2 };
  k = kernel_from (2, 2, 2, 2, 2, two);
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (a.phase_min == 1 && a.phase_max == 2 && a.phase_mean == 1.5 && a.checkerboard_risk == 0,
         "two flat channels with gains 1 and 2: min 1 max 2 mean 1.5 risk 0 (got risk %g)",
         a.checkerboard_risk);
  tconv_kernel_free (k);
  two[4] = two[5] = two[6] = 1, two[7] = 3;
  k = kernel_from (2, 2, 2, 2, 2, two);
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (fabs (a.checkerboard_risk - 2.0 / 1.5) < 1e-12,
         "channel 1 phases 1,1,1,3: risk 2/1.5 (got %g)", a.checkerboard_risk);
  tconv_kernel_free (k);

  /* Zero mean with different gains: infinite risk. */
  const float zm[2] = { 1, -1 };
  k = kernel_from (1, 1, 2, 1, 2, zm);
  CHECK_STATUS (tconv_kernel_analyze (k, &a, NULL));
  CHECK (isinf (a.checkerboard_risk), "zero-mean phases 1,-1: risk infinite");
  tconv_kernel_free (k);
}

/* ---------------------------------------------------------------------------------------------
 * Names and errors
 */

static void
names_and_errors (void)
{
  tconv_kernel   dummy;
  tconv_kernel  *k = &dummy; /* not NULL: failures must reset it */
  tconv_analytic t;
  tconv_error    err = { 0 };

  for (size_t f = 0; f < N_FILTERS; f++)
    CHECK (tconv_analytic_name (filters[f].type) != NULL
             && strcmp (tconv_analytic_name (filters[f].type), filters[f].name) == 0
             && tconv_analytic_from_name (filters[f].name, &t, NULL) == TCONV_OK
             && t == filters[f].type,
           "name <-> type: %s", filters[f].name);
  CHECK (N_FILTERS == TCONV_ANALYTIC_COUNT, "the test covers every analytic type");
  CHECK (tconv_analytic_name (TCONV_ANALYTIC_COUNT) == NULL,
         "name of an out-of-range type is NULL");
  CHECK (tconv_analytic_from_name ("cubic", &t, NULL) == TCONV_ERR_INVALID_ARG
           && tconv_analytic_from_name ("", &t, NULL) == TCONV_ERR_INVALID_ARG
           && tconv_analytic_from_name (NULL, &t, NULL) == TCONV_ERR_INVALID_ARG,
         "unknown names rejected");

  CHECK (tconv_kernel_analytic (TCONV_ANALYTIC_BICUBIC, 0, 2, &k, &err) == TCONV_ERR_INVALID_ARG
           && k == NULL && strstr (err.message, "stride_h 0") != NULL,
         "stride_h 0 rejected: \"%s\"", err.message);
  CHECK (tconv_kernel_analytic (TCONV_ANALYTIC_BICUBIC, 2, 17, &k, &err) == TCONV_ERR_INVALID_ARG
           && k == NULL && strstr (err.message, "stride_w 17") != NULL,
         "stride_w 17 rejected: \"%s\"", err.message);
  CHECK (tconv_kernel_analytic (TCONV_ANALYTIC_COUNT, 2, 2, &k, &err) == TCONV_ERR_INVALID_ARG
           && k == NULL,
         "type out of range rejected: \"%s\"", err.message);
  CHECK (tconv_kernel_analytic (TCONV_ANALYTIC_BICUBIC, 2, 2, NULL, NULL) == TCONV_ERR_INVALID_ARG,
         "NULL output rejected");
  tconv_kernel_analysis a;
  CHECK (tconv_kernel_analyze (NULL, &a, NULL) == TCONV_ERR_INVALID_ARG
           && tconv_kernel_normalize_phases (NULL, NULL) == TCONV_ERR_INVALID_ARG
           && tconv_kernel_factor (NULL, 1e-6, NULL, NULL, NULL, NULL) == TCONV_ERR_INVALID_ARG,
         "analysis functions reject NULL");
  {
    float        col[4], row[4];
    int          sep = 7;
    const float  one = 1.0f;
    tconv_kernel *k = NULL;
    CHECK_STATUS (tconv_kernel_new (1, 1, 1, &k, NULL));
    if (k != NULL)
      memcpy (k->weights, &one, sizeof one);
    CHECK (tconv_kernel_factor (k, -1.0, col, row, &sep, &err) == TCONV_ERR_INVALID_ARG
             && sep == 7 && strstr (err.message, "rel_tol -1") != NULL,
           "tconv_kernel_factor: negative tolerance refused, named: \"%s\"", err.message);
    CHECK (tconv_kernel_factor (NULL, 1e-6, col, row, &sep, &err) == TCONV_ERR_INVALID_ARG
             && sep == 7 && err.message[0] != '\0',
           "tconv_kernel_factor: NULL kernel refused with a message: \"%s\"", err.message);
    tconv_kernel_free (k);
  }
}

int
main (void)
{
  test_rng rng;
  test_begin ("test-analytic");
  test_rng_init (&rng, 20261125);
  test_diag ("seed %llu (set TCONV_TEST_SEED to replay)", (unsigned long long) rng.seed);
  hand_computed_cases ();
  taps_are_the_sampled_filter ();
  upsample_matches_direct_interpolation (&rng);
  analytic_kernels_are_flat_symmetric_separable ();
  normalize_phases_flattens (&rng);
  normalize_phases_rejects_zero_phase ();
  non_separable_detected (&rng);
  analysis_hand_computed ();
  names_and_errors ();
  return test_end ();
}
