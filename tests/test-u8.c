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

int
main (void)
{
  test_rng rng;
  test_begin ("test-u8");
  test_rng_init (&rng, 808);
  u8_matches_rounded_ref (&rng);
  u8_rejects_other_geometries ();
  return test_end ();
}
