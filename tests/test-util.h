/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared test utilities: a TAP printer, CHECK macros that report coordinates, a seeded
 * xorshift PRNG (seed from TCONV_TEST_SEED), NaN-poisoned allocations. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include "tconv.h"
#include "tconv-lsq.h"
#include "tconv-npy.h"
#include "tconv-oracle.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct test_rng
{
  uint64_t state;
  uint64_t seed;
} test_rng;

/* Seed from $TCONV_TEST_SEED if set, else @default_seed. */
void     test_rng_init (test_rng *rng, uint64_t default_seed);
uint64_t test_rng_next (test_rng *rng);
/* Uniform integer in [lo, hi]. */
int64_t  test_rng_range (test_rng *rng, int64_t lo, int64_t hi);
/* Uniform double in [-1, 1). */
double   test_rng_signed (test_rng *rng);
void     test_rng_fill (test_rng *rng, float *dst, size_t n);

/* malloc that aborts on failure; the poisoned variant fills floats with NaN so that any
 * element a function forgot to write makes a comparison fail. */
void  *test_malloc (size_t bytes);
float *test_alloc_poisoned (size_t n);

/* TAP. Each test program calls test_begin() first and returns test_end(). A check failure
 * prints "not ok" with the message; diagnostics go to stdout as "# ..." lines. */
void test_begin (const char *program);
int  test_end (void);
void test_ok (int cond, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 2, 3)))
#endif
  ;
void test_diag (const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 1, 2)))
#endif
  ;
int test_failures (void);

/* Compares two float arrays: |a - b| <= abs_tol + rel_tol * max|b|. On failure reports the
 * first bad index and its values. Returns 1 when equal. */
int test_near_array (const float *got, const float *want, size_t n, double abs_tol,
                     double rel_tol, size_t *bad_index);

#define CHECK(cond, ...) test_ok (!!(cond), __VA_ARGS__)

#define CHECK_STATUS(expr)                                                                  \
  do                                                                                        \
    {                                                                                       \
      tconv_status check_status_ = (expr);                                                  \
      test_ok (check_status_ == TCONV_OK, "%s -> %s (%s:%d)", #expr,                       \
               tconv_status_string (check_status_), __FILE__, __LINE__);                   \
    }                                                                                       \
  while (0)

#endif /* TEST_UTIL_H */

/* A random legal transposed-convolution case with its tensors, for sweeps.
 * Bounds: strides 1..@max_stride per axis (independently), kernels 1..@max_k (non-square),
 * dilation 1..3, padding up to beyond d(k-1), any legal output_padding, groups dividing C_in
 * (incl. depthwise with a channel multiplier), small spatial sizes. */
typedef struct test_case
{
  tconv_params   params;
  tconv_geometry geom;
  float         *x;      /* in_len */
  float         *w;      /* weight_len */
  float         *bias;   /* out_c, or NULL */
} test_case;

void test_case_random (test_rng *rng, test_case *tc, int max_stride, int max_k, int max_side);
void test_case_clear (test_case *tc);
/* "s=2,3 k=4x5 p=1,0 o=1,0 d=1,2 g=2 cin=4 cout=6 in=5x7" */
const char *test_case_describe (const test_case *tc);
