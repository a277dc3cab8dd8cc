/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Anti-ringing (core/tconv-antiring.c) against a straightforward implementation written here
 * from the centre-aligned definition (output y at input (y + 0.5) / s - 0.5), and on a step
 * edge whose answer is known. */
#include "test-util.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The up-sample of @in (h x w, one channel, planar) by @k, whole output. */
static float *
upsample (const tconv_kernel *k, const float *in, size_t h, size_t w, tconv_geometry *g)
{
  tconv_params p;
  float       *out;

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = 1;
  p.in_h = (int64_t) h, p.in_w = (int64_t) w;
  p.k_h = (int64_t) k->k_h, p.k_w = (int64_t) k->k_w;
  p.stride_h = (int64_t) k->stride_h, p.stride_w = (int64_t) k->stride_w;
  p.pad_h = (int64_t) k->pad_h, p.pad_w = (int64_t) k->pad_w;
  p.opad_h = (int64_t) k->opad_h, p.opad_w = (int64_t) k->opad_w;
  CHECK_STATUS (tconv_geometry_init (g, &p, NULL));
  out = test_malloc (g->out_len * sizeof (float));
  {
    tconv_in_view  iv = tconv_in_view_planar (g, in);
    tconv_out_view ov = tconv_out_view_planar (g, out);
    CHECK_STATUS (tconv_upsample (g, k->weights, NULL, &iv, &ov, NULL));
  }
  return out;
}

static double
pixel (const float *in, long h, long w, long y, long x)
{
  return y < 0 || x < 0 || y >= h || x >= w ? 0.0 : in[y * w + x];
}

/* The definition for a centre-aligned kernel, in double. */
static void
reference (const float *in, long h, long w, long s, double a, float *out)
{
  for (long y = 0; y < h * s; y++)
    for (long x = 0; x < w * s; x++)
      {
        const long   iy = (long) floor ((y + 0.5) / s - 0.5), ix = (long) floor ((x + 0.5) / s - 0.5);
        double       lo = INFINITY, hi = -INFINITY, v = out[y * w * s + x];
        for (long dy = 0; dy < 2; dy++)
          for (long dx = 0; dx < 2; dx++)
            {
              double p = pixel (in, h, w, iy + dy, ix + dx);
              lo = fmin (lo, p), hi = fmax (hi, p);
            }
        if (v > hi)
          v -= a * (v - hi);
        else if (v < lo)
          v += a * (lo - v);
        out[y * w * s + x] = (float) v;
      }
}

static void
test_against_reference (void)
{
  static const tconv_analytic types[] = { TCONV_ANALYTIC_BICUBIC, TCONV_ANALYTIC_LANCZOS3 };
  test_rng rng;
  int      bad = 0;

  test_rng_init (&rng, 5);
  for (size_t t = 0; t < 2; t++)
    for (size_t s = 2; s <= 4; s++)
      for (int ai = 0; ai < 3; ai++)
        {
          const double   a = ai == 0 ? 0.0 : ai == 1 ? 0.5 : 1.0;
          const size_t   h = 9, w = 11;
          tconv_kernel  *k = NULL;
          tconv_geometry g;
          float          in[9 * 11], *got, *want;

          CHECK_STATUS (tconv_kernel_analytic (types[t], s, s, &k, NULL));
          for (size_t i = 0; i < h * w; i++)
            in[i] = (float) (test_rng_range (&rng, 0, 1) ? 0.9 : 0.1);
          got = upsample (k, in, h, w, &g);
          want = test_malloc (g.out_len * sizeof (float));
          memcpy (want, got, g.out_len * sizeof (float));
          {
            tconv_in_view  iv = tconv_in_view_planar (&g, in);
            tconv_out_view ov = tconv_out_view_planar (&g, got);
            CHECK_STATUS (tconv_antiring (&g, &iv, &ov, (float) a, NULL));
          }
          reference (in, (long) h, (long) w, (long) s, a, want);
          for (size_t i = 0; i < g.out_len; i++)
            if (fabs ((double) got[i] - want[i]) > 1e-6)
              {
                bad++;
                test_diag ("%s x%zu A %g: %g against %g at %zu", tconv_analytic_name (types[t]),
                           s, a, got[i], want[i], i);
                break;
              }
          free (got), free (want);
          tconv_kernel_free (k);
        }
  CHECK (bad == 0, "bicubic and lanczos3 x2..x4, A 0, 0.5, 1: equal to the definition (%d differ)",
         bad);
}

/* A step 0.2 -> 0.8 enlarged x2 by lanczos3 overshoots; with A = 1 nothing leaves [0.2, 0.8]
 * away from the zero border, with A = 0.5 the overshoot halves, with A = 0 it stays. */
static void
test_step (void)
{
  const size_t   h = 6, w = 12;
  float          in[6 * 12];
  tconv_kernel  *k = NULL;
  tconv_geometry g;
  double         over[3] = { 0 };

  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      in[y * w + x] = x < 6 ? 0.2f : 0.8f;
  CHECK_STATUS (tconv_kernel_analytic (TCONV_ANALYTIC_LANCZOS3, 2, 2, &k, NULL));
  for (int i = 0; i < 3; i++)
    {
      float *o = upsample (k, in, h, w, &g);
      tconv_in_view  iv = tconv_in_view_planar (&g, in);
      tconv_out_view ov = tconv_out_view_planar (&g, o);
      CHECK_STATUS (tconv_antiring (&g, &iv, &ov, i * 0.5f, NULL));
      /* row 5 (input row 2.25: inside), columns 4..19 (away from the zero border) */
      for (size_t x = 4; x < 20; x++)
        over[i] = fmax (over[i], fmax (o[5 * w * 2 + x] - 0.8, 0.2 - o[5 * w * 2 + x]));
      free (o);
    }
  test_diag ("lanczos3 x2 step 0.2 -> 0.8 overshoot: A 0 %.4f, A 0.5 %.4f, A 1 %.4f", over[0],
             over[1], over[2]);
  CHECK (over[0] > 0.01, "lanczos3 rings on a step (%.4f)", over[0]);
  CHECK (fabs (over[1] - over[0] / 2) < 1e-6, "A 0.5 halves the overshoot (%.6f)", over[1]);
  CHECK (over[2] <= 1e-7, "A 1 leaves nothing outside the step's range (%.2g)", over[2]);
  {
    tconv_error    e = { 0 };
    float          o[1] = { 0 };
    tconv_in_view  iv = tconv_in_view_planar (&g, in);
    tconv_out_view ov = { o, 0, 0, 1, 1, 1, 1, 1 };
    CHECK (tconv_antiring (&g, &iv, &ov, 1.5f, &e) == TCONV_ERR_INVALID_ARG
             && strstr (e.message, "1.5") != NULL,
           "A 1.5 refused: %s", e.message);
    CHECK (tconv_antiring (&g, &iv, &ov, NAN, &e) == TCONV_ERR_INVALID_ARG, "A NaN refused");
  }
  tconv_kernel_free (k);
}

/* The fast version equals the oracle (tconv-oracle.h) float for float: random strides (not
 * always equal), kernel sizes and paddings, 1 to 5 interleaved channels (5 takes the oracle's
 * loop), output regions wider than one run, and input views that hold only part of the image
 * (the rest reads as zero). */
static void
test_against_oracle (void)
{
  test_rng rng;
  int      bad = 0, cases = 0;

  test_rng_init (&rng, 11);
  for (int t = 0; t < 200; t++)
    {
      tconv_params   p;
      tconv_geometry g;
      const size_t   C = (size_t) test_rng_range (&rng, 1, 5);
      size_t         ih, iw;
      float         *in, *a, *b;
      tconv_error    e = { 0 };

      tconv_params_init (&p);
      p.in_c = p.out_c = p.groups = (int64_t) C;
      p.in_h = test_rng_range (&rng, 1, 40), p.in_w = test_rng_range (&rng, 1, 300);
      p.stride_h = test_rng_range (&rng, 1, 5), p.stride_w = test_rng_range (&rng, 1, 5);
      p.k_h = test_rng_range (&rng, 1, 12), p.k_w = test_rng_range (&rng, 1, 12);
      p.pad_h = test_rng_range (&rng, 0, p.k_h - 1), p.pad_w = test_rng_range (&rng, 0, p.k_w - 1);
      if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
        continue;
      cases++;
      /* a view of part of the image, with a margin on each side read as zero */
      ih = (size_t) test_rng_range (&rng, 1, p.in_h), iw = (size_t) test_rng_range (&rng, 1, p.in_w);
      in = test_malloc (ih * iw * C * sizeof (float));
      for (size_t i = 0; i < ih * iw * C; i++)
        in[i] = (float) test_rng_signed (&rng);
      {
        tconv_in_view iv = { in, test_rng_range (&rng, -2, p.in_h - (int64_t) ih),
                             test_rng_range (&rng, -2, p.in_w - (int64_t) iw), ih, iw,
                             1, (ptrdiff_t) (iw * C), (ptrdiff_t) C };
        const size_t  oy = (size_t) test_rng_range (&rng, 0, (int64_t) g.out_h - 1);
        const size_t  ox = (size_t) test_rng_range (&rng, 0, (int64_t) g.out_w - 1);
        const size_t  oh = (size_t) test_rng_range (&rng, 1, (int64_t) (g.out_h - oy));
        const size_t  ow = (size_t) test_rng_range (&rng, 1, (int64_t) (g.out_w - ox));
        const float   A = t % 4 == 0 ? 1.0f : (float) test_rng_range (&rng, 1, 99) / 100.0f;
        tconv_out_view oa = { NULL, oy, ox, oh, ow, 1, (ptrdiff_t) (ow * C), (ptrdiff_t) C };
        tconv_out_view ob;

        a = test_malloc (oh * ow * C * sizeof (float));
        b = test_malloc (oh * ow * C * sizeof (float));
        for (size_t i = 0; i < oh * ow * C; i++)
          a[i] = b[i] = (float) (1.6 * test_rng_signed (&rng));
        oa.data = a, ob = oa, ob.data = b;
        if (tconv_antiring (&g, &iv, &oa, A, &e) != TCONV_OK
            || tconv_antiring_ref (&g, &iv, &ob, A, &e) != TCONV_OK
            || memcmp (a, b, oh * ow * C * sizeof (float)) != 0)
          {
            if (bad++ == 0)
              test_diag ("case %d: C %zu stride %" PRId64 "x%" PRId64 " k %" PRId64 "x%" PRId64
                         " region %zux%zu at %zu,%zu: %s", t, C, p.stride_h, p.stride_w, p.k_h,
                         p.k_w, oh, ow, oy, ox, e.message);
          }
        free (a), free (b);
      }
      free (in);
    }
  CHECK (bad == 0 && cases > 100, "fast = oracle, float for float, on %d random geometries, "
         "views and regions (%d differ)", cases, bad);
}

int
main (void)
{
  test_begin ("antiring");
  test_against_reference ();
  test_against_oracle ();
  test_step ();
  return test_end ();
}
