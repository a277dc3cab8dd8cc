/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 8-bit path: depthwise transposed convolution from interleaved 8-bit rows to
 * interleaved 8-bit rows, vectorised along the output row itself.
 *
 * Each input row is first "expanded": every pixel repeated stride_w times, as floats. Output
 * sample L = x * C + c of a row then reads, for tap j of kernel row ky, the expanded sample
 * L + off_j of input row iy, with a weight that depends only on L mod (stride_w * C) (the
 * output phase and the channel). So eight consecutive output samples are one vector multiply-add
 * per tap, whatever the stride and channel count, and the results come out already interleaved:
 * rounding to 8 bits is a plain vector conversion. The weight pattern has period P = s * C
 * samples; eight lanes cycle through U = P / gcd (P, 8) patterns, kept per tap. Output rows
 * y and y + stride_h use the same taps on input rows one apart, so they are computed in pairs
 * and each weight vector is loaded once for both.
 *
 * Invariant: every output sample is computed by the same operations in the same order (bias,
 * then the taps in a fixed order), whatever row range or column chunk computes it. */
#include "tconv-private.h"

#include <inttypes.h>
#include <string.h>
#ifdef TCONV_HAVE_CLONES
#include <immintrin.h>
#endif

#define LANES    8    /* floats per vector */
#define STRIP    32   /* output samples per inner iteration: 4 independent accumulators */
#define CHUNK    2048 /* output samples per column chunk: the expanded rows stay in L2 */
#define MAX_TAPS 1024 /* per output row; more goes through the float path */
#define MAX_U    64   /* weight patterns per tap */
#define ALIGN    64   /* bytes: each table of the plan starts on a cache line */

typedef struct
{
  size_t       r;   /* input row base - r */
  ptrdiff_t    off; /* expanded index of output sample 0 */
  const float *w;   /* U * LANES weights: pattern k for vectors whose index is k mod U */
} tap;

/* Output samples [L0, L1) of one row (@x2 NULL), or of two rows that take the same taps from
 * different input rows (@x and @x2, into @out and @out2). */
typedef void (*span_fn) (const tconv_u8_plan *p, const tap *taps, size_t n_taps,
                         const float *const *x, const float *const *x2, size_t L0, size_t L1,
                         uint8_t *out, uint8_t *out2);

struct tconv_u8_plan
{
  size_t  C, s_w, s_h, k_h, k_w, J, P, U;
  int64_t pad_h, pad_w, col_lo;
  size_t  cols, out_w, out_h;
  size_t  n_taps[TCONV_MAX_STRIDE]; /* per output row phase */
  size_t  r_min[TCONV_MAX_STRIDE], r_max[TCONV_MAX_STRIDE]; /* rows its taps read */
  tap    *taps[TCONV_MAX_STRIDE];
  float  *bias;                     /* U * LANES */
  span_fn span;                     /* portable or x86-64-v3 build of row_span */
  unsigned paths;                   /* TCONV_CPU_CLONES when span is the x86-64-v3 build */
  /* Expansion by byte shuffles (x86-64-v3): expanded vector k of each period of U vectors
   * takes source bytes ex_base[k] + ex_shuf[k][0..7] from the period's start, which moves
   * by ex_step source bytes per period. */
  uint8_t ex_shuf[MAX_U][16];
  size_t  ex_base[MAX_U], ex_step;
};

static size_t
gcd (size_t a, size_t b)
{
  while (b != 0)
    {
      size_t t = a % b;
      a = b;
      b = t;
    }
  return a;
}

static size_t
round_up (size_t n)
{
  return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* The geometry checks of every entry point; fills the kernel-row and column tap counts. */
static tconv_status
check_geometry (const tconv_geometry *g, size_t *R, size_t *J, size_t *U, tconv_error *err)
{
  size_t P;

  if (g == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "geometry is NULL");
  if (g->in_c == 0 || g->in_c > 4 || g->groups != g->in_c || g->out_c != g->in_c)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "8-bit path: in_c %zu, out_c %zu, groups %zu: must be depthwise "
                       "(groups == in_c == out_c) with 1..4 channels",
                       g->in_c, g->out_c, g->groups);
  if (g->dil_h != 1 || g->dil_w != 1)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "8-bit path: dilation %zux%zu: must be 1x1", g->dil_h, g->dil_w);
  if (g->stride_h == 0 || g->stride_w == 0 || g->stride_h > TCONV_MAX_STRIDE
      || g->stride_w > TCONV_MAX_STRIDE || g->k_h == 0 || g->k_w == 0 || g->out_h == 0
      || g->out_w == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "8-bit path: geometry not from tconv_geometry_init()");
  *R = (g->k_h + g->stride_h - 1) / g->stride_h;
  *J = (g->k_w + g->stride_w - 1) / g->stride_w;
  P = g->stride_w * g->in_c;
  *U = P / gcd (P, LANES);
  if (*R * *J > MAX_TAPS)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "8-bit path: %zu taps per output row: must be <= %d", *R * *J, MAX_TAPS);
  if (*U > MAX_U)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "8-bit path: stride_w %zu x %zu channels repeats every %zu vectors: "
                       "must be <= %d", g->stride_w, g->in_c, *U, MAX_U);
  return TCONV_OK;
}

tconv_status
tconv_u8_columns (const tconv_geometry *g, int64_t *lo, size_t *n, tconv_error *err)
{
  size_t       R = 0, J = 0, U = 0;
  tconv_status st = check_geometry (g, &R, &J, &U, err);

  if (st != TCONV_OK)
    return st;
  if (lo == NULL || n == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "tconv_u8_columns: lo or n is NULL");
  const int64_t s = (int64_t) g->stride_w;
  const int64_t a = tconv_floor_div ((int64_t) g->pad_w, s) - ((int64_t) J - 1);
  const int64_t b = tconv_floor_div ((int64_t) g->out_w - 1 + (int64_t) g->pad_w, s);

  *lo = a;
  *n = (size_t) (b - a + 1);
  return TCONV_OK;
}

/* Byte layout of a plan: the struct, the taps, their weights, the bias; each table aligned. */
static size_t
plan_bytes (const tconv_geometry *g, size_t R, size_t J, size_t U, size_t *at_taps,
            size_t *at_w, size_t *at_bias)
{
  const size_t n = g->stride_h * R * J; /* <= 64 * 1024: no product below can overflow */

  *at_taps = round_up (sizeof (tconv_u8_plan));
  *at_w = *at_taps + round_up (n * sizeof (tap));
  *at_bias = *at_w + round_up (n * U * LANES * sizeof (float));
  return *at_bias + round_up (U * LANES * sizeof (float)) + ALIGN; /* + ALIGN: to align @mem */
}

tconv_status
tconv_u8_plan_size (const tconv_geometry *g, size_t *bytes, tconv_error *err)
{
  size_t       R = 0, J = 0, U = 0, a, b, c;
  tconv_status st = check_geometry (g, &R, &J, &U, err);

  if (st != TCONV_OK)
    return st;
  if (bytes == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "tconv_u8_plan_size: bytes is NULL");
  *bytes = plan_bytes (g, R, J, U, &a, &b, &c);
  return TCONV_OK;
}

/* The weights of tap (ky, j) for every lane pattern; false when they are all zero. */
static int
tap_weights (const tconv_u8_plan *p, const float *weight, size_t ky, size_t j, float *w)
{
  int any = 0;

  for (size_t i = 0; i < p->U * LANES; i++)
    {
      const size_t lam = i % p->P, c = lam % p->C;
      const size_t ph = (size_t) ((int64_t) (lam / p->C) + p->pad_w) % p->s_w;
      const size_t kx = ph + j * p->s_w;

      w[i] = kx < p->k_w ? weight[(c * p->k_h + ky) * p->k_w + kx] : 0.0f;
      any |= w[i] != 0.0f;
    }
  return any;
}

static void row_span_portable (const tconv_u8_plan *p, const tap *taps, size_t n_taps,
                               const float *const *x, const float *const *x2, size_t L0,
                               size_t L1, uint8_t *out, uint8_t *out2);
#ifdef TCONV_HAVE_CLONES
static void row_span_v3 (const tconv_u8_plan *p, const tap *taps, size_t n_taps,
                         const float *const *x, const float *const *x2, size_t L0, size_t L1,
                         uint8_t *out, uint8_t *out2);
#endif

/* The fixed fields of a plan. */
static void
plan_header (tconv_u8_plan *p, const tconv_geometry *g, size_t J, size_t U, int64_t col_lo,
             size_t cols)
{
  memset (p, 0, sizeof *p);
  p->C = g->in_c, p->s_w = g->stride_w, p->s_h = g->stride_h;
  p->k_h = g->k_h, p->k_w = g->k_w;
  p->J = J;
  p->P = p->s_w * p->C;
  p->U = U;
  p->pad_h = (int64_t) g->pad_h, p->pad_w = (int64_t) g->pad_w;
  p->col_lo = col_lo, p->cols = cols;
  p->out_w = g->out_w, p->out_h = g->out_h;
  p->span = row_span_portable;
  for (size_t k = 0; k < U; k++)
    {
      /* expanded sample e reads source sample e / P * C + e % C; the lowest of a vector's
       * eight lies at most 7 / s_w + 2C - 1 <= 14 samples below its highest */
      p->ex_base[k] = k * LANES / p->P * p->C;
      for (size_t l = 0; l < 16; l++)
        {
          const size_t e = k * LANES + l % LANES;
          p->ex_shuf[k][l] = (uint8_t) (e / p->P * p->C + e % p->C - p->ex_base[k]);
        }
    }
  p->ex_step = U * LANES / p->P * p->C;
#ifdef TCONV_HAVE_CLONES
  if (tconv_cpu_paths () & TCONV_CPU_CLONES)
    p->span = row_span_v3, p->paths = TCONV_CPU_CLONES;
#endif
}

tconv_status
tconv_u8_plan_init (const tconv_geometry *g, const float *weight, const float *bias,
                    int64_t col_lo, size_t cols, void *mem, size_t mem_bytes,
                    tconv_u8_plan **plan, tconv_error *err)
{
  size_t        R = 0, J = 0, U = 0, at_taps, at_w, at_bias, need_n, total = 0;
  int64_t       need_lo;
  tconv_status  st = tconv_u8_columns (g, &need_lo, &need_n, err);
  unsigned char *base;
  tconv_u8_plan *p;

  if (st != TCONV_OK)
    return st;
  check_geometry (g, &R, &J, &U, NULL);
  if (weight == NULL || mem == NULL || plan == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "tconv_u8_plan_init: weight, mem or plan is NULL");
  if (col_lo > need_lo || col_lo < -(int64_t) TCONV_MAX_SIDE || cols > 4 * (size_t) TCONV_MAX_SIDE
      || (int64_t) cols < need_lo + (int64_t) need_n - col_lo)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "8-bit path: row buffers hold columns %" PRId64 "..%" PRId64
                       ": must cover %" PRId64 "..%" PRId64, col_lo, col_lo + (int64_t) cols - 1,
                       need_lo, need_lo + (int64_t) need_n - 1);
  if (mem_bytes < plan_bytes (g, R, J, U, &at_taps, &at_w, &at_bias))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "8-bit path: plan memory of %zu bytes: must be >= %zu (tconv_u8_plan_size)",
                       mem_bytes, plan_bytes (g, R, J, U, &at_taps, &at_w, &at_bias));

  base = (unsigned char *) mem + (ALIGN - (uintptr_t) mem % ALIGN) % ALIGN;
  p = (tconv_u8_plan *) base;
  plan_header (p, g, J, U, col_lo, cols);
  p->bias = (float *) (base + at_bias);
  for (size_t i = 0; i < U * LANES; i++)
    p->bias[i] = bias != NULL ? bias[((i % p->P) % p->C)] * 255.0f : 0.0f;

  for (size_t py = 0; py < p->s_h; py++)
    {
      p->taps[py] = (tap *) (base + at_taps) + total;
      for (size_t r = 0; py + r * p->s_h < p->k_h; r++)
        for (size_t j = 0; j < J; j++)
          {
            float *w = (float *) (base + at_w) + (total + p->n_taps[py]) * U * LANES;

            if (!tap_weights (p, weight, py + r * p->s_h, j, w))
              continue; /* adds nothing to any sample: skipped for every sample alike */
            if (p->n_taps[py] == 0 || r < p->r_min[py])
              p->r_min[py] = r;
            if (r > p->r_max[py])
              p->r_max[py] = r;
            p->taps[py][p->n_taps[py]++] = (tap) {
              .r = r, .w = w,
              .off = (ptrdiff_t) ((p->pad_w - col_lo * (int64_t) p->s_w - (int64_t) (j * p->s_w))
                                  * (int64_t) p->C),
            };
          }
      total += p->n_taps[py];
    }
  *plan = p;
  return TCONV_OK;
}

size_t
tconv_u8_row_floats (const tconv_u8_plan *plan)
{
  return plan != NULL ? plan->cols * plan->s_w * plan->C : 0;
}

unsigned
tconv_u8_plan_paths (const tconv_u8_plan *plan)
{
  return plan != NULL ? plan->paths : 0;
}

#ifdef TCONV_HAVE_CLONES
/* Whole periods of U vectors of the expanded row while every 16-byte load stays inside @src;
 * returns the number of floats written. */
TCONV_TARGET_V3 static size_t
expand_v3 (const tconv_u8_plan *p, const uint8_t *src, float *dst)
{
  const size_t n_src = p->cols * p->C, n_vec = p->cols * p->P / LANES, U = p->U;
  const size_t last = p->ex_base[U - 1] + 16; /* bytes a period reads from its start */
  size_t       m = 0;

  for (; (m + 1) * U <= n_vec && m * p->ex_step + last <= n_src; m++, dst += U * LANES)
    {
      const uint8_t *period = src + m * p->ex_step;

      for (size_t k = 0; k < U; k++)
        {
          __m128i x = _mm_loadu_si128 ((const __m128i *) (period + p->ex_base[k]));
          x = _mm_shuffle_epi8 (x, _mm_loadu_si128 ((const __m128i *) p->ex_shuf[k]));
          _mm256_storeu_ps (dst + k * LANES, _mm256_cvtepi32_ps (_mm256_cvtepu8_epi32 (x)));
        }
    }
  return m * U * LANES;
}
#endif

tconv_status
tconv_u8_expand (const tconv_u8_plan *p, const uint8_t *src, float *dst, tconv_error *err)
{
  if (p == NULL || src == NULL || dst == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "tconv_u8_expand: plan, src or dst is NULL");

  const size_t C = p->C, s = p->s_w;
  size_t       done = 0;

#ifdef TCONV_HAVE_CLONES
  if (p->paths & TCONV_CPU_CLONES)
    done = expand_v3 (p, src, dst);
#endif
  /* the rest, from the first pixel not wholly written: every pixel repeated s_w times */
  for (size_t x = done / p->P; x < p->cols; x++)
    for (size_t q = 0; q < s; q++)
      for (size_t c = 0; c < C; c++)
        dst[(x * s + q) * C + c] = (float) src[x * C + c];
  return TCONV_OK;
}

#if defined(__GNUC__)
typedef float v8f __attribute__ ((vector_size (LANES * sizeof (float))));

/* A macro, not a function: clang refuses 256-bit vectors passed or returned across a call
 * in code built without AVX (the portable build), GCC splits them. */
#define LOAD8(v, p) memcpy (&(v), (p), sizeof (v))
#endif

/* Rounded to nearest and clamped to 0..255; NaN gives 0. A plain loop over a fixed count,
 * which the compiler turns into vector min/max and conversions. */
static void
store_strip (const float *acc, uint8_t *out)
{
  for (size_t l = 0; l < STRIP; l++)
    {
      float v = acc[l] + 0.5f;
      v = v > 0.0f ? v : 0.0f;
      v = v < 255.0f ? v : 255.0f;
      out[l] = (uint8_t) (int32_t) v;
    }
}

#ifdef TCONV_HAVE_CLONES
/* The same in x86-64-v3 instructions. The compiler cannot know the clamped values fit a
 * byte, so it masks before packing; the packs here saturate, which gives the same bytes.
 * max (v, 0) returns its second operand for NaN, as v > 0 ? v : 0 does. */
TCONV_TARGET_V3 static void
store_strip_v3 (const float *acc, uint8_t *out)
{
  const __m256 half = _mm256_set1_ps (0.5f), zero = _mm256_setzero_ps ();
  const __m256 top = _mm256_set1_ps (255.0f);
  __m256i      q[4];

  for (int i = 0; i < 4; i++)
    {
      __m256 v = _mm256_add_ps (_mm256_loadu_ps (acc + i * LANES), half);
      v = _mm256_min_ps (_mm256_max_ps (v, zero), top);
      q[i] = _mm256_cvttps_epi32 (v);
    }
  /* the packs work per 128-bit lane; the permutation puts the eight groups back in order */
  const __m256i b = _mm256_packus_epi16 (_mm256_packs_epi32 (q[0], q[1]),
                                         _mm256_packs_epi32 (q[2], q[3]));
  _mm256_storeu_si256 ((__m256i *) out,
                       _mm256_permutevar8x32_epi32 (b, _mm256_setr_epi32 (0, 4, 1, 5, 2, 6, 3, 7)));
}
#endif

/* One strip of STRIP samples from vector index L / LANES, weight patterns k0..k3, into @out.
 * A macro so that one and two rows share it; the accumulators stay in registers. */
#define STRIP_BODY(X, OUT)                                                                  \
  do                                                                                        \
    {                                                                                       \
      v8f   a0, a1, a2, a3;                                                                 \
      float acc[STRIP];                                                                     \
      LOAD8 (a0, p->bias + k0), LOAD8 (a1, p->bias + k1);                                   \
      LOAD8 (a2, p->bias + k2), LOAD8 (a3, p->bias + k3);                                   \
      for (size_t t = 0; t < n_taps; t++)                                                   \
        {                                                                                   \
          const float *xi = (X)[t] + L, *w = taps[t].w;                                     \
          v8f          w0, w1, w2, w3, x0, x1, x2_, x3;                                     \
          LOAD8 (w0, w + k0), LOAD8 (w1, w + k1), LOAD8 (w2, w + k2), LOAD8 (w3, w + k3);   \
          LOAD8 (x0, xi), LOAD8 (x1, xi + LANES), LOAD8 (x2_, xi + 2 * LANES);              \
          LOAD8 (x3, xi + 3 * LANES);                                                       \
          a0 += w0 * x0, a1 += w1 * x1, a2 += w2 * x2_, a3 += w3 * x3;                      \
        }                                                                                   \
      memcpy (acc, &a0, sizeof a0), memcpy (acc + LANES, &a1, sizeof a1);                   \
      memcpy (acc + 2 * LANES, &a2, sizeof a2), memcpy (acc + 3 * LANES, &a3, sizeof a3);   \
      store (acc, (OUT) + (L - L0));                                                        \
    }                                                                                       \
  while (0)

/* Two rows' strips together: the weights are loaded once for both. */
#define STRIP_BODY2(X, X2, OUT, OUT2)                                                       \
  do                                                                                        \
    {                                                                                       \
      v8f   a0, a1, a2, a3, b0, b1, b2, b3;                                                 \
      float acc[STRIP];                                                                     \
      LOAD8 (a0, p->bias + k0), LOAD8 (a1, p->bias + k1);                                   \
      LOAD8 (a2, p->bias + k2), LOAD8 (a3, p->bias + k3);                                   \
      b0 = a0, b1 = a1, b2 = a2, b3 = a3;                                                   \
      for (size_t t = 0; t < n_taps; t++)                                                   \
        {                                                                                   \
          const float *xi = (X)[t] + L, *yi = (X2)[t] + L, *w = taps[t].w;                  \
          v8f          w0, w1, w2, w3, x0, x1, x2_, x3;                                     \
          LOAD8 (w0, w + k0), LOAD8 (w1, w + k1), LOAD8 (w2, w + k2), LOAD8 (w3, w + k3);   \
          LOAD8 (x0, xi), LOAD8 (x1, xi + LANES), LOAD8 (x2_, xi + 2 * LANES);              \
          LOAD8 (x3, xi + 3 * LANES);                                                       \
          a0 += w0 * x0, a1 += w1 * x1, a2 += w2 * x2_, a3 += w3 * x3;                      \
          LOAD8 (x0, yi), LOAD8 (x1, yi + LANES), LOAD8 (x2_, yi + 2 * LANES);              \
          LOAD8 (x3, yi + 3 * LANES);                                                       \
          b0 += w0 * x0, b1 += w1 * x1, b2 += w2 * x2_, b3 += w3 * x3;                      \
        }                                                                                   \
      memcpy (acc, &a0, sizeof a0), memcpy (acc + LANES, &a1, sizeof a1);                   \
      memcpy (acc + 2 * LANES, &a2, sizeof a2), memcpy (acc + 3 * LANES, &a3, sizeof a3);   \
      store (acc, (OUT) + (L - L0));                                                        \
      memcpy (acc, &b0, sizeof b0), memcpy (acc + LANES, &b1, sizeof b1);                   \
      memcpy (acc + 2 * LANES, &b2, sizeof b2), memcpy (acc + 3 * LANES, &b3, sizeof b3);   \
      store (acc, (OUT2) + (L - L0));                                                       \
    }                                                                                       \
  while (0)

/* Samples [L, L1) of one row one at a time, in the same order as the strips. */
static inline void
row_rest (const tconv_u8_plan *p, const tap *taps, size_t n_taps, const float *const *x,
          size_t L, size_t L0, size_t L1, uint8_t *out)
{
  for (; L < L1; L++)
    {
      const size_t k = ((L / LANES) % p->U) * LANES + L % LANES;
      float        a = p->bias[k], v;

      for (size_t t = 0; t < n_taps; t++)
        a += taps[t].w[k] * x[t][L];
      v = a + 0.5f;
      v = v > 0.0f ? v : 0.0f;
      v = v < 255.0f ? v : 255.0f;
      out[L - L0] = (uint8_t) v;
    }
}

/* See span_fn; L0 is a multiple of LANES. @x[t] is tap t's expanded input row, already offset
 * so that x[t][L] is what sample L reads. Inlined into one portable and one x86-64-v3
 * function, chosen per plan. */
#if defined(__GNUC__)
__attribute__ ((always_inline))
#endif
static inline void
row_span (const tconv_u8_plan *p, const tap *taps, size_t n_taps, const float *const *x,
          const float *const *x2, size_t L0, size_t L1, uint8_t *out, uint8_t *out2,
          void (*store) (const float *, uint8_t *))
{
  const size_t U = p->U;
  size_t       L = L0;

#if defined(__GNUC__)
  /* the weight pattern of vector L / LANES, counted on rather than divided for */
  for (size_t u = L / LANES % U; L + STRIP <= L1; L += STRIP)
    {
      const size_t u1 = u + 1 < U ? u + 1 : 0, u2 = u1 + 1 < U ? u1 + 1 : 0;
      const size_t u3 = u2 + 1 < U ? u2 + 1 : 0;
      const size_t k0 = u * LANES, k1 = u1 * LANES, k2 = u2 * LANES, k3 = u3 * LANES;

      u = u3 + 1 < U ? u3 + 1 : 0;
      if (x2 == NULL)
        STRIP_BODY (x, out);
      else
        STRIP_BODY2 (x, x2, out, out2);
    }
#endif
  row_rest (p, taps, n_taps, x, L, L0, L1, out);
  if (x2 != NULL)
    row_rest (p, taps, n_taps, x2, L, L0, L1, out2);
}

static void
row_span_portable (const tconv_u8_plan *p, const tap *taps, size_t n_taps,
                   const float *const *x, const float *const *x2, size_t L0, size_t L1,
                   uint8_t *out, uint8_t *out2)
{
  if (x2 == NULL)
    row_span (p, taps, n_taps, x, NULL, L0, L1, out, NULL, store_strip);
  else
    row_span (p, taps, n_taps, x, x2, L0, L1, out, out2, store_strip);
}

#ifdef TCONV_HAVE_CLONES
TCONV_TARGET_V3 static void
row_span_v3 (const tconv_u8_plan *p, const tap *taps, size_t n_taps, const float *const *x,
             const float *const *x2, size_t L0, size_t L1, uint8_t *out, uint8_t *out2)
{
  if (x2 == NULL)
    row_span (p, taps, n_taps, x, NULL, L0, L1, out, NULL, store_strip_v3);
  else
    row_span (p, taps, n_taps, x, x2, L0, L1, out, out2, store_strip_v3);
}
#endif

/* The input rows [*lo, *hi] that output rows [y0, y1) read; *lo > *hi when none. The base row
 * rises by one every s_h output rows at the same phase, so the extremes lie in the first and
 * the last s_h rows. */
static void
rows_read (const tconv_u8_plan *p, size_t y0, size_t y1, int64_t *lo, int64_t *hi)
{
  const size_t s = p->s_h;

  *lo = INT64_MAX, *hi = INT64_MIN;
  for (size_t y = y0; y < y1 && y < y0 + s; y++)
    {
      const int64_t t = (int64_t) y + p->pad_h, py = t % (int64_t) s;
      if (p->n_taps[py] > 0 && t / (int64_t) s - (int64_t) p->r_max[py] < *lo)
        *lo = t / (int64_t) s - (int64_t) p->r_max[py];
    }
  for (size_t y = y1 > y0 + s ? y1 - s : y0; y < y1; y++)
    {
      const int64_t t = (int64_t) y + p->pad_h, py = t % (int64_t) s;
      if (p->n_taps[py] > 0 && t / (int64_t) s - (int64_t) p->r_min[py] > *hi)
        *hi = t / (int64_t) s - (int64_t) p->r_min[py];
    }
}

tconv_status
tconv_u8_rows (const tconv_u8_plan *p, const float *const *rows, int64_t row0, size_t n_rows,
               size_t y0, size_t y1, uint8_t *out, size_t out_stride, tconv_error *err)
{
  const float *x[MAX_TAPS], *x2[MAX_TAPS];
  int64_t      lo, hi;

  if (p == NULL || rows == NULL || out == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "tconv_u8_rows: plan, rows or out is NULL");
  if (y0 >= y1 || y1 > p->out_h)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "output rows %zu..%zu: must be a non-empty range inside 0..%zu",
                       y0, y1, p->out_h);
  if (out_stride < p->out_w * p->C)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "out_stride %zu: must be >= out_w * channels = %zu", out_stride,
                       p->out_w * p->C);
  rows_read (p, y0, y1, &lo, &hi);
  if (lo <= hi && (row0 > lo || row0 < -(int64_t) TCONV_MAX_SIDE || n_rows > 4 * (size_t) TCONV_MAX_SIDE
                   || row0 + (int64_t) n_rows <= hi))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "expanded rows %" PRId64 "..%" PRId64 " given: output rows %zu..%zu read "
                       "input rows %" PRId64 "..%" PRId64, row0, row0 + (int64_t) n_rows - 1,
                       y0, y1 - 1, lo, hi);

  const size_t lanes = p->out_w * p->C;
  for (size_t L0 = 0; L0 < lanes; L0 += CHUNK)
    {
      const size_t L1 = L0 + CHUNK < lanes ? L0 + CHUNK : lanes;

      for (size_t y = y0; y < y1; y++)
        {
          /* Rows y and y + s_h take the same taps, one input row apart: the rows of every
           * other block of s_h rows are computed with their partner in the next block. */
          const size_t  s = p->s_h, block = (y - y0) / s;
          const int64_t t = (int64_t) y + p->pad_h;
          const size_t  py = (size_t) (t % (int64_t) s);
          const int64_t base = t / (int64_t) s - row0;
          const tap    *taps = p->taps[py];
          uint8_t      *o = out + (y - y0) * out_stride + L0;

          if (block % 2 == 1)
            continue;
          for (size_t i = 0; i < p->n_taps[py]; i++)
            x[i] = rows[base - (int64_t) taps[i].r] + taps[i].off;
          if (y + s >= y1)
            {
              p->span (p, taps, p->n_taps[py], x, NULL, L0, L1, o, NULL);
              continue;
            }
          for (size_t i = 0; i < p->n_taps[py]; i++)
            x2[i] = rows[base + 1 - (int64_t) taps[i].r] + taps[i].off;
          p->span (p, taps, p->n_taps[py], x, x2, L0, L1, o, o + s * out_stride);
        }
    }
  return TCONV_OK;
}
