/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Satellite of tconv.h: kernel banks, the adaptive up-sampler (RAISR-style: Romano, Isidoro,
 * Milanfar 2017, "RAISR: Rapid and Accurate Image Super Resolution").
 *
 * A bank is a set of transposed-convolution kernels of one geometry (the `classes`), plus a
 * classifier that gives every low-resolution (LR) pixel a class from the local gradient
 * structure of the image's luma. The up-sample is a spatially varying transposed convolution:
 *
 *   out(y, x) = sum over input pixels i of  in(i) * K_c[y + pad - s*i_y][x + pad - s*i_x],
 *   c = class(floor(y / s), floor(x / s)),
 *
 * i.e. every output pixel uses the kernel of the LR pixel that owns its s x s block (the
 * output block of LR pixel j is where j's own value lands). Why the owner's class and not the
 * stamping pixel's: with the owner's class every output pixel is one phase of one kernel, so
 * when every phase of every class sums to 1 a flat image stays flat for ANY class map. Stamping
 * each input pixel with its own class would mix taps of different kernels in one output pixel
 * and a flat image would show the class boundaries. Each class, per output phase, is a filter
 * over the LR window around the owner: the gather form of RAISR.
 *
 * Geometry: square stride s = stride_h = stride_w (2..TCONV_MAX_STRIDE), exact s-times output
 * (k + opad - 2 pad == s per axis), one kernel per class shared by every image channel (one
 * class map for all channels), no bias. The trainer uses k = s (2r + 1), pad = s r, opad 0:
 * a (2r + 1) x (2r + 1) LR window per output phase.
 *
 * Classification (identical for every band, tile and thread: each pixel's class depends only
 * on the luma within tconv_bank_halo() pixels of it, computed by the same operations in the
 * same order):
 *   1. luma L of the working pixels (what the up-sample reads, border mode applied by the
 *      caller): grey: the value; RGB: 0.299 R + 0.587 G + 0.114 B; alpha images: of the
 *      premultiplied values (tconv_bank_luma()).
 *   2. gradients by central differences gx = (L(x+1) - L(x-1)) / 2, gy likewise;
 *   3. the structure tensor (a, b, c) = (gx^2, gx gy, gy^2), each smoothed by a separable
 *      Gaussian window of the classifier's sigma, truncated at radius ceil(2 sigma),
 *      normalised to sum 1;
 *   4. angle theta = atan2(2b, a - c) / 2 mapped into [0, pi); strength sqrt(lambda1);
 *      coherence (sqrt(lambda1) - sqrt(lambda2)) / (sqrt(lambda1) + sqrt(lambda2)), 0 when
 *      both are 0;
 *   5. class = (angle_bin * strengths + strength_bin) * coherences + coherence_bin, with
 *      angle_bin = floor(theta / pi * angles) (clamped), and the strength/coherence bins the
 *      number of the classifier's thresholds that the value is >= to.
 */
#ifndef TCONV_BANK_H
#define TCONV_BANK_H

#include "tconv.h"
#include "tconv-lsq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TCONV_BANK_MAX_BINS    64u    /* per feature: angles, strengths, coherences */
#define TCONV_BANK_MAX_CLASSES 4096u
#define TCONV_BANK_MAX_SIGMA   4.0    /* window sigma in LR pixels; radius ceil(2 sigma) */

/**
 * tconv_bank_classifier:
 * @angles:      1..TCONV_BANK_MAX_BINS angle bins over [0, pi).
 * @strengths:   1..TCONV_BANK_MAX_BINS bins; @strength_thresholds holds strengths - 1
 *               strictly increasing finite values >= 0.
 * @coherences:  1..TCONV_BANK_MAX_BINS bins; @coherence_thresholds holds coherences - 1
 *               strictly increasing values in [0, 1].
 * @sigma:       Gaussian window sigma, (0, TCONV_BANK_MAX_SIGMA].
 * angles * strengths * coherences <= TCONV_BANK_MAX_CLASSES.
 */
typedef struct tconv_bank_classifier
{
  size_t angles, strengths, coherences;
  double strength_thresholds[TCONV_BANK_MAX_BINS - 1];
  double coherence_thresholds[TCONV_BANK_MAX_BINS - 1];
  double sigma;
} tconv_bank_classifier;

/* Checks the rules above. %TCONV_ERR_INVALID_ARG naming the first bad value. */
tconv_status tconv_bank_classifier_validate (const tconv_bank_classifier *classifier,
                                             tconv_error                 *err);

/* LR pixels on each side of a pixel that its class reads: 1 + ceil(2 sigma). */
size_t tconv_bank_halo (const tconv_bank_classifier *classifier);

/**
 * tconv_bank:
 * @global:     the class-agnostic kernel: the bank's geometry (stride, size, padding) and its
 *              metadata (name, description, provenance, source, degradation, command,
 *              comments). channels == 1, no bias.
 * @classifier: how LR pixels are classified.
 * @classes:    angles * strengths * coherences.
 * @weights:    @classes * k_h * k_w floats, class-major, each class laid out as a kernel.
 * @fallback:   @classes flags: 1 where the class had too few training samples and its weights
 *              are the global kernel's (recorded in the file).
 * @samples:    (nullable): @classes training sample counts, kept for `kernel show`.
 *
 * Invariant (tconv_bank_validate()): every phase of every class and of @global sums to 1
 * within 1e-6, so a flat image stays flat whatever the class map.
 */
typedef struct tconv_bank
{
  tconv_kernel         *global;
  tconv_bank_classifier classifier;
  size_t                classes;
  float                *weights;
  uint8_t              *fallback;
  uint64_t             *samples;
} tconv_bank;

tconv_status tconv_bank_new (const tconv_kernel          *global,
                             const tconv_bank_classifier *classifier,
                             tconv_bank                 **bank,
                             tconv_error                 *err);
void         tconv_bank_free (tconv_bank *bank);
tconv_status tconv_bank_validate (const tconv_bank *bank, tconv_error *err);

/* A class's weights as a kernel view: k_h * k_w floats. */
const float *tconv_bank_class_weights (const tconv_bank *bank, size_t class_index);

/**
 * tconv_bank_parse / tconv_bank_write:
 * The bank form of the .tconv format (presets/README.md): version 2 files with a `bank`
 * section. Strict, line:column errors, round-trip exact (every float bit for bit).
 * tconv_kernel_parse() refuses a bank file with a message saying it is a bank;
 * tconv_bank_parse() refuses a single-kernel file likewise. Limits as tconv_kernel_parse().
 */
tconv_status tconv_bank_parse (const char *text, size_t len, tconv_bank **bank,
                               tconv_error *err);
tconv_status tconv_bank_write (const tconv_bank *bank, char *buf, size_t cap, size_t *len,
                               tconv_error *err);

/* 1 when @text starts like a bank file (header `tconv-kernel 2` and a `bank` line before
 * `weights`), else 0; reads at most @len bytes. For loaders that accept either kind. */
int tconv_text_is_bank (const char *text, size_t len);

/**
 * tconv_bank_luma:
 * @in:       the working pixels (any view; border pixels included by the caller).
 * @channels: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA); alpha images are premultiplied
 *            in @in already (as the pipeline holds them) and their luma ignores alpha.
 * @luma:     (out): @in->h rows of @in->w floats, @luma_stride floats apart.
 */
tconv_status tconv_bank_luma (const tconv_in_view *in, size_t channels, float *luma,
                              ptrdiff_t luma_stride, tconv_error *err);

/**
 * tconv_bank_features / tconv_bank_classify:
 * @luma:    @h rows of @w floats (@stride apart), the region to classify plus
 *           tconv_bank_halo() pixels on every side.
 * @work:    caller scratch of tconv_bank_work_len (classifier, h, w) floats.
 * features: (out): for each of the (h - 2 halo) x (w - 2 halo) interior pixels, angle (radians,
 *           [0, pi)), strength and coherence, at @angle/@strength/@coherence (row stride
 *           @out_stride elements; any may be NULL). Used by the trainer for its thresholds.
 * classes:  (out): the class of every interior pixel, row stride @out_stride.
 */
tconv_status tconv_bank_work_len (const tconv_bank_classifier *classifier, size_t h, size_t w,
                                  size_t *work_len, tconv_error *err);
tconv_status tconv_bank_features (const tconv_bank_classifier *classifier,
                                  const float *luma, size_t h, size_t w, ptrdiff_t stride,
                                  float *angle, float *strength, float *coherence,
                                  ptrdiff_t out_stride, float *work, size_t work_len,
                                  tconv_error *err);
tconv_status tconv_bank_classify (const tconv_bank_classifier *classifier,
                                  const float *luma, size_t h, size_t w, ptrdiff_t stride,
                                  uint16_t *classes, ptrdiff_t out_stride,
                                  float *work, size_t work_len, tconv_error *err);

/**
 * tconv_bank_class_map:
 * The classes of LR rows/columns [@y0, @y0 + @h) x [@x0, @x0 + @w): the owners of an output
 * region, from LR coordinates. @data points at the class of (@y0, @x0); rows @stride apart.
 */
typedef struct tconv_bank_class_map
{
  const uint16_t *data;
  int64_t         y0, x0;
  size_t          h, w;
  ptrdiff_t       stride;
} tconv_bank_class_map;

/**
 * tconv_bank_plan:
 * The bank's filters laid out for the fast gather with @channels interleaved channels: per
 * class, output row phase and window pixel, the taps of the s column phases, each repeated
 * per channel (at stride 2: per class and window pixel, the taps of the four phases, shared
 * by the channels), built once in caller-owned memory and read by any number of threads. Exists
 * for windows of at most TCONV_BANK_PLAN_MAX_WINDOW LR pixels per side, 1..4 channels and
 * s x channels <= 16 (tconv_bank_plan_size() refuses others: tconv_bank_upsample() then runs
 * its portable loop without a plan).
 */
#define TCONV_BANK_PLAN_MAX_WINDOW 17u

typedef struct tconv_bank_plan tconv_bank_plan;

tconv_status tconv_bank_plan_size (const tconv_bank *bank, size_t channels, size_t *bytes,
                                   tconv_error *err);
tconv_status tconv_bank_plan_init (const tconv_bank *bank, size_t channels, void *mem,
                                   size_t bytes, tconv_bank_plan **plan, tconv_error *err);

/**
 * tconv_bank_upsample:
 * @plan:  (nullable): from tconv_bank_plan_init() for this bank and the image's channels:
 *         the vectorised loop; NULL: the portable loop. Either way a pixel's bytes do not
 *         depend on the region it is computed in.
 * @geom:  the bank's geometry for the image: depthwise, groups == in_c == out_c (1..64
 *         image channels), from the bank's global kernel.
 * @in:    input view (border pixels placed by the caller, as tconv_upsample()).
 * @map:   classes of every LR pixel that owns an output pixel of @out.
 * @out:   the output region; every pixel written once.
 * @antiring: 0..1: then limited as by tconv_antiring() with this strength (inside the gather
 *         where the plan allows, so that each value is written once); 0: not.
 *
 * The fast gather: per owner, its class's phase filters over its LR window. Equals
 * tconv_bank_upsample_ref(), then tconv_antiring_ref() with @antiring, within 1e-5 (float
 * accumulation). Thread-safe on disjoint outputs.
 */
tconv_status tconv_bank_upsample (const tconv_bank           *bank,
                                  const tconv_bank_plan      *plan,
                                  const tconv_geometry       *geom,
                                  const tconv_in_view        *in,
                                  const tconv_bank_class_map *map,
                                  const tconv_out_view       *out,
                                  float                       antiring,
                                  tconv_error                *err);

/**
 * tconv_bank_sink:
 * @rows: receives output row @y's pixels @x .. @x + @n - 1 at @px, channels interleaved; the
 *        floats are scratch of the gather's, valid during the call only (the callee may
 *        change them in place).
 * @user: passed to @rows.
 */
typedef struct tconv_bank_sink
{
  void  (*rows) (void *user, size_t y, size_t x, size_t n, float *px);
  void   *user;
} tconv_bank_sink;

/**
 * tconv_bank_upsample_to:
 * @plan: required (tconv_bank_plan_init()).
 * @y0, @x0, @h, @w: the output region.
 *
 * As tconv_bank_upsample() with a plan, the same values, handed to @sink in pieces of a row
 * as the gather finishes them instead of stored: a caller that narrows them to 8 or 16 bits
 * reads each piece while it is in the cache rather than a whole region of floats back from
 * memory. Every pixel of the region is handed over exactly once, in pieces of at most
 * 64 s pixels; the order of the pieces is not specified.
 */
tconv_status tconv_bank_upsample_to (const tconv_bank           *bank,
                                     const tconv_bank_plan      *plan,
                                     const tconv_geometry       *geom,
                                     const tconv_in_view        *in,
                                     const tconv_bank_class_map *map,
                                     size_t                      y0,
                                     size_t                      x0,
                                     size_t                      h,
                                     size_t                      w,
                                     const tconv_bank_sink      *sink,
                                     float                       antiring,
                                     tconv_error                *err);

/* The oracle (declared here, documented in tconv-oracle.h's spirit: tests only): every input
 * pixel stamps, into each output pixel its kernel reaches, the tap of the output owner's
 * class, accumulated in double in @work (out_c * h * w doubles). */
tconv_status tconv_bank_upsample_ref (const tconv_bank           *bank,
                                      const tconv_geometry       *geom,
                                      const tconv_in_view        *in,
                                      const tconv_bank_class_map *map,
                                      const tconv_out_view       *out,
                                      double                     *work,
                                      size_t                      work_len,
                                      tconv_error                *err);

/* ---------------------------------------------------------------------------------------------
 * Training (tconv-bank-lsq.c): closed-form least squares per class and output phase.
 *
 * Samples are the LR pixels whose classification halo and window lie inside the LR image;
 * each gives its (2r+1)^2 window x and its s x s high-resolution block y. Per class the
 * normal equations G = sum x x^T (shared by the phases) and b_phase = sum x y_phase are
 * accumulated in double in a fixed order. The solve: the global filter of each phase over all
 * samples, then each (class, phase) filter
 *   argmin |X h - y|^2 + lambda_c |h - h_global|^2   subject to  sum h = 1,
 * lambda_c = ridge * (the class's mean per-tap sample variance): a ridge towards the global
 * filter, so sparse classes stay sane. Classes with fewer than min_samples samples take the
 * global kernel (fallback).
 */

typedef struct tconv_bank_lsq tconv_bank_lsq;

/* @radius: window radius r, 1..8: the bank's kernels are s (2r+1) square, padding s r. */
tconv_status tconv_bank_lsq_new (const tconv_bank_classifier *classifier,
                                 size_t                       stride,
                                 size_t                       radius,
                                 tconv_bank_lsq             **lsq,
                                 tconv_error                 *err);
void         tconv_bank_lsq_free (tconv_bank_lsq *lsq);
/* Sample windows added so far. */
uint64_t     tconv_bank_lsq_samples (const tconv_bank_lsq *lsq);

/* Adds the samples of one pair: @lr h x w, @hr exactly (s h) x (s w); with @dihedral also
 * those of its 7 other rotations and reflections (classes recomputed on each). */
tconv_status tconv_bank_lsq_add_pair (tconv_bank_lsq    *lsq,
                                      const tconv_plane *lr,
                                      const tconv_plane *hr,
                                      int                dihedral,
                                      tconv_error       *err);

typedef struct tconv_bank_lsq_stats
{
  uint64_t samples;         /* sample windows (each gives s^2 output pixels) */
  size_t   fallback;        /* classes that took the global kernel */
  double   mse, mse_global; /* training MSE per output pixel: the bank, the global kernel */
} tconv_bank_lsq_stats;

/**
 * tconv_bank_lsq_solve:
 * @ridge:        n0 >= 0 (finite).
 * @min_samples:  classes with fewer samples fall back to the global kernel.
 * @class_mse:    (nullable): per class, training MSE of the bank and of the global kernel on
 *                that class's samples (2 * classes doubles, bank then global; NaN where a
 *                class has no samples).
 * @bank:         (out): a new bank named "unnamed", provenance learned; samples recorded.
 * Returns %TCONV_ERR_SINGULAR when even the global system is singular (too few samples).
 */
tconv_status tconv_bank_lsq_solve (const tconv_bank_lsq  *lsq,
                                   double                 ridge,
                                   uint64_t               min_samples,
                                   double                *class_mse,
                                   tconv_bank           **bank,
                                   tconv_bank_lsq_stats  *stats,
                                   tconv_error           *err);

/* @bins - 1 thresholds at the quantiles i / bins of @values (sorted in a copy; NaN refused),
 * rounded to float and made strictly increasing. */
tconv_status tconv_bank_quantiles (const float *values, size_t n, size_t bins,
                                   double *thresholds, tconv_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_BANK_H */
