/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Float samples to 8-bit levels, the rounding GIMP's babl uses: clamped to 0 (NaN gives 0),
 * then to 1, times 255, plus 0.5, truncated. Built without fused multiply-adds (an exact
 * source), so that x 255 is rounded before 0.5 is added on every path, as babl does; every
 * path computes each sample by the same operations, so a level never depends on where a run
 * of samples starts or ends, nor on the path. */
#include "tconv-private.h"

#include <string.h>

typedef float   narrow_f4 __attribute__ ((vector_size (4 * sizeof (float))));
typedef int32_t narrow_i4 __attribute__ ((vector_size (4 * sizeof (int32_t))));

/* One sample. */
static inline uint8_t
narrow_one (float x)
{
  x = x > 0.0f ? x : 0.0f;
  x = x < 1.0f ? x : 1.0f;
  return (uint8_t) (uint32_t) (x * 255.0f + 0.5f);
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Sixteen samples in four SSE vectors. Each vector is transposed first, so that the four
 * levels of lane j, shifted into one 32-bit lane, are samples 4 j .. 4 j + 3 in memory
 * order. */
static inline __attribute__ ((always_inline)) void
narrow16_sse (const float *in, uint8_t *out)
{
  const narrow_f4 zero = { 0.0f, 0.0f, 0.0f, 0.0f }, one = zero + 1.0f;
  narrow_f4       r[4], t[4];
  narrow_i4       word = { 0, 0, 0, 0 };

  memcpy (r, in, sizeof r);
  t[0] = __builtin_shufflevector (r[0], r[1], 0, 4, 1, 5);
  t[1] = __builtin_shufflevector (r[2], r[3], 0, 4, 1, 5);
  t[2] = __builtin_shufflevector (r[0], r[1], 2, 6, 3, 7);
  t[3] = __builtin_shufflevector (r[2], r[3], 2, 6, 3, 7);
  r[0] = __builtin_shufflevector (t[0], t[1], 0, 1, 4, 5); /* samples 0, 4, 8, 12 */
  r[1] = __builtin_shufflevector (t[0], t[1], 2, 3, 6, 7);
  r[2] = __builtin_shufflevector (t[2], t[3], 0, 1, 4, 5);
  r[3] = __builtin_shufflevector (t[2], t[3], 2, 3, 6, 7);
  for (int k = 0; k < 4; k++)
    {
      narrow_f4       x = r[k];
      const narrow_i4 in_range = x > zero; /* false for NaN */
      narrow_i4       below;
      x = (narrow_f4) (in_range & (narrow_i4) x);
      below = x < one;
      x = (narrow_f4) ((below & (narrow_i4) x) | (~below & (narrow_i4) one));
      word |= __builtin_convertvector (x * 255.0f + 0.5f, narrow_i4) << (8 * k);
    }
  memcpy (out, &word, sizeof word);
}
#endif

static void
narrow_portable (const float *src, uint8_t *dst, size_t n)
{
  size_t i = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; i + 16 <= n; i += 16)
    narrow16_sse (src + i, dst + i);
#endif
  for (; i < n; i++)
    dst[i] = narrow_one (src[i]);
}

#ifdef TCONV_HAVE_CLONES
TCONV_TARGET_V3 static void
narrow_v3 (const float *src, uint8_t *dst, size_t n)
{
  size_t i = 0;

  for (; i + 16 <= n; i += 16)
    narrow16_sse (src + i, dst + i);
  for (; i < n; i++)
    dst[i] = narrow_one (src[i]);
}

typedef float   narrow_f16 __attribute__ ((vector_size (16 * sizeof (float))));
typedef int32_t narrow_i16 __attribute__ ((vector_size (16 * sizeof (int32_t))));
typedef uint8_t narrow_u16 __attribute__ ((vector_size (16)));

/* Sixteen samples at @src in one AVX-512 vector (the truncation to bytes is one instruction
 * there) to @dst. Pointers rather than vector arguments: a 64-byte vector passed by value
 * would change the ABI of a function built without AVX-512 (clang refuses it). */
TCONV_TARGET_V4 static inline __attribute__ ((always_inline)) void
narrow16_v4 (const float *src, uint8_t *dst)
{
  const narrow_f16 zero = { 0.0f }, one = zero + 1.0f;
  narrow_f16       x;
  narrow_i16       in_range, below;
  narrow_u16       levels;

  memcpy (&x, src, sizeof x);
  in_range = x > zero;
  x = (narrow_f16) (in_range & (narrow_i16) x);
  below = x < one;
  x = (narrow_f16) ((below & (narrow_i16) x) | (~below & (narrow_i16) one));
  levels = __builtin_convertvector (__builtin_convertvector (x * 255.0f + 0.5f, narrow_i16),
                                    narrow_u16);
  memcpy (dst, &levels, sizeof levels);
}

/* Whole groups of sixteen, then the tail as a group padded with zeros. */
TCONV_TARGET_V4 static void
narrow_v4 (const float *src, uint8_t *dst, size_t n)
{
  float   tail[16] = { 0.0f };
  uint8_t levels[16];
  size_t  i = 0;

  for (; i + 16 <= n; i += 16)
    narrow16_v4 (src + i, dst + i);
  if (i == n)
    return;
  memcpy (tail, src + i, (n - i) * sizeof (float));
  narrow16_v4 (tail, levels);
  memcpy (dst + i, levels, n - i);
}
#endif

void
tconv_narrow_u8 (const float *src, uint8_t *dst, size_t n)
{
#ifdef TCONV_HAVE_CLONES
  if (tconv_cpu_paths () & TCONV_CPU_V4)
    {
      narrow_v4 (src, dst, n);
      return;
    }
  if (tconv_cpu_paths () & TCONV_CPU_CLONES)
    {
      narrow_v3 (src, dst, n);
      return;
    }
#endif
  narrow_portable (src, dst, n);
}
