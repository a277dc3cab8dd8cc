/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training kernel banks in closed form (tconv-bank.h): per class normal equations, a ridge
 * towards the global filter, every phase constrained to sum to 1. Single-threaded, double
 * accumulation in a fixed order: the same pairs always give the same bytes. */
#include "tconv-bank.h"
#include "tconv-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RADIUS 8u

struct tconv_bank_lsq
{
  tconv_bank_classifier cls;
  size_t                s, r, side, m, phases, classes;
  double               *gram;   /* classes x m x m (upper triangle filled) */
  double               *cross;  /* classes x phases x m */
  double               *sum_x;  /* classes x m */
  double               *sum_yy; /* classes x phases */
  uint64_t             *count;  /* classes */
  /* Scratch of the last pair, grown as needed. */
  float                *luma, *work;
  uint16_t             *map;
  size_t                luma_cap, work_cap, map_cap;
};

tconv_status
tconv_bank_lsq_new (const tconv_bank_classifier *classifier, size_t stride, size_t radius,
                    tconv_bank_lsq **lsq, tconv_error *err)
{
  tconv_bank_lsq *l;
  tconv_status    st;

  if (lsq == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank learner: lsq is NULL");
  if ((st = tconv_bank_classifier_validate (classifier, err)))
    return st;
  if (stride < 2 || stride > 8 || radius < 1 || radius > MAX_RADIUS)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank learner: stride %zu, radius %zu: must be 2..8 and 1..%u", stride,
                       radius, MAX_RADIUS);
  l = calloc (1, sizeof *l);
  if (l == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank learner: out of memory");
  l->cls = *classifier;
  l->s = stride;
  l->r = radius;
  l->side = 2 * radius + 1;
  l->m = l->side * l->side;
  l->phases = stride * stride;
  l->classes = classifier->angles * classifier->strengths * classifier->coherences;
  /* At most 4096 classes x 289^2 doubles: checked sizes are not needed below 2^40. */
  l->gram = calloc (l->classes * l->m * l->m, sizeof (double));
  l->cross = calloc (l->classes * l->phases * l->m, sizeof (double));
  l->sum_x = calloc (l->classes * l->m, sizeof (double));
  l->sum_yy = calloc (l->classes * l->phases, sizeof (double));
  l->count = calloc (l->classes, sizeof (uint64_t));
  if (l->gram == NULL || l->cross == NULL || l->sum_x == NULL || l->sum_yy == NULL
      || l->count == NULL)
    {
      tconv_bank_lsq_free (l);
      return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank learner: out of memory");
    }
  *lsq = l;
  return TCONV_OK;
}

void
tconv_bank_lsq_free (tconv_bank_lsq *l)
{
  if (l == NULL)
    return;
  free (l->gram), free (l->cross), free (l->sum_x), free (l->sum_yy), free (l->count);
  free (l->luma), free (l->work), free (l->map);
  free (l);
}

static bool
grow (void **p, size_t *cap, size_t need, size_t elem)
{
  void *q;
  if (need <= *cap)
    return true;
  q = realloc (*p, need * elem);
  if (q == NULL)
    return false;
  *p = q;
  *cap = need;
  return true;
}

/* One of the 8 rotations and reflections of a plane, as a view: transpose when @t & 4, then
 * flip rows when @t & 2, columns when @t & 1. */
static tconv_plane
dihedral (const tconv_plane *p, unsigned t)
{
  tconv_plane v = *p;
  if (t & 4)
    {
      v.h = p->w, v.w = p->h;
      v.y_stride = p->x_stride, v.x_stride = p->y_stride;
    }
  if (t & 2)
    {
      v.data += (ptrdiff_t) (v.h - 1) * v.y_stride;
      v.y_stride = -v.y_stride;
    }
  if (t & 1)
    {
      v.data += (ptrdiff_t) (v.w - 1) * v.x_stride;
      v.x_stride = -v.x_stride;
    }
  return v;
}

/* Adds one sample: window @x (m values) of class @c, high-resolution block at @hr0. */
static void
add_sample (tconv_bank_lsq *l, size_t c, const double *x, const tconv_plane *hr,
            const float *hr0)
{
  double *g = l->gram + c * l->m * l->m, *b = l->cross + c * l->phases * l->m;

  for (size_t i = 0; i < l->m; i++)
    {
      const double xi = x[i];
      double      *gi = g + i * l->m;
      for (size_t j = i; j < l->m; j++)
        gi[j] += xi * x[j];
      l->sum_x[c * l->m + i] += xi;
    }
  for (size_t py = 0; py < l->s; py++)
    for (size_t px = 0; px < l->s; px++)
      {
        const double y = hr0[(ptrdiff_t) py * hr->y_stride + (ptrdiff_t) px * hr->x_stride];
        double      *bp = b + (py * l->s + px) * l->m;
        for (size_t i = 0; i < l->m; i++)
          bp[i] += x[i] * y;
        l->sum_yy[c * l->phases + py * l->s + px] += y * y;
      }
  l->count[c]++;
}

static tconv_status
add_view (tconv_bank_lsq *l, const tconv_plane *lr, const tconv_plane *hr, tconv_error *err)
{
  const size_t h = lr->h, w = lr->w, halo = tconv_bank_halo (&l->cls);
  const size_t margin = halo > l->r ? halo : l->r;
  size_t       need, cw;
  double       x[(2 * MAX_RADIUS + 1) * (2 * MAX_RADIUS + 1)];
  tconv_status st;

  if (h <= 2 * margin || w <= 2 * margin)
    return TCONV_OK; /* too small to hold a sample */
  if ((st = tconv_bank_work_len (&l->cls, h, w, &need, err)))
    return st;
  cw = w - 2 * halo;
  if (!grow ((void **) &l->luma, &l->luma_cap, h * w, sizeof (float))
      || !grow ((void **) &l->work, &l->work_cap, need, sizeof (float))
      || !grow ((void **) &l->map, &l->map_cap, (h - 2 * halo) * cw, sizeof (uint16_t)))
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank learner: out of memory");
  for (size_t y = 0; y < h; y++)
    for (size_t x0 = 0; x0 < w; x0++)
      l->luma[y * w + x0] = lr->data[(ptrdiff_t) y * lr->y_stride + (ptrdiff_t) x0 * lr->x_stride];
  if ((st = tconv_bank_classify (&l->cls, l->luma, h, w, (ptrdiff_t) w, l->map, (ptrdiff_t) cw,
                                 l->work, need, err)))
    return st;
  for (size_t jy = margin; jy + margin < h; jy++)
    for (size_t jx = margin; jx + margin < w; jx++)
      {
        const size_t c = l->map[(jy - halo) * cw + (jx - halo)];
        for (size_t dy = 0; dy < l->side; dy++)
          for (size_t dx = 0; dx < l->side; dx++)
            x[dy * l->side + dx] = l->luma[(jy + dy - l->r) * w + (jx + dx - l->r)];
        add_sample (l, c, x, hr,
                    hr->data + (ptrdiff_t) (jy * l->s) * hr->y_stride
                      + (ptrdiff_t) (jx * l->s) * hr->x_stride);
      }
  return TCONV_OK;
}

tconv_status
tconv_bank_lsq_add_pair (tconv_bank_lsq *lsq, const tconv_plane *lr, const tconv_plane *hr,
                         int dihedral_copies, tconv_error *err)
{
  tconv_status st = TCONV_OK;

  if (lsq == NULL || lr == NULL || hr == NULL || lr->data == NULL || hr->data == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank learner: a pointer is NULL");
  if (hr->h != lr->h * lsq->s || hr->w != lr->w * lsq->s)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank learner: high resolution %zux%zu must be %zu times the low "
                       "resolution %zux%zu", hr->w, hr->h, lsq->s, lr->w, lr->h);
  for (unsigned t = 0; t < (dihedral_copies ? 8u : 1u) && st == TCONV_OK; t++)
    {
      const tconv_plane lv = dihedral (lr, t), hv = dihedral (hr, t);
      st = add_view (lsq, &lv, &hv, err);
    }
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Solving
 */

/* h = argmin h^T M h - 2 h^T v subject to sum h = 1, with @l the Cholesky factor of M and
 * @ones = M^-1 1. */
static void
constrained (const double *l, size_t m, const double *ones, const double *v, double *h)
{
  memcpy (h, v, m * sizeof (double));
  tconv_cholesky_solve (l, m, h);
  tconv_sum_to_one (h, ones, m);
}

/* Squared error of filter @h on a class's phase: sum y^2 - 2 h^T b + h^T G h. */
static double
sse (const double *g, const double *b, double yy, const double *h, size_t m)
{
  double e = yy;
  for (size_t i = 0; i < m; i++)
    {
      double gh = 0.0;
      for (size_t j = 0; j < m; j++)
        gh += (i <= j ? g[i * m + j] : g[j * m + i]) * h[j];
      e += h[i] * gh - 2.0 * h[i] * b[i];
    }
  return e > 0.0 ? e : 0.0;
}

typedef struct solve_work
{
  double *mat, *ones, *v, *gram_all, *cross_all;
  double *global, *h; /* phases x m: the global filters, a class's filters */
} solve_work;

/* Factors M = G + lambda I (+ a tiny relative jitter for exactly singular data) into the
 * lower triangle of w->mat, G being accumulated in the upper one; fills w->ones = M^-1 1. */
static bool
factor (const double *g, size_t m, double lambda, solve_work *w)
{
  double trace = 0.0, bad, scale;
  for (size_t i = 0; i < m; i++)
    trace += g[i * m + i];
  for (size_t i = 0; i < m; i++)
    for (size_t j = i; j < m; j++)
      w->mat[j * m + i] = g[i * m + j] + (i == j ? lambda + 1e-12 * trace / (double) m : 0.0);
  if (tconv_cholesky (w->mat, m, &bad, &scale) < m)
    return false;
  for (size_t i = 0; i < m; i++)
    w->ones[i] = 1.0;
  tconv_cholesky_solve (w->mat, m, w->ones);
  return true;
}

/* Writes the phase filters @h (phases x m) into kernel layout: tap (s (r - dy) + py,
 * s (r - dx) + px) is window position (dy + r, dx + r) of phase (py, px). */
static void
to_kernel (const tconv_bank_lsq *l, const double *h, float *k)
{
  const size_t kk = l->s * l->side;
  for (size_t py = 0; py < l->s; py++)
    for (size_t px = 0; px < l->s; px++)
      for (size_t wy = 0; wy < l->side; wy++)
        for (size_t wx = 0; wx < l->side; wx++)
          k[(l->s * (l->side - 1 - wy) + py) * kk + l->s * (l->side - 1 - wx) + px]
            = (float) h[(py * l->s + px) * l->m + wy * l->side + wx];
}

static double
class_variance (const tconv_bank_lsq *l, size_t c)
{
  const double *g = l->gram + c * l->m * l->m;
  const double  n = (double) l->count[c];
  double        v = 0.0;
  for (size_t i = 0; i < l->m; i++)
    {
      double mean = l->sum_x[c * l->m + i] / n;
      v += g[i * l->m + i] / n - mean * mean;
    }
  return v / (double) l->m;
}

static tconv_status
solve_alloc (const tconv_bank_lsq *l, solve_work *w, tconv_error *err)
{
  const size_t m = l->m;
  w->mat = malloc (m * m * sizeof (double));
  w->ones = malloc (m * sizeof (double));
  w->v = malloc (m * sizeof (double));
  w->gram_all = calloc (m * m, sizeof (double));
  w->cross_all = calloc (l->phases * m, sizeof (double));
  w->global = malloc (l->phases * m * sizeof (double));
  w->h = malloc (l->phases * m * sizeof (double));
  if (w->mat == NULL || w->ones == NULL || w->v == NULL || w->gram_all == NULL
      || w->cross_all == NULL || w->global == NULL || w->h == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank learner: out of memory");
  for (size_t c = 0; c < l->classes; c++)
    {
      for (size_t i = 0; i < m * m; i++)
        w->gram_all[i] += l->gram[c * m * m + i];
      for (size_t i = 0; i < l->phases * m; i++)
        w->cross_all[i] += l->cross[c * l->phases * m + i];
    }
  return TCONV_OK;
}

static void
solve_free (solve_work *w)
{
  free (w->mat), free (w->ones), free (w->v), free (w->gram_all), free (w->cross_all);
  free (w->global), free (w->h);
}

/* The global kernel: every phase's filter over all samples, sum 1, no ridge. */
static tconv_status
solve_global (const tconv_bank_lsq *l, solve_work *w, tconv_kernel **global, tconv_error *err)
{
  const size_t kk = l->s * l->side;
  tconv_status st;

  if (!factor (w->gram_all, l->m, 0.0, w))
    return tconv_fail (err, TCONV_ERR_SINGULAR, 0, 0,
                       "bank learner: the global system is singular (too few samples: %zu)",
                       (size_t) tconv_bank_lsq_samples (l));
  for (size_t p = 0; p < l->phases; p++)
    constrained (w->mat, l->m, w->ones, w->cross_all + p * l->m, w->global + p * l->m);
  if ((st = tconv_kernel_new (1, kk, kk, global, err)))
    return st;
  (*global)->stride_h = (*global)->stride_w = l->s;
  (*global)->pad_h = (*global)->pad_w = l->s * l->r;
  (*global)->provenance = TCONV_PROVENANCE_LEARNED;
  to_kernel (l, w->global, (*global)->weights);
  return TCONV_OK;
}

/* One class: its filters into @k, its errors into @mse (bank, global). False: fallback. */
static bool
solve_class (const tconv_bank_lsq *l, size_t c, double ridge, solve_work *w, float *k,
             double mse[2])
{
  const size_t  m = l->m;
  const double *g = l->gram + c * m * m, *b = l->cross + c * l->phases * m;
  const double  lambda = ridge * class_variance (l, c);
  double       *h = w->h, e = 0.0, eg = 0.0;

  if (!factor (g, m, lambda, w))
    return false;
  for (size_t p = 0; p < l->phases; p++)
    {
      for (size_t i = 0; i < m; i++)
        w->v[i] = b[p * m + i] + lambda * w->global[p * m + i];
      constrained (w->mat, m, w->ones, w->v, h + p * m);
      e += sse (g, b + p * m, l->sum_yy[c * l->phases + p], h + p * m, m);
      eg += sse (g, b + p * m, l->sum_yy[c * l->phases + p], w->global + p * m, m);
    }
  to_kernel (l, h, k);
  mse[0] = e / ((double) l->count[c] * (double) l->phases);
  mse[1] = eg / ((double) l->count[c] * (double) l->phases);
  return true;
}

static double
global_mse (const tconv_bank_lsq *l, size_t c, const double *global)
{
  double e = 0.0;
  for (size_t p = 0; p < l->phases; p++)
    e += sse (l->gram + c * l->m * l->m, l->cross + (c * l->phases + p) * l->m,
              l->sum_yy[c * l->phases + p], global + p * l->m, l->m);
  return e / ((double) l->count[c] * (double) l->phases);
}

uint64_t
tconv_bank_lsq_samples (const tconv_bank_lsq *l)
{
  uint64_t n = 0;
  for (size_t c = 0; l != NULL && c < l->classes; c++)
    n += l->count[c];
  return n;
}

tconv_status
tconv_bank_lsq_solve (const tconv_bank_lsq *l, double ridge, uint64_t min_samples,
                      double *class_mse, tconv_bank **bank, tconv_bank_lsq_stats *stats,
                      tconv_error *err)
{
  solve_work           w = { 0 };
  tconv_kernel        *global = NULL;
  tconv_bank_lsq_stats s = { 0 };
  double               se = 0.0, seg = 0.0;
  tconv_status         st;

  if (l == NULL || bank == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank solve: a pointer is NULL");
  *bank = NULL;
  if (!(ridge >= 0.0 && isfinite (ridge)))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "ridge %g: must be finite and >= 0",
                       ridge);
  if ((st = solve_alloc (l, &w, err)) || (st = solve_global (l, &w, &global, err))
      || (st = tconv_bank_new (global, &l->cls, bank, err)))
    goto out;
  for (size_t c = 0; c < l->classes; c++)
    {
      double mse[2] = { NAN, NAN };
      float *k = (*bank)->weights + c * global->k_h * global->k_w;
      (*bank)->samples[c] = l->count[c];
      if (l->count[c] < min_samples || l->count[c] == 0
          || !solve_class (l, c, ridge, &w, k, mse))
        {
          (*bank)->fallback[c] = 1;
          s.fallback++;
          if (l->count[c] > 0)
            mse[0] = mse[1] = global_mse (l, c, w.global);
        }
      if (class_mse != NULL)
        class_mse[2 * c] = mse[0], class_mse[2 * c + 1] = mse[1];
      if (l->count[c] > 0)
        {
          se += mse[0] * (double) l->count[c];
          seg += mse[1] * (double) l->count[c];
          s.samples += l->count[c];
        }
    }
  s.mse = s.samples > 0 ? se / (double) s.samples : NAN;
  s.mse_global = s.samples > 0 ? seg / (double) s.samples : NAN;
  if ((st = tconv_bank_validate (*bank, err)))
    goto out;
  if (stats != NULL)
    *stats = s;
out:
  if (st != TCONV_OK)
    {
      tconv_bank_free (*bank);
      *bank = NULL;
    }
  tconv_kernel_free (global);
  solve_free (&w);
  return st;
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

tconv_status
tconv_bank_quantiles (const float *values, size_t n, size_t bins, double *thresholds,
                      tconv_error *err)
{
  float *v;

  if (values == NULL || thresholds == NULL || n == 0 || bins < 1 || bins > TCONV_BANK_MAX_BINS)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "quantiles: %zu values into %zu bins: need values and 1..%u bins", n,
                       bins, TCONV_BANK_MAX_BINS);
  v = malloc (n * sizeof (float));
  if (v == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "quantiles: out of memory");
  for (size_t i = 0; i < n; i++)
    if (isnan (values[i]))
      {
        free (v);
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "quantiles: value %zu is NaN", i);
      }
  memcpy (v, values, n * sizeof (float));
  qsort (v, n, sizeof (float), cmp_float);
  for (size_t i = 1; i < bins; i++)
    {
      float t = v[(n - 1) * i / bins];
      if (i > 1 && !((double) t > thresholds[i - 2]))
        t = nextafterf ((float) thresholds[i - 2], INFINITY);
      if (t <= 0.0f)
        t = i > 1 ? t : 1e-9f; /* a threshold of 0 would leave the lowest bin empty */
      thresholds[i - 1] = t;
    }
  free (v);
  return TCONV_OK;
}
