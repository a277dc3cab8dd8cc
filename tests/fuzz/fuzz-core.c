/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Differential libFuzzer target for the core: the fuzz bytes become a tiny tconv_params (every
 * parameter, legal or not: groups, dilation, padding, output padding, hostile values), weights,
 * an input view with a halo or a crop, and an output ROI in a planar or interleaved layout.
 * tconv_geometry_init() must accept it with the PyTorch output size or reject it with a
 * message and an untouched geometry. Accepted geometries small enough to run go through
 * tconv_upsample() and, where they apply, the 8-bit path (tconv_u8_*), tconv_upsample_separable(),
 * tconv_upsample_zeroins() and the explicit matrix; each must write exactly the ROI and agree
 * with tconv_upsample_ref() within 1e-4 of the sum of the magnitudes of the terms (the
 * reference run on |weights| and |inputs|). Any disagreement aborts, so replay.c reports it. */
#include "tconv.h"
#include "tconv-oracle.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_MAX_OUT    20000u /* output elements (out_c * out_h * out_w) */
#define FUZZ_MAX_WORK   400000u /* multiply-adds of one pass over the whole output */
#define FUZZ_MAX_MATRIX 65536u  /* elements of the explicit matrix */
#define FUZZ_REL_TOL    1e-4
#define FUZZ_ABS_TOL    1e-30

/* A bit pattern no computation produces: unwritten output stays exactly this. */
static const uint32_t poison_bits = 0x7fc0dead;

static void
fuzz_fail (const char *what)
{
  fprintf (stderr, "fuzz-core: %s\n", what);
  abort ();
}

#define FUZZ_CHECK(cond, what)                                                                   \
  do                                                                                             \
    {                                                                                            \
      if (!(cond))                                                                               \
        fuzz_fail (what);                                                                        \
    }                                                                                            \
  while (0)

/* ---- decoding the bytes ---- */

typedef struct
{
  const uint8_t *p;
  size_t         n;
} reader;

static unsigned
take (reader *r)
{
  if (r->n == 0)
    return 0;
  r->n--;
  return *r->p++;
}

/* A value in lo..hi, or (for the top bytes) a hostile value that breaks a rule. */
static int64_t
pick (reader *r, int64_t lo, int64_t hi)
{
  static const int64_t hostile[] = { 0, -1, INT64_MIN, INT64_MAX, (int64_t) 1 << 40,
                                     (int64_t) TCONV_MAX_SIDE + 1 };
  const unsigned       b = take (r);

  if (b >= 256 - sizeof hostile / sizeof hostile[0])
    return hostile[b - (256 - sizeof hostile / sizeof hostile[0])];
  return lo + (int64_t) (b % (unsigned) (hi - lo + 1));
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

/* Values by mode: 0 zeros, 1 small integers, 2 uniform [-1, 1], 3 sparse, 4 large, 5 tiny.
 * Magnitudes stay below 1e15 so that no product or sum of a tiny case overflows a float. */
static float
rng_value (rng *g, unsigned mode)
{
  const double u = rng_next (g) / 2097152.0 - 1.0; /* [-1, 1) */

  switch (mode % 6)
    {
    case 0: return 0.0f;
    case 1: return (float) (int) (rng_next (g) % 7) - 3.0f;
    case 2: return (float) u;
    case 3: return rng_next (g) % 4 == 0 ? (float) u : 0.0f;
    case 4: return (float) (u * 1e15);
    default: return (float) (u * 1e-20);
    }
}

static void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size);
  FUZZ_CHECK (p != NULL, "out of memory");
  return p;
}

static float
poison (void)
{
  float f;
  memcpy (&f, &poison_bits, sizeof f);
  return f;
}

static int
is_poison (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  return u == poison_bits;
}

/* ---- the layouts ---- */

/* An input view of @h x @w pixels starting at (y0, x0), with @c channels, planar or
 * interleaved, rows padded by @pad elements; its data are exactly what it covers. */
typedef struct
{
  tconv_in_view v;
  float        *buf;
  size_t        len;
} in_buf;

static void
in_buf_make (in_buf *b, size_t c, int64_t y0, int64_t x0, size_t h, size_t w, int planar,
             size_t pad)
{
  memset (b, 0, sizeof *b);
  b->v.y0 = y0, b->v.x0 = x0, b->v.h = h, b->v.w = w;
  if (planar)
    {
      b->v.x_stride = 1;
      b->v.y_stride = (ptrdiff_t) (w + pad);
      b->v.c_stride = (ptrdiff_t) ((w + pad) * h);
      b->len = c * (w + pad) * h;
    }
  else
    {
      b->v.c_stride = 1;
      b->v.x_stride = (ptrdiff_t) c;
      b->v.y_stride = (ptrdiff_t) (w * c + pad);
      b->len = (w * c + pad) * h;
    }
  b->buf = xcalloc (b->len, sizeof (float));
  b->v.data = b->buf;
}

typedef struct
{
  tconv_out_view v;
  float         *buf;
  size_t         len;
} out_buf;

/* The ROI as a view into a buffer of exactly its size (plus row padding), poisoned. */
static void
out_buf_make (out_buf *b, size_t c, size_t y0, size_t x0, size_t h, size_t w, int planar,
              size_t pad)
{
  memset (b, 0, sizeof *b);
  b->v.y0 = y0, b->v.x0 = x0, b->v.h = h, b->v.w = w;
  if (planar)
    {
      b->v.x_stride = 1;
      b->v.y_stride = (ptrdiff_t) (w + pad);
      b->v.c_stride = (ptrdiff_t) ((w + pad) * h);
      b->len = c * (w + pad) * h;
    }
  else
    {
      b->v.c_stride = 1;
      b->v.x_stride = (ptrdiff_t) c;
      b->v.y_stride = (ptrdiff_t) (w * c + pad);
      b->len = (w * c + pad) * h;
    }
  b->buf = xcalloc (b->len, sizeof (float));
  for (size_t i = 0; i < b->len; i++)
    b->buf[i] = poison ();
  b->v.data = b->buf;
}

static size_t
out_index (const tconv_out_view *v, size_t c, size_t y, size_t x)
{
  return (size_t) ((ptrdiff_t) c * v->c_stride + (ptrdiff_t) y * v->y_stride
                   + (ptrdiff_t) x * v->x_stride);
}

/* Exactly the ROI was written (row padding still poisoned), with finite values. */
static void
check_written (const out_buf *b, size_t c_n, const char *what)
{
  unsigned char *mark = xcalloc (b->len, 1);

  for (size_t c = 0; c < c_n; c++)
    for (size_t y = 0; y < b->v.h; y++)
      for (size_t x = 0; x < b->v.w; x++)
        {
          const size_t i = out_index (&b->v, c, y, x);
          mark[i] = 1;
          FUZZ_CHECK (!is_poison (b->buf[i]) && isfinite (b->buf[i]), what);
        }
  for (size_t i = 0; i < b->len; i++)
    FUZZ_CHECK (mark[i] || is_poison (b->buf[i]), what);
  free (mark);
}

static void
check_close (const out_buf *got, const out_buf *ref, const out_buf *mag, size_t c_n,
             const char *what)
{
  for (size_t c = 0; c < c_n; c++)
    for (size_t y = 0; y < got->v.h; y++)
      for (size_t x = 0; x < got->v.w; x++)
        {
          const size_t i = out_index (&got->v, c, y, x);
          const double d = fabs ((double) got->buf[i] - (double) ref->buf[i]);

          if (!(d <= FUZZ_REL_TOL * (double) mag->buf[i] + FUZZ_ABS_TOL))
            {
              fprintf (stderr, "fuzz-core: %s: c=%zu y=%zu x=%zu (ROI %zu,%zu): got %.9g, "
                       "reference %.9g, magnitude %.9g\n", what, c, got->v.y0 + y, x,
                       got->v.y0, got->v.x0, (double) got->buf[i], (double) ref->buf[i],
                       (double) mag->buf[i]);
              abort ();
            }
        }
}

static void
run_ref (const tconv_geometry *g, const float *w, const float *bias, const tconv_in_view *in,
         out_buf *out)
{
  size_t  n = 0;
  double *work;

  FUZZ_CHECK (tconv_ref_work_len (g, &out->v, &n) == TCONV_OK, "ref work length");
  work = xcalloc (n, sizeof (double));
  FUZZ_CHECK (tconv_upsample_ref (g, w, bias, in, &out->v, work, n) == TCONV_OK,
              "tconv_upsample_ref refused a valid call");
  /* one double short is refused with nothing written */
  if (n > 0)
    {
      const float before = out->buf[0];
      FUZZ_CHECK (tconv_upsample_ref (g, w, bias, in, &out->v, work, n - 1)
                    == TCONV_ERR_INVALID_ARG
                  && (is_poison (before) ? is_poison (out->buf[0]) : out->buf[0] == before),
                  "tconv_upsample_ref accepted short scratch");
    }
  free (work);
}

/* ---- the paths ---- */

typedef struct
{
  tconv_geometry g;
  float         *w, *w_abs, *bias, *bias_abs;
  in_buf         in, in_abs;
  size_t         roi_y0, roi_x0, roi_h, roi_w;
  int            out_planar;
  size_t         out_pad;
} fcase;

static void
float_paths (fcase *t)
{
  const tconv_geometry *g = &t->g;
  out_buf               ref, mag, fast;

  out_buf_make (&ref, g->out_c, t->roi_y0, t->roi_x0, t->roi_h, t->roi_w, t->out_planar,
                t->out_pad);
  out_buf_make (&mag, g->out_c, t->roi_y0, t->roi_x0, t->roi_h, t->roi_w, t->out_planar,
                t->out_pad);
  out_buf_make (&fast, g->out_c, t->roi_y0, t->roi_x0, t->roi_h, t->roi_w, t->out_planar,
                t->out_pad);
  run_ref (g, t->w, t->bias, &t->in.v, &ref);
  run_ref (g, t->w_abs, t->bias_abs, &t->in_abs.v, &mag);
  check_written (&ref, g->out_c, "tconv_upsample_ref wrote outside the ROI or left a hole");
  FUZZ_CHECK (tconv_upsample (g, t->w, t->bias, &t->in.v, &fast.v, NULL) == TCONV_OK,
              "tconv_upsample refused a valid call");
  check_written (&fast, g->out_c, "tconv_upsample wrote outside the ROI or left a hole");
  check_close (&fast, &ref, &mag, g->out_c, "tconv_upsample != tconv_upsample_ref");

  /* An ROI reaching one column past the output is refused with nothing written. */
  {
    tconv_out_view bad = fast.v;
    bad.x0 = g->out_w - bad.w + 1;
    for (size_t i = 0; i < fast.len; i++)
      fast.buf[i] = poison ();
    FUZZ_CHECK (tconv_upsample (g, t->w, t->bias, &t->in.v, &bad, NULL) == TCONV_ERR_INVALID_ARG,
                "tconv_upsample accepted an ROI past the right edge");
    for (size_t i = 0; i < fast.len; i++)
      FUZZ_CHECK (is_poison (fast.buf[i]), "a refused tconv_upsample wrote");
  }
  free (ref.buf), free (mag.buf), free (fast.buf);
}

static int
depthwise_plain (const tconv_geometry *g)
{
  return g->groups == g->in_c && g->out_c == g->in_c && g->dil_h == 1 && g->dil_w == 1;
}

/* The 8-bit path (tconv_u8_*) against the reference on the same integer samples, rounded:
 * output rows [roi_y0, roi_y0 + roi_h) at full width, from 8-bit rows holding the fuzz input
 * view (zero outside it, as the view reads). Computed in two bands split at a random row, and
 * refused with nothing written when one input row it reads is missing. */
static void
u8_path (fcase *t, rng *gen)
{
  const tconv_geometry *g = &t->g;
  const size_t          C = g->in_c, y0 = t->roi_y0, y1 = t->roi_y0 + t->roi_h;
  const size_t          s = g->stride_h, R = (g->k_h + s - 1) / s, ostride = g->out_w * C + 2;
  int64_t               lo;
  size_t                n, bytes;
  tconv_error           err = { 0 };
  tconv_u8_plan        *plan = NULL;
  float                *bias, *bias_abs, *w, *w_abs;

  if (tconv_u8_columns (g, &lo, &n, &err) != TCONV_OK)
    {
      /* refused only outside the path's documented domain, with a message */
      FUZZ_CHECK (err.message[0] != '\0', "tconv_u8_columns refused without a message");
      const size_t P = g->stride_w * C, U = P / (P % 8 == 0 ? 8 : P % 4 == 0 ? 4 : P % 2 == 0 ? 2 : 1);
      FUZZ_CHECK (C > 4 || R * ((g->k_w + g->stride_w - 1) / g->stride_w) > 1024 || U > 64,
                  "tconv_u8_columns refused a geometry in its domain");
      return;
    }
  FUZZ_CHECK (tconv_u8_plan_size (g, &bytes, NULL) == TCONV_OK, "tconv_u8_plan_size");
  void *mem = xcalloc (bytes, 1);
  FUZZ_CHECK (tconv_u8_plan_init (g, t->w, NULL, lo, n, mem, bytes - 1, &plan, NULL)
                == TCONV_ERR_INVALID_ARG && plan == NULL,
              "tconv_u8_plan_init accepted one byte too few");
  /* The fuzz weights (up to +-4 each) scaled down by the taps per output and a bias near mid
   * grey, so most results land inside 0..255 rather than clamped. */
  const size_t taps = R * ((g->k_w + g->stride_w - 1) / g->stride_w);
  w = xcalloc (g->weight_len, sizeof (float));
  w_abs = xcalloc (g->weight_len, sizeof (float));
  for (size_t i = 0; i < g->weight_len; i++)
    w[i] = t->w[i] / (float) (4 * taps), w_abs[i] = fabsf (w[i]);
  bias = xcalloc (C, sizeof (float));
  bias_abs = xcalloc (C, sizeof (float));
  for (size_t c = 0; c < C; c++)
    bias[c] = (float) ((int) (rng_next (gen) % 81) + 88) / 255.0f;
  FUZZ_CHECK (tconv_u8_plan_init (g, w, t->bias != NULL ? bias : NULL, lo, n, mem, bytes, &plan,
                                  NULL) == TCONV_OK,
              "tconv_u8_plan_init refused a valid call");
  if (t->bias == NULL)
    memset (bias, 0, C * sizeof (float));

  /* input rows [r0, r0 + nr): every row a kernel tap can reach from rows y0..y1-1, and one
   * more on each side */
  const int64_t r0 = (int64_t) ((y0 + g->pad_h) / s) - (int64_t) R;
  const int64_t r1 = (int64_t) ((y1 - 1 + g->pad_h) / s) + 1;
  const size_t  nr = (size_t) (r1 - r0 + 1);
  const size_t  rf = tconv_u8_row_floats (plan);
  uint8_t      *px = xcalloc (nr * n * C, 1), *out8 = xcalloc (t->roi_h * ostride, 1);
  float        *exp = xcalloc (nr * rf, sizeof (float));
  const float **rows = xcalloc (nr, sizeof (float *));
  in_buf        inf, inmag;

  in_buf_make (&inf, C, r0, lo, nr, n, 0, 0);
  in_buf_make (&inmag, C, r0, lo, nr, n, 0, 0);
  for (size_t r = 0; r < nr; r++)
    {
      const int64_t iy = r0 + (int64_t) r - t->in.v.y0;
      for (size_t x = 0; x < n; x++)
        {
          const int64_t ix = lo + (int64_t) x - t->in.v.x0;
          const int     held = iy >= 0 && iy < (int64_t) t->in.v.h && ix >= 0
                           && ix < (int64_t) t->in.v.w;
          for (size_t c = 0; c < C; c++)
            {
              const uint8_t v = held ? (uint8_t) rng_next (gen) : 0;
              px[(r * n + x) * C + c] = v;
              inf.buf[(r * n + x) * C + c] = inmag.buf[(r * n + x) * C + c] = v;
            }
        }
      FUZZ_CHECK (tconv_u8_expand (plan, px + r * n * C, exp + r * rf, NULL) == TCONV_OK, "expand");
      rows[r] = exp + r * rf;
    }
  for (size_t c = 0; c < C; c++)
    bias[c] *= 255.0f, bias_abs[c] = fabsf (bias[c]); /* the plan's units -> sample units */

  /* without the rows up to the last one output row y0 reads: refused, nothing written (unless
   * y0 reads no row at all: zero weights) */
  memset (out8, 0xA5, t->roi_h * ostride);
  const tconv_status miss = tconv_u8_rows (plan, rows + 1, r0 + (int64_t) R + 1, nr - R - 1,
                                           y0, y1, out8, ostride, &err);
  FUZZ_CHECK (miss == TCONV_OK || miss == TCONV_ERR_INVALID_ARG, "tconv_u8_rows: status");
  for (size_t i = 0; miss != TCONV_OK && i < t->roi_h * ostride; i++)
    FUZZ_CHECK (out8[i] == 0xA5, "a refused tconv_u8_rows wrote");

  const size_t ym = y0 + rng_next (gen) % t->roi_h;
  memset (out8, 0xA5, t->roi_h * ostride);
  FUZZ_CHECK ((ym == y0 || tconv_u8_rows (plan, rows, r0, nr, y0, ym, out8, ostride, NULL)
                             == TCONV_OK)
                && tconv_u8_rows (plan, rows, r0, nr, ym, y1, out8 + (ym - y0) * ostride,
                                  ostride, NULL) == TCONV_OK,
              "tconv_u8_rows refused a valid call");

  out_buf ref, mag;
  out_buf_make (&ref, C, y0, 0, t->roi_h, g->out_w, 0, 0);
  out_buf_make (&mag, C, y0, 0, t->roi_h, g->out_w, 0, 0);
  run_ref (g, w, bias, &inf.v, &ref);
  run_ref (g, w_abs, bias_abs, &inmag.v, &mag);
  for (size_t y = 0; y < t->roi_h; y++)
    {
      for (size_t i = 0; i < g->out_w * C; i++)
        {
          const double f = ref.buf[y * g->out_w * C + i];
          const double m = mag.buf[y * g->out_w * C + i];
          const double want = f != f ? 0.0 : f < 0.0 ? 0.0 : f > 255.0 ? 255.0 : nearbyint (f);
          const double got = out8[y * ostride + i];
          const double frac = fabs (f - floor (f) - 0.5);
          /* exact unless the sum lies near a rounding boundary (float sums in another
           * order); never more than one level off */
          const int near = frac <= 2 * FUZZ_REL_TOL * m + 1e-3;

          if (!(fabs (got - want) <= (near ? 1.0 : 0.0)))
            {
              fprintf (stderr, "fuzz-core: tconv_u8_rows: row %zu elem %zu: got %g, "
                       "reference %.9g (want %g)\n", y0 + y, i, got, f, want);
              abort ();
            }
        }
      for (size_t i = g->out_w * C; i < ostride; i++)
        FUZZ_CHECK (out8[y * ostride + i] == 0xA5, "tconv_u8_rows wrote into row padding");
    }
  free (ref.buf), free (mag.buf), free (inf.buf), free (inmag.buf);
  free (px), free (out8), free (exp), free (rows), free (mem), free (bias), free (bias_abs);
  free (w), free (w_abs);
}

/* tconv_upsample_separable against the reference with the outer-product kernel. */
static void
separable_path (fcase *t, rng *gen, unsigned mode)
{
  const tconv_geometry *g = &t->g;
  const size_t          C = g->in_c, kh = g->k_h, kw = g->k_w;
  float *col = xcalloc (C * kh, sizeof (float)), *row = xcalloc (C * kw, sizeof (float));
  float *w = xcalloc (C * kh * kw, sizeof (float)), *wa = xcalloc (C * kh * kw, sizeof (float));
  out_buf ref, mag, sep;
  size_t  n = 0;
  float  *work;

  for (size_t i = 0; i < C * kh; i++)
    col[i] = rng_value (gen, mode % 6 == 4 ? 2 : mode); /* no 1e30 products in one tap */
  for (size_t i = 0; i < C * kw; i++)
    row[i] = rng_value (gen, mode % 6 == 4 ? 2 : mode);
  for (size_t c = 0; c < C; c++)
    for (size_t y = 0; y < kh; y++)
      for (size_t x = 0; x < kw; x++)
        {
          w[(c * kh + y) * kw + x] = col[c * kh + y] * row[c * kw + x];
          wa[(c * kh + y) * kw + x] = fabsf (w[(c * kh + y) * kw + x]);
        }
  out_buf_make (&ref, C, t->roi_y0, t->roi_x0, t->roi_h, t->roi_w, t->out_planar, t->out_pad);
  out_buf_make (&mag, C, t->roi_y0, t->roi_x0, t->roi_h, t->roi_w, t->out_planar, t->out_pad);
  out_buf_make (&sep, C, t->roi_y0, t->roi_x0, t->roi_h, t->roi_w, t->out_planar, t->out_pad);
  run_ref (g, w, t->bias, &t->in.v, &ref);
  run_ref (g, wa, t->bias_abs, &t->in_abs.v, &mag);
  FUZZ_CHECK (tconv_separable_work_len (g, &t->in.v, &sep.v, &n, NULL) == TCONV_OK,
              "separable work length");
  work = n ? xcalloc (n, sizeof (float)) : NULL;
  FUZZ_CHECK (tconv_upsample_separable (g, col, row, t->bias, &t->in.v, &sep.v, work, n, NULL)
                == TCONV_OK,
              "tconv_upsample_separable refused a valid call");
  check_written (&sep, C, "tconv_upsample_separable wrote outside the ROI or left a hole");
  /* two roundings of the factors against one of the product: a little more slack */
  for (size_t i = 0; i < mag.len; i++)
    if (!is_poison (mag.buf[i]))
      mag.buf[i] *= 2.0f;
  check_close (&sep, &ref, &mag, C, "tconv_upsample_separable != tconv_upsample_ref");
  free (work), free (col), free (row), free (w), free (wa);
  free (ref.buf), free (mag.buf), free (sep.buf);
}

/* The zero-insertion emulation and the explicit matrix on planar whole tensors. */
static void
whole_paths (fcase *t, rng *gen, unsigned mode)
{
  const tconv_geometry *g = &t->g;
  float  *x = xcalloc (g->in_len, sizeof (float)), *xa = xcalloc (g->in_len, sizeof (float));
  in_buf  pin, pina;
  out_buf ref, mag, got;
  size_t  n = 0, rows = 0, cols = 0;
  float  *work;

  for (size_t i = 0; i < g->in_len; i++)
    x[i] = rng_value (gen, mode), xa[i] = fabsf (x[i]);
  in_buf_make (&pin, g->in_c, 0, 0, g->in_h, g->in_w, 1, 0);
  in_buf_make (&pina, g->in_c, 0, 0, g->in_h, g->in_w, 1, 0);
  memcpy (pin.buf, x, g->in_len * sizeof (float));
  memcpy (pina.buf, xa, g->in_len * sizeof (float));
  out_buf_make (&ref, g->out_c, 0, 0, g->out_h, g->out_w, 1, 0);
  out_buf_make (&mag, g->out_c, 0, 0, g->out_h, g->out_w, 1, 0);
  out_buf_make (&got, g->out_c, 0, 0, g->out_h, g->out_w, 1, 0);
  run_ref (g, t->w, t->bias, &pin.v, &ref);
  run_ref (g, t->w_abs, t->bias_abs, &pina.v, &mag);

  if (tconv_zeroins_work_len (g, &n) == TCONV_OK && n <= 4 * FUZZ_MAX_WORK)
    {
      work = xcalloc (n, sizeof (float));
      FUZZ_CHECK (tconv_upsample_zeroins (g, t->w, t->bias, x, got.buf, work, n) == TCONV_OK,
                  "tconv_upsample_zeroins refused a valid call");
      check_written (&got, g->out_c, "tconv_upsample_zeroins left a hole");
      check_close (&got, &ref, &mag, g->out_c, "tconv_upsample_zeroins != tconv_upsample_ref");
      free (work);
    }

  if (tconv_matrix_size (g, &rows, &cols) == TCONV_OK && rows * cols <= FUZZ_MAX_MATRIX)
    {
      double *c = xcalloc (rows * cols, sizeof (double));
      FUZZ_CHECK (rows == g->in_len && cols == g->out_len, "tconv_matrix_size");
      FUZZ_CHECK (tconv_matrix_build (g, t->w, c, rows * cols) == TCONV_OK,
                  "tconv_matrix_build refused a valid call");
      for (size_t i = 0; i < got.len; i++)
        got.buf[i] = poison ();
      FUZZ_CHECK (tconv_matrix_apply_transpose (g, c, t->bias, x, got.buf) == TCONV_OK,
                  "tconv_matrix_apply_transpose refused a valid call");
      check_written (&got, g->out_c, "tconv_matrix_apply_transpose left a hole");
      check_close (&got, &ref, &mag, g->out_c, "C^T x != tconv_upsample_ref");
      free (c);
    }
  free (x), free (xa), free (pin.buf), free (pina.buf);
  free (ref.buf), free (mag.buf), free (got.buf);
}

/* ---- the entry point ---- */

static int64_t
axis_out (int64_t in, int64_t k, int64_t s, int64_t p, int64_t o, int64_t d)
{
  return (in - 1) * s - 2 * p + d * (k - 1) + o + 1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  reader         r = { data, size };
  tconv_params   p;
  tconv_geometry sentinel;
  fcase          t;
  tconv_error    err;
  tconv_status   st;
  rng            gen;
  unsigned       mode, flags;
  int64_t        gmul_in, gmul_out;

  memset (&t, 0, sizeof t);
  tconv_params_init (&p);
  p.groups = pick (&r, 1, 3);
  gmul_in = pick (&r, 1, 2);
  gmul_out = pick (&r, 1, 2);
  /* multiples of groups when both are legal, so that most cases get past that rule */
  p.in_c = p.groups > 0 && p.groups <= 3 && gmul_in > 0 && gmul_in <= 2 ? p.groups * gmul_in
                                                                         : gmul_in;
  p.out_c = p.groups > 0 && p.groups <= 3 && gmul_out > 0 && gmul_out <= 2
              ? p.groups * gmul_out
              : gmul_out;
  p.in_h = pick (&r, 1, 9);
  p.in_w = pick (&r, 1, 9);
  p.k_h = pick (&r, 1, 7);
  p.k_w = pick (&r, 1, 7);
  p.stride_h = pick (&r, 1, 5);
  p.stride_w = pick (&r, 1, 5);
  p.dil_h = pick (&r, 1, 3);
  p.dil_w = pick (&r, 1, 3);
  p.pad_h = pick (&r, 0, 6);
  p.pad_w = pick (&r, 0, 6);
  p.opad_h = pick (&r, 0, 4);
  p.opad_w = pick (&r, 0, 4);

  memset (&err, 0, sizeof err);
  memset (&t.g, 0x5A, sizeof t.g);
  memcpy (&sentinel, &t.g, sizeof sentinel);
  st = tconv_geometry_init (&t.g, &p, &err);
  if (st != TCONV_OK)
    {
      FUZZ_CHECK (st == TCONV_ERR_INVALID_ARG || st == TCONV_ERR_TOO_LARGE,
                  "tconv_geometry_init: unexpected status");
      FUZZ_CHECK (memcmp (&t.g, &sentinel, sizeof sentinel) == 0,
                  "tconv_geometry_init changed the geometry on failure");
      FUZZ_CHECK (memchr (err.message, '\0', sizeof err.message) != NULL && err.message[0] != 0,
                  "tconv_geometry_init failed without a message");
      return 0;
    }

  /* Accepted: the PyTorch rules hold and the size is the PyTorch formula. */
  {
    const tconv_geometry *g = &t.g;
    FUZZ_CHECK (p.stride_h >= 1 && p.stride_w >= 1 && p.dil_h >= 1 && p.dil_w >= 1
                  && p.groups >= 1 && p.pad_h >= 0 && p.pad_w >= 0 && p.opad_h >= 0
                  && p.opad_w >= 0 && p.in_c % p.groups == 0 && p.out_c % p.groups == 0
                  && (p.opad_h < p.stride_h || p.opad_h < p.dil_h)
                  && (p.opad_w < p.stride_w || p.opad_w < p.dil_w),
                "tconv_geometry_init accepted illegal parameters");
    FUZZ_CHECK ((int64_t) g->out_h == axis_out (p.in_h, p.k_h, p.stride_h, p.pad_h, p.opad_h,
                                                p.dil_h)
                  && (int64_t) g->out_w == axis_out (p.in_w, p.k_w, p.stride_w, p.pad_w,
                                                     p.opad_w, p.dil_w)
                  && g->out_h >= 1 && g->out_w >= 1 && g->out_h <= TCONV_MAX_SIDE
                  && g->out_w <= TCONV_MAX_SIDE,
                "tconv_geometry_init: wrong output size");
    FUZZ_CHECK (g->in_len == g->in_c * g->in_h * g->in_w
                  && g->out_len == g->out_c * g->out_h * g->out_w
                  && g->weight_len == g->in_c * (g->out_c / g->groups) * g->k_h * g->k_w,
                "tconv_geometry_init: wrong tensor lengths");
    /* bound the work of one input */
    if (g->out_len > FUZZ_MAX_OUT || g->in_len * (g->out_c / g->groups) * g->k_h * g->k_w
                                       > FUZZ_MAX_WORK)
      return 0;
  }

  mode = take (&r);
  flags = take (&r);
  gen.s = 0x9E3779B97F4A7C15ull ^ ((uint64_t) take (&r) << 8 | take (&r)) ^ size;
  {
    const tconv_geometry *g = &t.g;
    /* halo (> 0) or crop (< 0) per side: the view may hold border pixels or only part of
     * the input (positions outside it read as zero) */
    const int64_t ht = (int64_t) (take (&r) % 6) - 2, hb = (int64_t) (take (&r) % 6) - 2;
    const int64_t hl = (int64_t) (take (&r) % 6) - 2, hr = (int64_t) (take (&r) % 6) - 2;
    int64_t       vh = (int64_t) g->in_h + ht + hb, vw = (int64_t) g->in_w + hl + hr;
    unsigned      b;

    vh = vh < 1 ? 1 : vh;
    vw = vw < 1 ? 1 : vw;
    in_buf_make (&t.in, g->in_c, -ht, -hl, (size_t) vh, (size_t) vw, flags & 1, take (&r) % 3);
    in_buf_make (&t.in_abs, g->in_c, -ht, -hl, (size_t) vh, (size_t) vw, flags & 1, 0);
    for (size_t c = 0; c < g->in_c; c++)
      for (size_t y = 0; y < (size_t) vh; y++)
        for (size_t x = 0; x < (size_t) vw; x++)
          {
            const float v = rng_value (&gen, mode);
            t.in.buf[c * t.in.v.c_stride + y * t.in.v.y_stride + x * t.in.v.x_stride] = v;
            t.in_abs.buf[c * t.in_abs.v.c_stride + y * t.in_abs.v.y_stride
                         + x * t.in_abs.v.x_stride] = fabsf (v);
          }

    t.w = xcalloc (g->weight_len, sizeof (float));
    t.w_abs = xcalloc (g->weight_len, sizeof (float));
    for (size_t i = 0; i < g->weight_len; i++)
      {
        /* the first weights straight from the bytes, so the fuzzer can steer them */
        const unsigned wb = r.n > 0 ? take (&r) : 0;
        t.w[i] = r.n > 0 ? (float) ((int) wb - 128) / 32.0f : rng_value (&gen, mode >> 3);
        t.w_abs[i] = fabsf (t.w[i]);
      }
    if (flags & 2)
      {
        t.bias = xcalloc (g->out_c, sizeof (float));
        t.bias_abs = xcalloc (g->out_c, sizeof (float));
        for (size_t c = 0; c < g->out_c; c++)
          t.bias[c] = rng_value (&gen, 2), t.bias_abs[c] = fabsf (t.bias[c]);
      }

    /* the ROI: whole output, or any rectangle inside it */
    if (flags & 4)
      {
        b = take (&r);
        t.roi_y0 = b % g->out_h;
        t.roi_h = 1 + take (&r) % (g->out_h - t.roi_y0);
        t.roi_x0 = take (&r) % g->out_w;
        t.roi_w = 1 + take (&r) % (g->out_w - t.roi_x0);
      }
    else
      t.roi_y0 = t.roi_x0 = 0, t.roi_h = g->out_h, t.roi_w = g->out_w;
    t.out_planar = (flags & 8) != 0;
    t.out_pad = take (&r) % 3;
  }

  float_paths (&t);
  if (depthwise_plain (&t.g))
    {
      u8_path (&t, &gen);
      separable_path (&t, &gen, mode);
    }
  if (flags & 16)
    whole_paths (&t, &gen, mode);

  free (t.in.buf), free (t.in_abs.buf), free (t.w), free (t.w_abs), free (t.bias);
  free (t.bias_abs);
  return 0;
}
