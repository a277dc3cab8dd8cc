/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Image orientation (EXIF's eight, Radiance's eight resolution lines) and the few tags of a
 * TIFF-structured block that tconv reads itself: every offset is checked against the block
 * before it is read. */
#include "tconv-input.h"

#include <string.h>

gboolean
cli_orient_from_exif (guint value, CliOrient *o)
{
  /* EXIF 2.3, tag 0x0112: where row 0 and column 0 of the stored image are shown */
  static const CliOrient table[8] = {
    { FALSE, FALSE, FALSE }, /* 1: top, left */
    { FALSE, TRUE, FALSE },  /* 2: top, right: mirrored */
    { FALSE, TRUE, TRUE },   /* 3: bottom, right: rotated 180° */
    { FALSE, FALSE, TRUE },  /* 4: bottom, left: mirrored upside down */
    { TRUE, FALSE, FALSE },  /* 5: left, top: transposed */
    { TRUE, TRUE, FALSE },   /* 6: right, top: rotated 90° clockwise */
    { TRUE, TRUE, TRUE },    /* 7: right, bottom: transversed */
    { TRUE, FALSE, TRUE },   /* 8: left, bottom: rotated 90° counter-clockwise */
  };

  if (value < 1 || value > 8)
    return FALSE;
  *o = table[value - 1];
  return TRUE;
}

void
cli_orient_size (const CliOrient *o, gint w, gint h, gint *shown_w, gint *shown_h)
{
  *shown_w = o->transpose ? h : w;
  *shown_h = o->transpose ? w : h;
}

void
cli_orient_set_band (GeglBuffer *dst, const Babl *format, const CliOrient *o, gint w, gint h,
                     gint y0, gint rows, const guchar *band, gsize bpp, guchar *scratch)
{
  gint          sw, sh;
  GeglRectangle r;

  cli_orient_size (o, w, h, &sw, &sh);
  if (!o->transpose && !o->flip_x && !o->flip_y)
    {
      gegl_buffer_set (dst, GEGL_RECTANGLE (0, y0, w, rows), 0, format, band,
                       (gint) ((gsize) w * bpp));
      return;
    }
  /* the band, shown: @rows stored rows become a block of rows (or columns, transposed) */
  r.width = o->transpose ? rows : w;
  r.height = o->transpose ? w : rows;
  for (gint y = 0; y < rows; y++)
    for (gint x = 0; x < w; x++)
      {
        gint u = o->transpose ? y : x, v = o->transpose ? x : y;
        if (o->flip_x)
          u = r.width - 1 - u;
        if (o->flip_y)
          v = r.height - 1 - v;
        memcpy (scratch + ((gsize) v * (gsize) r.width + (gsize) u) * bpp,
                band + ((gsize) y * (gsize) w + (gsize) x) * bpp, bpp);
      }
  /* where the block goes: stored rows y0.. are shown from the top, or from the bottom
   * (or from the left / right when transposed) */
  if (o->transpose)
    {
      r.x = o->flip_x ? sw - y0 - rows : y0;
      r.y = 0;
    }
  else
    {
      r.x = 0;
      r.y = o->flip_y ? sh - y0 - rows : y0;
    }
  gegl_buffer_set (dst, &r, 0, format, scratch, (gint) ((gsize) r.width * bpp));
}

/* ---- TIFF-structured blocks ---- */

static guint32
rd (const guchar *p, gboolean le, guint bytes)
{
  guint32 v = 0;

  for (guint i = 0; i < bytes; i++)
    v |= (guint32) p[i] << (8 * (le ? i : bytes - 1 - i));
  return v;
}

/* The first directory of a classic TIFF block: its byte order, offset and entry count, all
 * of its entries and the next directory's offset inside @len. */
static gboolean
first_ifd (const guchar *t, gsize len, gboolean *le, guint32 *ifd, guint32 *n)
{
  if (len < 8 || !((t[0] == 'I' && t[1] == 'I') || (t[0] == 'M' && t[1] == 'M')))
    return FALSE;
  *le = t[0] == 'I';
  if (rd (t + 2, *le, 2) != 42 || (*ifd = rd (t + 4, *le, 4)) > len - 6)
    return FALSE;
  *n = rd (t + *ifd, *le, 2);
  return (len - *ifd - 6) / 12 >= *n;
}

gboolean
cli_tiff_tag_find (const guchar *t, gsize len, guint tag, guint *type, guint32 *count,
                   gsize *offset)
{
  static const guint size[13] = { 0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8 };
  gboolean           le;
  guint32            ifd, n;

  *count = 0;
  if (!first_ifd (t, len, &le, &ifd, &n))
    return FALSE;
  for (guint32 i = 0; i < n; i++)
    {
      const guchar *e = t + ifd + 2 + 12 * i;
      guint32       c = rd (e + 4, le, 4), ty = rd (e + 2, le, 2);
      guint64       bytes;

      if (rd (e, le, 2) != tag)
        continue;
      if (ty == 0 || ty > 12)
        return FALSE;
      bytes = (guint64) c * size[ty];
      *type = ty;
      *count = c;
      *offset = bytes <= 4 ? (gsize) (e + 8 - t) : rd (e + 8, le, 4);
      return *offset <= len && bytes <= len - *offset;
    }
  return TRUE; /* absent: count 0 */
}

gboolean
cli_tiff_more_pages (const guchar *t, gsize len)
{
  gboolean le;
  guint32  ifd, n;

  return first_ifd (t, len, &le, &ifd, &n) && rd (t + ifd + 2 + 12 * (gsize) n, le, 4) != 0;
}

gboolean
cli_tiff_tag_uint (const guchar *t, gsize len, guint tag, guint32 dflt, guint32 *value)
{
  guint   type = 0;
  guint32 count;
  gsize   at;

  if (!cli_tiff_tag_find (t, len, tag, &type, &count, &at))
    return FALSE;
  if (count == 0)
    {
      *value = dflt;
      return TRUE;
    }
  if (type != 3 && type != 4)
    return FALSE;
  *value = rd (t + at, t[0] == 'I', type == 3 ? 2 : 4);
  return TRUE;
}
