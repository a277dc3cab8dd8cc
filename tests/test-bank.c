/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernel banks (core/tconv-bank.h): the fast gather against the scatter oracle on random banks,
 * geometries, class maps, views and regions; flat stays flat for any class map; the classifier
 * against an independent double-precision implementation written here, whole against bands,
 * and on images with a known answer; the version 2 file format. */
#include "test-util.h"
#include "tconv-bank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* A random kernel of the given geometry whose every phase sums to exactly 1 in double. */
static void
random_phase_normalised (test_rng *rng, const tconv_kernel *k, float *w)
{
  const size_t s = k->stride_h;
  test_rng_fill (rng, w, k->k_h * k->k_w);
  for (size_t ry = 0; ry < s; ry++)
    for (size_t rx = 0; rx < s; rx++)
      {
        double sum = 0.0;
        size_t n = 0, last = 0;
        for (size_t y = ry; y < k->k_h; y += s)
          for (size_t x = rx; x < k->k_w; x += s)
            {
              w[y * k->k_w + x] *= 0.3f;
              sum += w[y * k->k_w + x];
              n++;
              last = y * k->k_w + x;
            }
        if (n == 0)
          continue;
        for (size_t y = ry; y < k->k_h; y += s)
          for (size_t x = rx; x < k->k_w; x += s)
            w[y * k->k_w + x] += (float) ((1.0 - sum) / (double) n);
        /* Put the rounding remainder on one tap. */
        sum = 0.0;
        for (size_t y = ry; y < k->k_h; y += s)
          for (size_t x = rx; x < k->k_w; x += s)
            sum += w[y * k->k_w + x];
        w[last] += (float) (1.0 - sum);
      }
}

static tconv_bank_classifier
some_classifier (size_t angles, size_t strengths, size_t coherences)
{
  tconv_bank_classifier c = { .angles = angles, .strengths = strengths,
                              .coherences = coherences, .sigma = 2.0 };
  for (size_t i = 0; i + 1 < strengths; i++)
    c.strength_thresholds[i] = 0.02 * (double) (i + 1) * (double) (i + 1);
  for (size_t i = 0; i + 1 < coherences; i++)
    c.coherence_thresholds[i] = (double) (i + 1) / (double) coherences;
  return c;
}

/* A bank of @s with a (2r+1)s window, or (odd) another exact s-times geometry. */
static tconv_bank *
random_bank (test_rng *rng, size_t s, int odd_geometry, size_t classes_a)
{
  tconv_kernel         *g;
  tconv_bank           *b;
  tconv_bank_classifier c = some_classifier (classes_a, 2, 2);
  size_t                r = (size_t) test_rng_range (rng, 1, 3), k = s * (2 * r + 1), pad = s * r;
  size_t                opad = 0;

  if (odd_geometry)
    {
      pad = (size_t) test_rng_range (rng, 0, 6);
      /* k >= s: every phase has a tap (validate refuses a phase without any). */
      opad = (size_t) test_rng_range (rng, 0, (int64_t) (s - 1 < 2 * pad ? s - 1 : 2 * pad));
      k = s + 2 * pad - opad;
    }
  CHECK_STATUS (tconv_kernel_new (1, k, k, &g, NULL));
  g->stride_h = g->stride_w = s;
  g->pad_h = g->pad_w = pad;
  g->opad_h = g->opad_w = opad;
  random_phase_normalised (rng, g, g->weights);
  CHECK_STATUS (tconv_bank_new (g, &c, &b, NULL));
  for (size_t i = 0; i < b->classes; i++)
    if (test_rng_range (rng, 0, 4) > 0)
      random_phase_normalised (rng, g, b->weights + i * k * k);
    else
      b->fallback[i] = 1;
  tconv_kernel_free (g);
  CHECK_STATUS (tconv_bank_validate (b, NULL));
  return b;
}

typedef struct scene
{
  tconv_geometry       geom;
  float               *in;
  tconv_in_view        view;
  uint16_t            *map;
  tconv_bank_class_map cmap;
} scene;

/* A random image with a margin of border pixels held by the view (@margin each side), planar
 * or interleaved, and a random class map over every owner. */
static void
make_scene (test_rng *rng, const tconv_bank *b, size_t C, size_t n_h, size_t n_w, size_t margin,
            int planar, float flat, scene *sc)
{
  tconv_params p;
  const size_t vh = n_h + 2 * margin, vw = n_w + 2 * margin;
  size_t       mh, mw;

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = (int64_t) C;
  p.in_h = (int64_t) n_h;
  p.in_w = (int64_t) n_w;
  p.k_h = p.k_w = (int64_t) b->global->k_h;
  p.stride_h = p.stride_w = (int64_t) b->global->stride_h;
  p.pad_h = p.pad_w = (int64_t) b->global->pad_h;
  p.opad_h = p.opad_w = (int64_t) b->global->opad_h;
  CHECK_STATUS (tconv_geometry_init (&sc->geom, &p, NULL));
  sc->in = test_malloc (C * vh * vw * sizeof (float));
  if (flat != 0.0f)
    for (size_t i = 0; i < C * vh * vw; i++)
      sc->in[i] = flat;
  else
    test_rng_fill (rng, sc->in, C * vh * vw);
  sc->view = (tconv_in_view) { sc->in, -(int64_t) margin, -(int64_t) margin, vh, vw,
                               planar ? (ptrdiff_t) (vh * vw) : 1,
                               planar ? (ptrdiff_t) vw : (ptrdiff_t) (vw * C),
                               planar ? 1 : (ptrdiff_t) C };
  mh = (sc->geom.out_h - 1) / b->global->stride_h + 1;
  mw = (sc->geom.out_w - 1) / b->global->stride_w + 1;
  sc->map = test_malloc (mh * mw * sizeof (uint16_t));
  for (size_t i = 0; i < mh * mw; i++)
    sc->map[i] = (uint16_t) test_rng_range (rng, 0, (int64_t) b->classes - 1);
  sc->cmap = (tconv_bank_class_map) { sc->map, 0, 0, mh, mw, (ptrdiff_t) mw };
}

static void
free_scene (scene *sc)
{
  free (sc->in);
  free (sc->map);
}

static tconv_out_view
out_region (float *data, size_t C, size_t y0, size_t x0, size_t h, size_t w)
{
  return (tconv_out_view) { data, y0, x0, h, w, 1, (ptrdiff_t) (w * C), (ptrdiff_t) C };
}

/* The scatter oracle, then its anti-ringing with @A, into @ov. */
static void
oracle_region (const tconv_bank *b, const scene *sc, const tconv_out_view *ov, float A)
{
  size_t  need;
  double *work;

  CHECK_STATUS (tconv_ref_work_len (&sc->geom, ov, &need));
  work = test_malloc (need * sizeof (double));
  CHECK_STATUS (tconv_bank_upsample_ref (b, &sc->geom, &sc->view, &sc->cmap, ov, work, need,
                                         NULL));
  CHECK_STATUS (tconv_antiring_ref (&sc->geom, &sc->view, ov, A, NULL));
  free (work);
}

static void
test_gather_vs_oracle (void)
{
  test_rng         rng;
  int              bad = 0, bad_region = 0, planned = 0, limited = 0;
  tconv_bank_plan *plan = NULL;
  void            *plan_mem = NULL;
  size_t           plan_bytes = 0;

  test_rng_init (&rng, 20261205);
  for (int trial = 0; trial < 240; trial++)
    {
      size_t      s = (size_t) test_rng_range (&rng, 2, 4), C = (size_t) test_rng_range (&rng, 1, 4);
      /* trials 2 and 3 of every 4: anti-ringing, inside the gather where the plan allows */
      float       A = trial % 4 >= 2 ? (float) (0.5 + 0.5 * test_rng_signed (&rng)) : 0.0f;
      tconv_bank *b = random_bank (&rng, s, trial % 3 == 2, (size_t) test_rng_range (&rng, 1, 6));
      scene       sc;
      size_t      oh, ow, y0, x0, h, w, bad_i;
      float      *whole, *fast, *ref;

      make_scene (&rng, b, C, (size_t) test_rng_range (&rng, 1, 9),
                  (size_t) test_rng_range (&rng, 1, 9), (size_t) test_rng_range (&rng, 0, 3),
                  trial % 2, 0.0f, &sc);
      oh = sc.geom.out_h;
      ow = sc.geom.out_w;
      y0 = (size_t) test_rng_range (&rng, 0, (int64_t) oh - 1);
      x0 = (size_t) test_rng_range (&rng, 0, (int64_t) ow - 1);
      h = (size_t) test_rng_range (&rng, 1, (int64_t) (oh - y0));
      w = (size_t) test_rng_range (&rng, 1, (int64_t) (ow - x0));
      whole = test_alloc_poisoned (oh * ow * C);
      fast = test_alloc_poisoned (h * w * C);
      ref = test_alloc_poisoned (h * w * C);
      tconv_out_view ov_whole = out_region (whole, C, 0, 0, oh, ow);
      tconv_out_view ov_fast = out_region (fast, C, y0, x0, h, w);
      tconv_out_view ov_ref = out_region (ref, C, y0, x0, h, w);
      /* odd trials: the vectorised plan; even: the portable loop */
      plan = NULL;
      if (trial % 2 && tconv_bank_plan_size (b, C, &plan_bytes, NULL) == TCONV_OK)
        {
          plan_mem = test_malloc (plan_bytes);
          CHECK_STATUS (tconv_bank_plan_init (b, C, plan_mem, plan_bytes, &plan, NULL));
          planned++;
        }
      CHECK_STATUS (tconv_bank_upsample (b, plan, &sc.geom, &sc.view, &sc.cmap, &ov_whole, A,
                                         NULL));
      CHECK_STATUS (tconv_bank_upsample (b, plan, &sc.geom, &sc.view, &sc.cmap, &ov_fast, A,
                                         NULL));
      oracle_region (b, &sc, &ov_ref, A);
      limited += A > 0.0f && plan != NULL;
      if (!test_near_array (fast, ref, h * w * C, 1e-5, 1e-5, &bad_i))
        {
          bad++;
          test_diag ("trial %d: s %zu C %zu k %zu pad %zu antiring %g: gather %g, oracle %g at "
                     "%zu", trial, s, C, b->global->k_h, b->global->pad_h, (double) A,
                     fast[bad_i], ref[bad_i], bad_i);
        }
      for (size_t y = 0; y < h; y++)
        if (memcmp (fast + y * w * C, whole + ((y0 + y) * ow + x0) * C, w * C * sizeof (float)))
          bad_region++;
      free (whole);
      free (fast);
      free (ref);
      free (plan_mem);
      plan_mem = NULL;
      free_scene (&sc);
      tconv_bank_free (b);
    }
  CHECK (bad == 0, "gather (then anti-ringing) = scatter oracle (then its anti-ringing) within "
         "1e-5 on 240 random banks, %d of them through the vectorised plan, %d of those with "
         "anti-ringing (%d differ)", planned, limited, bad);
  CHECK (bad_region == 0, "a region's bytes equal the same pixels of the whole (%d rows differ)",
         bad_region);
}

/* What tconv_bank_upsample_to() handed over, placed in a copy of the region, with the number
 * of times each pixel came and whether a piece lay outside the region or was too long. */
typedef struct collected
{
  float  *data;
  int    *times;
  size_t  y0, x0, h, w, C, max_piece;
  int     stray;
} collected;

static void
collect_piece (void *user, size_t y, size_t x, size_t n, float *px)
{
  collected *k = user;

  if (y < k->y0 || y >= k->y0 + k->h || x < k->x0 || n > k->w || x - k->x0 > k->w - n
      || n == 0 || n > k->max_piece)
    {
      k->stray++;
      return;
    }
  for (size_t i = 0; i < n; i++)
    {
      const size_t at = (y - k->y0) * k->w + (x - k->x0) + i;
      memcpy (k->data + at * k->C, px + i * k->C, k->C * sizeof (float));
      k->times[at]++;
    }
  px[0] = NAN; /* the floats are the callee's to change */
}

/* The gather handing its output to a sink: every pixel of the region exactly once, in pieces
 * inside it, equal to the scatter oracle (then its anti-ringing) within 1e-5 and to the
 * gather's stored output bit for bit; images several column chunks wide. */
static void
test_gather_to_sink (void)
{
  test_rng rng;
  int      bad = 0, bad_times = 0, bad_stored = 0, stray = 0, trials = 0;

  test_rng_init (&rng, 20261206);
  for (int trial = 0; trial < 48; trial++)
    {
      const size_t s = (size_t) test_rng_range (&rng, 2, 4);
      const size_t C = (size_t) test_rng_range (&rng, 1, 4);
      const float  A = trial % 2 ? (float) (0.5 + 0.5 * test_rng_signed (&rng)) : 0.0f;
      tconv_bank  *b = random_bank (&rng, s, trial % 3 == 2, (size_t) test_rng_range (&rng, 1, 6));
      size_t       plan_bytes, oh, ow, y0, x0, h, w, bad_i;
      void        *plan_mem;
      tconv_bank_plan *plan;
      scene        sc;
      float       *stored, *ref;
      collected    k;
      tconv_bank_sink sink = { collect_piece, &k };

      if (tconv_bank_plan_size (b, C, &plan_bytes, NULL) != TCONV_OK)
        {
          tconv_bank_free (b);
          continue;
        }
      plan_mem = test_malloc (plan_bytes);
      CHECK_STATUS (tconv_bank_plan_init (b, C, plan_mem, plan_bytes, &plan, NULL));
      make_scene (&rng, b, C, (size_t) test_rng_range (&rng, 1, 7),
                  (size_t) test_rng_range (&rng, 1, 200), (size_t) test_rng_range (&rng, 0, 3), 0,
                  0.0f, &sc);
      oh = sc.geom.out_h;
      ow = sc.geom.out_w;
      y0 = (size_t) test_rng_range (&rng, 0, (int64_t) oh - 1);
      x0 = (size_t) test_rng_range (&rng, 0, (int64_t) ow - 1);
      h = (size_t) test_rng_range (&rng, 1, (int64_t) (oh - y0));
      w = (size_t) test_rng_range (&rng, 1, (int64_t) (ow - x0));
      k = (collected) { test_alloc_poisoned (h * w * C), calloc (h * w, sizeof (int)), y0, x0, h,
                        w, C, 64 * s, 0 };
      stored = test_alloc_poisoned (h * w * C);
      ref = test_alloc_poisoned (h * w * C);
      tconv_out_view ov_stored = out_region (stored, C, y0, x0, h, w);
      tconv_out_view ov_ref = out_region (ref, C, y0, x0, h, w);
      CHECK_STATUS (tconv_bank_upsample_to (b, plan, &sc.geom, &sc.view, &sc.cmap, y0, x0, h, w,
                                            &sink, A, NULL));
      CHECK_STATUS (tconv_bank_upsample (b, plan, &sc.geom, &sc.view, &sc.cmap, &ov_stored, A,
                                         NULL));
      oracle_region (b, &sc, &ov_ref, A);
      for (size_t i = 0; i < h * w; i++)
        bad_times += k.times[i] != 1;
      stray += k.stray;
      bad_stored += memcmp (k.data, stored, h * w * C * sizeof (float)) != 0;
      if (!test_near_array (k.data, ref, h * w * C, 1e-5, 1e-5, &bad_i))
        {
          bad++;
          test_diag ("trial %d: s %zu C %zu antiring %g: sink %g, oracle %g at %zu", trial, s, C,
                     (double) A, k.data[bad_i], ref[bad_i], bad_i);
        }
      trials++;
      free (stored);
      free (ref);
      free (k.data);
      free (k.times);
      free (plan_mem);
      free_scene (&sc);
      tconv_bank_free (b);
    }
  CHECK (trials >= 40 && bad_times == 0 && stray == 0,
         "a sink receives every pixel of the region once, in pieces inside it of at most 64 s "
         "pixels (%d trials; %d pixels not once, %d pieces astray)", trials, bad_times, stray);
  CHECK (bad == 0 && bad_stored == 0,
         "what a sink receives = scatter oracle (then anti-ringing) within 1e-5, and = the "
         "stored gather bit for bit (%d and %d trials differ)", bad, bad_stored);
}

/* tconv_bank_upsample_to() refuses a missing plan or sink and a region outside the output,
 * naming them, and hands nothing over. */
static void
test_sink_errors (void)
{
  test_rng         rng;
  tconv_bank      *b;
  tconv_bank_plan *plan;
  void            *mem;
  size_t           bytes;
  scene            sc;
  collected        k = { 0 };
  tconv_bank_sink  sink = { collect_piece, &k }, no_fn = { NULL, &k };
  tconv_error      err = { 0 };

  test_rng_init (&rng, 5);
  b = random_bank (&rng, 2, 0, 2);
  CHECK_STATUS (tconv_bank_plan_size (b, 3, &bytes, NULL));
  mem = test_malloc (bytes);
  CHECK_STATUS (tconv_bank_plan_init (b, 3, mem, bytes, &plan, NULL));
  make_scene (&rng, b, 3, 4, 5, 1, 0, 0.0f, &sc);
  CHECK (tconv_bank_upsample_to (b, NULL, &sc.geom, &sc.view, &sc.cmap, 0, 0, 2, 2, &sink, 0.0f,
                                 &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "the plan or the sink is NULL"),
         "no plan refused: %s", err.message);
  CHECK (tconv_bank_upsample_to (b, plan, &sc.geom, &sc.view, &sc.cmap, 0, 0, 2, 2, &no_fn, 0.0f,
                                 NULL) == TCONV_ERR_INVALID_ARG,
         "a sink without a function refused");
  CHECK (tconv_bank_upsample_to (b, plan, &sc.geom, &sc.view, &sc.cmap, 7, 0, 2, 2, &sink, 0.0f,
                                 &err) == TCONV_ERR_INVALID_ARG
           && strstr (err.message, "output region (7, 0) + 2x2"),
         "a region past the 8x10 output refused: %s", err.message);
  CHECK (tconv_bank_upsample_to (b, plan, &sc.geom, &sc.view, &sc.cmap, 0, 0, 2, 2, &sink, 2.0f,
                                 NULL) == TCONV_ERR_INVALID_ARG, "anti-ringing 2 refused");
  CHECK (k.stray == 0 && k.data == NULL, "nothing handed over on refusal");
  free (mem);
  free_scene (&sc);
  tconv_bank_free (b);
}

static void
test_flat (void)
{
  test_rng rng;
  double   worst = 0.0;

  test_rng_init (&rng, 7);
  for (int trial = 0; trial < 60; trial++)
    {
      size_t      s = (size_t) test_rng_range (&rng, 2, 4), C = (size_t) test_rng_range (&rng, 1, 4);
      tconv_bank *b = random_bank (&rng, s, trial % 2, 6);
      size_t      margin = b->global->k_h / s + 2;
      float       v = (float) (0.1 + 0.8 * (test_rng_signed (&rng) + 1.0) / 2.0);
      scene       sc;
      float      *out;

      make_scene (&rng, b, C, 6, 7, margin, 0, v, &sc);
      out = test_alloc_poisoned (sc.geom.out_h * sc.geom.out_w * C);
      tconv_out_view ov = out_region (out, C, 0, 0, sc.geom.out_h, sc.geom.out_w);
      if (trial == 0)
        {
          tconv_error err = { 0 };
          CHECK (tconv_bank_upsample (b, NULL, &sc.geom, &sc.view, &sc.cmap, &ov, 1.5f, &err)
                     == TCONV_ERR_INVALID_ARG
                   && strstr (err.message, "anti-ringing strength 1.5: must be from 0 to 1"),
                 "anti-ringing 1.5 refused: %s", err.message);
          CHECK (tconv_bank_upsample (b, NULL, &sc.geom, &sc.view, &sc.cmap, &ov, NAN, NULL)
                   == TCONV_ERR_INVALID_ARG, "anti-ringing NaN refused");
          CHECK (isnan (out[0]) && isnan (out[sc.geom.out_h * sc.geom.out_w * C - 1]),
                 "a refused anti-ringing strength writes no output");
        }
      CHECK_STATUS (tconv_bank_upsample (b, NULL, &sc.geom, &sc.view, &sc.cmap, &ov, 0.0f, NULL));
      for (size_t i = 0; i < sc.geom.out_h * sc.geom.out_w * C; i++)
        {
          double e = fabs ((double) out[i] - v) / v;
          if (!(e <= worst))
            worst = e;
        }
      free (out);
      free_scene (&sc);
      tconv_bank_free (b);
    }
  CHECK (worst <= 1e-6, "a flat image stays flat for random class maps (worst relative %g)",
         worst);
}

/* ---- The classifier, written again from the header's recipe, in double. ---- */

typedef struct feat
{
  double angle, strength, coherence;
} feat;

static feat
ref_feature (const float *L, size_t w, size_t y, size_t x, double sigma)
{
  const int r = (int) ceil (2.0 * sigma);
  double    a = 0, b = 0, c = 0, norm = 0, l1, l2, s1, s2, ex, ey, th;
  feat      f;

  for (int dy = -r; dy <= r; dy++)
    for (int dx = -r; dx <= r; dx++)
      {
        size_t yy = y + (size_t) dy, xx = x + (size_t) dx;
        double gx = ((double) L[yy * w + xx + 1] - L[yy * w + xx - 1]) / 2.0;
        double gy = ((double) L[(yy + 1) * w + xx] - L[(yy - 1) * w + xx]) / 2.0;
        double g = exp (-(double) (dx * dx) / (2 * sigma * sigma))
                   * exp (-(double) (dy * dy) / (2 * sigma * sigma));
        a += g * gx * gx;
        b += g * gx * gy;
        c += g * gy * gy;
        norm += g;
      }
  a /= norm;
  b /= norm;
  c /= norm;
  l1 = (a + c) / 2 + sqrt ((a + c) * (a + c) / 4 - (a * c - b * b) > 0
                             ? (a + c) * (a + c) / 4 - (a * c - b * b) : 0);
  l2 = a + c - l1;
  /* Dominant eigenvector (b, l1 - a) or (l1 - c, b), whichever is longer. */
  if (fabs (b) + fabs (l1 - a) >= fabs (l1 - c) + fabs (b))
    ex = b, ey = l1 - a;
  else
    ex = l1 - c, ey = b;
  th = (ex == 0 && ey == 0) ? 0.0 : atan2 (ey, ex);
  while (th < 0)
    th += PI;
  while (th >= PI)
    th -= PI;
  s1 = sqrt (l1 > 0 ? l1 : 0);
  s2 = sqrt (l2 > 0 ? l2 : 0);
  f.angle = th;
  f.strength = s1;
  f.coherence = s1 + s2 > 0 ? (s1 - s2) / (s1 + s2) : 0.0;
  return f;
}

static int
near_edge (const tconv_bank_classifier *c, feat f)
{
  for (size_t i = 0; i <= c->angles; i++)
    if (fabs (f.angle - PI * (double) i / (double) c->angles) < 1e-4)
      return 1;
  for (size_t i = 0; i + 1 < c->strengths; i++)
    if (fabs (f.strength - c->strength_thresholds[i]) < 1e-4 * (c->strength_thresholds[i] + 1e-3))
      return 1;
  for (size_t i = 0; i + 1 < c->coherences; i++)
    if (fabs (f.coherence - c->coherence_thresholds[i]) < 1e-4)
      return 1;
  return 0;
}

static size_t
ref_class (const tconv_bank_classifier *c, feat f)
{
  size_t a = (size_t) floor (f.angle / PI * (double) c->angles), s = 0, q = 0;
  if (a >= c->angles)
    a = c->angles - 1;
  while (s + 1 < c->strengths && f.strength >= c->strength_thresholds[s])
    s++;
  while (q + 1 < c->coherences && f.coherence >= c->coherence_thresholds[q])
    q++;
  return (a * c->strengths + s) * c->coherences + q;
}

/* A smooth random luma with edges: a few oriented sinusoids and steps. */
static void
random_luma (test_rng *rng, float *L, size_t h, size_t w)
{
  double fx = 0.3 * test_rng_signed (rng), fy = 0.3 * test_rng_signed (rng);
  double t = PI * test_rng_signed (rng);
  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      {
        double v = 0.5 + 0.2 * sin (fx * (double) x + fy * (double) y)
                   + ((cos (t) * (double) x + sin (t) * (double) y > (double) (w / 2)) ? 0.2 : 0.0)
                   + 0.05 * test_rng_signed (rng);
        L[y * w + x] = (float) v;
      }
}

static void
test_classifier (void)
{
  test_rng              rng;
  tconv_bank_classifier c = some_classifier (8, 3, 3);
  const size_t          h = 40, w = 47, halo = tconv_bank_halo (&c), ih = h - 2 * halo,
               iw = w - 2 * halo;
  float                *L = test_malloc (h * w * sizeof (float)), *work, *ang, *str, *coh;
  uint16_t             *cls = test_malloc (ih * iw * sizeof (uint16_t)),
           *band = test_malloc (ih * iw * sizeof (uint16_t));
  size_t                need, mism = 0, edge = 0, band_bad = 0, feat_bad = 0;

  test_rng_init (&rng, 99);
  CHECK (halo == 5, "halo of sigma 2 is 1 + ceil(4) = 5 (got %zu)", halo);
  CHECK_STATUS (tconv_bank_work_len (&c, h, w, &need, NULL));
  work = test_malloc (need * sizeof (float));
  ang = test_malloc (ih * iw * sizeof (float));
  str = test_malloc (ih * iw * sizeof (float));
  coh = test_malloc (ih * iw * sizeof (float));
  for (int trial = 0; trial < 6; trial++)
    {
      random_luma (&rng, L, h, w);
      CHECK_STATUS (tconv_bank_classify (&c, L, h, w, (ptrdiff_t) w, cls, (ptrdiff_t) iw, work,
                                         need, NULL));
      CHECK_STATUS (tconv_bank_features (&c, L, h, w, (ptrdiff_t) w, ang, str, coh,
                                         (ptrdiff_t) iw, work, need, NULL));
      for (size_t y = 0; y < ih; y++)
        for (size_t x = 0; x < iw; x++)
          {
            feat f = ref_feature (L, w, y + halo, x + halo, c.sigma);
            size_t i = y * iw + x;
            if (fabs (f.strength - str[i]) > 1e-5 + 1e-4 * f.strength
                || fabs (f.coherence - coh[i]) > 1e-4
                || (f.strength > 1e-4 && f.coherence > 1e-3
                    && fmin (fabs (f.angle - ang[i]), PI - fabs (f.angle - ang[i])) > 1e-3))
              feat_bad++;
            if (cls[i] != ref_class (&c, f))
              {
                if (near_edge (&c, f))
                  edge++;
                else
                  mism++;
              }
          }
      /* Bands of 7 rows with their halo give the same classes. */
      for (size_t y0 = 0; y0 < ih; y0 += 7)
        {
          size_t bh = ih - y0 < 7 ? ih - y0 : 7;
          CHECK_STATUS (tconv_bank_classify (&c, L + y0 * w, bh + 2 * halo, w, (ptrdiff_t) w,
                                             band + y0 * iw, (ptrdiff_t) iw, work, need, NULL));
        }
      band_bad += memcmp (band, cls, ih * iw * sizeof (uint16_t)) != 0;
    }
  CHECK (feat_bad == 0, "features = an independent 2-D double implementation (%zu differ)",
         feat_bad);
  CHECK (mism == 0, "classes = the independent implementation (%zu differ away from bin edges, "
         "%zu at edges)", mism, edge);
  CHECK (band_bad == 0, "classes of 7-row bands with their halo = classes of the whole");
  free (L);
  free (cls);
  free (band);
  free (work);
  free (ang);
  free (str);
  free (coh);
}

/* The class the documented rule gives to the features tconv_bank_features() reports. */
static size_t
class_of_features (const tconv_bank_classifier *c, float angle, float strength, float coherence)
{
  size_t a = (size_t) floor ((double) angle / PI * (double) c->angles), s = 0, q = 0;
  if (a >= c->angles)
    a = c->angles - 1;
  while (s + 1 < c->strengths && (double) strength >= c->strength_thresholds[s])
    s++;
  while (q + 1 < c->coherences && (double) coherence >= c->coherence_thresholds[q])
    q++;
  return (a * c->strengths + s) * c->coherences + q;
}

/* Luma kind @kind for the classes-versus-features check: 0 random; 1 ramps whose tensor angle
 * lies on a bin boundary (the angle bin must come from the exact arctangent); 2 flat patches
 * and axis-aligned steps (zero tensors, b = 0); 3 huge and tiny values with a NaN and an
 * infinity. */
static void
boundary_luma (test_rng *rng, int kind, const tconv_bank_classifier *c, float *L, size_t h,
               size_t w)
{
  const double t = PI * (double) test_rng_range (rng, 0, (int64_t) (2 * c->angles - 1))
                   / (double) (2 * c->angles);
  const double scale = kind == 3 ? (test_rng_range (rng, 0, 1) ? 1e30 : 1e-30) : 1.0;

  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      {
        double v;
        if (kind == 0)
          v = 0.5 + 0.3 * test_rng_signed (rng);
        else if (kind == 1)
          v = 0.02 * (cos (t) * (double) x + sin (t) * (double) y);
        else if (kind == 2)
          v = (x / 16 + y / 12) % 3 == 0 ? 0.25 : x % 16 < 8 ? 0.5 : 0.75;
        else
          v = scale * (0.5 + 0.3 * test_rng_signed (rng));
        L[y * w + x] = (float) v;
      }
  if (kind == 3)
    {
      L[(h / 3) * w + w / 3] = NAN;
      L[(2 * h / 3) * w + 2 * w / 3] = INFINITY;
    }
}

/* tconv_bank_classify() (vectorised on the x86-64-v3 path, its angle bins from a polynomial
 * away from bin boundaries) gives exactly the class of the features tconv_bank_features()
 * computes pixel by pixel with the library's arctangent, everywhere. */
static void
test_classes_are_the_features (void)
{
  test_rng              rng;
  tconv_bank_classifier c = some_classifier (24, 3, 3);
  const size_t          h = 30, w = 91, halo = tconv_bank_halo (&c), ih = h - 2 * halo,
               iw = w - 2 * halo;
  float                *L = test_malloc (h * w * sizeof (float)), *work, *ang, *str, *coh;
  uint16_t             *cls = test_malloc (ih * iw * sizeof (uint16_t));
  size_t                need, bad = 0, on_boundary = 0;

  test_rng_init (&rng, 2026);
  CHECK_STATUS (tconv_bank_work_len (&c, h, w, &need, NULL));
  work = test_malloc (need * sizeof (float));
  ang = test_malloc (ih * iw * sizeof (float));
  str = test_malloc (ih * iw * sizeof (float));
  coh = test_malloc (ih * iw * sizeof (float));
  for (int trial = 0; trial < 400; trial++)
    {
      boundary_luma (&rng, trial % 4, &c, L, h, w);
      CHECK_STATUS (tconv_bank_classify (&c, L, h, w, (ptrdiff_t) w, cls, (ptrdiff_t) iw, work,
                                         need, NULL));
      CHECK_STATUS (tconv_bank_features (&c, L, h, w, (ptrdiff_t) w, ang, str, coh,
                                         (ptrdiff_t) iw, work, need, NULL));
      for (size_t i = 0; i < ih * iw; i++)
        {
          const double pos = (double) ang[i] / PI * (double) c.angles;
          on_boundary += pos == floor (pos);
          if (cls[i] != class_of_features (&c, ang[i], str[i], coh[i]) && bad++ < 5)
            test_diag ("trial %d pixel %zu: class %u, features (%.9g, %g, %g) give %zu", trial,
                       i, cls[i], (double) ang[i], (double) str[i], (double) coh[i],
                       class_of_features (&c, ang[i], str[i], coh[i]));
        }
    }
  CHECK (bad == 0 && on_boundary > 10000,
         "classes = the rule applied to the exact features on 400 images, %zu pixels on an "
         "angle bin boundary (%zu differ)", on_boundary, bad);
  free (L);
  free (cls);
  free (work);
  free (ang);
  free (str);
  free (coh);
}

/* Strength and coherence thresholds placed on features of the image itself, or one float
 * above them: the classes (vectorised on the x86-64-v3 path: strength from a bound on the
 * eigenvalue, coherence from a ratio test with a margin) still follow the rule exactly at
 * the boundaries. A strength bound off by 1e-9 of itself fails this; one off by a single
 * double would need a pixel whose eigenvalue is that double, which no image here has. */
static void
test_classes_at_thresholds (void)
{
  test_rng              rng;
  tconv_bank_classifier c = some_classifier (8, 4, 4);
  const size_t          h = 40, w = 64, halo = tconv_bank_halo (&c), ih = h - 2 * halo,
               iw = w - 2 * halo, n = ih * iw;
  float                *L = test_malloc (h * w * sizeof (float)), *work, *ang, *str, *coh;
  uint16_t             *cls = test_malloc (n * sizeof (uint16_t));
  size_t                need, bad = 0, on_strength = 0, on_coherence = 0;

  test_rng_init (&rng, 77);
  CHECK_STATUS (tconv_bank_work_len (&c, h, w, &need, NULL));
  work = test_malloc (need * sizeof (float));
  ang = test_malloc (n * sizeof (float));
  str = test_malloc (n * sizeof (float));
  coh = test_malloc (n * sizeof (float));
  for (int trial = 0; trial < 200; trial++)
    {
      float  ts[3], tc[3];
      size_t i;
      boundary_luma (&rng, 0, &c, L, h, w);
      c = some_classifier (8, 4, 4);
      CHECK_STATUS (tconv_bank_features (&c, L, h, w, (ptrdiff_t) w, ang, str, coh,
                                         (ptrdiff_t) iw, work, need, NULL));
      /* three distinct values of each feature, sorted, some moved one float up */
      for (int k = 0; k < 3; k++)
        {
          float *t[2] = { ts, tc }, *f[2] = { str, coh };
          for (int m = 0; m < 2; m++)
            {
              int fresh, tries = 0;
              do
                {
                  float v = f[m][test_rng_range (&rng, 0, (int64_t) n - 1)];
                  if (test_rng_range (&rng, 0, 3) == 0)
                    v = nextafterf (v, INFINITY);
                  fresh = 1;
                  for (int q = 0; q < k; q++)
                    fresh &= t[m][q] != v;
                  t[m][k] = v;
                }
              while (!fresh && ++tries < 1000);
              if (!fresh)
                CHECK (0, "three distinct feature values in trial %d", trial);
              for (int q = k; q > 0 && t[m][q] < t[m][q - 1]; q--)
                {
                  float x = t[m][q];
                  t[m][q] = t[m][q - 1], t[m][q - 1] = x;
                }
            }
        }
      for (int k = 0; k < 3; k++)
        c.strength_thresholds[k] = ts[k], c.coherence_thresholds[k] = tc[k];
      CHECK_STATUS (tconv_bank_classify (&c, L, h, w, (ptrdiff_t) w, cls, (ptrdiff_t) iw, work,
                                         need, NULL));
      for (i = 0; i < n; i++)
        {
          for (int k = 0; k < 3; k++)
            on_strength += str[i] == ts[k], on_coherence += coh[i] == tc[k];
          if (cls[i] != class_of_features (&c, ang[i], str[i], coh[i]) && bad++ < 5)
            test_diag ("trial %d pixel %zu: class %u, features (%.9g, %.9g, %.9g) give %zu",
                       trial, i, cls[i], (double) ang[i], (double) str[i], (double) coh[i],
                       class_of_features (&c, ang[i], str[i], coh[i]));
        }
    }
  CHECK (bad == 0 && on_strength > 300 && on_coherence > 300,
         "classes = the rule with thresholds on the image's own features: %zu pixels on a "
         "strength threshold, %zu on a coherence threshold (%zu differ)", on_strength,
         on_coherence, bad);
  free (L);
  free (cls);
  free (work);
  free (ang);
  free (str);
  free (coh);
}

/* Nearly isotropic tensors at angle bin boundaries, where the class's angle is the most
 * sensitive to the tensor (the fast path's error bound widens its angle margin by the
 * inverse of the anisotropy there): 12 x 12 tiles, each a bowl A |d|^2 plus a ramp
 * eta u.d centred on a pixel. That pixel's tensor is 4 A^2 s I + eta^2 u u^T (s the window's
 * variance): its dominant direction is u, at a random offset of 3e-5 to 3e-2 bins from a
 * boundary, and its anisotropy eta^2 / (8 A^2 s) spans 3e-7 to 0.2. Classes must be the rule
 * applied to the exact features everywhere. */
static void
test_classes_near_isotropic (void)
{
  test_rng              rng;
  tconv_bank_classifier c = some_classifier (12, 3, 3);
  const size_t          h = 60, w = 96, halo = tconv_bank_halo (&c), ih = h - 2 * halo,
               iw = w - 2 * halo, n = ih * iw; /* whole tiles */
  float                *L = test_malloc (h * w * sizeof (float)), *work, *ang, *str, *coh;
  uint16_t             *cls = test_malloc (n * sizeof (uint16_t));
  size_t                need, bad = 0, delicate = 0;

  test_rng_init (&rng, 4242);
  CHECK_STATUS (tconv_bank_work_len (&c, h, w, &need, NULL));
  work = test_malloc (need * sizeof (float));
  ang = test_malloc (n * sizeof (float));
  str = test_malloc (n * sizeof (float));
  coh = test_malloc (n * sizeof (float));
  for (int trial = 0; trial < 150; trial++)
    {
      for (size_t ty = 0; ty < h / 12; ty++)
        for (size_t tx = 0; tx < w / 12; tx++)
          {
            const double side = test_rng_range (&rng, 0, 1) ? 1.0 : -1.0;
            const double off = side * pow (10.0, -3.0 + 1.5 * test_rng_signed (&rng));
            const double t = PI * ((double) test_rng_range (&rng, 0, 11) + off) / 12.0;
            const double eta = pow (10.0, -3.0 + 1.5 * test_rng_signed (&rng)), A = 0.01;
            for (size_t y = 12 * ty; y < 12 * ty + 12; y++)
              for (size_t x = 12 * tx; x < 12 * tx + 12; x++)
                {
                  const double dy = (double) y - (double) (12 * ty + 6);
                  const double dx = (double) x - (double) (12 * tx + 6);
                  L[y * w + x] = (float) (A * (dx * dx + dy * dy)
                                          + eta * (dx * cos (t) + dy * sin (t)));
                }
          }
      CHECK_STATUS (tconv_bank_classify (&c, L, h, w, (ptrdiff_t) w, cls, (ptrdiff_t) iw, work,
                                         need, NULL));
      CHECK_STATUS (tconv_bank_features (&c, L, h, w, (ptrdiff_t) w, ang, str, coh,
                                         (ptrdiff_t) iw, work, need, NULL));
      for (size_t i = 0; i < n; i++)
        {
          const double pos = (double) ang[i] / PI * 12.0;
          delicate += coh[i] < 1e-2f && fabs (pos - floor (pos + 0.5)) < 1e-2;
          if (cls[i] != class_of_features (&c, ang[i], str[i], coh[i]) && bad++ < 5)
            test_diag ("trial %d pixel %zu: class %u, features (%.9g, %.9g, %.9g) give %zu",
                       trial, i, cls[i], (double) ang[i], (double) str[i], (double) coh[i],
                       class_of_features (&c, ang[i], str[i], coh[i]));
        }
    }
  CHECK (bad == 0 && delicate > 1000,
         "classes = the rule applied to the exact features around isotropic tensors: %zu "
         "pixels of coherence below 0.01 within 0.01 bins of an angle boundary (%zu differ)",
         delicate, bad);
  free (L);
  free (cls);
  free (work);
  free (ang);
  free (str);
  free (coh);
}

/* Known answers: a ramp along direction t has its gradient, hence the tensor's dominant
 * direction, at angle t; coherence 1 (to float storage of the tensor: lambda2 is about 1e-8
 * of lambda1 after rounding, and its square root costs up to 1e-3 of coherence). A flat
 * image has strength 0, coherence 0. */
static void
test_known_features (void)
{
  tconv_bank_classifier c = some_classifier (8, 3, 3);
  const size_t          h = 16, w = 16, halo = tconv_bank_halo (&c);
  float                 L[16 * 16], ang[36], str[36], coh[36], work[6 * 16 * 16];
  int                   ok = 1;

  for (int i = 0; i < 12; i++)
    {
      double t = PI * i / 12.0;
      for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
          L[y * w + x] = (float) (0.01 * (cos (t) * (double) x + sin (t) * (double) y));
      CHECK_STATUS (tconv_bank_features (&c, L, h, w, 16, ang, str, coh, 6, work,
                                         sizeof work / sizeof work[0], NULL));
      if (fabs (ang[14] - t) > 1e-4 || coh[14] < 0.999 || fabs (str[14] - 0.01) > 1e-6)
        {
          ok = 0;
          test_diag ("ramp at %g: angle %g coherence %g strength %g", t, ang[14], coh[14],
                     str[14]);
        }
    }
  CHECK (ok, "ramps at 12 angles: angle, coherence 1, strength = slope");
  for (size_t i = 0; i < h * w; i++)
    L[i] = 0.5f;
  CHECK_STATUS (tconv_bank_features (&c, L, h, w, 16, ang, str, coh, 6, work,
                                     sizeof work / sizeof work[0], NULL));
  CHECK (str[0] == 0.0f && coh[0] == 0.0f && ang[0] == 0.0f, "flat: strength 0, coherence 0");
  (void) halo;
}

static char *
write_bank (const tconv_bank *b, size_t *len)
{
  char *text;
  CHECK_STATUS (tconv_bank_write (b, NULL, 0, len, NULL));
  text = test_malloc (*len + 1);
  CHECK_STATUS (tconv_bank_write (b, text, *len + 1, len, NULL));
  return text;
}

/* Replaces the first occurrence of @from after @after with @to. */
static char *
edit (const char *text, const char *after, const char *from, const char *to)
{
  const char *a = strstr (text, after), *f = a != NULL ? strstr (a, from) : NULL;
  char       *out;
  if (f == NULL)
    return NULL;
  out = test_malloc (strlen (text) + strlen (to) + 1);
  memcpy (out, text, (size_t) (f - text));
  strcpy (out + (f - text), to);
  strcat (out, f + strlen (from));
  return out;
}

static void
expect_parse_error (const char *text, unsigned line, const char *what)
{
  tconv_bank  *b = NULL;
  tconv_error  e = { 0 };
  tconv_status st = tconv_bank_parse (text, strlen (text), &b, &e);
  CHECK (st == TCONV_ERR_PARSE && b == NULL && (line == 0 || e.line == line),
         "refused: %s (%s at %u:%u: %s)", what, tconv_status_string (st), e.line, e.column,
         e.message);
}

static unsigned
line_of (const char *text, const char *needle)
{
  const char *at = strstr (text, needle);
  unsigned    n = 1;
  for (const char *p = text; at != NULL && p < at; p++)
    n += *p == '\n';
  return at != NULL ? n : 0;
}

static void
test_format (void)
{
  test_rng      rng;
  tconv_bank   *b, *back = NULL;
  tconv_kernel *k = NULL;
  size_t        len, len2, plane;
  char         *text, *text2, *bad;
  tconv_error   e;

  test_rng_init (&rng, 3);
  b = random_bank (&rng, 2, 0, 4);
  b->classifier.strength_thresholds[0] = 0.015625;
  b->samples[1] = 12345;
  text = write_bank (b, &len);
  CHECK (tconv_text_is_bank (text, len) == 1, "written bank is recognised as a bank");
  CHECK_STATUS (tconv_bank_parse (text, len, &back, NULL));
  plane = b->global->k_h * b->global->k_w;
  CHECK (back != NULL && back->classes == b->classes
           && memcmp (back->weights, b->weights, b->classes * plane * sizeof (float)) == 0
           && memcmp (back->fallback, b->fallback, b->classes) == 0
           && back->samples[1] == 12345
           && memcmp (back->global->weights, b->global->weights, plane * sizeof (float)) == 0
           && back->classifier.strength_thresholds[0] == 0.015625,
         "round trip: weights, fallback flags, counts, thresholds bit for bit");
  text2 = write_bank (back, &len2);
  CHECK (len2 == len && memcmp (text, text2, len) == 0, "write(parse(write)) = write");

  CHECK (tconv_kernel_parse (text, len, &k, &e) == TCONV_ERR_PARSE && e.line == 1,
         "a kernel reader refuses a bank: %s", e.message);
  {
    size_t klen;
    char  *ktext;
    CHECK_STATUS (tconv_kernel_write (b->global, NULL, 0, &klen, NULL));
    ktext = test_malloc (klen + 1);
    CHECK_STATUS (tconv_kernel_write (b->global, ktext, klen + 1, &klen, NULL));
    CHECK (tconv_kernel_parse (ktext, klen, &k, NULL) == TCONV_OK && k != NULL,
           "version 1 files still parse as kernels");
    CHECK (tconv_text_is_bank (ktext, klen) == 0, "a version 1 file is not a bank");
    expect_parse_error (ktext, 1, "a bank reader refuses a version 1 kernel");
    tconv_kernel_free (k);
    free (ktext);
  }

  /* A class whose first tap moved by 0.01: its phase no longer sums to 1. */
  {
    char  line[64], *row;
    snprintf (line, sizeof line, "class 2 %s", b->fallback[2] ? "fallback" : "trained");
    row = strstr (text, line);
    row = row != NULL ? strchr (row, '\n') + 1 : NULL;
    if (row != NULL)
      {
        char *end = strchr (row, ' ');
        char  num[64];
        snprintf (num, sizeof num, "%.9g", (double) strtof (row, NULL) + 0.01);
        bad = test_malloc (len + 64);
        memcpy (bad, text, (size_t) (row - text));
        strcpy (bad + (row - text), num);
        strcat (bad, end);
        expect_parse_error (bad, line_of (text, line), "a class phase that sums to 1.01");
        free (bad);
      }
  }
  {
    tconv_bank_classifier c3 = some_classifier (2, 3, 2);
    tconv_bank           *b3;
    char                 *t3, num[32];
    size_t                l3;
    CHECK_STATUS (tconv_bank_new (b->global, &c3, &b3, NULL));
    memset (b3->fallback, 1, b3->classes);
    t3 = write_bank (b3, &l3);
    snprintf (num, sizeof num, "%.9g", c3.strength_thresholds[1]);
    bad = edit (t3, "strength-thresholds", num, "0.01");
    CHECK (bad != NULL, "edited the second strength threshold");
    if (bad != NULL)
      expect_parse_error (bad, line_of (t3, "strength-thresholds"),
                          "thresholds that do not increase");
    free (bad);
    bad = edit (t3, "class 1 ", "class 1 ", "class 2 ");
    expect_parse_error (bad, line_of (t3, "class 1 "), "classes out of order");
    free (bad);
    bad = edit (t3, "bank ", "bank 2 3 2", "bank 2 3 3");
    expect_parse_error (bad, 0, "more classes declared than given");
    free (bad);
    bad = edit (t3, "tconv-kernel", "tconv-kernel 2", "tconv-kernel 3");
    expect_parse_error (bad, 1, "an unknown version");
    free (bad);
    free (t3);
    tconv_bank_free (b3);
  }
  tconv_bank_free (back);
  free (text);
  free (text2);
  tconv_bank_free (b);
}

int
main (void)
{
  test_begin ("bank");
  test_gather_vs_oracle ();
  test_gather_to_sink ();
  test_sink_errors ();
  test_flat ();
  test_classifier ();
  test_known_features ();
  test_classes_are_the_features ();
  test_classes_at_thresholds ();
  test_classes_near_isotropic ();
  test_format ();
  return test_end ();
}
