/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 8-bit fast path: depthwise transposed convolution from interleaved 8-bit rows to
 * interleaved 8-bit rows, vectorised along the output row itself.
 *
 * Each input row is first "expanded": every pixel repeated stride_w times, as floats. Output
 * sample L = x * C + c of a row then reads, for tap j of kernel row ky, the expanded sample
 * L + off_j of input row iy, with a weight that depends only on L mod (stride_w * C) (the
 * output phase and the channel). So eight consecutive output samples are one vector multiply-add
 * per tap, whatever the stride and channel count, and the results come out already interleaved:
 * rounding to 8 bits is a plain vector conversion. The weight pattern has period P = s * C
 * samples; eight lanes cycle through U = P / gcd (P, 8) patterns, kept per tap.
 *
 * Invariant: every output sample is computed by the same operations in the same order (bias,
 * then the taps in a fixed order), whatever row range or column chunk computes it. */
#include "tconv-fast8.h"

#include <stdlib.h>
#include <string.h>

#define LANES      8    /* floats per vector */
#define STRIP      32   /* output samples per inner iteration: 4 independent accumulators */
#define CHUNK      2048 /* output samples per column chunk: the expanded rows stay in L2 */
#define MAX_TAPS   1024 /* per output row; more goes through the general path */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang_analyzer__) \
  && !defined(TCONV_NO_CLONES)
#define FAST8_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define FAST8_CLONES
#endif

typedef struct
{
  size_t       r;   /* input row base - r */
  ptrdiff_t    off; /* expanded index of output sample 0 */
  const float *w;   /* U * LANES weights: pattern k for vectors whose index is k mod U */
} tap;

struct tconv_fast8
{
  size_t  C, s_w, s_h, k_h, k_w, J, P, U;
  int64_t pad_h, pad_w, col_lo;
  size_t  cols, out_w, out_h;
  size_t  n_taps[TCONV_MAX_STRIDE]; /* per output row phase */
  tap    *taps[TCONV_MAX_STRIDE];
  float  *bias;                     /* U * LANES */
  float  *wmem;
  tap    *tapmem;
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

static int64_t
floor_div (int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

void
tconv_fast8_columns (const tconv_geometry *g, int64_t *lo, size_t *n)
{
  const int64_t s = (int64_t) g->stride_w, J = (int64_t) ((g->k_w + g->stride_w - 1) / g->stride_w);
  const int64_t a = floor_div ((int64_t) g->pad_w, s) - (J - 1);
  const int64_t b = floor_div ((int64_t) g->out_w - 1 + (int64_t) g->pad_w, s);

  *lo = a;
  *n = (size_t) (b - a + 1);
}

void
tconv_fast8_free (tconv_fast8 *plan)
{
  if (plan == NULL)
    return;
  free (plan->wmem);
  free (plan->tapmem);
  free (plan->bias);
  free (plan);
}

tconv_fast8 *
tconv_fast8_new (const tconv_geometry *g, const float *weight, const float *bias, int64_t col_lo,
                 size_t cols)
{
  tconv_fast8 *p;
  int64_t      need_lo;
  size_t       need_n, R, total = 0;

  if (g == NULL || weight == NULL || g->in_c == 0 || g->in_c > 4 || g->groups != g->in_c
      || g->out_c != g->in_c || g->dil_h != 1 || g->dil_w != 1 || g->stride_w == 0
      || g->stride_h == 0 || g->stride_h > TCONV_MAX_STRIDE)
    return NULL;
  tconv_fast8_columns (g, &need_lo, &need_n);
  if (col_lo > need_lo || (int64_t) cols < need_lo + (int64_t) need_n - col_lo)
    return NULL;
  R = (g->k_h + g->stride_h - 1) / g->stride_h;
  if ((p = calloc (1, sizeof *p)) == NULL)
    return NULL;
  p->C = g->in_c, p->s_w = g->stride_w, p->s_h = g->stride_h;
  p->k_h = g->k_h, p->k_w = g->k_w;
  p->J = (g->k_w + g->stride_w - 1) / g->stride_w;
  p->P = p->s_w * p->C;
  p->U = p->P / gcd (p->P, LANES);
  p->pad_h = (int64_t) g->pad_h, p->pad_w = (int64_t) g->pad_w;
  p->col_lo = col_lo, p->cols = cols;
  p->out_w = g->out_w, p->out_h = g->out_h;
  if (R * p->J > MAX_TAPS || p->U > 64)
    {
      free (p);
      return NULL;
    }

  p->tapmem = malloc (sizeof (tap) * p->s_h * R * p->J);
  p->wmem = malloc (sizeof (float) * p->s_h * R * p->J * p->U * LANES);
  p->bias = malloc (sizeof (float) * p->U * LANES);
  if (p->tapmem == NULL || p->wmem == NULL || p->bias == NULL)
    {
      tconv_fast8_free (p);
      return NULL;
    }
  for (size_t i = 0; i < p->U * LANES; i++)
    p->bias[i] = bias != NULL ? bias[((i % p->P) % p->C)] * 255.0f : 0.0f;

  for (size_t py = 0; py < p->s_h; py++)
    {
      p->taps[py] = p->tapmem + total;
      for (size_t r = 0; py + r * p->s_h < p->k_h; r++)
        for (size_t j = 0; j < p->J; j++)
          {
            const size_t ky = py + r * p->s_h;
            float       *w = p->wmem + (p->taps[py] - p->tapmem + p->n_taps[py]) * p->U * LANES;
            int          any = 0;

            for (size_t i = 0; i < p->U * LANES; i++)
              {
                const size_t lam = i % p->P, c = lam % p->C;
                const size_t ph = (size_t) ((int64_t) (lam / p->C) + p->pad_w) % p->s_w;
                const size_t kx = ph + j * p->s_w;

                w[i] = kx < p->k_w ? weight[(c * p->k_h + ky) * p->k_w + kx] : 0.0f;
                any |= w[i] != 0.0f;
              }
            if (!any)
              continue; /* adds nothing to any sample: skipped for every sample alike */
            p->taps[py][p->n_taps[py]++] = (tap) {
              .r = r, .w = w,
              .off = (ptrdiff_t) ((p->pad_w - col_lo * (int64_t) p->s_w - (int64_t) (j * p->s_w))
                                  * (int64_t) p->C),
            };
          }
      total += p->n_taps[py];
    }
  return p;
}

size_t
tconv_fast8_row_floats (const tconv_fast8 *plan)
{
  return plan->cols * plan->s_w * plan->C;
}

void
tconv_fast8_expand (const tconv_fast8 *p, const uint8_t *src, float *dst)
{
  const size_t C = p->C, s = p->s_w;

  for (size_t x = 0; x < p->cols; x++, src += C)
    for (size_t q = 0; q < s; q++, dst += C)
      for (size_t c = 0; c < C; c++)
        dst[c] = (float) src[c];
}

#if defined(__GNUC__)
typedef float v8f __attribute__ ((vector_size (LANES * sizeof (float))));

/* A macro, not a function: clang refuses 256-bit vectors passed or returned across a call
 * in code built without AVX (the default clone), GCC splits them. */
#define LOAD8(v, p) memcpy (&(v), (p), sizeof (v))
#endif

/* Rounded to nearest and clamped to 0..255; NaN gives 0. A plain loop over a fixed count,
 * which the compiler turns into vector min/max and conversions. */
static inline void
store_strip (const float *acc, uint8_t *out)
{
  for (size_t l = 0; l < STRIP; l++)
    {
      float v = acc[l] + 0.5f;
      v = v > 0.0f ? v : 0.0f;
      v = v < 255.0f ? v : 255.0f;
      out[l] = (uint8_t) v;
    }
}

/* Output samples [L0, L1) of one row; L0 is a multiple of LANES. @x[t] is tap t's expanded
 * input row, already offset so that x[t][L] is what sample L reads. */
FAST8_CLONES static void
row_span (const tconv_fast8 *p, const tap *taps, size_t n_taps, const float *const *x, size_t L0,
          size_t L1, uint8_t *out)
{
  const size_t U = p->U;
  size_t       L = L0;

#if defined(__GNUC__)
  for (; L + STRIP <= L1; L += STRIP)
    {
      const size_t v = L / LANES;
      const size_t k0 = (v % U) * LANES, k1 = ((v + 1) % U) * LANES;
      const size_t k2 = ((v + 2) % U) * LANES, k3 = ((v + 3) % U) * LANES;
      v8f          a0, a1, a2, a3;
      float        acc[STRIP];

      LOAD8 (a0, p->bias + k0), LOAD8 (a1, p->bias + k1);
      LOAD8 (a2, p->bias + k2), LOAD8 (a3, p->bias + k3);
      for (size_t t = 0; t < n_taps; t++)
        {
          const float *xi = x[t] + L, *w = taps[t].w;
          v8f          w0, w1, w2, w3, x0, x1, x2, x3;

          LOAD8 (w0, w + k0), LOAD8 (w1, w + k1), LOAD8 (w2, w + k2), LOAD8 (w3, w + k3);
          LOAD8 (x0, xi), LOAD8 (x1, xi + LANES), LOAD8 (x2, xi + 2 * LANES);
          LOAD8 (x3, xi + 3 * LANES);
          a0 += w0 * x0;
          a1 += w1 * x1;
          a2 += w2 * x2;
          a3 += w3 * x3;
        }
      memcpy (acc, &a0, sizeof a0);
      memcpy (acc + LANES, &a1, sizeof a1);
      memcpy (acc + 2 * LANES, &a2, sizeof a2);
      memcpy (acc + 3 * LANES, &a3, sizeof a3);
      store_strip (acc, out + (L - L0));
    }
#endif
  /* the rest one sample at a time, in the same order */
  for (; L < L1; L++)
    {
      const size_t k = ((L / LANES) % U) * LANES + L % LANES;
      float        a = p->bias[k], v;

      for (size_t t = 0; t < n_taps; t++)
        a += taps[t].w[k] * x[t][L];
      v = a + 0.5f;
      v = v > 0.0f ? v : 0.0f;
      v = v < 255.0f ? v : 255.0f;
      out[L - L0] = (uint8_t) v;
    }
}

void
tconv_fast8_rows (const tconv_fast8 *p, const float *const *rows, int64_t row0, int64_t y0,
                  int64_t y1, uint8_t *out, size_t out_stride)
{
  const size_t lanes = p->out_w * p->C;
  const float *x[MAX_TAPS];

  for (size_t L0 = 0; L0 < lanes; L0 += CHUNK)
    {
      const size_t L1 = L0 + CHUNK < lanes ? L0 + CHUNK : lanes;

      for (int64_t y = y0; y < y1; y++)
        {
          const int64_t t = y + p->pad_h;
          const size_t  py = (size_t) (t % (int64_t) p->s_h);
          const int64_t base = t / (int64_t) p->s_h - row0;
          const tap    *taps = p->taps[py];

          for (size_t i = 0; i < p->n_taps[py]; i++)
            x[i] = rows[base - (int64_t) taps[i].r] + taps[i].off;
          row_span (p, taps, p->n_taps[py], x, L0, L1,
                    out + (size_t) (y - y0) * out_stride + L0);
        }
    }
}
