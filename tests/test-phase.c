/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The fast path (phase-decomposed gather) against the reference scatter: random sweeps over
 * strides 1-5 per axis, kernels 1-12 (non-square, not multiples of the stride), padding,
 * output_padding, dilation and groups; output regions at every edge; planar and interleaved
 * layouts; input views with border halos. Outputs are NaN-poisoned so an unwritten pixel
 * fails. */
#include "test-util.h"

#include <stdlib.h>
#include <string.h>


/* Runs both paths on the same views; buffers hold the ROI only. */
static int
same_on_views (const test_case *tc, const tconv_in_view *in, size_t y0, size_t x0, size_t h,
               size_t w, int interleaved, const char *what)
{
  const tconv_geometry *g = &tc->geom;
  const size_t          n = g->out_c * h * w;
  float                *ref = test_alloc_poisoned (n), *got = test_alloc_poisoned (n);
  double               *work = test_malloc (n * sizeof (double));
  tconv_out_view        o = { .y0 = y0, .x0 = x0, .h = h, .w = w };
  int                   ok;

  if (interleaved)
    o.c_stride = 1, o.x_stride = (ptrdiff_t) g->out_c, o.y_stride = (ptrdiff_t) (w * g->out_c);
  else
    o.c_stride = (ptrdiff_t) (h * w), o.x_stride = 1, o.y_stride = (ptrdiff_t) w;

  tconv_out_view ro = o, go = o;
  ro.data = ref, go.data = got;
  ok = tconv_upsample_ref (g, tc->w, tc->bias, in, &ro, work, n) == TCONV_OK
       && tconv_upsample (g, tc->w, tc->bias, in, &go, NULL) == TCONV_OK
       && test_near_array (got, ref, n, 1e-6, 1e-5, NULL);
  CHECK (ok, "%s: %s roi=%zu,%zu+%zux%zu", what, test_case_describe (tc), y0, x0, h, w);
  free (ref);
  free (got);
  free (work);
  return ok;
}

static void
phase_matches_ref_full (test_rng *rng)
{
  for (int iter = 0; iter < 400; iter++)
    {
      test_case tc;
      test_case_random (rng, &tc, 5, 12, 9);
      tconv_in_view in = tconv_in_view_planar (&tc.geom, tc.x);
      same_on_views (&tc, &in, 0, 0, tc.geom.out_h, tc.geom.out_w, 0, "full output");
      test_case_clear (&tc);
    }
}

static void
roi_at_edges_and_interleaved (test_rng *rng)
{
  for (int iter = 0; iter < 300; iter++)
    {
      test_case tc;
      test_case_random (rng, &tc, 5, 12, 9);
      const tconv_geometry *g = &tc.geom;
      /* ROIs that touch the top-left, the bottom-right, or lie anywhere. */
      size_t y0 = (size_t) test_rng_range (rng, 0, (int64_t) g->out_h - 1);
      size_t x0 = (size_t) test_rng_range (rng, 0, (int64_t) g->out_w - 1);
      if (iter % 3 == 0)
        y0 = x0 = 0;
      size_t h = (size_t) test_rng_range (rng, 1, (int64_t) (g->out_h - y0));
      size_t w = (size_t) test_rng_range (rng, 1, (int64_t) (g->out_w - x0));
      if (iter % 3 == 1)
        h = g->out_h - y0, w = g->out_w - x0;

      /* interleaved (H, W, C) input copy */
      float *xi = test_malloc (g->in_len * sizeof (float));
      for (size_t c = 0; c < g->in_c; c++)
        for (size_t y = 0; y < g->in_h; y++)
          for (size_t x = 0; x < g->in_w; x++)
            xi[(y * g->in_w + x) * g->in_c + c] = tc.x[(c * g->in_h + y) * g->in_w + x];
      tconv_in_view in_i = { .data = xi, .h = g->in_h, .w = g->in_w, .c_stride = 1,
                             .x_stride = (ptrdiff_t) g->in_c,
                             .y_stride = (ptrdiff_t) (g->in_w * g->in_c) };
      tconv_in_view in_p = tconv_in_view_planar (g, tc.x);

      same_on_views (&tc, &in_p, y0, x0, h, w, 0, "planar roi");
      same_on_views (&tc, &in_i, y0, x0, h, w, 1, "interleaved roi");
      free (xi);
      test_case_clear (&tc);
    }
}

static void
views_with_border_halo (test_rng *rng)
{
  /* Input views that start before the image and extend past it, as border modes make. */
  for (int iter = 0; iter < 200; iter++)
    {
      test_case tc;
      test_case_random (rng, &tc, 4, 9, 7);
      const tconv_geometry *g = &tc.geom;
      const int64_t y0 = test_rng_range (rng, -4, 2), x0 = test_rng_range (rng, -4, 2);
      const size_t  h = (size_t) test_rng_range (rng, 1, (int64_t) g->in_h + 6);
      const size_t  w = (size_t) test_rng_range (rng, 1, (int64_t) g->in_w + 6);
      float        *halo = test_malloc (g->in_c * h * w * sizeof (float));
      test_rng_fill (rng, halo, g->in_c * h * w);
      tconv_in_view in = { .data = halo, .y0 = y0, .x0 = x0, .h = h, .w = w,
                           .c_stride = (ptrdiff_t) (h * w), .y_stride = (ptrdiff_t) w,
                           .x_stride = 1 };
      same_on_views (&tc, &in, 0, 0, g->out_h, g->out_w, 0, "halo view");
      free (halo);
      test_case_clear (&tc);
    }
}

static void
depthwise_fast_path_matches_ref (test_rng *rng)
{
  /* groups == C_in == C_out and dilation 1: the specialised path. Strides 1-5 and channels 1-5
   * cover the compile-time specialisations (s, C <= 4) and the generic fallback; widths down
   * to 1 (narrower than any SIMD vector), odd widths, rows starting at an odd float offset
   * (unaligned), ROIs anywhere, halo views. */
  for (int iter = 0; iter < 600; iter++)
    {
      tconv_params   p;
      tconv_geometry g;
      tconv_params_init (&p);
      p.in_c = p.out_c = p.groups = test_rng_range (rng, 1, 5);
      p.stride_h = test_rng_range (rng, 1, 5), p.stride_w = test_rng_range (rng, 1, 5);
      p.k_h = test_rng_range (rng, 1, 12), p.k_w = test_rng_range (rng, 1, 12);
      p.pad_h = test_rng_range (rng, 0, p.k_h), p.pad_w = test_rng_range (rng, 0, p.k_w);
      p.opad_h = test_rng_range (rng, 0, p.stride_h - 1);
      p.opad_w = test_rng_range (rng, 0, p.stride_w - 1);
      p.in_h = test_rng_range (rng, 1, 9), p.in_w = test_rng_range (rng, 1, 23);
      if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
        {
          iter--;
          continue;
        }
      test_case tc = { .params = p, .geom = g };
      tc.w = test_malloc (g.weight_len * sizeof (float));
      test_rng_fill (rng, tc.w, g.weight_len);
      tc.bias = NULL;
      if (iter & 1)
        {
          tc.bias = test_malloc (g.out_c * sizeof (float));
          test_rng_fill (rng, tc.bias, g.out_c);
        }
      /* interleaved input with a halo, stored one float past an aligned address */
      int64_t y0 = test_rng_range (rng, -3, 1), x0 = test_rng_range (rng, -3, 1);
      size_t  h = (size_t) test_rng_range (rng, 1, (int64_t) g.in_h + 4);
      size_t  w = (size_t) test_rng_range (rng, 1, (int64_t) g.in_w + 4);
      if (iter % 4 == 0)
        y0 = 0, x0 = 0, h = g.in_h, w = g.in_w; /* exactly the image */
      float        *store = test_malloc ((g.in_c * h * w + 1) * sizeof (float));
      test_rng_fill (rng, store, g.in_c * h * w + 1);
      tconv_in_view in = { .data = store + 1, .y0 = y0, .x0 = x0, .h = h, .w = w, .c_stride = 1,
                           .x_stride = (ptrdiff_t) g.in_c, .y_stride = (ptrdiff_t) (w * g.in_c) };
      size_t oy = (size_t) test_rng_range (rng, 0, (int64_t) g.out_h - 1);
      size_t ox = (size_t) test_rng_range (rng, 0, (int64_t) g.out_w - 1);
      if (iter % 3 == 0)
        oy = ox = 0;
      size_t oh = (size_t) test_rng_range (rng, 1, (int64_t) (g.out_h - oy));
      size_t ow = (size_t) test_rng_range (rng, 1, (int64_t) (g.out_w - ox));
      if (iter % 3 != 2)
        oh = g.out_h - oy, ow = g.out_w - ox;
      same_on_views (&tc, &in, oy, ox, oh, ow, 1, "depthwise interleaved");

      /* planar layout of the same problem (the fast path runs per plane) */
      tconv_in_view inp = { .data = store + 1, .y0 = in.y0, .x0 = in.x0, .h = in.h, .w = in.w,
                            .c_stride = (ptrdiff_t) (in.h * in.w), .y_stride = (ptrdiff_t) in.w,
                            .x_stride = 1 };
      same_on_views (&tc, &inp, oy, ox, oh, ow, 0, "depthwise planar");
      free (store);
      test_case_clear (&tc);
    }
}

/* One depthwise problem for the bit-exact checks below: interleaved input of the whole image
 * (as the pipeline passes it), random weights, optional bias. */
static int
random_depthwise (test_rng *rng, test_case *tc, int64_t max_c, int64_t max_s, int64_t max_k,
                  int64_t max_w)
{
  tconv_params p;
  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = test_rng_range (rng, 1, max_c);
  p.stride_h = test_rng_range (rng, 1, max_s), p.stride_w = test_rng_range (rng, 1, max_s);
  p.k_h = test_rng_range (rng, 1, max_k), p.k_w = test_rng_range (rng, 1, max_k);
  p.pad_h = test_rng_range (rng, 0, p.k_h), p.pad_w = test_rng_range (rng, 0, p.k_w);
  p.opad_h = test_rng_range (rng, 0, p.stride_h - 1);
  p.opad_w = test_rng_range (rng, 0, p.stride_w - 1);
  p.in_h = test_rng_range (rng, 1, 7), p.in_w = test_rng_range (rng, 1, max_w);
  *tc = (test_case) { .params = p };
  if (tconv_geometry_init (&tc->geom, &p, NULL) != TCONV_OK)
    return 0;
  tc->x = test_malloc (tc->geom.in_len * sizeof (float));
  tc->w = test_malloc (tc->geom.weight_len * sizeof (float));
  test_rng_fill (rng, tc->x, tc->geom.in_len);
  test_rng_fill (rng, tc->w, tc->geom.weight_len);
  if (test_rng_range (rng, 0, 1))
    {
      tc->bias = test_malloc (tc->geom.out_c * sizeof (float));
      test_rng_fill (rng, tc->bias, tc->geom.out_c);
    }
  return 1;
}

static void
depthwise_bits_independent_of_roi (test_rng *rng)
{
  /* Callers split the output into bands and tiles of any size (threads, preview), so every
   * output value must come out bit for bit the same whichever region computes it: a pixel
   * near a region edge takes the edge path in one split and a vector kernel in another.
   * Widths up to 70 give the vector kernels whole blocks and remainders; s = 2 and 4 with
   * C = 4 are the RGBA kernels. */
  for (int iter = 0; iter < 300; iter++)
    {
      test_case tc;
      if (!random_depthwise (rng, &tc, 5, 5, 12, 70))
        {
          iter--;
          continue;
        }
      if (iter % 3 == 0)
        {
          /* RGBA, even stride: the broadcast kernel */
          test_case_clear (&tc);
          do
            {
              if (!random_depthwise (rng, &tc, 4, 4, 12, 70))
                continue;
              if (tc.geom.in_c == 4 && tc.geom.stride_w % 2 == 0)
                break;
              test_case_clear (&tc);
            }
          while (1);
        }
      const tconv_geometry *g = &tc.geom;
      const size_t          C = g->in_c, n = C * g->out_h * g->out_w;
      float                *full = test_alloc_poisoned (n);
      tconv_in_view in = { .data = tc.x, .h = g->in_h, .w = g->in_w, .c_stride = 1,
                           .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (g->in_w * C) };
      tconv_out_view out = { .data = full, .h = g->out_h, .w = g->out_w, .c_stride = 1,
                             .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (g->out_w * C) };
      int ok = tconv_upsample (g, tc.w, tc.bias, &in, &out, NULL) == TCONV_OK;
      for (int r = 0; ok && r < 12; r++)
        {
          const size_t x0 = (size_t) test_rng_range (rng, 0, (int64_t) g->out_w - 1);
          const size_t y0 = (size_t) test_rng_range (rng, 0, (int64_t) g->out_h - 1);
          const size_t w = (size_t) test_rng_range (rng, 1, (int64_t) (g->out_w - x0));
          const size_t h = (size_t) test_rng_range (rng, 1, (int64_t) (g->out_h - y0));
          float       *part = test_alloc_poisoned (C * h * w);
          tconv_out_view o = { .data = part, .y0 = y0, .x0 = x0, .h = h, .w = w, .c_stride = 1,
                               .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (w * C) };
          ok = tconv_upsample (g, tc.w, tc.bias, &in, &o, NULL) == TCONV_OK;
          for (size_t y = 0; ok && y < h; y++)
            for (size_t i = 0; ok && i < w * C; i++)
              {
                const float a = part[y * w * C + i], b = full[(y0 + y) * g->out_w * C + x0 * C + i];
                if (!(a == b))
                  {
                    ok = 0;
                    test_diag ("roi %zu,%zu+%zux%zu: at y=%zu x=%zu c=%zu got %.9g, full output %.9g",
                               y0, x0, h, w, y0 + y, x0 + i / C, i % C, a, b);
                  }
              }
          free (part);
        }
      CHECK (ok, "same bits whatever the region: %s", test_case_describe (&tc));
      free (full);
      test_case_clear (&tc);
    }
}

static void
depthwise_rgba_strides_and_big_kernels (test_rng *rng)
{
  /* RGBA at strides 1-8 (the AVX2 kernels: even strides 2-8, odd ones up to 7), kernels up to
   * 24, widths up to 40; then kernels up to 64 whose packed table or padded edge scratch no
   * longer fits (per-row packing, fallback to the unit-1 kernels). ROIs and halo views. */
  for (int iter = 0; iter < 300; iter++)
    {
      const int big = iter >= 240;
      tconv_params   p;
      tconv_geometry g;
      tconv_params_init (&p);
      p.in_c = p.out_c = p.groups = big && iter % 2 ? test_rng_range (rng, 1, 3) : 4;
      p.stride_h = test_rng_range (rng, 1, 8), p.stride_w = test_rng_range (rng, 1, 8);
      p.k_h = test_rng_range (rng, 1, big ? 64 : 24), p.k_w = test_rng_range (rng, 1, big ? 64 : 24);
      p.pad_h = test_rng_range (rng, 0, p.k_h - 1), p.pad_w = test_rng_range (rng, 0, p.k_w - 1);
      p.in_h = test_rng_range (rng, 1, 6), p.in_w = test_rng_range (rng, 1, 40);
      if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
        {
          iter--;
          continue;
        }
      test_case tc = { .params = p, .geom = g };
      tc.w = test_malloc (g.weight_len * sizeof (float));
      test_rng_fill (rng, tc.w, g.weight_len);
      if (iter % 3 == 0)
        {
          tc.bias = test_malloc (g.out_c * sizeof (float));
          test_rng_fill (rng, tc.bias, g.out_c);
        }
      const int64_t y0 = test_rng_range (rng, -2, 0), x0 = test_rng_range (rng, -2, 0);
      const size_t  h = g.in_h + (size_t) test_rng_range (rng, 0, 3);
      const size_t  w = g.in_w + (size_t) test_rng_range (rng, 0, 3);
      float        *store = test_malloc ((g.in_c * h * w + 1) * sizeof (float));
      test_rng_fill (rng, store, g.in_c * h * w + 1);
      tconv_in_view in = { .data = store + 1, .y0 = y0, .x0 = x0, .h = h, .w = w, .c_stride = 1,
                           .x_stride = (ptrdiff_t) g.in_c, .y_stride = (ptrdiff_t) (w * g.in_c) };
      const size_t oy = (size_t) test_rng_range (rng, 0, (int64_t) g.out_h - 1);
      const size_t ox = iter % 2 ? (size_t) test_rng_range (rng, 0, (int64_t) g.out_w - 1) : 0;
      same_on_views (&tc, &in, oy, ox, g.out_h - oy, g.out_w - ox, 1,
                     big ? "depthwise big kernel" : "depthwise RGBA strides 1-8");
      free (store);
      test_case_clear (&tc);
    }
}

static void
large_output_streaming_stores (void)
{
  /* An output over 32 MiB takes the streaming-store branch of the RGBA path on CPUs where
   * streaming pays (not AMD: tconv_dw_stream_pays): odd sizes, a halo view, compared with the
   * reference over the whole output. */
  tconv_params   p;
  tconv_geometry g;
  test_rng       rng;
  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = 4;
  p.in_h = 1031, p.in_w = 1037, p.k_h = p.k_w = 4, p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 1;
  if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
    return;
  test_rng_init (&rng, 99);
  test_case tc = { .params = p, .geom = g };
  tc.w = test_malloc (g.weight_len * sizeof (float));
  test_rng_fill (&rng, tc.w, g.weight_len);
  const size_t h = g.in_h + 2, w = g.in_w + 2;
  float       *halo = test_malloc (4 * h * w * sizeof (float));
  test_rng_fill (&rng, halo, 4 * h * w);
  tconv_in_view in = { .data = halo, .y0 = -1, .x0 = -1, .h = h, .w = w, .c_stride = 1,
                       .x_stride = 4, .y_stride = (ptrdiff_t) (4 * w) };
  same_on_views (&tc, &in, 0, 0, g.out_h, g.out_w, 1, "output over 32 MiB (streaming stores)");
  free (halo);
  test_case_clear (&tc);
}

static void
rejects_bad_views (void)
{
  tconv_params p;
  tconv_geometry g;
  float          x[4] = { 0 }, w[4] = { 0 }, y[64];
  tconv_params_init (&p);
  p.in_c = p.out_c = 1, p.in_h = p.in_w = 2, p.k_h = p.k_w = 2, p.stride_h = p.stride_w = 2;
  tconv_geometry_init (&g, &p, NULL);
  tconv_in_view  in = tconv_in_view_planar (&g, x);
  tconv_out_view out = tconv_out_view_planar (&g, y);
  tconv_out_view bad = out;
  bad.x0 = 1; /* 1 + 4 > 4: outside the output */
  tconv_error err = { 0 };
  CHECK (tconv_upsample (&g, w, NULL, &in, &bad, &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "(0, 1) + 4x4") != NULL,
         "ROI past the edge, named in the message: \"%s\"", err.message);
  bad = out, bad.h = 0;
  CHECK (tconv_upsample (&g, w, NULL, &in, &bad, NULL) == TCONV_ERR_INVALID_ARG, "empty ROI");
  CHECK (tconv_upsample (&g, NULL, NULL, &in, &out, NULL) == TCONV_ERR_INVALID_ARG, "NULL weight");
  CHECK (tconv_upsample (NULL, w, NULL, &in, &out, NULL) == TCONV_ERR_INVALID_ARG, "NULL geometry");
  tconv_geometry zero = { 0 };
  CHECK (tconv_upsample (&zero, w, NULL, &in, &out, NULL) == TCONV_ERR_INVALID_ARG,
         "geometry not from tconv_geometry_init");
}

int
main (void)
{
  test_rng rng;
  test_begin ("test-phase");
  test_rng_init (&rng, 20261124);
  test_diag ("seed %llu (set TCONV_TEST_SEED to replay)", (unsigned long long) rng.seed);
  phase_matches_ref_full (&rng);
  roi_at_edges_and_interleaved (&rng);
  views_with_border_halo (&rng);
  depthwise_fast_path_matches_ref (&rng);
  depthwise_bits_independent_of_roi (&rng);
  depthwise_rgba_strides_and_big_kernels (&rng);
  large_output_streaming_stores ();
  rejects_bad_views ();
  return test_end ();
}
