/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PNG input decoded with libpng on a thread of its own, started before GEGL is: GEGL's
 * start-up (loading its modules, about 0.3 s) and the decoding (about as long for 12
 * megapixels) then overlap. Only the common files take this way: 8- or 16-bit grey, grey +
 * alpha, RGB or RGBA, not interlaced, without palette or tRNS, whose colour is sRGB (no
 * colour chunk, or an sRGB chunk) or an ICC profile, up to 512 MiB of pixels (larger ones
 * go to GEGL, whose buffers can swap). The pixels and format are those of
 * gegl:png-load for such files; the caller also checks the format against the one GEGL's
 * loader reports from the header (tconv_source_open()). Any other file, and any libpng
 * warning or error, is left to GEGL's loader (tconv_source_read()), which gives the usual
 * result or message: this is only a faster way to the same buffer. */
#include "tconv-cli.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* Larger images are left to GEGL's loader, whose buffer can swap to disk. */
#define PNG_READ_MAX ((gsize) 512 << 20)

struct TconvPngRead
{
  GThread *thread;
  gchar   *path;
  guint64  file_size;
  /* set by the thread; valid once it is joined */
  gboolean ok;
  guint32  width, height;
  gint     depth, channels; /* 8 or 16; 1..4 */
  guint8  *pixels;          /* rows of width * channels * depth / 8 bytes, native endian */
  guint8  *icc;             /* the iCCP profile, or NULL for sRGB */
  guint32  icc_len;
};

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

static gpointer
decode (gpointer data)
{
  TconvPngRead *r = data;
  FILE         *f = fopen (r->path, "rb");
  png_structp   png = NULL;
  png_infop     info = NULL;
  guint8 **volatile rows = NULL; /* set after setjmp(), freed after a longjmp() */

  if (f == NULL)
    return NULL;
  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, on_png_error, on_png_warning);
  if (png == NULL || (info = png_create_info_struct (png)) == NULL)
    goto out;
  if (setjmp (png_jmpbuf (png)))
    {
      r->ok = FALSE; /* out: frees what was taken */
      goto out;
    }
  /* as gegl:png-load */
  png_set_benign_errors (png, TRUE);
  png_set_option (png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
  png_init_io (png, f);
  png_read_info (png, info);
  {
    png_uint_32 w, h;
    int         depth, colour, interlace;
    gsize       row, total;

    png_get_IHDR (png, info, &w, &h, &depth, &colour, &interlace, NULL, NULL);
    if ((depth != 8 && depth != 16) || interlace != PNG_INTERLACE_NONE
        || png_get_valid (png, info, PNG_INFO_tRNS))
      goto out;
    switch (colour)
      {
      case PNG_COLOR_TYPE_GRAY: r->channels = 1; break;
      case PNG_COLOR_TYPE_GRAY_ALPHA: r->channels = 2; break;
      case PNG_COLOR_TYPE_RGB: r->channels = 3; break;
      case PNG_COLOR_TYPE_RGB_ALPHA: r->channels = 4; break;
      default: goto out; /* palette */
      }
    if (png_get_valid (png, info, PNG_INFO_iCCP))
      {
        png_charp     name;
        int           compression;
        png_bytep     profile;
        png_uint_32   len;

        png_get_iCCP (png, info, &name, &compression, &profile, &len);
        r->icc = g_memdup2 (profile, len);
        r->icc_len = len;
      }
    else if (png_get_valid (png, info, PNG_INFO_gAMA) && !png_get_valid (png, info, PNG_INFO_sRGB))
      goto out; /* GEGL builds a space from gAMA and cHRM */
    else if (png_get_valid (png, info, PNG_INFO_gAMA))
      {
        double gamma;

        /* gegl:png-load corrects sRGB files whose gAMA is not sRGB's */
        png_get_gAMA (png, info, &gamma);
        if (fabs (gamma * 2.2 - 1.0) > 0.01)
          goto out;
      }
    if (depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
      png_set_swap (png);
    png_read_update_info (png, info);
    row = png_get_rowbytes (png, info);
    /* deflate shrinks at most 1032 times: a header that claims more than the file could
     * hold is left to tconv_source_open(), which refuses it, before any memory is taken */
    if (row != (gsize) w * (gsize) r->channels * (gsize) depth / 8
        || !g_size_checked_mul (&total, row, h) || total / 1032 > r->file_size
        || total > PNG_READ_MAX)
      goto out;
    r->pixels = g_try_malloc (total);
    rows = g_try_new (guint8 *, h);
    if (r->pixels == NULL || rows == NULL)
      goto out;
    for (png_uint_32 y = 0; y < h; y++)
      rows[y] = r->pixels + (gsize) y * row;
    png_read_image (png, rows);
    png_read_end (png, NULL);
    r->width = w, r->height = h, r->depth = depth;
    r->ok = TRUE;
  }

out:
  if (!r->ok)
    {
      g_clear_pointer (&r->pixels, g_free);
      g_clear_pointer (&r->icc, g_free);
    }
  g_free (rows);
  if (png != NULL)
    png_destroy_read_struct (&png, info != NULL ? &info : NULL, NULL);
  fclose (f);
  return NULL;
}

TconvPngRead *
tconv_png_read_start (const TconvSource *source)
{
  TconvPngRead *r;

  if (source->head_len < 8 || png_sig_cmp (source->head, 0, 8) != 0)
    return NULL;
  r = g_new0 (TconvPngRead, 1);
  r->path = g_strdup (source->path);
  r->file_size = source->file_size;
  r->thread = g_thread_try_new ("tconv-png-read", decode, r, NULL);
  if (r->thread == NULL)
    {
      g_free (r->path);
      g_free (r);
      return NULL;
    }
  return r;
}

GeglBuffer *
tconv_png_read_finish (TconvPngRead *r, const TconvSource *source)
{
  GeglBuffer *buffer = NULL;

  if (r == NULL)
    return NULL;
  g_thread_join (r->thread);
  if (r->ok && source != NULL && source->format != NULL) /* after tconv_source_open() */
    {
      static const char *const names[] = { "Y'", "Y'A", "R'G'B'", "R'G'B'A" };
      const Babl              *space = NULL;
      gchar                    name[32];

      if (r->icc != NULL)
        space = babl_space_from_icc ((const char *) r->icc, (int) r->icc_len,
                                     BABL_ICC_INTENT_RELATIVE_COLORIMETRIC, NULL);
      g_snprintf (name, sizeof name, "%s %s", names[r->channels - 1], r->depth == 8 ? "u8" : "u16");
      /* the same format as GEGL's loader reads from the header, or GEGL's loader decodes */
      if ((r->icc == NULL || space != NULL)
          && babl_format_with_space (name, space) == source->format
          && (guint32) source->box.width == r->width && (guint32) source->box.height == r->height)
        {
          const GeglRectangle box = { 0, 0, (gint) r->width, (gint) r->height };

          /* the decoded rows themselves, not a copy (which took half as long as decoding) */
          buffer = gegl_buffer_linear_new_from_data (
            r->pixels, source->format, &box,
            (gint) ((gsize) r->width * (gsize) r->channels * (gsize) r->depth / 8),
            (GDestroyNotify) g_free, r->pixels);
          r->pixels = NULL;
        }
    }
  g_free (r->pixels);
  g_free (r->icc);
  g_free (r->path);
  g_free (r);
  return buffer;
}
