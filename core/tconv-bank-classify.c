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

/* Gradient products of row @y at every pixel but the first and last (rows of w floats). */
static inline __attribute__ ((always_inline)) void
gradient_row (const tensor_job *j, size_t y, float *restrict ga, float *restrict gb,
              float *restrict gc)
{
  const float *restrict row = j->luma + (ptrdiff_t) y * j->stride;
  const float *restrict up = row - j->stride, *restrict down = row + j->stride;

  for (size_t x = 1; x + 1 < j->w; x++)
    {
      float gx = (row[x + 1] - row[x - 1]) * 0.5f;
      float gy = (down[x] - up[x]) * 0.5f;
      ga[x] = gx * gx;
      gb[x] = gx * gy;
      gc[x] = gy * gy;
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
 * The classes of eight pixels at once, each the class class_of() gives to the features of
 * tensor_features(), with one square root and one division per pixel instead of three and
 * four. Both eigenvalues l1 >= l2 come from the same operations as in tensor_features(); then
 * - strength: the bin test fl32 (sqrt (l1)) >= T is monotone in l1, so it is l1 >= L with L
 *   the least double passing it (found once per call by bisection on the bit patterns): exact.
 * - coherence: q = (sqrt l1 - sqrt l2) / (sqrt l1 + sqrt l2) falls as rho = l2 / l1 rises, and
 *   q >= C exactly when rho <= K = ((1 - C) / (1 + C))^2; |q - C| >= |K - rho| / 4. Where
 *   |K l1 - l2| > COHERENCE_MARGIN l1, q lies more than 2.5e-6 from C, far beyond the float
 *   rounding of the exact path's q (6e-8) and its double arithmetic (1e-15): the test decides.
 * - angle: a polynomial arctangent, trusted where its position in bins lies at least
 *   ANGLE_MARGIN from a bin boundary. The position's error is below 1e-5 bins for up to 64
 *   bins: the polynomial's 1.3e-7 radians, plus the float rounding of the exact angle,
 *   2^-24 pi, times 64 / pi, plus a few double roundings.
 * Other pixels (near a boundary, l1 <= 0, a zero or non-finite tensor) take emit_features(),
 * so every class is class_of()'s.
 */
#define ANGLE_MARGIN     1e-4
#define COHERENCE_MARGIN 1e-5

typedef int64_t tensor_m4 __attribute__ ((vector_size (4 * sizeof (int64_t)))); /* -1: true */
typedef int32_t tensor_i4 __attribute__ ((vector_size (4 * sizeof (int32_t))));

/* The classifier's thresholds as tests on l1 and l2 (above). */
typedef struct class_limits
{
  double l1_min[TCONV_BANK_MAX_BINS - 1]; /* strength bin t + 1 from l1 >= l1_min[t] */
  double rho_max[TCONV_BANK_MAX_BINS - 1]; /* coherence bin t + 1 from l2 <= rho_max[t] l1 */
  double angle_scale;                      /* bins per radian */
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
    lim->l1_min[t] = least_l1 (cl->strength_thresholds[t]);
  for (size_t t = 0; t + 1 < cl->coherences; t++)
    {
      const double c = cl->coherence_thresholds[t], r = (1.0 - c) / (1.0 + c);
      lim->rho_max[t] = r * r;
    }
  lim->angle_scale = (double) cl->angles / PI_D;
}

static inline __attribute__ ((always_inline)) tensor_v4
splat4 (double v)
{
  return (tensor_v4) { v, v, v, v };
}

static inline __attribute__ ((always_inline)) tensor_v4
select4 (tensor_m4 m, tensor_v4 a, tensor_v4 b)
{
  return (tensor_v4) ((m & (tensor_m4) a) | (~m & (tensor_m4) b));
}

/* Lane by lane (one vector instruction where the target has it). */
static inline __attribute__ ((always_inline)) tensor_v4
sqrt4 (tensor_v4 v)
{
  for (int i = 0; i < 4; i++)
    v[i] = sqrt (v[i]);
  return v;
}

static inline __attribute__ ((always_inline)) tensor_v4
abs4 (tensor_v4 v)
{
  return (tensor_v4) ((tensor_m4) v & ~(tensor_m4) splat4 (-0.0));
}

/* atan (z) for |z| <= tan (pi / 8): its Taylor series to z^13, an alternating series whose
 * error is below the first term left out, 0.4143^15 / 15 < 1.3e-7. */
static inline __attribute__ ((always_inline)) tensor_v4
atan_small4 (tensor_v4 z)
{
  const tensor_v4 z2 = z * z;
  tensor_v4       r = splat4 (1.0 / 13);
  r = splat4 (-1.0 / 11) + z2 * r;
  r = splat4 (1.0 / 9) + z2 * r;
  r = splat4 (-1.0 / 7) + z2 * r;
  r = splat4 (1.0 / 5) + z2 * r;
  r = splat4 (-1.0 / 3) + z2 * r;
  return z * (splat4 (1.0) + z2 * r);
}

/* Position of 0.5 atan2 (y, x), mapped into [0, pi), in bins of 1 / @scale radians; NaN when
 * x = y = 0. With t = min / max of |x| and |y|, atan t directly, or pi / 4 + atan ((t - 1) /
 * (t + 1)) where t > tan (pi / 8): one division either way. */
static inline __attribute__ ((always_inline)) tensor_v4
angle_position4 (tensor_v4 y, tensor_v4 x, double scale)
{
  const tensor_v4 zero = splat4 (0.0), ax = abs4 (x), ay = abs4 (y);
  const tensor_m4 steep = ay > ax;
  const tensor_v4 mn = select4 (steep, ax, ay), mx = select4 (steep, ay, ax);
  const tensor_m4 big = mn > splat4 (0.41421356237309503) * mx; /* tan (pi / 8) */
  const tensor_v4 z = select4 (big, mn - mx, mn) / select4 (big, mn + mx, mx);
  tensor_v4       r = select4 (big, splat4 (PI_D / 4), zero) + atan_small4 (z);

  r = select4 (steep, splat4 (PI_D / 2) - r, r);
  r = select4 (x < zero, splat4 (PI_D) - r, r);
  r = splat4 (0.5) * select4 (y < zero, -r, r);
  return select4 (r < zero, r + splat4 (PI_D), r) * splat4 (scale);
}

/* Four pixels' classes into @cls, with @sure false (0) where the exact path must decide. */
static inline __attribute__ ((always_inline)) void
classes4 (const tconv_bank_classifier *cl, const class_limits *lim, tensor_v4 a, tensor_v4 b,
          tensor_v4 c, int32_t *cls, int64_t *sure)
{
  const tensor_v4 zero = splat4 (0.0), half_tr = splat4 (0.5) * (a + c);
  const tensor_v4 d = splat4 (0.5) * (a - c), root = sqrt4 (d * d + b * b);
  const tensor_v4 l1 = half_tr + root, l2 = half_tr - root;
  const tensor_v4 l2p = select4 (l2 > zero, l2, zero);
  const tensor_v4 p = angle_position4 (splat4 (2.0) * b, a - c, lim->angle_scale);
  /* p is in [0, angles] or NaN; NaN becomes 0 before the conversion, whose result would
   * be undefined, and stays NaN in frac */
  const tensor_i4 bin = __builtin_convertvector (select4 (p >= zero, p, zero), tensor_i4);
  const tensor_v4 frac = p - __builtin_convertvector (bin, tensor_v4);
  /* false for NaN, hence for a zero or non-finite tensor */
  tensor_m4       ok = (frac >= splat4 (ANGLE_MARGIN)) & (frac <= splat4 (1.0 - ANGLE_MARGIN))
                       & (l1 > zero);
  tensor_i4       k = bin * (int32_t) cl->strengths;

  for (size_t t = 0; t + 1 < cl->strengths; t++)
    k -= __builtin_convertvector (l1 >= splat4 (lim->l1_min[t]), tensor_i4);
  k *= (int32_t) cl->coherences;
  for (size_t t = 0; t + 1 < cl->coherences; t++)
    {
      const tensor_v4 e = splat4 (lim->rho_max[t]) * l1 - l2p;
      k -= __builtin_convertvector (e >= zero, tensor_i4);
      ok &= abs4 (e) > splat4 (COHERENCE_MARGIN) * l1;
    }
  memcpy (cls, &k, sizeof k);
  memcpy (sure, &ok, sizeof ok);
}

static inline __attribute__ ((always_inline)) void
classes8 (const feature_out *o, const class_limits *lim, size_t y, size_t x, const tensor_8 *a,
          const tensor_8 *b, const tensor_8 *c)
{
  uint16_t *out = o->classes + (ptrdiff_t) y * o->stride + (ptrdiff_t) x;
  int32_t   cls[BLUR_PIXELS];
  int64_t   sure[BLUR_PIXELS];

  for (size_t v = 0; v < BLUR_PIXELS / 4; v++)
    classes4 (o->c, lim, a->v[v], b->v[v], c->v[v], cls + 4 * v, sure + 4 * v);
  for (size_t i = 0; i < BLUR_PIXELS; i++)
    if (sure[i])
      out[i] = (uint16_t) cls[i];
    else
      emit_features (o, y, x + i, a->v[i / 4][i % 4], b->v[i / 4][i % 4], c->v[i / 4][i % 4]);
}

/* Shared by features and classes: smoothed tensor of each interior pixel, handed to
 * emit_features() or, for classes only and with @vector_classes, to classes8() (in the
 * baseline build its four-double vectors would go through memory). Down the rows: each row's
 * gradient products are smoothed horizontally into a ring of 2 r + 1 rows, and once the ring
 * holds a pixel's window, vertically; the work stays in cache whatever the height. Eight
 * pixels at a time, the rest of a row one by one, with the same sums. */
static inline __attribute__ ((always_inline)) void
smoothed_tensor (const tensor_job *j, const feature_out *o, int vector_classes)
{
  const size_t r = window_radius (j->c), halo = r + 1, taps = 2 * r + 1, w = j->w;
  const int    only_classes = vector_classes && o->angle == NULL && o->strength == NULL
                              && o->coherence == NULL;
  float       *p[3] = { j->work, j->work + w, j->work + 2 * w };
  float       *ring = j->work + 3 * w; /* plane k, slot i: ring + (k taps + i) w */
  const float *rows[3][2 * 8 + 1];
  double       g[2 * 8 + 1], sum = 0.0;
  class_limits lim;

  if (only_classes)
    class_limits_init (j->c, &lim);
  for (size_t t = 0; t < taps; t++)
    {
      double d = (double) t - (double) r;
      g[t] = exp (-d * d / (2.0 * j->c->sigma * j->c->sigma));
      sum += g[t];
    }
  for (size_t t = 0; t < taps; t++)
    g[t] /= sum;

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
          if (only_classes)
            classes8 (o, &lim, yc - halo, x - halo, &v[0], &v[1], &v[2]);
          else
            for (size_t i = 0; i < BLUR_PIXELS; i++)
              emit_features (o, yc - halo, x + i - halo, v[0].v[i / 4][i % 4],
                             v[1].v[i / 4][i % 4], v[2].v[i / 4][i % 4]);
        }
      for (; x + halo < w; x++)
        emit_features (o, yc - halo, x - halo, vblur1 (g, taps, rows[0], x),
                       vblur1 (g, taps, rows[1], x), vblur1 (g, taps, rows[2], x));
    }
}

static void
smoothed_tensor_portable (const tensor_job *j, const feature_out *o)
{
  smoothed_tensor (j, o, 0);
}

#ifdef TCONV_HAVE_CLONES
TCONV_TARGET_V3 static void
smoothed_tensor_v3 (const tensor_job *j, const feature_out *o)
{
  smoothed_tensor (j, o, 1);
}
#endif

static void
run_tensor (const tensor_job *j, const feature_out *o)
{
#ifdef TCONV_HAVE_CLONES
  if (tconv_cpu_paths () & TCONV_CPU_CLONES)
    {
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
