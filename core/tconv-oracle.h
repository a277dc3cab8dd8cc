/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Satellite of tconv.h: the oracles. FOR TESTS AND TEACHING; NO STABILITY PROMISE: these
 * declarations may change or go in any release.
 *
 * Three independent formulations of the transposed convolution that the fast paths are
 * checked against: the reference scatter (the definition, accumulated in double, never
 * optimised), the textbook zero-insertion emulation, and the explicit matrix of the strided
 * convolution whose transpose it is (also the basis of the adjoint test). Slow by design. */
#ifndef TCONV_ORACLE_H
#define TCONV_ORACLE_H

#include "tconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest explicit convolution matrix (elements) tconv_matrix_build() agrees to build. */
#define TCONV_MAX_MATRIX_ELEMS (1u << 24)

/**
 * tconv_upsample_ref:
 * @geom:    from tconv_geometry_init().
 * @weight:  (C_in, C_out/groups, k_h, k_w) floats.
 * @bias:    (nullable): C_out floats.
 * @in:      input view.
 * @out:     output region to compute.
 * @work:    caller-owned scratch of at least tconv_ref_work_len() doubles.
 * @work_len: its length in doubles.
 *
 * The definition, kept as the oracle and never optimised: every input pixel held by @in
 * stamps the kernel, scaled by its value, into the output (one-to-many scatter), accumulated
 * in double; the stamps that fall inside @out are kept.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG with nothing written.
 */
tconv_status tconv_upsample_ref (const tconv_geometry *geom,
                                 const float          *weight,
                                 const float          *bias,
                                 const tconv_in_view  *in,
                                 const tconv_out_view *out,
                                 double               *work,
                                 size_t                work_len);

/* Scratch doubles that tconv_upsample_ref() needs for @out: out_c * h * w. */
tconv_status tconv_ref_work_len (const tconv_geometry *geom,
                                 const tconv_out_view *out,
                                 size_t               *work_len);

/**
 * tconv_antiring_ref:
 * tconv_antiring() as the definition reads, one output value at a time, each of its four
 * input pixels fetched through the view's bounds check: the oracle of the fast version,
 * which must give the same floats.
 */
tconv_status tconv_antiring_ref (const tconv_geometry *geom, const tconv_in_view *in,
                                 const tconv_out_view *out, float strength, tconv_error *err);

/**
 * tconv_matrix_size:
 * @rows: (out): rows of the convolution matrix C = geom->in_len (the strided convolution's
 *        output, i.e. the transposed convolution's input).
 * @cols: (out): columns of C = geom->out_len.
 *
 * Returns: %TCONV_ERR_TOO_LARGE when rows * cols > TCONV_MAX_MATRIX_ELEMS.
 */
tconv_status tconv_matrix_size (const tconv_geometry *geom, size_t *rows, size_t *cols);

/**
 * tconv_matrix_build:
 * @c:     (out): rows * cols doubles, row-major.
 *
 * Builds C, the matrix of the strided convolution conv2d(., weight, stride, padding,
 * dilation, groups) that maps a (C_out, out_h, out_w) tensor to a (C_in, in_h, in_w) one.
 * The transposed convolution is then y = C^T x + bias (see tconv_matrix_apply_transpose()).
 */
tconv_status tconv_matrix_build (const tconv_geometry *geom,
                                 const float          *weight,
                                 double               *c,
                                 size_t                n_elems);

/**
 * tconv_matrix_apply_transpose:
 * Computes y = C^T x (+ bias per output channel) for planar x (in_len) and y (out_len),
 * accumulating in double.
 */
tconv_status tconv_matrix_apply_transpose (const tconv_geometry *geom,
                                           const double         *c,
                                           const float          *bias,
                                           const float          *x,
                                           float                *y);

/**
 * tconv_zeroins_work_len:
 * Floats of scratch that tconv_upsample_zeroins() needs: the stretched, padded input plus the
 * rotated, channel-swapped kernel.
 */
tconv_status tconv_zeroins_work_len (const tconv_geometry *geom, size_t *work_len);

/**
 * tconv_upsample_zeroins:
 *
 * The textbook emulation: insert stride-1 zeros between input samples, pad each side by
 * dil*(k-1) - pad (cropping when negative) plus output_padding at the bottom/right, and run a
 * stride-1 dilated correlation with the kernel rotated 180 degrees and its in/out channels
 * swapped per group. Planar @in (in_len floats) and @out (out_len floats).
 */
tconv_status tconv_upsample_zeroins (const tconv_geometry *geom,
                                     const float          *weight,
                                     const float          *bias,
                                     const float          *in,
                                     float                *out,
                                     float                *work,
                                     size_t                work_len);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_ORACLE_H */
