/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv: transposed convolution (PyTorch ConvTranspose2d semantics) in plain C11.
 *
 * The stable public header of the core library: status and errors, limits, geometry, views,
 * up-sampling (float and 8-bit), kernels (analytic, analysis, .tconv parse/write). Beside it:
 * tconv-lsq.h (degradations, least-squares learning), tconv-npy.h (.npy files) and
 * tconv-oracle.h (reference implementations, for tests and teaching; no stability promise).
 * The core knows nothing of GLib, GEGL or GIMP: plain structs, caller-owned buffers, a status
 * enum, no threads, no I/O (the one process-wide state is tconv_cpu_paths()). Parsers take a
 * pointer and a length, never a path.
 *
 * Tensors are float32. The canonical layout is PyTorch's planar (C, H, W), but every compute
 * function reads and writes through views with explicit strides, so interleaved (H, W, C)
 * image rows work as well.
 *
 * Weights always use the layout of ConvTranspose2d.weight: (C_in, C_out / groups, k_h, k_w),
 * contiguous. Bias is (C_out) or NULL.
 */
#ifndef TCONV_H
#define TCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Status and errors
 */

typedef enum tconv_status
{
  TCONV_OK = 0,
  TCONV_ERR_INVALID_ARG, /* an argument breaks a documented precondition */
  TCONV_ERR_TOO_LARGE,   /* a size overflows size_t or exceeds a TCONV_MAX_* limit */
  TCONV_ERR_NO_MEMORY,   /* an allocation failed (parsers and the learner only) */
  TCONV_ERR_PARSE,       /* text or file bytes are malformed; see tconv_error */
  TCONV_ERR_SINGULAR,    /* a least-squares system is rank deficient */
  TCONV_STATUS_COUNT     /* must stay last */
} tconv_status;

/**
 * tconv_error:
 * @line:    1-based line of a parse error, 0 when the error is not about text.
 * @column:  1-based column (in bytes) of a parse error, 0 when not about text.
 * @message: NUL-terminated explanation naming the bad value and the rule it broke,
 *           e.g. "stride_h 0: must be >= 1".
 *
 * Every function that can reject input takes an optional `tconv_error *` (NULL is allowed)
 * and fills it on failure. It is left untouched on success.
 */
typedef struct tconv_error
{
  unsigned line;
  unsigned column;
  char     message[256];
} tconv_error;

/**
 * tconv_status_string:
 * Returns: a static English description of @status ("invalid argument", ...); never NULL.
 */
const char *tconv_status_string (tconv_status status);

/* ---------------------------------------------------------------------------------------------
 * Limits. Every size product in the library is overflow-checked; these bound what any
 * single dimension may be, so hostile files and arguments fail early with a clear message.
 */

#define TCONV_MAX_SIDE        524288u /* pixels per side, GIMP's GIMP_MAX_IMAGE_SIZE */
#define TCONV_MAX_CHANNELS    65536u
#define TCONV_MAX_KERNEL_SIDE 256u
#define TCONV_MAX_STRIDE      64u
#define TCONV_MAX_DILATION    64u
#define TCONV_MAX_GROUPS      TCONV_MAX_CHANNELS
/* The analytic kernels (tconv_kernel_analytic()) exist at strides 1..this on each axis; the
 * front ends accept the same range. */
#define TCONV_ANALYTIC_MAX_STRIDE 16u

/* ---------------------------------------------------------------------------------------------
 * Geometry (PyTorch semantics)
 */

/**
 * tconv_params:
 *
 * The arguments of torch.nn.functional.conv_transpose2d for one (unbatched) input, as signed
 * integers so that negative values can be reported rather than wrapped. Fill with
 * tconv_params_init() and then set what differs from the defaults.
 *
 * @in_c, @in_h, @in_w:   input tensor (C_in, H, W).
 * @out_c:                C_out = groups * weight.shape[1].
 * @groups:               C_in and C_out must both be multiples of it.
 * @k_h, @k_w:            kernel size.
 * @stride_*:             >= 1.
 * @pad_*:                >= 0: rows/columns cropped from both sides of the full stamp image.
 * @opad_*:               output_padding, >= 0 and < max(stride, dilation) per axis: extra
 *                        rows/columns at the bottom/right.
 * @dil_*:                dilation, >= 1.
 */
typedef struct tconv_params
{
  int64_t in_c, in_h, in_w;
  int64_t out_c;
  int64_t groups;
  int64_t k_h, k_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t opad_h, opad_w;
  int64_t dil_h, dil_w;
} tconv_params;

/**
 * tconv_geometry:
 *
 * Validated parameters plus everything derived from them. Produced by tconv_geometry_init();
 * treat as read-only.
 *
 * out_h = (in_h - 1) * stride_h - 2 * pad_h + dil_h * (k_h - 1) + opad_h + 1, same for w.
 * @in_len, @out_len, @weight_len: element counts of the planar tensors
 *   (in_c*in_h*in_w, out_c*out_h*out_w, in_c*(out_c/groups)*k_h*k_w); each fits in size_t
 *   together with its byte size.
 */
typedef struct tconv_geometry
{
  size_t in_c, in_h, in_w;
  size_t out_c, out_h, out_w;
  size_t groups;
  size_t k_h, k_w;
  size_t stride_h, stride_w;
  size_t pad_h, pad_w;
  size_t opad_h, opad_w;
  size_t dil_h, dil_w;
  size_t in_len, out_len, weight_len;
} tconv_geometry;

/**
 * tconv_params_init:
 * Sets stride, dilation and groups to 1 and everything else to 0.
 */
void tconv_params_init (tconv_params *params);

/**
 * tconv_geometry_init:
 * @geom:   (out): filled on success, untouched on failure.
 * @params: the arguments to check.
 * @err:    (nullable): receives a message naming the first bad value and its rule.
 *
 * Applies every legality rule PyTorch applies (positive stride, dilation and groups,
 * non-negative padding and output padding, output_padding < max(stride, dilation) per axis,
 * groups dividing C_in and C_out, output size >= 1) plus the TCONV_MAX_* limits, with all
 * arithmetic overflow-checked.
 *
 * Returns: %TCONV_OK, %TCONV_ERR_INVALID_ARG or %TCONV_ERR_TOO_LARGE.
 */
tconv_status tconv_geometry_init (tconv_geometry     *geom,
                                  const tconv_params *params,
                                  tconv_error        *err);

/* ---------------------------------------------------------------------------------------------
 * Views: where a compute function reads its input and writes its output.
 *
 * Strides are in elements (floats) and may be any non-zero values, so planar (C, H, W) and
 * interleaved (H, W, C) layouts are both views.
 */

/**
 * tconv_in_view:
 * @data:  element (c=0, y=@y0, x=@x0) of the input; not modified.
 * @y0, @x0: input-frame coordinates of the first row/column held. They may be negative and
 *         the held area may extend past the input edges: callers that implement border modes
 *         (clamp, mirror, wrap) put the extended pixels there and they are used as input.
 * @h, @w: rows and columns held. Any input position outside the view reads as zero, which is
 *         the pure transposed convolution.
 */
typedef struct tconv_in_view
{
  const float *data;
  int64_t      y0, x0;
  size_t       h, w;
  ptrdiff_t    c_stride, y_stride, x_stride;
} tconv_in_view;

/**
 * tconv_out_view:
 * @data:  element (c=0, y=@y0, x=@x0) of the output region.
 * @y0, @x0, @h, @w: the output region (the ROI), which must lie inside the output.
 *         Exactly the pixels of this region are written, every channel, each once.
 */
typedef struct tconv_out_view
{
  float    *data;
  size_t    y0, x0;
  size_t    h, w;
  ptrdiff_t c_stride, y_stride, x_stride;
} tconv_out_view;

/* Whole planar (C, H, W) tensors as views. */
tconv_in_view  tconv_in_view_planar (const tconv_geometry *geom, const float *data);
tconv_out_view tconv_out_view_planar (const tconv_geometry *geom, float *data);

/* ---------------------------------------------------------------------------------------------
 * Up-sampling. tconv_upsample() (float), tconv_upsample_separable() (separable kernels) and the
 * 8-bit path agree with the reference scatter of tconv-oracle.h to about 1e-6 relative error
 * (float accumulation).
 */

/**
 * tconv_upsample:
 * @geom:    from tconv_geometry_init().
 * @weight:  (C_in, C_out/groups, k_h, k_w) floats.
 * @bias:    (nullable): C_out floats.
 * @in:      input view; must not overlap @out.
 * @out:     output region to compute.
 *
 * Phase-decomposed gather. Output (y, x) only sees the taps whose row index
 * ky satisfies (y + pad_h - ky * dil_h) mod stride_h == 0 (same for columns), so each output
 * phase is a small stride-1 correlation of the input with one sub-kernel: no multiplication
 * by inserted zeros, every output element written exactly once, nothing allocated, no state.
 * Safe to call from several threads on disjoint output regions.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG with nothing written.
 */
tconv_status tconv_upsample (const tconv_geometry *geom,
                             const float          *weight,
                             const float          *bias,
                             const tconv_in_view  *in,
                             const tconv_out_view *out,
                             tconv_error          *err);

/* ---------------------------------------------------------------------------------------------
 * The 8-bit path: interleaved 8-bit rows in, interleaved 8-bit rows out, no float image in
 * memory. For depthwise geometries (groups == in_c == out_c <= 4, dilation 1).
 *
 * A plan is built once for a geometry and kernel in caller-owned memory, then read by any
 * number of threads. Input rows are "expanded" (each pixel repeated stride_w times, as floats)
 * into caller-owned rows; tconv_u8_rows() computes any range of output rows from them.
 * Samples are read as 0..255; each result is rounded to nearest and clamped to 0..255 (NaN
 * gives 0). Equals tconv_upsample_ref() on the same values, rounded, to within one level where
 * the float sum lies next to a .5 boundary. Every output sample is computed by the same
 * operations in the same order whatever the row range, so the bytes do not depend on how
 * callers split the rows.
 */

typedef struct tconv_u8_plan tconv_u8_plan;

/**
 * tconv_u8_columns:
 * @lo: (out): first input column any output row reads (may be negative: the caller fills
 *      columns outside 0..in_w-1 with its border rule, or zeros for the pure convolution).
 * @n:  (out): how many columns, from @lo.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG for a geometry the path does not handle
 * (the message says which rule), in which case callers use tconv_upsample().
 */
tconv_status tconv_u8_columns (const tconv_geometry *geom,
                               int64_t              *lo,
                               size_t               *n,
                               tconv_error          *err);

/* Bytes of caller memory tconv_u8_plan_init() needs for @geom (any alignment). */
tconv_status tconv_u8_plan_size (const tconv_geometry *geom, size_t *bytes, tconv_error *err);

/**
 * tconv_u8_plan_init:
 * @geom:      from tconv_geometry_init(), depthwise as above.
 * @weight:    (C, k_h, k_w) floats.
 * @bias:      (nullable): C floats, in 0..1 units (scaled by 255 here).
 * @col_lo:    the first input column the row buffers given to tconv_u8_expand() hold.
 * @cols:      how many columns they hold; must cover tconv_u8_columns().
 * @mem:       caller-owned memory of @mem_bytes >= tconv_u8_plan_size(); holds the plan until
 *             the caller frees it (there is no _free); must not be copied or moved.
 * @plan:      (out): the plan inside @mem.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG with @plan untouched.
 */
tconv_status tconv_u8_plan_init (const tconv_geometry *geom,
                                 const float          *weight,
                                 const float          *bias,
                                 int64_t               col_lo,
                                 size_t                cols,
                                 void                 *mem,
                                 size_t                mem_bytes,
                                 tconv_u8_plan       **plan,
                                 tconv_error          *err);

/* Floats of one expanded input row: cols * stride_w * C. */
size_t tconv_u8_row_floats (const tconv_u8_plan *plan);

/* %TCONV_CPU_CLONES when the plan runs the x86-64-v3 build of its loop, else 0. */
unsigned tconv_u8_plan_paths (const tconv_u8_plan *plan);

/**
 * tconv_u8_expand:
 * @src: one input row: @cols pixels of C interleaved 8-bit samples, from column @col_lo.
 * @dst: tconv_u8_row_floats() floats.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG when an argument is NULL.
 */
tconv_status tconv_u8_expand (const tconv_u8_plan *plan,
                              const uint8_t       *src,
                              float               *dst,
                              tconv_error         *err);

/**
 * tconv_u8_rows:
 * @rows:       expanded input rows; @rows[i] is input row @row0 + i, for i < @n_rows. Every
 *              row that output rows [@y0, @y1) read must be there (checked).
 * @y0, @y1:    the output rows to compute, 0 <= @y0 < @y1 <= out_h.
 * @out:        output row @y0; rows are @out_stride bytes apart, each out_w * C samples.
 * @out_stride: >= out_w * C.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG with nothing written.
 */
tconv_status tconv_u8_rows (const tconv_u8_plan *plan,
                            const float *const  *rows,
                            int64_t              row0,
                            size_t               n_rows,
                            size_t               y0,
                            size_t               y1,
                            uint8_t             *out,
                            size_t               out_stride,
                            tconv_error         *err);

/**
 * tconv_narrow_u8:
 * @src: @n float samples in 0..1 units.
 * @dst: @n 8-bit levels; may be @src itself (each sample is read before its level is stored,
 *       and levels land before the samples still to be read).
 *
 * Levels as GIMP's babl rounds floats to 8 bits: clamped to 0 (NaN gives 0), then to 1, times
 * 255 (rounded to float), plus 0.5, truncated. The same level for a sample whatever the path
 * or its place in @src.
 */
void tconv_narrow_u8 (const float *src, uint8_t *dst, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Instruction-set paths. On x86-64 with AVX2 and FMA the core runs hand-written AVX2 kernels
 * and compiler-built x86-64-v3 copies of its portable loops. The environment variable
 * TCONV_DISABLE, a comma-separated list read once per process, turns them off:
 *   avx2    the hand-written AVX2 kernels (float depthwise path)
 *   clones  the x86-64-v3 copies (depthwise specialisations, the 8-bit path, narrowing, the bank
 *           gather), and with them the x86-64-v4 ones
 *   avx512  the x86-64-v4 (AVX-512) copies of the stride-2 bank gather and of narrowing
 * `TCONV_DISABLE=avx2,clones` runs the portable code that other CPUs (ARM, ...) run.
 * Results may differ in the last bit between paths (fused multiply-adds), never more.
 */
#define TCONV_CPU_AVX2   1u
#define TCONV_CPU_CLONES 2u
#define TCONV_CPU_V4     4u

/* The paths in use: what the CPU and the build offer, minus TCONV_DISABLE. Thread-safe. */
unsigned tconv_cpu_paths (void);

/* ---------------------------------------------------------------------------------------------
 * Kernels for image up-sampling: depthwise transposed convolutions, one k_h x k_w kernel shared
 * by all channels or one per channel, with their geometry and provenance.
 * (tconv-kernel.c: lifetime and validation; tconv-analytic.c: analytic presets and analysis;
 *  tconv-preset.c: the .tconv text format, documented in presets/README.md;
 *  tconv-separable.c: the two-pass path for rank-1 kernels.)
 */

#define TCONV_KERNEL_FILE_MAX  (16u << 20) /* bytes of .tconv text the parser accepts */
#define TCONV_KERNEL_NAME_MAX  64u          /* bytes; names are [a-z0-9._-]+ */
#define TCONV_KERNEL_TEXT_MAX  4096u        /* bytes of any one string field */
#define TCONV_KERNEL_MAX_CHANNELS 64u       /* per-channel kernels: up to this many channels */

typedef enum tconv_provenance
{
  TCONV_PROVENANCE_ANALYTIC,
  TCONV_PROVENANCE_IMPORTED,
  TCONV_PROVENANCE_LEARNED,
  TCONV_PROVENANCE_COUNT
} tconv_provenance;

/**
 * tconv_kernel:
 * @name:        [a-z0-9._-]+, at most TCONV_KERNEL_NAME_MAX bytes.
 * @description: one line of UTF-8 text, possibly empty; never NULL.
 * @stride_h, @stride_w: 1..TCONV_MAX_STRIDE.
 * @k_h, @k_w:   1..TCONV_MAX_KERNEL_SIDE.
 * @pad_h, @pad_w, @opad_h, @opad_w: ConvTranspose2d padding and output_padding. For an exact
 *               s-times up-sample they satisfy k + opad - 2 pad == s per axis.
 * @channels:    1 (one kernel shared by every image channel) or the number of per-channel
 *               kernels, 1..TCONV_KERNEL_MAX_CHANNELS.
 * @weights:     channels * k_h * k_w floats, channel-major then row-major; all finite.
 * @bias:        NULL or @channels floats (finite).
 * @provenance:  where the weights come from.
 * @source:      (nullable): imported: the source file; learned: the training data.
 * @degradation: (nullable): learned: how low-resolution inputs were made.
 * @command:     (nullable): the command that produced the file.
 * @comments:    (nullable): free text kept across write/read, lines joined by '\n'.
 *
 * Every pointer is owned by the kernel and released by tconv_kernel_free(). All strings are
 * valid UTF-8 without control characters other than '\n' in @comments.
 */
typedef struct tconv_kernel
{
  char            *name;
  char            *description;
  size_t           stride_h, stride_w;
  size_t           k_h, k_w;
  size_t           pad_h, pad_w;
  size_t           opad_h, opad_w;
  size_t           channels;
  float           *weights;
  float           *bias;
  tconv_provenance provenance;
  char            *source;
  char            *degradation;
  char            *command;
  char            *comments;
} tconv_kernel;

/**
 * tconv_kernel_new:
 * Allocates a kernel with zeroed weights, no bias, name "unnamed", empty description,
 * stride 1, no padding, provenance analytic. Returns %TCONV_ERR_INVALID_ARG for sizes out of
 * range, %TCONV_ERR_NO_MEMORY if allocation fails.
 */
tconv_status tconv_kernel_new (size_t          channels,
                               size_t          k_h,
                               size_t          k_w,
                               tconv_kernel  **kernel,
                               tconv_error    *err);

/* Releases @kernel and everything it owns; accepts NULL. */
void tconv_kernel_free (tconv_kernel *kernel);

/* Deep copy. */
tconv_status tconv_kernel_copy (const tconv_kernel *kernel, tconv_kernel **copy,
                                tconv_error *err);

/* Replaces a string field (e.g. &k->description) with a copy of @value (NULL allowed for
 * nullable fields). */
tconv_status tconv_kernel_set_string (char **field, const char *value);

/**
 * tconv_kernel_validate:
 * Checks every documented invariant of a kernel (ranges, finite weights, name charset,
 * UTF-8 strings). Returns %TCONV_OK or %TCONV_ERR_INVALID_ARG with a message.
 */
tconv_status tconv_kernel_validate (const tconv_kernel *kernel, tconv_error *err);

/**
 * tconv_kernel_parse:
 * @text, @len: the bytes of a .tconv file (need not be NUL-terminated), at most
 *              TCONV_KERNEL_FILE_MAX.
 * @kernel: (out): a new kernel on success; NULL on failure.
 * @err:    (nullable): on %TCONV_ERR_PARSE, the line:column and what was expected there.
 *
 * Strict parser of the format documented in presets/README.md. Returns %TCONV_OK,
 * %TCONV_ERR_PARSE, %TCONV_ERR_INVALID_ARG or %TCONV_ERR_NO_MEMORY.
 */
tconv_status tconv_kernel_parse (const char    *text,
                                 size_t         len,
                                 tconv_kernel **kernel,
                                 tconv_error   *err);

/**
 * tconv_kernel_write:
 * @buf: (nullable): destination of @cap bytes; with NULL only @len is computed.
 * @len: (out): bytes of the text (without a terminating NUL; one is added when it fits).
 *
 * Writes @kernel in the .tconv format so that tconv_kernel_parse() gives back exactly the
 * same kernel (every float round-trips bit for bit). Returns %TCONV_ERR_TOO_LARGE when @cap
 * is too small (with @len set to the size needed, @buf untouched) and also, even with a NULL
 * @buf, when the text would exceed TCONV_KERNEL_FILE_MAX (@len > TCONV_KERNEL_FILE_MAX: the
 * parser would refuse it); %TCONV_ERR_INVALID_ARG when @kernel fails tconv_kernel_validate().
 */
tconv_status tconv_kernel_write (const tconv_kernel *kernel,
                                 char               *buf,
                                 size_t              cap,
                                 size_t             *len,
                                 tconv_error        *err);

/* Analytic interpolation kernels. */
typedef enum tconv_analytic
{
  TCONV_ANALYTIC_NEAREST,  /* box */
  TCONV_ANALYTIC_BILINEAR, /* tent */
  TCONV_ANALYTIC_BICUBIC,  /* Keys, a = -0.5 (MATLAB imresize, PIL, ImageMagick Catrom) */
  TCONV_ANALYTIC_MITCHELL, /* Mitchell-Netravali, B = C = 1/3 */
  TCONV_ANALYTIC_LANCZOS2,
  TCONV_ANALYTIC_LANCZOS3,
  TCONV_ANALYTIC_BSPLINE,  /* cubic B-spline (smoothing, not interpolating) */
  TCONV_ANALYTIC_COUNT
} tconv_analytic;

/* "nearest", "bilinear", ...; NULL for an out-of-range value. */
const char *tconv_analytic_name (tconv_analytic type);
/* Inverse of tconv_analytic_name(); %TCONV_ERR_INVALID_ARG for an unknown name. */
tconv_status tconv_analytic_from_name (const char *name, tconv_analytic *type,
                                       tconv_error *err);

/**
 * tconv_kernel_analytic:
 * @stride_h, @stride_w: 1..%TCONV_ANALYTIC_MAX_STRIDE.
 *
 * The interpolation kernel sampled at the output phases, with output pixel centres aligned to
 * input pixel centres (output x sits at input coordinate (x + 0.5)/s - 0.5), so that an
 * up-sample with it equals that interpolation away from the borders, and the output is
 * exactly s times the input. Windowed-sinc kernels are normalised per phase (as PIL and
 * ImageMagick normalise their taps), so every analytic kernel keeps a flat image flat.
 */
tconv_status tconv_kernel_analytic (tconv_analytic  type,
                                    size_t          stride_h,
                                    size_t          stride_w,
                                    tconv_kernel  **kernel,
                                    tconv_error    *err);

/**
 * tconv_kernel_analysis:
 * @phase_min, @phase_max, @phase_mean: over all stride_h * stride_w phases and all channels,
 *   of the per-phase DC gains (the sum of the taps that feed one output phase).
 * @checkerboard_risk: per channel (max - min) / |mean| of that channel's phase sums, and the
 *   largest over the channels; 0 means a flat input stays flat (infinite when a channel's mean
 *   is 0 but its gains differ). Channels with different overall gains are not a checkerboard.
 * @separable: every channel's kernel is rank 1 (outer product of a column and a row) within
 *   a relative tolerance of 1e-6.
 * @symmetric_h, @symmetric_w: invariant under a vertical / horizontal flip (within 1e-6
 *   relative); @symmetric_transpose: square and invariant under transposition.
 */
typedef struct tconv_kernel_analysis
{
  double phase_min, phase_max, phase_mean;
  double checkerboard_risk;
  int    separable;
  int    symmetric_h, symmetric_w, symmetric_transpose;
} tconv_kernel_analysis;

tconv_status tconv_kernel_analyze (const tconv_kernel *kernel, tconv_kernel_analysis *analysis,
                                   tconv_error *err);

/**
 * tconv_kernel_phase_sums:
 * @sums: (out): stride_h * stride_w doubles, index ry * stride_w + rx, where phase (ry, rx)
 *        collects taps (ky, kx) with ky mod stride_h == ry and kx mod stride_w == rx.
 */
tconv_status tconv_kernel_phase_sums (const tconv_kernel *kernel,
                                      size_t              channel,
                                      double             *sums,
                                      tconv_error        *err);

/* Rescales each phase of each channel so that every phase sum equals that channel's mean
 * phase sum (checkerboard risk 0, overall gain kept). %TCONV_ERR_INVALID_ARG, with the kernel
 * untouched, when a phase or a channel's mean sums to 0 or a rescaled tap would overflow. */
tconv_status tconv_kernel_normalize_phases (tconv_kernel *kernel, tconv_error *err);

/**
 * tconv_kernel_factor:
 * @rel_tol:   >= 0: tolerance relative to each channel's largest |weight|.
 * @col:       (out): channels * k_h floats; @row: (out): channels * k_w floats.
 * @separable: (out): 1 when every channel is rank 1, with @col and @row filled so that
 *             weights[c][y][x] == col[c][y] * row[c][x] within @rel_tol; else 0 (@col and @row
 *             unspecified). An all-zero channel counts as rank 1 with zero factors.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG (a NULL pointer, a kernel that fails
 * tconv_kernel_validate()'s shape rules, a negative or NaN @rel_tol) with @separable untouched.
 */
tconv_status tconv_kernel_factor (const tconv_kernel *kernel,
                                  double              rel_tol,
                                  float              *col,
                                  float              *row,
                                  int                *separable,
                                  tconv_error        *err);

/**
 * tconv_upsample_separable:
 * @geom:  a depthwise geometry: groups == in_c == out_c, dilation 1.
 * @col, @row: per-channel 1-D kernels, in_c * k_h and in_c * k_w floats.
 * @work:  caller scratch of tconv_separable_work_len() floats.
 *
 * Two 1-D transposed convolutions, along rows then columns; equal to tconv_upsample() with the
 * outer-product kernel (to float rounding), borders and ROI included. out_c must equal in_c
 * (no channel multiplier). The work-length query reads no data pointers; @work may be NULL
 * when the length is 0. Errors return %TCONV_ERR_INVALID_ARG with nothing written.
 */
tconv_status tconv_separable_work_len (const tconv_geometry *geom,
                                       const tconv_in_view  *in,
                                       const tconv_out_view *out,
                                       size_t               *work_len,
                                       tconv_error          *err);

tconv_status tconv_upsample_separable (const tconv_geometry *geom,
                                       const float          *col,
                                       const float          *row,
                                       const float          *bias,
                                       const tconv_in_view  *in,
                                       const tconv_out_view *out,
                                       float                *work,
                                       size_t                work_len,
                                       tconv_error          *err);

/* ---------------------------------------------------------------------------------------------
 * Anti-ringing (tconv-antiring.c)
 */

/**
 * tconv_antiring:
 * @geom:     the up-sample's geometry (any kernel or bank of it).
 * @in:       the input view the up-sample read (border pixels included by the caller).
 * @out:      an output region already computed; limited in place.
 * @strength: A in [0, 1]: 0 leaves every value as it is, 1 clamps fully.
 *
 * Limits each output value towards the range of the input pixels under the kernel's centre:
 * output y sits at input coordinate u = (y + pad - (k - 1) / 2) / s per axis ((y + 0.5)/s - 0.5
 * for centre-aligned kernels), and its range is [min, max] of the 2 x 2 input pixels floor (u)
 * and floor (u) + 1 per axis, per channel (positions outside @in count as 0, as in the
 * convolution). A value above the range becomes v - A (v - max), below it v + A (min - v). This
 * is the local clamp of NoHalo/LoHalo and mpv's scale-antiring: the overshoot a sharpening
 * kernel puts next to a step edge (the halo) is pulled back into the values the step has, while
 * anything between two input values, detail included, is left alone. Per pixel, so bands and
 * threads do not matter.
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG (@strength outside [0, 1] or NaN, a bad view)
 * with nothing changed.
 */
tconv_status tconv_antiring (const tconv_geometry *geom,
                             const tconv_in_view  *in,
                             const tconv_out_view *out,
                             float                 strength,
                             tconv_error          *err);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_H */
