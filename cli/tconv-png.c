/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PNG output on all cores. GEGL's png-save hands one row at a time to libpng, which tries all
 * five row filters per row and deflates on one thread: on a 48-megapixel result that is most
 * of a run. Here the rows are cut into segments that worker threads read, filter ("up": the
 * row minus the one above, which photographs compress well with at a fraction of the cost of
 * adaptive filtering) and deflate as independent raw-deflate streams; the segments are joined
 * in order with sync flushes (as pigz does), so the file is one ordinary zlib stream.
 *
 * Pixels and ancillary chunks are those of gegl:png-save: samples fetched from GEGL in the
 * same formats (R'G'B'(A) or Y'(A), u8 or u16, in the buffer's own colour space), and for RGB
 * output sRGB + gAMA + cHRM when the space is sRGB, cHRM + gAMA + iCCP otherwise.
 *
 * The rows come either from a whole image (cli_png_write) or, streamed, from a ring of rows
 * that a producer fills band by band (cli_png_stream_*): a worker takes a segment only once
 * its rows (and the row above it, for the filter) are there, and the producer refills a row of
 * the ring only once no segment still to be deflated reads it. The segments and their bytes
 * are the same either way. */
#include "tconv-cli.h"

#include <gegl.h>
#include <string.h>
#include <zlib.h>

/* Filtered bytes per segment: many segments keep the threads evenly busy, and each is large
 * enough that restarting deflate's dictionary costs nothing measurable. The cut depends on
 * the image only, never on the thread count, so the file is the same for any --threads. */
#define SEGMENT_BYTES (2u << 20)
/* IDAT chunk payload (any size is valid; libpng reads chunks of any length). */
#define IDAT_BYTES (1u << 20)
/* Segments compressed ahead of the one being written, per thread: bounds the memory held to
 * a few segments whatever the image size. */
#define AHEAD_PER_THREAD 4

typedef struct
{
  GeglBuffer   *buffer;
  const guint8 *pixels;    /* nullable: the rows, in the buffer's format (cli_png_write) */
  gsize         stride;
  const Babl   *fish;      /* the buffer's format -> format, for pixels */
  GeglRectangle extent;
  const Babl   *format;
  gsize         bpp, row_bytes;
  gboolean      swap16;
  gint          level;
  gsize         rows_per_segment, n_segments, ahead;
  gsize         ring_rows; /* 0: @pixels holds the whole image; else row y is at y % ring_rows */
  /* results, one per segment, freed as soon as they are written */
  GByteArray  **data;
  uLong        *adler;
  gsize        *raw_len;
  gboolean     *done;
  /* under lock: the next segment to take, the next to write, stop on any failure */
  GMutex        lock;
  GCond         cond;
  gsize         next, written;
  gsize         available; /* rows the producer has filled (the height for a whole image) */
  gsize         pending;   /* the first segment not yet deflated: its rows are still read */
  gboolean      failed, stop, writing;
  /* the output, touched only by the thread that holds "writing" */
  CliAtomic  *file;
  GByteArray   *idat;
  uLong         stream_adler;
  GError       *error;
} PngJob;

static void
get_row (PngJob *job, gsize y, guchar *dst)
{
  const GeglRectangle r = { job->extent.x, job->extent.y + (gint) y, job->extent.width, 1 };

  /* one row per call, as png-save: babl's result for a pixel must not depend on its
   * neighbours in the call (it can, for non-finite floats) */
  if (job->pixels == NULL)
    gegl_buffer_get (job->buffer, &r, 1.0, job->format, dst, GEGL_AUTO_ROWSTRIDE,
                     GEGL_ABYSS_NONE);
  else
    {
      const guint8 *src = job->pixels + (job->ring_rows ? y % job->ring_rows : y) * job->stride;

      if (job->fish == NULL)
        memcpy (dst, src, job->row_bytes);
      else
        babl_process (job->fish, src, dst, job->extent.width);
    }
  if (job->swap16)
    for (gsize i = 0; i + 1 < job->row_bytes; i += 2)
      {
        const guchar t = dst[i];
        dst[i] = dst[i + 1];
        dst[i + 1] = t;
      }
}

static gboolean
deflate_segment (PngJob *job, gsize seg)
{
  const gsize    y0 = seg * job->rows_per_segment;
  const gsize    y1 = MIN (y0 + job->rows_per_segment, (gsize) job->extent.height);
  const gboolean last = y1 == (gsize) job->extent.height;
  guchar        *prev = g_try_malloc0 (job->row_bytes), *cur = g_try_malloc (job->row_bytes);
  guchar        *line = g_try_malloc (job->row_bytes + 1);
  GByteArray    *out = g_byte_array_new ();
  uLong          adler = adler32 (0L, Z_NULL, 0);
  z_stream       z = { 0 };
  gboolean       ok = prev != NULL && cur != NULL && line != NULL;
  guchar         chunk[1 << 16];

  ok = ok && deflateInit2 (&z, job->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  if (ok && y0 > 0)
    get_row (job, y0 - 1, prev);
  for (gsize y = y0; ok && y < y1; y++)
    {
      get_row (job, y, cur);
      line[0] = 2; /* filter "up" */
      for (gsize i = 0; i < job->row_bytes; i++)
        line[i + 1] = (guchar) (cur[i] - prev[i]);
      adler = adler32 (adler, line, (uInt) (job->row_bytes + 1));
      z.next_in = line;
      z.avail_in = (uInt) (job->row_bytes + 1);
      do
        {
          const int flush = y + 1 < y1 ? Z_NO_FLUSH : last ? Z_FINISH : Z_SYNC_FLUSH;
          int       st;

          z.next_out = chunk;
          z.avail_out = sizeof chunk;
          st = deflate (&z, flush);
          if (st == Z_STREAM_ERROR)
            ok = FALSE;
          g_byte_array_append (out, chunk, (guint) (sizeof chunk - z.avail_out));
        }
      while (ok && (z.avail_out == 0 || z.avail_in > 0));
      guchar *t = prev;
      prev = cur;
      cur = t;
    }
  deflateEnd (&z);
  g_free (prev), g_free (cur), g_free (line);
  job->data[seg] = out;
  job->adler[seg] = adler;
  job->raw_len[seg] = (y1 - y0) * (job->row_bytes + 1);
  return ok;
}

/* One chunk: length, type, data, CRC of type and data. */
static gboolean
put_chunk (CliAtomic *f, const char *type, const guchar *data, gsize len, GError **error)
{
  guchar head[8], tail[4];
  uLong  crc = crc32 (0L, Z_NULL, 0);

  if (len > 0x7fffffffu)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "PNG chunk %s of %" G_GSIZE_FORMAT " bytes: more than 2^31 - 1", type, len);
      return FALSE;
    }
  head[0] = (guchar) (len >> 24), head[1] = (guchar) (len >> 16);
  head[2] = (guchar) (len >> 8), head[3] = (guchar) len;
  memcpy (head + 4, type, 4);
  crc = crc32 (crc, head + 4, 4);
  if (len > 0)
    crc = crc32 (crc, data, (uInt) len);
  tail[0] = (guchar) (crc >> 24), tail[1] = (guchar) (crc >> 16);
  tail[2] = (guchar) (crc >> 8), tail[3] = (guchar) crc;
  return cli_atomic_write (f, head, 8, error) && (len == 0 || cli_atomic_write (f, data, len, error))
         && cli_atomic_write (f, tail, 4, error);
}

/* Appends segment @seg to the zlib stream, writing full IDAT chunks. */
static gboolean
write_segment (PngJob *job, gsize seg)
{
  const guchar *p = job->data[seg]->data;
  gsize         left = job->data[seg]->len;
  gboolean      ok = TRUE;

  job->stream_adler = adler32_combine (job->stream_adler, job->adler[seg], (z_off_t) job->raw_len[seg]);
  while (ok && left > 0)
    {
      const gsize take = MIN (left, IDAT_BYTES - job->idat->len);

      g_byte_array_append (job->idat, p, (guint) take);
      p += take, left -= take;
      if (job->idat->len == IDAT_BYTES)
        {
          ok = put_chunk (job->file, "IDAT", job->idat->data, job->idat->len, &job->error);
          g_byte_array_set_size (job->idat, 0);
        }
    }
  return ok;
}

/* Each thread deflates the next segment; whichever finds the segment due for output done
 * and nobody writing, writes it and any that follow it done (no thread waits to write). */
static gpointer
worker (gpointer data)
{
  PngJob *job = data;

  g_mutex_lock (&job->lock);
  for (;;)
    {
      gsize    seg;
      gboolean ok;

      while (!job->stop && !job->writing && job->written < job->n_segments && job->done[job->written])
        {
          GByteArray *out = job->data[job->written];

          job->writing = TRUE;
          g_mutex_unlock (&job->lock);
          ok = write_segment (job, job->written);
          g_byte_array_unref (out);
          g_mutex_lock (&job->lock);
          job->data[job->written] = NULL;
          job->written++;
          job->writing = FALSE;
          if (!ok)
            job->stop = TRUE;
          g_cond_broadcast (&job->cond);
        }
      if (job->stop || job->next >= job->n_segments)
        break;
      if (job->next >= job->written + job->ahead
          || MIN ((job->next + 1) * job->rows_per_segment, (gsize) job->extent.height)
               > job->available)
        {
          g_cond_wait (&job->cond, &job->lock);
          continue;
        }
      seg = job->next++;
      g_mutex_unlock (&job->lock);
      ok = deflate_segment (job, seg);
      g_mutex_lock (&job->lock);
      job->done[seg] = TRUE;
      while (job->pending < job->n_segments && job->done[job->pending])
        job->pending++;
      if (!ok)
        job->failed = job->stop = TRUE;
      g_cond_broadcast (&job->cond);
    }
  g_mutex_unlock (&job->lock);
  return NULL;
}

static void
be32 (guchar *p, guint32 v)
{
  p[0] = (guchar) (v >> 24), p[1] = (guchar) (v >> 16), p[2] = (guchar) (v >> 8), p[3] = (guchar) v;
}

/* The colour chunks gegl:png-save writes for RGB output. */
static gboolean
put_colour_chunks (CliAtomic *f, const Babl *space, GError **error)
{
  guchar chrm[32], gama[4];
  double v[8];
  const Babl *trc[3];

  if (space == NULL || space == babl_space ("sRGB"))
    {
      /* png_set_sRGB_gAMA_and_cHRM (relative intent): libpng's sRGB values */
      static const guint32 srgb_chrm[8] = { 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000 };
      const guchar         relative = 1;

      for (int i = 0; i < 8; i++)
        be32 (chrm + 4 * i, srgb_chrm[i]);
      be32 (gama, 45455);
      return put_chunk (f, "gAMA", gama, 4, error) && put_chunk (f, "sRGB", &relative, 1, error)
             && put_chunk (f, "cHRM", chrm, 32, error);
    }
  babl_space_get (space, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &trc[0], &trc[1],
                  &trc[2]);
  for (int i = 0; i < 8; i++)
    be32 (chrm + 4 * i, (guint32) (v[i] * 100000.0 + 0.5));
  be32 (gama, trc[0] == babl_trc ("linear") ? 100000 : 45455);
  /* libpng's order: gAMA, iCCP, cHRM */
  if (!put_chunk (f, "gAMA", gama, 4, error))
    return FALSE;
  if (!babl_space_is_cmyk (space))
    {
      int         icc_len = 0;
      const char *icc = babl_space_get_icc (space, &icc_len);
      const char *name = babl_get_name (space);
      const gsize nlen = strlen (name) > 10 ? 4 : strlen (name);

      if (icc != NULL && icc_len > 0)
        {
          uLongf   zlen = compressBound ((uLong) icc_len);
          guchar  *buf = g_malloc (nlen + 2 + zlen);
          gboolean ok;

          memcpy (buf, strlen (name) > 10 ? "GEGL" : name, nlen);
          buf[nlen] = 0, buf[nlen + 1] = 0; /* name terminator, compression method 0 */
          ok = compress2 (buf + nlen + 2, &zlen, (const Bytef *) icc, (uLong) icc_len, 9) == Z_OK;
          if (!ok)
            g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                         "PNG: cannot compress the ICC profile");
          ok = ok && put_chunk (f, "iCCP", buf, nlen + 2 + zlen, error);
          g_free (buf);
          if (!ok)
            return FALSE;
        }
    }
  return put_chunk (f, "cHRM", chrm, 32, error);
}

/* Checks the size, sets up @job and writes everything before the first IDAT byte. The image
 * is @extent in @bformat; @pixels (nullable) holds its rows in that format. */
static gboolean
png_begin (PngJob *job, const Babl *bformat, const GeglRectangle *extent, const guint8 *pixels,
           gsize stride, CliAtomic *f, gint threads, gint level, GError **error)
{
  const Babl    *space = babl_format_get_space (bformat);
  const Babl    *type = babl_format_get_type (bformat, 0);
  const gint     depth = type == babl_type ("u8") ? 8 : 16;
  const gint     nc = babl_format_get_n_components (bformat);
  const gboolean alpha = babl_format_has_alpha (bformat);
  const gboolean grey = alpha ? nc == 2 : nc == 1;
  gchar          fmt[32];
  guchar         ihdr[13], bkgd[6];
  const guchar   zhead[2] = { 0x78, 0x5e };
  gboolean       ok;

  job->extent = *extent;
  job->level = level;
  g_snprintf (fmt, sizeof fmt, "%s %s", grey ? (alpha ? "Y'A" : "Y'") : (alpha ? "R'G'B'A" : "R'G'B'"),
              depth == 8 ? "u8" : "u16");
  job->format = babl_format_with_space (fmt, space);
  job->bpp = (gsize) babl_format_get_bytes_per_pixel (job->format);
  job->pixels = pixels;
  job->stride = stride;
  if (pixels != NULL && job->format != bformat)
    job->fish = babl_fish (bformat, job->format);
  job->swap16 = depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN;
  if (extent->width <= 0 || extent->height <= 0
      || !g_size_checked_mul (&job->row_bytes, (gsize) extent->width, job->bpp)
      || job->row_bytes >= G_MAXUINT32)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "PNG: %dx%d pixels cannot be written",
                   extent->width, extent->height);
      return FALSE;
    }
  threads = CLAMP (threads, 1, 64);
  job->rows_per_segment = MAX (1, SEGMENT_BYTES / (job->row_bytes + 1));
  job->n_segments = ((gsize) extent->height + job->rows_per_segment - 1) / job->rows_per_segment;
  job->ahead = (gsize) threads * AHEAD_PER_THREAD;
  job->data = g_new0 (GByteArray *, job->n_segments);
  job->adler = g_new0 (uLong, job->n_segments);
  job->raw_len = g_new0 (gsize, job->n_segments);
  job->done = g_new0 (gboolean, job->n_segments);
  g_mutex_init (&job->lock);
  g_cond_init (&job->cond);

  /* signature, header, colour chunks, background */
  be32 (ihdr, (guint32) extent->width);
  be32 (ihdr + 4, (guint32) extent->height);
  ihdr[8] = (guchar) depth;
  ihdr[9] = grey ? (alpha ? 4 : 0) : (alpha ? 6 : 2);
  ihdr[10] = ihdr[11] = ihdr[12] = 0;
  ok = cli_atomic_write (f, "\x89PNG\r\n\x1a\n", 8, error)
       && put_chunk (f, "IHDR", ihdr, 13, error) && (grey || put_colour_chunks (f, space, error));
  /* white background, as png-save (whose 16-bit value is 0x00ff: written here as white) */
  for (int i = 0; i < 3; i++)
    bkgd[2 * i] = depth == 16 ? 0xff : 0, bkgd[2 * i + 1] = 0xff;
  ok = ok && put_chunk (f, "bKGD", bkgd, grey ? 2 : 6, error);

  /* The zlib stream: header, the segments in order as they are done, Adler-32 of all the
   * filtered rows. */
  job->file = f;
  job->idat = g_byte_array_sized_new (IDAT_BYTES);
  job->stream_adler = adler32 (0L, Z_NULL, 0);
  g_byte_array_append (job->idat, zhead, 2);
  return ok;
}

/* After the workers are joined: the end of the zlib stream and the file, or the first error;
 * frees what png_begin() took. */
static gboolean
png_end (PngJob *job, gboolean ok, GError **error)
{
  guchar ztail[4];

  if (ok && job->failed)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "PNG: deflate failed (out of memory?)");
      ok = FALSE;
    }
  else if (ok && job->error != NULL)
    {
      g_propagate_error (error, job->error);
      job->error = NULL;
      ok = FALSE;
    }
  else if (ok && job->written != job->n_segments)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "PNG: %" G_GSIZE_FORMAT " of %"
                   G_GSIZE_FORMAT " row segments written", job->written, job->n_segments);
      ok = FALSE;
    }
  g_clear_error (&job->error);
  if (ok)
    {
      be32 (ztail, (guint32) job->stream_adler);
      g_byte_array_append (job->idat, ztail, 4);
      ok = put_chunk (job->file, "IDAT", job->idat->data, job->idat->len, error)
           && put_chunk (job->file, "IEND", NULL, 0, error);
    }
  if (job->idat != NULL)
    g_byte_array_unref (job->idat);
  for (gsize s = 0; s < job->n_segments; s++)
    if (job->data[s] != NULL)
      g_byte_array_unref (job->data[s]);
  g_free (job->data), g_free (job->adler), g_free (job->raw_len), g_free (job->done);
  g_mutex_clear (&job->lock);
  g_cond_clear (&job->cond);
  return ok;
}

gboolean
cli_png_write (GeglBuffer *buffer, const guint8 *pixels, gsize stride, CliAtomic *f,
                 gint threads, gint level, GError **error)
{
  PngJob    job = { 0 };
  GThread **pool;
  gboolean  ok;

  ok = png_begin (&job, gegl_buffer_get_format (buffer), gegl_buffer_get_extent (buffer), pixels,
                  stride, f, threads, level, error);
  if (ok)
    {
      threads = CLAMP (threads, 1, 64);
      job.available = (gsize) job.extent.height;
      pool = g_new0 (GThread *, threads);
      for (gint t = 1; t < threads; t++)
        pool[t] = g_thread_new ("tconv-png", worker, &job);
      worker (&job);
      for (gint t = 1; t < threads; t++)
        g_thread_join (pool[t]);
      g_free (pool);
      /* the last segment is written by whichever thread finished last: all are now */
    }
  else if (job.data == NULL) /* failed before anything was taken */
    return FALSE;
  return png_end (&job, ok, error);
}

/* ---------------------------------------------------------------------------------------------
 * Streamed output
 */

struct CliPngStream
{
  PngJob    job;
  GThread **pool;
  gint      threads;
  guint8   *ring;
  gboolean  header_ok;
};

CliPngStream *
cli_png_stream_begin (const Babl *format, gint width, gint height, gint band_rows,
                      CliAtomic *file, gint threads, gint level, guint8 **ring,
                      gsize *ring_rows, gsize *rowstride, GError **error)
{
  CliPngStream       *s = g_new0 (CliPngStream, 1);
  const GeglRectangle extent = { 0, 0, width, height };
  const gsize         bpp = (gsize) babl_format_get_bytes_per_pixel (format);
  gsize               stride, need, bytes;

  threads = CLAMP (threads, 1, 64);
  band_rows = MAX (band_rows, 1);
  s->threads = threads;
  if (!g_size_checked_mul (&stride, (gsize) MAX (width, 1), bpp))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "PNG: %dx%d pixels cannot be written", width, height);
      g_free (s);
      return NULL;
    }
  if (!png_begin (&s->job, format, &extent, NULL, stride, file, threads, level, error))
    {
      if (s->job.data != NULL)
        png_end (&s->job, FALSE, NULL);
      g_free (s);
      return NULL;
    }
  /* Whole bands (so that the producer writes each band's rows contiguously), enough for a band
   * being filled while every thread deflates a segment and one more waits: with at least a
   * band, a segment and its row above, the producer and the workers can never wait for each
   * other at once. */
  need = (gsize) band_rows + s->job.rows_per_segment * (gsize) (threads + 1) + 1;
  s->job.ring_rows = (need + (gsize) band_rows - 1) / (gsize) band_rows * (gsize) band_rows;
  s->job.ring_rows = MIN (s->job.ring_rows,
                          ((gsize) height + band_rows - 1) / (gsize) band_rows * (gsize) band_rows);
  if (!g_size_checked_mul (&bytes, s->job.ring_rows, stride)
      || (s->ring = g_try_malloc (bytes)) == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "PNG: no memory for %" G_GSIZE_FORMAT " rows of %" G_GSIZE_FORMAT " bytes",
                   s->job.ring_rows, stride);
      png_end (&s->job, FALSE, NULL);
      g_free (s);
      return NULL;
    }
  s->job.pixels = s->ring;
  if (s->job.format != format)
    s->job.fish = babl_fish (format, s->job.format);
  s->pool = g_new0 (GThread *, threads);
  for (gint t = 0; t < threads; t++)
    s->pool[t] = g_thread_new ("tconv-png", worker, &s->job);
  *ring = s->ring;
  *ring_rows = s->job.ring_rows;
  *rowstride = stride;
  return s;
}

gboolean
cli_png_stream_wait_room (CliPngStream *s, gint y1)
{
  PngJob  *job = &s->job;
  gboolean ok;

  g_mutex_lock (&job->lock);
  /* row y takes the place of row y - ring_rows: free once the first segment still to be
   * deflated starts (with its row above) after it */
  while (!job->stop && (gsize) y1 > job->ring_rows
         && (job->pending >= job->n_segments
               ? FALSE
               : job->pending * job->rows_per_segment < (gsize) y1 - job->ring_rows + 1))
    g_cond_wait (&job->cond, &job->lock);
  ok = !job->stop;
  g_mutex_unlock (&job->lock);
  return ok;
}

void
cli_png_stream_rows_done (CliPngStream *s, gint y1)
{
  g_mutex_lock (&s->job.lock);
  s->job.available = (gsize) y1;
  g_cond_broadcast (&s->job.cond);
  g_mutex_unlock (&s->job.lock);
}

static void
stream_join (CliPngStream *s, gboolean stop)
{
  g_mutex_lock (&s->job.lock);
  if (stop)
    s->job.stop = TRUE;
  g_cond_broadcast (&s->job.cond);
  g_mutex_unlock (&s->job.lock);
  for (gint t = 0; t < s->threads; t++)
    g_thread_join (s->pool[t]);
  g_free (s->pool);
}

gboolean
cli_png_stream_end (CliPngStream *s, GError **error)
{
  gboolean ok;

  stream_join (s, FALSE);
  ok = png_end (&s->job, TRUE, error);
  g_free (s->ring);
  g_free (s);
  return ok;
}

void
cli_png_stream_abort (CliPngStream *s)
{
  if (s == NULL)
    return;
  stream_join (s, TRUE);
  png_end (&s->job, FALSE, NULL);
  g_free (s->ring);
  g_free (s);
}
