/* Internal helpers of the core: checked size arithmetic, error formatting, assertions.
 * Never included outside core/ and tests/. */
#ifndef TCONV_PRIVATE_H
#define TCONV_PRIVATE_H

#include "tconv.h"

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
                                const tconv_in_view *in, const tconv_out_view *out);

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

#endif /* TCONV_PRIVATE_H */
