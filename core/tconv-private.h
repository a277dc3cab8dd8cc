/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal helpers of the core: checked size arithmetic, error formatting, assertions.
 * Never included outside core/ and tests/. */
#ifndef TCONV_PRIVATE_H
#define TCONV_PRIVATE_H

#include "tconv.h"
#include "tconv-bank.h"
#include "tconv-lsq.h"
#include "tconv-npy.h"
#include "tconv-oracle.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TCONV_ASSERT(cond) assert (cond)

/* a * b into *r; false (and *r untouched) on overflow. */
static inline bool
tconv_mul_size (size_t a, size_t b, size_t *r)
{
  if (a != 0 && b > SIZE_MAX / a)
    return false;
  *r = a * b;
  return true;
}

static inline bool
tconv_add_size (size_t a, size_t b, size_t *r)
{
  if (b > SIZE_MAX - a)
    return false;
  *r = a + b;
  return true;
}

static inline bool
tconv_mul3_size (size_t a, size_t b, size_t c, size_t *r)
{
  size_t t;
  return tconv_mul_size (a, b, &t) && tconv_mul_size (t, c, r);
}

static inline bool
tconv_mul4_size (size_t a, size_t b, size_t c, size_t d, size_t *r)
{
  size_t t;
  return tconv_mul3_size (a, b, c, &t) && tconv_mul_size (t, d, r);
}

/* Floor division and modulo for a positive divisor. */
static inline int64_t
tconv_floor_div (int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline int64_t
tconv_floor_mod (int64_t a, int64_t b)
{
  int64_t m = a % b;
  return m < 0 ? m + b : m;
}

/* Fills @err (if not NULL) with a printf-style message and the given position; returns @status
 * so that callers can write `return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "...", ...)`. */
#if defined(__GNUC__)
__attribute__ ((format (printf, 5, 6)))
#endif
static inline tconv_status
tconv_fail (tconv_error *err, tconv_status status, unsigned line, unsigned column,
            const char *fmt, ...)
{
  if (err != NULL)
    {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (err->message, sizeof err->message, fmt, ap);
      va_end (ap);
      err->line = line;
      err->column = column;
    }
  return status;
}

/* The argument checks every compute path shares: non-NULL pointers, a geometry that came
 * from tconv_geometry_init(), an output region inside the output, a bounded input view.
 * (tconv-geometry.c) */
tconv_status tconv_check_views (const tconv_geometry *geom, const float *weight,
                                const tconv_in_view *in, const tconv_out_view *out,
                                tconv_error *err);

/* Decodes one UTF-8 sequence at @s (@n bytes available) into @cp; returns its length, or 0
 * with @why set for invalid, overlong, surrogate or truncated sequences. (tconv-kernel.c) */
size_t tconv_utf8_decode (const unsigned char *s, size_t n, uint32_t *cp, const char **why);

/* The depthwise fast path (tconv-depthwise.c): applies to groups == C_in == C_out,
 * dilation 1, interleaved channels (or one plane); tconv_upsample() dispatches to it after
 * checking the arguments. */
int  tconv_depthwise_applies (const tconv_geometry *geom, const tconv_in_view *in,
                              const tconv_out_view *out);
void tconv_depthwise_upsample (const tconv_geometry *geom, const float *weight,
                               const float *bias, const tconv_in_view *in,
                               const tconv_out_view *out);

/* The argument checks the bank's gather and its oracle share (tconv-bank-apply.c). */
tconv_status tconv_bank_check_args (const tconv_bank *bank, const tconv_geometry *geom,
                                    const tconv_in_view *in, const tconv_bank_class_map *map,
                                    const tconv_out_view *out, tconv_error *err);

/* Dense least squares, shared by the kernel and bank learners (tconv-lsq.c).
 * tconv_cholesky: in-place A = L L^T of the m x m matrix @a (lower triangle read and written);
 * returns the index of the first pivot not positive beyond 1e-12 of the largest diagonal
 * (its value in @bad_pivot, that diagonal in @scale), or m on success.
 * tconv_cholesky_solve: solves L L^T x = b in place.
 * tconv_sum_to_one: with @u = M^-1 c and @ones = M^-1 1, turns @u into the minimiser of
 * x^T M x - 2 x^T c subject to sum x = 1: x = M^-1 (c - mu 1), mu = (1.u - 1) / (1.ones),
 * where 1.ones > 0 because M is positive definite. */
size_t tconv_cholesky (double *a, size_t m, double *bad_pivot, double *scale);
void   tconv_cholesky_solve (const double *lmat, size_t m, double *b);
void   tconv_sum_to_one (double *u, const double *ones, size_t m);

/* One class of a bank: finite weights, a valid fallback flag, phases summing to 1
 * (tconv-bank.c; also used by the parser to report at the class's line). */
tconv_status tconv_bank_check_class (const tconv_bank *bank, size_t c, tconv_error *err);

/* An anti-ringing strength from 0 to 1, else the error tconv_antiring() gives (tconv-antiring.c;
 * also checked by tconv_bank_upsample(), which may limit inside its gather). */
tconv_status tconv_antiring_check_strength (float strength, tconv_error *err);

/* ---- Instruction-set paths (tconv-cpu.c) ---- */

/* Compiler-built x86-64-v3 copies of portable loops: a function marked TCONV_TARGET_V3 is
 * called only when tconv_cpu_paths () has TCONV_CPU_CLONES, which also honours
 * TCONV_DISABLE=clones (an ifunc from target_clones could not). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang_analyzer__) \
  && !defined(TCONV_NO_CLONES)
#define TCONV_HAVE_CLONES 1
#define TCONV_TARGET_V3   __attribute__ ((target ("arch=x86-64-v3")))
#define TCONV_TARGET_V4   __attribute__ ((target ("arch=x86-64-v4")))
#endif

/* Whether the CPU is an AMD part (non-temporal stores do not pay there). */
int tconv_cpu_is_amd (void);

/* ---- Depthwise internals, shared by tconv-depthwise.c and its SIMD sibling files ---- */

#define TCONV_DW_MAX_PACKED 4096 /* floats of packed weights per output row */

/* What a row kernel needs for one output row. The weights of the row's kernel rows are
 * consecutive in the tables, which hold either every kernel row, grouped by vertical phase
 * (packed once per call), or just this output row's (packed per row when the whole kernel
 * does not fit). */
typedef struct tconv_dw_plan
{
  size_t         n_rows;   /* kernel rows that meet an input row in the view */
  size_t         J;        /* input offsets per column phase */
  size_t         s, C;     /* stride along x, channels */
  const float   *w;        /* [row][j][p][c] for this output row */
  const float   *w2;       /* odd-stride RGBA: [row][j][p][c c] */
  float          bias[TCONV_MAX_STRIDE * 4]; /* [p][c] */
  float          packed[TCONV_DW_MAX_PACKED];
  struct
  {
    float packed2[2 * TCONV_DW_MAX_PACKED];
  } k;
} tconv_dw_plan;

/* A row kernel computes whole blocks m in [m0, m1) (view-local input column m gives the s * C
 * outputs of block m; it reads columns m - J + 1 .. m of every row in @irow, each @row_len
 * pixels long) into @dst and returns how many it did from m0 on, a multiple of its unit. Every
 * output value comes from the same operations in the same order wherever its block lies, so
 * callers may run the kernel on zero-padded copies at the edges. @store says how outputs far
 * larger than the caches are written (kernels may ignore it). */
typedef enum
{
  TCONV_DW_STORE_PLAIN,    /* output stays in cache, or is small */
  TCONV_DW_STORE_PREFETCH, /* plain stores, lines fetched for writing a few KiB ahead */
  TCONV_DW_STORE_STREAM    /* non-temporal stores */
} tconv_dw_store;

typedef size_t (*tconv_dw_run) (const tconv_dw_plan *rp, const void *const *irow,
                                 ptrdiff_t row_len, ptrdiff_t m0, ptrdiff_t m1, void *dst,
                                 tconv_dw_store store);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TCONV_DW_HAVE_AVX2 1
/* tconv-depthwise-avx2.c; call only when tconv_dw_have_avx2 () says so. */
int    tconv_dw_have_avx2 (void);
/* Whether non-temporal stores beat plain ones for outputs far larger than the caches. */
int    tconv_dw_stream_pays (void);
size_t tconv_dw_rgba_even_unit (size_t s);
size_t tconv_dw_rgba_even_avx2 (const tconv_dw_plan *, const void *const *, ptrdiff_t, ptrdiff_t,
                                ptrdiff_t, void *, tconv_dw_store);
size_t tconv_dw_rgba_odd_avx2 (const tconv_dw_plan *, const void *const *, ptrdiff_t, ptrdiff_t,
                               ptrdiff_t, void *, tconv_dw_store);
#endif

#endif /* TCONV_PRIVATE_H */
