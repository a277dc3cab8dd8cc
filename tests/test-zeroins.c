/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Zero-insertion emulation (stretch, pad, correlate with the rotated, channel-swapped kernel)
 * against the reference scatter on random cases. */
#include "test-util.h"

#include <stdlib.h>

int
main (void)
{
  test_rng rng;
  test_begin ("test-zeroins");
  test_rng_init (&rng, 11);

  for (int iter = 0; iter < 400; iter++)
    {
      test_case tc;
      test_case_random (&rng, &tc, 5, 12, 8);
      const tconv_geometry *g = &tc.geom;
      size_t                wl;

      CHECK_STATUS (tconv_zeroins_work_len (g, &wl));
      float         *work = test_malloc (wl * sizeof (float));
      double        *dwork = test_malloc (g->out_len * sizeof (double));
      float         *ref = test_alloc_poisoned (g->out_len), *got = test_alloc_poisoned (g->out_len);
      tconv_in_view  in = tconv_in_view_planar (g, tc.x);
      tconv_out_view out = tconv_out_view_planar (g, ref);

      int ok = tconv_upsample_ref (g, tc.w, tc.bias, &in, &out, dwork, g->out_len) == TCONV_OK
               && tconv_upsample_zeroins (g, tc.w, tc.bias, tc.x, got, work, wl) == TCONV_OK
               && test_near_array (got, ref, g->out_len, 1e-6, 1e-5, NULL);
      CHECK (ok, "zero-insertion == scatter: %s", test_case_describe (&tc));
      free (work);
      free (dwork);
      free (ref);
      free (got);
      test_case_clear (&tc);
    }
  return test_end ();
}
