/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training kernel banks (core/tconv-bank-lsq.c): a planted bank is recovered from synthetic
 * pairs made by the scatter oracle; trained phases sum to 1; fallback classes are the global
 * kernel; training twice gives the same bytes; quantiles. */
#include "test-util.h"
#include "tconv-bank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_IMAGES 6
#define LR_SIDE  64

/* A random kernel of stride @s whose phases each sum to 1 exactly in double. */
static void
planted_kernel (test_rng *rng, size_t s, size_t k, float *w)
{
  test_rng_fill (rng, w, k * k);
  for (size_t ry = 0; ry < s; ry++)
    for (size_t rx = 0; rx < s; rx++)
      {
        double sum = 0.0;
        size_t n = 0;
        for (size_t y = ry; y < k; y += s)
          for (size_t x = rx; x < k; x += s)
            sum += (w[y * k + x] *= 0.2f), n++;
        for (size_t y = ry; y < k; y += s)
          for (size_t x = rx; x < k; x += s)
            w[y * k + x] += (float) ((1.0 - sum) / (double) n);
      }
}

static void
smooth_image (test_rng *rng, float *L, size_t side)
{
  const double t = 3.14159265 * (test_rng_signed (rng) + 1.0);
  for (size_t y = 0; y < side; y++)
    for (size_t x = 0; x < side; x++)
      L[y * side + x] = (float) (0.5 + 0.25 * sin (0.3 * (double) x * cos (t) + 0.2 * (double) y)
                                 + ((double) x * cos (t) + (double) y * sin (t) > 20 ? 0.15 : 0)
                                 + 0.1 * test_rng_signed (rng));
}

/* HR = the planted bank applied by the oracle, classes from the LR luma (0 at the border,
 * where no training sample is taken). */
static float *
make_hr (const tconv_bank *b, const float *L, size_t side)
{
  const size_t s = b->global->stride_h, halo = tconv_bank_halo (&b->classifier);
  const size_t inner = side - 2 * halo;
  uint16_t    *inner_map = test_malloc (inner * inner * sizeof (uint16_t));
  uint16_t    *map = calloc (side * side, sizeof (uint16_t));
  size_t       need;
  float       *work, *hr = test_malloc (side * s * side * s * sizeof (float));
  double      *dwork;
  tconv_params p;
  tconv_geometry g;

  CHECK_STATUS (tconv_bank_work_len (&b->classifier, side, side, &need, NULL));
  work = test_malloc (need * sizeof (float));
  CHECK_STATUS (tconv_bank_classify (&b->classifier, L, side, side, (ptrdiff_t) side, inner_map,
                                     (ptrdiff_t) inner, work, need, NULL));
  for (size_t y = 0; y < inner; y++)
    memcpy (map + (y + halo) * side + halo, inner_map + y * inner, inner * sizeof (uint16_t));
  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = 1;
  p.in_h = p.in_w = (int64_t) side;
  p.k_h = p.k_w = (int64_t) b->global->k_h;
  p.stride_h = p.stride_w = (int64_t) s;
  p.pad_h = p.pad_w = (int64_t) b->global->pad_h;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  {
    tconv_in_view        in = tconv_in_view_planar (&g, L);
    tconv_out_view       out = tconv_out_view_planar (&g, hr);
    tconv_bank_class_map cm = { map, 0, 0, side, side, (ptrdiff_t) side };
    dwork = test_malloc (g.out_len * sizeof (double));
    CHECK_STATUS (tconv_bank_upsample_ref (b, &g, &in, &cm, &out, dwork, g.out_len, NULL));
  }
  free (dwork), free (work), free (inner_map), free (map);
  return hr;
}

static void
test_planted (void)
{
  const size_t          s = 2, r = 1, k = s * (2 * r + 1);
  tconv_bank_classifier c = { .angles = 4, .strengths = 2, .coherences = 1, .sigma = 1.0,
                              .strength_thresholds = { 0.05 } };
  tconv_kernel         *g;
  tconv_bank           *planted, *got = NULL, *again = NULL;
  tconv_bank_lsq       *lsq, *lsq2;
  tconv_bank_lsq_stats  st;
  test_rng              rng;
  float                *L[N_IMAGES], *H[N_IMAGES];
  double                worst = 0.0;
  size_t                trained = 0, fallback_ok = 1;

  test_rng_init (&rng, 11);
  CHECK_STATUS (tconv_kernel_new (1, k, k, &g, NULL));
  g->stride_h = g->stride_w = s;
  g->pad_h = g->pad_w = s * r;
  planted_kernel (&rng, s, k, g->weights);
  CHECK_STATUS (tconv_bank_new (g, &c, &planted, NULL));
  for (size_t i = 0; i < planted->classes; i++)
    planted_kernel (&rng, s, k, planted->weights + i * k * k);
  CHECK_STATUS (tconv_bank_validate (planted, NULL));
  CHECK_STATUS (tconv_bank_lsq_new (&c, s, r, &lsq, NULL));
  CHECK_STATUS (tconv_bank_lsq_new (&c, s, r, &lsq2, NULL));
  for (int i = 0; i < N_IMAGES; i++)
    {
      L[i] = test_malloc (LR_SIDE * LR_SIDE * sizeof (float));
      smooth_image (&rng, L[i], LR_SIDE);
      H[i] = make_hr (planted, L[i], LR_SIDE);
      tconv_plane lr = { L[i], LR_SIDE, LR_SIDE, LR_SIDE, 1 };
      tconv_plane hr = { H[i], LR_SIDE * s, LR_SIDE * s, (ptrdiff_t) (LR_SIDE * s), 1 };
      CHECK_STATUS (tconv_bank_lsq_add_pair (lsq, &lr, &hr, 0, NULL));
      CHECK_STATUS (tconv_bank_lsq_add_pair (lsq2, &lr, &hr, 0, NULL));
    }
  CHECK_STATUS (tconv_bank_lsq_solve (lsq, 0.0, 60, NULL, &got, &st, NULL));
  CHECK_STATUS (tconv_bank_lsq_solve (lsq2, 0.0, 60, NULL, &again, NULL, NULL));
  for (size_t i = 0; got != NULL && i < got->classes; i++)
    {
      const float *w = got->weights + i * k * k, *want = planted->weights + i * k * k;
      if (got->fallback[i])
        {
          fallback_ok &= got->samples[i] < 60
                         && memcmp (w, got->global->weights, k * k * sizeof (float)) == 0;
          continue;
        }
      trained++;
      for (size_t t = 0; t < k * k; t++)
        if (fabs ((double) w[t] - want[t]) > worst)
          worst = fabs ((double) w[t] - want[t]);
    }
  test_diag ("%zu classes trained, %zu fall back, %llu windows", trained,
             got != NULL ? got->classes - trained : 0, (unsigned long long) st.samples);
  CHECK (trained >= 4, "at least 4 classes have enough samples (%zu)", trained);
  CHECK (worst < 1e-4, "the planted filters come back (worst tap error %g)", worst);
  CHECK (fallback_ok, "fallback classes have < 60 samples and equal the global kernel");
  CHECK (got != NULL && tconv_bank_validate (got, NULL) == TCONV_OK,
         "every trained phase sums to 1 within 1e-6 (tconv_bank_validate)");
  CHECK (got != NULL && again != NULL
           && memcmp (got->weights, again->weights, got->classes * k * k * sizeof (float)) == 0
           && memcmp (got->global->weights, again->global->weights, k * k * sizeof (float)) == 0,
         "training twice gives the same bytes");
  CHECK (st.mse < 1e-10, "training MSE of the planted data is ~0 (%g)", st.mse);
  for (int i = 0; i < N_IMAGES; i++)
    free (L[i]), free (H[i]);
  tconv_bank_lsq_free (lsq), tconv_bank_lsq_free (lsq2);
  tconv_bank_free (planted), tconv_bank_free (got), tconv_bank_free (again);
  tconv_kernel_free (g);
}

static void
test_quantiles (void)
{
  float  v[1000];
  double t[3];

  for (int i = 0; i < 1000; i++)
    v[i] = (float) ((i * 7919) % 1000) / 1000.0f; /* 0.000 .. 0.999, shuffled */
  CHECK_STATUS (tconv_bank_quantiles (v, 1000, 4, t, NULL));
  CHECK (fabs (t[0] - 0.249) < 1e-6 && fabs (t[1] - 0.499) < 1e-6 && fabs (t[2] - 0.749) < 1e-6,
         "quartiles of 0..0.999: %g %g %g", t[0], t[1], t[2]);
  for (int i = 0; i < 1000; i++)
    v[i] = 0.5f;
  CHECK_STATUS (tconv_bank_quantiles (v, 1000, 3, t, NULL));
  CHECK (t[1] > t[0], "equal values still give strictly increasing thresholds (%g, %g)", t[0],
         t[1]);
  v[3] = NAN;
  CHECK (tconv_bank_quantiles (v, 1000, 3, t, NULL) == TCONV_ERR_INVALID_ARG, "NaN refused");
}

int
main (void)
{
  test_begin ("bank-lsq");
  test_planted ();
  test_quantiles ();
  return test_end ();
}
