/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The least-squares learner: recovers planted kernels from synthetic pairs made by
 * tconv_upsample() (so the gather convention is checked against the shipped fast path),
 * phase sums, exact symmetry, algebraic symmetry == augmentation, rank deficiency, errors. */
#include "test-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  size_t s_h, s_w, k_h, k_w, pad_h, pad_w;
} geo;

static size_t
centred_pad (size_t k, size_t s)
{
  return k >= s ? (k - s + 1) / 2 : 0;
}

static geo
make_geo (size_t s_h, size_t s_w, size_t k_h, size_t k_w)
{
  return (geo) { s_h, s_w, k_h, k_w, centred_pad (k_h, s_h), centred_pad (k_w, s_w) };
}

/* hr = conv_transpose2d (lr, w) with the learner's geometry, exactly s times larger. */
static void
upsample (const geo *g, const float *w, const float *lr, size_t h, size_t wd, float *hr)
{
  tconv_params   p;
  tconv_geometry gm;

  tconv_params_init (&p);
  p.in_c = p.out_c = 1;
  p.in_h = (int64_t) h, p.in_w = (int64_t) wd;
  p.k_h = (int64_t) g->k_h, p.k_w = (int64_t) g->k_w;
  p.stride_h = (int64_t) g->s_h, p.stride_w = (int64_t) g->s_w;
  p.pad_h = (int64_t) g->pad_h, p.pad_w = (int64_t) g->pad_w;
  p.opad_h = (int64_t) (g->s_h + 2 * g->pad_h - g->k_h);
  p.opad_w = (int64_t) (g->s_w + 2 * g->pad_w - g->k_w);
  if (tconv_geometry_init (&gm, &p, NULL) != TCONV_OK || gm.out_h != h * g->s_h
      || gm.out_w != wd * g->s_w)
    {
      test_ok (0, "test geometry s=%zux%zu k=%zux%zu is exact", g->s_h, g->s_w, g->k_h, g->k_w);
      return;
    }
  tconv_in_view  in = tconv_in_view_planar (&gm, lr);
  tconv_out_view out = tconv_out_view_planar (&gm, hr);
  CHECK_STATUS (tconv_upsample (&gm, w, NULL, &in, &out, NULL));
}

/* A random kernel; with @normalized every phase sums to 1. */
static void
random_kernel (test_rng *rng, const geo *g, int normalized, float *w)
{
  test_rng_fill (rng, w, g->k_h * g->k_w);
  if (!normalized)
    return;
  for (size_t ry = 0; ry < g->s_h; ry++)
    for (size_t rx = 0; rx < g->s_w; rx++)
      {
        double sum = 0.0;
        size_t n = 0;
        for (size_t y = ry; y < g->k_h; y += g->s_h)
          for (size_t x = rx; x < g->k_w; x += g->s_w)
            sum += w[y * g->k_w + x], n++;
        for (size_t y = ry; y < g->k_h; y += g->s_h)
          for (size_t x = rx; x < g->k_w; x += g->s_w)
            w[y * g->k_w + x] += (float) ((1.0 - sum) / (double) n);
      }
}

static tconv_lsq *
new_lsq (const geo *g)
{
  tconv_lsq  *l = NULL;
  tconv_error err = { 0 };
  tconv_status st = tconv_lsq_new (g->s_h, g->s_w, g->k_h, g->k_w, g->pad_h, g->pad_w, &l, &err);
  if (st != TCONV_OK)
    test_ok (0, "tconv_lsq_new s=%zux%zu k=%zux%zu: %s", g->s_h, g->s_w, g->k_h, g->k_w,
             err.message);
  return l;
}

static tconv_status
add (tconv_lsq *l, const float *lr, size_t h, size_t w, const float *hr, size_t s_h, size_t s_w)
{
  tconv_plane a = { lr, h, w, (ptrdiff_t) w, 1 };
  tconv_plane b = { hr, h * s_h, w * s_w, (ptrdiff_t) (w * s_w), 1 };
  return tconv_lsq_add_pair (l, &a, &b, NULL);
}

static double
max_diff (const float *a, const float *b, size_t n)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax (m, fabs ((double) a[i] - (double) b[i]));
  return m;
}

static void
recovers_planted_kernel (test_rng *rng)
{
  static const size_t cases[][4] = {
    { 2, 2, 12, 12 }, { 3, 3, 18, 18 }, { 4, 4, 16, 16 }, { 2, 2, 7, 7 },
    { 2, 3, 8, 9 },   { 3, 3, 2, 2 },   { 1, 1, 5, 5 },   { 4, 4, 24, 24 },
  };

  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int normalized = 0; normalized < 2; normalized++)
      {
        const geo g = make_geo (cases[c][0], cases[c][1], cases[c][2], cases[c][3]);
        const size_t h = 23, wd = 29, n = g.k_h * g.k_w;
        float   *w = test_malloc (n * sizeof (float));
        float   *lr = test_malloc (h * wd * sizeof (float));
        float   *hr = test_malloc (h * wd * g.s_h * g.s_w * sizeof (float));
        tconv_lsq *l = new_lsq (&g);
        tconv_lsq_options opt;
        tconv_lsq_stats stats = { 0 };
        tconv_kernel *k = NULL;
        tconv_error err = { 0 };

        /* a kernel smaller than the stride has phases without taps: they cannot sum to 1 */
        const int can_normalize = g.k_h >= g.s_h && g.k_w >= g.s_w;
        if (normalized && !can_normalize)
          {
            free (w), free (lr), free (hr), tconv_lsq_free (l);
            continue;
          }
        random_kernel (rng, &g, normalized, w);
        test_rng_fill (rng, lr, h * wd);
        upsample (&g, w, lr, h, wd, hr);
        CHECK_STATUS (add (l, lr, h, wd, hr, g.s_h, g.s_w));
        tconv_lsq_options_init (&opt);
        opt.normalize = normalized;
        CHECK_STATUS (tconv_lsq_solve (l, &opt, &k, &stats, &err));
        if (k != NULL)
          {
            const double d = max_diff (k->weights, w, n);
            CHECK (d < 2e-5 && k->stride_h == g.s_h && k->stride_w == g.s_w
                     && k->pad_h == g.pad_h && k->pad_w == g.pad_w
                     && k->k_h + k->opad_h - 2 * k->pad_h == g.s_h
                     && k->k_w + k->opad_w - 2 * k->pad_w == g.s_w
                     && k->provenance == TCONV_PROVENANCE_LEARNED && k->channels == 1,
                   "planted s=%zux%zu k=%zux%zu%s recovered: max |diff| %.2g, mse %.2g",
                   g.s_h, g.s_w, g.k_h, g.k_w, normalized ? " (phases sum to 1)" : "", d,
                   stats.mse);
          }
        tconv_kernel_free (k);
        tconv_lsq_free (l);
        free (w), free (lr), free (hr);
      }
}

/* Random LR and unrelated random HR: the constrained solution still sums to 1 per phase. */
static void
phases_sum_to_one (test_rng *rng)
{
  static const size_t cases[][2] = { { 2, 12 }, { 3, 18 }, { 4, 24 }, { 2, 8 }, { 3, 12 }, { 4, 16 } };

  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    {
      const geo    g = make_geo (cases[c][0], cases[c][0], cases[c][1], cases[c][1]);
      const size_t h = 30, wd = 30;
      float       *lr = test_malloc (h * wd * sizeof (float));
      float       *hr = test_malloc (h * wd * g.s_h * g.s_w * sizeof (float));
      tconv_lsq   *l = new_lsq (&g);
      tconv_kernel *k = NULL;
      double       worst = 0.0;

      test_rng_fill (rng, lr, h * wd);
      test_rng_fill (rng, hr, h * wd * g.s_h * g.s_w);
      for (size_t i = 0; i < h * wd * g.s_h * g.s_w; i++)
        hr[i] = 3.0f * hr[i] + 0.7f;
      CHECK_STATUS (add (l, lr, h, wd, hr, g.s_h, g.s_w));
      CHECK_STATUS (tconv_lsq_solve (l, NULL, &k, NULL, NULL));
      if (k != NULL)
        {
          double sums[64];
          CHECK_STATUS (tconv_kernel_phase_sums (k, 0, sums, NULL));
          for (size_t p = 0; p < g.s_h * g.s_w; p++)
            worst = fmax (worst, fabs (sums[p] - 1.0));
        }
      CHECK (k != NULL && worst <= 1e-6, "s=%zu k=%zu: every phase sums to 1 (worst %.2g)",
             g.s_h, g.k_h, worst);
      tconv_kernel_free (k);
      tconv_lsq_free (l);
      free (lr), free (hr);
    }
}

static int
kernel_symmetric (const tconv_kernel *k, unsigned sym, size_t *bad_y, size_t *bad_x)
{
  const size_t kh = k->k_h, kw = k->k_w;

  for (size_t y = 0; y < kh; y++)
    for (size_t x = 0; x < kw; x++)
      {
        const float v = k->weights[y * kw + x];
        /* mirror of tap k is 2 pad + s - 1 - k; outside the kernel the tap must be 0 */
        const int64_t my = (int64_t) (2 * k->pad_h + k->stride_h - 1) - (int64_t) y;
        const int64_t mx = (int64_t) (2 * k->pad_w + k->stride_w - 1) - (int64_t) x;
        int ok = 1;

        if (sym & TCONV_LSQ_SYM_FLIP_Y)
          ok &= (my >= 0 && my < (int64_t) kh) ? k->weights[my * (int64_t) kw + (int64_t) x] == v
                                                : v == 0.0f;
        if (sym & TCONV_LSQ_SYM_FLIP_X)
          ok &= (mx >= 0 && mx < (int64_t) kw) ? k->weights[y * kw + (size_t) mx] == v
                                                : v == 0.0f;
        if (sym & TCONV_LSQ_SYM_TRANSPOSE)
          ok &= k->weights[x * kw + y] == v;
        if (!ok)
          {
            *bad_y = y, *bad_x = x;
            return 0;
          }
      }
  return 1;
}

static void
symmetry_holds_exactly (test_rng *rng)
{
  static const size_t cases[][2] = { { 2, 12 }, { 3, 18 }, { 3, 17 }, { 4, 16 }, { 2, 7 } };
  static const unsigned syms[] = { TCONV_LSQ_SYM_FLIP_X, TCONV_LSQ_SYM_FLIP_Y,
                                   TCONV_LSQ_SYM_FLIP_X | TCONV_LSQ_SYM_FLIP_Y,
                                   TCONV_LSQ_SYM_TRANSPOSE, TCONV_LSQ_SYM_DIHEDRAL };

  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    {
      const geo    g = make_geo (cases[c][0], cases[c][0], cases[c][1], cases[c][1]);
      const size_t h = 26, wd = 31;
      float       *lr = test_malloc (h * wd * sizeof (float));
      float       *hr = test_malloc (h * wd * g.s_h * g.s_w * sizeof (float));
      tconv_lsq   *l = new_lsq (&g);

      /* unrelated random data: nothing in it is symmetric */
      test_rng_fill (rng, lr, h * wd);
      test_rng_fill (rng, hr, h * wd * g.s_h * g.s_w);
      CHECK_STATUS (add (l, lr, h, wd, hr, g.s_h, g.s_w));
      for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        {
          tconv_lsq_options opt;
          tconv_kernel     *k = NULL;
          size_t            by = 0, bx = 0;
          double            sums[16], worst = 0.0;

          tconv_lsq_options_init (&opt);
          opt.symmetry = syms[i];
          CHECK_STATUS (tconv_lsq_solve (l, &opt, &k, NULL, NULL));
          if (k == NULL)
            continue;
          tconv_kernel_phase_sums (k, 0, sums, NULL);
          for (size_t p = 0; p < g.s_h * g.s_w; p++)
            worst = fmax (worst, fabs (sums[p] - 1.0));
          CHECK (kernel_symmetric (k, syms[i], &by, &bx) && worst <= 1e-6,
                 "s=%zu k=%zu symmetry 0x%x holds bit for bit (first bad tap %zu,%zu), phases "
                 "sum to 1 (worst %.2g)",
                 g.s_h, g.k_h, syms[i], by, bx, worst);
          tconv_kernel_free (k);
        }
      tconv_lsq_free (l);
      free (lr), free (hr);
    }
}

/* Algebraic symmetrisation == training on the flipped copies (exact when the usable
 * anchors are symmetric, as for s = 2, k = 12). */
static void
symmetry_equals_augmentation (test_rng *rng)
{
  const geo    g = make_geo (2, 2, 12, 12);
  const size_t h = 24, wd = 28, H = 48, W = 56;
  float       *lr = test_malloc (h * wd * sizeof (float)), *hr = test_malloc (H * W * sizeof (float));
  float       *lr2 = test_malloc (h * wd * sizeof (float)), *hr2 = test_malloc (H * W * sizeof (float));
  float        w[144];
  tconv_lsq   *sym = new_lsq (&g), *aug = new_lsq (&g);
  tconv_lsq_options opt;
  tconv_kernel *ks = NULL, *ka = NULL;

  random_kernel (rng, &g, 1, w);
  test_rng_fill (rng, lr, h * wd);
  upsample (&g, w, lr, h, wd, hr);
  for (size_t i = 0; i < H * W; i++)
    hr[i] += 0.3f * (float) test_rng_signed (rng); /* noise, so the fit is not exact */
  add (sym, lr, h, wd, hr, 2, 2);
  for (int f = 0; f < 4; f++)
    {
      const int fy = f & 1, fx = f >> 1;
      for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < wd; x++)
          lr2[y * wd + x] = lr[(fy ? h - 1 - y : y) * wd + (fx ? wd - 1 - x : x)];
      for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++)
          hr2[y * W + x] = hr[(fy ? H - 1 - y : y) * W + (fx ? W - 1 - x : x)];
      add (aug, lr2, h, wd, hr2, 2, 2);
    }
  tconv_lsq_options_init (&opt);
  CHECK_STATUS (tconv_lsq_solve (aug, &opt, &ka, NULL, NULL));
  opt.symmetry = TCONV_LSQ_SYM_FLIP_X | TCONV_LSQ_SYM_FLIP_Y;
  CHECK_STATUS (tconv_lsq_solve (sym, &opt, &ks, NULL, NULL));
  if (ks != NULL && ka != NULL)
    {
      const double d = max_diff (ks->weights, ka->weights, 144);
      CHECK (d < 1e-5, "flip symmetry applied algebraically == training on the 4 flipped "
                       "copies (max |diff| %.2g)", d);
    }
  tconv_kernel_free (ks), tconv_kernel_free (ka);
  tconv_lsq_free (sym), tconv_lsq_free (aug);
  free (lr), free (hr), free (lr2), free (hr2);
}

static void
rank_deficient_is_singular (test_rng *rng)
{
  const geo    g = make_geo (2, 2, 8, 8);
  const size_t h = 20, wd = 20;
  float        lr[20 * 20], hr[40 * 40];
  tconv_lsq   *l;
  tconv_kernel *k = NULL;
  tconv_error  err = { 0 };
  tconv_lsq_options opt;

  /* a flat image: one direction of data for 16 taps per phase */
  for (size_t i = 0; i < h * wd; i++)
    lr[i] = 0.5f;
  for (size_t i = 0; i < 4 * h * wd; i++)
    hr[i] = 0.5f;
  l = new_lsq (&g);
  CHECK_STATUS (add (l, lr, h, wd, hr, 2, 2));
  CHECK (tconv_lsq_solve (l, NULL, &k, NULL, &err) == TCONV_ERR_SINGULAR && k == NULL
           && strstr (err.message, "phase (0, 0)") != NULL
           && strstr (err.message, "singular") != NULL,
         "flat image -> TCONV_ERR_SINGULAR: \"%s\"", err.message);
  tconv_lsq_free (l);

  /* varies along y only: the x taps are not determined */
  for (size_t y = 0; y < h; y++)
    {
      const float v = (float) test_rng_signed (rng);
      for (size_t x = 0; x < wd; x++)
        lr[y * wd + x] = v;
    }
  for (size_t y = 0; y < 2 * h; y++)
    for (size_t x = 0; x < 2 * wd; x++)
      hr[y * 2 * wd + x] = lr[(y / 2) * wd];
  l = new_lsq (&g);
  CHECK_STATUS (add (l, lr, h, wd, hr, 2, 2));
  err.message[0] = '\0';
  CHECK (tconv_lsq_solve (l, NULL, &k, NULL, &err) == TCONV_ERR_SINGULAR,
         "image constant along rows -> TCONV_ERR_SINGULAR: \"%s\"", err.message);
  tconv_lsq_options_init (&opt);
  opt.ridge = 1e-3;
  CHECK (tconv_lsq_solve (l, &opt, &k, NULL, &err) == TCONV_OK && k != NULL,
         "the same with ridge 1e-3 solves");
  tconv_kernel_free (k);
  tconv_lsq_free (l);
}

static void
stats_and_mse (test_rng *rng)
{
  const geo    g = make_geo (3, 3, 12, 12);
  const size_t h = 21, wd = 24;
  float        w[144], lr[21 * 24], hr[63 * 72];
  tconv_lsq   *l = new_lsq (&g), *l2 = new_lsq (&g);
  tconv_kernel *k = NULL, *k2 = NULL, *bic = NULL;
  tconv_lsq_stats st = { 0 }, st2 = { 0 };
  double       mse = -1.0, mse_bic = -1.0;

  random_kernel (rng, &g, 1, w);
  test_rng_fill (rng, lr, h * wd);
  upsample (&g, w, lr, h, wd, hr);
  for (size_t i = 0; i < 63 * 72; i++)
    hr[i] += 0.1f * (float) test_rng_signed (rng);
  add (l, lr, h, wd, hr, 3, 3);
  add (l2, lr, h, wd, hr, 3, 3);
  CHECK_STATUS (tconv_lsq_solve (l, NULL, &k, &st, NULL));
  CHECK_STATUS (tconv_lsq_solve (l2, NULL, &k2, &st2, NULL));
  if (k == NULL || k2 == NULL)
    return;
  CHECK (memcmp (k->weights, k2->weights, sizeof w) == 0 && st.mse == st2.mse,
         "two learners fed the same pairs give identical kernels (determinism)");
  CHECK_STATUS (tconv_lsq_mse (l, k, &mse, NULL));
  /* the residual is the added noise: uniform in [-0.1, 0.1) has variance 0.01 / 3 */
  CHECK (fabs (mse - st.mse) <= 1e-12 && st.mse > 0.0025 && st.mse < 0.004
           && st.samples == (uint64_t) tconv_lsq_samples (l),
         "stats: mse %.5g (tconv_lsq_mse %.5g) ~ noise variance 0.0033, %llu samples", st.mse,
         mse, (unsigned long long) st.samples);
  /* an analytic kernel (bicubic x3 is 11x11 here) evaluates centre on centre */
  if (tconv_kernel_analytic (TCONV_ANALYTIC_BICUBIC, 3, 3, &bic, NULL) == TCONV_OK)
    {
      CHECK (tconv_lsq_mse (l, bic, &mse_bic, NULL) == TCONV_OK && mse_bic > st.mse,
             "bicubic baseline mse %.4g > learned %.4g", mse_bic, st.mse);
      tconv_kernel_free (bic);
    }
  tconv_kernel_free (k), tconv_kernel_free (k2);
  tconv_lsq_free (l), tconv_lsq_free (l2);
}

static void
strided_planes (test_rng *rng)
{
  /* one channel of an interleaved RGB pair gives the same kernel as the contiguous plane */
  const geo    g = make_geo (2, 2, 8, 8);
  const size_t h = 16, wd = 18;
  float        w[64], lr[16 * 18], hr[32 * 36], lr3[16 * 18 * 3], hr3[32 * 36 * 3];
  tconv_lsq   *a = new_lsq (&g), *b = new_lsq (&g);
  tconv_kernel *ka = NULL, *kb = NULL;

  random_kernel (rng, &g, 1, w);
  test_rng_fill (rng, lr, h * wd);
  upsample (&g, w, lr, h, wd, hr);
  test_rng_fill (rng, lr3, h * wd * 3);
  test_rng_fill (rng, hr3, 4 * h * wd * 3);
  for (size_t i = 0; i < h * wd; i++)
    lr3[3 * i + 1] = lr[i];
  for (size_t i = 0; i < 4 * h * wd; i++)
    hr3[3 * i + 1] = hr[i];
  add (a, lr, h, wd, hr, 2, 2);
  tconv_plane pl = { lr3 + 1, h, wd, (ptrdiff_t) (3 * wd), 3 };
  tconv_plane ph = { hr3 + 1, 2 * h, 2 * wd, (ptrdiff_t) (6 * wd), 3 };
  CHECK_STATUS (tconv_lsq_add_pair (b, &pl, &ph, NULL));
  tconv_lsq_solve (a, NULL, &ka, NULL, NULL);
  tconv_lsq_solve (b, NULL, &kb, NULL, NULL);
  CHECK (ka != NULL && kb != NULL && memcmp (ka->weights, kb->weights, sizeof w) == 0,
         "x_stride 3 planes give the same kernel as contiguous ones");
  tconv_kernel_free (ka), tconv_kernel_free (kb);
  tconv_lsq_free (a), tconv_lsq_free (b);
}

/* Pair i: LR random, HR = planted kernel @w upsampled plus uniform noise of amplitude @noise. */
static void
noisy_pair (test_rng *rng, const geo *g, const float *w, double noise, float *lr, size_t h,
            size_t wd, float *hr)
{
  test_rng_fill (rng, lr, h * wd);
  upsample (g, w, lr, h, wd, hr);
  for (size_t i = 0; i < h * wd * g->s_h * g->s_w; i++)
    hr[i] += (float) (noise * test_rng_signed (rng));
}

static double
max_kernel_diff (const tconv_kernel *a, const tconv_kernel *b)
{
  if (a == NULL || b == NULL || a->k_h != b->k_h || a->k_w != b->k_w)
    return INFINITY;
  return max_diff (a->weights, b->weights, a->k_h * a->k_w);
}

/* Merging accumulators equals accumulating in one (up to the order of the sums); a weight
 * of 2 equals adding the pair twice; bad merges are refused and change nothing. */
static void
merge_equals_accumulation (test_rng *rng)
{
  const geo    g = make_geo (2, 2, 8, 8);
  const size_t h = 19, wd = 22;
  float        w[64], lr_a[19 * 22], hr_a[38 * 44], lr_b[19 * 22], hr_b[38 * 44];
  tconv_lsq   *one = new_lsq (&g), *pa = new_lsq (&g), *pb = new_lsq (&g), *m = new_lsq (&g);
  tconv_lsq   *twice = new_lsq (&g), *m2 = new_lsq (&g), *other = NULL;
  tconv_kernel *k1 = NULL, *km = NULL, *kt = NULL, *km2 = NULL;
  tconv_error  err = { 0 };
  const geo    g3 = make_geo (3, 3, 12, 12);

  random_kernel (rng, &g, 1, w);
  noisy_pair (rng, &g, w, 0.2, lr_a, h, wd, hr_a);
  noisy_pair (rng, &g, w, 0.05, lr_b, h, wd, hr_b);
  add (one, lr_a, h, wd, hr_a, 2, 2), add (one, lr_b, h, wd, hr_b, 2, 2);
  add (pa, lr_a, h, wd, hr_a, 2, 2), add (pb, lr_b, h, wd, hr_b, 2, 2);
  CHECK_STATUS (tconv_lsq_merge (m, pa, 1.0, &err));
  CHECK_STATUS (tconv_lsq_merge (m, pb, 1.0, &err));
  tconv_lsq_solve (one, NULL, &k1, NULL, NULL);
  tconv_lsq_solve (m, NULL, &km, NULL, NULL);
  CHECK (max_kernel_diff (k1, km) < 1e-6 && tconv_lsq_samples (m) == tconv_lsq_samples (one),
         "merge of two accumulators == one accumulator fed both pairs (max |diff| %.2g)",
         max_kernel_diff (k1, km));

  add (twice, lr_a, h, wd, hr_a, 2, 2), add (twice, lr_a, h, wd, hr_a, 2, 2);
  add (twice, lr_b, h, wd, hr_b, 2, 2);
  CHECK_STATUS (tconv_lsq_merge (m2, pa, 2.0, &err));
  CHECK_STATUS (tconv_lsq_merge (m2, pb, 1.0, &err));
  tconv_lsq_solve (twice, NULL, &kt, NULL, NULL);
  tconv_lsq_solve (m2, NULL, &km2, NULL, NULL);
  CHECK (max_kernel_diff (kt, km2) < 1e-6 && max_kernel_diff (kt, k1) > 1e-4,
         "weight 2 == the pair added twice (max |diff| %.2g; %.2g from weight 1)",
         max_kernel_diff (kt, km2), max_kernel_diff (kt, k1));

  const uint64_t before = tconv_lsq_samples (m);
  CHECK (tconv_lsq_merge (m, pa, 0.0, &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "weight 0") != NULL,
         "weight 0 refused: \"%s\"", err.message);
  CHECK (tconv_lsq_merge (m, pa, -1.0, &err) == TCONV_ERR_INVALID_ARG, "negative weight refused");
  CHECK (tconv_lsq_merge (m, pa, NAN, &err) == TCONV_ERR_INVALID_ARG, "NaN weight refused");
  CHECK (tconv_lsq_merge (m, pa, INFINITY, &err) == TCONV_ERR_INVALID_ARG, "infinite weight refused");
  other = new_lsq (&g3);
  CHECK (tconv_lsq_merge (m, other, 1.0, &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "different") != NULL,
         "accumulators of another geometry refused: \"%s\"", err.message);
  CHECK (tconv_lsq_merge (NULL, pa, 1.0, &err) == TCONV_ERR_INVALID_ARG, "NULL refused");
  tconv_kernel *again = NULL;
  tconv_lsq_solve (m, NULL, &again, NULL, NULL);
  CHECK (tconv_lsq_samples (m) == before && max_kernel_diff (again, km) == 0.0,
         "refused merges change nothing");
  tconv_kernel_free (again);
  tconv_kernel_free (k1), tconv_kernel_free (km), tconv_kernel_free (kt), tconv_kernel_free (km2);
  tconv_lsq_free (one), tconv_lsq_free (pa), tconv_lsq_free (pb), tconv_lsq_free (m);
  tconv_lsq_free (twice), tconv_lsq_free (m2), tconv_lsq_free (other);
}

/* Per-image balancing. Two "images" planted with different kernels, one easy (little noise)
 * and one hard (much noise): the pooled fit follows the hard one. The balanced kernel must
 *  - be a fixed point of its definition: the weighted least squares with weights 1 / SSE_i
 *    of itself, solved here by the test from separately weighted merges;
 *  - not change when the hard image's samples are repeated (the pooled one does);
 *  - have a lower mean log error than the pooled kernel, and a higher pooled error. */
static void
balanced_per_image (test_rng *rng)
{
  const geo    g = make_geo (2, 2, 8, 8);
  const size_t h = 24, wd = 26;
  float        wa[64], wb[64], lr_a[24 * 26], hr_a[48 * 52], lr_b[24 * 26], hr_b[48 * 52];
  tconv_lsq   *pa = new_lsq (&g), *pb = new_lsq (&g), *pb2 = new_lsq (&g), *ref = new_lsq (&g);
  tconv_kernel *kp = NULL, *kb = NULL, *kb2 = NULL, *kp2 = NULL, *kref = NULL, *k0 = NULL;
  tconv_lsq_stats st = { 0 };
  tconv_error  err = { 0 };
  double       mse_a, mse_b, pmse_a, pmse_b;

  /* kernels that differ by a perturbation (images of one kind, not of opposite kinds: the
   * mean log error of two unrelated kernels has one minimum per kernel) */
  random_kernel (rng, &g, 1, wa);
  random_kernel (rng, &g, 0, wb);
  for (size_t i = 0; i < 64; i++)
    wb[i] = wa[i] + 0.1f * wb[i];
  noisy_pair (rng, &g, wa, 0.05, lr_a, h, wd, hr_a);
  noisy_pair (rng, &g, wb, 0.3, lr_b, h, wd, hr_b);
  add (pa, lr_a, h, wd, hr_a, 2, 2);
  add (pb, lr_b, h, wd, hr_b, 2, 2);
  add (pb2, lr_b, h, wd, hr_b, 2, 2), add (pb2, lr_b, h, wd, hr_b, 2, 2);

  const tconv_lsq *parts[2] = { pa, pb }, *parts2[2] = { pa, pb2 };
  CHECK_STATUS (tconv_lsq_solve_balanced (parts, 2, 0, NULL, &kp, NULL, &err));
  CHECK_STATUS (tconv_lsq_solve_balanced (parts, 2, 20, NULL, &kb, &st, &err));
  CHECK_STATUS (tconv_lsq_solve_balanced (parts2, 2, 20, NULL, &kb2, NULL, &err));
  CHECK_STATUS (tconv_lsq_solve_balanced (parts2, 2, 0, NULL, &kp2, NULL, &err));
  if (kp == NULL || kb == NULL || kb2 == NULL || kp2 == NULL)
    goto out;

  /* the fixed point, weights computed here */
  tconv_lsq_mse (pa, kb, &mse_a, NULL), tconv_lsq_mse (pb, kb, &mse_b, NULL);
  tconv_lsq_merge (ref, pa, 1.0 / (mse_a * (double) tconv_lsq_samples (pa)), NULL);
  tconv_lsq_merge (ref, pb, 1.0 / (mse_b * (double) tconv_lsq_samples (pb)), NULL);
  tconv_lsq_solve (ref, NULL, &kref, NULL, NULL);
  CHECK (max_kernel_diff (kb, kref) < 1e-5,
         "balanced kernel is the least squares weighted by 1 / its own SSE per image "
         "(max |diff| %.2g)", max_kernel_diff (kb, kref));
  CHECK (max_kernel_diff (kb, kb2) < 1e-5 && max_kernel_diff (kp, kp2) > 1e-3,
         "repeating an image's samples: balanced unchanged (%.2g), pooled moves (%.2g)",
         max_kernel_diff (kb, kb2), max_kernel_diff (kp, kp2));
  tconv_lsq_mse (pa, kp, &pmse_a, NULL), tconv_lsq_mse (pb, kp, &pmse_b, NULL);
  const double n_a = (double) tconv_lsq_samples (pa), n_b = (double) tconv_lsq_samples (pb);
  CHECK (log (mse_a) + log (mse_b) < log (pmse_a) + log (pmse_b) - 0.1
           && mse_a * n_a + mse_b * n_b > pmse_a * n_a + pmse_b * n_b,
         "balanced: mean log error %.4f < pooled %.4f; pooled SSE lower (%.4f < %.4f)",
         0.5 * (log (mse_a) + log (mse_b)), 0.5 * (log (pmse_a) + log (pmse_b)),
         pmse_a * n_a + pmse_b * n_b, mse_a * n_a + mse_b * n_b);
  CHECK (st.samples == tconv_lsq_samples (pa) + tconv_lsq_samples (pb)
           && fabs (st.mse - (mse_a * n_a + mse_b * n_b) / (n_a + n_b)) <= 1e-12 * st.mse,
         "balanced stats are the pooled error of the balanced kernel (%.6g)", st.mse);

  /* passes 0 is the pooled solution */
  tconv_lsq_free (ref), ref = new_lsq (&g);
  tconv_lsq_merge (ref, pa, 1.0, NULL), tconv_lsq_merge (ref, pb, 1.0, NULL);
  tconv_lsq_solve (ref, NULL, &k0, NULL, NULL);
  CHECK (max_kernel_diff (kp, k0) == 0.0, "0 passes == pooled least squares");

  tconv_kernel *bad = NULL;
  tconv_lsq    *empty = new_lsq (&g), *other = NULL;
  const geo     g3 = make_geo (3, 3, 12, 12);
  const tconv_lsq *with_empty[2] = { pa, empty };
  CHECK (tconv_lsq_solve_balanced (with_empty, 2, 3, NULL, &bad, NULL, &err) == TCONV_ERR_INVALID_ARG
           && bad == NULL && strstr (err.message, "accumulator 1 has no training samples") != NULL,
         "an empty part refused: \"%s\"", err.message);
  CHECK (tconv_lsq_solve_balanced (parts, 0, 3, NULL, &bad, NULL, &err) == TCONV_ERR_INVALID_ARG
           && bad == NULL, "no parts refused: \"%s\"", err.message);
  other = new_lsq (&g3);
  add (other, lr_a, h, wd, (float[72 * 78]) { 0 }, 3, 3);
  const tconv_lsq *mixed[2] = { pa, other };
  CHECK (tconv_lsq_solve_balanced (mixed, 2, 3, NULL, &bad, NULL, &err) == TCONV_ERR_INVALID_ARG
           && bad == NULL && strstr (err.message, "different") != NULL,
         "parts of different geometry refused: \"%s\"", err.message);
  tconv_lsq_free (empty), tconv_lsq_free (other);

out:
  tconv_kernel_free (kp), tconv_kernel_free (kb), tconv_kernel_free (kb2);
  tconv_kernel_free (kp2), tconv_kernel_free (kref), tconv_kernel_free (k0);
  tconv_lsq_free (pa), tconv_lsq_free (pb), tconv_lsq_free (pb2), tconv_lsq_free (ref);
}

static void
rejects_bad_arguments (void)
{
  tconv_lsq        *l = NULL;
  tconv_kernel     *k = NULL;
  tconv_error       err = { 0 };
  tconv_lsq_options opt;
  float             px[64] = { 0 };

  CHECK (tconv_lsq_new (2, 2, 12, 12, 4, 5, &l, &err) == TCONV_ERR_INVALID_ARG && l == NULL
           && strstr (err.message, "padding_h 4") != NULL,
         "inexact geometry refused: \"%s\"", err.message);
  CHECK (tconv_lsq_new (0, 2, 12, 12, 5, 5, &l, &err) == TCONV_ERR_INVALID_ARG,
         "stride 0 refused: \"%s\"", err.message);
  CHECK (tconv_lsq_new (1, 1, 41, 41, 20, 20, &l, &err) == TCONV_ERR_TOO_LARGE,
         "window above TCONV_LSQ_MAX_WINDOW refused: \"%s\"", err.message);
  CHECK_STATUS (tconv_lsq_new (2, 2, 12, 12, 5, 5, &l, &err));
  CHECK (tconv_lsq_solve (l, NULL, &k, NULL, &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "no training samples") != NULL,
         "solve without samples refused: \"%s\"", err.message);
  tconv_plane small = { px, 4, 4, 4, 1 }, big = { px, 8, 8, 8, 1 };
  CHECK (tconv_lsq_add_pair (l, &small, &big, &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "too small") != NULL,
         "a pair too small for one sample refused: \"%s\"", err.message);
  CHECK (tconv_lsq_add_pair (l, NULL, &big, &err) == TCONV_ERR_INVALID_ARG, "NULL plane refused");
  CHECK (tconv_lsq_samples (l) == 0, "refused pairs add nothing");
  tconv_lsq_options_init (&opt);
  opt.ridge = -1.0;
  CHECK (tconv_lsq_solve (l, &opt, &k, NULL, &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "ridge -1") != NULL,
         "negative ridge refused: \"%s\"", err.message);
  tconv_lsq_free (l);
  CHECK_STATUS (tconv_lsq_new (3, 2, 12, 12, 5, 5, &l, &err));
  tconv_lsq_options_init (&opt);
  opt.symmetry = TCONV_LSQ_SYM_TRANSPOSE;
  CHECK (tconv_lsq_solve (l, &opt, &k, NULL, &err) == TCONV_ERR_INVALID_ARG,
         "transpose symmetry with unequal strides (or no samples) refused: \"%s\"",
         err.message);
  tconv_lsq_free (l);
  tconv_lsq_free (NULL);
  CHECK (1, "tconv_lsq_free (NULL) is a no-op");
}

int
main (void)
{
  test_rng rng;

  test_begin ("test-lsq");
  test_rng_init (&rng, 5);
  recovers_planted_kernel (&rng);
  phases_sum_to_one (&rng);
  symmetry_holds_exactly (&rng);
  symmetry_equals_augmentation (&rng);
  rank_deficient_is_singular (&rng);
  stats_and_mse (&rng);
  strided_planes (&rng);
  merge_equals_accumulation (&rng);
  balanced_per_image (&rng);
  rejects_bad_arguments ();
  return test_end ();
}
