/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv: transposed convolution (PyTorch ConvTranspose2d semantics) in plain C11.
 *
 * This is the only public header of the core library. The core knows nothing of GLib, GEGL or
 * GIMP: plain structs, caller-owned buffers, a status enum, no globals, no threads, no I/O.
 * Parsers take a pointer and a length, never a path.
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
/* Largest explicit convolution matrix (elements) tconv_matrix_build() agrees to build. */
#define TCONV_MAX_MATRIX_ELEMS (1u << 24)

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
 * The four implementations. They agree to about 1e-6 relative error (float accumulation).
 */

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
 * tconv_upsample:
 *
 * The fast path: phase-decomposed gather. Output (y, x) only sees the taps whose row index
 * ky satisfies (y + pad_h - ky * dil_h) mod stride_h == 0 (same for columns), so each output
 * phase is a small stride-1 correlation of the input with one sub-kernel: no multiplication
 * by inserted zeros, every output element written exactly once, nothing allocated, no state.
 * Safe to call from several threads on disjoint output regions.
 *
 * Same arguments as tconv_upsample_ref() without the scratch.
 */
tconv_status tconv_upsample (const tconv_geometry *geom,
                             const float          *weight,
                             const float          *bias,
                             const tconv_in_view  *in,
                             const tconv_out_view *out);

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
tconv_status tconv_u8_expand (const tconv_u8_plan *plan, const uint8_t *src, float *dst);

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

/* ---------------------------------------------------------------------------------------------
 * Instruction-set paths. On x86-64 with AVX2 and FMA the core runs hand-written AVX2 kernels
 * and compiler-built x86-64-v3 copies of its portable loops. The environment variable
 * TCONV_DISABLE, a comma-separated list read once per process, turns them off:
 *   avx2    the hand-written AVX2 kernels (float depthwise path)
 *   clones  the x86-64-v3 copies (depthwise specialisations, the 8-bit path)
 * `TCONV_DISABLE=avx2,clones` runs the portable code that other CPUs (ARM, ...) run.
 * Results may differ in the last bit between paths (fused multiply-adds), never more.
 */
#define TCONV_CPU_AVX2   1u
#define TCONV_CPU_CLONES 2u

/* The paths in use: what the CPU and the build offer, minus TCONV_DISABLE. Thread-safe. */
unsigned tconv_cpu_paths (void);

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

/* ---------------------------------------------------------------------------------------------
 * .npy (NumPy array files), parsed from memory. Versions 1.0, 2.0 and 3.0.
 */

#define TCONV_NPY_MAX_HEADER 10000u /* NumPy's own default max_header_size */
#define TCONV_NPY_MAX_NDIM   8u

typedef enum tconv_npy_dtype
{
  TCONV_NPY_F32_LE,
  TCONV_NPY_F32_BE,
  TCONV_NPY_F64_LE,
  TCONV_NPY_F64_BE
} tconv_npy_dtype;

/**
 * tconv_npy:
 * @dtype:  element type of the payload.
 * @ndim:   0..TCONV_NPY_MAX_NDIM (0 means a scalar, one element).
 * @shape:  the first @ndim entries are the dimensions, each < 2^63; the rest are 0.
 * @count:  product of the dimensions (1 for a scalar, 0 when a dimension is 0);
 *          @count * itemsize fits in size_t.
 * @data:   the payload inside the parsed bytes: @count * itemsize bytes, not aligned, not
 *          owned (valid as long as the parsed buffer is).
 */
typedef struct tconv_npy
{
  tconv_npy_dtype dtype;
  unsigned        ndim;
  size_t          shape[TCONV_NPY_MAX_NDIM];
  size_t          count;
  const void     *data;
} tconv_npy;

/**
 * tconv_npy_parse:
 * @bytes: (nullable): a whole .npy file in memory; NULL only when @len is 0. Not modified,
 *         no alignment needed; nothing outside [@bytes, @bytes + @len) is ever read.
 * @len:   its length in bytes.
 * @npy:   (out): filled on success (@npy->data points into @bytes), untouched on failure.
 * @err:   (nullable): on failure, line 1 and column = 1-based byte offset in the file where
 *         the problem is, and a message naming the bad value.
 *
 * Strict, for hostile input; no I/O, no allocation:
 * - magic \x93NUMPY, version 1.0 (uint16 LE header length at byte 8) or 2.0/3.0 (uint32 LE);
 *   the declared header length is checked against TCONV_NPY_MAX_HEADER and @len before any
 *   header byte is read.
 * - the header is a Python dict literal: exactly the keys 'descr', 'fortran_order' and
 *   'shape', each once, in any order and spacing, single or double quotes (no escapes, no
 *   prefixes), optional trailing comma; after the '}' only blanks and newlines, and the last
 *   header byte is '\n'. Any alignment of the data (64 bytes, or the 16 of old NumPy) is fine.
 * - descr one of '<f4' '>f4' '<f8' '>f8' (the '=' / '|' spellings NumPy does not write, and
 *   every other dtype, are rejected with the value quoted).
 * - fortran_order False, or True when ndim <= 1 (same layout).
 * - shape a tuple: (), (5,), (2, 3) or (2, 3,); dimensions plain decimal integers >= 0 (no
 *   sign, leading zeros, underscores or suffixes); the product with the itemsize is
 *   overflow-checked, with zero-length axes excusing nothing (as in NumPy).
 * - the payload is exactly @count * itemsize bytes: a shorter file is "truncated", a longer
 *   one has "trailing data"; both are rejected.
 *
 * Returns: %TCONV_OK; %TCONV_ERR_TOO_LARGE when the header length exceeds
 * TCONV_NPY_MAX_HEADER, ndim exceeds TCONV_NPY_MAX_NDIM, a dimension is >= 2^63 (or above
 * SIZE_MAX) or the byte size overflows size_t; %TCONV_ERR_PARSE for anything else malformed;
 * %TCONV_ERR_INVALID_ARG when @npy is NULL, or @bytes is NULL with @len > 0.
 */
tconv_status tconv_npy_parse (const void  *bytes,
                              size_t       len,
                              tconv_npy   *npy,
                              tconv_error *err);

/**
 * tconv_npy_to_float:
 * @npy:   from tconv_npy_parse(), with its bytes still alive.
 * @dst:   (out): @count native floats; must not overlap the payload. May be NULL when
 *         @count is 0.
 * @count: must equal @npy->count.
 *
 * Converts the payload (any of the four dtypes, either byte order, any alignment) to native
 * float32. float64 values are rounded to nearest (ties to even); magnitudes beyond the float
 * range become +-inf and NaN stays NaN, so callers that need finite values must check them
 * (this function checks nothing about the values, float32 payloads included).
 *
 * Returns: %TCONV_OK, or %TCONV_ERR_INVALID_ARG (NULL @npy, @count != @npy->count, NULL
 * @dst or @npy->data with @count > 0, unknown dtype) with nothing written.
 */
tconv_status tconv_npy_to_float (const tconv_npy *npy, float *dst, size_t count);

/**
 * tconv_npy_header:
 * @shape:      (nullable): @ndim dimensions, each < 2^63; NULL only when @ndim is 0.
 * @ndim:       0..TCONV_NPY_MAX_NDIM.
 * @buf:        (nullable): destination of @cap bytes; with NULL only @header_len is computed.
 * @cap:        capacity of @buf in bytes.
 * @header_len: (out): length of the header, a multiple of 64 (128 bytes for every shape
 *              accepted here, as NumPy's); the payload, count * 4 bytes of little-endian
 *              float32 in C order, follows it.
 *
 * Writes the version 1.0 header of a '<f4' C-order array exactly as NumPy (>= 1.24) writes
 * it: magic, version, uint16 LE length, then
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (C, H, W), }` (1-D shapes as `(5,)`,
 * scalars as `()`), the 21 - len(str(shape[0])) blanks NumPy reserves for growing the first
 * axis, and blanks plus a final '\n' up to a multiple of 64 bytes. Nothing is NUL-terminated.
 *
 * Returns: %TCONV_OK; %TCONV_ERR_TOO_LARGE when a dimension is >= 2^63 or count * 4 overflows
 * size_t, or when @cap is too small (with @header_len set to the size needed);
 * %TCONV_ERR_INVALID_ARG for a NULL @header_len, @ndim > TCONV_NPY_MAX_NDIM or a NULL @shape
 * with @ndim > 0.
 */
tconv_status tconv_npy_header (const size_t *shape,
                               unsigned      ndim,
                               char         *buf,
                               size_t        cap,
                               size_t       *header_len);

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
                               tconv_kernel  **kernel);

/* Releases @kernel and everything it owns; accepts NULL. */
void tconv_kernel_free (tconv_kernel *kernel);

/* Deep copy. */
tconv_status tconv_kernel_copy (const tconv_kernel *kernel, tconv_kernel **copy);

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
                                 size_t             *len);

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
tconv_status tconv_analytic_from_name (const char *name, tconv_analytic *type);

/**
 * tconv_kernel_analytic:
 * @stride_h, @stride_w: 1..16.
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

tconv_status tconv_kernel_analyze (const tconv_kernel *kernel, tconv_kernel_analysis *analysis);

/**
 * tconv_kernel_phase_sums:
 * @sums: (out): stride_h * stride_w doubles, index ry * stride_w + rx, where phase (ry, rx)
 *        collects taps (ky, kx) with ky mod stride_h == ry and kx mod stride_w == rx.
 */
tconv_status tconv_kernel_phase_sums (const tconv_kernel *kernel,
                                      size_t              channel,
                                      double             *sums);

/* Rescales each phase of each channel so that every phase sum equals that channel's mean
 * phase sum (checkerboard risk 0, overall gain kept). %TCONV_ERR_INVALID_ARG, with the kernel
 * untouched, when a phase or a channel's mean sums to 0 or a rescaled tap would overflow. */
tconv_status tconv_kernel_normalize_phases (tconv_kernel *kernel, tconv_error *err);

/**
 * tconv_kernel_factor:
 * @col: (out): channels * k_h floats; @row: (out): channels * k_w floats.
 * Returns 1 and fills @col and @row with weights[c][y][x] == col[c][y] * row[c][x] (within
 * @rel_tol of that channel's largest |weight|) when every channel is rank 1, else 0 (outputs
 * unspecified). An all-zero channel counts as rank 1 with zero factors.
 */
int tconv_kernel_factor (const tconv_kernel *kernel, double rel_tol, float *col, float *row);

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
                                       size_t               *work_len);

tconv_status tconv_upsample_separable (const tconv_geometry *geom,
                                       const float          *col,
                                       const float          *row,
                                       const float          *bias,
                                       const tconv_in_view  *in,
                                       const tconv_out_view *out,
                                       float                *work,
                                       size_t                work_len);

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
tconv_status tconv_degradation_from_name (const char *name, tconv_degradation *type);

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

#endif /* TCONV_H */
