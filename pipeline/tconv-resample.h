/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The exact-size reduction of the pipeline (private to pipeline/): a separable, antialiased
 * Keys cubic (a = -0.5) resampler along one axis, with the pipeline's pixel-centre alignment
 * and border modes. */
#ifndef TCONV_RESAMPLE_H
#define TCONV_RESAMPLE_H

#include <glib.h>

#include "tconv-pipeline.h"

G_BEGIN_DECLS

/**
 * TconvResampler:
 * @in_n, @out_n: source and destination length along the axis.
 * @taps:    source samples per destination sample (the same for every one; unused taps have
 *           weight 0 and index 0).
 * @first:   @out_n entries: the unmapped source index of tap 0 (may lie outside [0, @in_n)).
 * @index:   @out_n * @taps source indices after the border mapping, or -1 for a sample that
 *           reads as zero (the zero border).
 * @weights: @out_n * @taps weights; those of one destination sample sum to 1.
 *
 * Destination sample o sits at source coordinate u = (o + 0.5) * in_n / out_n - 0.5 and takes
 * the source samples i with |i - u| < 2 f, weighted by keys ((i - u) / f) where
 * f = max (1, in_n / out_n): the plain Keys interpolator when enlarging, and when reducing
 * the same cubic stretched by the reduction factor, which makes it a low-pass filter that
 * removes what the smaller grid cannot hold (as PIL and ImageMagick reduce).
 */
typedef struct
{
  gint    in_n, out_n;
  gint    taps;
  gint   *first;
  gint   *index;
  gfloat *weights;
} TconvResampler;

/* Fills @r; FALSE (with @r cleared) when the tables do not fit in memory. */
gboolean tconv_pipeline_resampler_init (TconvResampler *r, gint in_n, gint out_n, TconvBorder border);
void     tconv_pipeline_resampler_clear (TconvResampler *r);

/* Source index of @i under @border for a source of @n samples, or -1 (zero border). */
gint64 tconv_pipeline_border_map (TconvBorder border, gint64 i, gint64 n);

G_END_DECLS

#endif /* TCONV_RESAMPLE_H */
