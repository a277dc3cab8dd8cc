/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebP files walked before gegl:webp-load sees them: libwebp decodes a truncated lossless
 * file as far as it goes and GEGL keeps the rest transparent, without a word. The RIFF size
 * must fit the file, every chunk must lie inside it, and the image chunk (VP8 or VP8L, or
 * VP8X before them) must be there with a size. There is no plausibility bound of pixels
 * against bytes: a lossless image of one colour codes every pixel in zero bits (single-symbol
 * prefix codes), so a few dozen bytes can hold 16383 x 16383 pixels, the format's limit; the
 * decoder's whole frame is counted in the memory budget instead. */
#include "tconv-input.h"

#include <string.h>

static guint32
le (const guchar *p, guint n)
{
  guint32 v = 0;

  for (guint i = 0; i < n; i++)
    v |= (guint32) p[i] << (8 * i);
  return v;
}

/* The size an image chunk's own header gives; FALSE when it is not one or is too short. */
static gboolean
image_size (const guchar *tag, const guchar *d, guint32 n, CliClaim *claim)
{
  if (memcmp (tag, "VP8L", 4) == 0 && n >= 5 && d[0] == 0x2F)
    {
      const guint32 bits = le (d + 1, 4);
      claim->width = (bits & 0x3FFF) + 1;
      claim->height = ((bits >> 14) & 0x3FFF) + 1;
      return TRUE;
    }
  if (memcmp (tag, "VP8 ", 4) == 0 && n >= 10 && d[3] == 0x9D && d[4] == 0x01 && d[5] == 0x2A)
    {
      claim->width = le (d + 6, 2) & 0x3FFF;
      claim->height = le (d + 8, 2) & 0x3FFF;
      return TRUE;
    }
  if (memcmp (tag, "VP8X", 4) == 0 && n >= 10)
    {
      claim->width = le (d + 4, 3) + 1;
      claim->height = le (d + 7, 3) + 1;
      return TRUE;
    }
  return FALSE;
}

gboolean
cli_webp_check (const CliBytes *b, CliClaim *claim, GError **error)
{
  const guchar *p, *end;
  guint32       riff;
  gboolean      image = FALSE, sized = FALSE;

  if (b->len < 12)
    return cli_input_corrupt (error, "WebP", b->path, "truncated: it ends inside its header");
  riff = le (b->data + 4, 4);
  if (riff < 4 || riff > b->len - 8)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "WebP file '%s' is corrupt: truncated: its RIFF header says %" G_GUINT64_FORMAT
                   " bytes, the file has %" G_GSIZE_FORMAT, b->path, (guint64) riff + 8, b->len);
      return FALSE;
    }
  p = b->data + 12;
  end = b->data + 8 + riff;
  while (p < end)
    {
      guint32 n;

      if (end - p < 8)
        return cli_input_corrupt (error, "WebP", b->path, "truncated: it ends inside a chunk "
                                  "header");
      n = le (p + 4, 4);
      if (n > (gsize) (end - p) - 8)
        return cli_input_corrupt (error, "WebP", b->path, "truncated: its '%.4s' chunk claims "
                                  "%u bytes, %" G_GSIZE_FORMAT " are left", (const char *) p, n,
                                  (gsize) (end - p) - 8);
      if (!sized)
        sized = image_size (p, p + 8, n, claim);
      if (memcmp (p, "VP8 ", 4) == 0 || memcmp (p, "VP8L", 4) == 0 || memcmp (p, "ANMF", 4) == 0)
        image = TRUE;
      claim->frames += memcmp (p, "ANMF", 4) == 0;
      p += 8 + (gsize) n + (n & 1);
    }
  if (!image || !sized)
    return cli_input_corrupt (error, "WebP", b->path, "it holds no image chunk (VP8, VP8L)");
  return TRUE;
}
