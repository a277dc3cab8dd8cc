/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared test utilities; see test-util.h. */
#include "test-util.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int         n_tests;
static int         n_failed;
static const char *program_name = "test";

void
test_rng_init (test_rng *rng, uint64_t default_seed)
{
  const char *env = getenv ("TCONV_TEST_SEED");
  uint64_t    seed = default_seed;

  if (env != NULL && *env != '\0')
    seed = strtoull (env, NULL, 0);
  rng->seed = seed;
  rng->state = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  if (rng->state == 0)
    rng->state = 1;
}

uint64_t
test_rng_next (test_rng *rng)
{
  /* xorshift64* */
  uint64_t x = rng->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng->state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

int64_t
test_rng_range (test_rng *rng, int64_t lo, int64_t hi)
{
  uint64_t span = (uint64_t) (hi - lo) + 1;
  return lo + (int64_t) (test_rng_next (rng) % span);
}

double
test_rng_signed (test_rng *rng)
{
  return (double) (test_rng_next (rng) >> 11) / 4503599627370496.0 - 1.0;
}

void
test_rng_fill (test_rng *rng, float *dst, size_t n)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = (float) test_rng_signed (rng);
}

void *
test_malloc (size_t bytes)
{
  void *p = malloc (bytes ? bytes : 1);
  if (p == NULL)
    {
      fprintf (stderr, "test_malloc: out of memory (%zu bytes)\n", bytes);
      abort ();
    }
  return p;
}

float *
test_alloc_poisoned (size_t n)
{
  float *p = test_malloc (n * sizeof (float));
  for (size_t i = 0; i < n; i++)
    p[i] = NAN;
  return p;
}

void
test_begin (const char *program)
{
  program_name = program;
  n_tests = 0;
  n_failed = 0;
  setvbuf (stdout, NULL, _IOLBF, 0);
}

int
test_end (void)
{
  printf ("1..%d\n", n_tests);
  if (n_failed != 0)
    printf ("# %s: %d of %d checks failed\n", program_name, n_failed, n_tests);
  return n_failed != 0;
}

int
test_failures (void)
{
  return n_failed;
}

void
test_ok (int cond, const char *fmt, ...)
{
  va_list ap;

  n_tests++;
  if (!cond)
    n_failed++;
  printf ("%s %d - ", cond ? "ok" : "not ok", n_tests);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
}

void
test_diag (const char *fmt, ...)
{
  va_list ap;

  fputs ("# ", stdout);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
}

int
test_near_array (const float *got, const float *want, size_t n, double abs_tol, double rel_tol,
                 size_t *bad_index)
{
  double max_ref = 0.0;

  for (size_t i = 0; i < n; i++)
    if (fabs ((double) want[i]) > max_ref)
      max_ref = fabs ((double) want[i]);

  for (size_t i = 0; i < n; i++)
    {
      double d = fabs ((double) got[i] - (double) want[i]);
      /* !(d <= tol) also catches NaN: unwritten (poisoned) elements fail. */
      if (!(d <= abs_tol + rel_tol * max_ref))
        {
          if (bad_index != NULL)
            *bad_index = i;
          test_diag ("mismatch at %zu: got %.9g want %.9g (|d| %.3g, max|ref| %.3g)", i,
                     (double) got[i], (double) want[i], d, max_ref);
          return 0;
        }
    }
  return 1;
}

void
test_case_random (test_rng *rng, test_case *tc, int max_stride, int max_k, int max_side)
{
  for (;;)
    {
      tconv_params p;
      int64_t      groups, cin_g, cout_g;

      tconv_params_init (&p);
      p.stride_h = test_rng_range (rng, 1, max_stride);
      p.stride_w = test_rng_range (rng, 1, max_stride);
      p.k_h = test_rng_range (rng, 1, max_k);
      p.k_w = test_rng_range (rng, 1, max_k);
      p.dil_h = test_rng_range (rng, 0, 3) == 0 ? test_rng_range (rng, 2, 3) : 1;
      p.dil_w = test_rng_range (rng, 0, 3) == 0 ? test_rng_range (rng, 2, 3) : 1;
      /* padding sometimes beyond d(k-1), which crops into real data */
      p.pad_h = test_rng_range (rng, 0, p.dil_h * (p.k_h - 1) + 2);
      p.pad_w = test_rng_range (rng, 0, p.dil_w * (p.k_w - 1) + 2);
      p.opad_h = test_rng_range (rng, 0, (p.stride_h > p.dil_h ? p.stride_h : p.dil_h) - 1);
      p.opad_w = test_rng_range (rng, 0, (p.stride_w > p.dil_w ? p.stride_w : p.dil_w) - 1);
      groups = test_rng_range (rng, 1, 3);
      cin_g = test_rng_range (rng, 1, 2);
      cout_g = test_rng_range (rng, 1, 3);
      if (test_rng_range (rng, 0, 3) == 0)
        cin_g = 1; /* depthwise (with a channel multiplier when cout_g > 1) */
      p.groups = groups;
      p.in_c = groups * cin_g;
      p.out_c = groups * cout_g;
      p.in_h = test_rng_range (rng, 1, max_side);
      p.in_w = test_rng_range (rng, 1, max_side);

      if (tconv_geometry_init (&tc->geom, &p, NULL) != TCONV_OK)
        continue; /* e.g. the padding cropped everything; draw again */
      tc->params = p;
      break;
    }
  tc->x = test_malloc (tc->geom.in_len * sizeof (float));
  tc->w = test_malloc (tc->geom.weight_len * sizeof (float));
  test_rng_fill (rng, tc->x, tc->geom.in_len);
  test_rng_fill (rng, tc->w, tc->geom.weight_len);
  tc->bias = NULL;
  if (test_rng_range (rng, 0, 1))
    {
      tc->bias = test_malloc (tc->geom.out_c * sizeof (float));
      test_rng_fill (rng, tc->bias, tc->geom.out_c);
    }
}

void
test_case_clear (test_case *tc)
{
  free (tc->x);
  free (tc->w);
  free (tc->bias);
  tc->x = tc->w = tc->bias = NULL;
}

const char *
test_case_describe (const test_case *tc)
{
  static char buf[256];
  const tconv_geometry *g = &tc->geom;

  snprintf (buf, sizeof buf,
            "s=%zu,%zu k=%zux%zu p=%zu,%zu o=%zu,%zu d=%zu,%zu g=%zu cin=%zu cout=%zu in=%zux%zu "
            "out=%zux%zu bias=%d",
            g->stride_h, g->stride_w, g->k_h, g->k_w, g->pad_h, g->pad_w, g->opad_h, g->opad_w,
            g->dil_h, g->dil_w, g->groups, g->in_c, g->out_c, g->in_h, g->in_w, g->out_h,
            g->out_w, tc->bias != NULL);
  return buf;
}
