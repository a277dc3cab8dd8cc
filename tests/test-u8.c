/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 8-bit path (core/tconv-u8.c) against the reference, tconv_upsample_ref(): random
 * depthwise cases (strides 1-5, channels 1-4, kernels 1-12, padding, output padding, halos of
 * any values, odd and tiny widths) with integer samples. Each output must be the reference
 * rounded to nearest and clamped to 0..255, exactly, except where the reference lies within
 * 1e-3 of a .5 rounding boundary (then within one level); the bytes must not depend on how the
 * rows are split between calls; missing input rows and every other bad argument are refused
 * with nothing written. Also: TCONV_DISABLE changes the path the core takes. */
#include "test-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A status check that prints a test point only when it fails (it runs thousands of times). */
#define MUST(expr)                                                                          \
  do                                                                                        \
    {                                                                                       \
      tconv_status must_ = (expr);                                                          \
      if (must_ != TCONV_OK)                                                                \
        CHECK (0, "%s -> %s (line %d)", #expr, tconv_status_string (must_), __LINE__);     \
    }                                                                                       \
  while (0)

/* One random case: geometry, weights, bias, the 8-bit input rows and columns the plan reads
 * (plus a random margin), with random values everywhere (a halo, as border modes fill it). */
typedef struct
{
  tconv_geometry g;
  float         *w;
  float          bias[4];      /* 0..1 units, as the plan takes it */
  float          bias_ref[4];  /* the same in sample units, for the reference */
  int64_t        col_lo, row_lo;
  size_t         cols, rows;
  uint8_t       *px;           /* rows x cols x C */
  void          *mem;
  tconv_u8_plan *plan;
  float         *exp;          /* the expanded rows */
  const float  **rowp;
} u8_case;

static int
u8_case_make (test_rng *rng, u8_case *t)
{
  tconv_params p;
  int64_t      lo;
  size_t       n, bytes;

  memset (t, 0, sizeof *t);
  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = test_rng_range (rng, 1, 4);
  p.stride_h = test_rng_range (rng, 1, 5), p.stride_w = test_rng_range (rng, 1, 5);
  p.k_h = test_rng_range (rng, 1, 12), p.k_w = test_rng_range (rng, 1, 12);
  p.pad_h = test_rng_range (rng, 0, p.k_h), p.pad_w = test_rng_range (rng, 0, p.k_w);
  p.opad_h = test_rng_range (rng, 0, p.stride_h - 1);
  p.opad_w = test_rng_range (rng, 0, p.stride_w - 1);
  p.in_h = test_rng_range (rng, 1, 9), p.in_w = test_rng_range (rng, 1, 40);
  if (tconv_geometry_init (&t->g, &p, NULL) != TCONV_OK)
    return 0;

  const tconv_geometry *g = &t->g;
  const size_t          C = g->in_c;
  /* weights around 1/(taps per output) so results spread over 0..255 and beyond */
  const double scale = (double) (g->stride_h * g->stride_w) / (double) (g->k_h * g->k_w);
  t->w = test_malloc (g->weight_len * sizeof (float));
  for (size_t i = 0; i < g->weight_len; i++)
    t->w[i] = (float) ((0.9 + 0.6 * test_rng_signed (rng)) * scale);
  for (size_t c = 0; c < C; c++)
    t->bias[c] = (float) (20.0 * test_rng_signed (rng) / 255.0),
    t->bias_ref[c] = t->bias[c] * 255.0f;

  MUST (tconv_u8_columns (g, &lo, &n, NULL));
  MUST (tconv_u8_plan_size (g, &bytes, NULL));
  t->col_lo = lo - test_rng_range (rng, 0, 3);
  t->cols = n + (size_t) (lo - t->col_lo) + (size_t) test_rng_range (rng, 0, 3);
  /* rows: everything a tap can reach from any output row, and a margin */
  const size_t R = (g->k_h + g->stride_h - 1) / g->stride_h;
  t->row_lo = (int64_t) (g->pad_h / g->stride_h) - (int64_t) R - 1;
  t->rows = (size_t) ((int64_t) ((g->out_h - 1 + g->pad_h) / g->stride_h) + 1 - t->row_lo + 1);
  t->px = test_malloc (t->rows * t->cols * C);
  for (size_t i = 0; i < t->rows * t->cols * C; i++)
    t->px[i] = (uint8_t) test_rng_range (rng, 0, 255);

  /* memory at an odd address: the plan aligns itself */
  t->mem = test_malloc (bytes + 1);
  if (tconv_u8_plan_init (g, t->w, t->bias, t->col_lo, t->cols, (char *) t->mem + 1, bytes,
                          &t->plan, NULL) != TCONV_OK)
    return CHECK (0, "tconv_u8_plan_init refused a valid call"), 0;
  const size_t rf = tconv_u8_row_floats (t->plan);
  if (rf != t->cols * g->stride_w * C)
    CHECK (0, "row floats %zu: want cols * stride_w * C = %zu", rf, t->cols * g->stride_w * C);
  t->exp = test_malloc (t->rows * rf * sizeof (float));
  t->rowp = test_malloc (t->rows * sizeof (float *));
  for (size_t r = 0; r < t->rows; r++)
    {
      MUST (tconv_u8_expand (t->plan, t->px + r * t->cols * C, t->exp + r * rf, NULL));
      t->rowp[r] = t->exp + r * rf;
    }
  return 1;
}

static void
u8_case_clear (u8_case *t)
{
  free (t->w), free (t->px), free (t->mem), free (t->exp), free (t->rowp);
}

/* The reference on the same samples, as floats, whole output. */
static float *
u8_case_ref (const u8_case *t)
{
  const tconv_geometry *g = &t->g;
  const size_t          C = g->in_c, n = C * g->out_h * g->out_w;
  float                *inf = test_malloc (t->rows * t->cols * C * sizeof (float));
  float                *ref = test_alloc_poisoned (n);
  double               *work = test_malloc (n * sizeof (double));
  tconv_in_view in = { .data = inf, .y0 = t->row_lo, .x0 = t->col_lo, .h = t->rows,
                       .w = t->cols, .c_stride = 1, .x_stride = (ptrdiff_t) C,
                       .y_stride = (ptrdiff_t) (t->cols * C) };
  tconv_out_view out = { .data = ref, .h = g->out_h, .w = g->out_w, .c_stride = 1,
                         .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (g->out_w * C) };

  for (size_t i = 0; i < t->rows * t->cols * C; i++)
    inf[i] = t->px[i];
  MUST (tconv_upsample_ref (g, t->w, t->bias_ref, &in, &out, work, n));
  free (inf), free (work);
  return ref;
}

static void
u8_matches_rounded_ref (test_rng *rng)
{
  for (int iter = 0; iter < 500; iter++)
    {
      u8_case t;
      if (!u8_case_make (rng, &t))
        {
          u8_case_clear (&t);
          iter--;
          continue;
        }
      const tconv_geometry *g = &t.g;
      const size_t          C = g->in_c, n = C * g->out_h * g->out_w, ostride = g->out_w * C;
      uint8_t              *out8 = test_malloc (n);
      float                *ref = u8_case_ref (&t);
      int                   ok;

      memset (out8, 0xA5, n); /* poison */
      ok = tconv_u8_rows (t.plan, t.rowp, t.row_lo, t.rows, 0, g->out_h, out8, ostride, NULL)
           == TCONV_OK;
      for (size_t i = 0; ok && i < n; i++)
        {
          const double r = ref[i];
          const double want = r < 0 ? 0 : r > 255 ? 255 : floor (r + 0.5);
          const int    near_half = fabs (r - floor (r) - 0.5) < 1e-3 && r > 0 && r < 255;
          if (!(out8[i] == want || (near_half && fabs (out8[i] - want) <= 1)))
            {
              ok = 0;
              test_diag ("at y=%zu x=%zu c=%zu: got %u, reference %.6f", i / ostride,
                         i % ostride / C, i % C, out8[i], r);
            }
        }
      CHECK (ok, "u8 == round(clamp(ref)): C=%zu s=%zu,%zu k=%zux%zu p=%zu,%zu op=%zu,%zu "
             "in=%zux%zu cols=%lld+%zu", C, g->stride_h, g->stride_w, g->k_h, g->k_w, g->pad_h,
             g->pad_w, g->opad_h, g->opad_w, g->in_h, g->in_w, (long long) t.col_lo, t.cols);
      free (out8), free (ref);
      u8_case_clear (&t);
    }
}

/* The input rows output rows [y0, y1) read, worked out from the definition; lo > hi when none. */
static void
rows_needed (const tconv_geometry *g, size_t y0, size_t y1, int64_t *lo, int64_t *hi)
{
  *lo = INT64_MAX, *hi = INT64_MIN;
  for (size_t y = y0; y < y1; y++)
    for (size_t ky = 0; ky < g->k_h; ky++)
      if (((int64_t) (y + g->pad_h) - (int64_t) ky) % (int64_t) g->stride_h == 0)
        {
          /* exact division, negative rows included (the halo above the image) */
          const int64_t iy = ((int64_t) (y + g->pad_h) - (int64_t) ky) / (int64_t) g->stride_h;
          *lo = iy < *lo ? iy : *lo;
          *hi = iy > *hi ? iy : *hi;
        }
}

static void
u8_bands_exact_rows_and_missing_rows (test_rng *rng)
{
  /* Any split into bands gives the same bytes; a band given exactly the rows it reads works;
   * one row fewer at either end is refused with nothing written. */
  for (int iter = 0; iter < 200; iter++)
    {
      u8_case t;
      if (!u8_case_make (rng, &t))
        {
          u8_case_clear (&t);
          iter--;
          continue;
        }
      const tconv_geometry *g = &t.g;
      const size_t          ostride = g->out_w * g->in_c + 3, n = ostride * g->out_h;
      uint8_t              *full = test_malloc (n), *part = test_malloc (n);
      int                   ok;

      memset (full, 0x5A, n), memset (part, 0x5A, n);
      ok = tconv_u8_rows (t.plan, t.rowp, t.row_lo, t.rows, 0, g->out_h, full, ostride, NULL)
           == TCONV_OK;
      for (size_t y0 = 0; ok && y0 < g->out_h;)
        {
          const size_t y1 = y0 + (size_t) test_rng_range (rng, 1, (int64_t) (g->out_h - y0));
          int64_t      lo, hi;
          tconv_error  err = { 0 };

          rows_needed (g, y0, y1, &lo, &hi);
          if (lo <= hi)
            {
              const size_t at = (size_t) (lo - t.row_lo), cnt = (size_t) (hi - lo + 1);
              ok &= tconv_u8_rows (t.plan, t.rowp + at + 1, lo + 1, cnt - 1, y0, y1,
                                   part + y0 * ostride, ostride, &err) == TCONV_ERR_INVALID_ARG
                    && err.message[0] != '\0';
              ok &= tconv_u8_rows (t.plan, t.rowp + at, lo, cnt - 1, y0, y1,
                                   part + y0 * ostride, ostride, NULL) == TCONV_ERR_INVALID_ARG;
              for (size_t i = y0 * ostride; i < y1 * ostride; i++)
                ok &= part[i] == 0x5A;
              if (!ok)
                test_diag ("rows %zu..%zu: input rows %lld..%lld, one fewer accepted or wrote",
                           y0, y1, (long long) lo, (long long) hi);
              ok &= tconv_u8_rows (t.plan, t.rowp + at, lo, cnt, y0, y1, part + y0 * ostride,
                                   ostride, &err) == TCONV_OK;
              if (!ok)
                test_diag ("rows %zu..%zu with input rows %lld..%lld: %s", y0, y1,
                           (long long) lo, (long long) hi, err.message);
            }
          else
            ok &= tconv_u8_rows (t.plan, t.rowp, t.row_lo, t.rows, y0, y1, part + y0 * ostride,
                                 ostride, NULL) == TCONV_OK;
          y0 = y1;
        }
      ok = ok && memcmp (full, part, n) == 0;
      CHECK (ok, "u8 bands == whole, exact rows accepted, fewer refused: C=%zu s=%zu,%zu "
             "k=%zux%zu p=%zu,%zu in=%zux%zu", g->in_c, g->stride_h, g->stride_w, g->k_h, g->k_w,
             g->pad_h, g->pad_w, g->in_h, g->in_w);
      free (full), free (part);
      u8_case_clear (&t);
    }
}

static void
u8_rejects_bad_arguments (void)
{
  tconv_params   p;
  tconv_geometry g;
  tconv_error    err;
  float          w[64] = { 0 };
  int64_t        lo;
  size_t         n, bytes;
  unsigned char  mem[1 << 14];
  tconv_u8_plan *plan = NULL;

  tconv_params_init (&p);
  p.in_c = 2, p.out_c = 2, p.groups = 1, p.in_h = p.in_w = 2, p.k_h = p.k_w = 2;
  p.stride_h = p.stride_w = 2;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  err.message[0] = '\0';
  CHECK (tconv_u8_columns (&g, &lo, &n, &err) == TCONV_ERR_INVALID_ARG && err.message[0],
         "dense (groups 1, 2 channels) refused: %s", err.message);
  CHECK (tconv_u8_plan_size (&g, &bytes, NULL) == TCONV_ERR_INVALID_ARG, "dense: no plan size");
  p.in_c = p.out_c = p.groups = 5;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  CHECK (tconv_u8_columns (&g, &lo, &n, NULL) == TCONV_ERR_INVALID_ARG, "5 channels refused");
  p.in_c = p.out_c = p.groups = 3, p.dil_w = 2;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  CHECK (tconv_u8_columns (&g, &lo, &n, NULL) == TCONV_ERR_INVALID_ARG, "dilation 2 refused");
  p.dil_w = 1, p.stride_w = 23; /* 23 * 3 samples repeat every 69 vectors */
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  CHECK (tconv_u8_plan_size (&g, &bytes, &err) == TCONV_ERR_INVALID_ARG,
         "stride 23 x 3 channels refused: %s", err.message);
  CHECK (tconv_u8_columns (NULL, &lo, &n, NULL) == TCONV_ERR_INVALID_ARG, "NULL geometry");

  p.stride_w = 2;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  CHECK_STATUS (tconv_u8_columns (&g, &lo, &n, NULL));
  CHECK_STATUS (tconv_u8_plan_size (&g, &bytes, NULL));
  CHECK (bytes <= sizeof mem, "plan of %zu bytes fits the test's buffer", bytes);
  CHECK (tconv_u8_plan_init (&g, w, NULL, lo, n, mem, bytes - 1, &plan, &err)
           == TCONV_ERR_INVALID_ARG && plan == NULL, "one byte short refused: %s", err.message);
  CHECK (tconv_u8_plan_init (&g, w, NULL, lo + 1, n, mem, bytes, &plan, &err)
           == TCONV_ERR_INVALID_ARG && plan == NULL, "columns from lo + 1 refused: %s",
         err.message);
  CHECK (tconv_u8_plan_init (&g, w, NULL, lo, n - 1, mem, bytes, &plan, NULL)
           == TCONV_ERR_INVALID_ARG && plan == NULL, "one column short refused");
  CHECK (tconv_u8_plan_init (&g, NULL, NULL, lo, n, mem, bytes, &plan, NULL)
           == TCONV_ERR_INVALID_ARG, "NULL weights refused");
  CHECK_STATUS (tconv_u8_plan_init (&g, w, NULL, lo, n, mem, bytes, &plan, NULL));

  float        row[64] = { 0 };
  const float *rows[8] = { row, row, row, row, row, row, row, row };
  uint8_t      out[64];
  memset (out, 0xA5, sizeof out);
  CHECK (tconv_u8_rows (plan, rows, -2, 8, 0, 0, out, 12, NULL) == TCONV_ERR_INVALID_ARG,
         "empty row range refused");
  CHECK (tconv_u8_rows (plan, rows, -2, 8, 0, g.out_h + 1, out, 12, NULL)
           == TCONV_ERR_INVALID_ARG, "rows past the output refused");
  CHECK (tconv_u8_rows (plan, rows, -2, 8, 0, 1, out, 11, &err) == TCONV_ERR_INVALID_ARG,
         "out_stride < out_w * C refused: %s", err.message);
  CHECK (tconv_u8_rows (plan, NULL, -2, 8, 0, 1, out, 12, NULL) == TCONV_ERR_INVALID_ARG,
         "NULL rows refused");
  CHECK (tconv_u8_expand (plan, NULL, row, NULL) == TCONV_ERR_INVALID_ARG, "expand: NULL src");
  int untouched = 1;
  for (size_t i = 0; i < sizeof out; i++)
    untouched &= out[i] == 0xA5;
  CHECK (untouched, "refused calls wrote nothing");
}

/* The level babl gives a float sample, written out here: clamped, x 255 rounded to float,
 * + 0.5 rounded to float, truncated; NaN gives 0 (this file is built without contraction). */
static unsigned char
babl_level (float x)
{
  float t;

  if (isnan (x) || x <= 0.0f)
    return 0;
  if (x >= 1.0f)
    return 255;
  t = x * 255.0f;
  t = t + 0.5f;
  return (unsigned char) (unsigned) t;
}

/* tconv_narrow_u8() on every level's rounding boundary (k + 0.5) / 255 and the floats beside
 * it, values outside 0..1, infinities and NaN, at every start and length up to 70 (the vector
 * groups and their tails), out of place and in place, on whichever path TCONV_DISABLE
 * leaves. */
static void
narrow_u8_matches_babl (test_rng *rng)
{
  enum { N = 4096 };
  float         *src = test_malloc (N * sizeof (float)), *buf = test_malloc (N * sizeof (float));
  unsigned char *dst = test_malloc (N);
  int            bad = 0, bad_inplace = 0, checked = 0;

  for (int i = 0; i < N; i++)
    {
      const float edge = ((float) (i / 3 % 256) + 0.5f) / 255.0f;
      src[i] = i % 3 == 0 ? edge : i % 3 == 1 ? nextafterf (edge, 2.0f) : nextafterf (edge, -1.0f);
      if (i % 11 == 0)
        src[i] = (float) (1.6 * test_rng_signed (rng));
    }
  src[5] = NAN, src[17] = INFINITY, src[29] = -INFINITY, src[41] = -0.0f, src[53] = 1.0f;
  src[64] = NAN, src[79] = NAN, src[4095] = NAN;
  tconv_narrow_u8 (src, dst, N);
  for (int i = 0; i < N; i++)
    bad += dst[i] != babl_level (src[i]);
  for (size_t start = 0; start < 20; start++)
    for (size_t n = 0; n <= 70; n++)
      {
        memset (dst, 0xA5, 100);
        tconv_narrow_u8 (src + start, dst + 1, n);
        bad += dst[0] != 0xA5 || dst[n + 1] != 0xA5; /* nothing outside */
        memcpy (buf, src + start, n * sizeof (float));
        tconv_narrow_u8 (buf, (unsigned char *) buf, n);
        for (size_t i = 0; i < n; i++)
          {
            bad += dst[1 + i] != babl_level (src[start + i]);
            bad_inplace += ((unsigned char *) buf)[i] != babl_level (src[start + i]);
            checked++;
          }
      }
  CHECK (bad == 0 && bad_inplace == 0,
         "tconv_narrow_u8 = babl's rounding on every level's boundary, NaN, infinities, every "
         "start and length to 70, on this path (%d and %d in place of %d differ)", bad,
         bad_inplace, checked);
  free (src), free (buf), free (dst);
}

/* TCONV_DISABLE=avx2,clones (read once) must take the portable kernels: the core reports no
 * SIMD path and 8-bit plans run the portable loop; without it, what the CPU offers is used
 * (x86-64-v4 only with the x86-64-v3 copies, and not under TCONV_DISABLE=avx512). */
static void
cpu_paths_follow_tconv_disable (void)
{
  const char *off = getenv ("TCONV_DISABLE");
  unsigned    want = 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TCONV_NO_CLONES)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    want = TCONV_CPU_AVX2 | TCONV_CPU_CLONES;
  if (want && __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512vl")
      && __builtin_cpu_supports ("avx512bw") && __builtin_cpu_supports ("avx512dq")
      && __builtin_cpu_supports ("avx512cd"))
    want |= TCONV_CPU_V4;
#endif
  if (off != NULL && strstr (off, "avx2") != NULL)
    want &= ~TCONV_CPU_AVX2;
  if (off != NULL && strstr (off, "clones") != NULL)
    want &= ~(TCONV_CPU_CLONES | TCONV_CPU_V4);
  if (off != NULL && strstr (off, "avx512") != NULL)
    want &= ~TCONV_CPU_V4;
  test_diag ("TCONV_DISABLE=%s: paths %u (avx2 %u, clones %u, x86-64-v4 %u)",
             off ? off : "(unset)", tconv_cpu_paths (), TCONV_CPU_AVX2, TCONV_CPU_CLONES,
             TCONV_CPU_V4);
  CHECK (tconv_cpu_paths () == want, "tconv_cpu_paths () == %u under TCONV_DISABLE=%s", want,
         off ? off : "(unset)");

  tconv_params   p;
  tconv_geometry g;
  float          w[16] = { 1 };
  int64_t        lo;
  size_t         n, bytes;
  unsigned char  mem[1 << 14];
  tconv_u8_plan *plan;
  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = 1;
  p.in_h = p.in_w = 4, p.k_h = p.k_w = 4, p.stride_h = p.stride_w = 2;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  CHECK_STATUS (tconv_u8_columns (&g, &lo, &n, NULL));
  CHECK_STATUS (tconv_u8_plan_size (&g, &bytes, NULL));
  CHECK_STATUS (tconv_u8_plan_init (&g, w, NULL, lo, n, mem, bytes, &plan, NULL));
  CHECK (tconv_u8_plan_paths (plan) == (want & TCONV_CPU_CLONES),
         "8-bit plan runs the %s loop", want & TCONV_CPU_CLONES ? "x86-64-v3" : "portable");
}

int
main (void)
{
  test_rng rng;
  test_begin ("test-u8");
  test_rng_init (&rng, 808);
  cpu_paths_follow_tconv_disable ();
  u8_matches_rounded_ref (&rng);
  u8_bands_exact_rows_and_missing_rows (&rng);
  u8_rejects_bad_arguments ();
  narrow_u8_matches_babl (&rng);
  return test_end ();
}
