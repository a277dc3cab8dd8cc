/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The structure-tensor classifier of kernel banks and the luma it reads (tconv-bank.h). In the
 * exact list of core/meson.build (no contraction), so a pixel's class is the same on every
 * machine, in every band and on every instruction-set path. */
#include "tconv-bank.h"
#include "tconv-private.h"

#include <math.h>
#include <string.h>

#define PI_D 3.14159265358979323846

static size_t
window_radius (const tconv_bank_classifier *c)
{
  return (size_t) ceil (2.0 * c->sigma);
}

size_t
tconv_bank_halo (const tconv_bank_classifier *classifier)
{
  return 1 + window_radius (classifier);
}

tconv_status
tconv_bank_work_len (const tconv_bank_classifier *classifier, size_t h, size_t w,
                     size_t *work_len, tconv_error *err)
{
  tconv_status st;

  if (work_len == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank work_len: work_len is NULL");
  if ((st = tconv_bank_classifier_validate (classifier, err)))
    return st;
  /* One row of the three structure-tensor planes and a ring of window rows (2 r + 1) of
   * their horizontally smoothed copies, whatever @h. */
  if (!tconv_mul3_size (w, 3, 2 * window_radius (classifier) + 2, work_len)
      || *work_len > SIZE_MAX / sizeof (float))
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "bank classification of %zu x %zu pixels: too large", h, w);
  return TCONV_OK;
}

/* Per-pixel features from the smoothed tensor (a, b, c). */
static void
tensor_features (double a, double b, double c, float *angle, float *strength, float *coherence)
{
  double half_tr = 0.5 * (a + c), d = 0.5 * (a - c);
  double root = sqrt (d * d + b * b);
  double l1 = half_tr + root, l2 = half_tr - root;
  double s1 = sqrt (l1 > 0.0 ? l1 : 0.0), s2 = sqrt (l2 > 0.0 ? l2 : 0.0);
  double theta = 0.5 * atan2 (2.0 * b, a - c);

  if (theta < 0.0)
    theta += PI_D;
  if (theta >= PI_D)
    theta = 0.0;
  *angle = (float) theta;
  *strength = (float) s1;
  *coherence = s1 + s2 > 0.0 ? (float) ((s1 - s2) / (s1 + s2)) : 0.0f;
}

static size_t
bin_of (float v, const double *thresholds, size_t n)
{
  size_t b = 0;
  while (b < n && (double) v >= thresholds[b])
    b++;
  return b;
}

static uint16_t
class_of (const tconv_bank_classifier *c, float angle, float strength, float coherence)
{
  size_t a = (size_t) floor ((double) angle / PI_D * (double) c->angles);
  if (a >= c->angles)
    a = c->angles - 1;
  return (uint16_t) ((a * c->strengths + bin_of (strength, c->strength_thresholds,
                                                 c->strengths - 1))
                       * c->coherences
                     + bin_of (coherence, c->coherence_thresholds, c->coherences - 1));
}

typedef struct tensor_job
{
  const tconv_bank_classifier *c;
  const float                 *luma;
  size_t                       h, w;
  ptrdiff_t                    stride;
  float                       *work;
} tensor_job;

/* The gradient products gx^2, gx gy, gy^2 of pixel @x of @row (central differences, with the
 * rows @up and @down). */
static inline __attribute__ ((always_inline)) void
pixel_products (const float *up, const float *row, const float *down, size_t x, float *prod)
{
  const float gx = (row[x + 1] - row[x - 1]) * 0.5f;
  const float gy = (down[x] - up[x]) * 0.5f;

  prod[0] = gx * gx;
  prod[1] = gx * gy;
  prod[2] = gy * gy;
}

/* Gradient products of row @y at every pixel but the first and last (rows of w floats). */
static inline __attribute__ ((always_inline)) void
gradient_row (const tensor_job *j, size_t y, float *restrict ga, float *restrict gb,
              float *restrict gc)
{
  const float *restrict row = j->luma + (ptrdiff_t) y * j->stride;
  const float *restrict up = row - j->stride, *restrict down = row + j->stride;

  for (size_t x = 1; x + 1 < j->w; x++)
    {
      float prod[3];
      pixel_products (up, row, down, x, prod);
      ga[x] = prod[0];
      gb[x] = prod[1];
      gc[x] = prod[2];
    }
}

/* Four doubles as one value (GCC and clang vector extension), two of them for eight pixels:
 * AVX registers in the x86-64-v3 build. Nothing in this file contracts a multiply and an add
 * into one FMA, so each lane rounds exactly as a scalar loop would on either path: the
 * classes, and the presets trained on them, do not depend on it. */
typedef double tensor_v4 __attribute__ ((vector_size (4 * sizeof (double))));
typedef float  tensor_f4 __attribute__ ((vector_size (4 * sizeof (float))));
#define BLUR_PIXELS 8

/* Eight pixels' values, four per vector. */
typedef struct tensor_8
{
  tensor_v4 v[BLUR_PIXELS / 4];
} tensor_8;

/* Four floats widened (written element by element: GCC 12 splits __builtin_convertvector
 * of a loaded vector into halves). */
static inline __attribute__ ((always_inline)) tensor_v4
load_f4 (const float *p)
{
  return (tensor_v4) { p[0], p[1], p[2], p[3] };
}

/* sum_t g[t] p[t + i] (horizontal) or sum_t g[t] rows[t][x + i] (vertical), in double,
 * from 0 in the order of t, for i < 8, in vectors of four doubles: each lane's sum keeps the
 * order and the roundings of the scalar hblur1() and vblur1(). */
static inline __attribute__ ((always_inline)) tensor_8
hblur8 (const double *g, size_t taps, const float *p)
{
  tensor_8 acc = { { { 0.0, 0.0, 0.0, 0.0 }, { 0.0, 0.0, 0.0, 0.0 } } };

  for (size_t t = 0; t < taps; t++)
    for (size_t v = 0; v < BLUR_PIXELS / 4; v++)
      acc.v[v] += (tensor_v4) { g[t], g[t], g[t], g[t] } * load_f4 (p + t + 4 * v);
  return acc;
}

static inline __attribute__ ((always_inline)) tensor_8
vblur8 (const double *g, size_t taps, const float *const *rows, size_t x)
{
  tensor_8 acc = { { { 0.0, 0.0, 0.0, 0.0 }, { 0.0, 0.0, 0.0, 0.0 } } };

  for (size_t t = 0; t < taps; t++)
    for (size_t v = 0; v < BLUR_PIXELS / 4; v++)
      acc.v[v] += (tensor_v4) { g[t], g[t], g[t], g[t] } * load_f4 (rows[t] + x + 4 * v);
  return acc;
}

static inline double
hblur1 (const double *g, size_t taps, const float *p)
{
  double acc = 0.0;
  for (size_t t = 0; t < taps; t++)
    acc += g[t] * (double) p[t];
  return acc;
}

static inline double
vblur1 (const double *g, size_t taps, const float *const *rows, size_t x)
{
  double acc = 0.0;
  for (size_t t = 0; t < taps; t++)
    acc += g[t] * (double) rows[t][x];
  return acc;
}

typedef struct feature_out
{
  float    *angle, *strength, *coherence;
  uint16_t *classes;
  ptrdiff_t stride;
  const tconv_bank_classifier *c;
} feature_out;

static void
emit_features (const feature_out *o, size_t y, size_t x, double a, double b, double c)
{
  ptrdiff_t at = (ptrdiff_t) y * o->stride + (ptrdiff_t) x;
  float     an, st, co;

  tensor_features (a, b, c, &an, &st, &co);
  if (o->angle != NULL)
    o->angle[at] = an;
  if (o->strength != NULL)
    o->strength[at] = st;
  if (o->coherence != NULL)
    o->coherence[at] = co;
  if (o->classes != NULL)
    o->classes[at] = class_of (o->c, an, st, co);
}

/* ---------------------------------------------------------------------------------------------
 * The classes of eight pixels at once (fast_classes() below), each the class class_of()
 * gives to the features of tensor_features() of the exact tensor (a, b, c), from a tensor
 * smoothed in float whose entries lie within e = FAST_TENSOR_ERROR (a + c) of the exact ones,
 * in float arithmetic, with one square root and one division per pixel instead of three and
 * four. The eigenvalues l1 >= l2 come from the same formulas as in tensor_features(); the
 * exact tensor's lie within 2 e of those of the float tensor (Weyl: the perturbation's norm
 * is at most its Frobenius norm, 2 e), and the float evaluation adds at most about 5 u (a + c)
 * (u = 2^-24; a + c = l1 + l2 >= 0), so within dl = 2 e + 2e-6 (a + c) of the exact ones;
 * then
 * - strength: the bin test fl32 (sqrt (l1)) >= T is monotone in l1, so it is l1 >= L with L
 *   the least double passing it (found once per call by bisection on the bit patterns): the
 *   float test decides where |l1 - fl32 (L)| > dl + u L.
 * - coherence: q = (sqrt l1 - sqrt l2) / (sqrt l1 + sqrt l2) falls as rho = l2 / l1 rises, and
 *   q >= C exactly when rho <= K = ((1 - C) / (1 + C))^2; |q - C| >= |K - rho| / 4. Where the
 *   exact |K l1 - l2| > COHERENCE_MARGIN l1, q lies more than 2.5e-6 from C, far beyond the
 *   float rounding of the exact path's q (6e-8) and its double arithmetic (1e-15): the test
 *   decides. K l1 - max (l2, 0) of the float tensor, in float, lies within (K + 1) dl plus a
 *   few u l1 of the exact one, which the margin adds.
 * - angle: a polynomial arctangent, trusted where its position in bins lies at least
 *   ANGLE_MARGIN from a bin boundary, plus what e can move it. For the tensor at hand the
 *   position's error is below 5e-5 bins for up to 64 bins: the polynomial's 1.3e-7 radians,
 *   its float evaluation with the quotient's and the constants' roundings and the steps
 *   that fold the octants (about 1.5e-6 radians in all), and the float rounding of the exact
 *   angle, 2^-24 pi, all times 64 / pi, plus the float rounding of the position (64 u). The
 *   angle is half that of v = (a - c, 2 b), which e moves by at most |dv| <= 2 sqrt2 e; where
 *   |v| > 4 sqrt2 e, the direction of v moves by at most arcsin (|dv| / |v|) <= sqrt2 pi e /
 *   |v|, half of it in the angle; the test allows twice that.
 * Other pixels (near a boundary, l1 <= 0, a non-finite tensor) take the exact path, so every
 * class is class_of()'s. A zero tensor is handled by the caller.
 */
#define ANGLE_MARGIN      1e-4f
#define COHERENCE_MARGIN  1e-5f
#define FAST_TENSOR_ERROR 4e-6f /* in units of a + c (fast_classes()) */
#define SQRT2             1.41421356f
#define PI_F              3.14159265f

/* Eight floats, or eight lanes of comparison results (-1 true, 0 false). */
typedef float   tensor_f8 __attribute__ ((vector_size (BLUR_PIXELS * sizeof (float))));
typedef int32_t tensor_i8 __attribute__ ((vector_size (BLUR_PIXELS * sizeof (int32_t))));

/* The classifier's thresholds as tests on l1 and l2 (above). */
typedef struct class_limits
{
  float l1_min[TCONV_BANK_MAX_BINS - 1];  /* strength bin t + 1 from l1 >= l1_min[t] */
  float rho_max[TCONV_BANK_MAX_BINS - 1]; /* coherence bin t + 1 from l2 <= rho_max[t] l1 */
  float angle_scale;                      /* bins per radian */
} class_limits;

/* The least double l >= 0 with (float) sqrt (l) >= @t (sqrt rounds correctly, so the test is
 * monotone in l; for l >= 0 the bit patterns sort as the values). */
static double
least_l1 (double t)
{
  uint64_t lo = 0, hi = UINT64_C (0x7ff0000000000000); /* +inf passes any finite t */

  while (lo < hi)
    {
      const uint64_t mid = lo + (hi - lo) / 2;
      double         l;
      memcpy (&l, &mid, sizeof l);
      if ((double) (float) sqrt (l) >= t)
        hi = mid;
      else
        lo = mid + 1;
    }
  double l;
  memcpy (&l, &lo, sizeof l);
  return l;
}

static void
class_limits_init (const tconv_bank_classifier *cl, class_limits *lim)
{
  for (size_t t = 0; t + 1 < cl->strengths; t++)
    lim->l1_min[t] = (float) least_l1 (cl->strength_thresholds[t]);
  for (size_t t = 0; t + 1 < cl->coherences; t++)
    {
      const double c = cl->coherence_thresholds[t], r = (1.0 - c) / (1.0 + c);
      lim->rho_max[t] = (float) (r * r);
    }
  lim->angle_scale = (float) ((double) cl->angles / PI_D);
}

static inline __attribute__ ((always_inline)) tensor_f8
splat8 (float v)
{
  return (tensor_f8) { v, v, v, v, v, v, v, v };
}

static inline __attribute__ ((always_inline)) tensor_f8
select8 (tensor_i8 m, tensor_f8 a, tensor_f8 b)
{
  return (tensor_f8) ((m & (tensor_i8) a) | (~m & (tensor_i8) b));
}

/* Lane by lane (one vector instruction where the target has it). */
static inline __attribute__ ((always_inline)) tensor_f8
sqrt8 (tensor_f8 v)
{
  for (int i = 0; i < BLUR_PIXELS; i++)
    v[i] = sqrtf (v[i]);
  return v;
}

static inline __attribute__ ((always_inline)) tensor_f8
abs8 (tensor_f8 v)
{
  return (tensor_f8) ((tensor_i8) v & 0x7fffffff);
}

/* atan (z) for |z| <= tan (pi / 8): its Taylor series to z^13, an alternating series whose
 * error is below the first term left out, 0.4143^15 / 15 < 1.3e-7. */
static inline __attribute__ ((always_inline)) tensor_f8
atan_small8 (tensor_f8 z)
{
  const tensor_f8 z2 = z * z;
  tensor_f8       r = splat8 (1.0f / 13);
  r = splat8 (-1.0f / 11) + z2 * r;
  r = splat8 (1.0f / 9) + z2 * r;
  r = splat8 (-1.0f / 7) + z2 * r;
  r = splat8 (1.0f / 5) + z2 * r;
  r = splat8 (-1.0f / 3) + z2 * r;
  return z * (splat8 (1.0f) + z2 * r);
}

/* Position of 0.5 atan2 (y, x), mapped into [0, pi), in bins of 1 / @scale radians; NaN when
 * x = y = 0. With t = min / max of |x| and |y|, atan t directly, or pi / 4 + atan ((t - 1) /
 * (t + 1)) where t > tan (pi / 8): one division either way. */
static inline __attribute__ ((always_inline)) tensor_f8
angle_position8 (tensor_f8 y, tensor_f8 x, float scale)
{
  const tensor_f8 zero = splat8 (0.0f), ax = abs8 (x), ay = abs8 (y);
  const tensor_i8 steep = ay > ax;
  const tensor_f8 mn = select8 (steep, ax, ay), mx = select8 (steep, ay, ax);
  const tensor_i8 big = mn > splat8 (0.41421356f) * mx; /* tan (pi / 8) */
  const tensor_f8 z = select8 (big, mn - mx, mn) / select8 (big, mn + mx, mx);
  tensor_f8       r = select8 (big, splat8 (PI_F / 4), zero) + atan_small8 (z);

  r = select8 (steep, splat8 (PI_F / 2) - r, r);
  r = select8 (x < zero, splat8 (PI_F) - r, r);
  r = splat8 (0.5f) * select8 (y < zero, -r, r);
  return select8 (r < zero, r + splat8 (PI_F), r) * splat8 (scale);
}

/* Eight pixels' classes of the float tensors (@a, @b, @c) into @cls, with @sure false (0)
 * where the exact path must decide. */
static inline __attribute__ ((always_inline)) void
classes8 (const tconv_bank_classifier *cl, const class_limits *lim, tensor_f8 a, tensor_f8 b,
          tensor_f8 c, tensor_i8 *cls, tensor_i8 *sure)
{
  const tensor_f8 zero = splat8 (0.0f), tr = a + c, half_tr = splat8 (0.5f) * tr;
  const tensor_f8 d = splat8 (0.5f) * (a - c), root = sqrt8 (d * d + b * b);
  const tensor_f8 l1 = half_tr + root, l2 = half_tr - root;
  const tensor_f8 l2p = select8 (l2 > zero, l2, zero);
  const tensor_f8 e = splat8 (FAST_TENSOR_ERROR) * tr;
  const tensor_f8 dl = splat8 (2.0f) * e + splat8 (2e-6f) * tr;
  const tensor_f8 vlen = splat8 (2.0f) * root;
  const tensor_f8 slack = splat8 (SQRT2 * PI_F * lim->angle_scale) * e;
  const tensor_f8 p = angle_position8 (splat8 (2.0f) * b, a - c, lim->angle_scale);
  /* p is in [0, angles] or NaN; NaN becomes 0 before the conversion, whose result would
   * be undefined, and stays NaN in frac */
  const tensor_i8 bin = __builtin_convertvector (select8 (p >= zero, p, zero), tensor_i8);
  const tensor_f8 frac = p - __builtin_convertvector (bin, tensor_f8);
  /* false for NaN, hence for a non-finite tensor */
  tensor_i8       ok = ((frac - splat8 (ANGLE_MARGIN)) * vlen >= slack)
                       & ((splat8 (1.0f - ANGLE_MARGIN) - frac) * vlen >= slack)
                       & (vlen > splat8 (4.0f * SQRT2) * e) & (l1 > zero);
  tensor_i8       k = bin * (int32_t) cl->strengths;

  for (size_t t = 0; t + 1 < cl->strengths; t++)
    {
      const tensor_f8 L = splat8 (lim->l1_min[t]);
      k -= l1 >= L;
      ok &= abs8 (l1 - L) > dl + splat8 (6e-8f) * L;
    }
  k *= (int32_t) cl->coherences;
  for (size_t t = 0; t + 1 < cl->coherences; t++)
    {
      const tensor_f8 r = splat8 (lim->rho_max[t]), q = r * l1 - l2p;
      k -= q >= zero;
      ok &= abs8 (q) > splat8 (COHERENCE_MARGIN) * (l1 + dl)
                         + (r + splat8 (1.0f)) * dl + splat8 (1e-6f) * l1;
    }
  *cls = k;
  *sure = ok;
}

/* The 2 r + 1 weights of the Gaussian window, summing to 1. */
static void
window_weights (const tconv_bank_classifier *c, double *g)
{
  const size_t r = window_radius (c), taps = 2 * r + 1;
  double       sum = 0.0;

  for (size_t t = 0; t < taps; t++)
    {
      double d = (double) t - (double) r;
      g[t] = exp (-d * d / (2.0 * c->sigma * c->sigma));
      sum += g[t];
    }
  for (size_t t = 0; t < taps; t++)
    g[t] /= sum;
}

/* The exact path: smoothed tensor of each interior pixel, handed to emit_features(). Down the
 * rows: each row's gradient products are smoothed horizontally into a ring of 2 r + 1 rows,
 * and once the ring holds a pixel's window, vertically; the work stays in cache whatever the
 * height. Eight pixels at a time, the rest of a row one by one, with the same sums. */
static inline __attribute__ ((always_inline)) void
smoothed_tensor (const tensor_job *j, const feature_out *o)
{
  const size_t r = window_radius (j->c), halo = r + 1, taps = 2 * r + 1, w = j->w;
  float       *p[3] = { j->work, j->work + w, j->work + 2 * w };
  float       *ring = j->work + 3 * w; /* plane k, slot i: ring + (k taps + i) w */
  const float *rows[3][2 * 8 + 1];
  double       g[2 * 8 + 1];

  window_weights (j->c, g);

  for (size_t y = 1; y + 1 < j->h; y++)
    {
      size_t x = halo, yc = y - r; /* yc: the row whose window ends at y */
      float *q[3];
      for (int k = 0; k < 3; k++)
        q[k] = ring + ((size_t) k * taps + y % taps) * w;
      gradient_row (j, y, p[0], p[1], p[2]);
      for (; x + BLUR_PIXELS + halo <= w; x += BLUR_PIXELS)
        for (int k = 0; k < 3; k++)
          {
            const tensor_8 acc = hblur8 (g, taps, p[k] + x - r);
            for (size_t v = 0; v < BLUR_PIXELS / 4; v++)
              {
                const tensor_f4 f = __builtin_convertvector (acc.v[v], tensor_f4);
                memcpy (q[k] + x + 4 * v, &f, sizeof f);
              }
          }
      for (; x + halo < w; x++)
        for (int k = 0; k < 3; k++)
          q[k][x] = (float) hblur1 (g, taps, p[k] + x - r);
      if (y < 2 * r + 1)
        continue;
      for (int k = 0; k < 3; k++)
        for (size_t t = 0; t < taps; t++)
          rows[k][t] = ring + ((size_t) k * taps + (yc - r + t) % taps) * w;
      for (x = halo; x + BLUR_PIXELS + halo <= w; x += BLUR_PIXELS)
        {
          tensor_8 v[3];
          for (int k = 0; k < 3; k++)
            v[k] = vblur8 (g, taps, rows[k], x);
          for (size_t i = 0; i < BLUR_PIXELS; i++)
            emit_features (o, yc - halo, x + i - halo, v[0].v[i / 4][i % 4],
                           v[1].v[i / 4][i % 4], v[2].v[i / 4][i % 4]);
        }
      for (; x + halo < w; x++)
        emit_features (o, yc - halo, x - halo, vblur1 (g, taps, rows[0], x),
                       vblur1 (g, taps, rows[1], x), vblur1 (g, taps, rows[2], x));
    }
}

/* The exact tensor of the pixel at row @y, column @x of the luma (the sums of
 * smoothed_tensor(), recomputed from the luma), handed to emit_features(). */
static void
exact_pixel (const tensor_job *j, const feature_out *o, const double *g, size_t y, size_t x)
{
  const size_t r = window_radius (j->c), halo = r + 1, taps = 2 * r + 1;
  float        hrow[3][2 * 8 + 1];
  double       v[3] = { 0.0, 0.0, 0.0 };

  for (size_t t = 0; t < taps; t++)
    {
      const float *row = j->luma + (ptrdiff_t) (y - r + t) * j->stride;
      double       acc[3] = { 0.0, 0.0, 0.0 };
      for (size_t u = 0; u < taps; u++)
        {
          float prod[3];
          pixel_products (row - j->stride, row, row + j->stride, x - r + u, prod);
          for (int k = 0; k < 3; k++)
            acc[k] += g[u] * (double) prod[k];
        }
      for (int k = 0; k < 3; k++)
        hrow[k][t] = (float) acc[k];
    }
  for (size_t t = 0; t < taps; t++)
    for (int k = 0; k < 3; k++)
      v[k] += g[t] * (double) hrow[k][t];
  emit_features (o, y - halo, x - halo, v[0], v[1], v[2]);
}

/* ---------------------------------------------------------------------------------------------
 * Classes from the tensor smoothed in float, eight pixels per vector (x86-64-v3 build): the
 * same ring of rows as smoothed_tensor(), in float instead of double (twice the pixels per
 * vector, no widening), and classes8() decides wherever the float tensor's error bound
 * allows; elsewhere exact_pixel().
 *
 * The bound. With u = 2^-24, nine-term float sums of weights (rounded to float) times values
 * err by at most about 10 u of the sum of the terms' magnitudes, twice (rows, then columns),
 * against one float rounding of the exact path's row sums: an entry of the tensor is within
 * 21 u T of the exact one, T the window sum of the products' magnitudes. For a and c the
 * products are gx^2 and gy^2 >= 0, so T is a or c itself; for b, |gx gy| <= (gx^2 + gy^2) / 2
 * gives T <= (a + c) / 2. So every entry lies within 21 u (a + c) = 1.3e-6 (a + c) of the
 * exact one; FAST_TENSOR_ERROR takes three times that. The bound holds while no product in
 * the window is subnormal, tiny or huge ("plain" rows: every product 0 or within
 * [PLAIN_MIN, PLAIN_MAX]) and no weight is below WEIGHT_MIN, where the float sums' nonzero
 * terms are normal floats and nothing overflows; rows that are not plain, and windows with
 * smaller weights (sigma below about 0.24), take the exact path. In a plain window a float
 * a + c of zero means every product gx^2 and gy^2 is zero, so |gx|, |gy| < 2^-75 and gx gy is
 * zero too (a plain row holds no subnormal): the exact tensor is zero and its class known.
 */
#define PLAIN_MIN  1e-30f
#define PLAIN_MAX  1e30f
#define WEIGHT_MIN 2e-4 /* the least term, WEIGHT_MIN^2 PLAIN_MIN, is a normal float */


static inline __attribute__ ((always_inline)) tensor_f8
load_f8 (const float *p)
{
  tensor_f8 v;
  memcpy (&v, p, sizeof v);
  return v;
}

/* Whether every product of a row (columns 1 .. w - 2 of the three planes, w >= 10) is 0 or
 * within [PLAIN_MIN, PLAIN_MAX] in magnitude (false for NaN); eight at a time, the last eight
 * overlapping. */
static inline __attribute__ ((always_inline)) int
row_plain (float *const *p, size_t w)
{
  const tensor_f8 lo = { PLAIN_MIN, PLAIN_MIN, PLAIN_MIN, PLAIN_MIN, PLAIN_MIN, PLAIN_MIN,
                         PLAIN_MIN, PLAIN_MIN };
  const tensor_f8 hi = { PLAIN_MAX, PLAIN_MAX, PLAIN_MAX, PLAIN_MAX, PLAIN_MAX, PLAIN_MAX,
                         PLAIN_MAX, PLAIN_MAX };
  tensor_i8       ok = { -1, -1, -1, -1, -1, -1, -1, -1 };

  for (int k = 0; k < 3; k++)
    for (size_t x = 1; x + 1 < w; x += BLUR_PIXELS)
      {
        const size_t    at = x + BLUR_PIXELS + 1 > w ? w - 1 - BLUR_PIXELS : x;
        const tensor_f8 v = (tensor_f8) ((tensor_i8) load_f8 (p[k] + at) & 0x7fffffff);
        ok &= (v == 0.0f) | ((v >= lo) & (v <= hi));
      }
  for (size_t i = 0; i < BLUR_PIXELS; i++)
    if (!ok[i])
      return 0;
  return 1;
}

/* sum_t g[t] p[k][t + i] for i < 8 and the three planes k, in float. */
static inline __attribute__ ((always_inline)) void
hblur_f8 (const float *g, size_t taps, float *const *p, size_t at, tensor_f8 *acc)
{
  for (int k = 0; k < 3; k++)
    acc[k] = (tensor_f8) { 0 };
  for (size_t t = 0; t < taps; t++)
    for (int k = 0; k < 3; k++)
      acc[k] += g[t] * load_f8 (p[k] + at + t);
}

/* sum_t g[t] rows[k][t][x + i] for i < 8 and the three planes k, in float. */
static inline __attribute__ ((always_inline)) void
vblur_f8 (const float *g, size_t taps, const float *(*rows)[2 * 8 + 1], size_t x,
          tensor_f8 *acc)
{
  for (int k = 0; k < 3; k++)
    acc[k] = (tensor_f8) { 0 };
  for (size_t t = 0; t < taps; t++)
    for (int k = 0; k < 3; k++)
      acc[k] += g[t] * load_f8 (rows[k][t] + x);
}

typedef uint16_t tensor_u8 __attribute__ ((vector_size (BLUR_PIXELS * sizeof (uint16_t))));

/* The classes of the eight pixels of luma row @y from column @x (@halo: the classifier's),
 * their float tensors @v: classes8()'s where it is sure, the zero tensor's where a + c is
 * zero, else exact_pixel(). */
static inline __attribute__ ((always_inline)) void
classes_f8 (const tensor_job *j, const feature_out *o, const class_limits *lim,
            uint16_t zero_class, const double *g, size_t halo, size_t y, size_t x,
            const tensor_f8 *v)
{
  uint16_t       *out = o->classes + (ptrdiff_t) (y - halo) * o->stride + (ptrdiff_t) (x - halo);
  const tensor_i8 zero = v[0] + v[2] == 0.0f;
  tensor_i8       cls, sure;
  tensor_u8       narrow;
  uint64_t        unsure[BLUR_PIXELS / 2];
  unsigned        exact = 0;

  classes8 (o->c, lim, v[0], v[1], v[2], &cls, &sure);
  cls = (zero & (int32_t) zero_class) | (~zero & cls);
  narrow = __builtin_convertvector (cls, tensor_u8);
  memcpy (out, &narrow, sizeof narrow);
  sure = ~(sure | zero);
  memcpy (unsure, &sure, sizeof unsure);
  if ((unsure[0] | unsure[1] | unsure[2] | unsure[3]) == 0) /* the usual case */
    return;
  sure = ~sure;
  for (size_t i = 0; i < BLUR_PIXELS; i++)
    exact |= (unsigned) !sure[i] << i;
  for (size_t i = 0; exact != 0; i++, exact >>= 1)
    if (exact & 1)
      exact_pixel (j, o, g, y, x + i);
}

/* Classes only, on the x86-64-v3 path: smoothed_tensor()'s ring of rows in float. Rows
 * narrower than a vector of pixels, with products that are not plain within the window, or
 * all rows when a weight is below WEIGHT_MIN, take exact_pixel(); the last vector of a row
 * overlaps the one before it. */
static inline __attribute__ ((always_inline)) void
fast_classes (const tensor_job *j, const feature_out *o, size_t r)
{
  const size_t halo = r + 1, taps = 2 * r + 1, w = j->w;
  const size_t last = w - halo - BLUR_PIXELS; /* the last vector's first pixel, if w allows */
  int          fast = w >= 2 * halo + BLUR_PIXELS;
  float       *p[3] = { j->work, j->work + w, j->work + 2 * w };
  float       *ring = j->work + 3 * w; /* plane k, slot i: ring + (k taps + i) w */
  const float *rows[3][2 * 8 + 1];
  double       g[2 * 8 + 1];
  float        gf[2 * 8 + 1];
  int          plain[2 * 8 + 1];
  class_limits lim;
  float        an, st, co;
  uint16_t     zero_class;

  window_weights (j->c, g);
  for (size_t t = 0; t < taps; t++)
    {
      gf[t] = (float) g[t];
      fast &= g[t] >= WEIGHT_MIN;
    }
  class_limits_init (j->c, &lim);
  tensor_features (0.0, 0.0, 0.0, &an, &st, &co);
  zero_class = class_of (j->c, an, st, co);
  for (size_t y = 1; y + 1 < j->h; y++)
    {
      const size_t yc = y - r; /* the row whose window ends at y */
      int          all_plain = 1;
      float       *q[3];
      for (int k = 0; k < 3; k++)
        q[k] = ring + ((size_t) k * taps + y % taps) * w;
      gradient_row (j, y, p[0], p[1], p[2]);
      plain[y % taps] = fast && row_plain (p, w);
      for (size_t x = halo; fast && x < w - halo; x = x < last && x + BLUR_PIXELS > last
                                                        ? last : x + BLUR_PIXELS)
        {
          tensor_f8 acc[3];
          hblur_f8 (gf, taps, p, x - r, acc);
          for (int k = 0; k < 3; k++)
            memcpy (q[k] + x, &acc[k], sizeof acc[k]);
        }
      if (y < 2 * r + 1)
        continue;
      for (size_t t = 0; t < taps; t++)
        all_plain &= plain[t];
      if (!all_plain)
        {
          for (size_t x = halo; x + halo < w; x++)
            exact_pixel (j, o, g, yc, x);
          continue;
        }
      for (int k = 0; k < 3; k++)
        for (size_t t = 0; t < taps; t++)
          rows[k][t] = ring + ((size_t) k * taps + (yc - r + t) % taps) * w;
      for (size_t x = halo; x < w - halo; x = x < last && x + BLUR_PIXELS > last
                                                  ? last : x + BLUR_PIXELS)
        {
          tensor_f8 v[3];
          vblur_f8 (gf, taps, rows, x, v);
          classes_f8 (j, o, &lim, zero_class, g, halo, yc, x, v);
        }
    }
}

static void
smoothed_tensor_portable (const tensor_job *j, const feature_out *o)
{
  smoothed_tensor (j, o);
}

#ifdef TCONV_HAVE_CLONES
TCONV_TARGET_V3 static void
smoothed_tensor_v3 (const tensor_job *j, const feature_out *o)
{
  smoothed_tensor (j, o);
}

/* The shipped banks' sigma of 2 (radius 4) unrolled. */
TCONV_TARGET_V3 static void
fast_classes_v3 (const tensor_job *j, const feature_out *o)
{
  if (window_radius (j->c) == 4)
    fast_classes (j, o, 4);
  else
    fast_classes (j, o, window_radius (j->c));
}
#endif

/* Features take the exact path; classes alone, on the x86-64-v3 path, fast_classes(). */
static void
run_tensor (const tensor_job *j, const feature_out *o)
{
#ifdef TCONV_HAVE_CLONES
  if (tconv_cpu_paths () & TCONV_CPU_CLONES)
    {
      if (o->angle == NULL && o->strength == NULL && o->coherence == NULL)
        fast_classes_v3 (j, o);
      else
        smoothed_tensor_v3 (j, o);
      return;
    }
#endif
  smoothed_tensor_portable (j, o);
}

static tconv_status
check_classify_args (const tconv_bank_classifier *c, const float *luma, size_t h, size_t w,
                     ptrdiff_t stride, const void *out, const float *work, size_t work_len,
                     tconv_error *err)
{
  size_t       need, halo;
  tconv_status st;

  if ((st = tconv_bank_work_len (c, h, w, &need, err)))
    return st;
  halo = tconv_bank_halo (c);
  if (luma == NULL || out == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank classify: luma or output is NULL");
  if (h <= 2 * halo || w <= 2 * halo)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank classify: luma of %zu x %zu: must exceed the halo of %zu pixels "
                       "on each side", h, w, halo);
  if (stride < (ptrdiff_t) w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank classify: luma stride %td: must be at least the width %zu", stride,
                       w);
  if (work == NULL || work_len < need)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank classify: work of %zu floats: needs %zu", work == NULL ? 0 : work_len,
                       need);
  return TCONV_OK;
}

tconv_status
tconv_bank_features (const tconv_bank_classifier *classifier, const float *luma, size_t h,
                     size_t w, ptrdiff_t stride, float *angle, float *strength, float *coherence,
                     ptrdiff_t out_stride, float *work, size_t work_len, tconv_error *err)
{
  const void  *any = angle != NULL ? (void *) angle
                     : strength != NULL ? (void *) strength : (void *) coherence;
  tconv_status st = check_classify_args (classifier, luma, h, w, stride, any, work, work_len,
                                         err);
  tensor_job   job = { classifier, luma, h, w, stride, work };
  feature_out  out = { angle, strength, coherence, NULL, out_stride, classifier };

  if (st)
    return st;
  if (out_stride < (ptrdiff_t) (w - 2 * tconv_bank_halo (classifier)))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank features: output stride %td is shorter than a row", out_stride);
  run_tensor (&job, &out);
  return TCONV_OK;
}

tconv_status
tconv_bank_classify (const tconv_bank_classifier *classifier, const float *luma, size_t h,
                     size_t w, ptrdiff_t stride, uint16_t *classes, ptrdiff_t out_stride,
                     float *work, size_t work_len, tconv_error *err)
{
  tconv_status st = check_classify_args (classifier, luma, h, w, stride, classes, work,
                                         work_len, err);
  tensor_job   job = { classifier, luma, h, w, stride, work };
  feature_out  out = { NULL, NULL, NULL, classes, out_stride, classifier };

  if (st)
    return st;
  if (out_stride < (ptrdiff_t) (w - 2 * tconv_bank_halo (classifier)))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank classify: output stride %td is shorter than a row", out_stride);
  run_tensor (&job, &out);
  return TCONV_OK;
}

tconv_status
tconv_bank_luma (const tconv_in_view *in, size_t channels, float *luma, ptrdiff_t luma_stride,
                 tconv_error *err)
{
  if (in == NULL || in->data == NULL || luma == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank luma: a pointer is NULL");
  if (channels < 1 || channels > 4)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank luma: %zu channels: must be 1..4", channels);
  if (luma_stride < (ptrdiff_t) in->w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank luma: stride %td: must be at least the width %zu", luma_stride,
                       in->w);
  for (size_t y = 0; y < in->h; y++)
    for (size_t x = 0; x < in->w; x++)
      {
        const float *px = in->data + (ptrdiff_t) y * in->y_stride + (ptrdiff_t) x * in->x_stride;
        float        v;
        if (channels >= 3)
          v = 0.299f * px[0] + 0.587f * px[in->c_stride] + 0.114f * px[2 * in->c_stride];
        else
          v = px[0];
        luma[(ptrdiff_t) y * luma_stride + (ptrdiff_t) x] = v;
      }
  return TCONV_OK;
}
