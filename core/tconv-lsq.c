/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Least-squares learning of an up-sampling kernel: the normal equations of the transposed
 * convolution, one system per output phase, solved by Cholesky with an optional ridge and
 * an optional per-phase sum-to-1 constraint (Lagrange multiplier), optionally symmetrised
 * over flips and transposes.
 *
 * Gather semantics as in tconv_upsample(): output y takes input iy through tap ky when
 * y + pad - ky == iy * s. Write y = s Y + q. Then the phase is r = (q + pad) mod s, the taps
 * are ky = r + s t (t = 0 .. T_r - 1) and iy = Y + c_q - t with c_q = floor ((q + pad) / s).
 * So every output of the s x s block anchored at input (Y, X) reads a sub-window of one small
 * input window, rows Y + lo .. Y + hi. The learner accumulates the Gram matrix of that window
 * once per anchor and shares it between all s^2 phases (each phase's normal matrix is a
 * sub-block of it), plus one cross-correlation vector per block position. Only anchors whose
 * whole window lies inside the input and whose whole block inside the output are used, so
 * no border rule enters the statistics and every phase sees the same samples.
 *
 * Determinism: fixed loop order, double accumulators, no threads: the result depends only
 * on the pairs and their order. */
#include "tconv-private.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Relative pivot below which a normal matrix counts as singular: well above the rounding
 * noise of a Cholesky factorisation in double (n eps ~ 1e-14 for the sizes allowed here)
 * and well below what real images give (ill-conditioned, but ~1e-9 at worst). */
#define SINGULAR_TOL 1e-12

/* Anchors accumulated together: their products are summed in a fixed order before they
 * reach the Gram matrix, which quarters the loads and stores of the matrix per product. */
#define BLOCK 4

typedef struct
{
  size_t  s, k, pad;
  int64_t lo;  /* first window row relative to the anchor (<= 0 in practice) */
  size_t  len; /* window rows */
  int64_t hi;  /* last window row relative to the anchor */
} axis;

struct tconv_lsq
{
  axis      ay, ax;
  size_t    n;       /* window size ay.len * ax.len */
  double   *gram;    /* n x n, upper triangle accumulated */
  double   *cross;   /* s_h * s_w rows of n: sum of output(q) * window */
  double   *hr_sq;   /* s_h * s_w: sum of output(q)^2 */
  double   *feat;    /* BLOCK x n scratch */
  uint64_t  anchors; /* blocks accumulated */
};

/* Taps of phase r along one axis. */
static size_t
axis_taps (const axis *a, size_t r)
{
  return r < a->k ? (a->k - r + a->s - 1) / a->s : 0;
}

/* Block position q of phase r: (q + pad) mod s == r. */
static size_t
axis_position (const axis *a, size_t r)
{
  return (size_t) tconv_floor_mod ((int64_t) r - (int64_t) a->pad, (int64_t) a->s);
}

static void
axis_init (axis *a, size_t s, size_t k, size_t pad)
{
  int64_t lo = INT64_MAX, hi = INT64_MIN;

  a->s = s, a->k = k, a->pad = pad;
  for (size_t q = 0; q < s; q++)
    {
      const size_t  r = (q + pad) % s;
      const int64_t c = (int64_t) ((q + pad) / s);
      const size_t  t = axis_taps (a, r);

      if (t == 0)
        continue;
      lo = c - (int64_t) t + 1 < lo ? c - (int64_t) t + 1 : lo;
      hi = c > hi ? c : hi;
    }
  /* phase 0 always has a tap (k >= 1) */
  a->lo = lo;
  a->hi = hi;
  a->len = (size_t) (hi - lo + 1);
}

/* Window index (along one axis) of kernel tap @kk: phase r = kk mod s, t = kk / s. */
static size_t
axis_window (const axis *a, size_t kk)
{
  const size_t  q = axis_position (a, kk % a->s);
  const int64_t c = (int64_t) ((q + a->pad) / a->s);
  return (size_t) (c - (int64_t) (kk / a->s) - a->lo);
}

/* Anchors [*first, *first + *count) usable along one axis for an input of @n_in and an
 * output of @n_out samples. */
static void
axis_anchors (const axis *a, size_t n_in, size_t n_out, size_t *first, size_t *count)
{
  const int64_t y0 = a->lo < 0 ? -a->lo : 0;
  int64_t       y1 = (int64_t) n_in - 1 - a->hi;            /* window inside the input */
  const int64_t yb = (int64_t) (n_out / a->s) - 1;          /* block inside the output */

  if (yb < y1)
    y1 = yb;
  *first = (size_t) y0;
  *count = y1 >= y0 ? (size_t) (y1 - y0 + 1) : 0;
}

tconv_status
tconv_lsq_new (size_t stride_h, size_t stride_w, size_t k_h, size_t k_w, size_t pad_h,
               size_t pad_w, tconv_lsq **lsq, tconv_error *err)
{
  tconv_lsq *l;
  size_t     n, nn, pos;

  if (lsq == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq: NULL output pointer");
  *lsq = NULL;
  if (stride_h < 1 || stride_h > TCONV_MAX_STRIDE || stride_w < 1 || stride_w > TCONV_MAX_STRIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "stride %zux%zu: each must be 1..%u",
                       stride_h, stride_w, TCONV_MAX_STRIDE);
  if (k_h < 1 || k_h > TCONV_MAX_KERNEL_SIDE || k_w < 1 || k_w > TCONV_MAX_KERNEL_SIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel %zux%zu: each side must be 1..%u",
                       k_h, k_w, TCONV_MAX_KERNEL_SIDE);
  /* Exact s-times up-sampling: out = s * in needs k + opad - 2 pad == s with 0 <= opad < s. */
  if (2 * pad_h + stride_h < k_h || 2 * pad_h + stride_h - k_h >= stride_h)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "padding_h %zu with kernel height %zu at stride %zu: output padding "
                       "s + 2 pad - k must be 0..s-1 (exact s-times up-sampling)",
                       pad_h, k_h, stride_h);
  if (2 * pad_w + stride_w < k_w || 2 * pad_w + stride_w - k_w >= stride_w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "padding_w %zu with kernel width %zu at stride %zu: output padding "
                       "s + 2 pad - k must be 0..s-1 (exact s-times up-sampling)",
                       pad_w, k_w, stride_w);

  l = calloc (1, sizeof *l);
  if (l == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "lsq: out of memory");
  axis_init (&l->ay, stride_h, k_h, pad_h);
  axis_init (&l->ax, stride_w, k_w, pad_w);
  n = l->ay.len * l->ax.len;
  if (n > TCONV_LSQ_MAX_WINDOW)
    {
      const size_t lh = l->ay.len, lw = l->ax.len;
      free (l);
      return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                         "kernel %zux%zu at stride %zux%zu reads a %zux%zu input window: the "
                         "learner handles at most %u input pixels per window",
                         k_h, k_w, stride_h, stride_w, lh, lw, TCONV_LSQ_MAX_WINDOW);
    }
  l->n = n;
  nn = n * n;
  pos = stride_h * stride_w;
  l->gram = calloc (nn, sizeof (double));
  l->cross = calloc (pos * n, sizeof (double));
  l->hr_sq = calloc (pos, sizeof (double));
  l->feat = calloc (BLOCK * n, sizeof (double));
  if (l->gram == NULL || l->cross == NULL || l->hr_sq == NULL || l->feat == NULL)
    {
      tconv_lsq_free (l);
      return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "lsq: out of memory");
    }
  *lsq = l;
  return TCONV_OK;
}

void
tconv_lsq_free (tconv_lsq *lsq)
{
  if (lsq == NULL)
    return;
  free (lsq->gram);
  free (lsq->cross);
  free (lsq->hr_sq);
  free (lsq->feat);
  free (lsq);
}

uint64_t
tconv_lsq_samples (const tconv_lsq *lsq)
{
  return lsq == NULL ? 0 : lsq->anchors * lsq->ay.s * lsq->ax.s;
}

static tconv_status
check_plane (const tconv_plane *p, const char *what, tconv_error *err)
{
  if (p == NULL || p->data == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s plane: NULL", what);
  if (p->h == 0 || p->w == 0 || p->h > TCONV_MAX_SIDE || p->w > TCONV_MAX_SIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s plane %zux%zu: each side must be 1..%u",
                       what, p->w, p->h, TCONV_MAX_SIDE);
  if (p->x_stride == 0 || p->y_stride == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s plane: strides must be non-zero",
                       what);
  return TCONV_OK;
}

/* Adds @m anchors' windows (feat, m rows of n) and their blocks to the statistics. */
static void
accumulate (tconv_lsq *l, size_t m, const float *const *hr_px, ptrdiff_t hr_ys, ptrdiff_t hr_xs)
{
  const size_t n = l->n;
  const double *f = l->feat;

  /* Gram, upper triangle. The inner loop runs over contiguous j with no reduction, so the
   * compiler vectorises it without reassociating anything; the m anchors are summed in a
   * fixed order inside the loop. */
  if (m == BLOCK)
    {
      const double *f0 = f, *f1 = f + n, *f2 = f + 2 * n, *f3 = f + 3 * n;
      for (size_t i = 0; i < n; i++)
        {
          double      *g = l->gram + i * n;
          const double a0 = f0[i], a1 = f1[i], a2 = f2[i], a3 = f3[i];
          for (size_t j = i; j < n; j++)
            g[j] += (a0 * f0[j] + a1 * f1[j]) + (a2 * f2[j] + a3 * f3[j]);
        }
    }
  else
    for (size_t a = 0; a < m; a++)
      {
        const double *fa = f + a * n;
        for (size_t i = 0; i < n; i++)
          {
            double      *g = l->gram + i * n;
            const double ai = fa[i];
            for (size_t j = i; j < n; j++)
              g[j] += ai * fa[j];
          }
      }

  /* Cross-correlation of each block position's output with the window. */
  for (size_t a = 0; a < m; a++)
    {
      const double *fa = f + a * n;
      for (size_t qy = 0; qy < l->ay.s; qy++)
        for (size_t qx = 0; qx < l->ax.s; qx++)
          {
            const size_t q = qy * l->ax.s + qx;
            const double h = (double) hr_px[a][(ptrdiff_t) qy * hr_ys + (ptrdiff_t) qx * hr_xs];
            double      *c = l->cross + q * n;

            for (size_t i = 0; i < n; i++)
              c[i] += h * fa[i];
            l->hr_sq[q] += h * h;
          }
    }
  l->anchors += m;
}

tconv_status
tconv_lsq_add_pair (tconv_lsq *lsq, const tconv_plane *lr, const tconv_plane *hr,
                    tconv_error *err)
{
  tconv_status st;
  size_t       y0, ny, x0, nx;

  if (lsq == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq: NULL learner");
  if ((st = check_plane (lr, "low-resolution", err)) != TCONV_OK
      || (st = check_plane (hr, "high-resolution", err)) != TCONV_OK)
    return st;

  axis_anchors (&lsq->ay, lr->h, hr->h, &y0, &ny);
  axis_anchors (&lsq->ax, lr->w, hr->w, &x0, &nx);
  if (ny == 0 || nx == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "pair of %zux%zu (low) and %zux%zu (high resolution): too small for a "
                       "%zux%zu kernel at stride %zux%zu, which needs at least %zux%zu input "
                       "pixels and %zu times as many output pixels",
                       lr->w, lr->h, hr->w, hr->h, lsq->ax.k, lsq->ay.k, lsq->ay.s, lsq->ax.s,
                       lsq->ax.len, lsq->ay.len, lsq->ay.s);

  const size_t lw = lsq->ax.len, lh = lsq->ay.len;
  const float *hr_px[BLOCK];

  for (size_t y = y0; y < y0 + ny; y++)
    {
      const float *wrow = lr->data + ((ptrdiff_t) y + lsq->ay.lo) * lr->y_stride;
      const float *hrow = hr->data + (ptrdiff_t) (y * lsq->ay.s) * hr->y_stride;
      size_t       m = 0;

      for (size_t x = x0; x < x0 + nx; x++)
        {
          double *f = lsq->feat + m * lsq->n;
          for (size_t a = 0; a < lh; a++)
            {
              const float *p = wrow + (ptrdiff_t) a * lr->y_stride
                               + ((ptrdiff_t) x + lsq->ax.lo) * lr->x_stride;
              for (size_t b = 0; b < lw; b++)
                f[a * lw + b] = (double) p[(ptrdiff_t) b * lr->x_stride];
            }
          hr_px[m] = hrow + (ptrdiff_t) (x * lsq->ax.s) * hr->x_stride;
          if (++m == BLOCK)
            {
              accumulate (lsq, m, hr_px, hr->y_stride, hr->x_stride);
              m = 0;
            }
        }
      if (m > 0)
        accumulate (lsq, m, hr_px, hr->y_stride, hr->x_stride);
    }
  return TCONV_OK;
}

tconv_status
tconv_lsq_merge (tconv_lsq *dst, const tconv_lsq *src, double weight, tconv_error *err)
{
  const size_t pos = dst != NULL ? dst->ay.s * dst->ax.s : 0;

  if (dst == NULL || src == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq merge: NULL argument");
  if (!(weight > 0.0) || !isfinite (weight))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "lsq merge: weight %g: must be finite and > 0", weight);
  if (memcmp (&dst->ay, &src->ay, sizeof dst->ay) != 0
      || memcmp (&dst->ax, &src->ax, sizeof dst->ax) != 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "lsq merge: the accumulators have different strides, sizes or padding");
  for (size_t i = 0; i < dst->n * dst->n; i++)
    dst->gram[i] += weight * src->gram[i];
  for (size_t i = 0; i < pos * dst->n; i++)
    dst->cross[i] += weight * src->cross[i];
  for (size_t q = 0; q < pos; q++)
    dst->hr_sq[q] += weight * src->hr_sq[q];
  dst->anchors += src->anchors;
  return TCONV_OK;
}

void
tconv_lsq_options_init (tconv_lsq_options *options)
{
  if (options == NULL)
    return;
  options->ridge = 0.0;
  options->normalize = 1;
  options->symmetry = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Symmetry. A group element acts on the centred tap offsets m = 2 (k - pad) + 1 - s (twice
 * the offset in output pixels times s, an integer): optionally swap the axes, then negate
 * either. Flipping both images of a pair maps tap k to 2 pad + s - 1 - k, which is m -> -m.
 */

typedef struct
{
  int swap, neg_y, neg_x;
} sym_elem;

static void
sym_apply (sym_elem e, int64_t my, int64_t mx, int64_t *ry, int64_t *rx)
{
  int64_t a = e.swap ? mx : my, b = e.swap ? my : mx;
  *ry = e.neg_y ? -a : a;
  *rx = e.neg_x ? -b : b;
}

static sym_elem
sym_from_code (int c)
{
  return (sym_elem) { (c >> 2) & 1, (c >> 1) & 1, c & 1 };
}

/* The subgroup generated by the requested flips and transpose, as codes in increasing
 * order (so that every average below sums in the same order). */
static size_t
sym_group (unsigned flags, int *codes)
{
  int    have[8] = { 0 };
  size_t n = 0;
  int    gens[3], n_gens = 0;

  if (flags & TCONV_LSQ_SYM_FLIP_Y)
    gens[n_gens++] = 2;
  if (flags & TCONV_LSQ_SYM_FLIP_X)
    gens[n_gens++] = 1;
  if (flags & TCONV_LSQ_SYM_TRANSPOSE)
    gens[n_gens++] = 4;

  have[0] = 1;
  for (int changed = 1; changed;)
    {
      changed = 0;
      for (int c = 0; c < 8; c++)
        if (have[c])
          for (int g = 0; g < n_gens; g++)
            {
              /* composition: apply c, then the generator; identify by its action on (1, 2) */
              int64_t y, x, y2, x2;
              sym_apply (sym_from_code (c), 1, 2, &y, &x);
              sym_apply (sym_from_code (gens[g]), y, x, &y2, &x2);
              for (int d = 0; d < 8; d++)
                {
                  int64_t ty, tx;
                  sym_apply (sym_from_code (d), 1, 2, &ty, &tx);
                  if (ty == y2 && tx == x2 && !have[d])
                    have[d] = 1, changed = 1;
                }
            }
    }
  for (int c = 0; c < 8; c++)
    if (have[c])
      codes[n++] = c;
  return n;
}

/* The tap that element @e maps tap (ky, kx) to, as ky * k_w + kx, or -1 outside the kernel. */
static int64_t
sym_map (const tconv_lsq *l, sym_elem e, size_t ky, size_t kx)
{
  const int64_t my = 2 * ((int64_t) ky - (int64_t) l->ay.pad) + 1 - (int64_t) l->ay.s;
  const int64_t mx = 2 * ((int64_t) kx - (int64_t) l->ax.pad) + 1 - (int64_t) l->ax.s;
  int64_t       ry, rx;

  sym_apply (e, my, mx, &ry, &rx);
  /* back to taps: k = (m - 1 + s) / 2 + pad; the parity always works out for a flip, and for
   * a swap because it requires equal strides */
  const int64_t ty = ry - 1 + (int64_t) l->ay.s, tx = rx - 1 + (int64_t) l->ax.s;
  if (tconv_floor_mod (ty, 2) != 0 || tconv_floor_mod (tx, 2) != 0)
    return -1;
  const int64_t ny = ty / 2 + (int64_t) l->ay.pad, nx = tx / 2 + (int64_t) l->ax.pad;
  if (ny < 0 || ny >= (int64_t) l->ay.k || nx < 0 || nx >= (int64_t) l->ax.k)
    return -1;
  return ny * (int64_t) l->ax.k + nx;
}

/* ---------------------------------------------------------------------------------------------
 * Solving
 */

/* Gram entry between window positions i and j (only the upper triangle is accumulated). */
static double
gram_at (const tconv_lsq *l, size_t i, size_t j)
{
  return i <= j ? l->gram[i * l->n + j] : l->gram[j * l->n + i];
}

static size_t
tap_window (const tconv_lsq *l, size_t tap)
{
  return axis_window (&l->ay, tap / l->ax.k) * l->ax.len + axis_window (&l->ax, tap % l->ax.k);
}

/* Block position (index into cross/hr_sq) of the phase of @tap. */
static size_t
tap_position (const tconv_lsq *l, size_t tap)
{
  return axis_position (&l->ay, (tap / l->ax.k) % l->ay.s) * l->ax.s
         + axis_position (&l->ax, (tap % l->ax.k) % l->ax.s);
}

size_t
tconv_cholesky (double *a, size_t m, double *bad_pivot, double *scale)
{
  double dmax = 0.0;

  for (size_t i = 0; i < m; i++)
    dmax = a[i * m + i] > dmax ? a[i * m + i] : dmax;
  *scale = dmax;
  for (size_t j = 0; j < m; j++)
    {
      double d = a[j * m + j];
      for (size_t k = 0; k < j; k++)
        d -= a[j * m + k] * a[j * m + k];
      if (!(d > SINGULAR_TOL * dmax) || !isfinite (d))
        {
          *bad_pivot = d;
          return j;
        }
      d = sqrt (d);
      a[j * m + j] = d;
      for (size_t i = j + 1; i < m; i++)
        {
          double v = a[i * m + j];
          for (size_t k = 0; k < j; k++)
            v -= a[i * m + k] * a[j * m + k];
          a[i * m + j] = v / d;
        }
    }
  return m;
}

void
tconv_cholesky_solve (const double *lmat, size_t m, double *b)
{
  for (size_t i = 0; i < m; i++)
    {
      double v = b[i];
      for (size_t k = 0; k < i; k++)
        v -= lmat[i * m + k] * b[k];
      b[i] = v / lmat[i * m + i];
    }
  for (size_t i = m; i-- > 0;)
    {
      double v = b[i];
      for (size_t k = i + 1; k < m; k++)
        v -= lmat[k * m + i] * b[k];
      b[i] = v / lmat[i * m + i];
    }
}

void
tconv_sum_to_one (double *u, const double *ones, size_t m)
{
  double su = 0.0, sv = 0.0;

  for (size_t i = 0; i < m; i++)
    su += u[i], sv += ones[i];
  const double mu = (su - 1.0) / sv;
  for (size_t i = 0; i < m; i++)
    u[i] -= mu * ones[i];
}

/* Sum of squared errors of the taps @w (k_h * k_w doubles, kernel layout) on the statistics,
 * over every phase: sum_q |h_q|^2 - 2 w.c_q + w^T G w, with each phase's taps. */
static double
sse_of (const tconv_lsq *l, const double *w)
{
  const size_t ntaps = l->ay.k * l->ax.k;
  double       sse = 0.0;

  for (size_t q = 0; q < l->ay.s * l->ax.s; q++)
    sse += l->hr_sq[q];
  for (size_t t = 0; t < ntaps; t++)
    {
      if (w[t] == 0.0)
        continue;
      const size_t wi = tap_window (l, t), q = tap_position (l, t);
      double       quad = 0.0;

      for (size_t u = 0; u < ntaps; u++)
        if (w[u] != 0.0 && tap_position (l, u) == q)
          quad += w[u] * gram_at (l, wi, tap_window (l, u));
      sse += w[t] * (quad - 2.0 * l->cross[q * l->n + wi]);
    }
  return sse > 0.0 ? sse : 0.0;
}

/* The arguments and options of tconv_lsq_solve(), checked before any work; @opt (out) gets
 * the options to use (the defaults when @options is NULL). */
static tconv_status
solve_check (const tconv_lsq *lsq, const tconv_lsq_options *options, tconv_lsq_options *opt,
             tconv_error *err)
{
  if (lsq == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq solve: NULL learner");
  if (options != NULL)
    *opt = *options;
  else
    tconv_lsq_options_init (opt);
  if (!(opt->ridge >= 0.0) || !isfinite (opt->ridge))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "ridge %g: must be finite and >= 0",
                       opt->ridge);
  if (opt->symmetry & ~(unsigned) (TCONV_LSQ_SYM_FLIP_Y | TCONV_LSQ_SYM_FLIP_X
                                   | TCONV_LSQ_SYM_TRANSPOSE))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "symmetry flags 0x%x: only FLIP_Y, FLIP_X and TRANSPOSE exist",
                       opt->symmetry);
  if ((opt->symmetry & TCONV_LSQ_SYM_TRANSPOSE) && lsq->ay.s != lsq->ax.s)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "transpose symmetry with stride %zux%zu: needs equal strides",
                       lsq->ay.s, lsq->ax.s);
  if (lsq->anchors == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "lsq solve: no training samples (no pair was added)");
  if (opt->normalize)
    for (size_t ry = 0; ry < lsq->ay.s; ry++)
      for (size_t rx = 0; rx < lsq->ax.s; rx++)
        if (axis_taps (&lsq->ay, ry) == 0 || axis_taps (&lsq->ax, rx) == 0)
          return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                             "phase (%zu, %zu) has no taps (kernel %zux%zu < stride %zux%zu): "
                             "it cannot sum to 1; use a larger kernel or no normalisation",
                             ry, rx, lsq->ay.k, lsq->ax.k, lsq->ay.s, lsq->ax.s);
  return TCONV_OK;
}

/* Everything the solve needs, in one allocation: the image of each tap under each group
 * element, active flags, one phase's matrix, right-hand sides and tap list, the weights. */
typedef struct
{
  size_t         n_group;
  int            codes[8];
  int64_t       *images; /* [tap * n_group + g] */
  double        *a, *u, *v, *w;
  size_t        *list;
  unsigned char *active;
  void          *block;
} solve_work;

static tconv_status
solve_work_alloc (const tconv_lsq *lsq, unsigned symmetry, solve_work *sw, tconv_error *err)
{
  const size_t ntaps = lsq->ay.k * lsq->ax.k;
  const size_t max_m = lsq->n; /* a phase's taps are distinct window positions */
  size_t       sz[6], bytes = 0;

  sw->n_group = sym_group (symmetry, sw->codes);
  if (!tconv_mul3_size (ntaps, sw->n_group, sizeof (int64_t), &sz[0])
      || !tconv_mul3_size (max_m, max_m, sizeof (double), &sz[1])
      || !tconv_mul_size (max_m, 2 * sizeof (double), &sz[2])
      || !tconv_mul_size (ntaps, sizeof (double), &sz[3])
      || !tconv_mul_size (max_m, sizeof (size_t), &sz[4]))
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0, "lsq solve: sizes overflow");
  sz[5] = ntaps;
  for (int i = 0; i < 6; i++)
    bytes += (sz[i] + 15) & ~(size_t) 15;
  sw->block = calloc (1, bytes);
  if (sw->block == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "lsq solve: out of memory");
  char *p = sw->block;
  sw->images = (int64_t *) (void *) p, p += (sz[0] + 15) & ~(size_t) 15;
  sw->a = (double *) (void *) p, p += (sz[1] + 15) & ~(size_t) 15;
  sw->u = (double *) (void *) p, sw->v = sw->u + max_m, p += (sz[2] + 15) & ~(size_t) 15;
  sw->w = (double *) (void *) p, p += (sz[3] + 15) & ~(size_t) 15;
  sw->list = (size_t *) (void *) p, p += (sz[4] + 15) & ~(size_t) 15;
  sw->active = (unsigned char *) p;

  /* A tap is learned when its whole orbit lies inside the kernel; otherwise symmetry forces
   * it to 0 (e.g. K = 18 at stride 3: offsets -3 .. 8/3, so the tap at -3 has no mirror). */
  for (size_t t = 0; t < ntaps; t++)
    {
      sw->active[t] = 1;
      for (size_t g = 0; g < sw->n_group; g++)
        {
          sw->images[t * sw->n_group + g]
            = sym_map (lsq, sym_from_code (sw->codes[g]), t / lsq->ax.k, t % lsq->ax.k);
          if (sw->images[t * sw->n_group + g] < 0)
            sw->active[t] = 0;
        }
    }
  return TCONV_OK;
}

/* The symmetrised normal equations of the @m taps in sw->list, ridge included, into sw->a
 * (lower triangle) and sw->u: the average over the group of the statistics seen through each
 * element, i.e. exactly those of the data augmented with every flipped/transposed copy of
 * every pair. */
static void
normal_equations (const tconv_lsq *lsq, double ridge, solve_work *sw, size_t m)
{
  const size_t ng = sw->n_group;
  double      *a = sw->a, *u = sw->u;
  double       trace = 0.0;

  for (size_t i = 0; i < m; i++)
    {
      u[i] = 0.0;
      for (size_t j = 0; j <= i; j++)
        a[i * m + j] = 0.0;
    }
  for (size_t g = 0; g < ng; g++)
    {
      const size_t q = tap_position (lsq, (size_t) sw->images[sw->list[0] * ng + g]);
      for (size_t i = 0; i < m; i++)
        {
          const size_t ti = (size_t) sw->images[sw->list[i] * ng + g];
          const size_t wi = tap_window (lsq, ti);
          for (size_t j = 0; j <= i; j++)
            a[i * m + j]
              += gram_at (lsq, wi, tap_window (lsq, (size_t) sw->images[sw->list[j] * ng + g]));
          u[i] += lsq->cross[q * lsq->n + wi];
        }
    }
  for (size_t i = 0; i < m; i++)
    {
      u[i] /= (double) ng;
      for (size_t j = 0; j <= i; j++)
        a[i * m + j] /= (double) ng;
      trace += a[i * m + i];
    }
  /* Ridge relative to the mean diagonal, so that its meaning does not depend on how many
   * pixels were accumulated. */
  for (size_t i = 0; i < m; i++)
    a[i * m + i] += ridge * trace / (double) m;
}

/* The weights of output phase (ry, rx) into sw->w. */
static tconv_status
solve_phase (const tconv_lsq *lsq, const tconv_lsq_options *opt, solve_work *sw, size_t ry,
             size_t rx, tconv_error *err)
{
  const size_t sh = lsq->ay.s, s_w = lsq->ax.s, kh = lsq->ay.k, kw = lsq->ax.k;
  double      *a = sw->a, *u = sw->u, *v = sw->v;
  size_t       m = 0;

  for (size_t ky = ry; ky < kh; ky += sh)
    for (size_t kx = rx; kx < kw; kx += s_w)
      if (sw->active[ky * kw + kx])
        sw->list[m++] = ky * kw + kx;
  if (m == 0)
    return opt->normalize ? tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                                        "phase (%zu, %zu): symmetry leaves no tap to learn, so "
                                        "it cannot sum to 1",
                                        ry, rx)
                          : TCONV_OK;

  normal_equations (lsq, opt->ridge, sw, m);
  double       bad = 0.0, scale = 0.0;
  const size_t piv = tconv_cholesky (a, m, &bad, &scale);
  if (piv < m)
    return tconv_fail (err, TCONV_ERR_SINGULAR, 0, 0,
                       "phase (%zu, %zu): the %zu normal equations are singular (pivot %zu "
                       "is %.3g, the largest diagonal %.3g): the training images do not "
                       "determine these taps; use more varied images, a smaller kernel, "
                       "or a ridge > 0",
                       ry, rx, m, piv + 1, bad, scale);
  tconv_cholesky_solve (a, m, u);
  if (opt->normalize)
    {
      for (size_t i = 0; i < m; i++)
        v[i] = 1.0;
      tconv_cholesky_solve (a, m, v);
      tconv_sum_to_one (u, v, m);
    }
  for (size_t i = 0; i < m; i++)
    sw->w[sw->list[i]] = u[i];
  return TCONV_OK;
}

/* Mathematically the solution is already invariant; averaging each orbit in a fixed order
 * and giving all its members the same value makes the symmetry exact in float. */
static void
symmetrise (size_t ntaps, solve_work *sw)
{
  const size_t ng = sw->n_group;

  for (size_t t = 0; t < ntaps; t++)
    {
      if (!sw->active[t])
        continue;
      size_t rep = t; /* the orbit's smallest tap computes it, once */
      for (size_t g = 0; g < ng; g++)
        if ((size_t) sw->images[t * ng + g] < rep)
          rep = (size_t) sw->images[t * ng + g];
      if (rep != t)
        continue;
      double sum = 0.0;
      for (size_t g = 0; g < ng; g++)
        sum += sw->w[sw->images[t * ng + g]];
      sum /= (double) ng;
      for (size_t g = 0; g < ng; g++)
        sw->w[sw->images[t * ng + g]] = sum;
    }
}

/* The kernel of the weights @w (double, overwritten with the float values when @stats is
 * wanted), its geometry from the learner. */
static tconv_status
solve_kernel (const tconv_lsq *lsq, double *w, tconv_lsq_stats *stats, tconv_kernel **kernel,
              tconv_error *err)
{
  const size_t  sh = lsq->ay.s, sw = lsq->ax.s, kh = lsq->ay.k, kw = lsq->ax.k;
  const size_t  ntaps = kh * kw;
  tconv_kernel *k = NULL;
  tconv_status  st;

  for (size_t t = 0; t < ntaps; t++)
    if (!isfinite (w[t]) || fabs (w[t]) > FLT_MAX)
      return tconv_fail (err, TCONV_ERR_SINGULAR, 0, 0,
                         "tap (%zu, %zu) came out as %g: the system is too ill-conditioned; "
                         "use a ridge > 0",
                         t / kw, t % kw, w[t]);
  if ((st = tconv_kernel_new (1, kh, kw, &k, NULL)) != TCONV_OK)
    return tconv_fail (err, st, 0, 0, "lsq solve: cannot make the kernel: %s",
                       tconv_status_string (st));
  k->stride_h = sh, k->stride_w = sw;
  k->pad_h = lsq->ay.pad, k->pad_w = lsq->ax.pad;
  k->opad_h = sh + 2 * lsq->ay.pad - kh;
  k->opad_w = sw + 2 * lsq->ax.pad - kw;
  k->provenance = TCONV_PROVENANCE_LEARNED;
  for (size_t t = 0; t < ntaps; t++)
    k->weights[t] = (float) w[t];

  if (stats != NULL)
    {
      /* the error of the float kernel actually returned */
      for (size_t t = 0; t < ntaps; t++)
        w[t] = (double) k->weights[t];
      stats->samples = tconv_lsq_samples (lsq);
      stats->mse = sse_of (lsq, w) / (double) stats->samples;
    }
  *kernel = k;
  return TCONV_OK;
}

tconv_status
tconv_lsq_solve (const tconv_lsq *lsq, const tconv_lsq_options *options, tconv_kernel **kernel,
                 tconv_lsq_stats *stats, tconv_error *err)
{
  tconv_lsq_options opt;
  solve_work        sw;
  tconv_status      st;

  if (kernel == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq solve: NULL output pointer");
  *kernel = NULL;
  if ((st = solve_check (lsq, options, &opt, err)) != TCONV_OK
      || (st = solve_work_alloc (lsq, opt.symmetry, &sw, err)) != TCONV_OK)
    return st;

  for (size_t ry = 0; ry < lsq->ay.s && st == TCONV_OK; ry++)
    for (size_t rx = 0; rx < lsq->ax.s && st == TCONV_OK; rx++)
      st = solve_phase (lsq, &opt, &sw, ry, rx, err);
  if (st == TCONV_OK)
    {
      if (sw.n_group > 1)
        symmetrise (lsq->ay.k * lsq->ax.k, &sw);
      st = solve_kernel (lsq, sw.w, stats, kernel, err);
    }
  free (sw.block);
  return st;
}

tconv_status
tconv_lsq_mse (const tconv_lsq *lsq, const tconv_kernel *kernel, double *mse, tconv_error *err)
{
  double *w;

  if (lsq == NULL || kernel == NULL || mse == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq mse: NULL argument");
  if (lsq->anchors == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq mse: no training samples");
  if (kernel->channels != 1 || kernel->weights == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "lsq mse: kernel with %zu channels: must have 1", kernel->channels);
  if (kernel->stride_h != lsq->ay.s || kernel->stride_w != lsq->ax.s)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "lsq mse: kernel stride %zux%zu: must be the learner's %zux%zu",
                       kernel->stride_h, kernel->stride_w, lsq->ay.s, lsq->ax.s);
  w = calloc (lsq->ay.k * lsq->ax.k, sizeof *w);
  if (w == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "lsq mse: out of memory");

  /* Tap (ky, kx) of @kernel has the same output offset as the learner's tap
   * (ky + pad - kpad, kx + pad - kpad); every non-zero tap must land inside. */
  for (size_t ky = 0; ky < kernel->k_h; ky++)
    for (size_t kx = 0; kx < kernel->k_w; kx++)
      {
        const float   v = kernel->weights[ky * kernel->k_w + kx];
        const int64_t ly = (int64_t) ky + (int64_t) lsq->ay.pad - (int64_t) kernel->pad_h;
        const int64_t lx = (int64_t) kx + (int64_t) lsq->ax.pad - (int64_t) kernel->pad_w;

        if (v == 0.0f)
          continue;
        if (ly < 0 || ly >= (int64_t) lsq->ay.k || lx < 0 || lx >= (int64_t) lsq->ax.k)
          {
            free (w);
            return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                               "lsq mse: kernel tap (%zu, %zu) = %g falls outside the learner's "
                               "%zux%zu window",
                               ky, kx, (double) v, lsq->ay.k, lsq->ax.k);
          }
        w[ly * (int64_t) lsq->ax.k + lx] = (double) v;
      }
  *mse = sse_of (lsq, w) / (double) tconv_lsq_samples (lsq);
  free (w);
  return TCONV_OK;
}

/* Per-image balancing: the benchmark averages PSNR over images, i.e. it scores the mean of
 * log SSE_i, whose gradient is sum_i grad SSE_i / SSE_i. So each image's statistics are
 * weighted by 1 / SSE_i of the previous kernel and solved again (iteratively reweighted
 * least squares from the pooled solution); a fixed point minimises the mean log error.
 * Weights are normalised to a geometric mean of 1, and errors are floored (relative to the
 * signal) so that an image fitted exactly cannot take all the weight. */
tconv_status
tconv_lsq_solve_balanced (const tconv_lsq *const *parts, size_t n, unsigned passes,
                          const tconv_lsq_options *options, tconv_kernel **kernel,
                          tconv_lsq_stats *stats, tconv_error *err)
{
  tconv_lsq   *merged = NULL;
  double      *sse = NULL;
  tconv_status st;
  double       energy = 0.0, floor_mse, mean_log, total_sse;
  uint64_t     total = 0;

  if (kernel == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq balanced: NULL output pointer");
  *kernel = NULL;
  if (parts == NULL || n == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "lsq balanced: no accumulators");
  for (size_t i = 0; i < n; i++)
    {
      if (parts[i] == NULL || parts[i]->anchors == 0)
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "lsq balanced: accumulator %zu has no training samples", i);
      for (size_t q = 0; q < parts[i]->ay.s * parts[i]->ax.s; q++)
        energy += parts[i]->hr_sq[q];
      total += tconv_lsq_samples (parts[i]);
    }
  floor_mse = energy > 0.0 ? 1e-12 * energy / (double) total : DBL_MIN;

  st = tconv_lsq_new (parts[0]->ay.s, parts[0]->ax.s, parts[0]->ay.k, parts[0]->ax.k,
                      parts[0]->ay.pad, parts[0]->ax.pad, &merged, err);
  sse = st == TCONV_OK ? calloc (n, sizeof *sse) : NULL;
  if (st == TCONV_OK && sse == NULL)
    st = tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "lsq balanced: out of memory");
  for (size_t i = 0; st == TCONV_OK && i < n; i++)
    st = tconv_lsq_merge (merged, parts[i], 1.0, err);
  if (st == TCONV_OK)
    st = tconv_lsq_solve (merged, options, kernel, NULL, err);

  for (unsigned pass = 0; st == TCONV_OK && pass < passes; pass++)
    {
      mean_log = 0.0;
      for (size_t i = 0; st == TCONV_OK && i < n; i++)
        {
          double mse;
          st = tconv_lsq_mse (parts[i], *kernel, &mse, err);
          sse[i] = fmax (mse, floor_mse) * (double) tconv_lsq_samples (parts[i]);
          mean_log += log (sse[i]) / (double) n;
        }
      memset (merged->gram, 0, merged->n * merged->n * sizeof (double));
      memset (merged->cross, 0, merged->ay.s * merged->ax.s * merged->n * sizeof (double));
      memset (merged->hr_sq, 0, merged->ay.s * merged->ax.s * sizeof (double));
      merged->anchors = 0;
      for (size_t i = 0; st == TCONV_OK && i < n; i++)
        st = tconv_lsq_merge (merged, parts[i], exp (mean_log - log (sse[i])), err);
      tconv_kernel_free (*kernel);
      *kernel = NULL;
      if (st == TCONV_OK)
        st = tconv_lsq_solve (merged, options, kernel, NULL, err);
    }

  /* the statistics are those of the plain pooled error, as tconv_lsq_solve() reports */
  total_sse = 0.0;
  for (size_t i = 0; st == TCONV_OK && i < n; i++)
    {
      double mse;
      st = tconv_lsq_mse (parts[i], *kernel, &mse, err);
      total_sse += mse * (double) tconv_lsq_samples (parts[i]);
    }
  if (st == TCONV_OK && stats != NULL)
    {
      stats->samples = total;
      stats->mse = total_sse / (double) total;
    }
  if (st != TCONV_OK)
    {
      tconv_kernel_free (*kernel);
      *kernel = NULL;
    }
  tconv_lsq_free (merged);
  free (sse);
  return st;
}
