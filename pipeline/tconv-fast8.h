/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 8-bit fast path of the pipeline: depthwise transposed convolution of interleaved 8-bit
 * rows straight to interleaved 8-bit rows, for opaque 8-bit images in their own encoding
 * (no premultiplication, no format conversion). Pure C: no GLib, GEGL or threads. */
#ifndef TCONV_FAST8_H
#define TCONV_FAST8_H

#include <stddef.h>
#include <stdint.h>

#include "tconv.h"

/* A plan for one geometry and kernel; built once, then read by any number of threads. */
typedef struct tconv_fast8 tconv_fast8;

/**
 * tconv_fast8_new:
 * @geom:    a depthwise geometry (groups == in_c == out_c <= 4, dilation 1), as the pipeline
 *           builds it; the output is @geom->out_h x @geom->out_w.
 * @weight:  (C, k_h, k_w) floats: the kernel of each channel, for samples in 0..1.
 * @bias:    (nullable): C floats, in 0..1 units.
 * @col_lo:  the first input column that the row buffers given to tconv_fast8_expand() hold.
 * @cols:    how many columns they hold; must cover tconv_fast8_columns().
 *
 * Returns: the plan (free with tconv_fast8_free()), or NULL when out of memory or when the
 * geometry is not one the path handles.
 */
tconv_fast8 *tconv_fast8_new (const tconv_geometry *geom, const float *weight, const float *bias,
                              int64_t col_lo, size_t cols);
void         tconv_fast8_free (tconv_fast8 *plan);

/* The input columns [*lo, *lo + *n) that every output row reads (zero-weight taps included). */
void tconv_fast8_columns (const tconv_geometry *geom, int64_t *lo, size_t *n);

/* Floats of one expanded input row (see tconv_fast8_expand()). */
size_t tconv_fast8_row_floats (const tconv_fast8 *plan);

/**
 * tconv_fast8_expand:
 * @src: one input row: @cols pixels of C interleaved 8-bit samples, from column @col_lo.
 * @dst: tconv_fast8_row_floats() floats: each pixel repeated stride_w times, as floats.
 */
void tconv_fast8_expand (const tconv_fast8 *plan, const uint8_t *src, float *dst);

/**
 * tconv_fast8_rows:
 * @rows:   expanded input rows; @rows[i] is input row @row0 + i; every row that output rows
 *          [@y0, @y1) read must be there.
 * @out:    output rows [@y0, @y1), @out_stride bytes apart, each out_w * C interleaved samples,
 *          rounded to nearest and clamped to 0..255.
 *
 * Every output sample is computed by the same operations in the same order whatever @y0, @y1,
 * so the bytes do not depend on how callers split the rows.
 */
void tconv_fast8_rows (const tconv_fast8 *plan, const float *const *rows, int64_t row0,
                       int64_t y0, int64_t y1, uint8_t *out, size_t out_stride);

#endif /* TCONV_FAST8_H */
