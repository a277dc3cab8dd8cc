/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Learning from an image's own reduced copy (core/tconv-selflearn.c): the kernel equals the
 * recipe written out here step by step (top-left crop, per-channel degradation, optional
 * 8-bit rounding, BT.601 luma, centred least squares with dihedral symmetry), beats the
 * analytic bicubic kernel on the same pairs, keeps its phase sums at 1, takes the ridge
 * only for flat images, and refuses strides outside TCONV_SELF_MIN/MAX_STRIDE. */
#include "test-util.h"

#include "tconv-selflearn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A textured image in [0, 1]: smooth waves, an edge and noise, different per channel. */
static float *
make_image (test_rng *rng, size_t w, size_t h)
{
  float *rgb = test_malloc (w * h * 3 * sizeof (float));

  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        {
          double v = 0.5 + 0.3 * sin (x / (2.0 + c) + c) * cos (y / (3.0 + c));

          v += (x + 2 * y > (w + h) * (0.5 + 0.1 * c)) ? 0.2 : 0.0;
          v += 0.05 * test_rng_signed (rng);
          rgb[(y * w + x) * 3 + c] = (float) (v < 0 ? 0 : v > 1 ? 1 : v);
        }
  return rgb;
}

/* The recipe, step by step, into a fresh learner: what every front end promises. */
static tconv_lsq *
reference_pairs (const float *rgb, size_t w, size_t h, unsigned s, const tconv_degradation *degr,
                 size_t n_degr, int quantize, size_t k)
{
  const size_t cw = w / s * s, ch = h / s * s, lw = cw / s, lh = ch / s;
  float       *hr = test_malloc (cw * ch * 3 * sizeof (float));
  float       *hy = test_malloc (cw * ch * sizeof (float));
  float       *lr = test_malloc (lw * lh * 3 * sizeof (float));
  float       *ly = test_malloc (lw * lh * sizeof (float));
  tconv_lsq   *lsq = NULL;

  for (size_t y = 0; y < ch; y++) /* top-left crop */
    for (size_t x = 0; x < cw * 3; x++)
      hr[y * cw * 3 + x] = rgb[y * w * 3 + x];
  for (size_t i = 0; i < cw * ch; i++)
    hy[i] = (float) ((299.0 / 1000) * hr[3 * i] + (587.0 / 1000) * hr[3 * i + 1]
                     + (114.0 / 1000) * hr[3 * i + 2]);
  if (tconv_lsq_new (s, s, k, k, (k - s + 1) / 2, (k - s + 1) / 2, &lsq, NULL) != TCONV_OK)
    abort ();
  for (size_t d = 0; d < n_degr; d++)
    {
      size_t  len = 0;
      double *work;

      if (tconv_degrade_work_len (degr[d], s, 0.0, ch, cw, &len, NULL) != TCONV_OK)
        abort ();
      work = test_malloc ((len + 1) * sizeof (double));
      for (int c = 0; c < 3; c++)
        {
          const tconv_plane     src = { hr + c, ch, cw, (ptrdiff_t) (cw * 3), 3 };
          const tconv_plane_out dst = { lr + c, lh, lw, (ptrdiff_t) (lw * 3), 3 };

          if (tconv_degrade (degr[d], s, 0.0, &src, &dst, work, len, NULL) != TCONV_OK)
            abort ();
        }
      free (work);
      for (size_t i = 0; quantize && i < lw * lh * 3; i++)
        lr[i] = (float) (round (fmin (fmax (lr[i], 0.0), 1.0) * 255.0) / 255.0);
      for (size_t i = 0; i < lw * lh; i++)
        ly[i] = (float) ((299.0 / 1000) * lr[3 * i] + (587.0 / 1000) * lr[3 * i + 1]
                         + (114.0 / 1000) * lr[3 * i + 2]);
      {
        const tconv_plane lp = { ly, lh, lw, (ptrdiff_t) lw, 1 };
        const tconv_plane hp = { hy, ch, cw, (ptrdiff_t) cw, 1 };

        if (tconv_lsq_add_pair (lsq, &lp, &hp, NULL) != TCONV_OK)
          abort ();
      }
    }
  free (hr), free (hy), free (lr), free (ly);
  return lsq;
}

static int
same_kernel (const tconv_kernel *a, const tconv_kernel *b, double tol, size_t *bad)
{
  if (a->k_h != b->k_h || a->k_w != b->k_w || a->stride_h != b->stride_h
      || a->pad_h != b->pad_h || a->pad_w != b->pad_w || a->opad_h != b->opad_h)
    return 0;
  return test_near_array (a->weights, b->weights, a->k_h * a->k_w, tol, tol, bad);
}

static void
self_matches_recipe (test_rng *rng, size_t w, size_t h, unsigned s)
{
  const tconv_degradation bicubic = TCONV_DEGRADE_BICUBIC;
  const size_t            k = TCONV_SELF_SIZE * s;
  float                  *rgb = make_image (rng, w, h);
  tconv_kernel           *got = NULL, *again = NULL, *want = NULL, *cubic = NULL;
  tconv_lsq              *lsq = reference_pairs (rgb, w, h, s, &bicubic, 1, 0, k);
  tconv_lsq_options       opt;
  double                  mse_got = -1, mse_cubic = -1, worst = 0.0;
  size_t                  bad = 0;

  tconv_lsq_options_init (&opt);
  opt.symmetry = TCONV_LSQ_SYM_DIHEDRAL;
  CHECK_STATUS (tconv_lsq_solve (lsq, &opt, &want, NULL, NULL));
  CHECK_STATUS (tconv_self_learn (rgb, w, h, w * 3, s, &got, NULL));
  CHECK_STATUS (tconv_self_learn (rgb, w, h, w * 3, s, &again, NULL));
  if (got == NULL || want == NULL || again == NULL)
    goto out;
  CHECK (same_kernel (got, want, 1e-6, &bad),
         "self x%u on %zux%zu equals the recipe (K %zu, first bad tap %zu)", s, w, h, k, bad);
  CHECK (memcmp (got->weights, again->weights, k * k * sizeof (float)) == 0,
         "self x%u: the same pixels give the same bytes", s);
  CHECK (strncmp (got->name, "self-x", 6) == 0 && atoi (got->name + 6) == (int) s
           && got->description[0] != '\0',
         "self x%u is named '%s'", s, got->name);
  for (size_t py = 0; py < s; py++)
    for (size_t px = 0; px < s; px++)
      {
        double sum = 0.0;

        for (size_t y = py; y < k; y += s)
          for (size_t x = px; x < k; x += s)
            sum += got->weights[y * k + x];
        worst = fmax (worst, fabs (sum - 1.0));
      }
  CHECK (worst < 1e-5, "self x%u: every phase sums to 1 (worst %.3g)", s, worst);
  bad = 0;
  for (size_t y = 0; y < k; y++)
    for (size_t x = 0; x < k; x++)
      {
        const float v = got->weights[y * k + x];

        /* with an output padding the centre is not the kernel's middle: transpose only */
        if (v != got->weights[x * k + y]
            || (got->opad_h == 0 && (v != got->weights[(k - 1 - y) * k + x]
                                     || v != got->weights[y * k + k - 1 - x])))
          bad++;
      }
  CHECK (bad == 0, "self x%u: dihedral symmetry (output padding %zu; %zu taps break it)", s,
         got->opad_h, bad);
  if (tconv_kernel_analytic (TCONV_ANALYTIC_BICUBIC, s, s, &cubic, NULL) == TCONV_OK)
    {
      CHECK_STATUS (tconv_lsq_mse (lsq, got, &mse_got, NULL));
      CHECK_STATUS (tconv_lsq_mse (lsq, cubic, &mse_cubic, NULL));
      CHECK (mse_got >= 0 && mse_got <= mse_cubic,
             "self x%u fits its pairs at least as well as bicubic (%.4g <= %.4g)", s, mse_got,
             mse_cubic);
    }
out:
  tconv_kernel_free (got), tconv_kernel_free (again), tconv_kernel_free (want);
  tconv_kernel_free (cubic);
  tconv_lsq_free (lsq);
  free (rgb);
}

/* `tconv learn`'s step: several degradations and 8-bit rounding, on an odd-sized image. */
static void
add_image_matches_recipe (test_rng *rng)
{
  const tconv_degradation degr[] = { TCONV_DEGRADE_BICUBIC, TCONV_DEGRADE_AREA,
                                     TCONV_DEGRADE_GAUSS };
  const size_t            w = 53, h = 45, s = 3, k = 12;
  float                  *rgb = make_image (rng, w, h);
  tconv_lsq              *want = reference_pairs (rgb, w, h, s, degr, 3, 1, k), *got = NULL;
  tconv_kernel           *kw = NULL, *kg = NULL;
  size_t                  bad = 0;

  CHECK_STATUS (tconv_lsq_new (s, s, k, k, (k - s + 1) / 2, (k - s + 1) / 2, &got, NULL));
  CHECK_STATUS (tconv_learn_add_image (got, rgb, w, h, w * 3, s, degr, 3, 0.0, 1, NULL));
  CHECK_STATUS (tconv_lsq_solve (want, NULL, &kw, NULL, NULL));
  CHECK_STATUS (tconv_lsq_solve (got, NULL, &kg, NULL, NULL));
  CHECK (kw != NULL && kg != NULL && same_kernel (kg, kw, 1e-6, &bad),
         "learn_add_image (bicubic+area+gauss, 8-bit, %zux%zu, x%zu) equals the recipe "
         "(first bad tap %zu)", w, h, s, bad);
  tconv_kernel_free (kw), tconv_kernel_free (kg);
  tconv_lsq_free (want), tconv_lsq_free (got);
  free (rgb);
}

/* A flat image does not determine the taps: the ridge still gives a flat-preserving kernel. */
static void
flat_image_takes_ridge (void)
{
  const size_t  w = 40, h = 36;
  float        *rgb = test_malloc (w * h * 3 * sizeof (float));
  tconv_kernel *k = NULL;
  double        sum = 0.0;

  for (size_t i = 0; i < w * h * 3; i++)
    rgb[i] = 0.25f;
  CHECK_STATUS (tconv_self_learn (rgb, w, h, w * 3, 2, &k, NULL));
  for (size_t y = 0; k != NULL && y < k->k_h; y += 2)
    for (size_t x = 0; x < k->k_w; x += 2)
      sum += k->weights[y * k->k_w + x];
  CHECK (k != NULL && fabs (sum - 1.0) < 1e-5, "flat image: a kernel whose phase (0,0) sums to "
         "1 (%.6f)", sum);
  tconv_kernel_free (k);
  free (rgb);
}

static void
strides_out_of_range (void)
{
  const size_t  w = 400, h = 400;
  float        *rgb = calloc (w * h * 3, sizeof (float));
  tconv_kernel *k = (tconv_kernel *) rgb; /* must be reset to NULL on failure */
  tconv_error   err = { 0 };
  tconv_status  st;

  st = tconv_self_learn (rgb, w, h, w * 3, TCONV_SELF_MIN_STRIDE - 1, &k, &err);
  CHECK (st == TCONV_ERR_INVALID_ARG && k == NULL && strstr (err.message, "stride 1") != NULL,
         "stride %u refused: %s", TCONV_SELF_MIN_STRIDE - 1, err.message);
  st = tconv_self_learn (rgb, w, h, w * 3, TCONV_SELF_MAX_STRIDE + 1, &k, &err);
  CHECK (st == TCONV_ERR_INVALID_ARG && k == NULL && strstr (err.message, "17") != NULL,
         "stride %u refused: %s", TCONV_SELF_MAX_STRIDE + 1, err.message);
  CHECK (TCONV_SELF_MIN_STRIDE == 2 && TCONV_SELF_MAX_STRIDE == 16,
         "self learns at strides 2..16, the analytic kernels' range");
  st = tconv_self_learn (rgb, 1, 1, 3, 2, &k, &err);
  CHECK (st == TCONV_ERR_INVALID_ARG && k == NULL, "a 1x1 image at x2 is refused: %s",
         err.message);
  st = tconv_self_learn (rgb, 20, 20, 60, 4, &k, &err);
  CHECK (st != TCONV_OK && k == NULL, "a 20x20 image is too small for a 24x24 kernel: %s",
         err.message);
  CHECK (tconv_self_learn (rgb, w, h, w * 3, 2, NULL, NULL) == TCONV_ERR_INVALID_ARG,
         "NULL kernel refused");
  CHECK (tconv_learn_add_image (NULL, rgb, w, h, w * 3, 2, NULL, 0, 0.0, 0, NULL)
           == TCONV_ERR_INVALID_ARG,
         "learn_add_image: NULL learner refused");
  free (rgb);
}

int
main (void)
{
  test_rng rng;

  test_begin ("selflearn");
  test_rng_init (&rng, 14);
  self_matches_recipe (&rng, 48, 40, 2);
  self_matches_recipe (&rng, 59, 47, 3); /* not multiples: the crop is top-left */
  add_image_matches_recipe (&rng);
  flat_image_takes_ridge ();
  strides_out_of_range ();
  return test_end ();
}
