/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The depthwise fast path: one kernel per channel (groups == C_in == C_out), dilation 1,
 * channels interleaved (or a single plane), as image up-sampling uses it.
 *
 * Along a row, write t = x + pad_w = m * s + p. Output x then takes input columns m - j
 * through taps kx = p + j * s, for j = 0 .. J-1 with J = ceil(k_w / s): every phase p uses
 * the same input offsets. So one input position m produces a contiguous block of s * C output
 * values (all phases, all channels), a sum over (kernel row, j) of a packed weight vector times
 * the C input values at m - j repeated s times. Row kernels (tconv_dw_run) compute runs of whole
 * blocks: hand-written AVX2 ones in tconv-depthwise-avx2.c, and below compiler-vectorised ones
 * with s and C as compile-time constants (each built twice, portable and for x86-64-v3, the
 * latter taken when tconv_cpu_paths () has TCONV_CPU_CLONES) and a generic one.
 *
 * Blocks at the edges of the region or of the input view run through the same kernel on a
 * zero-padded copy of their input, so every output value comes from the same operations in the
 * same order whichever region computes it: results do not depend on how callers split the work
 * (tests/test-phase.c checks this bit for bit). */
#include "tconv-private.h"

#include <math.h>
#include <string.h>

#define MAX_PACKED TCONV_DW_MAX_PACKED

/* Scratch for the zero-padded edge blocks: input bytes and output elements. The generic kernel
 * (unit 1, no over-read) always fits: n_rows * C * J * 4 <= MAX_PACKED * 4 bytes. */
#define PAD_BYTES (MAX_PACKED * 4)
#define PAD_OUT   2048


/* The store of one output value. */
static inline void
store_f32 (float *dst, float v)
{
  *dst = v;
}


/* A run of full blocks for constant S and C: m_local from m0 to m1 (exclusive), every input
 * offset inside the view. IN and OUT are the element types. */
#define DEFINE_RUN_T(NAME, ATTR, S, C, IN, OUT, STORE)                                         \
  ATTR static size_t NAME (const tconv_dw_plan *rp, const void *const *irow,         \
                                   ptrdiff_t row_len, ptrdiff_t m0, ptrdiff_t m1, void *dstv,  \
                                   tconv_dw_store store)                                       \
  {                                                                                            \
    const size_t n_rows = rp->n_rows, J = rp->J;                                               \
    OUT         *dst = dstv;                                                                   \
    (void) row_len, (void) store;                                                              \
    for (ptrdiff_t m = m0; m < m1; m++, dst += (S) * (C))                                      \
      {                                                                                        \
        float acc[(S) * (C)];                                                                  \
        for (size_t l = 0; l < (S) * (C); l++)                                                 \
          acc[l] = rp->bias[l];                                                                \
        for (size_t r = 0; r < n_rows; r++)                                                    \
          {                                                                                    \
            const IN    *ip = (const IN *) irow[r] + m * (C);                                  \
            const float *wp = rp->w + r * J * (S) * (C);                                       \
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
    return (size_t) (m1 - m0);                                                                 \
  }

/* Each specialisation twice: portable, and built for x86-64-v3 (TCONV_CPU_CLONES). */
#ifdef TCONV_HAVE_CLONES
#define DEFINE_RUN_V3(NAME, S, C, IN, OUT, STORE)                                              \
  DEFINE_RUN_T (NAME##_v3, TCONV_TARGET_V3, S, C, IN, OUT, STORE)
#else
#define DEFINE_RUN_V3(NAME, S, C, IN, OUT, STORE)
#endif
#define DEFINE_RUN(S, C)                                                                       \
  DEFINE_RUN_T (run_##S##_##C, , S, C, float, float, store_f32)                                \
  DEFINE_RUN_V3 (run_##S##_##C, S, C, float, float, store_f32)

/* Any s and C (the compiler cannot vectorise it as well). */
#define DEFINE_RUN_GENERIC(NAME, IN, OUT, STORE)                                               \
  static size_t NAME (const tconv_dw_plan *rp, const void *const *irow, ptrdiff_t row_len,    \
                       ptrdiff_t m0, ptrdiff_t m1, void *dstv, tconv_dw_store store)           \
  {                                                                                            \
    const size_t L = rp->s * rp->C;                                                            \
    OUT         *dst = dstv;                                                                   \
    (void) row_len, (void) store;                                                              \
    for (ptrdiff_t m = m0; m < m1; m++, dst += L)                                              \
      {                                                                                        \
        float acc[TCONV_MAX_STRIDE * 4];                                                       \
        memcpy (acc, rp->bias, L * sizeof (float));                                            \
        for (size_t r = 0; r < rp->n_rows; r++)                                                \
          for (size_t j = 0; j < rp->J; j++)                                                   \
            {                                                                                  \
              const IN    *ip = (const IN *) irow[r] + (m - (ptrdiff_t) j) * (ptrdiff_t) rp->C; \
              const float *wp = rp->w + (r * rp->J + j) * L;                                   \
              for (size_t l = 0; l < L; l++)                                                   \
                acc[l] += wp[l] * (float) ip[l % rp->C];                                       \
            }                                                                                  \
        for (size_t l = 0; l < L; l++)                                                         \
          STORE (dst + l, acc[l]);                                                             \
      }                                                                                        \
    return (size_t) (m1 - m0);                                                                 \
  }

DEFINE_RUN_GENERIC (run_generic, float, float, store_f32)

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

#define RUN_TABLE(X)                                                                           \
  {                                                                                            \
    { run_1_1##X, run_1_2##X, run_1_3##X, run_1_4##X },                                        \
    { run_2_1##X, run_2_2##X, run_2_3##X, run_2_4##X },                                        \
    { run_3_1##X, run_3_2##X, run_3_3##X, run_3_4##X },                                        \
    { run_4_1##X, run_4_2##X, run_4_3##X, run_4_4##X },                                        \
  }

/* [x86-64-v3][s - 1][C - 1] */
static const tconv_dw_run runs[2][4][4] = {
  RUN_TABLE (),
#ifdef TCONV_HAVE_CLONES
  RUN_TABLE (_v3),
#else
  RUN_TABLE (),
#endif
};

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

/* The row kernel chosen for a call, with its granularity: it computes multiples of @unit
 * blocks and may read up to @slack pixels past a run's last block (never past row_len). */
typedef struct
{
  tconv_dw_run run;
  size_t       unit, slack;
} dw_kernel;

/* The row kernel for this call: hand-written AVX2 where it exists, else the compile-time
 * specialisations, else the generic loop. A kernel whose padded edge chunk would not fit the
 * scratch gives way to the unit-1 kernels, which always fit. */
static dw_kernel
choose_kernel (const tconv_geometry *g, const tconv_dw_plan *rp)
{
  const size_t s = g->stride_w, C = g->in_c, J = rp->J;
  const size_t rows = (g->k_h + g->stride_h - 1) / g->stride_h;
  const int    v3 = (tconv_cpu_paths () & TCONV_CPU_CLONES) != 0;
  dw_kernel    k = { (s <= 4 && C <= 4) ? runs[v3][s - 1][C - 1] : run_generic, 1, 0 };
#ifdef TCONV_DW_HAVE_AVX2
  if (tconv_dw_have_avx2 ())
    {
      dw_kernel f = { NULL, 0, 0 };
      if (C == 4 && s % 2 == 0 && s <= 8)
        f = (dw_kernel) { tconv_dw_rgba_even_avx2, tconv_dw_rgba_even_unit (s), 0 };
      else if (C == 4 && s <= 7)
        f = (dw_kernel) { tconv_dw_rgba_odd_avx2, 1, 0 };
      const size_t esz = sizeof (float);
      if (f.run != NULL && rows * C * (J - 1 + f.unit + f.slack) * esz <= PAD_BYTES
          && f.unit * s * C <= PAD_OUT)
        k = f;
    }
#else
  (void) rows, (void) J;
#endif
  return k;
}

/* Packs kernel rows ky0, ky0 + stride_h, ... (n of them) at row index @at of the tables the
 * kernel reads: [row][j][p][c] floats, and the layouts of the AVX2 kernels. */
static void
pack_rows (const tconv_geometry *g, const float *weight, const dw_kernel *k, tconv_dw_plan *rp,
           size_t at, size_t ky0, size_t n)
{
  const size_t s = rp->s, C = rp->C, J = rp->J, kw = g->k_w, kh = g->k_h, L = J * s * C;

  for (size_t i = 0; i < n; i++)
    {
      const size_t ky = ky0 + i * g->stride_h;
      float       *d = rp->packed + (at + i) * L;
      for (size_t j = 0; j < J; j++)
        for (size_t p = 0; p < s; p++)
          for (size_t c = 0; c < C; c++)
            {
              const size_t kx = p + j * s;
              d[(j * s + p) * C + c] = kx < kw ? weight[(c * kh + ky) * kw + kx] : 0.0f;
            }
#ifdef TCONV_DW_HAVE_AVX2
      if (k->run == tconv_dw_rgba_odd_avx2)
        for (size_t t = 0; t < J * s; t++)
          for (size_t c = 0; c < 4; c++)
            rp->k.packed2[((at + i) * J * s + t) * 8 + c]
              = rp->k.packed2[((at + i) * J * s + t) * 8 + 4 + c] = d[t * 4 + c];
#else
      (void) k;
#endif
    }
}

/* Blocks [a, b) (absolute input columns) that the fast run left: the same kernel on a
 * zero-padded copy of their input, in chunks, keeping the outputs with t in [ta, tb). */
static void
run_padded (const tconv_dw_plan *rp, const dw_kernel *k, const void *const *irow,
            const any_view *in, size_t esz, int64_t a, int64_t b, int64_t ta, int64_t tb,
            char *orow)
{
  const size_t s = rp->s, C = rp->C, J = rp->J, px = C * esz;
  const size_t rows = rp->n_rows ? rp->n_rows : 1;
  union
  {
    float   f[PAD_BYTES / sizeof (float)]; /* alignment for the float kernels */
    uint8_t b[PAD_BYTES];
  } pad;
  union
  {
    float   f[PAD_OUT];
    uint8_t b[PAD_OUT * sizeof (float)];
  } tmp;
  const void *prow[TCONV_MAX_KERNEL_SIDE];
  size_t      ch = PAD_BYTES / (rows * px) - (J - 1) - k->slack;

  if (ch > PAD_OUT / (s * C))
    ch = PAD_OUT / (s * C);
  ch -= ch % k->unit;
  TCONV_ASSERT (ch >= k->unit); /* choose_kernel() checked the sizes */
  for (int64_t m = a; m < b;)
    {
      const size_t  n = (size_t) (b - m) < ch ? (size_t) (b - m) : ch;
      const size_t  nr = (n + k->unit - 1) / k->unit * k->unit, len = J - 1 + nr + k->slack;
      const int64_t c0 = m - (int64_t) (J - 1) - in->x0; /* view column of pad pixel 0 */
      for (size_t r = 0; r < rp->n_rows; r++)
        {
          uint8_t      *d = pad.b + r * len * px;
          const int64_t lo = c0 < 0 ? 0 : c0;
          const int64_t hi = c0 + (int64_t) len < (int64_t) in->w ? c0 + (int64_t) len
                                                                  : (int64_t) in->w;
          memset (d, 0, len * px);
          if (hi > lo)
            memcpy (d + (size_t) (lo - c0) * px, (const char *) irow[r] + (size_t) lo * px,
                    (size_t) (hi - lo) * px);
          prow[r] = d;
        }
      const size_t done = k->run (rp, prow, (ptrdiff_t) len, (ptrdiff_t) (J - 1),
                                  (ptrdiff_t) (J - 1 + nr), tmp.b, TCONV_DW_STORE_PLAIN);
      TCONV_ASSERT (done == nr);
      (void) done;
      const int64_t t0 = m * (int64_t) s > ta ? m * (int64_t) s : ta;
      const int64_t t1 = (m + (int64_t) n) * (int64_t) s < tb ? (m + (int64_t) n) * (int64_t) s : tb;
      memcpy (orow + (size_t) (t0 - ta) * px, tmp.b + (size_t) (t0 - m * (int64_t) s) * px,
              (size_t) (t1 - t0) * px);
      m += (int64_t) n;
    }
}

static void
depthwise (const tconv_geometry *g, const float *weight, const float *bias,
           const any_view *in, const any_view *out)
{
  const size_t  s = g->stride_w, C = g->in_c, kw = g->k_w, kh = g->k_h;
  const size_t  J = (kw + s - 1) / s, esz = sizeof (float);
  tconv_dw_plan rp; /* not zeroed: 50 KiB, every field used is set below */
  const void   *irow[TCONV_MAX_KERNEL_SIDE];
  /* Outputs far larger than the caches: non-temporal stores where the CPU gains from them,
   * else plain stores with lines fetched for writing ahead. */
  tconv_dw_store store = g->out_h * g->out_w * C * esz > ((size_t) 32 << 20)
                           ? TCONV_DW_STORE_PREFETCH : TCONV_DW_STORE_PLAIN;
  /* Output columns [xa, xb) as t = x + pad = m * s + p: blocks [ma, mb) touch the region,
   * [mf0, mf1) lie wholly inside it, and [mi0, mi1) read only columns inside the view. */
  const int64_t ta = out->x0 + (int64_t) g->pad_w, tb = ta + (int64_t) out->w;
  const int64_t ma = tconv_floor_div (ta, (int64_t) s);
  const int64_t mb = tconv_floor_div (tb + (int64_t) s - 1, (int64_t) s);
  const int64_t mf0 = tconv_floor_div (ta + (int64_t) s - 1, (int64_t) s);
  const int64_t mf1 = tconv_floor_div (tb, (int64_t) s);
  const int64_t mi0 = in->x0 + (int64_t) J - 1, mi1 = in->x0 + (int64_t) in->w;
  int64_t       f0 = mf0 > mi0 ? mf0 : mi0;
  const int64_t f1 = mf1 < mi1 ? mf1 : mi1;
  const int     fast = f1 > f0;

  rp.J = J, rp.s = s, rp.C = C, rp.w = rp.w2 = NULL;
  for (size_t p = 0; p < s; p++)
    for (size_t c = 0; c < C; c++)
      rp.bias[p * C + c] = bias ? bias[c] : 0.0f;
  const dw_kernel k = choose_kernel (g, &rp);
#ifdef TCONV_DW_HAVE_AVX2
  if (store == TCONV_DW_STORE_PREFETCH && tconv_dw_stream_pays ())
    store = TCONV_DW_STORE_STREAM;
#endif
  if (!fast)
    f0 = ma; /* no fast blocks: all padded */

  /* Whole kernel packed once, grouped by vertical phase, when it fits: phase py holds kernel
   * rows py, py + stride_h, ... from row index first[py] on. Else each output row packs its
   * own rows. */
  size_t    first[TCONV_MAX_STRIDE + 1];
  const int table = kh * J * s * C <= MAX_PACKED;
  first[0] = 0;
  for (size_t py = 0; py < g->stride_h; py++)
    {
      const size_t n = py < kh ? (kh - py + g->stride_h - 1) / g->stride_h : 0;
      if (table)
        pack_rows (g, weight, &k, &rp, first[py], py, n);
      first[py + 1] = first[py] + n;
    }

  for (size_t y = 0; y < out->h; y++)
    {
      const int64_t oy = out->y0 + (int64_t) y;
      char         *orow = out->wdata + (ptrdiff_t) y * out->y_stride * (ptrdiff_t) esz;
      const size_t  py = (size_t) tconv_floor_mod (oy + (int64_t) g->pad_h, (int64_t) g->stride_h);
      size_t        ky0 = py, at = 0; /* ky0 stays py when no kernel row reaches the view */

      /* Kernel rows that reach this output row, with their input rows inside the view: a
       * run ky0, ky0 + stride_h, ... of phase py. */
      rp.n_rows = 0;
      for (size_t ky = py; ky < kh; ky += g->stride_h)
        {
          const int64_t iy = tconv_floor_div (oy + (int64_t) g->pad_h - (int64_t) ky,
                                              (int64_t) g->stride_h) - in->y0;
          if (iy < 0 || iy >= (int64_t) in->h)
            continue;
          if (rp.n_rows == 0)
            ky0 = ky;
          irow[rp.n_rows++] = in->data + (ptrdiff_t) iy * in->y_stride * (ptrdiff_t) esz;
        }
      if (table)
        at = first[py] + (ky0 - py) / g->stride_h;
      else
        pack_rows (g, weight, &k, &rp, 0, ky0, rp.n_rows);
      rp.w = rp.packed + at * J * s * C;
#ifdef TCONV_DW_HAVE_AVX2
      if (k.run == tconv_dw_rgba_odd_avx2)
        rp.w2 = rp.k.packed2 + at * J * s * 8;
#endif

      size_t done = 0;
      if (fast)
        done = k.run (&rp, irow, (ptrdiff_t) in->w, (ptrdiff_t) (f0 - in->x0),
                      (ptrdiff_t) (f1 - in->x0),
                      orow + (ptrdiff_t) (f0 * (int64_t) s - ta) * (ptrdiff_t) (C * esz), store);
      run_padded (&rp, &k, irow, in, esz, ma, f0, ta, tb, orow);
      run_padded (&rp, &k, irow, in, esz, f0 + (int64_t) done, mb, ta, tb, orow);
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
  depthwise (g, weight, bias, &iv, &ov);
}
