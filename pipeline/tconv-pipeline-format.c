/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pixel formats and row I/O of the pipeline: the working formats for a source, reading input
 * rows as premultiplied float, converting and storing output rows in the destination. A pixel's
 * value never depends on which other pixels are read or written with it: samples are widened
 * and narrowed one by one, and babl only ever sees runs cut at TCONV_PIPELINE_ALIGN. */
#define _DEFAULT_SOURCE /* madvise (MADV_HUGEPAGE, MADV_POPULATE_WRITE), posix_memalign */
#include "tconv-pipeline-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ALPHA_EPSILON 1e-7f /* below this, a pixel is transparent and its colour is 0 */

/* TCONV_PROFILE: this thread's CPU time in microseconds. */
gint64
tconv_pipeline_prof_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Adds the time since *@t0 to phase @phase and restarts the clock. */
void
tconv_pipeline_prof_add (const TconvPipelineJob *job, gint phase, gint64 *t0)
{
  gint64 t1;

  if (!job->profile)
    return;
  t1 = tconv_pipeline_prof_now ();
  __atomic_add_fetch ((gint64 *) &job->prof_us[phase], t1 - *t0, __ATOMIC_RELAXED);
  *t0 = t1;
}

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

/* The working formats for job->src_fmt: grey or RGB, with alpha or not, perceptual or
 * linear, in the source's own babl space (RGB and grey images); other models (CMYK, indexed,
 * ...) are read as sRGB(A). Both are straight (not premultiplied) formats: see
 * tconv_pipeline_fetch_rows(). */
void
tconv_pipeline_choose_formats (TconvPipelineJob *job, gboolean linear)
{
  const Babl  *fmt = job->src_fmt;
  const gchar *model = babl_get_name (babl_format_get_model (fmt));
  gboolean     gray = is_gray_model (model);
  const Babl  *space = (gray || is_rgb_model (model)) ? fmt : NULL;
  const gchar *name;

  job->alpha = babl_format_has_alpha (fmt);
  if (gray)
    {
      job->C = job->alpha ? 2 : 1;
      if (job->alpha)
        name = linear ? "YA float" : "Y'A float";
      else
        name = linear ? "Y float" : "Y' float";
    }
  else
    {
      job->C = job->alpha ? 4 : 3;
      if (job->alpha)
        name = linear ? "RGBA float" : "R'G'B'A float";
      else
        name = linear ? "RGB float" : "R'G'B' float";
    }
  job->read_fmt = space ? babl_format_with_space (name, space) : babl_format (name);
  job->write_fmt = job->read_fmt;
}

/* 1 or 2 when @fmt holds 8- or 16-bit samples of exactly the working components in the
 * working (perceptual) encoding and the space of @space_of, so that converting to float is
 * only a scaling; else 0 (babl converts). */
gsize
tconv_pipeline_native_bytes (const TconvPipelineJob *job, const Babl *fmt, const Babl *space_of,
                             gboolean linear)
{
  static const gchar *const models[] = { NULL, "Y'", "Y'A", "R'G'B'", "R'G'B'A" };
  const Babl *type = babl_format_get_type (fmt, 0);

  if (linear || job->C > 4 || babl_format_get_space (fmt) != babl_format_get_space (space_of)
      || strcmp (babl_get_name (babl_format_get_model (fmt)), models[job->C]) != 0)
    return 0;
  return type == babl_type ("u8") ? 1 : type == babl_type ("u16") ? 2 : 0;
}

/* Room for @n values per colour channel of a ramp (@v) and its linear light (@lin). FALSE
 * when out of memory. */
static gboolean
ramp_alloc (const TconvPipelineJob *job, gsize n, gdouble **v, gdouble **lin)
{
  const gsize colours = job->C - job->alpha;

  *v = g_try_new (gdouble, n * colours);
  *lin = g_try_new (gdouble, n * colours);
  return *v != NULL && *lin != NULL;
}

/* @n perceptual values per colour channel (@v, interleaved) to linear light in @lin, in the
 * source's space, through babl in double precision: its float and integer conversions are
 * several, chosen by timing when a process first asks for them, and differ in the last bits
 * (a level, once rounded), where the double ones agree. */
static void
ramp_convert (const TconvPipelineJob *job, gsize n, const gdouble *v, gdouble *lin)
{
  const gboolean gray = job->C - job->alpha == 1;

  babl_process (babl_fish (babl_format_with_space (gray ? "Y' double" : "R'G'B' double",
                                                   job->src_fmt),
                           babl_format_with_space (gray ? "Y double" : "RGB double",
                                                   job->src_fmt)),
                v, lin, (long) n);
}

/* For a linear job on 8- or 16-bit perceptual samples of exactly the working components:
 * the linear value of every level of every colour channel, so that rows are read as they are
 * and looked up. Through babl row by row, the R'G'B'A u8 -> RGBA float conversion builds a
 * 256 MiB table and times tables on 400 MB of scratch first (2 s for any image). Sets
 * read_table and read_bytes, or leaves them. */
void
tconv_pipeline_set_read_table (TconvPipelineJob *job)
{
  /* the samples a perceptual job would read as they are */
  const gsize bytes = tconv_pipeline_native_bytes (job, job->src_fmt, job->src_fmt, FALSE);
  const gsize levels = bytes == 1 ? 256 : 65536, colours = job->C - job->alpha;
  gdouble    *ramp = NULL, *lin = NULL;

  if (bytes == 0)
    return;
  job->read_table = g_try_new (gfloat, levels * colours);
  if (!ramp_alloc (job, levels, &ramp, &lin) || job->read_table == NULL)
    g_clear_pointer (&job->read_table, g_free); /* babl converts instead */
  else
    {
      for (gsize i = 0; i < levels * colours; i++)
        ramp[i] = (gdouble) (i / colours) / (gdouble) (levels - 1);
      ramp_convert (job, levels, ramp, lin);
      for (gsize c = 0; c < colours; c++)
        for (gsize i = 0; i < levels; i++)
          job->read_table[c * levels + i] = (gfloat) lin[i * colours + c];
      job->read_bytes = bytes;
    }
  g_free (ramp);
  g_free (lin);
}

/* For a linear job writing 8 or 16-bit perceptual samples of exactly the working components:
 * per colour channel, the least float whose level is k, for k = 1 .. levels - 1, so that
 * narrowing is a search (and a sample's level never depends on which conversion babl chose in
 * this process). The edges are the perceptual (k - 0.5) / (levels - 1) taken to linear,
 * rounded up to float. Sets write_table and write_bytes, or leaves them. */
void
tconv_pipeline_set_write_table (TconvPipelineJob *job)
{
  const gsize bytes = tconv_pipeline_native_bytes (job, job->dst_fmt, job->src_fmt, FALSE);
  const gsize n = bytes == 1 ? 255 : 65535, colours = job->C - job->alpha;
  gdouble    *ramp = NULL, *lin = NULL;

  if (bytes == 0)
    return;
  job->write_table = g_try_new (gfloat, n * colours);
  if (!ramp_alloc (job, n, &ramp, &lin) || job->write_table == NULL)
    g_clear_pointer (&job->write_table, g_free); /* babl converts instead */
  else
    {
      for (gsize i = 0; i < n * colours; i++)
        ramp[i] = ((gdouble) (i / colours) + 0.5) / (gdouble) n;
      ramp_convert (job, n, ramp, lin);
      for (gsize c = 0; c < colours; c++)
        for (gsize k = 0; k < n; k++)
          {
            const gdouble t = lin[k * colours + c];
            gfloat        f = (gfloat) t;
            if ((gdouble) f < t)
              f = nextafterf (f, INFINITY);
            job->write_table[c * n + k] = f;
          }
      job->write_bytes = bytes;
    }
  g_free (ramp);
  g_free (lin);
}

/* The level of linear @v in one channel's boundaries @b (n of them, increasing). */
static inline guint
level_of (const gfloat *b, gsize n, gfloat v)
{
  gsize lo = 0, hi = n; /* the level is the number of boundaries <= v */

  if (!(v > 0.0f))
    return 0;
  while (lo < hi)
    {
      const gsize mid = (lo + hi) / 2;
      if (b[mid] <= v)
        lo = mid + 1;
      else
        hi = mid;
    }
  return (guint) lo;
}

/* 8/16-bit samples in the working encoding are read as they are, at the end of each row's
 * image part, and widened in place from the front (float i is written below sample i + 1).
 * Same values as babl's, without its conversion: babl 0.1.98 builds a 256 MiB table the
 * first time it converts u8 RGBA or grey to float. */
static void
fetch_native (const TconvPipelineJob *job, gint64 y, gint64 n, gfloat *dst, gsize row_floats)
{
  const gsize C = job->C, samples = (gsize) job->fx_n * C;
  const gsize tail = samples * (sizeof (gfloat) - job->read_bytes);

  gegl_buffer_get (job->src,
                   GEGL_RECTANGLE (job->src_x + job->fx_lo, job->src_y + (gint) y, job->fx_n,
                                   (gint) n),
                   1.0, job->src_fmt, (guint8 *) dst + tail,
                   (gint) (row_floats * sizeof (gfloat)), GEGL_ABYSS_NONE);
  for (gint64 r = 0; r < n; r++)
    {
      gfloat *row = dst + (gsize) r * row_floats;

      if (job->read_table != NULL)
        {
          const gsize    levels = job->read_bytes == 1 ? 256 : 65536, colours = C - job->alpha;
          const gfloat   scale = 1.0f / (gfloat) (levels - 1);
          const guint8  *in8 = (const guint8 *) row + tail;
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

/* Image rows [y, y + n), columns [fx_lo, fx_lo + fx_n), into @dst (rows @row_floats apart),
 * straight float, then premultiplied here rather than by babl: babl keeps a trace of the
 * colour of fully transparent pixels (it premultiplies by at least 1/65536), which the
 * convolution would spread into the neighbouring pixels as a faint fringe; and babl 0.1.98
 * corrupts its heap building the Y'A u8 -> Y'aA float conversion. Alpha is clamped to [0, 1]
 * first. */
void
tconv_pipeline_fetch_rows (const TconvPipelineJob *job, gint64 y, gint64 n, gfloat *dst,
                           gsize row_floats)
{
  const gsize C = job->C;

  if (job->read_bytes != 0)
    fetch_native (job, y, n, dst, row_floats);
  else
    /* one row at a time: GEGL hands babl runs that start where the row does (then at tile
     * edges), and fx_lo is a multiple of TCONV_PIPELINE_ALIGN, so runs are cut alike for
     * every region and band */
    for (gint64 r = 0; r < n; r++)
      gegl_buffer_get (job->src,
                       GEGL_RECTANGLE (job->src_x + job->fx_lo, job->src_y + (gint) (y + r),
                                       job->fx_n, 1),
                       1.0, job->read_fmt, dst + (gsize) r * row_floats, GEGL_AUTO_ROWSTRIDE,
                       GEGL_ABYSS_NONE);
  if (!job->alpha)
    return;
  for (gint64 r = 0; r < n; r++)
    {
      gfloat *p = dst + (gsize) r * row_floats;

      for (gint x = 0; x < job->fx_n; x++, p += C)
        {
          const gfloat a = CLAMP (p[C - 1], 0.0f, 1.0f);

          for (gsize c = 0; c + 1 < C; c++)
            p[c] *= a;
          p[C - 1] = a;
        }
    }
}

/* Premultiplied to straight alpha, alpha clamped to [0, 1]; colour is divided by the
 * unclamped alpha, so an area of one colour keeps exactly that colour whatever the kernel
 * did to its alpha (no fringe), and is clamped later by babl if the format needs it. */
void
tconv_pipeline_unpremultiply (const TconvPipelineJob *job, gfloat *p, gsize n_pixels)
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

/* Float samples narrowed to write_bytes into @dst (which may be @src itself), rounded to
 * nearest and clamped as babl does (NaN gives 0); colour channels of a linear job through
 * write_table. */
void
tconv_pipeline_narrow_to (const TconvPipelineJob *job, const gfloat *src, gpointer dst,
                          gsize n_samples)
{
  const gfloat scale = job->write_bytes == 1 ? 255.0f : 65535.0f;
  const gsize  n = job->write_bytes == 1 ? 255 : 65535, C = job->C;
  const gsize  colours = job->write_table != NULL ? C - job->alpha : 0;

  if (job->write_bytes == 1 && colours == 0)
    {
      tconv_narrow_u8 (src, dst, n_samples);
      return;
    }
  for (gsize i = 0; i < n_samples; i += C)
    for (gsize c = 0; c < C; c++)
      {
        const gfloat x = src[i + c];
        const guint  level = c < colours ? level_of (job->write_table + c * n, n, x)
                                         : (guint) ((x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f)
                                                    * scale + 0.5f);
        if (job->write_bytes == 1)
          ((guint8 *) dst)[i + c] = (guint8) level;
        else
          ((guint16 *) dst)[i + c] = (guint16) level;
      }
}

/* In place. */
void
tconv_pipeline_narrow (const TconvPipelineJob *job, gfloat *p, gsize n_samples)
{
  tconv_pipeline_narrow_to (job, p, p, n_samples);
}

/* @n_rows rows of cx1 - cx0 pixels in write_fmt, converted to dst_fmt by babl into @conv
 * (returned), one row at a time: each run starts at cx0, a multiple of TCONV_PIPELINE_ALIGN,
 * so babl groups the pixels as it does for the whole row. Returns @rows itself when the
 * formats are the same. */
const guint8 *
tconv_pipeline_convert_rows (const TconvPipelineJob *job, const gfloat *rows, gsize n_rows,
                             guint8 *conv)
{
  const gsize w = (gsize) (job->cx1 - job->cx0);
  const gsize in_row = w * job->C, out_row = w * (gsize) babl_format_get_bytes_per_pixel (job->dst_fmt);

  if (job->write_fmt == job->dst_fmt)
    return (const guint8 *) rows;
  for (gsize r = 0; r < n_rows; r++)
    babl_process (job->write_fish, rows + r * in_row, conv + r * out_row, (long) w);
  return conv;
}

/* Stores output rows [y0, y1), given as rows of cx1 - cx0 pixels in dst_fmt, in the
 * destination: the part inside the region, into the caller's memory or the buffer. */
void
tconv_pipeline_store_band (TconvPipelineJob *job, gint y0, gint y1, const guint8 *pixels)
{
  const gsize   bpp = (gsize) babl_format_get_bytes_per_pixel (job->dst_fmt);
  const gsize   in_row = (gsize) (job->cx1 - job->cx0) * bpp;
  const guint8 *first = pixels + (gsize) (job->roi.x - job->cx0) * bpp;

  if (job->dst != NULL)
    {
      gegl_buffer_set (job->dst,
                       GEGL_RECTANGLE (job->dst_x + job->roi.x, job->dst_y + y0, job->roi.width,
                                       y1 - y0),
                       0, job->dst_fmt, first, (gint) in_row);
      return;
    }
  for (gint y = y0; y < y1; y++)
    memcpy (job->dst_pixels + (gsize) (y - job->roi.y) * job->dst_rowstride,
            first + (gsize) (y - y0) * in_row, (gsize) job->roi.width * bpp);
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

GeglBuffer *
tconv_pipeline_result_new (gint width, gint height, const Babl *format, gboolean memory_ok,
                           TconvPipelineDest *dest)
{
  GeglBuffer *result = NULL;

  memset (dest, 0, sizeof *dest);
  dest->format = format;
  if (memory_ok
      && (guint64) width * (guint64) height * (guint64) babl_format_get_bytes_per_pixel (format)
           <= TCONV_PIPELINE_MEMORY_OUTPUT_MAX)
    result = tconv_pipeline_memory_buffer (width, height, format, &dest->pixels,
                                           &dest->rowstride);
  if (result == NULL) /* dest->pixels is still NULL */
    {
      result = gegl_buffer_new (GEGL_RECTANGLE (0, 0, width, height), format);
      dest->buffer = result;
    }
  return result;
}

typedef struct
{
  guint8 *pixels;
  gsize   bytes;
} FaultIn;

/* Maps the pages in one call where the kernel can (MADV_POPULATE_WRITE, Linux 5.14), then
 * writes to each: under some hypervisors the first write to a page mapped that way still
 * stops for the host, about as long as the fault itself. */
static gpointer
fault_in_run (gpointer data)
{
  FaultIn    *f    = data;
  const long  page = sysconf (_SC_PAGESIZE);
  const gsize step = page > 0 ? (gsize) page : 4096;

#if defined(MADV_POPULATE_WRITE)
  {
    const guintptr start = ((guintptr) f->pixels + step - 1) / step * step;
    const guintptr end   = (guintptr) f->pixels + f->bytes;

    if (start < end)
      madvise ((void *) start, end - start, MADV_POPULATE_WRITE); /* advice: may fail */
  }
#endif
  for (gsize off = 0; off < f->bytes; off += step)
    ((volatile guint8 *) f->pixels)[off] = 0;
  g_free (f);
  return NULL;
}

GThread *
tconv_pipeline_fault_in_start (guint8 *pixels, gsize bytes)
{
  FaultIn *f = g_new (FaultIn, 1);
  GThread *thread;

  f->pixels = pixels;
  f->bytes  = bytes;
  thread = g_thread_try_new ("tconv-fault-in", fault_in_run, f, NULL);
  if (thread == NULL)
    g_free (f);
  return thread;
}
