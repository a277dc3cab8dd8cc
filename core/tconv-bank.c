/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernel banks: lifetime, validation, luma and the structure-tensor classifier
 * (tconv-bank.h). The classifier is in the exact list of core/meson.build (no contraction), so a
 * pixel's class is the same on every machine and in every band. */
#include "tconv-bank.h"
#include "tconv-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PHASE_SUM_TOL 1e-6
#define PI_D          3.14159265358979323846

/* ---------------------------------------------------------------------------------------------
 * Classifier
 */

static tconv_status
check_thresholds (const double *t, size_t n, double hi, const char *what, tconv_error *err)
{
  for (size_t i = 0; i < n; i++)
    {
      if (!isfinite (t[i]) || t[i] < 0.0 || t[i] > hi)
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "%s threshold %zu (%g): must be finite and in [0, %g]", what, i + 1,
                           t[i], hi);
      if (i > 0 && !(t[i] > t[i - 1]))
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "%s thresholds %zu and %zu (%g, %g): must be strictly increasing",
                           what, i, i + 1, t[i - 1], t[i]);
    }
  return TCONV_OK;
}

tconv_status
tconv_bank_classifier_validate (const tconv_bank_classifier *c, tconv_error *err)
{
  const size_t bins[3] = { c != NULL ? c->angles : 0, c != NULL ? c->strengths : 0,
                           c != NULL ? c->coherences : 0 };
  static const char *const names[3] = { "angles", "strengths", "coherences" };
  tconv_status st;

  if (c == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank classifier is NULL");
  for (int i = 0; i < 3; i++)
    if (bins[i] < 1 || bins[i] > TCONV_BANK_MAX_BINS)
      return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s %zu: must be 1..%u", names[i],
                         bins[i], TCONV_BANK_MAX_BINS);
  if (bins[0] * bins[1] * bins[2] > TCONV_BANK_MAX_CLASSES)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "classes %zu x %zu x %zu = %zu: at most %u", bins[0], bins[1], bins[2],
                       bins[0] * bins[1] * bins[2], TCONV_BANK_MAX_CLASSES);
  if (!(c->sigma > 0.0 && c->sigma <= TCONV_BANK_MAX_SIGMA))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "window sigma %g: must be in (0, %g]", c->sigma, TCONV_BANK_MAX_SIGMA);
  if ((st = check_thresholds (c->strength_thresholds, c->strengths - 1, HUGE_VAL, "strength",
                              err)))
    return st;
  return check_thresholds (c->coherence_thresholds, c->coherences - 1, 1.0, "coherence", err);
}

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
  /* Three structure-tensor planes and their horizontally smoothed copies. */
  if (!tconv_mul3_size (h, w, 6, work_len) || *work_len > SIZE_MAX / sizeof (float))
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

/* Gradient products at every pixel but the outermost ring (planes of h x w floats). */
static void
gradient_products (const tensor_job *j, float *ga, float *gb, float *gc)
{
  for (size_t y = 1; y + 1 < j->h; y++)
    {
      const float *row = j->luma + (ptrdiff_t) y * j->stride;
      const float *up = row - j->stride, *down = row + j->stride;
      for (size_t x = 1; x + 1 < j->w; x++)
        {
          float gx = (row[x + 1] - row[x - 1]) * 0.5f;
          float gy = (down[x] - up[x]) * 0.5f;
          ga[y * j->w + x] = gx * gx;
          gb[y * j->w + x] = gx * gy;
          gc[y * j->w + x] = gy * gy;
        }
    }
}

/* Two doubles as one value (GCC and clang vector extension; SSE2's registers), four of them
 * for eight pixels at once, for the two blurs. This file is compiled for the baseline only,
 * where nothing contracts a multiply and an add into one FMA, so each lane rounds exactly as
 * a scalar loop would: the classes, and the presets trained on them, do not depend on it. */
typedef double tensor_v2 __attribute__ ((vector_size (2 * sizeof (double))));
typedef float  tensor_f2 __attribute__ ((vector_size (2 * sizeof (float))));
#define BLUR_PIXELS 8

/* sum_t g[t] p[t * step + i], in double, from 0 in the order of t, for i < 8, into @out. */
static inline void
blur8 (const double *g, size_t taps, const float *p, size_t step, double *out)
{
  tensor_v2 acc[BLUR_PIXELS / 2];

  for (size_t v = 0; v < BLUR_PIXELS / 2; v++)
    acc[v] = (tensor_v2) { 0.0, 0.0 };
  for (size_t t = 0; t < taps; t++)
    for (size_t v = 0; v < BLUR_PIXELS / 2; v++)
      {
        tensor_f2 f;
        memcpy (&f, p + t * step + 2 * v, sizeof f);
        acc[v] += g[t] * __builtin_convertvector (f, tensor_v2);
      }
  memcpy (out, acc, sizeof acc);
}

static inline double
blur1 (const double *g, size_t taps, const float *p, size_t step)
{
  double acc = 0.0;
  for (size_t t = 0; t < taps; t++)
    acc += g[t] * (double) p[t * step];
  return acc;
}

typedef void (*emit_fn) (void *ctx, size_t y, size_t x, double a, double b, double c);

/* Shared by features and classes: smoothed tensor of each interior pixel, handed to @emit.
 * Eight pixels at a time, the rest of a row one by one, with the same sums. */
static void
smoothed_tensor (const tensor_job *j, emit_fn emit, void *ctx)
{
  const size_t r = window_radius (j->c), halo = r + 1, n = j->h * j->w, taps = 2 * r + 1;
  const size_t w = j->w;
  float       *p[3] = { j->work, j->work + n, j->work + 2 * n };
  float       *q[3] = { j->work + 3 * n, j->work + 4 * n, j->work + 5 * n };
  double       g[2 * 8 + 1], sum = 0.0;

  for (size_t t = 0; t < taps; t++)
    {
      double d = (double) t - (double) r;
      g[t] = exp (-d * d / (2.0 * j->c->sigma * j->c->sigma));
      sum += g[t];
    }
  for (size_t t = 0; t < taps; t++)
    g[t] /= sum;

  gradient_products (j, p[0], p[1], p[2]);
  for (size_t y = 1; y + 1 < j->h; y++)
    {
      size_t x = halo;
      for (; x + BLUR_PIXELS + halo <= w; x += BLUR_PIXELS)
        for (int k = 0; k < 3; k++)
          {
            double acc[BLUR_PIXELS];
            blur8 (g, taps, p[k] + y * w + x - r, 1, acc);
            for (size_t i = 0; i < BLUR_PIXELS; i++)
              q[k][y * w + x + i] = (float) acc[i];
          }
      for (; x + halo < w; x++)
        for (int k = 0; k < 3; k++)
          q[k][y * w + x] = (float) blur1 (g, taps, p[k] + y * w + x - r, 1);
    }
  for (size_t y = halo; y + halo < j->h; y++)
    {
      size_t x = halo;
      for (; x + BLUR_PIXELS + halo <= w; x += BLUR_PIXELS)
        {
          double v[3][BLUR_PIXELS];
          for (int k = 0; k < 3; k++)
            blur8 (g, taps, q[k] + (y - r) * w + x, w, v[k]);
          for (size_t i = 0; i < BLUR_PIXELS; i++)
            emit (ctx, y - halo, x + i - halo, v[0][i], v[1][i], v[2][i]);
        }
      for (; x + halo < w; x++)
        emit (ctx, y - halo, x - halo, blur1 (g, taps, q[0] + (y - r) * w + x, w),
              blur1 (g, taps, q[1] + (y - r) * w + x, w),
              blur1 (g, taps, q[2] + (y - r) * w + x, w));
    }
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

typedef struct feature_out
{
  float    *angle, *strength, *coherence;
  uint16_t *classes;
  ptrdiff_t stride;
  const tconv_bank_classifier *c;
} feature_out;

static void
emit_features (void *ctx, size_t y, size_t x, double a, double b, double c)
{
  feature_out *o = ctx;
  ptrdiff_t    at = (ptrdiff_t) y * o->stride + (ptrdiff_t) x;
  float        an, st, co;

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
  smoothed_tensor (&job, emit_features, &out);
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
  smoothed_tensor (&job, emit_features, &out);
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

/* ---------------------------------------------------------------------------------------------
 * Banks
 */

static tconv_status
check_bank_geometry (const tconv_kernel *g, tconv_error *err)
{
  tconv_status st;

  if (g == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank: global kernel is NULL");
  if ((st = tconv_kernel_validate (g, err)))
    return st;
  if (g->stride_h != g->stride_w || g->stride_h < 2)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank stride %zu x %zu: must be square and at least 2", g->stride_h,
                       g->stride_w);
  if (g->k_h + g->opad_h != 2 * g->pad_h + g->stride_h
      || g->k_w + g->opad_w != 2 * g->pad_w + g->stride_w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank geometry size %zu x %zu, padding %zu x %zu, output padding "
                       "%zu x %zu: must give exactly stride-times output (k + opad - 2 pad = s)",
                       g->k_h, g->k_w, g->pad_h, g->pad_w, g->opad_h, g->opad_w);
  if (g->channels != 1 || g->bias != NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank kernels: one channel and no bias (found %zu channels%s)",
                       g->channels, g->bias != NULL ? " and a bias" : "");
  return TCONV_OK;
}

tconv_status
tconv_bank_new (const tconv_kernel *global, const tconv_bank_classifier *classifier,
                tconv_bank **bank, tconv_error *err)
{
  tconv_bank  *b;
  size_t       classes, plane, n;
  tconv_status st;

  if (bank == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank_new: bank is NULL");
  if ((st = check_bank_geometry (global, err)) || (st = tconv_bank_classifier_validate (classifier, err)))
    return st;
  classes = classifier->angles * classifier->strengths * classifier->coherences;
  plane = global->k_h * global->k_w;
  n = classes * plane; /* at most 4096 * 65536: fits */
  b = calloc (1, sizeof *b);
  if (b == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank_new: out of memory");
  b->classifier = *classifier;
  b->classes = classes;
  b->weights = malloc (n * sizeof (float));
  b->fallback = calloc (classes, 1);
  b->samples = calloc (classes, sizeof (uint64_t));
  if (b->weights == NULL || b->fallback == NULL || b->samples == NULL
      || tconv_kernel_copy (global, &b->global, err) != TCONV_OK)
    {
      tconv_bank_free (b);
      return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank_new: out of memory");
    }
  for (size_t c = 0; c < classes; c++)
    memcpy (b->weights + c * plane, global->weights, plane * sizeof (float));
  *bank = b;
  return TCONV_OK;
}

void
tconv_bank_free (tconv_bank *bank)
{
  if (bank == NULL)
    return;
  tconv_kernel_free (bank->global);
  free (bank->weights);
  free (bank->fallback);
  free (bank->samples);
  free (bank);
}

const float *
tconv_bank_class_weights (const tconv_bank *bank, size_t class_index)
{
  if (bank == NULL || class_index >= bank->classes)
    return NULL;
  return bank->weights + class_index * bank->global->k_h * bank->global->k_w;
}

/* Every phase of @w (one k_h x k_w kernel of stride s) sums to 1. */
static tconv_status
check_phase_sums (const tconv_kernel *g, const float *w, const char *what, size_t index,
                  tconv_error *err)
{
  const size_t s = g->stride_h;

  for (size_t ry = 0; ry < s; ry++)
    for (size_t rx = 0; rx < s; rx++)
      {
        double sum = 0.0;
        for (size_t y = ry; y < g->k_h; y += s)
          for (size_t x = rx; x < g->k_w; x += s)
            sum += (double) w[y * g->k_w + x];
        if (!(fabs (sum - 1.0) <= PHASE_SUM_TOL))
          return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                             "%s %zu, phase (%zu, %zu): taps sum to %.9g; every phase must sum "
                             "to 1 within %g so that flat areas stay flat",
                             what, index, ry, rx, sum, PHASE_SUM_TOL);
      }
  return TCONV_OK;
}

tconv_status
tconv_bank_check_class (const tconv_bank *bank, size_t c, tconv_error *err)
{
  const size_t plane = bank->global->k_h * bank->global->k_w;
  const float *w = bank->weights + c * plane;

  for (size_t i = 0; i < plane; i++)
    if (!isfinite (w[i]))
      return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "class %zu, weight %zu: not finite",
                         c, i);
  if (bank->fallback[c] > 1)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "class %zu: fallback flag %u must be 0 or 1", c, bank->fallback[c]);
  if (bank->fallback[c] && memcmp (w, bank->global->weights, plane * sizeof (float)) != 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "class %zu is marked fallback but its weights differ from the global "
                       "kernel's", c);
  return check_phase_sums (bank->global, w, "class", c, err);
}

tconv_status
tconv_bank_validate (const tconv_bank *bank, tconv_error *err)
{
  tconv_status st;

  if (bank == NULL || bank->weights == NULL || bank->fallback == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank or its arrays are NULL");
  if ((st = check_bank_geometry (bank->global, err))
      || (st = tconv_bank_classifier_validate (&bank->classifier, err)))
    return st;
  if (bank->classes != bank->classifier.angles * bank->classifier.strengths
                        * bank->classifier.coherences)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank of %zu classes: the classifier makes %zu", bank->classes,
                       bank->classifier.angles * bank->classifier.strengths
                         * bank->classifier.coherences);
  if ((st = check_phase_sums (bank->global, bank->global->weights, "global kernel", 0, err)))
    return st;
  for (size_t c = 0; c < bank->classes; c++)
    if ((st = tconv_bank_check_class (bank, c, err)))
      return st;
  return TCONV_OK;
}
