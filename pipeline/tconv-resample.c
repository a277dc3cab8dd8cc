/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The exact-size reduction: weight tables of a separable antialiased Keys cubic resampler,
 * and the border index mapping shared with the transposed-convolution stage. Weights are
 * computed in double and normalised per destination sample, so a flat image stays flat. */
#include "tconv-resample.h"

#include <math.h>

gint64
tconv_pipeline_border_map (TconvBorder border, gint64 i, gint64 n)
{
  gint64 period, j;

  if (i >= 0 && i < n)
    return i;
  switch (border)
    {
    case TCONV_BORDER_CLAMP:
      return i < 0 ? 0 : n - 1;
    case TCONV_BORDER_WRAP:
      j = i % n;
      return j < 0 ? j + n : j;
    case TCONV_BORDER_MIRROR:
      /* ... 2 1 | 0 1 2 ... n-1 | n-2 ...: period 2 (n - 1), any distance from the edge. */
      if (n == 1)
        return 0;
      period = 2 * (n - 1);
      j = i % period;
      if (j < 0)
        j += period;
      return j < n ? j : period - j;
    case TCONV_BORDER_ZERO:
    case TCONV_BORDER_COUNT:
    default:
      return -1;
    }
}

/* Keys (1981) cubic convolution with a = -0.5. */
static double
keys (double t)
{
  t = fabs (t);
  if (t < 1.0)
    return (1.5 * t - 2.5) * t * t + 1.0;
  if (t < 2.0)
    return ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0;
  return 0.0;
}

void
tconv_pipeline_resampler_clear (TconvResampler *r)
{
  g_clear_pointer (&r->first, g_free);
  g_clear_pointer (&r->index, g_free);
  g_clear_pointer (&r->weights, g_free);
  r->taps = 0;
}

gboolean
tconv_pipeline_resampler_init (TconvResampler *r, gint in_n, gint out_n, TconvBorder border)
{
  const double scale = (double) in_n / (double) out_n;
  const double f = MAX (scale, 1.0);
  const double support = 2.0 * f;
  gsize        n;

  r->in_n = in_n;
  r->out_n = out_n;
  r->taps = (gint) ceil (2.0 * support) + 1;
  r->first = NULL, r->index = NULL, r->weights = NULL;
  if (!g_size_checked_mul (&n, (gsize) out_n, (gsize) r->taps)
      || (r->first = g_try_new (gint, out_n)) == NULL
      || (r->index = g_try_new0 (gint, n)) == NULL
      || (r->weights = g_try_new0 (gfloat, n)) == NULL)
    {
      tconv_pipeline_resampler_clear (r);
      return FALSE;
    }

  for (gint o = 0; o < out_n; o++)
    {
      const double u = ((double) o + 0.5) * scale - 0.5;
      const gint64 lo = (gint64) floor (u - support) + 1; /* first i with i - u > -support */
      double       sum = 0.0;
      gint        *idx = r->index + (gsize) o * (gsize) r->taps;
      gfloat      *wt = r->weights + (gsize) o * (gsize) r->taps;

      r->first[o] = (gint) lo;
      for (gint t = 0; t < r->taps; t++)
        {
          const double d = (double) (lo + t) - u;
          sum += fabs (d) < support ? keys (d / f) : 0.0;
        }
      for (gint t = 0; t < r->taps; t++)
        {
          const double d = (double) (lo + t) - u;
          const double v = fabs (d) < support ? keys (d / f) : 0.0;

          wt[t] = (gfloat) (v / sum);
          idx[t] = (gint) tconv_pipeline_border_map (border, lo + t, in_n);
          /* a tap that reads nothing useful points at sample 0 with weight 0 */
          if (v == 0.0 && idx[t] < 0)
            idx[t] = 0;
        }
    }
  return TRUE;
}
