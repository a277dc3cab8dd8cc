/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PNG input decoded with libpng on a thread of its own, started before GEGL is: GEGL's
 * start-up (loading its modules, about 0.3 s) and the decoding (about as long for 12
 * megapixels) then overlap. Only the common files take this way: 8- or 16-bit grey, grey +
 * alpha, RGB or RGBA, not interlaced, without palette or tRNS, whose colour is sRGB (no
 * colour chunk, or an sRGB chunk) or an ICC profile, up to 512 MiB of pixels (larger ones
 * go to GEGL, whose buffers can swap). The pixels and format are those of
 * gegl:png-load for such files; the caller also checks the format against the one GEGL's
 * loader reports from the header (cli_source_open()). Any other file, and any libpng
 * warning or error, is left to GEGL's loader (cli_source_read()), which gives the usual
 * result or message: this is only a faster way to the same buffer.
 *
 * The rows go into an anonymous mapping of the whole image that is filled in order. Streamed
 * (cli_png_read_stream), the decoder stays a bounded window of rows ahead of the rows the
 * caller still needs, and the pages of rows it no longer needs are given back to the system:
 * only the window is ever resident, whatever the image size. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, madvise() */
#include "tconv-cli.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Larger images are left to GEGL's loader, whose buffer can swap to disk (unless streamed). */
#define PNG_READ_MAX ((gsize) 512 << 20)
/* Rows a streamed decode may run ahead before the caller sets its window. */
#define FIRST_WINDOW_BYTES ((gsize) 4 << 20)

typedef enum
{
  READ_HEADER, /* reading the header */
  READ_ROWS,   /* the header is known and the mapping made: rows are being decoded */
  READ_DONE,   /* every row and the end of the file decoded without a warning */
  READ_FAILED  /* not a kind of file this reader takes, or a libpng warning or error */
} ReadState;

struct CliPngRead
{
  GThread *thread;
  gchar   *path;
  guint64  file_size;
  gboolean streamed;
  GMutex   lock;
  GCond    cond;
  /* under lock */
  ReadState state;
  gsize     decoded;  /* rows decoded */
  gsize     released; /* rows below this one are no longer needed (streamed) */
  gsize     window;   /* rows the decoder may hold from @released on */
  gboolean  abort;
  gsize     freed;    /* bytes at the start of the mapping given back */
  /* set by the thread before READ_ROWS */
  guint32  width, height;
  gint     depth, channels; /* 8 or 16; 1..4 */
  gsize    row_bytes;       /* width * channels * depth / 8 */
  guint8  *pixels;          /* rows of @row_bytes, native endian: a mapping of @map_len */
  gsize    map_len;
  guint8  *icc;             /* the iCCP profile, or NULL for sRGB */
  guint32  icc_len;
};

typedef struct
{
  void *addr;
  gsize len;
} Mapping;

static void
unmap (gpointer data)
{
  Mapping *m = data;

  munmap (m->addr, m->len);
  g_free (m);
}

static void
on_png_error (png_structp png, png_const_charp message)
{
  (void) message;
  png_longjmp (png, 1);
}

static void
on_png_warning (png_structp png, png_const_charp message)
{
  (void) message;
  /* any warning: GEGL's loader decides (and reports) instead */
  png_longjmp (png, 1);
}

static void
set_state (CliPngRead *r, ReadState state)
{
  g_mutex_lock (&r->lock);
  r->state = state;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

/* The kind of file and its colour: FALSE for those left to GEGL's loader. */
static gboolean
read_header (CliPngRead *r, png_structp png, png_infop info)
{
  png_uint_32 w, h;
  int         depth, colour, interlace;
  gsize       total;

  png_get_IHDR (png, info, &w, &h, &depth, &colour, &interlace, NULL, NULL);
  if ((depth != 8 && depth != 16) || interlace != PNG_INTERLACE_NONE
      || png_get_valid (png, info, PNG_INFO_tRNS))
    return FALSE;
  switch (colour)
    {
    case PNG_COLOR_TYPE_GRAY: r->channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: r->channels = 2; break;
    case PNG_COLOR_TYPE_RGB: r->channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: r->channels = 4; break;
    default: return FALSE; /* palette */
    }
  if (png_get_valid (png, info, PNG_INFO_iCCP))
    {
      png_charp   name;
      int         compression;
      png_bytep   profile;
      png_uint_32 len;

      png_get_iCCP (png, info, &name, &compression, &profile, &len);
      r->icc = g_memdup2 (profile, len);
      r->icc_len = len;
    }
  else if (png_get_valid (png, info, PNG_INFO_gAMA) && !png_get_valid (png, info, PNG_INFO_sRGB))
    return FALSE; /* GEGL builds a space from gAMA and cHRM */
  else if (png_get_valid (png, info, PNG_INFO_gAMA))
    {
      double gamma;

      /* gegl:png-load corrects sRGB files whose gAMA is not sRGB's */
      png_get_gAMA (png, info, &gamma);
      if (fabs (gamma * 2.2 - 1.0) > 0.01)
        return FALSE;
    }
  if (depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    png_set_swap (png);
  png_read_update_info (png, info);
  r->row_bytes = png_get_rowbytes (png, info);
  /* deflate shrinks at most 1032 times: a header that claims more than the file could
   * hold is left to cli_source_open(), which refuses it, before any memory is taken */
  if (r->row_bytes != (gsize) w * (gsize) r->channels * (gsize) depth / 8
      || !g_size_checked_mul (&total, r->row_bytes, h) || total / 1032 > r->file_size
      || (!r->streamed && total > PNG_READ_MAX) || total == 0)
    return FALSE;
  /* pages are taken only as rows are written, and given back once streamed rows are done */
  r->pixels = mmap (NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
  if (r->pixels == MAP_FAILED)
    {
      r->pixels = NULL;
      return FALSE;
    }
  r->map_len = total;
  r->width = w, r->height = h, r->depth = depth;
  return TRUE;
}

/* Waits until row @y may be decoded: FALSE when the caller gave up. */
static gboolean
wait_window (CliPngRead *r, gsize y)
{
  gboolean go;

  g_mutex_lock (&r->lock);
  r->decoded = y;
  g_cond_broadcast (&r->cond);
  while (!r->abort && y >= r->released + r->window)
    g_cond_wait (&r->cond, &r->lock);
  go = !r->abort;
  g_mutex_unlock (&r->lock);
  return go;
}

static gpointer
decode (gpointer data)
{
  CliPngRead *r = data;
  struct stat   st;
  /* opened without blocking, and only a regular file (tconv-io.c) */
  const int     fd = cli_open_regular (r->path, &st, NULL);
  FILE         *f = fd >= 0 ? fdopen (fd, "rb") : NULL;
  png_structp   png = NULL;
  png_infop     info = NULL;
  volatile ReadState end = READ_FAILED;

  if (f == NULL)
    {
      if (fd >= 0)
        close (fd);
      goto out;
    }
  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, on_png_error, on_png_warning);
  if (png == NULL || (info = png_create_info_struct (png)) == NULL)
    goto out;
  if (setjmp (png_jmpbuf (png)))
    goto out;
  /* as gegl:png-load */
  png_set_benign_errors (png, TRUE);
  png_set_option (png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
  png_init_io (png, f);
  png_read_info (png, info);
  if (!read_header (r, png, info))
    goto out;
  g_mutex_lock (&r->lock);
  /* a streamed decode runs a little ahead until the caller sets its window */
  if (r->window == 0)
    r->window = MAX (FIRST_WINDOW_BYTES / r->row_bytes, 1);
  r->state = READ_ROWS;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  for (png_uint_32 y = 0; y < r->height; y++)
    {
      if (!wait_window (r, y))
        goto out;
      png_read_row (png, r->pixels + (gsize) y * r->row_bytes, NULL);
    }
  g_mutex_lock (&r->lock);
  r->decoded = r->height;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  png_read_end (png, NULL);
  end = READ_DONE;

out:
  if (png != NULL)
    png_destroy_read_struct (&png, info != NULL ? &info : NULL, NULL);
  if (f != NULL)
    fclose (f);
  set_state (r, end);
  return NULL;
}

CliPngRead *
cli_png_read_start (const CliSource *source, gboolean streamed)
{
  CliPngRead *r;

  if (source->head_len < 8 || png_sig_cmp (source->head, 0, 8) != 0)
    return NULL;
  r = g_new0 (CliPngRead, 1);
  r->path = g_strdup (source->path);
  r->file_size = source->file_size;
  r->streamed = streamed;
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->window = streamed ? 0 : G_MAXSIZE / 2; /* streamed: set once the row size is known */
  r->thread = g_thread_try_new ("tconv-png-read", decode, r, NULL);
  if (r->thread == NULL)
    {
      g_mutex_clear (&r->lock);
      g_cond_clear (&r->cond);
      g_free (r->path);
      g_free (r);
      return NULL;
    }
  return r;
}

/* Waits for the header; TRUE when the rows are coming in @source's format and size. */
static gboolean
header_matches (CliPngRead *r, const CliSource *source)
{
  static const char *const names[] = { "Y'", "Y'A", "R'G'B'", "R'G'B'A" };
  const Babl              *space = NULL;
  gchar                    name[32];
  ReadState                state;

  g_mutex_lock (&r->lock);
  while (r->state == READ_HEADER)
    g_cond_wait (&r->cond, &r->lock);
  state = r->state;
  g_mutex_unlock (&r->lock);
  if (state == READ_FAILED || source == NULL || source->format == NULL)
    return FALSE;
  if (r->icc != NULL)
    space = babl_space_from_icc ((const char *) r->icc, (int) r->icc_len,
                                 BABL_ICC_INTENT_RELATIVE_COLORIMETRIC, NULL);
  g_snprintf (name, sizeof name, "%s %s", names[r->channels - 1], r->depth == 8 ? "u8" : "u16");
  /* the same format as GEGL's loader reads from the header, or GEGL's loader decodes */
  return (r->icc == NULL || space != NULL) && babl_format_with_space (name, space) == source->format
         && (guint32) source->box.width == r->width && (guint32) source->box.height == r->height;
}

/* The mapping as a linear buffer; with @own, the buffer unmaps it when it goes. */
static GeglBuffer *
mapping_buffer (CliPngRead *r, const CliSource *source, gboolean own)
{
  const GeglRectangle box = { 0, 0, (gint) r->width, (gint) r->height };
  Mapping            *m = NULL;

  if (own)
    {
      m = g_new (Mapping, 1);
      m->addr = r->pixels, m->len = r->map_len;
      r->pixels = NULL;
    }
  return gegl_buffer_linear_new_from_data (m != NULL ? m->addr : r->pixels, source->format, &box,
                                           (gint) r->row_bytes, own ? unmap : NULL, m);
}

GeglBuffer *
cli_png_read_finish (CliPngRead *r, const CliSource *source)
{
  GeglBuffer *buffer = NULL;
  gboolean    match = FALSE;

  if (r == NULL)
    return NULL;
  if (source != NULL)
    match = header_matches (r, source);
  g_mutex_lock (&r->lock);
  r->window = G_MAXSIZE / 2;
  r->released = 0;
  r->abort = !match || r->streamed; /* streamed rows may have been given back */
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  g_thread_join (r->thread);
  /* the decoded rows themselves, not a copy (which took half as long as decoding) */
  if (match && !r->streamed && r->state == READ_DONE)
    buffer = mapping_buffer (r, source, TRUE);
  if (r->pixels != NULL)
    munmap (r->pixels, r->map_len);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r->icc);
  g_free (r->path);
  g_free (r);
  return buffer;
}

GeglBuffer *
cli_png_read_stream (CliPngRead *r, const CliSource *source)
{
  if (r == NULL || !r->streamed || !header_matches (r, source))
    return NULL;
  return mapping_buffer (r, source, FALSE);
}

void
cli_png_read_set_window (CliPngRead *r, gsize rows)
{
  g_mutex_lock (&r->lock);
  r->window = MAX (rows, 1);
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

gboolean
cli_png_read_need (CliPngRead *r, gsize rows)
{
  gboolean ok;

  rows = MIN (rows, (gsize) r->height);
  g_mutex_lock (&r->lock);
  while (r->decoded < rows && r->state == READ_ROWS)
    g_cond_wait (&r->cond, &r->lock);
  ok = r->decoded >= rows && r->state != READ_FAILED;
  g_mutex_unlock (&r->lock);
  return ok;
}

gboolean
cli_png_read_complete (CliPngRead *r)
{
  ReadState state;

  g_mutex_lock (&r->lock);
  r->window = G_MAXSIZE / 2;
  g_cond_broadcast (&r->cond);
  while (r->state == READ_ROWS)
    g_cond_wait (&r->cond, &r->lock);
  state = r->state;
  g_mutex_unlock (&r->lock);
  return state == READ_DONE;
}

void
cli_png_read_release (CliPngRead *r, gsize below)
{
  const gsize page = (gsize) sysconf (_SC_PAGESIZE);
  gsize       end;

  below = MIN (below, (gsize) r->height);
  g_mutex_lock (&r->lock);
  if (below > r->released)
    {
      r->released = below;
      g_cond_broadcast (&r->cond);
    }
  /* whole pages only: the page that holds row @below's start stays */
  end = below * r->row_bytes / page * page;
  if (end > r->freed)
    {
      madvise (r->pixels + r->freed, end - r->freed, MADV_DONTNEED);
      r->freed = end;
    }
  g_mutex_unlock (&r->lock);
}
