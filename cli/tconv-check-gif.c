/* SPDX-License-Identifier: GPL-3.0-or-later */
/* GIF files walked before gegl:gif-load sees them: it fills whatever a truncated file lacks
 * with transparency, without a word. The blocks must run to the trailer, and the first
 * frame's LZW data (the frame GEGL decodes) must decode to at least the frame's pixels; the
 * LZW decoding here only counts them. */
#include "tconv-input.h"

#include <string.h>

/* A bit reader over the LZW data's sub-blocks ("size, size bytes", ended by a 0). */
typedef struct
{
  const guchar *p, *end;
  gsize         left; /* bytes left in the current sub-block */
  guint32       bits;
  guint         nbits;
  gboolean      ended; /* the 0 sub-block was read */
} Bits;

static gboolean
bits_byte (Bits *r, guint *byte)
{
  while (r->left == 0 && !r->ended)
    {
      if (r->p >= r->end)
        return FALSE;
      r->left = *r->p++;
      r->ended = r->left == 0;
      if ((gsize) (r->end - r->p) < r->left)
        return FALSE;
    }
  if (r->ended)
    return FALSE;
  r->left--;
  *byte = *r->p++;
  return TRUE;
}

/* Counts the pixels the LZW data at @r decodes to, up to @need; FALSE when the data is
 * corrupt (*@why says how), TRUE otherwise with *@got set. */
static gboolean
lzw_count (Bits *r, guint min_size, guint64 need, guint64 *got, const char **why)
{
  guint16        length[4096];
  const guint    clear = 1u << min_size, eoi = clear + 1;
  guint          size = min_size + 1, next = eoi + 1, byte;
  gint           prev = -1;

  *got = 0;
  while (*got < need)
    {
      guint code;

      while (r->nbits < size)
        {
          if (!bits_byte (r, &byte))
            return TRUE; /* the data ends: *got tells how far it went */
          r->bits |= (guint32) byte << r->nbits;
          r->nbits += 8;
        }
      code = r->bits & ((1u << size) - 1);
      r->bits >>= size;
      r->nbits -= size;
      if (code == clear)
        {
          size = min_size + 1, next = eoi + 1, prev = -1;
          continue;
        }
      if (code == eoi)
        return TRUE;
      if (prev < 0 && code > clear)
        return *why = "its LZW data starts with a code that is not a colour", FALSE;
      if (code > next || (code == next && prev < 0))
        return *why = "its LZW data holds a code not yet defined", FALSE;
      {
        /* the string of @prev, then one more pixel, is the next entry */
        const guint lp = prev < 0 ? 0 : prev < (gint) clear ? 1 : length[prev];
        const guint len = code < clear ? 1 : code == next ? lp + 1 : length[code];
        if (prev >= 0 && next < 4096)
          {
            length[next] = (guint16) (lp + 1);
            if (++next == (1u << size) && size < 12)
              size++;
          }
        *got += len;
      }
      prev = (gint) code;
    }
  return TRUE;
}

/* Skips sub-blocks up to and including their 0 terminator. */
static const guchar *
skip_blocks (const guchar *p, const guchar *end)
{
  while (p < end && *p != 0)
    p += 1 + *p;
  return p < end ? p + 1 : NULL;
}

gboolean
cli_gif_check (const CliBytes *b, CliClaim *claim, GError **error)
{
  const guchar *p = b->data, *end = b->data + b->len;
  gboolean      first = TRUE;
  const char   *why = NULL;

  if (b->len < 13)
    return cli_input_corrupt (error, "GIF", b->path, "truncated: it ends inside its header");
  claim->width = p[6] | p[7] << 8;
  claim->height = p[8] | p[9] << 8;
  p += 13;
  if (b->data[10] & 0x80)
    p += 3u << ((b->data[10] & 7) + 1);
  while (why == NULL)
    {
      if (p >= end)
        why = "truncated: it ends before its trailer";
      else if (*p == 0x3B) /* trailer */
        break;
      else if (*p == 0x21) /* extension: label, sub-blocks */
        {
          if ((p = end - p < 2 ? NULL : skip_blocks (p + 2, end)) == NULL)
            why = "truncated: it ends inside an extension";
        }
      else if (*p == 0x2C) /* image: descriptor, local colours, LZW size, sub-blocks */
        {
          guint64 w, h, got;
          Bits    r = { 0 };

          if (end - p < 11)
            {
              why = "truncated: it ends inside an image descriptor";
              break;
            }
          w = p[5] | p[6] << 8, h = p[7] | p[8] << 8;
          if (p[9] & 0x80)
            p += 3u << ((p[9] & 7) + 1);
          p += 10;
          if (p >= end || *p < 1 || *p > 11)
            {
              why = p >= end ? "truncated: it ends inside an image" : "an LZW code size "
                                                                       "outside 1..11";
              break;
            }
          r.p = p + 1, r.end = end;
          if (first && !lzw_count (&r, *p, w * h, &got, &why))
            break;
          if (first && got < w * h)
            {
              g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                           "GIF file '%s' is corrupt: its first frame's data ends after %"
                           G_GUINT64_FORMAT " of its %" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT
                           " pixels", b->path, got, w, h);
              return FALSE;
            }
          if (first)
            claim->width = MAX (claim->width, w), claim->height = MAX (claim->height, h);
          first = FALSE;
          claim->frames++;
          if ((p = skip_blocks (p + 1, end)) == NULL)
            why = "truncated: it ends inside an image's data";
        }
      else
        why = "a block that is neither an image, an extension nor the trailer";
    }
  if (why == NULL && first)
    why = "it holds no image";
  return why == NULL || cli_input_corrupt (error, "GIF", b->path, "%s", why);
}
