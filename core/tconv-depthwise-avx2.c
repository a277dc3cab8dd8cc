/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AVX2 + FMA row kernels of the depthwise path (see tconv-depthwise.c for the block layout):
 * RGBA floats at even and odd strides.
 * Only called after tconv_dw_have_avx2 (); each output value is computed by the same
 * instructions in the same order wherever its block lies in the row. */
#include "tconv-private.h"

#ifdef TCONV_DW_HAVE_AVX2

#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push (__attribute__ ((target ("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

/* Constant-trip loops over accumulators must unroll before scalar replacement, or GCC keeps
 * the accumulator arrays in memory and stores them on every FMA. */
#define UNROLL _Pragma ("GCC unroll 16")

/* How far ahead of the stores TCONV_DW_STORE_PREFETCH fetches lines for writing: on the Zen 5
 * host this cut the x4 RGBA upsample (1 GiB written) from 70 to 57 ms; 4-16 KiB all did. */
#define PREFETCH_AHEAD 8192

/* RGBA, even stride s = 2 * S2. The s phases of one input column m are s * 4 contiguous
 * output floats = S2 vectors, so with the input pixel broadcast to both halves a vector of
 * weights [phase 2q | phase 2q+1] gives two output pixels per FMA with no shuffles, and the
 * results store straight to the row. M blocks at a time amortise each weight load over M
 * FMAs; loads stay exact (one pixel each), the order is bias, then (row, j) ascending. */
#define DEFINE_RGBA_EVEN(S2, M)                                                                \
  static size_t rgba_even_##S2 (const tconv_dw_plan *rp, const void *const *irow,              \
                                ptrdiff_t m0, ptrdiff_t m1, float *dst, tconv_dw_store store)  \
  {                                                                                            \
    const size_t n_rows = rp->n_rows, J = rp->J;                                               \
    const int    pf = store == TCONV_DW_STORE_PREFETCH;                                       \
    const int    mode = store != TCONV_DW_STORE_STREAM ? 0                                     \
                        : (uintptr_t) dst % 32 == 0 ? 2                                        \
                        : (uintptr_t) dst % 16 == 0 ? 1                                        \
                                                    : 0;                                       \
    __m256       b[S2];                                                                        \
    ptrdiff_t    m = m0;                                                                       \
                                                                                               \
    UNROLL                                                                                     \
    for (int q = 0; q < (S2); q++)                                                             \
      b[q] = _mm256_loadu_ps (rp->bias + q * 8);                                               \
    for (; m + (M) <= m1; m += (M), dst += (M) * (S2) * 8)                                     \
      {                                                                                        \
        __m256 acc[M][S2];                                                                     \
        UNROLL                                                                                 \
        for (int k = 0; k < (M); k++)                                                          \
          UNROLL                                                                               \
          for (int q = 0; q < (S2); q++)                                                       \
            acc[k][q] = b[q];                                                                  \
        if (pf)                                                                                \
          for (int l = 0; l < (M) * (S2) * 32; l += 64)                                        \
            __builtin_prefetch ((const char *) dst + PREFETCH_AHEAD + l, 1, 3);                \
        for (size_t r = 0; r < n_rows; r++)                                                    \
          {                                                                                    \
            const float *ip = (const float *) irow[r] + m * 4;                                 \
            const float *wp = rp->w + r * J * (S2) * 8;                                        \
            for (size_t j = 0; j < J; j++, ip -= 4, wp += (S2) * 8)                            \
              {                                                                                \
                __m256 w[S2];                                                                  \
                UNROLL                                                                         \
                for (int q = 0; q < (S2); q++)                                                 \
                  w[q] = _mm256_loadu_ps (wp + q * 8);                                         \
                UNROLL                                                                         \
                for (int k = 0; k < (M); k++)                                                  \
                  {                                                                            \
                    const __m256 v = _mm256_broadcast_ps ((const __m128 *) (ip + k * 4));      \
                    UNROLL                                                                     \
                    for (int q = 0; q < (S2); q++)                                             \
                      acc[k][q] = _mm256_fmadd_ps (w[q], v, acc[k][q]);                        \
                  }                                                                            \
              }                                                                                \
          }                                                                                    \
        UNROLL                                                                                 \
        for (int k = 0; k < (M); k++)                                                          \
          UNROLL                                                                               \
          for (int q = 0; q < (S2); q++)                                                       \
            {                                                                                  \
              float *o = dst + (k * (S2) + q) * 8;                                             \
              if (mode == 2)                                                                   \
                _mm256_stream_ps (o, acc[k][q]);                                               \
              else if (mode == 1)                                                              \
                {                                                                              \
                  _mm_stream_ps (o, _mm256_castps256_ps128 (acc[k][q]));                       \
                  _mm_stream_ps (o + 4, _mm256_extractf128_ps (acc[k][q], 1));                 \
                }                                                                              \
              else                                                                             \
                _mm256_storeu_ps (o, acc[k][q]);                                               \
            }                                                                                  \
      }                                                                                        \
    if (mode)                                                                                  \
      _mm_sfence ();                                                                           \
    return (size_t) (m - m0);                                                                  \
  }

/* M * S2 accumulators plus S2 weights and one input fit the 16 vector registers. */
DEFINE_RGBA_EVEN (1, 8)
DEFINE_RGBA_EVEN (2, 4)
DEFINE_RGBA_EVEN (3, 2)
DEFINE_RGBA_EVEN (4, 2)

size_t
tconv_dw_rgba_even_unit (size_t s)
{
  return s == 2 ? 8 : s == 4 ? 4 : 2;
}

size_t
tconv_dw_rgba_even_avx2 (const tconv_dw_plan *rp, const void *const *irow, ptrdiff_t row_len,
                         ptrdiff_t m0, ptrdiff_t m1, void *dst, tconv_dw_store store)
{
  (void) row_len;
  switch (rp->s)
    {
    case 2: return rgba_even_1 (rp, irow, m0, m1, dst, store);
    case 4: return rgba_even_2 (rp, irow, m0, m1, dst, store);
    case 6: return rgba_even_3 (rp, irow, m0, m1, dst, store);
    default: return rgba_even_4 (rp, irow, m0, m1, dst, store);
    }
}

/* RGBA, odd stride up to 7: one 256-bit load holds the pixels m and m+1, accumulator p holds
 * phase p of both blocks, and the weights of (row, j, p) are the 4 channel weights repeated in
 * both halves (packed2). Stores interleave the phases back with 128-bit lane shuffles. */
size_t
tconv_dw_rgba_odd_avx2 (const tconv_dw_plan *rp, const void *const *irow, ptrdiff_t row_len,
                        ptrdiff_t m0, ptrdiff_t m1, void *dstv, tconv_dw_store store)
{
  const size_t n_rows = rp->n_rows, J = rp->J, S = rp->s;
  const float *packed2 = rp->w2;
  float       *dst = dstv;
  ptrdiff_t    m = m0;
  const int    stream = store == TCONV_DW_STORE_STREAM && (uintptr_t) dst % 16 == 0;

  (void) row_len;
  for (; m + 1 < m1; m += 2, dst += 8 * S)
    {
      __m256 acc[8];
      if (store == TCONV_DW_STORE_PREFETCH)
        for (size_t l = 0; l < 32 * S; l += 64)
          __builtin_prefetch ((const char *) dst + PREFETCH_AHEAD + l, 1, 3);
      for (size_t p = 0; p < S; p++)
        acc[p] = _mm256_broadcast_ps ((const __m128 *) (rp->bias + p * 4));
      for (size_t r = 0; r < n_rows; r++)
        {
          const float *ip = (const float *) irow[r] + m * 4;
          const float *wp = packed2 + r * J * S * 8;
          for (size_t j = 0; j < J; j++, ip -= 4, wp += S * 8)
            {
              const __m256 v = _mm256_loadu_ps (ip);
              for (size_t p = 0; p < S; p++)
                acc[p] = _mm256_fmadd_ps (_mm256_loadu_ps (wp + p * 8), v, acc[p]);
            }
        }
      /* block m = low halves of acc[0..S-1], block m+1 = high halves */
      if (stream)
        for (size_t p = 0; p < S; p++)
          {
            _mm_stream_ps (dst + p * 4, _mm256_castps256_ps128 (acc[p]));
            _mm_stream_ps (dst + S * 4 + p * 4, _mm256_extractf128_ps (acc[p], 1));
          }
      else
        {
          for (size_t p = 0; p + 1 < S; p += 2)
            {
              _mm256_storeu_ps (dst + p * 4, _mm256_permute2f128_ps (acc[p], acc[p + 1], 0x20));
              _mm256_storeu_ps (dst + S * 4 + p * 4,
                                _mm256_permute2f128_ps (acc[p], acc[p + 1], 0x31));
            }
          _mm_storeu_ps (dst + (S - 1) * 4, _mm256_castps256_ps128 (acc[S - 1]));
          _mm_storeu_ps (dst + S * 4 + (S - 1) * 4, _mm256_extractf128_ps (acc[S - 1], 1));
        }
    }
  for (; m < m1; m++, dst += 4 * S)
    {
      __m128 a[8];
      for (size_t p = 0; p < S; p++)
        a[p] = _mm_loadu_ps (rp->bias + p * 4);
      for (size_t r = 0; r < n_rows; r++)
        {
          const float *ip = (const float *) irow[r] + m * 4;
          const float *wp = packed2 + r * J * S * 8;
          for (size_t j = 0; j < J; j++, ip -= 4, wp += S * 8)
            {
              const __m128 v = _mm_loadu_ps (ip);
              for (size_t p = 0; p < S; p++)
                a[p] = _mm_fmadd_ps (_mm_loadu_ps (wp + p * 8), v, a[p]);
            }
        }
      for (size_t p = 0; p < S; p++)
        _mm_storeu_ps (dst + p * 4, a[p]);
    }
  if (stream)
    _mm_sfence ();
  return (size_t) (m - m0);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* TCONV_DW_HAVE_AVX2 */
