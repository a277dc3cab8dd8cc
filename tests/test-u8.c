/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 8-bit path against the float reference: random depthwise cases (strides 1-5, channels
 * 1-5, kernels 1-12, halos, ROIs, odd and tiny widths) with integer samples; each output must
 * be the reference rounded to nearest and clamped to 0..255, exactly, except where the float
 * sum lies within 1e-3 of a .5 rounding boundary (then within one level). */
#include "test-util.h"

#include <math.h>
#include <stdlib.h>

static void
u8_matches_rounded_ref (test_rng *rng)
{
  for (int iter = 0; iter < 500; iter++)
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
      const size_t C = g.in_c;
      float       *w = test_malloc (g.weight_len * sizeof (float));
      float        bias[5];
      /* weights around 1/(taps per output) so results spread over 0..255 and beyond */
      const double scale = (double) (g.stride_h * g.stride_w) / (double) (g.k_h * g.k_w);
      for (size_t i = 0; i < g.weight_len; i++)
        w[i] = (float) ((0.9 + 0.6 * test_rng_signed (rng)) * scale);
      for (size_t c = 0; c < C; c++)
        bias[c] = (float) (20.0 * test_rng_signed (rng));

      const int64_t y0 = test_rng_range (rng, -2, 0), x0 = test_rng_range (rng, -2, 0);
      const size_t  h = g.in_h + (size_t) test_rng_range (rng, 0, 4);
      const size_t  wd = g.in_w + (size_t) test_rng_range (rng, 0, 4);
      uint8_t      *in8 = test_malloc (C * h * wd);
      float        *inf = test_malloc (C * h * wd * sizeof (float));
      for (size_t i = 0; i < C * h * wd; i++)
        in8[i] = (uint8_t) test_rng_range (rng, 0, 255), inf[i] = in8[i];

      const size_t   n = C * g.out_h * g.out_w;
      uint8_t       *out8 = test_malloc (n);
      float         *ref = test_alloc_poisoned (n);
      double        *work = test_malloc (n * sizeof (double));
      tconv_in_view  in = { .data = inf, .y0 = y0, .x0 = x0, .h = h, .w = wd, .c_stride = 1,
                            .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (wd * C) };
      tconv_out_view out = { .data = ref, .h = g.out_h, .w = g.out_w, .c_stride = 1,
                             .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (g.out_w * C) };
      tconv_in_view_u8  i8 = { .data = in8, .y0 = y0, .x0 = x0, .h = h, .w = wd,
                               .y_stride = (ptrdiff_t) (wd * C) };
      tconv_out_view_u8 o8 = { .data = out8, .h = g.out_h, .w = g.out_w,
                               .y_stride = (ptrdiff_t) (g.out_w * C) };
      for (size_t i = 0; i < n; i++)
        out8[i] = 0xA5; /* poison */

      int ok = tconv_upsample_ref (&g, w, bias, &in, &out, work, n) == TCONV_OK
               && tconv_upsample_u8 (&g, w, bias, &i8, &o8) == TCONV_OK;
      size_t bad = 0;
      for (size_t i = 0; ok && i < n; i++)
        {
          const double r = ref[i];
          const double want = r < 0 ? 0 : r > 255 ? 255 : floor (r + 0.5);
          const double frac = r - floor (r);
          const int    near_half = fabs (frac - 0.5) < 1e-3 && r > 0 && r < 255;
          if (!(out8[i] == want || (near_half && fabs (out8[i] - want) <= 1)))
            {
              ok = 0, bad = i;
              test_diag ("at %zu: got %u, reference %.6f", i, out8[i], r);
            }
        }
      (void) bad;
      CHECK (ok, "u8 == round(clamp(ref)): C=%zu s=%zu,%zu k=%zux%zu p=%zu,%zu in=%zux%zu view=%lld,%lld+%zux%zu",
             C, g.stride_h, g.stride_w, g.k_h, g.k_w, g.pad_h, g.pad_w, g.in_h, g.in_w,
             (long long) y0, (long long) x0, h, wd);
      free (w), free (in8), free (inf), free (out8), free (ref), free (work);
    }
}

static void
u8_rejects_other_geometries (void)
{
  tconv_params   p;
  tconv_geometry g;
  float          w[64] = { 0 };
  uint8_t        in[16] = { 0 }, out[256];
  tconv_params_init (&p);
  p.in_c = 2, p.out_c = 2, p.groups = 1, p.in_h = p.in_w = 2, p.k_h = p.k_w = 2;
  p.stride_h = p.stride_w = 2;
  tconv_geometry_init (&g, &p, NULL);
  tconv_in_view_u8  i8 = { .data = in, .h = 2, .w = 2, .y_stride = 4 };
  tconv_out_view_u8 o8 = { .data = out, .h = 4, .w = 4, .y_stride = 8 };
  CHECK (tconv_upsample_u8 (&g, w, NULL, &i8, &o8) == TCONV_ERR_INVALID_ARG,
         "dense (groups 1, 2 channels) is not the 8-bit path's job");
  p.groups = 2;
  tconv_geometry_init (&g, &p, NULL);
  o8.w = 5;
  CHECK (tconv_upsample_u8 (&g, w, NULL, &i8, &o8) == TCONV_ERR_INVALID_ARG, "ROI past the edge");
}

/* Runs the 8-bit path on ROI (y0, x0, h, w) of @g into a fresh buffer (poisoned with 0xA5). */
static uint8_t *
run_u8 (const tconv_geometry *g, const float *w, const float *bias,
        const tconv_in_view_u8 *in, size_t y0, size_t x0, size_t h, size_t wd)
{
  const size_t      C = g->in_c;
  uint8_t          *o = test_malloc (C * h * wd);
  tconv_out_view_u8 ov = { .data = o, .y0 = y0, .x0 = x0, .h = h, .w = wd,
                           .y_stride = (ptrdiff_t) (wd * C) };
  for (size_t i = 0; i < C * h * wd; i++)
    o[i] = 0xA5;
  if (tconv_upsample_u8 (g, w, bias, in, &ov) != TCONV_OK)
    {
      free (o);
      return NULL;
    }
  return o;
}

static void
u8_fixed_point_is_exact (test_rng *rng)
{
  /* Weights and bias that are integers / 2^q (bilinear and nearest are) take the exact
   * 16-bit fixed-point kernel: the result must be round(clamp(reference)) with no tolerance.
   * Widths up to 90 give that kernel whole periods (up to 32 blocks) and remainders; the input
   * rows start at an odd address with a stride that is no multiple of 32; halo views and
   * ROIs anywhere; the analytic bilinear and nearest kernels as they ship. */
  for (int iter = 0; iter < 400; iter++)
    {
      tconv_params   p;
      tconv_geometry g;
      tconv_params_init (&p);
      p.in_c = p.out_c = p.groups = test_rng_range (rng, 1, 4);
      p.stride_h = test_rng_range (rng, 1, 4), p.stride_w = test_rng_range (rng, 1, 4);
      p.k_h = test_rng_range (rng, 1, 8), p.k_w = test_rng_range (rng, 1, 8);
      p.pad_h = test_rng_range (rng, 0, p.k_h), p.pad_w = test_rng_range (rng, 0, p.k_w);
      p.opad_h = test_rng_range (rng, 0, p.stride_h - 1);
      p.opad_w = test_rng_range (rng, 0, p.stride_w - 1);
      p.in_h = test_rng_range (rng, 1, 6), p.in_w = test_rng_range (rng, 1, 90);
      tconv_kernel *ak = NULL;
      if (iter % 4 == 0)
        {
          /* the shipped analytic kernels, stride 2 or 4 */
          const size_t s = iter % 8 == 0 ? 2 : 4;
          if (tconv_kernel_analytic (iter % 16 == 0 ? TCONV_ANALYTIC_NEAREST
                                                    : TCONV_ANALYTIC_BILINEAR,
                                     s, s, &ak, NULL) != TCONV_OK)
            {
              CHECK (0, "analytic kernel");
              continue;
            }
          p.stride_h = p.stride_w = (int64_t) s;
          p.k_h = (int64_t) ak->k_h, p.k_w = (int64_t) ak->k_w;
          p.pad_h = (int64_t) ak->pad_h, p.pad_w = (int64_t) ak->pad_w;
          p.opad_h = (int64_t) ak->opad_h, p.opad_w = (int64_t) ak->opad_w;
        }
      if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
        {
          tconv_kernel_free (ak);
          iter--;
          continue;
        }
      const size_t C = g.in_c;
      const int    q = (int) test_rng_range (rng, 0, 6);
      float       *w = test_malloc (g.weight_len * sizeof (float));
      float        bias[4];
      for (size_t i = 0; i < g.weight_len; i++)
        w[i] = ak ? ak->weights[i % (g.k_h * g.k_w)]
                  : (float) test_rng_range (rng, -(1 << q), 3 << q) / (float) (1 << q)
                      / (float) (g.k_h * g.k_w);
      /* the weights above are multiples of 2^-q / (k_h k_w) only when k_h k_w is a power of
       * two; round them to 2^-(q + 6) so every case is dyadic */
      for (size_t i = 0; !ak && i < g.weight_len; i++)
        w[i] = (float) (nearbyint (w[i] * (1 << (q + 6))) / (1 << (q + 6)));
      for (size_t c = 0; c < C; c++)
        bias[c] = (float) test_rng_range (rng, -(40 << q), 40 << q) / (float) (1 << q);

      const int64_t y0 = iter % 3 ? test_rng_range (rng, -2, 0) : 0;
      const int64_t x0 = iter % 3 ? test_rng_range (rng, -2, 0) : 0;
      const size_t  h = g.in_h - (size_t) y0 + (size_t) test_rng_range (rng, 0, 2);
      const size_t  wd = g.in_w - (size_t) x0 + (size_t) test_rng_range (rng, 0, 2);
      const size_t  ys = wd * C + (size_t) test_rng_range (rng, 0, 5); /* row padding */
      uint8_t      *store = test_malloc (ys * h + 1);
      float        *inf = test_malloc (C * h * wd * sizeof (float));
      for (size_t i = 0; i < ys * h + 1; i++)
        store[i] = (uint8_t) test_rng_range (rng, 0, 255);
      for (size_t y = 0; y < h; y++)
        for (size_t i = 0; i < wd * C; i++)
          inf[y * wd * C + i] = store[1 + y * ys + i];

      const size_t oy = (size_t) test_rng_range (rng, 0, (int64_t) g.out_h - 1);
      const size_t ox = (size_t) test_rng_range (rng, 0, (int64_t) g.out_w - 1);
      size_t       oh = g.out_h - oy, ow = g.out_w - ox;
      if (iter % 2)
        oh = (size_t) test_rng_range (rng, 1, (int64_t) oh),
        ow = (size_t) test_rng_range (rng, 1, (int64_t) ow);
      const size_t   n = C * oh * ow;
      float         *ref = test_alloc_poisoned (n);
      double        *work = test_malloc (n * sizeof (double));
      tconv_in_view  in = { .data = inf, .y0 = y0, .x0 = x0, .h = h, .w = wd, .c_stride = 1,
                            .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (wd * C) };
      tconv_out_view out = { .data = ref, .y0 = oy, .x0 = ox, .h = oh, .w = ow, .c_stride = 1,
                             .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (ow * C) };
      tconv_in_view_u8 i8 = { .data = store + 1, .y0 = y0, .x0 = x0, .h = h, .w = wd,
                              .y_stride = (ptrdiff_t) ys };
      const float     *bp = iter % 5 ? bias : NULL;
      uint8_t         *got = NULL;
      int ok = tconv_upsample_ref (&g, w, bp, &in, &out, work, n) == TCONV_OK
               && (got = run_u8 (&g, w, bp, &i8, oy, ox, oh, ow)) != NULL;
      for (size_t i = 0; ok && i < n; i++)
        {
          const double r = ref[i], want = r < 0 ? 0 : r > 255 ? 255 : floor (r + 0.5);
          if (got[i] != want)
            {
              ok = 0;
              test_diag ("at y=%zu x=%zu c=%zu: got %u, reference %.6f", oy + i / C / ow,
                         ox + i / C % ow, i % C, got[i], r);
            }
        }
      CHECK (ok, "u8 dyadic weights (q=%d%s) exact: C=%zu s=%zu,%zu k=%zux%zu p=%zu,%zu in=%zux%zu "
             "view=%lld,%lld+%zux%zu roi=%zu,%zu+%zux%zu", q, ak ? ", analytic" : "", C,
             g.stride_h, g.stride_w, g.k_h, g.k_w, g.pad_h, g.pad_w, g.in_h, g.in_w,
             (long long) y0, (long long) x0, h, wd, oy, ox, oh, ow);
      free (w), free (store), free (inf), free (ref), free (work), free (got);
      tconv_kernel_free (ak);
    }
}

static void
u8_bits_independent_of_roi (test_rng *rng)
{
  /* As for floats: any output pixel has the same value whichever region computes it (both
   * the fixed-point and the float-accumulating kernels). */
  for (int iter = 0; iter < 200; iter++)
    {
      tconv_params   p;
      tconv_geometry g;
      tconv_params_init (&p);
      p.in_c = p.out_c = p.groups = test_rng_range (rng, 1, 5);
      p.stride_h = test_rng_range (rng, 1, 5), p.stride_w = test_rng_range (rng, 1, 5);
      p.k_h = test_rng_range (rng, 1, 10), p.k_w = test_rng_range (rng, 1, 10);
      p.pad_h = test_rng_range (rng, 0, p.k_h), p.pad_w = test_rng_range (rng, 0, p.k_w);
      p.in_h = test_rng_range (rng, 1, 6), p.in_w = test_rng_range (rng, 1, 80);
      if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
        {
          iter--;
          continue;
        }
      const size_t C = g.in_c;
      float       *w = test_malloc (g.weight_len * sizeof (float));
      const double scale = (double) (g.stride_h * g.stride_w) / (double) (g.k_h * g.k_w);
      for (size_t i = 0; i < g.weight_len; i++)
        w[i] = (float) ((0.9 + 0.6 * test_rng_signed (rng)) * scale);
      if (iter % 2) /* dyadic: the fixed-point kernel */
        for (size_t i = 0; i < g.weight_len; i++)
          w[i] = (float) (nearbyint (w[i] * 64) / 64);
      uint8_t *px = test_malloc (C * g.in_h * g.in_w);
      for (size_t i = 0; i < C * g.in_h * g.in_w; i++)
        px[i] = (uint8_t) test_rng_range (rng, 0, 255);
      tconv_in_view_u8 i8 = { .data = px, .h = g.in_h, .w = g.in_w,
                              .y_stride = (ptrdiff_t) (g.in_w * C) };
      uint8_t *full = run_u8 (&g, w, NULL, &i8, 0, 0, g.out_h, g.out_w);
      int      ok = full != NULL;
      for (int r = 0; ok && r < 10; r++)
        {
          const size_t x0 = (size_t) test_rng_range (rng, 0, (int64_t) g.out_w - 1);
          const size_t y0 = (size_t) test_rng_range (rng, 0, (int64_t) g.out_h - 1);
          const size_t wd = (size_t) test_rng_range (rng, 1, (int64_t) (g.out_w - x0));
          const size_t h = (size_t) test_rng_range (rng, 1, (int64_t) (g.out_h - y0));
          uint8_t     *part = run_u8 (&g, w, NULL, &i8, y0, x0, h, wd);
          ok = part != NULL;
          for (size_t y = 0; ok && y < h; y++)
            for (size_t i = 0; ok && i < wd * C; i++)
              if (part[y * wd * C + i] != full[(y0 + y) * g.out_w * C + x0 * C + i])
                {
                  ok = 0;
                  test_diag ("roi %zu,%zu+%zux%zu: at y=%zu x=%zu c=%zu got %u, full output %u",
                             y0, x0, h, wd, y0 + y, x0 + i / C, i % C, part[y * wd * C + i],
                             full[(y0 + y) * g.out_w * C + x0 * C + i]);
                }
          free (part);
        }
      CHECK (ok, "u8: same values whatever the region: C=%zu s=%zu,%zu k=%zux%zu in=%zux%zu%s", C,
             g.stride_h, g.stride_w, g.k_h, g.k_w, g.in_h, g.in_w, iter % 2 ? " dyadic" : "");
      free (w), free (px), free (full);
    }
}

int
main (void)
{
  test_rng rng;
  test_begin ("test-u8");
  test_rng_init (&rng, 808);
  u8_matches_rounded_ref (&rng);
  u8_fixed_point_is_exact (&rng);
  u8_bits_independent_of_roi (&rng);
  u8_rejects_other_geometries ();
  return test_end ();
}
