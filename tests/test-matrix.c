/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The convolution-matrix path: C^T x equals the reference scatter on random small cases, and
 * C really is the strided convolution (checked on the seed example against a hand-written
 * matrix entry). */
#include "test-util.h"

#include <stdlib.h>

static void
matrix_matches_ref (test_rng *rng)
{
  for (int iter = 0; iter < 250; iter++)
    {
      test_case tc;
      test_case_random (rng, &tc, 5, 12, 6);
      const tconv_geometry *g = &tc.geom;
      size_t                rows, cols;

      if (tconv_matrix_size (g, &rows, &cols) != TCONV_OK)
        {
          test_case_clear (&tc);
          iter--;
          continue;
        }
      double        *c = test_malloc (rows * cols * sizeof (double));
      double        *work = test_malloc (g->out_len * sizeof (double));
      float         *ref = test_alloc_poisoned (g->out_len), *got = test_alloc_poisoned (g->out_len);
      tconv_in_view  in = tconv_in_view_planar (g, tc.x);
      tconv_out_view out = tconv_out_view_planar (g, ref);

      int ok = tconv_upsample_ref (g, tc.w, tc.bias, &in, &out, work, g->out_len) == TCONV_OK
               && tconv_matrix_build (g, tc.w, c, rows * cols) == TCONV_OK
               && tconv_matrix_apply_transpose (g, c, tc.bias, tc.x, got) == TCONV_OK
               && test_near_array (got, ref, g->out_len, 1e-6, 1e-5, NULL);
      CHECK (ok, "C^T x == scatter: %s", test_case_describe (&tc));
      free (c);
      free (work);
      free (ref);
      free (got);
      test_case_clear (&tc);
    }
}

static void
seed_example_matrix (void)
{
  /* 3x3 kernel over a 4x4 input, stride 1, no padding: C is 4x16 and row 0 holds the kernel
   * at columns 0-2, 4-6, 8-10 (the seed article's picture). */
  tconv_params p;
  tconv_geometry g;
  const float    w[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  double         c[64];
  size_t         rows, cols;

  tconv_params_init (&p);
  p.in_c = p.out_c = 1, p.in_h = p.in_w = 2, p.k_h = p.k_w = 3;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  CHECK_STATUS (tconv_matrix_size (&g, &rows, &cols));
  CHECK (rows == 4 && cols == 16, "C is 4 x 16 (got %zu x %zu)", rows, cols);
  CHECK_STATUS (tconv_matrix_build (&g, w, c, 64));
  const double row0[16] = { 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0 };
  const double row3[16] = { 0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9 };
  int          ok = 1;
  for (int i = 0; i < 16; i++)
    ok &= c[i] == row0[i] && c[48 + i] == row3[i];
  CHECK (ok, "rows 0 and 3 of C place the kernel as the seed article draws it");
}

static void
matrix_size_is_bounded (void)
{
  tconv_params p;
  tconv_geometry g;
  size_t         rows, cols;
  tconv_params_init (&p);
  p.in_c = p.out_c = 1, p.in_h = p.in_w = 100, p.k_h = p.k_w = 3;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  CHECK (tconv_matrix_size (&g, &rows, &cols) == TCONV_ERR_TOO_LARGE,
         "10000 x 10404 matrix refused (> TCONV_MAX_MATRIX_ELEMS)");
}

int
main (void)
{
  test_rng rng;
  test_begin ("test-matrix");
  test_rng_init (&rng, 7);
  matrix_matches_ref (&rng);
  seed_example_matrix ();
  matrix_size_is_bounded ();
  return test_end ();
}
