/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the image pipeline (pipeline/tconv-pipeline*.c): the fuzz bytes choose
 * a tiny image (1..12 x 1..12) in a babl format (Y, Y', YA, Y'A, RGB, R'G'B', RGBA, R'G'B'A
 * at u8, u16 or float; float images may hold NaN, +-Inf and huge values), a kernel (an
 * analytic type and stride, or the rest of the bytes parsed as a .tconv file) and the options
 * (border, linear, normalize-phases, output size, threads, memory budget), and run
 * tconv_pipeline_upscale(). It must not crash; refusals must be TCONV_PIPELINE_ERROR with a
 * message; the output bytes must not depend on the thread count or the memory budget; and a
 * constant image through an analytic kernel with a border other than zero stays constant.
 * GEGL is initialised once, kept in RAM (no swap files) and exited at exit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gegl.h>

#include "tconv-pipeline.h"
#include "tconv.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_MAX_SIDE   12
#define FUZZ_MAX_OUT    48 /* output pixels per side the fuzzer lets run */
#define FUZZ_MAX_KERNEL 24 /* kernel taps per side */
#define HEADER_LEN      12 /* fixed bytes before the optional .tconv text */

#define FUZZ_CHECK(cond, what)                                                                   \
  do                                                                                             \
    {                                                                                            \
      if (!(cond))                                                                               \
        {                                                                                        \
          fprintf (stderr, "fuzz-pipeline: %s\n", what);                                         \
          abort ();                                                                              \
        }                                                                                        \
    }                                                                                            \
  while (0)

static const char *const models[] = { "Y", "Y'", "YA", "Y'A", "RGB", "R'G'B'", "RGBA", "R'G'B'A" };
static const char *const types[] = { "u8", "u16", "float" };

static void
fuzz_init (void)
{
  static int done;

  if (done)
    return;
  /* no swap files, no OpenCL, quiet */
  g_setenv ("GEGL_SWAP", "RAM", TRUE);
  g_setenv ("GEGL_USE_OPENCL", "no", TRUE);
  gegl_init (NULL, NULL);
  g_object_set (gegl_config (), "swap", "RAM", "threads", 1, NULL);
  /* GEGL's modules and caches are released before the leak check at exit, as the tconv
   * command does */
  atexit (gegl_exit);
  done = 1;
}

typedef struct
{
  uint64_t s;
} rng;

static uint32_t
rng_next (rng *g)
{
  g->s ^= g->s << 13;
  g->s ^= g->s >> 7;
  g->s ^= g->s << 17;
  return (uint32_t) (g->s >> 11);
}

/* One sample of type @t (0 u8, 1 u16, 2 float) into @p; @hostile lets floats be non-finite. */
static void
put_sample (guint8 *p, int t, double v01, int hostile, rng *g)
{
  if (t == 0)
    *p = (guint8) (v01 * 255.0 + 0.5);
  else if (t == 1)
    {
      guint16 u = (guint16) (v01 * 65535.0 + 0.5);
      memcpy (p, &u, 2);
    }
  else
    {
      float f = (float) v01;
      if (hostile)
        switch (rng_next (g) % 8)
          {
          case 0: f = NAN; break;
          case 1: f = INFINITY; break;
          case 2: f = -INFINITY; break;
          case 3: f = 3e38f; break;
          case 4: f = -3e38f; break;
          case 5: f = (float) (v01 * 4.0 - 2.0); break; /* out of [0, 1] */
          default: break;
          }
      memcpy (p, &f, 4);
    }
}

static double
read_sample (const guint8 *p, int t)
{
  if (t == 0)
    return p[0] / 255.0;
  if (t == 1)
    {
      guint16 u;
      memcpy (&u, p, 2);
      return u / 65535.0;
    }
  float f;
  memcpy (&f, p, 4);
  return f;
}

/* Runs the job into a new buffer; returns its bytes (g_free) or NULL with @error set. */
static guint8 *
run (GeglBuffer *src, const Babl *fmt, gint ow, gint oh, TconvUpscaleOptions *opt,
     gsize *len, GError **error)
{
  GeglBuffer *dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, ow, oh), fmt);
  guint8     *bytes = NULL;

  if (tconv_pipeline_upscale (src, dst, opt, error))
    {
      *len = (gsize) ow * (gsize) oh * (gsize) babl_format_get_bytes_per_pixel (fmt);
      bytes = g_malloc (*len);
      gegl_buffer_get (dst, GEGL_RECTANGLE (0, 0, ow, oh), 1.0, fmt, bytes,
                       GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    }
  g_object_unref (dst);
  return bytes;
}

static void
check_refusal (GError *error, const char *what)
{
  FUZZ_CHECK (error != NULL && error->domain == TCONV_PIPELINE_ERROR && error->message != NULL
                && error->message[0] != '\0',
              what);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t             h[HEADER_LEN] = { 0 };
  const Babl         *fmt;
  GeglBuffer         *src;
  tconv_kernel       *kernel = NULL;
  TconvUpscaleOptions opt;
  GError             *error = NULL;
  rng                 gen;
  int                 type, comps, constant, hostile, analytic;
  gint                w, hh, ow, oh;
  gsize               bpp, len1 = 0, len2 = 0;
  guint8             *pixels, *out1, *out2;
  gchar              *name;

  fuzz_init ();
  memcpy (h, data, size < HEADER_LEN ? size : HEADER_LEN);

  type = h[0] % 3;
  name = g_strdup_printf ("%s %s", models[(h[0] / 3) % 8], types[type]);
  fmt = babl_format (name);
  g_free (name);
  comps = babl_format_get_n_components (fmt);
  bpp = (gsize) babl_format_get_bytes_per_pixel (fmt);
  w = 1 + h[1] % FUZZ_MAX_SIDE;
  hh = 1 + h[2] % FUZZ_MAX_SIDE;
  constant = (h[3] & 1) != 0;
  hostile = type == 2 && (h[3] & 2) != 0;
  gen.s = 0x2545F4914F6CDD1Dull ^ ((uint64_t) h[10] << 8 | h[11]);

  /* The kernel: analytic, or the bytes after the header as a .tconv file. */
  analytic = size <= HEADER_LEN || (h[4] & 0x80) == 0;
  if (!analytic)
    {
      tconv_error err;
      if (tconv_kernel_parse ((const char *) data + HEADER_LEN, size - HEADER_LEN, &kernel, &err)
            != TCONV_OK
          || kernel->k_h > FUZZ_MAX_KERNEL || kernel->k_w > FUZZ_MAX_KERNEL
          || kernel->stride_h > 4 || kernel->stride_w > 4)
        {
          tconv_kernel_free (kernel);
          kernel = NULL;
          analytic = 1;
        }
    }
  if (analytic)
    {
      const tconv_analytic t = (tconv_analytic) (h[4] % TCONV_ANALYTIC_COUNT);
      const size_t         sh = 1 + (h[5] & 3), sw = 1 + ((h[5] >> 2) & 3);

      FUZZ_CHECK (tconv_kernel_analytic (t, sh, sw, &kernel, NULL) == TCONV_OK && kernel != NULL,
                  "an analytic kernel failed");
    }

  /* The image. */
  src = gegl_buffer_new (GEGL_RECTANGLE ((h[9] & 7) - 3, (h[9] >> 3 & 7) - 3, w, hh), fmt);
  pixels = g_malloc ((gsize) w * (gsize) hh * bpp);
  {
    guint8 px[32];
    for (int c = 0; c < comps; c++)
      put_sample (px + c * (bpp / comps), type, (rng_next (&gen) % 1001) / 1000.0, 0, &gen);
    for (gint i = 0; i < w * hh; i++)
      {
        guint8 *p = pixels + (gsize) i * bpp;
        if (constant)
          memcpy (p, px, bpp);
        else
          for (int c = 0; c < comps; c++)
            put_sample (p + c * (bpp / comps), type, (rng_next (&gen) % 1001) / 1000.0,
                        hostile && rng_next (&gen) % 4 == 0, &gen);
      }
  }
  gegl_buffer_set (src, gegl_buffer_get_extent (src), 0, fmt, pixels, GEGL_AUTO_ROWSTRIDE);

  /* The options. */
  tconv_pipeline_upscale_options_init (&opt);
  opt.kernel = kernel;
  opt.border = (TconvBorder) (h[6] % TCONV_BORDER_COUNT);
  opt.linear = (h[6] & 4) != 0;
  opt.normalize_phases = (h[6] & 8) != 0;
  opt.threads = 1;
  if (h[6] & 16)
    {
      opt.out_width = 1 + h[7] % FUZZ_MAX_OUT;
      opt.out_height = 1 + h[8] % FUZZ_MAX_OUT;
    }
  if (!tconv_pipeline_output_size (&opt, w, hh, &ow, &oh, &error))
    {
      check_refusal (error, "output size refused without a pipeline error");
      g_clear_error (&error);
      goto out;
    }
  if (ow > FUZZ_MAX_OUT * 4 || oh > FUZZ_MAX_OUT * 4)
    goto out;

  out1 = run (src, fmt, ow, oh, &opt, &len1, &error);
  if (out1 == NULL)
    {
      check_refusal (error, "tconv_pipeline_upscale failed without a pipeline error");
      /* an analytic kernel is always usable at its own stride */
      FUZZ_CHECK (!analytic || error->code != TCONV_PIPELINE_ERROR_INVALID || opt.normalize_phases,
                  "an analytic kernel was refused");
      g_clear_error (&error);
      goto out;
    }

  /* The same bytes on two threads in small bands. */
  opt.threads = 2;
  opt.memory_budget = 1024 + (guint64) (h[7] ^ h[8]) * 64;
  out2 = run (src, fmt, ow, oh, &opt, &len2, &error);
  if (out2 == NULL)
    {
      check_refusal (error, "second run failed without a pipeline error");
      FUZZ_CHECK (error->code == TCONV_PIPELINE_ERROR_TOO_LARGE,
                  "a run that succeeded failed with another budget for another reason");
      g_clear_error (&error);
    }
  else
    {
      FUZZ_CHECK (len1 == len2 && memcmp (out1, out2, len1) == 0,
                  "output bytes depend on the thread count or the memory budget");
      g_free (out2);
    }

  /* A constant image stays constant. */
  if (constant && analytic && opt.border != TCONV_BORDER_ZERO)
    {
      const gsize  step = bpp / (gsize) comps;
      const double tol = type == 0 ? 1.0 / 255 + 1e-9 : type == 1 ? 2.0 / 65535 : 1e-4;

      for (gsize i = 1; i < (gsize) ow * (gsize) oh; i++)
        for (int c = 0; c < comps; c++)
          {
            const double a = read_sample (out1 + c * step, type);
            const double b = read_sample (out1 + i * bpp + c * step, type);
            if (!(fabs (a - b) <= tol * (fabs (a) > 1.0 ? fabs (a) : 1.0)))
              {
                fprintf (stderr, "fuzz-pipeline: constant %s image %dx%d -> %dx%d, kernel %s "
                         "x%zux%zu, border %s%s%s: pixel %zu channel %d is %.9g, pixel 0 %.9g\n",
                         babl_get_name (fmt), w, hh, ow, oh, kernel->name, kernel->stride_h,
                         kernel->stride_w, tconv_pipeline_border_name (opt.border),
                         opt.linear ? ", linear" : "", opt.normalize_phases ? ", normalized" : "",
                         i, c, b, a);
                abort ();
              }
          }
    }
  g_free (out1);

out:
  g_free (pixels);
  g_object_unref (src);
  tconv_kernel_free (kernel);
  return 0;
}
