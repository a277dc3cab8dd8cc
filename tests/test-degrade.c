/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Degradations: the C resampler against (1) MATLAB's published x1/2 bicubic weights,
 * (2) fixtures made by the independent numpy port of imresize.m (tests/bench/imresize.py,
 * regenerate with tests/bench/make-degrade-fixtures.py), (3) exact properties (block means,
 * constants stay constant, symmetry), and the argument checks. */
#include "test-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double *
work_for (tconv_degradation type, size_t s, double sigma, size_t h, size_t w, size_t *len)
{
  CHECK_STATUS (tconv_degrade_work_len (type, s, sigma, h, w, len, NULL));
  return test_malloc (*len * sizeof (double));
}

static tconv_status
degrade (tconv_degradation type, size_t s, const float *src, size_t h, size_t w, float *dst)
{
  size_t         len;
  double        *work = work_for (type, s, 0.0, h, w, &len);
  tconv_plane    in = { src, h, w, (ptrdiff_t) w, 1 };
  tconv_plane_out out = { dst, h / s, w / s, (ptrdiff_t) (w / s), 1 };
  tconv_status   st = tconv_degrade (type, s, 0.0, &in, &out, work, len, NULL);
  free (work);
  return st;
}

/* MATLAB: imresize ([zeros(1,15) 1 zeros(1,16)], 0.5) has the taps of the x1/2 bicubic
 * kernel, cubic (d / 2) / 2 at d = +-0.5 .. +-3.5, summing to 1 exactly. */
static void
bicubic_half_weights (void)
{
  static const double want[8] = { -0.01171875, -0.03515625, 0.11328125, 0.43359375,
                                  0.43359375,  0.11328125,  -0.03515625, -0.01171875 };
  float  src[4 * 32] = { 0 };
  float  dst[2 * 16];
  int    ok = 1;

  /* A one-pixel vertical line at column c: output column x gets weight w[c - (2x - 3)]. */
  for (int c = 12; c <= 13; c++)
    {
      memset (src, 0, sizeof src);
      for (int y = 0; y < 4; y++)
        src[y * 32 + c] = 1.0f;
      CHECK_STATUS (degrade (TCONV_DEGRADE_BICUBIC, 2, src, 4, 32, dst));
      for (int x = 0; x < 16; x++)
        {
          const int    j = c - (2 * x - 3);
          const double w = (j >= 0 && j < 8) ? want[j] : 0.0;
          for (int y = 0; y < 2; y++)
            if (fabs (dst[y * 16 + x] - w) > 1e-7)
              {
                if (ok)
                  test_diag ("line at %d: out (%d, %d) = %.9g, want %.9g", c, x, y,
                             (double) dst[y * 16 + x], w);
                ok = 0;
              }
        }
    }
  CHECK (ok, "bicubic x1/2 reproduces MATLAB's taps (-0.0117 -0.0352 0.1133 0.4336 ...)");
}

static void *
read_all (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  char *buf;
  long  n;

  if (f == NULL)
    return NULL;
  fseek (f, 0, SEEK_END);
  n = ftell (f);
  fseek (f, 0, SEEK_SET);
  buf = test_malloc ((size_t) n + 1);
  *len = fread (buf, 1, (size_t) n, f);
  fclose (f);
  return buf;
}

static float *
load_npy (const char *name, size_t *h, size_t *w)
{
  const char *root = getenv ("TCONV_SOURCE_ROOT");
  char        path[4096];
  size_t      len = 0;
  void       *bytes;
  tconv_npy   npy;
  float      *data;

  snprintf (path, sizeof path, "%s/tests/data/degrade/%s", root ? root : "..", name);
  bytes = read_all (path, &len);
  if (bytes == NULL || tconv_npy_parse (bytes, len, &npy, NULL) != TCONV_OK || npy.ndim != 2)
    {
      test_diag ("cannot load %s", path);
      free (bytes);
      return NULL;
    }
  data = test_malloc (npy.count * sizeof (float));
  tconv_npy_to_float (&npy, data, npy.count, NULL);
  *h = npy.shape[0];
  *w = npy.shape[1];
  free (bytes);
  return data;
}

static void
matches_numpy_reference (void)
{
  static const struct
  {
    tconv_degradation type;
    size_t            s;
    const char       *file;
  } cases[] = {
    { TCONV_DEGRADE_BICUBIC, 2, "bicubic-x2.npy" }, { TCONV_DEGRADE_BICUBIC, 3, "bicubic-x3.npy" },
    { TCONV_DEGRADE_BICUBIC, 4, "bicubic-x4.npy" }, { TCONV_DEGRADE_AREA, 2, "area-x2.npy" },
    { TCONV_DEGRADE_AREA, 3, "area-x3.npy" },       { TCONV_DEGRADE_GAUSS, 2, "gauss-x2.npy" },
    { TCONV_DEGRADE_GAUSS, 4, "gauss-x4.npy" },
  };
  size_t h, w;
  float *in = load_npy ("input.npy", &h, &w);

  CHECK (in != NULL, "fixture input.npy loads");
  if (in == NULL)
    return;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      size_t oh = 0, ow = 0, bad = 0;
      float *want = load_npy (cases[i].file, &oh, &ow);
      float *got;

      if (want == NULL || oh != h / cases[i].s || ow != w / cases[i].s)
        {
          CHECK (0, "fixture %s loads with the right shape", cases[i].file);
          free (want);
          continue;
        }
      got = test_alloc_poisoned (oh * ow);
      CHECK_STATUS (degrade (cases[i].type, cases[i].s, in, h, w, got));
      int ok = test_near_array (got, want, oh * ow, 2e-6, 0.0, &bad);
      if (!ok)
        test_diag ("%s: (%zu, %zu) = %.9g, numpy %.9g", cases[i].file, bad % ow, bad / ow,
                   (double) got[bad], (double) want[bad]);
      CHECK (ok, "%s x%zu equals the numpy imresize port (borders included)",
             tconv_degradation_name (cases[i].type), cases[i].s);
      free (want);
      free (got);
    }
  free (in);
}

static void
area_is_block_mean_and_strided_planes (void)
{
  test_rng rng;
  enum { H = 12, W = 18, C = 3 };
  float    rgb[H * W * C], out[(H / 3) * (W / 3) * C], plane[H * W], ref[(H / 3) * (W / 3)];
  size_t   len;
  int      ok = 1, same = 1;

  test_rng_init (&rng, 7);
  test_rng_fill (&rng, rgb, H * W * C);
  double *work = work_for (TCONV_DEGRADE_AREA, 3, 0.0, H, W, &len);
  for (int c = 0; c < C; c++)
    {
      tconv_plane     in = { rgb + c, H, W, W * C, C };
      tconv_plane_out o = { out + c, H / 3, W / 3, (W / 3) * C, C };
      CHECK_STATUS (tconv_degrade (TCONV_DEGRADE_AREA, 3, 0.0, &in, &o, work, len, NULL));
      for (int y = 0; y < H / 3; y++)
        for (int x = 0; x < W / 3; x++)
          {
            double m = 0.0;
            for (int j = 0; j < 3; j++)
              for (int i = 0; i < 3; i++)
                m += rgb[((3 * y + j) * W + 3 * x + i) * C + c];
            if (fabs (out[(y * (W / 3) + x) * C + c] - m / 9.0) > 1e-6)
              ok = 0;
          }
      /* the same channel as a contiguous plane gives the same numbers */
      for (int i = 0; i < H * W; i++)
        plane[i] = rgb[i * C + c];
      degrade (TCONV_DEGRADE_AREA, 3, plane, H, W, ref);
      for (int i = 0; i < (H / 3) * (W / 3); i++)
        same &= ref[i] == out[i * C + c];
    }
  free (work);
  CHECK (ok, "area x3 is the mean of each 3x3 block");
  CHECK (same, "interleaved (x_stride 3) and contiguous planes give identical results");
}

static void
constant_stays_constant_and_symmetry (void)
{
  float  src[24 * 24], dst[12 * 12], flip[24 * 24], dflip[12 * 12];
  int    ok = 1, sym = 1;
  test_rng rng;

  for (int t = 0; t < TCONV_DEGRADE_COUNT; t++)
    for (size_t s = 2; s <= 4; s++)
      {
        const size_t n = 24 / s;
        for (int i = 0; i < 24 * 24; i++)
          src[i] = 0.625f;
        degrade ((tconv_degradation) t, s, src, 24, 24, dst);
        for (size_t i = 0; i < n * n; i++)
          ok &= fabs (dst[i] - 0.625) < 1e-6;

        /* mirror the input left-right: the output is mirrored too (centred sampling and
         * symmetric borders) */
        test_rng_init (&rng, 11 + s);
        test_rng_fill (&rng, src, 24 * 24);
        for (int y = 0; y < 24; y++)
          for (int x = 0; x < 24; x++)
            flip[y * 24 + x] = src[y * 24 + 23 - x];
        degrade ((tconv_degradation) t, s, src, 24, 24, dst);
        degrade ((tconv_degradation) t, s, flip, 24, 24, dflip);
        for (size_t y = 0; y < n; y++)
          for (size_t x = 0; x < n; x++)
            sym &= fabs (dst[y * n + x] - dflip[y * n + n - 1 - x]) < 1e-6;
      }
  CHECK (ok, "every degradation keeps a constant image constant (x2, x3, x4)");
  CHECK (sym, "every degradation commutes with a left-right flip");
}

static void
rejects_bad_arguments (void)
{
  float           buf[64] = { 0 };
  double          work[4096];
  tconv_error     err = { 0 };
  tconv_plane     in = { buf, 7, 8, 8, 1 };
  tconv_plane_out out = { buf + 32, 3, 4, 4, 1 };
  tconv_degradation d;
  size_t          len;

  CHECK (tconv_degrade (TCONV_DEGRADE_BICUBIC, 2, 0.0, &in, &out, work, 4096, &err)
             == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "multiples") != NULL,
         "odd source height refused: \"%s\"", err.message);
  in.h = 8;
  CHECK (tconv_degrade (TCONV_DEGRADE_BICUBIC, 2, 0.0, &in, &out, work, 4096, &err)
             == TCONV_ERR_INVALID_ARG,
         "wrong destination size refused: \"%s\"", err.message);
  out.h = 4;
  CHECK (tconv_degrade (TCONV_DEGRADE_BICUBIC, 2, 0.0, &in, &out, work, 3, &err)
             == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "scratch") != NULL,
         "short scratch refused: \"%s\"", err.message);
  CHECK (tconv_degrade_work_len (TCONV_DEGRADE_GAUSS, 2, -1.0, 8, 8, &len, &err)
             == TCONV_ERR_INVALID_ARG && strstr (err.message, "-1") != NULL,
         "negative sigma refused: \"%s\"", err.message);
  CHECK (tconv_degrade_work_len (TCONV_DEGRADE_AREA, 0, 0.0, 8, 8, &len, &err)
             == TCONV_ERR_INVALID_ARG && strstr (err.message, "factor 0") != NULL,
         "factor 0 refused: \"%s\"", err.message);
  CHECK (tconv_degrade (TCONV_DEGRADE_AREA, 2, 0.0, NULL, &out, work, 4096, NULL)
           == TCONV_ERR_INVALID_ARG, "NULL source refused");
  CHECK (tconv_degradation_from_name ("area", &d, NULL) == TCONV_OK && d == TCONV_DEGRADE_AREA
           && tconv_degradation_from_name ("lanczos", &d, NULL) == TCONV_ERR_INVALID_ARG
           && strcmp (tconv_degradation_name (TCONV_DEGRADE_GAUSS), "gauss") == 0
           && tconv_degradation_name (TCONV_DEGRADE_COUNT) == NULL,
         "degradation names round-trip");
}

int
main (void)
{
  test_begin ("test-degrade");
  bicubic_half_weights ();
  matches_numpy_reference ();
  area_is_block_mean_and_strided_planes ();
  constant_stays_constant_and_symmetry ();
  rejects_bad_arguments ();
  return test_end ();
}
