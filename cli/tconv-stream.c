/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PNG to PNG in bands of output rows: libpng decodes input rows just ahead of the band that
 * first reads them, the pipeline computes each band as its region of the whole-image result
 * (the same bytes whatever the band), and tconv's PNG writer deflates the band's rows on its
 * threads while the next band is computed. Resident memory is a window of input rows, a ring
 * of a few output bands and the pipeline's working rows, whatever the image size. */
#include "tconv-stream.h"

#include <math.h>
#include <string.h>

/* Output bytes per band: large enough that the per-call set-up of the pipeline (kernel,
 * column maps, thread hand-out) is small beside the band's work, small enough that the ring
 * of a few bands stays a small part of the job's memory. */
#define BAND_BYTES ((gsize) 1 << 20)
#define BAND_ROWS_MIN 16
#define BAND_ROWS_MAX 1024
/* Rows of margin beyond the computed reach of a band, for rounding. */
#define MARGIN 2

typedef struct
{
  gint64      in_h, out_w, out_h, mid_h, s, k, pad;
  gboolean    resample, mirror;
  TconvProgressFunc progress;
  gpointer    progress_data;
  gint        y0, y1; /* the band being computed, for the progress */
} Plan;

static gint64
floor_div (gint64 a, gint64 b)
{
  gint64 q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Input rows [*lo, *hi) that output rows [y0, y1) can read: the kernel's reach through the
 * stride x image, widened by the reduction's support when the size is not exact, and the rows
 * the mirror border reflects into it. A bound, not the exact set: rows beyond it are never
 * read (tests compare streamed and whole-image bytes over kernels, scales and borders). */
static void
input_span (const Plan *p, gint y0, gint y1, gint64 *lo, gint64 *hi)
{
  gint64 m0 = y0, m1 = (gint64) y1 - 1, a, b;

  if (p->resample)
    {
      /* output row y sits at (y + 0.5) f - 0.5 in the stride x image, reading up to the
       * support 2 max (f, 1) either side */
      const double f = (double) p->mid_h / (double) p->out_h, sup = 2.0 * MAX (f, 1.0);

      m0 = (gint64) floor ((y0 + 0.5) * f - 0.5 - sup) - MARGIN;
      m1 = (gint64) ceil ((y1 - 0.5) * f - 0.5 + sup) + MARGIN;
    }
  a = floor_div (m0 + p->pad - (p->k - 1), p->s) - MARGIN;
  b = floor_div (m1 + p->pad, p->s) + MARGIN; /* inclusive */
  if (p->mirror && a < 0)
    b = MAX (b, -a);
  if (p->mirror && b >= p->in_h)
    a = MIN (a, 2 * (p->in_h - 1) - b);
  *lo = CLAMP (a, 0, p->in_h);
  *hi = CLAMP (b + 1, 0, p->in_h);
}

static gboolean
on_band_progress (gdouble fraction, gpointer data)
{
  const Plan *p = data;

  return p->progress ((p->y0 + fraction * (p->y1 - p->y0)) / (gdouble) p->out_h,
                      p->progress_data);
}

/* The bands in order, each decoded, computed and handed to the writer. */
static CliStreamResult
run_bands (GeglBuffer *in, CliPngRead *read, TconvUpscaleOptions *opt, Plan *p,
           CliPngStream *stream, guint8 *ring, gsize ring_rows, gsize stride, gint band_rows,
           GError **error)
{
  const Babl *format = gegl_buffer_get_format (in);
  gint64      lo, hi, last_lo, window;
  GError     *perr = NULL;

  /* the mirror border makes the last bands read rows above their own: nothing below the
   * last band's first row is given back before it is done */
  input_span (p, (gint) MAX (p->out_h - band_rows, 0), (gint) p->out_h, &last_lo, &hi);
  input_span (p, (gint) (p->out_h / 2), (gint) MIN (p->out_h / 2 + band_rows, p->out_h), &lo,
              &hi);
  /* the rows of two bands: one being read while the next is decoded */
  window = 2 * (hi - lo) + 8;
  cli_png_read_set_window (read, (gsize) window);
  for (gint y0 = 0; y0 < p->out_h; y0 += band_rows)
    {
      const gint              y1 = (gint) MIN ((gint64) y0 + band_rows, p->out_h);
      const GeglRectangle     roi = { 0, y0, (gint) p->out_w, y1 - y0 };
      const TconvPipelineDest dest = { .pixels = ring + (gsize) y0 % ring_rows * stride,
                                       .rowstride = stride, .format = format };

      input_span (p, y0, y1, &lo, &hi);
      lo = MIN (lo, last_lo);
      cli_png_read_release (read, (gsize) lo);
      if (hi - lo > window)
        cli_png_read_set_window (read, (gsize) (window = hi - lo));
      if (!cli_png_read_need (read, (gsize) hi))
        return CLI_STREAM_FALLBACK;
      if (!cli_png_stream_wait_room (stream, y1))
        return CLI_STREAM_FAILED; /* the writer's error comes from cli_png_stream_end() */
      p->y0 = y0, p->y1 = y1;
      if (!tconv_pipeline_upscale_region (in, opt, &roi, &dest, &perr))
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", perr->message);
          g_error_free (perr);
          return CLI_STREAM_FAILED;
        }
      cli_png_stream_rows_done (stream, y1);
    }
  /* a warning in the chunks after the pixels sends the file to GEGL's loader, as it would
   * without streaming */
  return cli_png_read_complete (read) ? CLI_STREAM_DONE : CLI_STREAM_FALLBACK;
}

CliStreamResult
cli_stream_upscale (GeglBuffer *in, CliPngRead *read, const TconvUpscaleOptions *options,
                    const char *path, gint threads, gint level, GError **error)
{
  const GeglRectangle *ie = gegl_buffer_get_extent (in);
  const Babl          *format = gegl_buffer_get_format (in);
  TconvUpscaleOptions  opt = *options;
  Plan                 p = { 0 };
  CliAtomic         *f;
  CliPngStream        *stream;
  CliStreamResult      res;
  guint8              *ring;
  gsize                ring_rows, stride, row_bytes;
  gint                 out_w, out_h, band_rows;
  GError              *perr = NULL;

  if (!tconv_pipeline_output_size (options, ie->width, ie->height, &out_w, &out_h, &perr))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", perr->message);
      g_error_free (perr);
      return CLI_STREAM_FAILED;
    }
  p.in_h = ie->height, p.out_w = out_w, p.out_h = out_h;
  p.s = (gint64) options->kernel->stride_h, p.k = (gint64) options->kernel->k_h;
  p.pad = (gint64) options->kernel->pad_h;
  p.mid_h = p.s * p.in_h;
  p.resample = out_h != p.mid_h || out_w != p.s * (gint64) ie->width;
  p.mirror = options->border == TCONV_BORDER_MIRROR;
  if (options->progress != NULL)
    {
      p.progress = options->progress, p.progress_data = options->progress_data;
      opt.progress = on_band_progress, opt.progress_data = &p;
    }
  row_bytes = (gsize) out_w * (gsize) babl_format_get_bytes_per_pixel (format);
  band_rows = (gint) CLAMP (BAND_BYTES / MAX (row_bytes, 1), BAND_ROWS_MIN, BAND_ROWS_MAX);

  if ((f = cli_atomic_open (path, error)) == NULL)
    return CLI_STREAM_FAILED;
  stream = cli_png_stream_begin (format, out_w, out_h, band_rows, f, threads, level, &ring,
                                 &ring_rows, &stride, error);
  if (stream == NULL)
    {
      g_prefix_error (error, "cannot write '%s': ", path);
      cli_atomic_abort (f);
      return CLI_STREAM_FAILED;
    }
  res = run_bands (in, read, &opt, &p, stream, ring, ring_rows, stride, band_rows, error);
  if (res == CLI_STREAM_DONE || (res == CLI_STREAM_FAILED && error != NULL && *error == NULL))
    {
      /* done, or the writer stopped: its error */
      if (!cli_png_stream_end (stream, error))
        {
          g_prefix_error (error, "cannot write '%s': ", path);
          res = CLI_STREAM_FAILED;
        }
      else if (res == CLI_STREAM_DONE && !cli_atomic_commit (f, error))
        return CLI_STREAM_FAILED; /* commit aborts on failure */
      if (res == CLI_STREAM_DONE)
        return res;
    }
  else
    cli_png_stream_abort (stream);
  cli_atomic_abort (f);
  return res;
}
