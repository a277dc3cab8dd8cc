/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Which instruction-set paths the core may take: what the CPU and the build offer, minus what
 * the TCONV_DISABLE environment variable turns off (pixman's PIXMAN_DISABLE, libvips's
 * VIPS_NOVECTOR). Worked out once per process and kept in an atomic, so any thread may ask. */
#include "tconv-private.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* 0 until the first call; then TCONV_CPU_KNOWN | the paths in use. Two threads making the
 * first call together both compute the same value and store it atomically. */
#define TCONV_CPU_KNOWN 0x80000000u
#define TCONV_CPU_AMD   0x40000000u

static atomic_uint cpu_state = 0;

/* Whether the comma-separated list @list names @word (exactly, case-sensitive). */
static int
list_has (const char *list, const char *word)
{
  const size_t n = strlen (word);

  for (const char *p = list; p != NULL && *p != '\0';)
    {
      const char  *end = strchr (p, ',');
      const size_t len = end != NULL ? (size_t) (end - p) : strlen (p);

      if (len == n && strncmp (p, word, n) == 0)
        return 1;
      p = end != NULL ? end + 1 : NULL;
    }
  return 0;
}

static unsigned
cpu_detect (void)
{
  unsigned    found = 0;
  const char *off = getenv ("TCONV_DISABLE");

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    found |= TCONV_CPU_AVX2 | TCONV_CPU_CLONES;
  /* x86-64-v4: what GCC and clang may use when building for it */
  if ((found & TCONV_CPU_CLONES) && __builtin_cpu_supports ("avx512f")
      && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512bw")
      && __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512cd"))
    found |= TCONV_CPU_V4;
  if (__builtin_cpu_is ("amd"))
    found |= TCONV_CPU_AMD;
#endif
#if !defined(TCONV_DW_HAVE_AVX2)
  found &= ~(unsigned) TCONV_CPU_AVX2;
#endif
#if !defined(TCONV_HAVE_CLONES)
  found &= ~(unsigned) (TCONV_CPU_CLONES | TCONV_CPU_V4);
#endif
  if (off != NULL && list_has (off, "avx2"))
    found &= ~(unsigned) TCONV_CPU_AVX2;
  if (off != NULL && list_has (off, "clones"))
    found &= ~(unsigned) (TCONV_CPU_CLONES | TCONV_CPU_V4);
  if (off != NULL && list_has (off, "avx512"))
    found &= ~(unsigned) TCONV_CPU_V4;
  return found | TCONV_CPU_KNOWN;
}

static unsigned
cpu_state_get (void)
{
  unsigned s = atomic_load_explicit (&cpu_state, memory_order_acquire);

  if (s == 0)
    {
      s = cpu_detect ();
      atomic_store_explicit (&cpu_state, s, memory_order_release);
    }
  return s;
}

unsigned
tconv_cpu_paths (void)
{
  return cpu_state_get () & (TCONV_CPU_AVX2 | TCONV_CPU_CLONES | TCONV_CPU_V4);
}

int
tconv_cpu_is_amd (void)
{
  return (cpu_state_get () & TCONV_CPU_AMD) != 0;
}

#ifdef TCONV_DW_HAVE_AVX2
/* Here rather than in tconv-depthwise-avx2.c, whose functions are all built for AVX2. */
int
tconv_dw_have_avx2 (void)
{
  return (tconv_cpu_paths () & TCONV_CPU_AVX2) != 0;
}

int
tconv_dw_stream_pays (void)
{
  /* Measured on an AMD Zen 5 (family 1Ah) host writing 1 GiB: plain 256-bit stores 25 GB/s,
   * non-temporal 19-21 GB/s (16-byte ones 15), and the x2 RGBA upsample took 18 ms with plain
   * stores against 22 with streaming ones. AMD parts do not pay the read-for-ownership that
   * streaming stores avoid, so they stream only elsewhere. */
  return !tconv_cpu_is_amd ();
}
#endif
