/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Satellite of tconv.h: .npy (NumPy array files) parsed and written from memory, for `tconv
 * apply` and for exchanging kernels and tensors with PyTorch. */
#ifndef TCONV_NPY_H
#define TCONV_NPY_H

#include "tconv.h"

#ifdef __cplusplus
extern "C" {
#endif

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
tconv_status tconv_npy_to_float (const tconv_npy *npy,
                                 float            *dst,
                                 size_t            count,
                                 tconv_error      *err);

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
                               size_t       *header_len,
                               tconv_error  *err);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_NPY_H */
