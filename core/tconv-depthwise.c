/* The depthwise fast path: one kernel per channel (groups == C_in == C_out), dilation 1,
 * channels interleaved (or a single plane), as image up-sampling uses it.
 *
 * Along a row, write t = x + pad_w = m * s + p. Output x then takes input columns m - j
 * through taps kx = p + j * s, for j = 0 .. J-1 with J = ceil(k_w / s): every phase p uses
 * the same input offsets. So one input position m produces a contiguous block of s * C output
 * floats (all phases, all channels), computed as a sum over (kernel row, j) of a packed weight
 * vector times the C input values at m - j repeated s times. The block length s * C and the
 * channel count are compile-time constants in the specialised loops below, so the compiler
 * turns each block into a few SIMD multiply-adds; target_clones adds an x86-64-v3 (AVX2, FMA) build chosen
 * at run time. Accumulation order is the same for every pixel, whatever the region, so results
 * do not depend on how callers split the work. */
#include "tconv-private.h"

#include <string.h>

/* Packed weights for one output row live on the stack: rows * J * s * C floats. */
#define MAX_PACKED 4096

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang_analyzer__) \
  && !defined(TCONV_NO_CLONES)
#define TCONV_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define TCONV_CLONES
#endif

typedef struct
{
  const void  *irow[TCONV_MAX_KERNEL_SIDE]; /* input row (float or uint8) of each kernel row */
  size_t       n_rows;
  size_t       J;                           /* input offsets per phase */
  size_t       s, C;                        /* stride along x, channels */
  float        packed[MAX_PACKED];          /* [row][j][p][c] */
  float        bias[TCONV_MAX_STRIDE * 4];  /* [p][c], used when s * C <= its length */
} row_plan;

/* Stores of one output value: float as it is; uint8 rounded to nearest and clamped (NaN -> 0),
 * so 8-bit images never pass through a float buffer in memory. */
static inline void
store_f32 (float *dst, float v)
{
  *dst = v;
}

static inline void
store_u8 (uint8_t *dst, float v)
{
  v += 0.5f;
  *dst = (uint8_t) (v >= 255.0f ? 255 : v >= 0.0f ? (int) v : 0);
}

/* A run of full blocks for constant S and C: m_local from m0 to m1 (exclusive), every input
 * offset inside the view. IN and OUT are the element types (float or uint8_t). */
#define DEFINE_RUN_T(NAME, S, C, IN, OUT, STORE)                                               \
  TCONV_CLONES static void NAME (const row_plan *rp, ptrdiff_t m0, ptrdiff_t m1, void *dstv)  \
  {                                                                                            \
    const size_t n_rows = rp->n_rows, J = rp->J;                                               \
    OUT         *dst = dstv;                                                                   \
    for (ptrdiff_t m = m0; m < m1; m++, dst += (S) * (C))                                      \
      {                                                                                        \
        float acc[(S) * (C)];                                                                  \
        for (size_t l = 0; l < (S) * (C); l++)                                                 \
          acc[l] = rp->bias[l];                                                                \
        for (size_t r = 0; r < n_rows; r++)                                                    \
          {                                                                                    \
            const IN    *ip = (const IN *) rp->irow[r] + m * (C);                              \
            const float *wp = rp->packed + r * J * (S) * (C);                                  \
            for (size_t j = 0; j < J; j++, ip -= (C), wp += (S) * (C))                         \
              {                                                                                \
                /* exactly one pixel per load: left alone, GCC's SLP widens these loads */     \
                IN v[C];                                                                       \
                memcpy (v, ip, sizeof v);                                                      \
                for (size_t p = 0; p < (S); p++)                                               \
                  for (size_t c = 0; c < (C); c++)                                             \
                    acc[p * (C) + c] += wp[p * (C) + c] * (float) v[c];                        \
              }                                                                                \
          }                                                                                    \
        for (size_t l = 0; l < (S) * (C); l++)                                                 \
          STORE (dst + l, acc[l]);                                                             \
      }                                                                                        \
  }

#define DEFINE_RUN(S, C)                                                                       \
  DEFINE_RUN_T (run_##S##_##C, S, C, float, float, store_f32)                                  \
  DEFINE_RUN_T (run8_##S##_##C, S, C, uint8_t, uint8_t, store_u8)

/* Any s and C (the compiler cannot vectorise it as well). */
#define DEFINE_RUN_GENERIC(NAME, IN, OUT, STORE)                                               \
  static void NAME (const row_plan *rp, ptrdiff_t m0, ptrdiff_t m1, void *dstv)                \
  {                                                                                            \
    const size_t L = rp->s * rp->C;                                                            \
    OUT         *dst = dstv;                                                                   \
    for (ptrdiff_t m = m0; m < m1; m++, dst += L)                                              \
      {                                                                                        \
        float acc[TCONV_MAX_STRIDE * 4];                                                       \
        memcpy (acc, rp->bias, L * sizeof (float));                                            \
        for (size_t r = 0; r < rp->n_rows; r++)                                                \
          for (size_t j = 0; j < rp->J; j++)                                                   \
            {                                                                                  \
              const IN    *ip = (const IN *) rp->irow[r] + (m - (ptrdiff_t) j) * (ptrdiff_t) rp->C; \
              const float *wp = rp->packed + (r * rp->J + j) * L;                              \
              for (size_t l = 0; l < L; l++)                                                   \
                acc[l] += wp[l] * (float) ip[l % rp->C];                                       \
            }                                                                                  \
        for (size_t l = 0; l < L; l++)                                                         \
          STORE (dst + l, acc[l]);                                                             \
      }                                                                                        \
  }

DEFINE_RUN_GENERIC (run_generic, float, float, store_f32)
DEFINE_RUN_GENERIC (run8_generic, uint8_t, uint8_t, store_u8)

DEFINE_RUN (1, 1)
DEFINE_RUN (1, 2)
DEFINE_RUN (1, 3)
DEFINE_RUN (1, 4)
DEFINE_RUN (2, 1)
DEFINE_RUN (2, 2)
DEFINE_RUN (2, 3)
DEFINE_RUN (2, 4)
DEFINE_RUN (3, 1)
DEFINE_RUN (3, 2)
DEFINE_RUN (3, 3)
DEFINE_RUN (3, 4)
DEFINE_RUN (4, 1)
DEFINE_RUN (4, 2)
DEFINE_RUN (4, 3)
DEFINE_RUN (4, 4)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_RGBA 1

/* RGBA (C = 4), any stride up to 8, hand-written for AVX2 + FMA: one 256-bit load holds the
 * pixels m and m+1, accumulator p holds phase p of both blocks, and the weights of (row, j, p)
 * are the 4 channel weights repeated in both halves. Stores interleave the phases back with
 * 128-bit lane shuffles; large outputs use streaming stores, which skip the read-for-ownership
 * of lines that are only written. */
__attribute__ ((target ("avx2,fma"))) static void
run_rgba_avx2 (const row_plan *rp, const float *packed2, ptrdiff_t m0, ptrdiff_t m1, float *dst,
               int stream)
{
  const size_t n_rows = rp->n_rows, J = rp->J, S = rp->s;
  ptrdiff_t    m = m0;

  stream = stream && (uintptr_t) dst % 16 == 0; /* RGBA float rows always are */
  for (; m + 1 < m1; m += 2, dst += 8 * S)
    {
      __m256 acc[8];
      for (size_t p = 0; p < S; p++)
        acc[p] = _mm256_castps128_ps256 (_mm_loadu_ps (rp->bias + p * 4)),
        acc[p] = _mm256_insertf128_ps (acc[p], _mm_loadu_ps (rp->bias + p * 4), 1);
      for (size_t r = 0; r < n_rows; r++)
        {
          const float *ip = (const float *) rp->irow[r] + m * 4;
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
        for (size_t p = 0; p + 1 < S; p += 2)
          {
            _mm256_storeu_ps (dst + p * 4, _mm256_permute2f128_ps (acc[p], acc[p + 1], 0x20));
            _mm256_storeu_ps (dst + S * 4 + p * 4,
                              _mm256_permute2f128_ps (acc[p], acc[p + 1], 0x31));
          }
      if (!stream && S % 2)
        {
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
          const float *ip = (const float *) rp->irow[r] + m * 4;
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
}

static int
have_avx2_fma (void)
{
  static int cached = -1; /* benign race: every thread computes the same value */
  if (cached < 0)
    {
      __builtin_cpu_init ();
      cached = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
    }
  return cached;
}
#endif

typedef void (*run_func) (const row_plan *, ptrdiff_t, ptrdiff_t, void *);

static const run_func runs[2][4][4] = {
  { { run_1_1, run_1_2, run_1_3, run_1_4 },
    { run_2_1, run_2_2, run_2_3, run_2_4 },
    { run_3_1, run_3_2, run_3_3, run_3_4 },
    { run_4_1, run_4_2, run_4_3, run_4_4 } },
  { { run8_1_1, run8_1_2, run8_1_3, run8_1_4 },
    { run8_2_1, run8_2_2, run8_2_3, run8_2_4 },
    { run8_3_1, run8_3_2, run8_3_3, run8_3_4 },
    { run8_4_1, run8_4_2, run8_4_3, run8_4_4 } },
};

/* One output element (edge blocks and partial blocks): bounds-checked. */
static float
edge_value (const row_plan *rp, int u8, ptrdiff_t m_local, size_t p, size_t c, size_t in_w)
{
  float acc = rp->bias[p * rp->C + c];
  for (size_t r = 0; r < rp->n_rows; r++)
    for (size_t j = 0; j < rp->J; j++)
      {
        const ptrdiff_t ix = m_local - (ptrdiff_t) j;
        if (ix >= 0 && (size_t) ix < in_w)
          {
            const ptrdiff_t i = ix * (ptrdiff_t) rp->C + (ptrdiff_t) c;
            acc += rp->packed[((r * rp->J + j) * rp->s + p) * rp->C + c]
                   * (u8 ? (float) ((const uint8_t *) rp->irow[r])[i] : ((const float *) rp->irow[r])[i]);
          }
      }
  return acc;
}

int
tconv_depthwise_applies (const tconv_geometry *g, const tconv_in_view *in,
                         const tconv_out_view *out)
{
  const size_t C = g->in_c;
  size_t       J = (g->k_w + g->stride_w - 1) / g->stride_w, rows = (g->k_h + g->stride_h - 1) / g->stride_h;

  if (!(g->groups == g->in_c && g->out_c == g->in_c && g->dil_h == 1 && g->dil_w == 1))
    return 0;
  if (g->stride_w * C > TCONV_MAX_STRIDE * 4 || rows * J * g->stride_w * C > MAX_PACKED)
    return 0;
  /* interleaved channels, or a single channel with unit column stride */
  return (in->c_stride == 1 || C == 1) && in->x_stride == (ptrdiff_t) C
         && (out->c_stride == 1 || C == 1) && out->x_stride == (ptrdiff_t) C;
}

/* Element-type-neutral description of a view, for the shared row loop. */
typedef struct
{
  const char *data;  /* element (0, y0, x0) */
  char       *wdata; /* same, writable (outputs) */
  int64_t     y0, x0;
  size_t      h, w;
  ptrdiff_t   y_stride; /* in elements */
} any_view;

static void
depthwise (const tconv_geometry *g, const float *weight, const float *bias, int u8,
           const any_view *in, const any_view *out)
{
  const size_t s = g->stride_w, C = g->in_c, kw = g->k_w, kh = g->k_h;
  const size_t J = (kw + s - 1) / s, esz = u8 ? 1 : sizeof (float);
  row_plan     rp;
  run_func     run = (s <= 4 && C <= 4) ? runs[u8][s - 1][C - 1]
                                        : (u8 ? run8_generic : run_generic);
#ifdef HAVE_AVX2_RGBA
  /* [row][j][p][8]: the 4 channel weights twice, for the two pixels of a 256-bit load */
  float        packed2[2 * MAX_PACKED];
  const int    avx = !u8 && C == 4 && s <= 8 && have_avx2_fma ();
  /* stream (non-temporal) stores when the whole output is far larger than the caches */
  const int    stream = g->out_h * g->out_w * C * sizeof (float) > ((size_t) 32 << 20);
#endif

  rp.J = J, rp.s = s, rp.C = C;
  for (size_t p = 0; p < s; p++)
    for (size_t c = 0; c < C; c++)
      rp.bias[p * C + c] = bias ? bias[c] : 0.0f;

  for (size_t y = 0; y < out->h; y++)
    {
      const int64_t oy = out->y0 + (int64_t) y;
      char         *orow = out->wdata + (ptrdiff_t) y * out->y_stride * (ptrdiff_t) esz;

      /* Kernel rows that reach this output row, with their input rows inside the view. */
      rp.n_rows = 0;
      for (size_t ky = 0; ky < kh; ky++)
        {
          const int64_t t = oy + (int64_t) g->pad_h - (int64_t) ky;
          if (tconv_floor_mod (t, (int64_t) g->stride_h) != 0)
            continue;
          const int64_t iy = tconv_floor_div (t, (int64_t) g->stride_h) - in->y0;
          if (iy < 0 || iy >= (int64_t) in->h)
            continue;
          const size_t r = rp.n_rows++;
          rp.irow[r] = in->data + (ptrdiff_t) iy * in->y_stride * (ptrdiff_t) esz;
          for (size_t j = 0; j < J; j++)
            for (size_t p = 0; p < s; p++)
              for (size_t c = 0; c < C; c++)
                {
                  const size_t kx = p + j * s;
                  rp.packed[((r * J + j) * s + p) * C + c]
                    = kx < kw ? weight[(c * kh + ky) * kw + kx] : 0.0f;
                }
        }

      /* Output columns [xa, xb) as t = x + pad = m * s + p; m_local = m - in->x0. */
      const int64_t xa = out->x0, xb = xa + (int64_t) out->w;
      const int64_t ta = xa + (int64_t) g->pad_w, tb = xb + (int64_t) g->pad_w;
      int64_t       m_full0 = tconv_floor_div (ta + (int64_t) s - 1, (int64_t) s); /* first whole block */
      int64_t       m_full1 = tconv_floor_div (tb, (int64_t) s);                   /* end of whole blocks */
      /* Whole blocks whose inputs m - (J-1) .. m all lie inside the view. */
      int64_t       m_in0 = in->x0 + (int64_t) J - 1, m_in1 = in->x0 + (int64_t) in->w;
      int64_t       f0 = m_full0 > m_in0 ? m_full0 : m_in0;
      int64_t       f1 = m_full1 < m_in1 ? m_full1 : m_in1;

      if (f1 < f0)
        f0 = f1 = m_full0; /* no fast blocks */

      /* Edges: every output outside the fast blocks, one element at a time. */
      for (int64_t x = xa; x < xb; x++)
        {
          const int64_t t = x + (int64_t) g->pad_w, m = tconv_floor_div (t, (int64_t) s);
          if (m >= f0 && m < f1)
            {
              x = f1 * (int64_t) s - (int64_t) g->pad_w - 1; /* skip to after the fast run */
              continue;
            }
          const size_t    p = (size_t) tconv_floor_mod (t, (int64_t) s);
          const ptrdiff_t o = (ptrdiff_t) (x - xa) * (ptrdiff_t) C;
          for (size_t c = 0; c < C; c++)
            {
              const float v = edge_value (&rp, u8, (ptrdiff_t) (m - in->x0), p, c, in->w);
              if (u8)
                store_u8 ((uint8_t *) orow + o + (ptrdiff_t) c, v);
              else
                store_f32 ((float *) orow + o + (ptrdiff_t) c, v);
            }
        }
      if (f1 <= f0)
        continue;
      char *fast_dst = orow + (ptrdiff_t) (f0 * (int64_t) s - ta) * (ptrdiff_t) (C * esz);
#ifdef HAVE_AVX2_RGBA
      if (avx)
        {
          for (size_t q = 0; q < rp.n_rows * J * s; q++)
            for (size_t c = 0; c < 4; c++)
              packed2[q * 8 + c] = packed2[q * 8 + 4 + c] = rp.packed[q * 4 + c];
          run_rgba_avx2 (&rp, packed2, (ptrdiff_t) (f0 - in->x0), (ptrdiff_t) (f1 - in->x0),
                         (float *) fast_dst, stream);
          continue;
        }
#endif
      run (&rp, (ptrdiff_t) (f0 - in->x0), (ptrdiff_t) (f1 - in->x0), fast_dst);
    }
}

void
tconv_depthwise_upsample (const tconv_geometry *g, const float *weight, const float *bias,
                          const tconv_in_view *in, const tconv_out_view *out)
{
  const any_view iv = { .data = (const char *) in->data, .y0 = in->y0, .x0 = in->x0,
                        .h = in->h, .w = in->w, .y_stride = in->y_stride };
  const any_view ov = { .wdata = (char *) out->data, .y0 = (int64_t) out->y0,
                        .x0 = (int64_t) out->x0, .h = out->h, .w = out->w,
                        .y_stride = out->y_stride };
  depthwise (g, weight, bias, 0, &iv, &ov);
}

tconv_status
tconv_upsample_u8 (const tconv_geometry *g, const float *weight, const float *bias,
                   const tconv_in_view_u8 *in, const tconv_out_view_u8 *out)
{
  const size_t C = g ? g->in_c : 0;
  size_t       J, rows;

  if (g == NULL || weight == NULL || in == NULL || out == NULL || in->data == NULL
      || out->data == NULL || g->stride_h == 0 || g->stride_w == 0)
    return TCONV_ERR_INVALID_ARG;
  J = (g->k_w + g->stride_w - 1) / g->stride_w;
  rows = (g->k_h + g->stride_h - 1) / g->stride_h;
  if (!(g->groups == C && g->out_c == C && g->dil_h == 1 && g->dil_w == 1)
      || g->stride_w * C > TCONV_MAX_STRIDE * 4 || rows * J * g->stride_w * C > MAX_PACKED)
    return TCONV_ERR_INVALID_ARG;
  if (out->h == 0 || out->w == 0 || out->y0 > g->out_h || out->h > g->out_h - out->y0
      || out->x0 > g->out_w || out->w > g->out_w - out->x0 || in->h > TCONV_MAX_SIDE * 2u
      || in->w > TCONV_MAX_SIDE * 2u || in->y0 < -(int64_t) TCONV_MAX_SIDE
      || in->y0 > (int64_t) TCONV_MAX_SIDE || in->x0 < -(int64_t) TCONV_MAX_SIDE
      || in->x0 > (int64_t) TCONV_MAX_SIDE)
    return TCONV_ERR_INVALID_ARG;

  const any_view iv = { .data = (const char *) in->data, .y0 = in->y0, .x0 = in->x0,
                        .h = in->h, .w = in->w, .y_stride = in->y_stride };
  const any_view ov = { .wdata = (char *) out->data, .y0 = (int64_t) out->y0,
                        .x0 = (int64_t) out->x0, .h = out->h, .w = out->w,
                        .y_stride = out->y_stride };
  depthwise (g, weight, bias, 1, &iv, &ov);
  return TCONV_OK;
}
