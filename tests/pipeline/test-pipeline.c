/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The GEGL pipeline (pipeline/tconv-pipeline*.c) against independent computations done here:
 * whole-image references built with the core's scatter oracle (tconv_upsample_ref) on an
 * input extended by the border mode, and a dense double-precision exact-size resampler.
 * Covers bands and halos (tiny memory budgets force one-row bands), every border mode,
 * constant images for every analytic kernel, premultiplied alpha, 16-bit buffers, thread
 * counts, a source whose extent does not start at (0, 0), the error paths, and regions: any
 * rectangle computed alone equals the same rectangle of the whole image, byte for byte.
 * Prints TAP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gegl.h>

#include "test-util.h"
#include "tconv-pipeline.h"

static const char *const border_names[] = { "clamp", "mirror", "wrap", "zero" };

/* ---- references ---------------------------------------------------------------------------- */

static long
map_index (TconvBorder border, long i, long n)
{
  if (i >= 0 && i < n)
    return i;
  switch (border)
    {
    case TCONV_BORDER_CLAMP:
      return i < 0 ? 0 : n - 1;
    case TCONV_BORDER_WRAP:
      return ((i % n) + n) % n;
    case TCONV_BORDER_MIRROR:
      {
        long p = 2 * (n - 1), j;
        if (n == 1)
          return 0;
        j = ((i % p) + p) % p;
        return j < n ? j : p - j;
      }
    default:
      return -1;
    }
}

/* Exact s x up-sample of an interleaved h x w x c float image, by the definition: the
 * scatter oracle on the input extended by @border far enough that every output pixel sees
 * all its taps. Returns out_h x out_w x c floats. */
static float *
reference_tconv (const tconv_kernel *k, TconvBorder border, const float *img, long h, long w,
                 long c, long *out_h, long *out_w)
{
  const long     m = 2 + (long) (k->k_h > k->k_w ? k->k_h : k->k_w);
  const long     eh = h + 2 * m, ew = w + 2 * m;
  float         *ext = test_malloc (sizeof (float) * (size_t) (c * eh * ew));
  float         *wt = test_malloc (sizeof (float) * (size_t) c * k->k_h * k->k_w);
  tconv_params   p;
  tconv_geometry g;
  tconv_error    err;
  size_t         work_len;

  /* planar, extended */
  for (long ch = 0; ch < c; ch++)
    for (long y = 0; y < eh; y++)
      for (long x = 0; x < ew; x++)
        {
          long sy = map_index (border, y - m, h), sx = map_index (border, x - m, w);
          ext[(ch * eh + y) * ew + x] = sy < 0 || sx < 0 ? 0.0f : img[(sy * w + sx) * c + ch];
        }
  for (long ch = 0; ch < c; ch++)
    memcpy (wt + ch * k->k_h * k->k_w, k->weights, sizeof (float) * k->k_h * k->k_w);

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = c;
  p.in_h = h, p.in_w = w;
  p.k_h = (int64_t) k->k_h, p.k_w = (int64_t) k->k_w;
  p.stride_h = (int64_t) k->stride_h, p.stride_w = (int64_t) k->stride_w;
  p.pad_h = (int64_t) k->pad_h, p.pad_w = (int64_t) k->pad_w;
  p.opad_h = (int64_t) k->opad_h, p.opad_w = (int64_t) k->opad_w;
  if (tconv_geometry_init (&g, &p, &err) != TCONV_OK)
    abort ();
  tconv_in_view in = { .data = ext, .y0 = -m, .x0 = -m, .h = (size_t) eh, .w = (size_t) ew,
                       .c_stride = eh * ew, .y_stride = ew, .x_stride = 1 };
  float *planar = test_malloc (sizeof (float) * g.out_len);
  tconv_out_view out = tconv_out_view_planar (&g, planar);
  tconv_ref_work_len (&g, &out, &work_len);
  double *work = test_malloc (sizeof (double) * work_len);
  if (tconv_upsample_ref (&g, wt, NULL, &in, &out, work, work_len) != TCONV_OK)
    abort ();
  float *res = test_malloc (sizeof (float) * g.out_len);
  for (size_t ch = 0; ch < g.out_c; ch++)
    for (size_t y = 0; y < g.out_h; y++)
      for (size_t x = 0; x < g.out_w; x++)
        res[(y * g.out_w + x) * g.out_c + ch] = planar[(ch * g.out_h + y) * g.out_w + x];
  *out_h = (long) g.out_h, *out_w = (long) g.out_w;
  free (ext), free (wt), free (planar), free (work);
  return res;
}

static double
keys (double t)
{
  t = fabs (t);
  return t < 1 ? (1.5 * t - 2.5) * t * t + 1 : t < 2 ? ((-0.5 * t + 2.5) * t - 4) * t + 2 : 0;
}

/* The documented exact-size step, densely in double: output x at source coordinate
 * u = (x + 0.5) * n / m - 0.5, Keys weights of (i - u) / f with f = max (1, n / m), normalised,
 * indices outside mapped by @border. */
static float *
reference_resize (const float *img, long h, long w, long c, long oh, long ow, TconvBorder border)
{
  double *tmp = test_malloc (sizeof (double) * (size_t) (h * ow * c));
  float  *res = test_malloc (sizeof (float) * (size_t) (oh * ow * c));

  for (int pass = 0; pass < 2; pass++)
    {
      const long n = pass == 0 ? w : h, mo = pass == 0 ? ow : oh;
      const double f = fmax (1.0, (double) n / (double) mo);
      for (long o = 0; o < mo; o++)
        {
          const double u = (o + 0.5) * n / mo - 0.5;
          double       wsum = 0;
          for (long i = (long) floor (u - 2 * f) - 1; i <= (long) ceil (u + 2 * f) + 1; i++)
            wsum += keys ((i - u) / f);
          for (long r = 0; r < (pass == 0 ? h : ow); r++)
            for (long ch = 0; ch < c; ch++)
              {
                double acc = 0;
                for (long i = (long) floor (u - 2 * f) - 1; i <= (long) ceil (u + 2 * f) + 1; i++)
                  {
                    const long j = map_index (border, i, n);
                    const double wt = keys ((i - u) / f) / wsum;
                    if (j < 0 || wt == 0)
                      continue;
                    acc += wt * (pass == 0 ? img[(r * w + j) * c + ch] : tmp[(j * ow + r) * c + ch]);
                  }
                if (pass == 0)
                  tmp[(r * ow + o) * c + ch] = acc;
                else
                  res[(o * ow + r) * c + ch] = (float) acc;
              }
        }
    }
  free (tmp);
  return res;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static GeglBuffer *
buffer_from (const float *px, int x0, int y0, int w, int h, const char *fmt)
{
  GeglBuffer *b = gegl_buffer_new (GEGL_RECTANGLE (x0, y0, w, h), babl_format (fmt));
  gegl_buffer_set (b, GEGL_RECTANGLE (x0, y0, w, h), 0, babl_format (fmt), px, GEGL_AUTO_ROWSTRIDE);
  return b;
}

static float *
buffer_pixels (GeglBuffer *b, const char *fmt)
{
  const GeglRectangle *e = gegl_buffer_get_extent (b);
  float *px = test_malloc ((size_t) e->width * e->height * babl_format_get_bytes_per_pixel (babl_format (fmt)));
  gegl_buffer_get (b, e, 1.0, babl_format (fmt), px, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  return px;
}

typedef struct
{
  const tconv_kernel *kernel;
  TconvBorder         border;
  int                 out_w, out_h, threads;
  guint64             budget;
  gboolean            linear;
} Run;

/* Runs the pipeline from a float image into a fresh buffer of @fmt; NULL on error (@error set). */
static GeglBuffer *
run_pipeline (GeglBuffer *src, const Run *r, const char *fmt, GError **error)
{
  TconvUpscaleOptions o;
  const GeglRectangle *e = gegl_buffer_get_extent (src);
  int                  ow, oh;
  GeglBuffer          *dst;

  tconv_pipeline_upscale_options_init (&o);
  o.kernel = r->kernel;
  o.border = r->border;
  o.out_width = r->out_w, o.out_height = r->out_h;
  o.threads = r->threads;
  o.memory_budget = r->budget;
  o.linear = r->linear;
  if (!tconv_pipeline_output_size (&o, e->width, e->height, &ow, &oh, error))
    return NULL;
  dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, ow, oh), babl_format (fmt));
  if (!tconv_pipeline_upscale (src, dst, &o, error))
    g_clear_object (&dst);
  return dst;
}

static tconv_kernel *
analytic (tconv_analytic type, size_t s)
{
  tconv_kernel *k = NULL;
  if (tconv_kernel_analytic (type, s, s, &k, NULL) != TCONV_OK)
    abort ();
  return k;
}

static double
max_diff (const float *a, const float *b, size_t n, size_t *at)
{
  double m = 0;
  for (size_t i = 0; i < n; i++)
    {
      double d = fabs ((double) a[i] - (double) b[i]);
      if (!(d <= m))
        m = d, *at = i;
    }
  return m;
}

/* ---- cases ---------------------------------------------------------------------------------- */

/* Bands and halos: the pipeline equals the whole-image oracle for every border, at budgets
 * from one-row bands to one band, for K < s, K = 2s and wide kernels. */
static void
borders_match_reference (test_rng *rng)
{
  const long h = 13, w = 17, c = 3;
  float     *img = test_malloc (sizeof (float) * h * w * c);
  const struct { tconv_analytic t; size_t s; } ks[] = {
    { TCONV_ANALYTIC_NEAREST, 3 }, { TCONV_ANALYTIC_BILINEAR, 2 }, { TCONV_ANALYTIC_BICUBIC, 2 },
    { TCONV_ANALYTIC_LANCZOS3, 3 },
  };

  for (long i = 0; i < h * w * c; i++)
    img[i] = (float) (0.5 + 0.5 * test_rng_signed (rng));
  GeglBuffer *src = buffer_from (img, 0, 0, w, h, "R'G'B' float");

  for (size_t ki = 0; ki < G_N_ELEMENTS (ks); ki++)
    for (int b = 0; b < TCONV_BORDER_COUNT; b++)
      {
        tconv_kernel *k = analytic (ks[ki].t, ks[ki].s);
        long          oh, ow;
        float        *want = reference_tconv (k, (TconvBorder) b, img, h, w, c, &oh, &ow);
        const guint64 budgets[] = { 0, 12000 };

        for (size_t bi = 0; bi < G_N_ELEMENTS (budgets); bi++)
          {
            Run         r = { k, (TconvBorder) b, 0, 0, 2, budgets[bi], FALSE };
            GError     *error = NULL;
            GeglBuffer *dst = run_pipeline (src, &r, "R'G'B' float", &error);
            size_t      at = 0;
            double      d = 1e9;

            if (dst != NULL)
              {
                float *got = buffer_pixels (dst, "R'G'B' float");
                d = max_diff (got, want, (size_t) (oh * ow * c), &at);
                free (got);
                g_object_unref (dst);
              }
            CHECK (d < 1e-5, "%s x%zu --border %s, budget %" G_GUINT64_FORMAT
                   ": equals the whole-image oracle (max diff %.3g at pixel %zu)%s%s",
                   tconv_analytic_name (ks[ki].t), ks[ki].s, border_names[b], budgets[bi], d,
                   at / (size_t) c, error ? ": " : "", error ? error->message : "");
            g_clear_error (&error);
          }
        free (want);
        tconv_kernel_free (k);
      }
  g_object_unref (src);
  free (img);
}

/* Every analytic kernel keeps a constant image constant for clamp, mirror and wrap, through
 * the exact and the exact-size paths, with straight and translucent alpha. */
static void
constant_stays_constant (void)
{
  const long  h = 9, w = 11;
  const float v[4] = { 0.25f, 0.5f, 0.875f, 0.6f };
  float       img[9 * 11 * 4];

  for (long i = 0; i < h * w; i++)
    memcpy (img + 4 * i, v, sizeof v);
  GeglBuffer *src = buffer_from (img, 0, 0, w, h, "R'G'B'A float");

  for (int t = 0; t < TCONV_ANALYTIC_COUNT; t++)
    for (int b = 0; b < TCONV_BORDER_ZERO; b++)
      for (int sized = 0; sized < 2; sized++)
        {
          tconv_kernel *k = analytic ((tconv_analytic) t, 3);
          Run           r = { k, (TconvBorder) b, sized ? 25 : 0, sized ? 31 : 0, 1, 0, FALSE };
          GError       *error = NULL;
          GeglBuffer   *dst = run_pipeline (src, &r, "R'G'B'A float", &error);
          double        d = 1e9;

          if (dst != NULL)
            {
              const GeglRectangle *e = gegl_buffer_get_extent (dst);
              float *got = buffer_pixels (dst, "R'G'B'A float");
              d = 0;
              for (long i = 0; i < (long) e->width * e->height * 4; i++)
                d = fmax (d, fabs (got[i] - v[i % 4]));
              free (got);
              g_object_unref (dst);
            }
          CHECK (d < 2e-6, "%s x3 --border %s%s: a constant RGBA image stays constant (max %.3g)%s",
                 tconv_analytic_name ((tconv_analytic) t), border_names[b],
                 sized ? " --size 25x31" : "", d, error ? error->message : "");
          g_clear_error (&error);
          tconv_kernel_free (k);
        }
  g_object_unref (src);
}

/* The exact-size path equals the oracle followed by the dense documented resampler. */
static void
size_matches_reference (test_rng *rng)
{
  const long h = 10, w = 14, c = 3;
  float     *img = test_malloc (sizeof (float) * h * w * c);
  const int  sizes[][2] = { { 37, 23 }, { 9, 6 }, { 14, 41 } };

  for (long i = 0; i < h * w * c; i++)
    img[i] = (float) (0.5 + 0.5 * test_rng_signed (rng));
  GeglBuffer *src = buffer_from (img, 0, 0, w, h, "R'G'B' float");

  for (size_t si = 0; si < G_N_ELEMENTS (sizes); si++)
    for (int b = 0; b < TCONV_BORDER_COUNT; b++)
      {
        const int     ow = sizes[si][0], oh = sizes[si][1];
        tconv_kernel *k = NULL;
        long          mh, mw;
        GError       *error = NULL;
        size_t        at = 0;
        double        d = 1e9;

        tconv_kernel_analytic (TCONV_ANALYTIC_BICUBIC, (size_t) tconv_pipeline_stride_for_size ((gint) h, oh),
                               (size_t) tconv_pipeline_stride_for_size ((gint) w, ow), &k, NULL);
        float *mid = reference_tconv (k, (TconvBorder) b, img, h, w, c, &mh, &mw);
        float *want = reference_resize (mid, mh, mw, c, oh, ow, (TconvBorder) b);
        Run    r = { k, (TconvBorder) b, ow, oh, 3, 8192, FALSE };
        GeglBuffer *dst = run_pipeline (src, &r, "R'G'B' float", &error);

        if (dst != NULL)
          {
            float *got = buffer_pixels (dst, "R'G'B' float");
            d = max_diff (got, want, (size_t) (oh * ow * c), &at);
            free (got);
            g_object_unref (dst);
          }
        CHECK (d < 1e-5, "--size %dx%d (stride %zux%zu) --border %s: equals the oracle plus the "
               "documented resampler (max diff %.3g at pixel %zu)%s",
               ow, oh, k->stride_w, k->stride_h, border_names[b], d, at / (size_t) c,
               error ? error->message : "");
        g_clear_error (&error);
        free (mid), free (want);
        tconv_kernel_free (k);
      }
  g_object_unref (src);
  free (img);
}

/* 1, 2 and 7 threads and any budget give the same bytes (u8 output, RGBA, both paths). */
static void
threads_identical (test_rng *rng)
{
  const int w = 83, h = 57;
  guint8   *img = test_malloc ((size_t) w * h * 4);

  for (int i = 0; i < w * h * 4; i++)
    img[i] = (guint8) test_rng_range (rng, 0, 255);
  GeglBuffer *src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, h), babl_format ("R'G'B'A u8"));
  gegl_buffer_set (src, NULL, 0, babl_format ("R'G'B'A u8"), img, GEGL_AUTO_ROWSTRIDE);

  for (int path = 0; path < 2; path++)
    {
      tconv_kernel *k = analytic (path ? TCONV_ANALYTIC_LANCZOS3 : TCONV_ANALYTIC_BICUBIC, 2);
      const struct { int threads; guint64 budget; } runs[] = { { 1, 0 }, { 2, 0 }, { 7, 0 }, { 7, 80000 }, { 0, 0 } };
      guint8 *first = NULL;
      int     same = 1, n = 0;

      for (size_t i = 0; i < G_N_ELEMENTS (runs); i++)
        {
          Run         r = { k, TCONV_BORDER_MIRROR, path ? 151 : 0, path ? 97 : 0, runs[i].threads, runs[i].budget, FALSE };
          GError     *error = NULL;
          GeglBuffer *dst = run_pipeline (src, &r, "R'G'B'A u8", &error);
          if (dst == NULL)
            {
              test_diag ("run %zu: %s", i, error->message);
              g_clear_error (&error);
              same = 0;
              continue;
            }
          const GeglRectangle *e = gegl_buffer_get_extent (dst);
          n = e->width * e->height * 4;
          guint8 *px = test_malloc ((size_t) n);
          gegl_buffer_get (dst, NULL, 1.0, babl_format ("R'G'B'A u8"), px, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
          if (first == NULL)
            first = px;
          else
            {
              if (memcmp (first, px, (size_t) n) != 0)
                {
                  int j = 0;
                  while (first[j] == px[j])
                    j++;
                  test_diag ("run %zu (threads %d, budget %" G_GUINT64_FORMAT ") differs first at "
                             "pixel (%d, %d) channel %d: %d against %d", i, runs[i].threads,
                             runs[i].budget, (j / 4) % e->width, (j / 4) / e->width, j % 4,
                             px[j], first[j]);
                  same = 0;
                }
              free (px);
            }
          g_object_unref (dst);
        }
      CHECK (same, "%s: 1, 2, 7 threads, an 80 kB budget (one-row bands) and GEGL's thread count give identical bytes",
             path ? "lanczos3 --size 151x97" : "bicubic x2");
      free (first);
      tconv_kernel_free (k);
    }
  g_object_unref (src);
  free (img);
}

/* The 8-bit path (opaque 8-bit images in their own perceptual encoding): equals the oracle
 * within 1 LSB and the float path within 1 LSB, for one and three channels, odd sizes down to
 * 1x1, every border, K < s, K % s != 0 and strides whose weight pattern does not fit one vector
 * (3 channels at stride 3), with the same bytes for any thread count and band height. */
static tconv_kernel *
random_kernel (test_rng *rng, size_t k, size_t s, size_t pad, size_t opad)
{
  tconv_kernel *kr = NULL;

  if (tconv_kernel_new (1, k, k, &kr, NULL) != TCONV_OK)
    abort ();
  kr->stride_h = kr->stride_w = s;
  kr->pad_h = kr->pad_w = pad;
  kr->opad_h = kr->opad_w = opad;
  for (size_t i = 0; i < k * k; i++)
    kr->weights[i] = (float) (test_rng_signed (rng) * 2.0 / (double) (k * k / (s * s) + 1));
  if (k == 5)
    {
      kr->bias = malloc (sizeof (float)); /* freed by tconv_kernel_free() */
      kr->bias[0] = 0.1f;
    }
  return kr;
}

static guint8 *
run_u8 (GeglBuffer *src, const Run *r, const char *fmt, gboolean fast, int *n, GError **error)
{
  GeglBuffer *dst;
  guint8     *px;

  if (!fast)
    g_setenv ("TCONV_PIPELINE_NO_FAST8", "1", TRUE);
  dst = run_pipeline (src, r, fmt, error);
  g_unsetenv ("TCONV_PIPELINE_NO_FAST8");
  if (dst == NULL)
    return NULL;
  const GeglRectangle *e = gegl_buffer_get_extent (dst);
  *n = e->width * e->height * babl_format_get_bytes_per_pixel (babl_format (fmt));
  px = test_malloc ((size_t) *n);
  gegl_buffer_get (dst, NULL, 1.0, babl_format (fmt), px, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  g_object_unref (dst);
  return px;
}

static void
u8_path_matches_reference (test_rng *rng)
{
  const struct { int w, h; } sizes[] = { { 37, 23 }, { 1, 1 }, { 5, 2 }, { 2, 9 } };
  const char *const fmts[] = { NULL, "Y' u8", NULL, "R'G'B' u8" };

  for (int kc = 0; kc < 6; kc++)
    {
      const char   *kname[] = { "bicubic x2", "nearest x3", "lanczos3 x3", "random K=5 x2 + bias",
                                "random K=7 x3", "random K=6 x4" };
      tconv_kernel *k = kc == 0 ? analytic (TCONV_ANALYTIC_BICUBIC, 2)
                        : kc == 1 ? analytic (TCONV_ANALYTIC_NEAREST, 3)
                        : kc == 2 ? analytic (TCONV_ANALYTIC_LANCZOS3, 3)
                        : kc == 3 ? random_kernel (rng, 5, 2, 2, 1)
                        : kc == 4 ? random_kernel (rng, 7, 3, 2, 0)
                                  : random_kernel (rng, 6, 4, 1, 0);

      for (long c = 1; c <= 3; c += 2)
        for (size_t si = 0; si < G_N_ELEMENTS (sizes); si++)
          {
            const int   w = sizes[si].w, h = sizes[si].h;
            const char *fmt = fmts[c];
            guint8     *img = test_malloc ((size_t) (w * h * c));
            float      *f = test_malloc (sizeof (float) * (size_t) (w * h * c));
            GeglBuffer *src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, h), babl_format (fmt));

            for (long i = 0; i < w * h * c; i++)
              {
                img[i] = (guint8) test_rng_range (rng, 0, 255);
                f[i] = img[i] / 255.0f;
              }
            gegl_buffer_set (src, NULL, 0, babl_format (fmt), img, GEGL_AUTO_ROWSTRIDE);
            for (int b = 0; b < TCONV_BORDER_COUNT; b++)
              {
                long    oh, ow;
                float  *want = reference_tconv (k, (TconvBorder) b, f, h, w, c, &oh, &ow);
                Run     r1 = { k, (TconvBorder) b, 0, 0, 1, 0, FALSE };
                Run     r3 = { k, (TconvBorder) b, 0, 0, 3, 20000, FALSE }; /* thin bands */
                GError *error = NULL;
                int     n = 0, n3 = 0, nf = 0, worst = 0, worst_f = 0, at = -1;
                guint8 *got = run_u8 (src, &r1, fmt, TRUE, &n, &error);
                guint8 *got3 = got ? run_u8 (src, &r3, fmt, TRUE, &n3, &error) : NULL;
                guint8 *flt = got3 ? run_u8 (src, &r1, fmt, FALSE, &nf, &error) : NULL;

                if (flt != NULL && n == oh * ow * c)
                  for (int i = 0; i < n; i++)
                    {
                      const float u = want[i] + (k->bias != NULL ? k->bias[0] : 0.0f);
                      const float v = u < 0 ? 0 : u > 1 ? 1 : u;
                      const int   d = abs ((int) got[i] - (int) (v * 255.0f + 0.5f));
                      if (d > worst)
                        worst = d, at = i;
                      worst_f = MAX (worst_f, abs ((int) got[i] - (int) flt[i]));
                    }
                else
                  worst = 999;
                CHECK (worst <= 1 && worst_f <= 1 && got3 != NULL && memcmp (got, got3, (size_t) n) == 0,
                       "8-bit path, %s, %ld channel(s), %dx%d, --border %s: within 1 LSB of the "
                       "oracle (max %d at pixel (%ld, %ld)) and of the float path (max %d); 1 "
                       "thread and 3 threads with a 20 kB budget give the same bytes%s%s",
                       kname[kc], c, w, h, border_names[b], worst,
                       at < 0 ? -1L : (at / c) % ow, at < 0 ? -1L : (at / c) / ow, worst_f,
                       error ? ": " : "", error ? error->message : "");
                g_clear_error (&error);
                free (got), free (got3), free (flt), free (want);
              }
            g_object_unref (src);
            free (img), free (f);
          }
      tconv_kernel_free (k);
    }
}

/* Translucent 8-bit RGBA must not take the 8-bit path (premultiplied colour does not fit in
 * 8 bits): the result is the premultiplied convolution, un-premultiplied, within 1 LSB. */
static void
u8_alpha_is_premultiplied (test_rng *rng)
{
  const int     w = 19, h = 11, c = 4;
  guint8        img[19 * 11 * 4];
  float         f[19 * 11 * 4];
  tconv_kernel *k = analytic (TCONV_ANALYTIC_BICUBIC, 2);
  GeglBuffer   *src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, h), babl_format ("R'G'B'A u8"));
  long          oh, ow;
  int           n = 0, worst = 0;

  for (int i = 0; i < w * h * c; i++)
    img[i] = (guint8) test_rng_range (rng, 0, 255);
  for (int i = 0; i < w * h; i++)
    for (int ch = 0; ch < c; ch++)
      f[i * c + ch] = img[i * c + ch] / 255.0f * (ch < 3 ? img[i * c + 3] / 255.0f : 1.0f);
  gegl_buffer_set (src, NULL, 0, babl_format ("R'G'B'A u8"), img, GEGL_AUTO_ROWSTRIDE);
  float  *want = reference_tconv (k, TCONV_BORDER_CLAMP, f, h, w, c, &oh, &ow);
  Run     r = { k, TCONV_BORDER_CLAMP, 0, 0, 2, 0, FALSE };
  guint8 *got = run_u8 (src, &r, "R'G'B'A u8", TRUE, &n, NULL);

  for (long i = 0; got != NULL && i < oh * ow; i++)
    {
      const float a = want[i * c + 3];
      for (int ch = 0; ch < c; ch++)
        {
          float v = ch == 3 ? a : a > 1e-7f ? want[i * c + ch] / a : 0.0f;
          v = v < 0 ? 0 : v > 1 ? 1 : v;
          if (ch < 3 && a < 2.0f / 255.0f)
            continue; /* colour of a nearly transparent pixel: ill-conditioned */
          worst = MAX (worst, abs ((int) got[i * c + ch] - (int) (v * 255.0f + 0.5f)));
        }
    }
  CHECK (got != NULL && worst <= 1, "translucent R'G'B'A u8 x2: premultiplied convolution within "
         "1 LSB (max %d), not the straight 8-bit path", worst);
  free (got), free (want);
  g_object_unref (src);
  tconv_kernel_free (k);
}

/* An opaque disc on a transparent background of another colour: no fringe. */
static void
alpha_no_fringe (void)
{
  const int w = 24, h = 24;
  float     img[24 * 24 * 4];

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float *p = img + (y * w + x) * 4;
        int    in = (x - 11.5) * (x - 11.5) + (y - 12.2) * (y - 12.2) < 49;
        p[0] = in ? 1.0f : 0.0f, p[1] = in ? 0.2f : 1.0f, p[2] = in ? 0.0f : 1.0f;
        p[3] = in ? 1.0f : 0.0f;
      }
  for (int linear = 0; linear < 2; linear++)
    for (int t = TCONV_ANALYTIC_BILINEAR; t <= TCONV_ANALYTIC_LANCZOS3; t += 4)
      {
        GeglBuffer   *src = buffer_from (img, 0, 0, w, h, "R'G'B'A float");
        tconv_kernel *k = analytic ((tconv_analytic) t, 3);
        Run           r = { k, TCONV_BORDER_CLAMP, 0, 0, 2, 0, linear };
        GeglBuffer   *dst = run_pipeline (src, &r, "R'G'B'A float", NULL);
        double        dev = 1e9;
        int           edge = 0;

        if (dst != NULL)
          {
            float *got = buffer_pixels (dst, "R'G'B'A float");
            dev = 0;
            for (int i = 0; i < 72 * 72; i++)
              if (got[4 * i + 3] > 1e-6f) /* below, a pixel is transparent: colour 0 */
                {
                  edge += got[4 * i + 3] < 0.99f;
                  dev = fmax (dev, fabs (got[4 * i] - 1.0));
                  dev = fmax (dev, fabs (got[4 * i + 1] - 0.2));
                  dev = fmax (dev, fabs (got[4 * i + 2] - 0.0));
                }
            free (got);
            g_object_unref (dst);
          }
        CHECK (dev < 1e-4 && edge > 20, "%s x3%s: every visible pixel (%d partly transparent) keeps "
               "the disc's colour (max deviation %.3g)",
               tconv_analytic_name ((tconv_analytic) t), linear ? " --linear" : "", edge, dev);
        tconv_kernel_free (k);
        g_object_unref (src);
      }
}

/* 16-bit grey in, 16-bit out, with more than 256 levels; and a source whose extent starts
 * elsewhere than (0, 0) gives the same pixels. */
static void
precision_and_origin (void)
{
  const int w = 300;
  guint16   ramp[300 * 2];

  for (int i = 0; i < w * 2; i++)
    ramp[i] = (guint16) ((i % w) * 65535 / (w - 1));
  GeglBuffer   *src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, 2), babl_format ("Y' u16"));
  GeglBuffer   *moved = gegl_buffer_new (GEGL_RECTANGLE (-7, 5, w, 2), babl_format ("Y' u16"));
  tconv_kernel *k = analytic (TCONV_ANALYTIC_BILINEAR, 2);
  Run           r = { k, TCONV_BORDER_CLAMP, 0, 0, 2, 0, FALSE };

  gegl_buffer_set (src, NULL, 0, babl_format ("Y' u16"), ramp, GEGL_AUTO_ROWSTRIDE);
  gegl_buffer_set (moved, NULL, 0, babl_format ("Y' u16"), ramp, GEGL_AUTO_ROWSTRIDE);
  GeglBuffer *a = run_pipeline (src, &r, "Y' u16", NULL);
  GeglBuffer *b = run_pipeline (moved, &r, "Y' u16", NULL);
  if (a == NULL || b == NULL)
    {
      CHECK (0, "16-bit grey runs");
      return;
    }
  guint16 pa[600 * 4], pb[600 * 4];
  gegl_buffer_get (a, NULL, 1.0, babl_format ("Y' u16"), pa, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  gegl_buffer_get (b, NULL, 1.0, babl_format ("Y' u16"), pb, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  GHashTable *levels = g_hash_table_new (NULL, NULL);
  for (int i = 0; i < 600; i++)
    g_hash_table_add (levels, GINT_TO_POINTER (pa[i]));
  CHECK (g_hash_table_size (levels) > 256, "16-bit grey ramp: %u distinct levels (> 256)",
         g_hash_table_size (levels));
  CHECK (memcmp (pa, pb, sizeof pa) == 0, "a source at (-7, 5) gives the same pixels as at (0, 0)");
  g_hash_table_destroy (levels);
  g_object_unref (a), g_object_unref (b), g_object_unref (src), g_object_unref (moved);
  tconv_kernel_free (k);
}

static gboolean
cancel_at_once (gdouble fraction, gpointer data)
{
  (void) fraction;
  ++*(int *) data;
  return FALSE;
}

/* Lets every band through and stops at the end (fraction 1). */
static gboolean
cancel_at_end (gdouble fraction, gpointer data)
{
  ++*(int *) data;
  return fraction < 1.0;
}

static void
errors (void)
{
  float         img[6 * 5 * 4] = { 0 };
  GeglBuffer   *src = buffer_from (img, 0, 0, 6, 5, "R'G'B'A float");
  tconv_kernel *k = analytic (TCONV_ANALYTIC_BICUBIC, 2), *k3 = NULL;
  TconvUpscaleOptions o;
  GError       *error = NULL;
  int           ow, oh, calls = 0;

  tconv_pipeline_upscale_options_init (&o);
  o.kernel = k;
  GeglBuffer *wrong = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 11, 10), babl_format ("R'G'B'A float"));
  CHECK (!tconv_pipeline_upscale (src, wrong, &o, &error)
           && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID)
           && strstr (error->message, "11x10") != NULL,
         "a destination of the wrong size is refused, naming it (%s)", error ? error->message : "");
  g_clear_error (&error);

  o.out_width = 524289, o.out_height = 3;
  CHECK (!tconv_pipeline_output_size (&o, 6, 5, &ow, &oh, &error)
           && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE),
         "an output beyond 524288 per side is refused (%s)", error ? error->message : "");
  g_clear_error (&error);

  o.out_width = o.out_height = 0;
  o.memory_budget = 100;
  GeglBuffer *dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 12, 10), babl_format ("R'G'B'A float"));
  CHECK (!tconv_pipeline_upscale (src, dst, &o, &error)
           && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE),
         "a memory budget below one band row is refused (%s)", error ? error->message : "");
  g_clear_error (&error);

  o.memory_budget = 0;
  tconv_kernel_new (3, 4, 4, &k3, NULL);
  k3->stride_h = k3->stride_w = 2, k3->pad_h = k3->pad_w = 1;
  for (int i = 0; i < 48; i++)
    k3->weights[i] = 0.25f;
  o.kernel = k3;
  CHECK (!tconv_pipeline_upscale (src, dst, &o, &error)
           && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID)
           && strstr (error->message, "4 channels") != NULL,
         "3 per-channel kernels on an RGBA image are refused (%s)", error ? error->message : "");
  g_clear_error (&error);

  GeglBuffer *big_src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 64, 400), babl_format ("Y' float"));
  GeglBuffer *big_dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 128, 800), babl_format ("Y' float"));
  o.kernel = k;
  o.threads = 1;
  o.progress = cancel_at_once;
  o.progress_data = &calls;
  CHECK (!tconv_pipeline_upscale (big_src, big_dst, &o, &error)
           && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_CANCELLED)
           && calls == 1,
         "the progress callback cancels, and is not called again (%s)", error ? error->message : "");
  g_clear_error (&error);

  /* a tiny job, done before any report between bands: the last call (fraction 1) still
   * cancels it */
  GeglBuffer *tiny_src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 3, 2), babl_format ("Y' float"));
  GeglBuffer *tiny_dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 6, 4), babl_format ("Y' float"));
  calls = 0;
  o.progress = cancel_at_end;
  gboolean tiny_ok = tconv_pipeline_upscale (tiny_src, tiny_dst, &o, &error);
  CHECK (!tiny_ok && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_CANCELLED)
           && calls >= 1,
         "a stop asked for at the last progress call (fraction 1) cancels (%d calls: %s)", calls,
         error ? error->message : "no error");
  g_clear_error (&error);
  g_object_unref (tiny_src), g_object_unref (tiny_dst);

  g_object_unref (big_src), g_object_unref (big_dst), g_object_unref (wrong);
  g_object_unref (dst), g_object_unref (src);
  tconv_kernel_free (k), tconv_kernel_free (k3);
}

/* The sRGB transfer function, IEC 61966-2-1, in double: independent of babl. */
static double
srgb_to_linear (double v)
{
  return v <= 0.04045 ? v / 12.92 : pow ((v + 0.055) / 1.055, 2.4);
}

/* --linear on 8- and 16-bit perceptual samples (read through a table of linear values, not
 * converted by babl row by row): grey and RGB, with and without alpha, equal the oracle run
 * on samples linearised with the sRGB formula; the output is read back as linear float. */
static void
linear_from_integer_samples (test_rng *rng)
{
  static const struct { const char *in, *out; int c, bits; } cases[] = {
    { "R'G'B' u8", "RGB float", 3, 8 },    { "R'G'B'A u8", "RGBA float", 4, 8 },
    { "Y' u8", "Y float", 1, 8 },          { "Y'A u8", "YA float", 2, 8 },
    { "R'G'B' u16", "RGB float", 3, 16 },  { "R'G'B'A u16", "RGBA float", 4, 16 },
    { "Y' u16", "Y float", 1, 16 },        { "Y'A u16", "YA float", 2, 16 },
  };
  const long    h = 9, w = 11;
  tconv_kernel *k = analytic (TCONV_ANALYTIC_BICUBIC, 2);

  for (size_t ci = 0; ci < G_N_ELEMENTS (cases); ci++)
    {
      const long   c = cases[ci].c, colours = c % 2 == 0 ? c - 1 : c;
      const double top = cases[ci].bits == 8 ? 255.0 : 65535.0;
      guint16     *raw = test_malloc (sizeof (guint16) * (size_t) (h * w * c));
      guint8      *raw8 = test_malloc ((size_t) (h * w * c));
      float       *lin = test_malloc (sizeof (float) * (size_t) (h * w * c));
      long         oh, ow;
      float       *want;
      GeglBuffer  *src, *dst;
      Run          r = { k, TCONV_BORDER_MIRROR, 0, 0, 2, 0, TRUE };
      double       d = 1e9;
      size_t       at = 0;

      for (long i = 0; i < h * w * c; i++)
        {
          /* every level reachable; alpha opaque here (premultiplication is tested elsewhere) */
          const double v = i % c < colours ? floor ((0.5 + 0.5 * test_rng_signed (rng)) * (top + 1)) : top;
          const double q = v > top ? top : v;
          raw[i] = (guint16) q, raw8[i] = (guint8) (cases[ci].bits == 8 ? q : 0);
          lin[i] = (float) (i % c < colours ? srgb_to_linear (q / top) : 1.0);
        }
      want = reference_tconv (k, TCONV_BORDER_MIRROR, lin, h, w, c, &oh, &ow);
      src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, h), babl_format (cases[ci].in));
      gegl_buffer_set (src, GEGL_RECTANGLE (0, 0, w, h), 0, babl_format (cases[ci].in),
                       cases[ci].bits == 8 ? (void *) raw8 : (void *) raw, GEGL_AUTO_ROWSTRIDE);
      dst = run_pipeline (src, &r, cases[ci].out, NULL);
      if (dst != NULL)
        {
          float *got = buffer_pixels (dst, cases[ci].out);
          d = max_diff (got, want, (size_t) (oh * ow * c), &at);
          free (got);
          g_object_unref (dst);
        }
      CHECK (d < 2e-6, "--linear on %s: equals the oracle on sRGB-linearised samples (max diff "
             "%.3g at sample %zu)", cases[ci].in, d, at);
      g_object_unref (src);
      free (want), free (lin), free (raw), free (raw8);
    }
  tconv_kernel_free (k);
}

/* The sRGB encoding, IEC 61966-2-1, in double. */
static double
linear_to_srgb (double v)
{
  return v <= 0.0031308 ? v * 12.92 : 1.055 * pow (v, 1.0 / 2.4) - 0.055;
}

/* --linear writing 8- and 16-bit perceptual samples: every level is the oracle's linear output
 * encoded with the sRGB formula and rounded to nearest, for some linear value within the
 * float tolerance (2e-6, as above) of the oracle's; and the same bytes with 1 and 3 threads,
 * whatever babl's conversions would choose. */
static void
linear_to_integer_samples (test_rng *rng)
{
  const double TOL = 2e-6;
  static const struct { const char *in, *out; int c, bits; } cases[] = {
    { "RGB float", "R'G'B' u8", 3, 8 },    { "RGBA float", "R'G'B'A u16", 4, 16 },
    { "Y float", "Y' u8", 1, 8 },          { "YA float", "Y'A u16", 2, 16 },
    { "RGB float", "R'G'B' u16", 3, 16 },  { "RGBA float", "R'G'B'A u8", 4, 8 },
  };
  const long    h = 23, w = 29;
  tconv_kernel *k = analytic (TCONV_ANALYTIC_LANCZOS3, 2);

  for (size_t ci = 0; ci < G_N_ELEMENTS (cases); ci++)
    {
      const long   c = cases[ci].c, colours = c % 2 == 0 ? c - 1 : c;
      const double top = cases[ci].bits == 8 ? 255.0 : 65535.0;
      float       *lin = test_malloc (sizeof (float) * (size_t) (h * w * c));
      long         oh, ow, bad = 0, edge = 0, checked = 0, at = -1;
      float       *want;
      GeglBuffer  *src, *dst;
      Run          r = { k, TCONV_BORDER_MIRROR, 0, 0, 1, 0, TRUE };
      int          same = 0;

      for (long i = 0; i < h * w * c; i++) /* dark values are where the encoding is steep */
        {
          const double u = 0.5 + 0.5 * test_rng_signed (rng);
          lin[i] = (float) (i % c < colours ? u * u * u : 1.0);
        }
      want = reference_tconv (k, TCONV_BORDER_MIRROR, lin, h, w, c, &oh, &ow);
      src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, h), babl_format (cases[ci].in));
      gegl_buffer_set (src, NULL, 0, babl_format (cases[ci].in), lin, GEGL_AUTO_ROWSTRIDE);
      dst = run_pipeline (src, &r, cases[ci].out, NULL);
      if (dst != NULL)
        {
          const size_t n = (size_t) (oh * ow * c), bytes = (size_t) cases[ci].bits / 8;
          guint8      *got = test_malloc (n * bytes), *got3 = test_malloc (n * bytes);
          GeglBuffer  *dst3;

          gegl_buffer_get (dst, NULL, 1.0, babl_format (cases[ci].out), got, GEGL_AUTO_ROWSTRIDE,
                           GEGL_ABYSS_NONE);
          for (size_t i = 0; i < n; i++)
            {
              const gboolean colour = i % (size_t) c < (size_t) colours;
              const double   g = bytes == 1 ? got[i] : ((guint16 *) got)[i];
              double         lv[2];
              for (int j = 0; j < 2; j++)
                {
                  const double v = want[i] + (j ? TOL : -TOL), u = v < 0 ? 0 : v > 1 ? 1 : v;
                  lv[j] = floor ((colour ? linear_to_srgb (u) : u) * top + 0.5);
                }
              edge += lv[0] != lv[1];
              checked++;
              if ((g < lv[0] || g > lv[1]) && bad++ == 0)
                at = (long) i;
            }
          r.threads = 3;
          dst3 = run_pipeline (src, &r, cases[ci].out, NULL);
          if (dst3 != NULL)
            {
              gegl_buffer_get (dst3, NULL, 1.0, babl_format (cases[ci].out), got3,
                               GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
              same = memcmp (got, got3, n * bytes) == 0;
              g_object_unref (dst3);
            }
          free (got), free (got3);
          g_object_unref (dst);
        }
      CHECK (dst != NULL && bad == 0 && checked > 0,
             "--linear to %s: %ld of %ld levels differ from the sRGB-encoded oracle (first at "
             "sample %ld; %ld samples within the tolerance of an edge)", cases[ci].out, bad, checked, at, edge);
      CHECK (same, "--linear to %s: the same bytes with 1 and 3 threads", cases[ci].out);
      g_object_unref (src);
      free (want), free (lin);
    }
  tconv_kernel_free (k);
}

/* A memory destination: the rows written to the caller's memory are the bytes the destination
 * buffer gets (whose own paths are checked against the references above), for each way rows
 * are stored: the 8-bit path, narrowing in place (16-bit), and float rows converted to the
 * buffer's format (linear light, exact-size resampling); rows padded, the padding untouched;
 * a rowstride below one row is refused. */
static void
memory_output_matches_buffer (test_rng *rng)
{
  const int w = 83, h = 57;
  const struct
  {
    const char *fmt, *what;
    gboolean    linear;
    int         out_w, out_h;
  } cases[] = {
    { "R'G'B' u8", "8-bit path", FALSE, 0, 0 },
    { "R'G'B'A u16", "16-bit, narrowed in place", FALSE, 0, 0 },
    { "R'G'B'A u8", "linear light, converted rows", TRUE, 0, 0 },
    { "Y' u8", "exact size 151x97 (resampled)", FALSE, 151, 97 },
  };
  guint16 *img = test_malloc ((size_t) w * h * 4 * sizeof (guint16));

  for (int i = 0; i < w * h * 4; i++)
    img[i] = (guint16) test_rng_range (rng, 0, 65535);
  for (size_t c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const Babl   *fmt = babl_format (cases[c].fmt);
      const int     bpp = babl_format_get_bytes_per_pixel (fmt);
      tconv_kernel *k = analytic (TCONV_ANALYTIC_LANCZOS3, 2);
      GeglBuffer   *src = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, h), fmt);
      Run           r = { k, TCONV_BORDER_MIRROR, cases[c].out_w, cases[c].out_h, 2, 0, cases[c].linear };
      GError       *error = NULL;
      GeglBuffer   *dst;
      int           ok = 0;

      gegl_buffer_set (src, NULL, 0, babl_format ("R'G'B'A u16"), img, GEGL_AUTO_ROWSTRIDE);
      dst = run_pipeline (src, &r, cases[c].fmt, &error);
      if (dst != NULL)
        {
          const GeglRectangle *e = gegl_buffer_get_extent (dst);
          const size_t         row = (size_t) e->width * (size_t) bpp, stride = row + 7;
          guint8              *want = test_malloc (row * (size_t) e->height);
          guint8              *mem = test_malloc (stride * (size_t) e->height);
          TconvUpscaleOptions  o;

          gegl_buffer_get (dst, NULL, 1.0, fmt, want, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
          memset (mem, 0xa5, stride * (size_t) e->height);
          tconv_pipeline_upscale_options_init (&o);
          o.kernel = k, o.border = r.border, o.out_width = r.out_w, o.out_height = r.out_h;
          o.threads = 2, o.linear = r.linear;
          TconvPipelineDest d = { .pixels = mem, .rowstride = stride, .format = fmt };
          if (!tconv_pipeline_upscale_region (src, &o, NULL, &d, &error))
            test_diag ("memory run: %s", error->message);
          else
            {
              ok = 1;
              for (int y = 0; y < e->height && ok; y++)
                {
                  if (memcmp (mem + (size_t) y * stride, want + (size_t) y * row, row) != 0)
                    {
                      test_diag ("row %d differs", y);
                      ok = 0;
                    }
                  for (size_t b = row; b < stride && ok; b++)
                    if (mem[(size_t) y * stride + b] != 0xa5)
                      {
                        test_diag ("row %d: padding byte %zu written", y, b - row);
                        ok = 0;
                      }
                }
            }
          g_clear_error (&error);
          d.rowstride = row - 1;
          {
            gboolean refused = !tconv_pipeline_upscale_region (src, &o, NULL, &d, &error)
                               && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID)
                               && strstr (error->message, "rowstride") != NULL;
            CHECK (refused, "%s: a rowstride of one row minus a byte is refused (%s)", cases[c].what,
                   error ? error->message : "no error");
          }
          g_clear_error (&error);
          free (want), free (mem);
          g_object_unref (dst);
        }
      else
        {
          test_diag ("buffer run: %s", error->message);
          g_clear_error (&error);
        }
      CHECK (ok, "%s (%s): rows in caller memory equal the destination buffer's bytes, padding untouched",
             cases[c].what, cases[c].fmt);
      g_object_unref (src);
      tconv_kernel_free (k);
    }
  free (img);

  /* tconv_pipeline_memory_buffer(): the buffer reads what is in its memory; sizes whose
   * bytes overflow are refused */
  {
    guint8     *px = NULL;
    gsize       stride = 0;
    GeglBuffer *b = tconv_pipeline_memory_buffer (83, 57, babl_format ("R'G'B' u8"), &px, &stride);
    int         ok = b != NULL && stride == 83 * 3;

    if (ok)
      {
        guint8 *back = test_malloc (stride * 57);

        for (gsize i = 0; i < stride * 57; i++)
          px[i] = (guint8) (i * 7 + 3);
        gegl_buffer_get (b, NULL, 1.0, babl_format ("R'G'B' u8"), back, GEGL_AUTO_ROWSTRIDE,
                         GEGL_ABYSS_NONE);
        ok = memcmp (back, px, stride * 57) == 0
             && gegl_buffer_get_extent (b)->width == 83 && gegl_buffer_get_extent (b)->height == 57;
        free (back);
      }
    CHECK (ok, "a memory buffer reads back the bytes written to its memory (83x57 RGB u8, rowstride %zu)",
           stride);
    g_clear_object (&b);
    px = NULL;
    b = tconv_pipeline_memory_buffer (G_MAXINT, G_MAXINT, babl_format ("R'G'B'A float"), &px, &stride);
    CHECK (b == NULL && px == NULL, "a memory buffer whose rows overflow is refused");
    g_clear_object (&b);
  }
}


/* ---- regions ------------------------------------------------------------------------------- */

typedef struct
{
  const char *fmt;
  int         c, bytes; /* channels, bytes per sample (4: float) */
} RegionFormat;

/* A random source of @w x @h in @f: every level for integer formats; for float ones values
 * around [0, 1] and, in some images, a huge value or two (babl converts groups holding one
 * differently, which a region must not change). */
static GeglBuffer *
region_source (test_rng *rng, const RegionFormat *f, int w, int h)
{
  const size_t n = (size_t) w * h * f->c;
  guint8      *px = test_malloc (n * f->bytes);
  GeglBuffer  *b = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w, h), babl_format (f->fmt));
  const int    huge = f->bytes == 4 && test_rng_range (rng, 0, 2) == 0;

  for (size_t i = 0; i < n; i++)
    if (f->bytes == 1)
      px[i] = (guint8) test_rng_range (rng, 0, 255);
    else if (f->bytes == 2)
      ((guint16 *) px)[i] = (guint16) test_rng_range (rng, 0, 65535);
    else
      ((float *) px)[i] = (float) (0.5 + 0.7 * test_rng_signed (rng));
  if (huge)
    ((float *) px)[test_rng_range (rng, 0, (int64_t) n - 1)] = 3e38f;
  gegl_buffer_set (b, NULL, 0, babl_format (f->fmt), px, GEGL_AUTO_ROWSTRIDE);
  free (px);
  return b;
}

/* A random rectangle of @ow x @oh: anywhere, or touching an edge, or one pixel, or a row. */
static GeglRectangle
region_random_rect (test_rng *rng, int ow, int oh)
{
  GeglRectangle r;

  r.x = (int) test_rng_range (rng, 0, ow - 1);
  r.y = (int) test_rng_range (rng, 0, oh - 1);
  r.width = (int) test_rng_range (rng, 1, ow - r.x);
  r.height = (int) test_rng_range (rng, 1, oh - r.y);
  switch (test_rng_range (rng, 0, 5))
    {
    case 0: r.width = ow - r.x; break;                  /* to the right edge */
    case 1: r.x = 0; r.width = (int) test_rng_range (rng, 1, ow); break; /* from the left */
    case 2: r.width = r.height = 1; break;
    case 3: r.x = 0, r.width = ow, r.height = 1; break; /* one whole row */
    default: break;
    }
  return r;
}

/* Compares @got (rows @stride apart, padded with 0xa5) with the rectangle @r of @whole
 * (@ow pixels a row); FALSE with a diagnostic naming the first differing pixel. */
static gboolean
region_compare (const guint8 *whole, int ow, int bpp, const GeglRectangle *r, const guint8 *got,
                size_t stride, const char *what)
{
  const size_t row = (size_t) r->width * bpp;

  for (int y = 0; y < r->height; y++)
    {
      const guint8 *want = whole + ((size_t) (r->y + y) * ow + r->x) * bpp;
      const guint8 *have = got + (size_t) y * stride;

      if (memcmp (want, have, row) != 0)
        {
          size_t j = 0;
          while (want[j] == have[j])
            j++;
          test_diag ("%s: region %dx%d at (%d, %d) differs at output pixel (%d, %d) byte %zu",
                     what, r->width, r->height, r->x, r->y, r->x + (int) (j / bpp), r->y + y,
                     j % bpp);
          return FALSE;
        }
      for (size_t b = row; b < stride; b++)
        if (have[b] != 0xa5)
          {
            test_diag ("%s: padding byte %zu of row %d written", what, b - row, y);
            return FALSE;
          }
    }
  return TRUE;
}

/* A region into a buffer of the whole output: the region holds the whole image's pixels and
 * everything outside it keeps the poison the buffer was filled with. */
static gboolean
region_into_buffer (GeglBuffer *src, const TconvUpscaleOptions *o, const GeglRectangle *r,
                    const guint8 *whole, int ow, int oh, const Babl *fmt, const char *what)
{
  const int    bpp = babl_format_get_bytes_per_pixel (fmt);
  const size_t n = (size_t) ow * oh * bpp;
  guint8      *px = test_malloc (n);
  GeglBuffer  *b = gegl_buffer_new (GEGL_RECTANGLE (0, 0, ow, oh), fmt);
  GError      *error = NULL;
  const TconvPipelineDest d = { .buffer = b };
  gboolean     ok;

  memset (px, 0x5a, n);
  gegl_buffer_set (b, NULL, 0, fmt, px, GEGL_AUTO_ROWSTRIDE);
  ok = tconv_pipeline_upscale_region (src, o, r, &d, &error);
  if (!ok)
    test_diag ("%s: %s", what, error->message);
  g_clear_error (&error);
  gegl_buffer_get (b, NULL, 1.0, fmt, px, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  for (int y = 0; y < oh && ok; y++)
    for (int x = 0; x < ow && ok; x++)
      {
        const gboolean in = x >= r->x && x < r->x + r->width && y >= r->y && y < r->y + r->height;
        const guint8  *p = px + ((size_t) y * ow + x) * bpp;

        for (int k = 0; k < bpp && ok; k++)
          if (in ? p[k] != whole[((size_t) y * ow + x) * bpp + k] : p[k] != 0x5a)
            {
              test_diag ("%s: buffer region %dx%d at (%d, %d): pixel (%d, %d) %s", what,
                         r->width, r->height, r->x, r->y, x, y,
                         in ? "differs from the whole image" : "outside the region was written");
              ok = FALSE;
            }
      }
  g_object_unref (b);
  free (px);
  return ok;
}

/* tconv_pipeline_upscale_region(): random rectangles of random jobs (sizes, analytic and
 * random kernels, x2, x3, x1.5, x2.7, every border, 1-4 channels, 8/16-bit and float, linear
 * or not, 1, 2 or 7 threads, small budgets) give exactly the bytes of the same rectangle of
 * the whole-image result, into caller memory (padding untouched) and into a buffer (nothing
 * outside the rectangle written). */
static void
region_equals_whole (test_rng *rng)
{
  static const RegionFormat fmts[] = {
    { "R'G'B' u8", 3, 1 },   { "R'G'B'A u8", 4, 1 },   { "Y' u8", 1, 1 },
    { "Y'A u16", 2, 2 },     { "R'G'B'A u16", 4, 2 },  { "R'G'B' float", 3, 4 },
    { "RGBA float", 4, 4 },  { "Y'A float", 2, 4 },    { "R'G'B' u16", 3, 2 },
  };
  static const double scales[] = { 2, 3, 1.5, 2.7 };
  static const tconv_analytic kinds[] = { TCONV_ANALYTIC_BICUBIC, TCONV_ANALYTIC_LANCZOS3,
                                          TCONV_ANALYTIC_BILINEAR };
  int failures = 0, regions = 0;

  for (int iter = 0; iter < 72; iter++)
    {
      const RegionFormat *f = &fmts[iter % G_N_ELEMENTS (fmts)];
      const double        scale = scales[(iter / 3) % G_N_ELEMENTS (scales)];
      const int           w = (int) test_rng_range (rng, 1, 61), h = (int) test_rng_range (rng, 1, 41);
      const Babl         *fmt = babl_format (f->fmt);
      const int           bpp = babl_format_get_bytes_per_pixel (fmt);
      const int           exact = scale == 2 || scale == 3;
      int                 ow = exact ? 0 : MAX (1, (int) floor (w * scale + 0.5));
      int                 oh = exact ? 0 : MAX (1, (int) floor (h * scale + 0.5));
      const int           s = exact ? (int) scale
                                    : MAX (tconv_pipeline_stride_for_size (w, ow),
                                           tconv_pipeline_stride_for_size (h, oh));
      /* k + opad - 2 pad == s with k = 2 s + 1 */
      const size_t        pad = (size_t) (s + 2) / 2, opad = 2 * pad - (size_t) s - 1;
      tconv_kernel       *k = iter % 4 == 3 ? random_kernel (rng, (size_t) (2 * s + 1), (size_t) s,
                                                             pad, opad)
                                            : analytic (kinds[iter % 3], (size_t) s);
      GeglBuffer         *src = region_source (rng, f, w, h);
      Run                 r = { k, (TconvBorder) test_rng_range (rng, 0, 3), ow, oh, 2, 0,
                                test_rng_range (rng, 0, 3) == 0 };
      char                what[160];
      GError             *error = NULL;
      GeglBuffer         *dst = run_pipeline (src, &r, f->fmt, &error);
      guint8             *whole;

      g_snprintf (what, sizeof what, "%s %dx%d x%g %s, %s border%s", f->fmt, w, h, scale,
                  iter % 4 == 3 ? "random kernel" : "analytic", border_names[r.border],
                  r.linear ? ", linear" : "");
      if (dst == NULL)
        {
          test_diag ("%s: whole image: %s", what, error->message);
          g_clear_error (&error);
          failures++;
          goto next;
        }
      ow = gegl_buffer_get_width (dst), oh = gegl_buffer_get_height (dst);
      whole = test_malloc ((size_t) ow * oh * bpp);
      gegl_buffer_get (dst, NULL, 1.0, fmt, whole, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      for (int i = 0; i < 6; i++)
        {
          const GeglRectangle rect = region_random_rect (rng, ow, oh);
          const size_t        stride = (size_t) rect.width * bpp + 5;
          guint8             *got = test_malloc (stride * rect.height);
          TconvUpscaleOptions o;
          const TconvPipelineDest d = { .pixels = got, .rowstride = stride, .format = fmt };
          static const int    threads[] = { 1, 2, 7 };

          tconv_pipeline_upscale_options_init (&o);
          o.kernel = k, o.border = r.border, o.out_width = r.out_w, o.out_height = r.out_h;
          o.linear = r.linear, o.threads = threads[i % 3];
          o.memory_budget = i == 4 ? 20000 : 0; /* thin bands where they fit */
          memset (got, 0xa5, stride * rect.height);
          regions++;
          if (!tconv_pipeline_upscale_region (src, &o, &rect, &d, &error))
            {
              /* a budget below one band row is a fair refusal, nothing else */
              if (!(o.memory_budget != 0
                    && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE)))
                {
                  test_diag ("%s: region: %s", what, error->message);
                  failures++;
                }
              g_clear_error (&error);
            }
          else if (!region_compare (whole, ow, bpp, &rect, got, stride, what))
            failures++;
          if (i == 5 && !region_into_buffer (src, &o, &rect, whole, ow, oh, fmt, what))
            failures++;
          free (got);
        }
      free (whole);
      g_object_unref (dst);
    next:
      g_object_unref (src);
      tconv_kernel_free (k);
    }
  CHECK (failures == 0, "%d regions of 72 random jobs (x2, x3, x1.5, x2.7; 1-4 channels; 8, 16 "
         "bit, float; every border): each equals the whole image's rectangle byte for byte "
         "(%d failures)", regions, failures);
}

/* The region entry point refuses a rectangle outside the output and a destination that is
 * neither a buffer nor memory with a format, naming the values. */
static void
region_errors (void)
{
  float         img[6 * 5 * 3] = { 0 };
  GeglBuffer   *src = buffer_from (img, 0, 0, 6, 5, "R'G'B' float");
  tconv_kernel *k = analytic (TCONV_ANALYTIC_BICUBIC, 2);
  guint8        px[64 * 3 * 4];
  TconvUpscaleOptions o;
  TconvPipelineDest   d = { .pixels = px, .rowstride = 64 * 12, .format = babl_format ("R'G'B' float") };
  GError       *error = NULL;
  static const GeglRectangle bad[] = { { 10, 0, 3, 1 }, { -1, 0, 2, 2 }, { 0, 0, 0, 4 }, { 0, 9, 1, 2 } };

  tconv_pipeline_upscale_options_init (&o);
  o.kernel = k;
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      char want[64];

      g_snprintf (want, sizeof want, "region %dx%d at (%d, %d)", bad[i].width, bad[i].height,
                  bad[i].x, bad[i].y);
      CHECK (!tconv_pipeline_upscale_region (src, &o, &bad[i], &d, &error)
               && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID)
               && strstr (error->message, want) != NULL,
             "%s of a 12x10 output is refused, naming it (%s)", want, error ? error->message : "");
      g_clear_error (&error);
    }
  d.format = NULL;
  CHECK (!tconv_pipeline_upscale_region (src, &o, NULL, &d, &error)
           && g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID),
         "memory without a format is refused (%s)", error ? error->message : "");
  g_clear_error (&error);
  g_object_unref (src);
  tconv_kernel_free (k);
}

/* ---- kernel banks ---------------------------------------------------------------------------- */

/* A bank of stride @s, window radius 1, 4 x 2 x 2 classes whose kernels differ: each class a
 * random kernel with every phase summing to 1. */
static tconv_bank *
test_bank (test_rng *rng, size_t s)
{
  const size_t          k = 3 * s;
  tconv_bank_classifier c = { .angles = 4, .strengths = 2, .coherences = 2, .sigma = 1.0,
                              .strength_thresholds = { 0.02 }, .coherence_thresholds = { 0.5 } };
  tconv_kernel         *g = NULL;
  tconv_bank           *b = NULL;

  if (tconv_kernel_new (1, k, k, &g, NULL) != TCONV_OK)
    abort ();
  g->stride_h = g->stride_w = s;
  g->pad_h = g->pad_w = s;
  for (size_t i = 0; i <= 16; i++)
    {
      float *w = i == 0 ? g->weights : b->weights + (i - 1) * k * k;
      test_rng_fill (rng, w, k * k);
      for (size_t ry = 0; ry < s; ry++)
        for (size_t rx = 0; rx < s; rx++)
          {
            double sum = 0.0;
            for (size_t y = ry; y < k; y += s)
              for (size_t x = rx; x < k; x += s)
                sum += (w[y * k + x] *= 0.3f);
            for (size_t y = ry; y < k; y += s)
              for (size_t x = rx; x < k; x += s)
                w[y * k + x] += (float) ((1.0 - sum) / 9.0);
          }
      if (i == 0 && tconv_bank_new (g, &c, &b, NULL) != TCONV_OK)
        abort ();
    }
  tconv_kernel_free (g);
  if (tconv_bank_validate (b, NULL) != TCONV_OK)
    abort ();
  return b;
}

/* The bank on an interleaved h x w x c float image by the definition: the image extended by
 * @border, its BT.601 luma (grey: the value) classified whole, the scatter oracle. */
static float *
reference_bank (const tconv_bank *b, TconvBorder border, const float *img, long h, long w,
                long c)
{
  const size_t   halo = tconv_bank_halo (&b->classifier), s = b->global->stride_h;
  const long     m = (long) (b->global->k_h + halo) + 2, eh = h + 2 * m, ew = w + 2 * m;
  float         *ext = test_malloc (sizeof (float) * (size_t) (c * eh * ew));
  float         *L = test_malloc (sizeof (float) * (size_t) (eh * ew)), *work;
  uint16_t      *map = test_malloc (sizeof (uint16_t) * (size_t) (eh * ew));
  float         *res = test_malloc (sizeof (float) * (size_t) (h * s * w * s * c));
  tconv_params   p;
  tconv_geometry g;
  size_t         need;
  double        *dwork;

  for (long y = 0; y < eh; y++)
    for (long x = 0; x < ew; x++)
      {
        long sy = map_index (border, y - m, h), sx = map_index (border, x - m, w);
        for (long ch = 0; ch < c; ch++)
          ext[(y * ew + x) * c + ch] = sy < 0 || sx < 0 ? 0.0f : img[(sy * w + sx) * c + ch];
        L[y * ew + x] = c >= 3 ? 0.299f * ext[(y * ew + x) * c] + 0.587f * ext[(y * ew + x) * c + 1]
                                   + 0.114f * ext[(y * ew + x) * c + 2]
                               : ext[(y * ew + x) * c];
      }
  if (tconv_bank_work_len (&b->classifier, (size_t) eh, (size_t) ew, &need, NULL) != TCONV_OK)
    abort ();
  work = test_malloc (need * sizeof (float));
  if (tconv_bank_classify (&b->classifier, L, (size_t) eh, (size_t) ew, ew, map,
                           ew - 2 * (long) halo, work, need, NULL) != TCONV_OK)
    abort ();
  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = c;
  p.in_h = h, p.in_w = w;
  p.k_h = p.k_w = (int64_t) b->global->k_h;
  p.stride_h = p.stride_w = (int64_t) s;
  p.pad_h = p.pad_w = (int64_t) b->global->pad_h;
  if (tconv_geometry_init (&g, &p, NULL) != TCONV_OK)
    abort ();
  {
    tconv_in_view in = { .data = ext, .y0 = -m, .x0 = -m, .h = (size_t) eh, .w = (size_t) ew,
                         .c_stride = 1, .y_stride = ew * c, .x_stride = c };
    tconv_out_view out = { .data = res, .y0 = 0, .x0 = 0, .h = g.out_h, .w = g.out_w,
                           .c_stride = 1, .y_stride = (ptrdiff_t) (g.out_w * g.out_c),
                           .x_stride = c };
    tconv_bank_class_map cm = { map, -m + (long) halo, -m + (long) halo,
                                (size_t) (eh - 2 * (long) halo), (size_t) (ew - 2 * (long) halo),
                                ew - 2 * (long) halo };
    dwork = test_malloc (g.out_len * sizeof (double));
    if (tconv_bank_upsample_ref (b, &g, &in, &cm, &out, dwork, g.out_len, NULL) != TCONV_OK)
      abort ();
  }
  free (ext), free (L), free (map), free (work), free (dwork);
  return res;
}

/* Banks through the whole pipeline: equal to the definition for grey and RGB, every border,
 * one-row bands to one band; 1, 2 and 7 threads give the same bytes; a flat image stays flat. */
static void
bank_matches_reference (test_rng *rng)
{
  static const struct { const char *fmt; long c; } fmts[] = { { "Y' float", 1 },
                                                               { "R'G'B' float", 3 } };
  int oracle_bad = 0, threads_bad = 0, runs = 0;
  double worst = 0.0, flat_worst = 0.0;

  for (size_t s = 2; s <= 3; s++)
    for (size_t f = 0; f < G_N_ELEMENTS (fmts); f++)
      for (int border = 0; border < TCONV_BORDER_COUNT; border++)
        {
          tconv_bank *b = test_bank (rng, s);
          const long  w = 37, h = 29, c = fmts[f].c;
          float      *img = test_malloc (sizeof (float) * (size_t) (w * h * c)), *ref, *first = NULL;
          GeglBuffer *src;
          static const int threads[] = { 1, 2, 7 };
          static const guint64 budgets[] = { 0, 0, 30000 };

          /* edges at several angles and a ramp, so that many classes occur */
          for (long y = 0; y < h; y++)
            for (long x = 0; x < w; x++)
              for (long ch = 0; ch < c; ch++)
                img[(y * w + x) * c + ch] = (float) (0.3 + 0.4 * ((x + 2 * y) % 17 < 8)
                                                     + 0.01 * (double) x
                                                     + 0.05 * test_rng_signed (rng));
          src = buffer_from (img, 0, 0, (int) w, (int) h, fmts[f].fmt);
          ref = reference_bank (b, (TconvBorder) border, img, h, w, c);
          for (int t = 0; t < 3; t++)
            {
              TconvUpscaleOptions o;
              GError             *error = NULL;
              GeglBuffer         *dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, (int) (w * s), (int) (h * s)),
                                                         babl_format (fmts[f].fmt));
              float              *got;
              size_t              at = 0, n = (size_t) (w * s * h * s * c);

              tconv_pipeline_upscale_options_init (&o);
              o.bank = b, o.kernel = b->global, o.border = (TconvBorder) border;
              o.threads = threads[t], o.memory_budget = budgets[t];
              runs++;
              if (!tconv_pipeline_upscale (src, dst, &o, &error))
                {
                  test_diag ("bank x%zu %s: %s", s, fmts[f].fmt, error->message);
                  g_clear_error (&error);
                  oracle_bad++;
                  g_object_unref (dst);
                  continue;
                }
              got = buffer_pixels (dst, fmts[f].fmt);
              double d = max_diff (got, ref, n, &at);
              worst = d > worst ? d : worst;
              if (!(d < 1e-5))
                {
                  oracle_bad++;
                  test_diag ("bank x%zu %s border %s threads %d: %g off the oracle at %zu", s,
                             fmts[f].fmt, border_names[border], threads[t], d, at);
                }
              if (first == NULL)
                first = got;
              else
                {
                  threads_bad += memcmp (first, got, n * sizeof (float)) != 0;
                  free (got);
                }
              g_object_unref (dst);
            }
          /* flat: every pixel 0.4 */
          if (border != TCONV_BORDER_ZERO)
            {
              TconvUpscaleOptions o;
              GeglBuffer         *dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, (int) (w * s), (int) (h * s)),
                                                         babl_format (fmts[f].fmt));
              GeglBuffer         *flat;
              float              *got;
              for (long i = 0; i < w * h * c; i++)
                img[i] = 0.4f;
              flat = buffer_from (img, 0, 0, (int) w, (int) h, fmts[f].fmt);
              tconv_pipeline_upscale_options_init (&o);
              o.bank = b, o.kernel = b->global, o.border = (TconvBorder) border;
              if (tconv_pipeline_upscale (flat, dst, &o, NULL))
                {
                  got = buffer_pixels (dst, fmts[f].fmt);
                  for (size_t i = 0; i < (size_t) (w * s * h * s * c); i++)
                    flat_worst = fmax (flat_worst, fabs (got[i] - 0.4));
                  free (got);
                }
              else
                flat_worst = 1.0;
              g_object_unref (flat), g_object_unref (dst);
            }
          free (first), free (ref), free (img);
          g_object_unref (src);
          tconv_bank_free (b);
        }
  CHECK (oracle_bad == 0, "banks x2, x3, grey and RGB, 4 borders, 1/2/7 threads and one-row "
         "bands: the pipeline equals the definition (%d of %d runs off; worst %g)", oracle_bad,
         runs, worst);
  CHECK (threads_bad == 0, "banks: 1, 2, 7 threads and thin bands give the same bytes (%d differ)",
         threads_bad);
  CHECK (flat_worst < 1e-6, "banks: a flat image stays flat through the pipeline (worst %g)",
         flat_worst);
}

/* Anti-ringing through the pipeline: with A the result equals the A = 0 result pulled towards
 * the range of the 2 x 2 input pixels around each output pixel (found here from the image and
 * the border mode), for kernels and banks; 1, 2, 7 threads and thin bands give the same bytes. */
static void
antiring_in_pipeline (test_rng *rng)
{
  const long w = 37, h = 29;
  float     *img = test_malloc (sizeof (float) * (size_t) (w * h));
  int        bad = 0, threads_bad = 0, cases = 0;

  for (long i = 0; i < w * h; i++)
    img[i] = (float) (((i % w) / 5 + (i / w) / 4) % 2 ? 0.85 : 0.15);
  GeglBuffer *src = buffer_from (img, 0, 0, (int) w, (int) h, "Y' float");
  for (int kind = 0; kind < 3; kind++)
    for (int border = 0; border < TCONV_BORDER_COUNT; border++)
      {
        const size_t  s = kind == 1 ? 3 : 2;
        tconv_bank   *b = kind == 2 ? test_bank (rng, 2) : NULL;
        tconv_kernel *k = b != NULL ? NULL : analytic (kind ? TCONV_ANALYTIC_LANCZOS3 : TCONV_ANALYTIC_BICUBIC, s);
        const tconv_kernel *kk = b != NULL ? b->global : k;
        float        *plain = NULL, *first = NULL;
        static const int    threads[] = { 1, 2, 7 };
        static const double amount[] = { 0.0, 0.6, 0.6, 0.6 };

        for (int run = 0; run < 4; run++)
          {
            TconvUpscaleOptions o;
            GeglBuffer *dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, (int) (w * (long) s), (int) (h * (long) s)),
                                               babl_format ("Y' float"));
            tconv_pipeline_upscale_options_init (&o);
            o.kernel = kk, o.bank = b, o.border = (TconvBorder) border, o.antiring = amount[run];
            o.threads = run == 0 ? 1 : threads[run - 1];
            o.memory_budget = run == 3 ? 20000 : 0;
            if (!tconv_pipeline_upscale (src, dst, &o, NULL))
              {
                bad++;
                g_object_unref (dst);
                continue;
              }
            float *px = buffer_pixels (dst, "Y' float");
            g_object_unref (dst);
            if (run == 0)
              {
                plain = px;
                continue;
              }
            if (first != NULL)
              {
                threads_bad += memcmp (first, px, sizeof (float) * (size_t) (w * h) * s * s) != 0;
                free (px);
                continue;
              }
            first = px;
            cases++;
            for (long y = 0; y < h * (long) s; y++)
              for (long x = 0; x < w * (long) s; x++)
                {
                  const long   iy = (long) floor ((y + 0.5) / s - 0.5), ix = (long) floor ((x + 0.5) / s - 0.5);
                  double       lo = INFINITY, hi = -INFINITY, v = plain[y * w * (long) s + x], want;
                  for (long dy = 0; dy < 2; dy++)
                    for (long dx = 0; dx < 2; dx++)
                      {
                        long   sy = map_index ((TconvBorder) border, iy + dy, h);
                        long   sx = map_index ((TconvBorder) border, ix + dx, w);
                        double p = sy < 0 || sx < 0 ? 0.0 : img[sy * w + sx];
                        lo = fmin (lo, p), hi = fmax (hi, p);
                      }
                  want = v > hi ? v - 0.6 * (v - hi) : v < lo ? v + 0.6 * (lo - v) : v;
                  if (fabs (want - px[y * w * (long) s + x]) > 1e-6)
                    {
                      if (bad++ < 3)
                        test_diag ("antiring kind %d border %s at (%ld, %ld): %g, want %g", kind,
                                   border_names[border], x, y, px[y * w * (long) s + x], want);
                    }
                }
          }
        free (plain), free (first);
        tconv_kernel_free (k);
        tconv_bank_free (b);
      }
  CHECK (bad == 0, "--antiring 0.6: bicubic x2, lanczos3 x3 and a bank, 4 borders: the A = 0 "
         "result pulled 60 %% towards the 2x2 input range (%d of %d cases off)", bad, cases);
  CHECK (threads_bad == 0, "--antiring: 1, 2, 7 threads and thin bands give the same bytes");
  g_object_unref (src);
  free (img);
}

/* Float results narrowed to 8 bits (the float path writing an 8-bit buffer) equal babl's own
 * conversion of the same float results, byte for byte: values on and one float beside every
 * rounding boundary (k + 0.5) / 255, below 0, above 1 and infinities, through a nearest x2
 * kernel that copies them to the output, with enough samples for the vector loop and a tail.
 * NaN gives 0 (babl gives 255 in its vector groups and 0 alone: nan_narrows_alike()). */
static void
narrowing_matches_babl (void)
{
  const int     w = 67, h = 9, c = 3, n = w * h * c;
  float        *img = test_malloc (sizeof (float) * (size_t) n);
  tconv_kernel *k = analytic (TCONV_ANALYTIC_NEAREST, 2);
  Run           r = { k, TCONV_BORDER_CLAMP, 0, 0, 2, 0, FALSE };
  GError       *error = NULL;
  GeglBuffer   *src, *as_float, *as_u8;
  int           differ = 0, total = 0;

  for (int i = 0; i < n; i++)
    {
      const float edge = ((float) (i / 4 % 256) + 0.5f) / 255.0f;
      const int   kind = i % 4;
      img[i] = kind == 0 ? edge : kind == 1 ? nextafterf (edge, 2.0f)
               : kind == 2 ? nextafterf (edge, -1.0f) : (float) (i % 7) * 0.37f - 0.9f;
    }
  img[5] = NAN, img[17] = INFINITY, img[29] = -INFINITY, img[41] = -0.0f, img[53] = 1.0f;
  src = buffer_from (img, 0, 0, w, h, "R'G'B' float");
  as_float = run_pipeline (src, &r, "R'G'B' float", &error);
  as_u8 = as_float != NULL ? run_pipeline (src, &r, "R'G'B' u8", &error) : NULL;
  if (as_u8 != NULL)
    {
      const GeglRectangle *e = gegl_buffer_get_extent (as_u8);
      const int            m = e->width * e->height * c;
      guint8              *got = test_malloc ((size_t) m), *want = test_malloc ((size_t) m);
      float               *f = buffer_pixels (as_float, "R'G'B' float");
      gegl_buffer_get (as_u8, NULL, 1.0, babl_format ("R'G'B' u8"), got, GEGL_AUTO_ROWSTRIDE,
                       GEGL_ABYSS_NONE);
      babl_process (babl_fish (babl_format ("R'G'B' float"), babl_format ("R'G'B' u8")), f,
                    want, e->width * e->height);
      for (int i = 0; i < m; i++)
        differ += got[i] != (isnan (f[i]) ? 0 : want[i]);
      total = m;
      free (got), free (want), free (f);
    }
  CHECK (as_u8 != NULL && differ == 0,
         "8-bit output of the float path = babl's conversion of its float output: %d of %d "
         "samples differ (%s)", differ, total, error != NULL ? error->message : "no error");
  g_clear_error (&error);
  g_clear_object (&as_float);
  g_clear_object (&as_u8);
  g_object_unref (src);
  tconv_kernel_free (k);
  free (img);
}

/* A bank's gather narrows each piece as it finishes it (tconv_bank_upsample_to()) when the
 * output is 8 or 16 bits: those bytes equal babl's conversion of the same job's float output,
 * for grey, RGB and RGBA (unpremultiplied first), anti-ringing on and off, images several of
 * the gather's column chunks wide, in thin bands on 3 threads. With --linear (whose levels are
 * exact, not babl's: linear_to_integer_samples()) each level is the sRGB encoding of the job's
 * linear float output, rounded, for some value within 2e-6 of it. */
static void
bank_narrowing_matches_babl (test_rng *rng)
{
  static const struct { const char *fl, *in; int c; gboolean linear; } cases[] = {
    { "Y' float", "Y' u8", 1, FALSE },          { "R'G'B' float", "R'G'B' u8", 3, FALSE },
    { "R'G'B'A float", "R'G'B'A u8", 4, FALSE }, { "R'G'B' float", "R'G'B' u16", 3, FALSE },
    { "R'G'B'A float", "R'G'B'A u16", 4, FALSE }, { "RGB float", "R'G'B' u8", 3, TRUE },
    { "Y'A float", "Y'A u8", 2, FALSE },
  };
  int differ = 0, failed = 0, total = 0;

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int ar = 0; ar < 2; ar++)
      {
        const size_t s = 2 + i % 2;
        const int    w = 150 + (int) i, h = 11, c = cases[i].c;
        tconv_bank  *b = test_bank (rng, s);
        float       *img = test_malloc (sizeof (float) * (size_t) (w * h * c));
        GeglBuffer  *src, *as_float = NULL, *as_int = NULL;
        GError      *error = NULL;

        for (int p = 0; p < w * h; p++)
          for (int ch = 0; ch < c; ch++)
            img[p * c + ch] = (float) (0.5 + 0.45 * test_rng_signed (rng) + 0.3 * (p % 9 < 4));
        if (c == 2 || c == 4)
          for (int p = 0; p < w * h; p += 13)
            img[p * c + c - 1] = 0.0f; /* some pixels fully transparent */
        src = buffer_from (img, 0, 0, w, h, cases[i].fl);
        for (int k = 0; k < 2; k++)
          {
            TconvUpscaleOptions o;
            GeglBuffer *dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, w * (int) s, h * (int) s),
                                               babl_format (k == 0 ? cases[i].fl : cases[i].in));
            tconv_pipeline_upscale_options_init (&o);
            o.bank = b, o.kernel = b->global, o.border = TCONV_BORDER_MIRROR;
            o.antiring = ar ? 0.75f : 0.0f;
            o.linear = cases[i].linear;
            o.threads = 3, o.memory_budget = 60000;
            if (!tconv_pipeline_upscale (src, dst, &o, &error))
              g_clear_object (&dst);
            *(k == 0 ? &as_float : &as_int) = dst;
          }
        if (as_float != NULL && as_int != NULL)
          {
            const Babl *fmt = babl_format (cases[i].in);
            const gsize n = (gsize) w * s * h * s, bytes = n * babl_format_get_bytes_per_pixel (fmt);
            guint8     *got = test_malloc (bytes), *want = test_malloc (bytes);
            float      *f = buffer_pixels (as_float, cases[i].fl);
            gegl_buffer_get (as_int, NULL, 1.0, fmt, got, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
            babl_process (babl_fish (babl_format (cases[i].fl), fmt), f, want, (long) n);
            if (cases[i].linear)
              for (gsize j = 0; j < n * (gsize) c; j++)
                {
                  const double lo = CLAMP (f[j] - 2e-6, 0.0, 1.0), hi = CLAMP (f[j] + 2e-6, 0.0, 1.0);
                  const double l0 = floor (linear_to_srgb (lo) * 255.0 + 0.5);
                  const double l1 = floor (linear_to_srgb (hi) * 255.0 + 0.5);
                  want[j] = got[j] >= l0 && got[j] <= l1 ? got[j] : (guint8) (got[j] + 1);
                }
            if (memcmp (got, want, bytes) != 0)
              {
                differ++;
                test_diag ("bank x%zu %s%s%s: the narrowed output differs from babl's", s,
                           cases[i].in, cases[i].linear ? " linear" : "",
                           ar ? " antiring" : "");
              }
            free (got), free (want), free (f);
          }
        else
          {
            failed++;
            test_diag ("bank %s: %s", cases[i].in, error != NULL ? error->message : "?");
          }
        total++;
        g_clear_error (&error);
        g_clear_object (&as_float);
        g_clear_object (&as_int);
        g_object_unref (src);
        tconv_bank_free (b);
        free (img);
      }
  CHECK (differ == 0 && failed == 0,
         "banks writing 8/16 bits (narrowed inside the gather) = babl's conversion of their "
         "float output: %d of %d jobs differ, %d failed", differ, total, failed);
}

/* NaN narrows to 0 at 8 bits wherever it falls in a run of samples (the ends of rows, bands
 * and a bank's pieces included), as docs/robustness.md says and as at 16 bits: an image of
 * NaN through a nearest kernel and a bank, in one-row bands of 14 x 3 samples. */
static void
nan_narrows_alike (test_rng *rng)
{
  const int     w = 7, h = 3, c = 3, n = w * h * c;
  float        *img = test_malloc (sizeof (float) * (size_t) n);
  tconv_kernel *k = analytic (TCONV_ANALYTIC_NEAREST, 2);
  tconv_bank   *b = test_bank (rng, 2);
  int           odd = 0, failed = 0;

  for (int i = 0; i < n; i++)
    img[i] = NAN;
  GeglBuffer *src = buffer_from (img, 0, 0, w, h, "R'G'B' float");
  for (int job = 0; job < 2; job++)
    {
      TconvUpscaleOptions o;
      GeglBuffer *dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 2 * w, 2 * h),
                                         babl_format ("R'G'B' u8"));
      guint8      got[2 * 7 * 2 * 3 * 3];
      GError     *error = NULL;
      tconv_pipeline_upscale_options_init (&o);
      o.kernel = job == 0 ? k : b->global;
      o.bank = job == 0 ? NULL : b;
      o.memory_budget = job == 0 ? 2000 : 5000, o.threads = 1;
      if (!tconv_pipeline_upscale (src, dst, &o, &error))
        {
          test_diag ("NaN job %d: %s", job, error->message);
          g_clear_error (&error);
          failed++;
        }
      else
        {
          gegl_buffer_get (dst, NULL, 1.0, babl_format ("R'G'B' u8"), got, GEGL_AUTO_ROWSTRIDE,
                           GEGL_ABYSS_NONE);
          for (size_t i = 0; i < sizeof got; i++)
            odd += got[i] != 0;
        }
      g_object_unref (dst);
    }
  CHECK (failed == 0 && odd == 0, "NaN narrows to 0 at 8 bits wherever it falls in a run "
         "(%d samples not 0, %d jobs failed)", odd, failed);
  g_object_unref (src);
  tconv_bank_free (b);
  tconv_kernel_free (k);
  free (img);
}

int
main (void)
{
  test_rng rng;

  test_begin ("test-pipeline");
  test_rng_init (&rng, 4);
  gegl_init (NULL, NULL);
  /* GEGL's pool caps the thread count: make room for the 7 threads the tests ask for */
  g_object_set (gegl_config (), "threads", 8, NULL);
  borders_match_reference (&rng);
  constant_stays_constant ();
  size_matches_reference (&rng);
  threads_identical (&rng);
  memory_output_matches_buffer (&rng);
  u8_path_matches_reference (&rng);
  u8_alpha_is_premultiplied (&rng);
  alpha_no_fringe ();
  precision_and_origin ();
  linear_from_integer_samples (&rng);
  linear_to_integer_samples (&rng);
  errors ();
  region_equals_whole (&rng);
  region_errors ();
  bank_matches_reference (&rng);
  antiring_in_pipeline (&rng);
  narrowing_matches_babl ();
  bank_narrowing_matches_babl (&rng);
  nan_narrows_alike (&rng);
  gegl_exit ();
  return test_end ();
}
