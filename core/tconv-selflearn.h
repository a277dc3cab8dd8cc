/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Satellite of tconv.h: learning a kernel from an image's own reduced copy ("self"), and the
 * training step `tconv learn` repeats per image. Pure C over float planes, no GLib; the
 * front ends read pixels (pipeline/tconv-pipeline-learn.c) and call these. */
#ifndef TCONV_SELFLEARN_H
#define TCONV_SELFLEARN_H

#include "tconv.h"
#include "tconv-lsq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The strides "self" learns at: at least 2 (stride 1 has nothing to learn), at most the
 * analytic kernels' 16 (the front ends' stride range). */
#define TCONV_SELF_MIN_STRIDE 2u
#define TCONV_SELF_MAX_STRIDE TCONV_ANALYTIC_MAX_STRIDE
/* Kernel side per unit of stride, as the learned presets (K = 6 s and plain least squares
 * were best on the validation photographs; see presets/README-learned.md). */
#define TCONV_SELF_SIZE 6u
/* Used only when the input alone does not determine the taps (flat or tiny images), so that
 * such inputs still get a kernel (one that keeps flat areas flat). */
#define TCONV_SELF_RIDGE 1e-4

/**
 * tconv_luma_bt601:
 * @rgb: @n interleaved R, G, B floats.
 * @y:   (out): @n floats, 0.299 R + 0.587 G + 0.114 B computed in double. The kernel is
 *       shared by R, G and B, so its error on Y is the error of the plane it is trained on,
 *       and Y is what the super-resolution protocol scores.
 */
void tconv_luma_bt601 (const float *rgb, size_t n, float *y);

/**
 * tconv_learn_add_image:
 * @lsq:      learner from tconv_lsq_new() at stride s (equal on both axes).
 * @rgb:      interleaved R'G'B' floats, @height rows of @row floats (>= 3 @width) each.
 * @degr:     @n_degr degradations (1..TCONV_DEGRADE_COUNT); @sigma as tconv_degrade().
 * @quantize: round the reduced image to 8 bits per channel (clamped to [0, 1]) first, as an
 *            8-bit low-resolution file would hold it.
 *
 * Adds the training pairs of one image: its top-left crop to a multiple of s (the
 * protocol's "modcrop"), reduced per channel by each degradation, BT.601 luma of both sides.
 * Allocates its scratch and frees it before returning.
 *
 * Returns: %TCONV_OK; %TCONV_ERR_INVALID_ARG when the image is smaller than s or an argument
 * is bad; %TCONV_ERR_NO_MEMORY; or the status of tconv_degrade() / tconv_lsq_add_pair().
 */
tconv_status tconv_learn_add_image (tconv_lsq               *lsq,
                                    const float             *rgb,
                                    size_t                   width,
                                    size_t                   height,
                                    size_t                   row,
                                    unsigned                 stride,
                                    const tconv_degradation *degr,
                                    size_t                   n_degr,
                                    double                   sigma,
                                    int                      quantize,
                                    tconv_error             *err);

/* What tconv_learn_pairs() hands each low/high-resolution luma pair to. */
typedef tconv_status (*tconv_pair_fn) (void *ctx, const tconv_plane *lr, const tconv_plane *hr,
                                       tconv_error *err);

/* tconv_learn_add_image() for any consumer of the pairs (the bank learner, its threshold
 * pass): the same crop, degradations, quantisation and luma. */
tconv_status tconv_learn_pairs (tconv_pair_fn            add,
                                void                    *ctx,
                                const float             *rgb,
                                size_t                   width,
                                size_t                   height,
                                size_t                   row,
                                unsigned                 stride,
                                const tconv_degradation *degr,
                                size_t                   n_degr,
                                double                   sigma,
                                int                      quantize,
                                tconv_error             *err);

/**
 * tconv_self_learn:
 * @rgb:    interleaved R'G'B' floats in [0, 1], @height rows of @row floats each.
 * @stride: TCONV_SELF_MIN_STRIDE..TCONV_SELF_MAX_STRIDE.
 * @kernel: (out): a new kernel, free with tconv_kernel_free().
 *
 * The kernel that maps the image reduced by bicubic x1/@stride back to the image: K x K taps
 * with K = TCONV_SELF_SIZE @stride, centred, every phase summing to 1, dihedral symmetry,
 * least squares on luma (tconv_learn_add_image() without quantisation); a ridge of
 * TCONV_SELF_RIDGE only when the plain system is singular. Named "self-xS", with its
 * description and degradation filled in. Deterministic: the same pixels give the same bytes.
 *
 * Returns: %TCONV_OK, %TCONV_ERR_INVALID_ARG (stride out of range, image smaller than the
 * stride), %TCONV_ERR_NO_MEMORY, or the learner's status (e.g. an image whose reduced copy
 * is smaller than the kernel).
 */
tconv_status tconv_self_learn (const float   *rgb,
                               size_t         width,
                               size_t         height,
                               size_t         row,
                               unsigned       stride,
                               tconv_kernel **kernel,
                               tconv_error   *err);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_SELFLEARN_H */
