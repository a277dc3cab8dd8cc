/* SPDX-License-Identifier: GPL-3.0-or-later */
/* GeglBuffer in, GeglBuffer out: the transposed convolution of whole images in bands of
 * output rows, on several threads, in premultiplied float, with border modes and an
 * optional exact-size reduction (tconv-resample.c) fused band by band.
 *
 * Invariants: every output pixel is computed by the same float operations in the same order
 * whatever band or thread computes it (a band always reads every input row and column its
 * pixels need, and whole rows are never split), so the output bytes do not depend on the
 * thread count or the memory budget. Working memory is allocated once per thread, sized from
 * the budget before any pixel is read. */
#define _DEFAULT_SOURCE /* madvise (MADV_HUGEPAGE), posix_memalign */
#include "tconv-pipeline.h"
#include "tconv-pipeline-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "tconv-fast8.h"
#include "tconv-resample.h"

G_DEFINE_QUARK (tconv-pipeline-error-quark, tconv_pipeline_error)

#define DEFAULT_BUDGET   ((guint64) 1 << 30)
#define MAX_THREADS      64
#define BAND_ROWS_TARGET 64   /* output rows per band when memory allows */
#define ALPHA_EPSILON    1e-7f /* below this, a pixel is transparent and its colour is 0 */

static const gchar *const border_names[TCONV_BORDER_COUNT] = {
  [TCONV_BORDER_CLAMP] = "clamp",
  [TCONV_BORDER_MIRROR] = "mirror",
  [TCONV_BORDER_WRAP] = "wrap",
  [TCONV_BORDER_ZERO] = "zero",
};

const gchar *
tconv_border_name (TconvBorder border)
{
  return (guint) border < TCONV_BORDER_COUNT ? border_names[border] : NULL;
}

gboolean
tconv_border_from_name (const gchar *name, TconvBorder *border)
{
  for (guint i = 0; name != NULL && i < TCONV_BORDER_COUNT; i++)
    if (strcmp (name, border_names[i]) == 0)
      {
        *border = (TconvBorder) i;
        return TRUE;
      }
  return FALSE;
}

void
tconv_upscale_options_init (TconvUpscaleOptions *options)
{
  memset (options, 0, sizeof *options);
  options->border = TCONV_BORDER_CLAMP;
}

gint
tconv_pipeline_stride_for_size (gint in_size, gint out_size)
{
  gint64 s;

  if (in_size <= 0 || out_size <= 0)
    return 1;
  s = ((gint64) out_size + in_size - 1) / in_size;
  /* the stride x image must itself stay within TCONV_MAX_SIDE */
  s = MIN (s, (gint64) TCONV_MAX_SIDE / in_size);
  return (gint) CLAMP (s, 1, 16);
}

gboolean
tconv_pipeline_output_size (const TconvUpscaleOptions *options, gint in_width, gint in_height,
                            gint *out_width, gint *out_height, GError **error)
{
  gint64 w, h;

  if (options == NULL || options->kernel == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "no kernel given: a kernel is required");
      return FALSE;
    }
  if (in_width < 1 || in_height < 1)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "input of %dx%d pixels: must be at least 1x1", in_width, in_height);
      return FALSE;
    }
  if ((options->out_width == 0) != (options->out_height == 0) || options->out_width < 0
      || options->out_height < 0)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "output size %dx%d: both sides must be positive, or both 0 for stride x "
                   "the input",
                   options->out_width, options->out_height);
      return FALSE;
    }
  if (options->out_width == 0)
    {
      w = (gint64) in_width * (gint64) options->kernel->stride_w;
      h = (gint64) in_height * (gint64) options->kernel->stride_h;
    }
  else
    {
      w = options->out_width;
      h = options->out_height;
    }
  if (w > TCONV_MAX_SIDE || h > TCONV_MAX_SIDE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE,
                   "output of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " pixels: each side must be at most %u (GIMP's limit)",
                   w, h, TCONV_MAX_SIDE);
      return FALSE;
    }
  *out_width = (gint) w;
  *out_height = (gint) h;
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * The job
 */

enum
{
  SCRATCH_IN,  /* input rows with halo */
  SCRATCH_SEP, /* separable pass 1 */
  SCRATCH_MID, /* rows of the stride x image (resample path) */
  SCRATCH_TMP, /* one vertically reduced row (resample path) */
  SCRATCH_OUT, /* output rows */
  SCRATCH_IN8, /* 8-bit path: input rows with halo, 8-bit */
  SCRATCH_EXP, /* 8-bit path: the same rows expanded (tconv_fast8_expand) */
  SCRATCH_PTR, /* 8-bit path: pointers to them */
  SCRATCH_COUNT
};

typedef struct
{
  /* source and destination */
  GeglBuffer    *src, *dst;
  gint           src_x, src_y, in_w, in_h;
  gint           dst_x, dst_y, out_w, out_h;
  const Babl    *read_fmt;  /* straight float in the working encoding (premultiplied here) */
  const Babl    *write_fmt; /* the same, for the output */
  const Babl    *src_fmt, *dst_fmt; /* the buffers' own formats */
  guint8        *dst_pixels;        /* options->dst_pixels: rows go here, not into dst */
  gsize          dst_rowstride;
  const Babl    *write_fish;        /* write_fmt -> dst_fmt, for dst_pixels */
  gsize          read_bytes, write_bytes; /* 1 or 2: 8/16-bit samples converted here */
  gfloat        *read_table; /* with read_bytes, for a linear job on perceptual samples:
                              * linear light of each level, per colour channel; or NULL */
  gsize          C;         /* channels, alpha last */
  gboolean       alpha;
  TconvBorder    border;

  /* the transposed convolution: stride x image of mid_w x mid_h */
  tconv_geometry geom;
  gfloat        *weight; /* C * k_h * k_w */
  gfloat        *bias;   /* C, or NULL */
  gfloat        *col, *row; /* rank-1 factors (C * k_h, C * k_w), or NULL */
  gint           mid_w, mid_h;
  gint64         ix_lo;     /* first input column a row of the stride x image reads */
  gsize          in_cols;   /* input columns held per row, halo included */
  gint          *col_map;   /* in_cols source columns after the border mapping, -1 = zero */

  /* the 8-bit path (tconv-fast8.c), for opaque 8-bit images in the working encoding at an
   * exact stride x: input rows of f8_cols pixels from column f8_lo, as 8-bit samples */
  tconv_fast8   *fast8;
  gint64         f8_lo;
  gsize          f8_cols;
  gint          *f8_map;   /* source column of each, after the border mapping; -1 = zero */

  /* the exact-size reduction, when out != mid */
  gboolean       resample;
  TconvResampler rx, ry;

  /* bands */
  gint           band_rows, n_bands;
  gsize          scratch_floats[SCRATCH_COUNT];

  /* shared state */
  gint           next_band;  /* atomic */
  gint           stop;       /* atomic */
  GMutex         lock;
  GCond          cond;
  gint           done_bands; /* under lock */
  gint           running;    /* under lock */
  GError        *error;      /* under lock: the first error */

  /* TCONV_PROFILE=1: microseconds per phase, summed over the threads (atomic) */
  gboolean       profile;
  gint64         prof_us[4]; /* read, compute, narrow, write */
} Job;


typedef struct
{
  gfloat *buf[SCRATCH_COUNT];
} Scratch;

/* TCONV_PROFILE: this thread's CPU time in microseconds. */
static gint64
prof_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static gint64
floor_div (gint64 a, gint64 b)
{
  gint64 q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static gint64
ceil_div (gint64 a, gint64 b)
{
  return -floor_div (-a, b);
}

/* Input rows [*lo, *lo + *n) that rows [m0, m1) of the stride x image read (the halo). */
static void
input_rows (const Job *job, gint64 m0, gint64 m1, gint64 *lo, gsize *n)
{
  const tconv_geometry *g = &job->geom;
  const gint64          a = ceil_div (m0 + (gint64) g->pad_h - (gint64) (g->k_h - 1),
                                      (gint64) g->stride_h);
  const gint64          b = floor_div (m1 - 1 + (gint64) g->pad_h, (gint64) g->stride_h);

  *lo = a;
  *n = b >= a ? (gsize) (b - a + 1) : 0;
}

/* An upper bound on input_rows() for any @m rows. */
static gsize
input_rows_max (const Job *job, gsize m)
{
  const tconv_geometry *g = &job->geom;
  return (m + g->stride_h - 1) / g->stride_h + (g->k_h + g->stride_h - 1) / g->stride_h + 1;
}

/* Rows of the stride x image that output rows [y0, y1) read through the reduction. */
static void
mid_rows (const Job *job, gint y0, gint y1, gint64 *lo, gsize *n)
{
  *lo = job->ry.first[y0];
  *n = (gsize) ((gint64) job->ry.first[y1 - 1] + job->ry.taps - *lo);
}

static gsize
mid_rows_max (const Job *job, gsize rows)
{
  /* first[] advances by at most ceil (mid / out) per output row */
  const gsize step = ((gsize) job->mid_h + (gsize) job->out_h - 1) / (gsize) job->out_h;
  return (rows - 1) * step + (gsize) job->ry.taps + 1;
}

/* Scratch floats for bands of @rows output rows; FALSE on overflow. */
static gboolean
scratch_sizes (const Job *job, gsize rows, gsize sizes[SCRATCH_COUNT])
{
  const gsize C = job->C;
  gsize       m = rows, n_in;

  memset (sizes, 0, SCRATCH_COUNT * sizeof sizes[0]);
  if (job->fast8 != NULL)
    {
      /* sizes in floats, rounded up from bytes */
      n_in = input_rows_max (job, rows);
      if (!g_size_checked_mul (&sizes[SCRATCH_IN8], n_in, job->f8_cols)
          || !g_size_checked_mul (&sizes[SCRATCH_IN8], sizes[SCRATCH_IN8], C)
          || !g_size_checked_mul (&sizes[SCRATCH_EXP], n_in, tconv_fast8_row_floats (job->fast8))
          || !g_size_checked_mul (&sizes[SCRATCH_OUT], rows, (gsize) job->out_w)
          || !g_size_checked_mul (&sizes[SCRATCH_OUT], sizes[SCRATCH_OUT], C))
        return FALSE;
      sizes[SCRATCH_IN8] = sizes[SCRATCH_IN8] / sizeof (gfloat) + 1;
      sizes[SCRATCH_OUT] = sizes[SCRATCH_OUT] / sizeof (gfloat) + 1;
      sizes[SCRATCH_PTR] = n_in * sizeof (gpointer) / sizeof (gfloat) + 1;
      return TRUE;
    }
  if (job->resample)
    {
      m = mid_rows_max (job, rows);
      if (!g_size_checked_mul (&sizes[SCRATCH_MID], m, (gsize) job->mid_w)
          || !g_size_checked_mul (&sizes[SCRATCH_MID], sizes[SCRATCH_MID], C))
        return FALSE;
      sizes[SCRATCH_TMP] = (gsize) job->mid_w * C;
    }
  n_in = input_rows_max (job, m);
  if (!g_size_checked_mul (&sizes[SCRATCH_IN], n_in, job->in_cols)
      || !g_size_checked_mul (&sizes[SCRATCH_IN], sizes[SCRATCH_IN], C)
      || !g_size_checked_mul (&sizes[SCRATCH_OUT], rows, (gsize) job->out_w)
      || !g_size_checked_mul (&sizes[SCRATCH_OUT], sizes[SCRATCH_OUT], C))
    return FALSE;
  if (job->col != NULL
      && (!g_size_checked_mul (&sizes[SCRATCH_SEP], n_in, (gsize) job->mid_w)
          || !g_size_checked_mul (&sizes[SCRATCH_SEP], sizes[SCRATCH_SEP], C)))
    return FALSE;
  return TRUE;
}

static gboolean
scratch_bytes (const Job *job, gsize rows, guint64 *bytes)
{
  gsize   sizes[SCRATCH_COUNT];
  guint64 total = 0;

  if (!scratch_sizes (job, rows, sizes))
    return FALSE;
  for (gint i = 0; i < SCRATCH_COUNT; i++)
    {
      if (sizes[i] > G_MAXUINT64 / 8 - total)
        return FALSE;
      total += (guint64) sizes[i] * sizeof (gfloat);
    }
  *bytes = total;
  return TRUE;
}

/* Image rows [y, y + n) into @dst (rows @row_floats apart), straight float, then
 * premultiplied here rather than by babl: babl keeps a trace of the colour of fully
 * transparent pixels (it premultiplies by at least 1/65536), which the convolution would
 * spread into the neighbouring pixels as a faint fringe; and babl 0.1.98 corrupts its heap
 * building the Y'A u8 -> Y'aA float conversion. Alpha is clamped to [0, 1] first. */
static void
fetch_rows (const Job *job, gint64 y, gint64 n, gfloat *dst, gsize row_floats)
{
  const gsize C = job->C, samples = (gsize) job->in_w * C;

  if (job->read_bytes != 0)
    {
      /* 8/16-bit samples in the working encoding are read as they are, at the end of each
       * row's image part, and widened in place from the front (float i is written below
       * sample i + 1). Same values as babl's, without its conversion: babl 0.1.98 builds a
       * 256 MiB table the first time it converts u8 RGBA or grey to float. */
      const gsize tail = samples * (sizeof (gfloat) - job->read_bytes);

      gegl_buffer_get (job->src,
                       GEGL_RECTANGLE (job->src_x, job->src_y + (gint) y, job->in_w, (gint) n),
                       1.0, job->src_fmt, (guint8 *) dst + tail,
                       (gint) (row_floats * sizeof (gfloat)), GEGL_ABYSS_NONE);
      for (gint64 r = 0; r < n; r++)
        {
          gfloat *row = dst + (gsize) r * row_floats;

          if (job->read_table != NULL)
            {
              const gsize   levels = job->read_bytes == 1 ? 256 : 65536, colours = C - job->alpha;
              const gfloat  scale = 1.0f / (gfloat) (levels - 1);
              const guint8 *in8 = (const guint8 *) row + tail;
              const guint16 *in16 = (const guint16 *) in8;

              for (gsize i = 0, c = 0; i < samples; i++, c = c + 1 == C ? 0 : c + 1)
                {
                  const gsize v = job->read_bytes == 1 ? in8[i] : in16[i];
                  row[i] = c < colours ? job->read_table[c * levels + v] : (gfloat) v * scale;
                }
            }
          else if (job->read_bytes == 1)
            {
              const guint8 *in = (const guint8 *) row + tail;
              for (gsize i = 0; i < samples; i++)
                row[i] = (gfloat) in[i] / 255.0f;
            }
          else
            {
              const guint16 *in = (const guint16 *) ((const guint8 *) row + tail);
              for (gsize i = 0; i < samples; i++)
                row[i] = (gfloat) in[i] / 65535.0f;
            }
        }
    }
  else
    /* babl converts a run of pixels in groups of 4, and a group with a huge or non-finite
     * value takes a slower path that rounds its other pixels differently: one row at a time
     * keeps the groups the same whatever band reads the row */
    for (gint64 r = 0; r < n; r++)
      gegl_buffer_get (job->src,
                       GEGL_RECTANGLE (job->src_x, job->src_y + (gint) (y + r), job->in_w, 1), 1.0,
                       job->read_fmt, dst + (gsize) r * row_floats, GEGL_AUTO_ROWSTRIDE,
                       GEGL_ABYSS_NONE);
  if (!job->alpha)
    return;
  for (gint64 r = 0; r < n; r++)
    {
      gfloat *p = dst + (gsize) r * row_floats;

      for (gint x = 0; x < job->in_w; x++, p += C)
        {
          const gfloat a = CLAMP (p[C - 1], 0.0f, 1.0f);

          for (gsize c = 0; c + 1 < C; c++)
            p[c] *= a;
          p[C - 1] = a;
        }
    }
}

/* Input rows [lo, lo + n) of the image, columns [ix_lo, ix_lo + in_cols), premultiplied
 * float, with everything outside the image filled by the border mode. */
static void
fill_input (const Job *job, gint64 lo, gsize n, gfloat *buf)
{
  const gsize  C = job->C;
  const gsize  row_floats = job->in_cols * C;
  const gint64 left = -job->ix_lo; /* halo columns before image column 0 */
  const gint64 a = MAX (lo, 0), b = MIN (lo + (gint64) n, (gint64) job->in_h);
  const gint64 t0 = job->profile ? prof_now () : 0;

  if (a < b)
    fetch_rows (job, a, b - a, buf + (gsize) (a - lo) * row_floats + (gsize) left * C,
                row_floats);
  if (job->profile)
    __atomic_add_fetch ((gint64 *) &job->prof_us[0], prof_now () - t0,
                        __ATOMIC_RELAXED);

  for (gsize r = 0; r < n; r++)
    {
      const gint64 iy = lo + (gint64) r;
      gfloat      *row = buf + r * row_floats;

      if (iy < 0 || iy >= job->in_h)
        {
          const gint64 m = tconv_border_map (job->border, iy, job->in_h);

          if (m < 0)
            {
              memset (row, 0, row_floats * sizeof (gfloat));
              continue;
            }
          if (m >= a && m < b)
            memcpy (row + left * C, buf + (gsize) (m - lo) * row_floats + left * C,
                    (gsize) job->in_w * C * sizeof (gfloat));
          else
            fetch_rows (job, m, 1, row + left * C, row_floats);
        }
      /* halo columns, from this row's own pixels */
      for (gsize x = 0; x < job->in_cols; x++)
        {
          const gint64 ix = job->ix_lo + (gint64) x;

          if (ix >= 0 && ix < job->in_w)
            {
              x = (gsize) (job->in_w - job->ix_lo) - 1; /* skip the image columns */
              continue;
            }
          if (job->col_map[x] < 0)
            memset (row + x * C, 0, C * sizeof (gfloat));
          else
            memcpy (row + x * C, row + (gsize) (job->col_map[x] + left) * C,
                    C * sizeof (gfloat));
        }
    }
}

/* Rows [m0, m1) of the stride x image, every column, into @dst (mid_w * C floats a row). */
static void
convolve_rows (const Job *job, Scratch *s, gint64 m0, gint64 m1, gfloat *dst)
{
  const gsize    C = job->C;
  gint64         lo;
  gsize          n;
  tconv_status   st;
  tconv_in_view  in;
  tconv_out_view out;

  input_rows (job, m0, m1, &lo, &n);
  fill_input (job, lo, n, s->buf[SCRATCH_IN]);
  in = (tconv_in_view) { .data = s->buf[SCRATCH_IN], .y0 = lo, .x0 = job->ix_lo, .h = n,
                         .w = job->in_cols, .c_stride = 1,
                         .y_stride = (ptrdiff_t) (job->in_cols * C), .x_stride = (ptrdiff_t) C };
  out = (tconv_out_view) { .data = dst, .y0 = (size_t) m0, .x0 = 0, .h = (size_t) (m1 - m0),
                           .w = (size_t) job->mid_w, .c_stride = 1,
                           .y_stride = (ptrdiff_t) ((gsize) job->mid_w * C),
                           .x_stride = (ptrdiff_t) C };
  if (job->col != NULL)
    {
      size_t need = 0;

      st = tconv_separable_work_len (&job->geom, &in, &out, &need);
      g_assert (st == TCONV_OK && need <= job->scratch_floats[SCRATCH_SEP]);
      st = tconv_upsample_separable (&job->geom, job->col, job->row, job->bias, &in, &out,
                                     s->buf[SCRATCH_SEP], job->scratch_floats[SCRATCH_SEP]);
    }
  else
    st = tconv_upsample (&job->geom, job->weight, job->bias, &in, &out);
  /* the views are built from a validated geometry: a failure here is a bug */
  g_assert (st == TCONV_OK);
}

/* Output rows [y0, y1) through the reduction, into @dst (out_w * C floats a row). */
static void
resample_rows (const Job *job, Scratch *s, gint y0, gint y1, gfloat *dst)
{
  const gsize    C = job->C;
  const gsize    mid_row = (gsize) job->mid_w * C;
  gfloat        *mid = s->buf[SCRATCH_MID], *tmp = s->buf[SCRATCH_TMP];
  gint64         lo, a, b;
  gsize          n;

  /* The rows of the stride x image the band reads: those inside it computed in one go, the
   * few beyond its edges (first and last bands only) mapped by the border mode. */
  mid_rows (job, y0, y1, &lo, &n);
  a = MAX (lo, 0);
  b = MIN (lo + (gint64) n, (gint64) job->mid_h);
  if (a < b)
    convolve_rows (job, s, a, b, mid + (gsize) (a - lo) * mid_row);
  for (gsize r = 0; r < n; r++)
    {
      const gint64 i = lo + (gint64) r;
      gint64       m;

      if (i >= 0 && i < job->mid_h)
        continue;
      m = tconv_border_map (job->border, i, job->mid_h);
      if (m < 0)
        memset (mid + r * mid_row, 0, mid_row * sizeof (gfloat));
      else if (m >= a && m < b)
        memcpy (mid + r * mid_row, mid + (gsize) (m - lo) * mid_row, mid_row * sizeof (gfloat));
      else
        convolve_rows (job, s, m, m + 1, mid + r * mid_row);
    }

  for (gint y = y0; y < y1; y++)
    {
      const gint    taps_y = job->ry.taps, taps_x = job->rx.taps;
      const gint   *iy = job->ry.index + (gsize) y * (gsize) taps_y;
      const gfloat *wy = job->ry.weights + (gsize) y * (gsize) taps_y;
      gfloat       *orow = dst + (gsize) (y - y0) * (gsize) job->out_w * C;

      /* vertical: tmp = sum_t wy[t] * mid row (iy[t]); the mapped row iy[t] is the unmapped
       * row first + t except at the edges, where the band holds the mapped copy in place */
      for (gsize k = 0; k < mid_row; k++)
        tmp[k] = 0.0f;
      for (gint t = 0; t < taps_y; t++)
        {
          const gint64  r = (gint64) job->ry.first[y] + t - lo;
          const gfloat  w = wy[t];
          const gfloat *src = mid + (gsize) r * mid_row;

          if (w == 0.0f || iy[t] < 0)
            continue;
          for (gsize k = 0; k < mid_row; k++)
            tmp[k] += w * src[k];
        }

      /* horizontal */
      for (gint x = 0; x < job->out_w; x++)
        {
          const gint   *ix = job->rx.index + (gsize) x * (gsize) taps_x;
          const gfloat *wx = job->rx.weights + (gsize) x * (gsize) taps_x;
          gfloat       *o = orow + (gsize) x * C;

          for (gsize c = 0; c < C; c++)
            o[c] = 0.0f;
          for (gint t = 0; t < taps_x; t++)
            {
              const gfloat *p;

              if (wx[t] == 0.0f || ix[t] < 0)
                continue;
              p = tmp + (gsize) ix[t] * C;
              for (gsize c = 0; c < C; c++)
                o[c] += wx[t] * p[c];
            }
        }
    }
}

/* Premultiplied to straight alpha, alpha clamped to [0, 1]; colour is divided by the
 * unclamped alpha, so an area of one colour keeps exactly that colour whatever the kernel
 * did to its alpha (no fringe), and is clamped later by babl if the format needs it. */
static void
unpremultiply (const Job *job, gfloat *p, gsize n_pixels)
{
  const gsize C = job->C;

  if (!job->alpha)
    return;
  for (gsize i = 0; i < n_pixels; i++, p += C)
    {
      const gfloat a = p[C - 1];

      if (a > ALPHA_EPSILON)
        {
          const gfloat inv = 1.0f / a;
          for (gsize c = 0; c + 1 < C; c++)
            p[c] *= inv;
        }
      else
        for (gsize c = 0; c + 1 < C; c++)
          p[c] = 0.0f;
      p[C - 1] = CLAMP (a, 0.0f, 1.0f);
    }
}

/* Input rows [lo, lo + n) for the 8-bit path: columns [f8_lo, f8_lo + f8_cols) in the
 * source's own 8-bit format, everything outside the image filled by the border mode. */
static void
fill_input8 (const Job *job, gint64 lo, gsize n, guint8 *buf)
{
  const gsize  C = job->C;
  const gsize  stride = job->f8_cols * C;
  const gsize  left = (gsize) -job->f8_lo; /* columns before image column 0 */
  const gsize  image = (gsize) job->in_w * C;
  const gint64 a = MAX (lo, 0), b = MIN (lo + (gint64) n, (gint64) job->in_h);

  if (a < b)
    gegl_buffer_get (job->src,
                     GEGL_RECTANGLE (job->src_x, job->src_y + (gint) a, job->in_w, (gint) (b - a)),
                     1.0, job->src_fmt, buf + (gsize) (a - lo) * stride + left * C,
                     (gint) stride, GEGL_ABYSS_NONE);
  for (gsize r = 0; r < n; r++)
    {
      const gint64 iy = lo + (gint64) r;
      guint8      *row = buf + r * stride;

      if (iy < 0 || iy >= job->in_h)
        {
          const gint64 m = tconv_border_map (job->border, iy, job->in_h);

          if (m < 0)
            {
              memset (row, 0, stride);
              continue;
            }
          if (m >= a && m < b)
            memcpy (row + left * C, buf + (gsize) (m - lo) * stride + left * C, image);
          else
            gegl_buffer_get (job->src,
                             GEGL_RECTANGLE (job->src_x, job->src_y + (gint) m, job->in_w, 1),
                             1.0, job->src_fmt, row + left * C, GEGL_AUTO_ROWSTRIDE,
                             GEGL_ABYSS_NONE);
        }
      for (gsize x = 0; x < job->f8_cols; x++)
        {
          if (x == left && job->in_w > 0)
            {
              x += (gsize) job->in_w - 1; /* the image columns are there already */
              continue;
            }
          if (job->f8_map[x] < 0)
            memset (row + x * C, 0, C);
          else
            memcpy (row + x * C, row + (left + (gsize) job->f8_map[x]) * C, C);
        }
    }
}

/* Stores rows @y0..@y1 of @pixels (packed, in @fmt: dst_fmt, or write_fmt one row at a
 * time) in the output: the caller's memory or the destination buffer. */
static void
store_rows (Job *job, gint y0, gint y1, const Babl *fmt, const void *pixels)
{
  if (job->dst_pixels == NULL)
    {
      gegl_buffer_set (job->dst, GEGL_RECTANGLE (job->dst_x, job->dst_y + y0, job->out_w, y1 - y0),
                       0, fmt, pixels, GEGL_AUTO_ROWSTRIDE);
      return;
    }
  {
    const gsize in_row = (gsize) job->out_w * (gsize) babl_format_get_bytes_per_pixel (fmt);

    for (gint y = y0; y < y1; y++)
      {
        const guint8 *from = (const guint8 *) pixels + (gsize) (y - y0) * in_row;
        guint8       *to = job->dst_pixels + (gsize) y * job->dst_rowstride;

        if (fmt == job->dst_fmt)
          memcpy (to, from, in_row);
        else
          babl_process (job->write_fish, from, to, job->out_w);
      }
  }
}

/* One band through the 8-bit path: read, expand, convolve, write; no float image in memory. */
static void
process_band8 (Job *job, Scratch *s, gint band)
{
  const gint   y0 = band * job->band_rows;
  const gint   y1 = MIN (y0 + job->band_rows, job->out_h);
  const gsize  row_floats = tconv_fast8_row_floats (job->fast8);
  guint8      *in8 = (guint8 *) s->buf[SCRATCH_IN8];
  guint8      *out8 = (guint8 *) s->buf[SCRATCH_OUT];
  const gfloat **rows = (const gfloat **) s->buf[SCRATCH_PTR];
  gint64       lo, t0 = job->profile ? prof_now () : 0, t1;
  gsize        n;

  input_rows (job, y0, y1, &lo, &n);
  fill_input8 (job, lo, n, in8);
  if (job->profile)
    {
      t1 = prof_now ();
      __atomic_add_fetch (&job->prof_us[0], t1 - t0, __ATOMIC_RELAXED);
      t0 = t1;
    }
  for (gsize r = 0; r < n; r++)
    {
      gfloat *e = s->buf[SCRATCH_EXP] + r * row_floats;

      tconv_fast8_expand (job->fast8, in8 + r * job->f8_cols * job->C, e);
      rows[r] = e;
    }
  tconv_fast8_rows (job->fast8, rows, lo, y0, y1, out8, (gsize) job->out_w * job->C);
  if (job->profile)
    {
      t1 = prof_now ();
      __atomic_add_fetch (&job->prof_us[1], t1 - t0, __ATOMIC_RELAXED);
      t0 = t1;
    }
  store_rows (job, y0, y1, job->dst_fmt, out8);
  if (job->profile)
    __atomic_add_fetch (&job->prof_us[3], prof_now () - t0, __ATOMIC_RELAXED);
}

static void
process_band (Job *job, Scratch *s, gint band)
{
  const gint y0 = band * job->band_rows;
  const gint y1 = MIN (y0 + job->band_rows, job->out_h);
  gfloat    *out = s->buf[SCRATCH_OUT];

  gint64     t0 = job->profile ? prof_now () : 0, t1;

  if (job->resample)
    resample_rows (job, s, y0, y1, out);
  else
    convolve_rows (job, s, y0, y1, out);
  unpremultiply (job, out, (gsize) (y1 - y0) * (gsize) job->out_w);
  if (job->profile)
    {
      t1 = prof_now ();
      __atomic_add_fetch (&job->prof_us[1], t1 - t0, __ATOMIC_RELAXED);
      t0 = t1;
    }
  if (job->write_bytes != 0)
    {
      /* narrowed in place, rounded to nearest and clamped as babl does (NaN gives 0) */
      const gsize n = (gsize) (y1 - y0) * (gsize) job->out_w * job->C;
      const gfloat scale = job->write_bytes == 1 ? 255.0f : 65535.0f;

      for (gsize i = 0; i < n; i++)
        {
          const gfloat v = out[i] > 0.0f ? (out[i] < 1.0f ? out[i] : 1.0f) : 0.0f;
          if (job->write_bytes == 1)
            ((guint8 *) out)[i] = (guint8) (v * scale + 0.5f);
          else
            ((guint16 *) out)[i] = (guint16) (v * scale + 0.5f);
        }
      if (job->profile)
        {
          t1 = prof_now ();
          __atomic_add_fetch (&job->prof_us[2], t1 - t0, __ATOMIC_RELAXED);
          t0 = t1;
        }
      store_rows (job, y0, y1, job->dst_fmt, out);
    }
  else
    /* one row at a time, for the same groups of 4 pixels in babl whatever the band (see
     * fetch_rows()) */
    for (gint y = y0; y < y1; y++)
      store_rows (job, y, y + 1, job->write_fmt, out + (gsize) (y - y0) * (gsize) job->out_w * job->C);
  if (job->profile)
    __atomic_add_fetch (&job->prof_us[3], prof_now () - t0, __ATOMIC_RELAXED);
}

static void
job_fail (Job *job, GError *error)
{
  g_mutex_lock (&job->lock);
  if (job->error == NULL)
    job->error = error;
  else
    g_error_free (error);
  g_mutex_unlock (&job->lock);
  g_atomic_int_set (&job->stop, 1);
}

static gpointer
worker (gpointer data)
{
  Job    *job = data;
  Scratch s = { { NULL } };
  gboolean ok = TRUE;

  for (gint i = 0; i < SCRATCH_COUNT && ok; i++)
    if (job->scratch_floats[i] > 0
        && (s.buf[i] = g_try_new (gfloat, job->scratch_floats[i])) == NULL)
      ok = FALSE;
  if (!ok)
    job_fail (job, g_error_new (TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                                "out of memory for the working buffers of a band of %d rows",
                                job->band_rows));

  while (ok && !g_atomic_int_get (&job->stop))
    {
      const gint band = g_atomic_int_add (&job->next_band, 1);

      if (band >= job->n_bands)
        break;
      if (job->fast8 != NULL)
        process_band8 (job, &s, band);
      else
        process_band (job, &s, band);
      g_mutex_lock (&job->lock);
      job->done_bands++;
      g_cond_signal (&job->cond);
      g_mutex_unlock (&job->lock);
    }

  for (gint i = 0; i < SCRATCH_COUNT; i++)
    g_free (s.buf[i]);
  g_mutex_lock (&job->lock);
  job->running--;
  g_cond_signal (&job->cond);
  g_mutex_unlock (&job->lock);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Setup
 */

static gboolean
is_gray_model (const gchar *name)
{
  static const gchar *const gray[] = { "Y", "Y'", "Y~", "YA", "Y'A", "Y~A", "YaA", "Y'aA", "Y~aA" };

  for (guint i = 0; i < G_N_ELEMENTS (gray); i++)
    if (strcmp (name, gray[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
is_rgb_model (const gchar *name)
{
  static const gchar *const rgb[] = { "RGB",    "RGBA",     "RaGaBaA", "R'G'B'", "R'G'B'A",
                                      "R'aG'aB'aA", "R~G~B~", "R~G~B~A", "R~aG~aB~aA" };

  for (guint i = 0; i < G_N_ELEMENTS (rgb); i++)
    if (strcmp (name, rgb[i]) == 0)
      return TRUE;
  return FALSE;
}

/* The working formats for @fmt: grey or RGB, with alpha or not, perceptual or linear, in
 * @fmt's own babl space (RGB and grey images); other models (CMYK, indexed, ...) are read as
 * sRGB(A). Both are straight (not premultiplied) formats: see fetch_rows(). */
static void
choose_formats (Job *job, const Babl *fmt, gboolean linear)
{
  const gchar *model = babl_get_name (babl_format_get_model (fmt));
  gboolean     gray = is_gray_model (model);
  const Babl  *space = (gray || is_rgb_model (model)) ? fmt : NULL;
  const gchar *read, *write;

  job->alpha = babl_format_has_alpha (fmt);
  if (gray)
    {
      job->C = job->alpha ? 2 : 1;
      if (job->alpha)
        read = write = linear ? "YA float" : "Y'A float";
      else
        read = write = linear ? "Y float" : "Y' float";
    }
  else
    {
      job->C = job->alpha ? 4 : 3;
      if (job->alpha)
        read = write = linear ? "RGBA float" : "R'G'B'A float";
      else
        read = write = linear ? "RGB float" : "R'G'B' float";
    }
  job->read_fmt = space ? babl_format_with_space (read, space) : babl_format (read);
  job->write_fmt = space ? babl_format_with_space (write, space) : babl_format (write);
}

/* 1 or 2 when @fmt holds 8- or 16-bit samples of exactly the working components in the
 * working (perceptual) encoding and the space of @space_of, so that converting to float is
 * only a scaling; else 0 (babl converts). */
static gsize
native_bytes (const Job *job, const Babl *fmt, const Babl *space_of, gboolean linear)
{
  static const gchar *const models[] = { NULL, "Y'", "Y'A", "R'G'B'", "R'G'B'A" };
  const Babl *type = babl_format_get_type (fmt, 0);

  if (linear || job->C > 4 || babl_format_get_space (fmt) != babl_format_get_space (space_of)
      || strcmp (babl_get_name (babl_format_get_model (fmt)), models[job->C]) != 0)
    return 0;
  return type == babl_type ("u8") ? 1 : type == babl_type ("u16") ? 2 : 0;
}

/* For a linear job on 8- or 16-bit perceptual samples of exactly the working components:
 * the linear value of every level of every colour channel, converted by babl once from a
 * ramp, so that rows are read as they are and looked up. Through babl row by row, the R'G'B'A
 * u8 -> RGBA float conversion builds a 256 MiB table and times tables on 400 MB of scratch
 * first (2 s for any image). The ramp's formats (3 or 6 bytes to 12, 2 or 4 to 8) are not
 * ones babl makes a table for. Sets read_table and read_bytes, or leaves them. */
static void
set_read_table (Job *job)
{
  /* the samples a perceptual job would read as they are */
  const gsize    bytes = native_bytes (job, job->src_fmt, job->src_fmt, FALSE);
  const gsize    levels = bytes == 1 ? 256 : 65536, colours = job->C - job->alpha;
  const gboolean gray = colours == 1;
  const gsize    rc = gray ? 2 : 3; /* ramp components: grey with alpha, or RGB */
  gpointer       ramp;
  gfloat        *lin;

  if (bytes == 0)
    return;
  ramp = g_try_malloc (levels * rc * bytes);
  lin = g_try_new (gfloat, levels * rc);
  job->read_table = g_try_new (gfloat, levels * colours);
  if (ramp == NULL || lin == NULL || job->read_table == NULL)
    {
      g_clear_pointer (&job->read_table, g_free); /* babl converts instead */
      g_free (ramp);
      g_free (lin);
      return;
    }
  for (gsize i = 0; i < levels; i++)
    for (gsize c = 0; c < rc; c++)
      {
        const gsize v = gray && c == 1 ? levels - 1 : i; /* opaque grey */
        if (bytes == 1)
          ((guint8 *) ramp)[i * rc + c] = (guint8) v;
        else
          ((guint16 *) ramp)[i * rc + c] = (guint16) v;
      }
  babl_process (babl_fish (babl_format_with_space (gray ? (bytes == 1 ? "Y'A u8" : "Y'A u16")
                                                        : (bytes == 1 ? "R'G'B' u8" : "R'G'B' u16"),
                                                   job->src_fmt),
                           babl_format_with_space (gray ? "YA float" : "RGB float", job->src_fmt)),
                ramp, lin, (long) levels);
  for (gsize c = 0; c < colours; c++)
    for (gsize i = 0; i < levels; i++)
      job->read_table[c * levels + i] = lin[i * rc + c];
  job->read_bytes = bytes;
  g_free (ramp);
  g_free (lin);
}

static gboolean
set_kernel (Job *job, const tconv_kernel *k, gboolean normalize, GError **error)
{
  tconv_kernel  *copy = NULL;
  tconv_error    err = { 0 };
  tconv_params   p;
  tconv_status   st;
  const gsize    C = job->C;
  gsize          kk;

  if (tconv_kernel_validate (k, &err) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID, "kernel '%s': %s",
                   k->name ? k->name : "?", err.message);
      return FALSE;
    }
  if (k->channels != 1 && k->channels != C)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s' has %" G_GSIZE_FORMAT " per-channel kernels: the image has "
                   "%" G_GSIZE_FORMAT " channels (%s), so it needs 1 or %" G_GSIZE_FORMAT,
                   k->name, (gsize) k->channels, C, babl_get_name (job->read_fmt), C);
      return FALSE;
    }
  if (k->k_h + k->opad_h != 2 * k->pad_h + k->stride_h
      || k->k_w + k->opad_w != 2 * k->pad_w + k->stride_w)
    {
      const gboolean h = k->k_h + k->opad_h != 2 * k->pad_h + k->stride_h;
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s': k_%s %" G_GSIZE_FORMAT " + output_padding %" G_GSIZE_FORMAT
                   " - 2 * padding %" G_GSIZE_FORMAT " must equal the stride %" G_GSIZE_FORMAT
                   " for an exact stride x up-sample",
                   k->name, h ? "h" : "w", h ? (gsize) k->k_h : (gsize) k->k_w,
                   h ? (gsize) k->opad_h : (gsize) k->opad_w, h ? (gsize) k->pad_h : (gsize) k->pad_w,
                   h ? (gsize) k->stride_h : (gsize) k->stride_w);
      return FALSE;
    }
  if (normalize)
    {
      if ((st = tconv_kernel_copy (k, &copy)) != TCONV_OK)
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED, "kernel '%s': %s",
                       k->name, tconv_status_string (st));
          return FALSE;
        }
      if (tconv_kernel_normalize_phases (copy, &err) != TCONV_OK)
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                       "kernel '%s': cannot normalise its phases: %s", k->name, err.message);
          tconv_kernel_free (copy);
          return FALSE;
        }
      k = copy;
    }

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = (gint64) C;
  p.in_h = job->in_h;
  p.in_w = job->in_w;
  p.k_h = (gint64) k->k_h;
  p.k_w = (gint64) k->k_w;
  p.stride_h = (gint64) k->stride_h;
  p.stride_w = (gint64) k->stride_w;
  p.pad_h = (gint64) k->pad_h;
  p.pad_w = (gint64) k->pad_w;
  p.opad_h = (gint64) k->opad_h;
  p.opad_w = (gint64) k->opad_w;
  if ((st = tconv_geometry_init (&job->geom, &p, &err)) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR,
                   st == TCONV_ERR_TOO_LARGE ? TCONV_PIPELINE_ERROR_TOO_LARGE
                                             : TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s' on a %dx%d image: %s", k->name, job->in_w, job->in_h, err.message);
      tconv_kernel_free (copy);
      return FALSE;
    }

  /* Depthwise weights (C, 1, k_h, k_w): a shared kernel is replicated to every channel. */
  kk = k->k_h * k->k_w;
  job->weight = g_new (gfloat, C * kk);
  for (gsize c = 0; c < C; c++)
    memcpy (job->weight + c * kk, k->weights + (k->channels == 1 ? 0 : c) * kk,
            kk * sizeof (gfloat));
  if (k->bias != NULL)
    {
      job->bias = g_new (gfloat, C);
      for (gsize c = 0; c < C; c++)
        job->bias[c] = k->bias[k->channels == 1 ? 0 : c];
    }

  /* Rank-1 kernels run as two 1-D passes when that saves work: (K/s)^2 multiply-adds per
   * output against about (K/s)(1 + 1/s). The 2-D path is vectorised across phases and
   * channels and the 1-D passes are not, so the 2-D path stays faster up to K = 4s (measured:
   * bicubic x2, K = 8, 2-D 10-20 % faster; lanczos3 x2, K = 12, 1-D 30 % faster). */
  if (k->k_h > 4 * k->stride_h && k->k_w > 4 * k->stride_w)
    {
      gfloat *col = g_new (gfloat, k->channels * k->k_h);
      gfloat *row = g_new (gfloat, k->channels * k->k_w);

      if (tconv_kernel_factor (k, 1e-6, col, row))
        {
          job->col = g_new (gfloat, C * k->k_h);
          job->row = g_new (gfloat, C * k->k_w);
          for (gsize c = 0; c < C; c++)
            {
              const gsize kc = k->channels == 1 ? 0 : c;
              memcpy (job->col + c * k->k_h, col + kc * k->k_h, k->k_h * sizeof (gfloat));
              memcpy (job->row + c * k->k_w, row + kc * k->k_w, k->k_w * sizeof (gfloat));
            }
        }
      g_free (col);
      g_free (row);
    }

  job->mid_w = (gint) job->geom.out_w;
  job->mid_h = (gint) job->geom.out_h;
  tconv_kernel_free (copy);
  return TRUE;
}

/* The input columns every row of the stride x image reads, and their border mapping. */
static void
set_columns (Job *job)
{
  const tconv_geometry *g = &job->geom;
  const gint64 a = ceil_div ((gint64) g->pad_w - (gint64) (g->k_w - 1), (gint64) g->stride_w);
  const gint64 b = floor_div ((gint64) job->mid_w - 1 + (gint64) g->pad_w, (gint64) g->stride_w);

  /* the whole image is always held, so that rows are never split */
  job->ix_lo = MIN (a, 0);
  job->in_cols = (gsize) (MAX (b, (gint64) job->in_w - 1) - job->ix_lo + 1);
  job->col_map = g_new (gint, job->in_cols);
  for (gsize x = 0; x < job->in_cols; x++)
    job->col_map[x] = (gint) tconv_border_map (job->border, job->ix_lo + (gint64) x, job->in_w);
}

/* The 8-bit path applies when the source and destination are 8-bit in the working encoding
 * (read_bytes == write_bytes == 1: perceptual, same space, exactly the working components)
 * and opaque: then the float path's result is the rounded convolution of the 8-bit values
 * divided by 255, which this path computes on the values themselves. With alpha the colours
 * are premultiplied first, which 8 bits cannot hold exactly. TCONV_PIPELINE_NO_FAST8=1 turns
 * it off (tests compare the two). */
static void
set_fast8 (Job *job)
{
  int64_t lo;
  size_t  n;

  if (job->read_bytes != 1 || job->write_bytes != 1 || job->alpha || job->read_table != NULL
      || g_getenv ("TCONV_PIPELINE_NO_FAST8") != NULL)
    return;
  tconv_fast8_columns (&job->geom, &lo, &n);
  /* the whole image row is always held, as in set_columns() */
  job->f8_lo = MIN (lo, 0);
  job->f8_cols = (gsize) (MAX (lo + (gint64) n, (gint64) job->in_w) - job->f8_lo);
  job->fast8 = tconv_fast8_new (&job->geom, job->weight, job->bias, job->f8_lo, job->f8_cols);
  if (job->fast8 == NULL)
    return; /* a geometry it does not handle: the float path */
  job->f8_map = g_new (gint, job->f8_cols);
  for (gsize x = 0; x < job->f8_cols; x++)
    job->f8_map[x] = (gint) tconv_border_map (job->border, job->f8_lo + (gint64) x, job->in_w);
}

/* Band height and thread count from the memory budget. */
static gboolean
plan_bands (Job *job, gint threads, guint64 budget, GError **error)
{
  guint64 one, bytes;
  gint    rows;

  if (!scratch_bytes (job, 1, &one) || one > budget)
    {
      if (!scratch_bytes (job, 1, &one))
        one = G_MAXUINT64;
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE,
                   "output of %dx%d: one band row needs %" G_GUINT64_FORMAT " bytes of working "
                   "memory, more than the memory budget of %" G_GUINT64_FORMAT " bytes",
                   job->out_w, job->out_h, one, budget);
      return FALSE;
    }
  threads = (gint) MIN ((guint64) threads, budget / one);
  threads = MAX (threads, 1);

  /* As many rows as the budget allows per thread, up to the target; then evened out so that
   * the last band is not a sliver. */
  rows = 1;
  while (rows < BAND_ROWS_TARGET && rows < job->out_h && scratch_bytes (job, (gsize) rows * 2, &bytes)
         && bytes * (guint64) threads <= budget)
    rows *= 2;
  rows = MIN (rows, job->out_h);
  job->n_bands = (job->out_h + rows - 1) / rows;
  job->band_rows = (job->out_h + job->n_bands - 1) / job->n_bands;
  if (!scratch_sizes (job, (gsize) job->band_rows, job->scratch_floats))
    g_assert_not_reached (); /* smaller than a size that passed */
  job->running = MIN (threads, job->n_bands);
  return TRUE;
}

static void
job_clear (Job *job)
{
  g_free (job->weight);
  g_free (job->bias);
  g_free (job->col);
  g_free (job->row);
  g_free (job->col_map);
  g_free (job->f8_map);
  g_free (job->read_table);
  tconv_fast8_free (job->fast8);
  tconv_resampler_clear (&job->rx);
  tconv_resampler_clear (&job->ry);
  g_mutex_clear (&job->lock);
  g_cond_clear (&job->cond);
  g_clear_error (&job->error);
}

gboolean
tconv_pipeline_upscale (GeglBuffer *src, GeglBuffer *dst, const TconvUpscaleOptions *options,
                        GError **error)
{
  Job                  job;
  const GeglRectangle *se, *de;
  gint                 out_w, out_h, threads, n;
  guint64              budget;
  GThread             *pool[MAX_THREADS];
  gint                 n_pool = 0, reported = -1;
  gboolean             ok = FALSE;
  gint64               t_start;

  g_return_val_if_fail (GEGL_IS_BUFFER (src) && GEGL_IS_BUFFER (dst) && options != NULL, FALSE);

  memset (&job, 0, sizeof job);
  job.profile = tconv_pipeline_profile_enabled ();
  t_start = g_get_monotonic_time ();
  g_mutex_init (&job.lock);
  g_cond_init (&job.cond);

  if ((guint) options->border >= TCONV_BORDER_COUNT)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "border mode %d: must be 0..%d", (gint) options->border,
                   TCONV_BORDER_COUNT - 1);
      goto out;
    }
  if (options->threads < 0 || options->threads > MAX_THREADS)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "threads %d: must be 0 (GEGL's setting) to %d", options->threads, MAX_THREADS);
      goto out;
    }
  se = gegl_buffer_get_extent (src);
  de = gegl_buffer_get_extent (dst);
  if (!tconv_pipeline_output_size (options, se->width, se->height, &out_w, &out_h, error))
    goto out;
  if (de->width != out_w || de->height != out_h)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "destination buffer is %dx%d: must be the output size %dx%d", de->width,
                   de->height, out_w, out_h);
      goto out;
    }

  job.src = src, job.dst = dst;
  job.src_x = se->x, job.src_y = se->y, job.in_w = se->width, job.in_h = se->height;
  job.dst_x = de->x, job.dst_y = de->y, job.out_w = out_w, job.out_h = out_h;
  job.border = options->border;
  choose_formats (&job, gegl_buffer_get_format (src), options->linear);
  job.src_fmt = gegl_buffer_get_format (src);
  job.dst_fmt = gegl_buffer_get_format (dst);
  if (options->dst_pixels != NULL)
    {
      const gsize bpp = (gsize) babl_format_get_bytes_per_pixel (job.dst_fmt);

      if (options->dst_rowstride / bpp < (gsize) out_w)
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                       "output rowstride %" G_GSIZE_FORMAT ": must be at least %d pixels of %"
                       G_GSIZE_FORMAT " bytes", options->dst_rowstride, out_w, bpp);
          goto out;
        }
      job.dst_pixels = options->dst_pixels;
      job.dst_rowstride = options->dst_rowstride;
      job.write_fish = babl_fish (job.write_fmt, job.dst_fmt);
    }
  job.read_bytes = native_bytes (&job, job.src_fmt, job.src_fmt, options->linear);
  job.write_bytes = native_bytes (&job, job.dst_fmt, job.src_fmt, options->linear);
  if (options->linear)
    set_read_table (&job);
  if (!set_kernel (&job, options->kernel, options->normalize_phases, error))
    goto out;
  set_columns (&job);
  job.resample = out_w != job.mid_w || out_h != job.mid_h;
  if (!job.resample)
    set_fast8 (&job);
  if (job.resample
      && (!tconv_resampler_init (&job.rx, job.mid_w, out_w, job.border)
          || !tconv_resampler_init (&job.ry, job.mid_h, out_h, job.border)))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   "out of memory for the resampling tables of %dx%d -> %dx%d", job.mid_w,
                   job.mid_h, out_w, out_h);
      goto out;
    }

  threads = options->threads;
  if (threads == 0)
    g_object_get (gegl_config (), "threads", &threads, NULL);
  threads = CLAMP (threads, 1, MAX_THREADS);
  budget = options->memory_budget ? options->memory_budget : DEFAULT_BUDGET;
  if (!plan_bands (&job, threads, budget, error))
    goto out;

  n = job.running;
  for (gint i = 0; i < n; i++)
    {
      GError *e = NULL;

      pool[n_pool] = g_thread_try_new ("tconv-upscale", worker, &job, &e);
      if (pool[n_pool] == NULL)
        {
          g_mutex_lock (&job.lock);
          job.running--;
          g_mutex_unlock (&job.lock);
          if (n_pool == 0)
            {
              g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                           "cannot start a thread: %s", e->message);
              g_error_free (e);
              goto out;
            }
          g_error_free (e); /* fewer threads: same bytes, a little slower */
          continue;
        }
      n_pool++;
    }

  /* Report progress from this thread until every worker has finished. */
  g_mutex_lock (&job.lock);
  while (job.running > 0)
    {
      const gint done = job.done_bands;

      if (options->progress != NULL && done != reported && job.error == NULL)
        {
          gboolean go_on;

          reported = done;
          g_mutex_unlock (&job.lock);
          go_on = options->progress ((gdouble) done / job.n_bands, options->progress_data);
          g_mutex_lock (&job.lock);
          if (!go_on && job.error == NULL)
            {
              job.error = g_error_new (TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_CANCELLED,
                                       "cancelled at %d of %d bands", done, job.n_bands);
              g_atomic_int_set (&job.stop, 1);
            }
          continue;
        }
      g_cond_wait_until (&job.cond, &job.lock, g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND);
    }
  g_mutex_unlock (&job.lock);
  for (gint i = 0; i < n_pool; i++)
    g_thread_join (pool[i]);

  if (job.error != NULL)
    {
      g_propagate_error (error, job.error);
      job.error = NULL;
      goto out;
    }
  /* a stop asked for at the very end still counts: nothing has been handed over yet, and
   * a job quicker than the reporting loop would otherwise never be cancelled */
  if (options->progress != NULL && reported != job.n_bands
      && !options->progress (1.0, options->progress_data))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_CANCELLED,
                   "cancelled at %d of %d bands", job.n_bands, job.n_bands);
      goto out;
    }
  ok = TRUE;
  if (job.profile)
    g_printerr ("tconv-profile: pipeline %dx%d -> %dx%d C=%" G_GSIZE_FORMAT " %s, read %d/%d B, "
                "%d threads, %d bands of %d rows: %.3f s wall; thread CPU s: read %.3f "
                "(compute includes it) compute %.3f narrow %.3f write %.3f\n",
                job.in_w, job.in_h, job.out_w, job.out_h, job.C,
                job.fast8 != NULL ? "8-bit path" : "float path", (gint) job.read_bytes,
                (gint) job.write_bytes, n_pool, job.n_bands, job.band_rows,
                (g_get_monotonic_time () - t_start) / 1e6, job.prof_us[0] / 1e6,
                job.prof_us[1] / 1e6, job.prof_us[2] / 1e6, job.prof_us[3] / 1e6);

out:
  job_clear (&job);
  return ok;
}

/* Transparent huge pages where the kernel offers them (madvise mode, Debian's default): the
 * first write to each 4 KiB page of a fresh 144 MB output costs more than the convolution
 * (a page fault each); 2 MiB pages take 512 times fewer. Advice only: without them the
 * memory is still right. */
GeglBuffer *
tconv_pipeline_memory_buffer (gint width, gint height, const Babl *format, guint8 **pixels,
                              gsize *rowstride)
{
  const gsize bpp = (gsize) babl_format_get_bytes_per_pixel (format);
  gsize       row, bytes;
  void       *p = NULL;

  if (width <= 0 || height <= 0 || !g_size_checked_mul (&row, (gsize) width, bpp)
      || row > G_MAXINT || !g_size_checked_mul (&bytes, row, (gsize) height))
    return NULL;
#if defined(MADV_HUGEPAGE)
  if (posix_memalign (&p, (gsize) 2 << 20, bytes) != 0)
    return NULL;
  madvise (p, bytes, MADV_HUGEPAGE);
#else
  if ((p = malloc (bytes)) == NULL)
    return NULL;
#endif
  *pixels = p;
  *rowstride = row;
  return gegl_buffer_linear_new_from_data (p, format, GEGL_RECTANGLE (0, 0, width, height),
                                           (gint) row, (GDestroyNotify) free, p);
}
