/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Satellite of tconv.h: learning kernels. Degradations (how low-resolution training inputs
 * are made from high-resolution images, tconv-degrade.c) and least-squares learning of an
 * up-sampling kernel from pairs of planes (tconv-lsq.c). */
#ifndef TCONV_LSQ_H
#define TCONV_LSQ_H

#include "tconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Degradations: how low-resolution training inputs are made from high-resolution images
 * (tconv-degrade.c). Single float planes with explicit strides (in elements), so one channel
 * of an interleaved image is a plane with x_stride = channels.
 */

typedef struct tconv_plane
{
  const float *data; /* element (0, 0); not modified */
  size_t       h, w;
  ptrdiff_t    y_stride, x_stride;
} tconv_plane;

typedef struct tconv_plane_out
{
  float    *data; /* element (0, 0); every element of the h x w plane is written */
  size_t    h, w;
  ptrdiff_t y_stride, x_stride;
} tconv_plane_out;

typedef enum tconv_degradation
{
  TCONV_DEGRADE_BICUBIC, /* MATLAB imresize (x, 1/s), 'bicubic', antialiasing on */
  TCONV_DEGRADE_AREA,    /* the mean of each s x s block (imresize 'box') */
  TCONV_DEGRADE_GAUSS,   /* Gaussian blur, then the value at each block centre */
  TCONV_DEGRADE_COUNT
} tconv_degradation;

/* Default standard deviation of the Gaussian degradation, in low-resolution pixels (so
 * 0.5 s high-resolution pixels). */
#define TCONV_DEGRADE_GAUSS_SIGMA 0.5

/* "bicubic", "area", "gauss"; NULL for an out-of-range value. */
const char  *tconv_degradation_name (tconv_degradation type);
/* Inverse of tconv_degradation_name(); %TCONV_ERR_INVALID_ARG for an unknown name. */
tconv_status tconv_degradation_from_name (const char *name, tconv_degradation *type,
                                          tconv_error *err);

/**
 * tconv_degrade_work_len:
 * @factor: reduction factor s, 1..TCONV_MAX_STRIDE.
 * @sigma:  %TCONV_DEGRADE_GAUSS only: standard deviation in low-resolution pixels, in
 *          (0, 16]; 0 selects %TCONV_DEGRADE_GAUSS_SIGMA. Ignored otherwise.
 * @work_len: (out): doubles of scratch tconv_degrade() needs for a @src_h x @src_w source.
 */
tconv_status tconv_degrade_work_len (tconv_degradation type,
                                     size_t            factor,
                                     double            sigma,
                                     size_t            src_h,
                                     size_t            src_w,
                                     size_t           *work_len,
                                     tconv_error      *err);

/**
 * tconv_degrade:
 * @src:  h x w plane, both sides multiples of @factor; must not overlap @dst.
 * @dst:  (h / @factor) x (w / @factor) plane, written in full.
 * @work: caller scratch of tconv_degrade_work_len() doubles.
 *
 * Reduces @src by the integer @factor with a separable filter. Output pixel x sits at input
 * coordinate u = (x + 0.5) s - 0.5 (pixel centres aligned, as in tconv_kernel_analytic());
 * it takes the inputs i = floor (u - W / 2) + j, j = 0 .. ceil (W) + 1, weighted by h (u - i)
 * normalised to sum 1, with indices outside the plane mirrored (edge pixel repeated). This
 * is MATLAB's imresize.m algorithm (contributions(), antialiasing): for bicubic
 * h (x) = cubic (x / s) / s with Keys' a = -0.5 and W = 4 s; for area the box [-s/2, s/2),
 * W = s; for gauss exp (-x^2 / 2 (sigma s)^2) cut at |x| <= 4 sigma s, W = 8 sigma s (not a
 * MATLAB method, but the same centres, window and borders). MATLAB computes in double for
 * double input, as this does (for uint8 input it also rounds between its two passes).
 * Values are not clamped.
 */
tconv_status tconv_degrade (tconv_degradation      type,
                            size_t                 factor,
                            double                 sigma,
                            const tconv_plane     *src,
                            const tconv_plane_out *dst,
                            double                *work,
                            size_t                 work_len,
                            tconv_error           *err);

/* ---------------------------------------------------------------------------------------------
 * Least-squares learning (tconv-lsq.c): the kernel that best maps low-resolution planes to
 * their high-resolution originals, one linear least-squares problem per output phase.
 */

/* Largest input window (rows x columns) that one block of s x s outputs reads: ceil (k/s) + 1
 * per axis at most. 400 allows k = 19 s, far beyond the useful 4 s .. 8 s. */
#define TCONV_LSQ_MAX_WINDOW 400u

typedef struct tconv_lsq tconv_lsq;

/**
 * tconv_lsq_new:
 * @stride_h, @stride_w: up-sampling factors, 1..TCONV_MAX_STRIDE.
 * @k_h, @k_w:           kernel size, 1..TCONV_MAX_KERNEL_SIDE.
 * @pad_h, @pad_w:       ConvTranspose2d padding. The output must be exactly s times the
 *                       input: opad = s + 2 pad - k must lie in 0 .. s-1 (the learned
 *                       kernel gets that output padding). Centred: pad = ceil ((k - s) / 2).
 * @lsq:                 (out): a new, empty accumulator; free with tconv_lsq_free().
 *
 * The accumulator holds the normal equations in double: a (w x w)^2 Gram matrix of the input
 * window of w <= ceil (k/s) + 1 pixels per side, shared by all phases, and one cross vector
 * per output phase. Allocates; nothing else in the learner does until tconv_lsq_solve().
 *
 * Returns: %TCONV_OK, %TCONV_ERR_INVALID_ARG, %TCONV_ERR_TOO_LARGE (window above
 * TCONV_LSQ_MAX_WINDOW) or %TCONV_ERR_NO_MEMORY.
 */
tconv_status tconv_lsq_new (size_t       stride_h,
                            size_t       stride_w,
                            size_t       k_h,
                            size_t       k_w,
                            size_t       pad_h,
                            size_t       pad_w,
                            tconv_lsq  **lsq,
                            tconv_error *err);

/* Releases @lsq; accepts NULL. */
void tconv_lsq_free (tconv_lsq *lsq);

/**
 * tconv_lsq_add_pair:
 * @lr: the low-resolution input (the transposed convolution's input), finite values.
 * @hr: the high-resolution target, normally s times @lr per side (larger is allowed: only
 *      the first s * lr rows/columns can be reached).
 *
 * Accumulates the pair with ConvTranspose2d gather semantics exactly as tconv_upsample():
 * output y takes input iy through tap ky when y + pad - ky == iy * s. Only output pixels whose
 * every tap reads inside @lr are used (so no border rule is learned), in whole s x s blocks
 * (so every phase sees the same number of samples). Cost: about n (n + 1) / 2 multiply-adds
 * per input pixel, n the window size ((ceil (k/s) + 1)^2, 49 at k = 6 s). Deterministic: the
 * statistics depend only on the pairs and the order in which they are added.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG (bad plane, or a pair too small to give a
 * single sample) with nothing accumulated.
 */
tconv_status tconv_lsq_add_pair (tconv_lsq         *lsq,
                                 const tconv_plane *lr,
                                 const tconv_plane *hr,
                                 tconv_error       *err);

/**
 * tconv_lsq_merge:
 * @weight: > 0, finite: every statistic of @src counts @weight times.
 *
 * Adds the statistics of @src to @dst, which must have the same strides, kernel size and
 * padding: learning from pairs added to two accumulators and merged with weight 1 equals
 * learning from all of them in one (up to the order of the additions). Weights other than 1
 * give a weighted least squares, e.g. one that balances images of unequal difficulty.
 *
 * Returns: %TCONV_OK or %TCONV_ERR_INVALID_ARG, @dst unchanged.
 */
tconv_status tconv_lsq_merge (tconv_lsq       *dst,
                              const tconv_lsq *src,
                              double           weight,
                              tconv_error     *err);

/* Training samples (output pixels) accumulated so far. */
uint64_t tconv_lsq_samples (const tconv_lsq *lsq);

/* Symmetries a learned kernel can be given (flags; the group they generate is used). */
#define TCONV_LSQ_SYM_FLIP_Y    1u /* top <-> bottom */
#define TCONV_LSQ_SYM_FLIP_X    2u /* left <-> right */
#define TCONV_LSQ_SYM_TRANSPOSE 4u /* rows <-> columns; needs equal strides */
#define TCONV_LSQ_SYM_DIHEDRAL  7u /* all 8 flips and rotations by 90 degrees */

/**
 * tconv_lsq_options:
 * @ridge:     >= 0: Tikhonov term ridge * mean(diag G) * |w|^2 added to each phase's
 *             objective, so the value means the same whatever the number of pixels
 *             (1e-4 .. 1e-2 are mild). 0: plain least squares.
 * @normalize: non-zero: each phase's taps are constrained to sum exactly to 1 (a flat image
 *             stays flat, no checkerboard), solved with a Lagrange multiplier.
 * @symmetry:  TCONV_LSQ_SYM_* flags. Applied algebraically: the normal equations are
 *             averaged over the group, which equals training on every flipped/transposed
 *             copy of every pair; each orbit of taps then gets one value, so the symmetry
 *             holds exactly. A tap whose mirror image falls outside the kernel (an even k at
 *             an odd s is not symmetric about its centre) is set to 0.
 */
typedef struct tconv_lsq_options
{
  double   ridge;
  int      normalize;
  unsigned symmetry;
} tconv_lsq_options;

/* ridge 0, normalize on, no symmetry. */
void tconv_lsq_options_init (tconv_lsq_options *options);

/**
 * tconv_lsq_stats:
 * @samples: output pixels the kernel was fitted on.
 * @mse:     their mean squared error with the returned (float) kernel, in the squared units
 *           of the planes (PSNR = 10 log10 (peak^2 / mse)).
 */
typedef struct tconv_lsq_stats
{
  uint64_t samples;
  double   mse;
} tconv_lsq_stats;

/**
 * tconv_lsq_solve:
 * @options: (nullable): NULL means tconv_lsq_options_init()'s defaults.
 * @kernel:  (out): a new kernel on success (NULL on failure): channels 1, the learner's
 *           stride, size, padding and output padding, provenance learned, name "unnamed";
 *           the caller fills in the name and the provenance strings.
 * @stats:   (nullable): the training error of that kernel.
 *
 * Solves each phase's normal equations G w = c (plus the ridge, the constraint and the
 * symmetry above) by Cholesky in double. Does not change @lsq, so it may be solved again
 * with other options.
 *
 * Returns: %TCONV_OK; %TCONV_ERR_SINGULAR, naming the phase, when a phase's normal matrix is
 * not positive definite (a pivot below 1e-12 of the largest diagonal: the images do not
 * determine the taps, e.g. flat or one-dimensional images; a ridge > 0 cures it);
 * %TCONV_ERR_INVALID_ARG (no samples, bad options, a phase without taps under
 * normalisation); %TCONV_ERR_NO_MEMORY.
 */
tconv_status tconv_lsq_solve (const tconv_lsq         *lsq,
                              const tconv_lsq_options *options,
                              tconv_kernel           **kernel,
                              tconv_lsq_stats         *stats,
                              tconv_error             *err);

/**
 * tconv_lsq_solve_balanced:
 * @parts:   @n accumulators of the same geometry, typically one per image.
 * @passes:  reweighting passes; 0 gives the pooled solution (tconv_lsq_solve() on the sum of
 *           @parts). One pass is nearly converged on photographs; 3 is plenty.
 * @kernel:  (out), @stats (nullable): as tconv_lsq_solve(); @stats is the pooled, unweighted
 *           error of the returned kernel over all parts.
 *
 * Least squares that counts each part by its own relative error: starting from the pooled
 * solution, each pass weights part i by 1 / SSE_i of the previous kernel (geometric mean of
 * the weights 1; SSE floored at 1e-12 of the mean squared target) and solves again. A fixed
 * point minimises the sum of log SSE_i, i.e. maximises the mean per-image PSNR, instead of
 * letting the parts with the largest errors (text, line art) decide the kernel. The result
 * does not change when a part's samples are repeated. Deterministic, like tconv_lsq_solve().
 *
 * Returns: as tconv_lsq_solve(), or %TCONV_ERR_INVALID_ARG when @parts is empty, a part has no
 * samples or the parts differ in geometry.
 */
tconv_status tconv_lsq_solve_balanced (const tconv_lsq *const  *parts,
                                       size_t                   n,
                                       unsigned                 passes,
                                       const tconv_lsq_options *options,
                                       tconv_kernel           **kernel,
                                       tconv_lsq_stats         *stats,
                                       tconv_error             *err);

/**
 * tconv_lsq_mse:
 * The mean squared error on the accumulated pairs of any one-channel @kernel with the
 * learner's stride whose non-zero taps fit, centre on centre, inside the learner's kernel
 * (e.g. an analytic bicubic kernel, for a baseline).
 */
tconv_status tconv_lsq_mse (const tconv_lsq    *lsq,
                            const tconv_kernel *kernel,
                            double             *mse,
                            tconv_error        *err);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_LSQ_H */
