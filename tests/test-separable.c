/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The two-pass separable path against a direct 2-D gather written here (and against
 * tconv_upsample()) with the outer-product kernel: random sweeps over strides 1-5 per axis,
 * kernels 1-12 (non-square), channels 1-4, every legal padding and output_padding, ROIs at
 * every edge, planar and interleaved layouts, input views with negative origins and halos.
 * Outputs and scratch are NaN-poisoned so an unwritten pixel or an unwritten scratch element
 * that is read fails. */
#include "test-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  tconv_geometry g;
  float         *col, *row, *w, *bias;
} sep_case;

static void
sep_case_random (test_rng *rng, sep_case *sc)
{
  tconv_params p;

  do
    {
      tconv_params_init (&p);
      p.in_c = p.out_c = p.groups = test_rng_range (rng, 1, 4);
      p.stride_h = test_rng_range (rng, 1, 5);
      p.stride_w = test_rng_range (rng, 1, 5);
      p.k_h = test_rng_range (rng, 1, 12);
      p.k_w = test_rng_range (rng, 1, 12);
      p.pad_h = test_rng_range (rng, 0, p.k_h + 1); /* beyond k - 1 crops into real data */
      p.pad_w = test_rng_range (rng, 0, p.k_w + 1);
      p.opad_h = test_rng_range (rng, 0, p.stride_h - 1);
      p.opad_w = test_rng_range (rng, 0, p.stride_w - 1);
      p.in_h = test_rng_range (rng, 1, 9);
      p.in_w = test_rng_range (rng, 1, 9);
    }
  while (tconv_geometry_init (&sc->g, &p, NULL) != TCONV_OK);

  const tconv_geometry *g = &sc->g;
  sc->col = test_malloc (g->in_c * g->k_h * sizeof (float));
  sc->row = test_malloc (g->in_c * g->k_w * sizeof (float));
  sc->w = test_malloc (g->weight_len * sizeof (float));
  test_rng_fill (rng, sc->col, g->in_c * g->k_h);
  test_rng_fill (rng, sc->row, g->in_c * g->k_w);
  for (size_t c = 0; c < g->in_c; c++)
    for (size_t y = 0; y < g->k_h; y++)
      for (size_t x = 0; x < g->k_w; x++)
        sc->w[(c * g->k_h + y) * g->k_w + x] = sc->col[c * g->k_h + y] * sc->row[c * g->k_w + x];
  sc->bias = NULL;
  if (test_rng_range (rng, 0, 1))
    {
      sc->bias = test_malloc (g->out_c * sizeof (float));
      test_rng_fill (rng, sc->bias, g->out_c);
    }
}

static void
sep_case_clear (sep_case *sc)
{
  free (sc->col);
  free (sc->row);
  free (sc->w);
  free (sc->bias);
}

static const char *
describe (const sep_case *sc)
{
  static char           buf[200];
  const tconv_geometry *g = &sc->g;
  snprintf (buf, sizeof buf,
            "s=%zu,%zu k=%zux%zu p=%zu,%zu o=%zu,%zu c=%zu in=%zux%zu out=%zux%zu bias=%d",
            g->stride_h, g->stride_w, g->k_h, g->k_w, g->pad_h, g->pad_w, g->opad_h, g->opad_w,
            g->in_c, g->in_h, g->in_w, g->out_h, g->out_w, sc->bias != NULL);
  return buf;
}

/* The oracle: PyTorch's gather form, accumulated in double, reading the view (outside reads
 * zero). Writes the ROI planar into @ref (c, h, w). */
static void
direct_gather (const sep_case *sc, const tconv_in_view *in, const tconv_out_view *o, float *ref)
{
  const tconv_geometry *g = &sc->g;

  for (size_t c = 0; c < g->in_c; c++)
    for (size_t y = 0; y < o->h; y++)
      for (size_t x = 0; x < o->w; x++)
        {
          double acc = sc->bias ? sc->bias[c] : 0.0;
          for (size_t ky = 0; ky < g->k_h; ky++)
            for (size_t kx = 0; kx < g->k_w; kx++)
              {
                const int64_t ty = (int64_t) (o->y0 + y + g->pad_h) - (int64_t) ky;
                const int64_t tx = (int64_t) (o->x0 + x + g->pad_w) - (int64_t) kx;
                const int64_t sh = (int64_t) g->stride_h, sw = (int64_t) g->stride_w;
                if (((ty % sh) + sh) % sh != 0 || ((tx % sw) + sw) % sw != 0)
                  continue;
                /* Exact division; floor for negatives. */
                const int64_t iy = (ty - (((ty % sh) + sh) % sh)) / sh - in->y0;
                const int64_t ix = (tx - (((tx % sw) + sw) % sw)) / sw - in->x0;
                if (iy < 0 || iy >= (int64_t) in->h || ix < 0 || ix >= (int64_t) in->w)
                  continue;
                acc += (double) sc->w[(c * g->k_h + ky) * g->k_w + kx]
                       * in->data[(ptrdiff_t) c * in->c_stride + (ptrdiff_t) iy * in->y_stride
                                  + (ptrdiff_t) ix * in->x_stride];
              }
          ref[(c * o->h + y) * o->w + x] = (float) acc;
        }
}

/* Reads an output view back as planar (c, h, w). */
static void
to_planar (const tconv_out_view *o, size_t channels, float *dst)
{
  for (size_t c = 0; c < channels; c++)
    for (size_t y = 0; y < o->h; y++)
      for (size_t x = 0; x < o->w; x++)
        dst[(c * o->h + y) * o->w + x] = o->data[(ptrdiff_t) c * o->c_stride
                                                 + (ptrdiff_t) y * o->y_stride
                                                 + (ptrdiff_t) x * o->x_stride];
}

/* Runs the separable path on (@in, ROI) and compares it with the direct gather and with
 * tconv_upsample(). */
static void
check_case (const sep_case *sc, const tconv_in_view *in, size_t y0, size_t x0, size_t h,
            size_t w, int out_interleaved, const char *what)
{
  const tconv_geometry *g = &sc->g;
  const size_t          n = g->out_c * h * w;
  float                *got = test_alloc_poisoned (n), *fast = test_alloc_poisoned (n);
  float                *got_p = test_malloc (n * sizeof (float));
  float                *fast_p = test_malloc (n * sizeof (float));
  float                *ref = test_alloc_poisoned (n);
  tconv_out_view        o = { .y0 = y0, .x0 = x0, .h = h, .w = w };
  size_t                work_len = 0;

  if (out_interleaved)
    o.c_stride = 1, o.x_stride = (ptrdiff_t) g->out_c, o.y_stride = (ptrdiff_t) (w * g->out_c);
  else
    o.c_stride = (ptrdiff_t) (h * w), o.x_stride = 1, o.y_stride = (ptrdiff_t) w;

  tconv_out_view go = o, fo = o;
  go.data = got, fo.data = fast;
  tconv_status st = tconv_separable_work_len (g, in, &go, &work_len, NULL);
  /* Exactly the queried size, poisoned: ASan catches overruns, NaN catches reads of
   * unwritten scratch. */
  float *work = test_alloc_poisoned (work_len);
  if (st == TCONV_OK)
    st = tconv_upsample_separable (g, sc->col, sc->row, sc->bias, in, &go, work, work_len, NULL);
  tconv_status fst = tconv_upsample (g, sc->w, sc->bias, in, &fo, NULL);

  direct_gather (sc, in, &o, ref);
  to_planar (&go, g->out_c, got_p);
  to_planar (&fo, g->out_c, fast_p);
  CHECK (st == TCONV_OK && fst == TCONV_OK && test_near_array (got_p, ref, n, 1e-6, 1e-5, NULL)
           && test_near_array (got_p, fast_p, n, 1e-6, 1e-5, NULL),
         "%s: %s view=%lld,%lld+%zux%zu roi=%zu,%zu+%zux%zu%s work=%zu", what, describe (sc),
         (long long) in->y0, (long long) in->x0, in->h, in->w, y0, x0, h, w,
         out_interleaved ? " out-interleaved" : "", work_len);
  free (got);
  free (fast);
  free (got_p);
  free (fast_p);
  free (ref);
  free (work);
}

/* A copy of a (c, h, w) planar block as interleaved (h, w, c). */
static float *
interleave (const float *src, size_t c_n, size_t h, size_t w)
{
  float *dst = test_malloc (c_n * h * w * sizeof (float));
  for (size_t c = 0; c < c_n; c++)
    for (size_t y = 0; y < h; y++)
      for (size_t x = 0; x < w; x++)
        dst[(y * w + x) * c_n + c] = src[(c * h + y) * w + x];
  return dst;
}

static void
random_roi (test_rng *rng, const tconv_geometry *g, int iter, size_t *y0, size_t *x0, size_t *h,
            size_t *w)
{
  *y0 = (size_t) test_rng_range (rng, 0, (int64_t) g->out_h - 1);
  *x0 = (size_t) test_rng_range (rng, 0, (int64_t) g->out_w - 1);
  switch (iter % 4)
    {
    case 0: /* whole output */
      *y0 = *x0 = 0, *h = g->out_h, *w = g->out_w;
      return;
    case 1: /* touching the top-left corner */
      *y0 = *x0 = 0;
      break;
    case 2: /* touching the bottom-right corner */
      *h = g->out_h - *y0, *w = g->out_w - *x0;
      return;
    default:
      break;
    }
  *h = (size_t) test_rng_range (rng, 1, (int64_t) (g->out_h - *y0));
  *w = (size_t) test_rng_range (rng, 1, (int64_t) (g->out_w - *x0));
}

static void
separable_matches_direct_whole_input (test_rng *rng)
{
  for (int iter = 0; iter < 600; iter++)
    {
      sep_case sc;
      size_t   y0, x0, h, w;
      sep_case_random (rng, &sc);
      const tconv_geometry *g = &sc.g;
      float                *x = test_malloc (g->in_len * sizeof (float));
      test_rng_fill (rng, x, g->in_len);
      float        *xi = interleave (x, g->in_c, g->in_h, g->in_w);
      tconv_in_view in_p = tconv_in_view_planar (g, x);
      tconv_in_view in_i = { .data = xi, .h = g->in_h, .w = g->in_w, .c_stride = 1,
                             .x_stride = (ptrdiff_t) g->in_c,
                             .y_stride = (ptrdiff_t) (g->in_w * g->in_c) };

      random_roi (rng, g, iter, &y0, &x0, &h, &w);
      check_case (&sc, &in_p, y0, x0, h, w, 0, "planar");
      check_case (&sc, &in_i, y0, x0, h, w, 1, "interleaved");
      free (x);
      free (xi);
      sep_case_clear (&sc);
    }
}

static void
separable_matches_direct_halo_views (test_rng *rng)
{
  /* Views that start before the image (negative origins) and extend past it, as border modes
   * make, and views that cover only part of it. */
  for (int iter = 0; iter < 400; iter++)
    {
      sep_case sc;
      size_t   y0, x0, h, w;
      sep_case_random (rng, &sc);
      const tconv_geometry *g = &sc.g;
      const int64_t vy0 = test_rng_range (rng, -5, 3), vx0 = test_rng_range (rng, -5, 3);
      const size_t  vh = (size_t) test_rng_range (rng, 1, (int64_t) g->in_h + 8);
      const size_t  vw = (size_t) test_rng_range (rng, 1, (int64_t) g->in_w + 8);
      const size_t  n = g->in_c * vh * vw;
      float        *halo = test_malloc (n * sizeof (float));
      test_rng_fill (rng, halo, n);
      float        *halo_i = interleave (halo, g->in_c, vh, vw);
      tconv_in_view in_p = { .data = halo, .y0 = vy0, .x0 = vx0, .h = vh, .w = vw,
                             .c_stride = (ptrdiff_t) (vh * vw), .y_stride = (ptrdiff_t) vw,
                             .x_stride = 1 };
      tconv_in_view in_i = { .data = halo_i, .y0 = vy0, .x0 = vx0, .h = vh, .w = vw,
                             .c_stride = 1, .y_stride = (ptrdiff_t) (vw * g->in_c),
                             .x_stride = (ptrdiff_t) g->in_c };

      random_roi (rng, g, iter, &y0, &x0, &h, &w);
      check_case (&sc, &in_p, y0, x0, h, w, iter % 2, "halo planar");
      check_case (&sc, &in_i, y0, x0, h, w, 1 - iter % 2, "halo interleaved");
      free (halo);
      free (halo_i);
      sep_case_clear (&sc);
    }
}

/* An output row that no input reaches (kernel shorter than the stride, and output_padding
 * past the stamps) needs no scratch: work_len 0, NULL work accepted, bias written. */
static void
roi_without_input_rows (void)
{
  tconv_params   p;
  tconv_geometry g;
  float          x[4] = { 1, 2, 3, 4 }, col[2] = { 1, 1 }, row[2] = { 1, 1 }, bias[1] = { 0.5f };
  float          y[16];
  size_t         work_len = 99;

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = 1, p.in_h = p.in_w = 2, p.k_h = p.k_w = 2;
  p.stride_h = p.stride_w = 3, p.opad_h = p.opad_w = 2; /* out 7x7; rows 2, 5, 6 get bias only */
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  tconv_in_view  in = tconv_in_view_planar (&g, x);
  tconv_out_view o = { .data = y, .y0 = 6, .x0 = 0, .h = 1, .w = 7, .c_stride = 7,
                       .y_stride = 7, .x_stride = 1 };
  for (size_t i = 0; i < 16; i++)
    y[i] = NAN;
  CHECK (tconv_separable_work_len (&g, &in, &o, &work_len, NULL) == TCONV_OK && work_len == 0,
         "last output row reads no input: work_len %zu == 0", work_len);
  CHECK_STATUS (tconv_upsample_separable (&g, col, row, bias, &in, &o, NULL, 0, NULL));
  int ok = 1;
  for (size_t i = 0; i < 7; i++)
    ok = ok && y[i] == 0.5f;
  CHECK (ok && isnan (y[7]), "bias-only row written, nothing past the ROI");
}

static void
rejects_bad_arguments (void)
{
  tconv_params   p;
  tconv_geometry g;
  float          x[8] = { 0 }, col[4] = { 0 }, row[4] = { 0 }, y[2 * 16], work[64];
  size_t         work_len;

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = 2, p.in_h = p.in_w = 2, p.k_h = p.k_w = 2;
  p.stride_h = p.stride_w = 2;
  CHECK_STATUS (tconv_geometry_init (&g, &p, NULL));
  tconv_in_view  in = tconv_in_view_planar (&g, x);
  tconv_out_view o = tconv_out_view_planar (&g, y);
  for (size_t i = 0; i < 32; i++)
    y[i] = NAN;

  CHECK_STATUS (tconv_separable_work_len (&g, &in, &o, &work_len, NULL));
  CHECK (work_len == 2 * 2 * 4, "work_len: 2 channels x 2 input rows x 4 ROI columns = %zu",
         work_len);
  CHECK (tconv_upsample_separable (&g, col, row, NULL, &in, &o, work, work_len - 1, NULL)
           == TCONV_ERR_INVALID_ARG,
         "scratch one float short rejected");
  CHECK (tconv_upsample_separable (&g, col, row, NULL, &in, &o, NULL, work_len, NULL)
           == TCONV_ERR_INVALID_ARG,
         "NULL scratch rejected");
  CHECK (tconv_upsample_separable (&g, col, NULL, NULL, &in, &o, work, 64, NULL)
           == TCONV_ERR_INVALID_ARG
           && tconv_upsample_separable (&g, NULL, row, NULL, &in, &o, work, 64, NULL)
                == TCONV_ERR_INVALID_ARG,
         "NULL col or row rejected");
  tconv_out_view bad = o;
  bad.x0 = 1;
  CHECK (tconv_upsample_separable (&g, col, row, NULL, &in, &bad, work, 64, NULL)
           == TCONV_ERR_INVALID_ARG
           && tconv_separable_work_len (&g, &in, &bad, &work_len, NULL) == TCONV_ERR_INVALID_ARG,
         "ROI past the edge rejected");

  tconv_geometry dense = g;
  p.groups = 1;
  CHECK_STATUS (tconv_geometry_init (&dense, &p, NULL));
  CHECK (tconv_upsample_separable (&dense, col, row, NULL, &in, &o, work, 64, NULL)
           == TCONV_ERR_INVALID_ARG,
         "dense (groups 1) geometry rejected");
  tconv_geometry mult;
  p.groups = 2, p.out_c = 4;
  CHECK_STATUS (tconv_geometry_init (&mult, &p, NULL));
  CHECK (tconv_upsample_separable (&mult, col, row, NULL, &in, &o, work, 64, NULL)
           == TCONV_ERR_INVALID_ARG,
         "depthwise with a channel multiplier rejected");
  tconv_geometry dil;
  p.out_c = 2, p.dil_w = 2;
  CHECK_STATUS (tconv_geometry_init (&dil, &p, NULL));
  CHECK (tconv_upsample_separable (&dil, col, row, NULL, &in, &o, work, 64, NULL)
           == TCONV_ERR_INVALID_ARG,
         "dilation 2 rejected");

  int untouched = 1;
  for (size_t i = 0; i < 32; i++)
    untouched = untouched && isnan (y[i]);
  CHECK (untouched, "nothing written on any rejection");
}

int
main (void)
{
  test_rng rng;
  test_begin ("test-separable");
  test_rng_init (&rng, 20261126);
  test_diag ("seed %llu (set TCONV_TEST_SEED to replay)", (unsigned long long) rng.seed);
  separable_matches_direct_whole_input (&rng);
  separable_matches_direct_halo_views (&rng);
  roi_without_input_rows ();
  rejects_bad_arguments ();
  return test_end ();
}
