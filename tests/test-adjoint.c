/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The adjoint identity <conv(v), x> == <v, tconv(x)>, with conv2d written here from its own
 * definition (independently of the library): a transposed convolution is the transpose of the
 * strided convolution with the same weight tensor. Checked for the fast path and the reference. */
#include "test-util.h"

#include <math.h>
#include <stdlib.h>

/* conv2d(v, weight, stride, padding, dilation, groups) with weight (C_in, C_out/g, kh, kw) read
 * as Conv2d's (out=C_in, in/g=C_out/g): maps (C_out, out_h, out_w) -> (C_in, in_h, in_w). */
static void
direct_conv2d (const tconv_geometry *g, const float *weight, const float *v, double *r)
{
  const size_t cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups;
  for (size_t ci = 0; ci < g->in_c; ci++)
    for (size_t iy = 0; iy < g->in_h; iy++)
      for (size_t ix = 0; ix < g->in_w; ix++)
        {
          double acc = 0;
          for (size_t j = 0; j < cout_g; j++)
            {
              const size_t co = (ci / cin_g) * cout_g + j;
              for (size_t ky = 0; ky < g->k_h; ky++)
                for (size_t kx = 0; kx < g->k_w; kx++)
                  {
                    long y = (long) (iy * g->stride_h) - (long) g->pad_h + (long) (ky * g->dil_h);
                    long x = (long) (ix * g->stride_w) - (long) g->pad_w + (long) (kx * g->dil_w);
                    if (y < 0 || x < 0 || y >= (long) g->out_h || x >= (long) g->out_w)
                      continue;
                    acc += (double) weight[((ci * cout_g + j) * g->k_h + ky) * g->k_w + kx]
                           * v[(co * g->out_h + (size_t) y) * g->out_w + (size_t) x];
                  }
            }
          r[(ci * g->in_h + iy) * g->in_w + ix] = acc;
        }
}

int
main (void)
{
  test_rng rng;
  test_begin ("test-adjoint");
  test_rng_init (&rng, 13);

  for (int iter = 0; iter < 300; iter++)
    {
      test_case tc;
      test_case_random (&rng, &tc, 5, 12, 9);
      const tconv_geometry *g = &tc.geom;
      float                *v = test_malloc (g->out_len * sizeof (float));
      float                *y = test_alloc_poisoned (g->out_len);
      float                *yr = test_alloc_poisoned (g->out_len);
      double               *cv = test_malloc (g->in_len * sizeof (double));
      double               *work = test_malloc (g->out_len * sizeof (double));
      tconv_in_view         in = tconv_in_view_planar (g, tc.x);
      tconv_out_view        out = tconv_out_view_planar (g, y), outr = tconv_out_view_planar (g, yr);

      test_rng_fill (&rng, v, g->out_len);
      direct_conv2d (g, tc.w, v, cv);
      /* no bias: the identity is about the linear part */
      int ok = tconv_upsample (g, tc.w, NULL, &in, &out, NULL) == TCONV_OK
               && tconv_upsample_ref (g, tc.w, NULL, &in, &outr, work, g->out_len) == TCONV_OK;
      double lhs = 0, rhs = 0, rhs_ref = 0, scale = 0;
      for (size_t i = 0; i < g->in_len; i++)
        lhs += cv[i] * tc.x[i], scale += fabs (cv[i] * tc.x[i]);
      for (size_t i = 0; i < g->out_len; i++)
        rhs += (double) v[i] * y[i], rhs_ref += (double) v[i] * yr[i];
      ok = ok && fabs (lhs - rhs) <= 1e-5 * (scale + 1) && fabs (lhs - rhs_ref) <= 1e-5 * (scale + 1);
      CHECK (ok, "<conv(v),x>=%.9g <v,tconv(x)>=%.9g (ref %.9g): %s", lhs, rhs, rhs_ref,
             test_case_describe (&tc));
      free (v);
      free (y);
      free (yr);
      free (cv);
      free (work);
      test_case_clear (&tc);
    }
  return test_end ();
}
