/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The reference scatter on cases small enough to compute by hand. */
#include "test-util.h"

#include <stdlib.h>

static void
run (const tconv_params *p, const float *x, const float *w, const float *bias, const float *want,
     const char *what)
{
  tconv_geometry g;
  CHECK_STATUS (tconv_geometry_init (&g, p, NULL));
  float         *y = test_alloc_poisoned (g.out_len);
  double        *work = test_malloc (g.out_len * sizeof (double));
  tconv_in_view  in = tconv_in_view_planar (&g, x);
  tconv_out_view out = tconv_out_view_planar (&g, y);

  CHECK_STATUS (tconv_upsample_ref (&g, w, bias, &in, &out, work, g.out_len));
  CHECK (test_near_array (y, want, g.out_len, 0, 0, NULL), "%s", what);
  free (y);
  free (work);
}

static tconv_params
single (int64_t h, int64_t w, int64_t k, int64_t s)
{
  tconv_params p;
  tconv_params_init (&p);
  p.in_c = p.out_c = 1, p.in_h = h, p.in_w = w, p.k_h = p.k_w = k;
  p.stride_h = p.stride_w = s;
  return p;
}

static void
one_pixel_stamps_kernel (void)
{
  tconv_params p = single (1, 1, 3, 2);
  const float  x[] = { 2 };
  const float  w[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  const float  want[] = { 2, 4, 6, 8, 10, 12, 14, 16, 18 };
  run (&p, x, w, NULL, want, "1x1 input stamps 2 * kernel");
}

static void
box_kernel_at_stride_repeats_pixels (void)
{
  tconv_params p = single (2, 2, 2, 2);
  const float  x[] = { 1, 2, 3, 4 };
  const float  w[] = { 1, 1, 1, 1 };
  const float  want[] = { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 };
  run (&p, x, w, NULL, want, "2x2 box at stride 2 = nearest-neighbour");
}

static void
stride1_seed_example (void)
{
  /* The seed article's example: 2x2 input, 3x3 kernel, stride 1 -> 4x4, overlapping stamps. */
  tconv_params p = single (2, 2, 3, 1);
  const float  x[] = { 1, 2, 3, 4 };
  const float  w[] = { 1, 0, -1, 2, 1, 0, 0, 1, 1 };
  const float  want[] = {
    1,  2,  -1, -2, /* row 0: 1*w0 ; 2*w0 shifted */
    5,  9,  -1, -4, /* row 1 */
    6,  12, 7,  2,  /* row 2 */
    0,  3,  7,  4,  /* row 3 */
  };
  run (&p, x, w, NULL, want, "seed example 2x2 * 3x3, stride 1");
}

static void
padding_crops_and_opad_gives_bias_only (void)
{
  /* 1-D along W: x = [1, 2], k = 3, s = 2, full stamp = [1 2 3 0 0] + [0 0 2 4 6] = 1 2 5 4 6;
   * p = 1 crops one each side -> 2 5 4; o = 1 adds one column of real data (6). */
  tconv_params p = single (1, 2, 1, 2);
  p.k_w = 3, p.stride_h = 1, p.pad_w = 1, p.opad_w = 1;
  const float x[] = { 1, 2 };
  const float w[] = { 1, 2, 3 };
  const float bias[] = { 0.5f };
  const float want[] = { 2.5f, 5.5f, 4.5f, 6.5f };
  run (&p, x, w, bias, want, "padding crops, output_padding keeps real data when p >= o");

  /* p = 0, o = 1: the extra column is beyond the stamps: bias only. */
  p.pad_w = 0;
  const float want2[] = { 1.5f, 2.5f, 5.5f, 4.5f, 6.5f, 0.5f };
  run (&p, x, w, bias, want2, "output_padding beyond the stamps is bias only");
}

static void
groups_route_channels (void)
{
  /* 2 input channels, groups 2, one output per group: each output only sees its group. */
  tconv_params p = single (1, 1, 1, 1);
  p.in_c = 2, p.out_c = 4, p.groups = 2;
  const float x[] = { 3, 5 };
  const float w[] = { 1, 2, 10, 20 }; /* (C_in=2, C_out/g=2, 1, 1) */
  const float want[] = { 3, 6, 50, 100 };
  run (&p, x, w, NULL, want, "depthwise with multiplier 2");
}

int
main (void)
{
  test_begin ("test-ref");
  one_pixel_stamps_kernel ();
  box_kernel_at_stride_repeats_pixels ();
  stride1_seed_example ();
  padding_crops_and_opad_gives_bias_only ();
  groups_route_channels ();
  return test_end ();
}
