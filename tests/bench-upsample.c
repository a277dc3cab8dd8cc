/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Benchmark (not a test): kernel-only time of the fast path and of the reference on the
 * standard case, 2048x2048x4 float32, depthwise, x2, K=4 (padding 1), interleaved RGBA rows.
 * Buffers are allocated and touched before timing; the fast path reports the median of
 * several runs. Run: meson test -C build --benchmark --verbose, or build/tests/bench-upsample. */
#define _POSIX_C_SOURCE 200809L
#include "test-util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  const size_t   side = argc > 1 ? (size_t) atoi (argv[1]) : 2048, ch = 4;
  const int      runs = 7;
  tconv_params   p;
  tconv_geometry g;
  test_rng       rng;
  double         t[16];

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = (int64_t) ch;
  p.in_h = p.in_w = (int64_t) side;
  p.k_h = p.k_w = 4, p.stride_h = p.stride_w = 2, p.pad_h = p.pad_w = 1;
  if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
    return 1;

  float  *x = test_malloc (g.in_len * sizeof (float));
  float  *y = test_malloc (g.out_len * sizeof (float));
  float   w[4 * 16];
  test_rng_init (&rng, 1);
  test_rng_fill (&rng, x, g.in_len);
  test_rng_fill (&rng, w, 4 * 16);
  memset (y, 0, g.out_len * sizeof (float)); /* touch every page before timing */

  tconv_in_view  in = { .data = x, .h = g.in_h, .w = g.in_w, .c_stride = 1,
                        .x_stride = (ptrdiff_t) ch, .y_stride = (ptrdiff_t) (g.in_w * ch) };
  tconv_out_view out = { .data = y, .h = g.out_h, .w = g.out_w, .c_stride = 1,
                         .x_stride = (ptrdiff_t) ch, .y_stride = (ptrdiff_t) (g.out_w * ch) };

  for (int r = 0; r < runs; r++)
    {
      double t0 = now_ms ();
      tconv_upsample (&g, w, NULL, &in, &out, NULL);
      t[r] = now_ms () - t0;
    }
  qsort (t, runs, sizeof t[0], cmp_double);
  const double fast = t[runs / 2];

  double *work = test_malloc (g.out_len * sizeof (double));
  memset (work, 0, g.out_len * sizeof (double));
  double t0 = now_ms ();
  tconv_upsample_ref (&g, w, NULL, &in, &out, work, g.out_len);
  const double ref = now_ms () - t0;

  printf ("case: %zux%zux%zu float32 -> %zux%zu, depthwise, stride 2, K=4, 1 thread\n", side, side,
          ch, g.out_h, g.out_w);
  printf ("fast path (phase gather): median %.1f ms of %d runs (%.0f Mpixel/s out)\n", fast, runs,
          g.out_h * g.out_w / fast / 1e3);
  printf ("reference (scatter, double): %.1f ms (1 run)\n", ref);
  printf ("speed-up: %.1fx\n", ref / fast);
  free (x), free (y), free (work);
  return 0;
}
