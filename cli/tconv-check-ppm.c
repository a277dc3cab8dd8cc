/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Netpbm files (P2, P3 ASCII; P5, P6 binary) walked before gegl:ppm-load sees them: it pads a
 * short binary file with whatever its buffer held, and stores ASCII samples above maxval, or
 * negative, modulo 256 (300 becomes 44, -5 becomes 251). Here the header is parsed as Netpbm
 * defines it, a binary file must hold every byte its header claims, and every sample must be
 * a decimal number from 0 to maxval. The bound of pixels against bytes is exact for binary
 * files; an ASCII sample takes at least two bytes (a digit and a separator), the last one. */
#include "tconv-input.h"

#include <string.h>

/* Largest side taken from a header (gegl:ppm-load keeps them in a long). */
#define PPM_MAX_SIDE (1u << 30)

/* Skips white space and comments ("#" to the end of the line). */
static const guchar *
skip_space (const guchar *p, const guchar *end)
{
  while (p < end && (g_ascii_isspace (*p) || *p == '#'))
    if (*p++ == '#')
      while (p < end && *p != '\n' && *p != '\r')
        p++;
  return p;
}

/* A decimal number of at most @max at *@p; FALSE when there is none, or it is larger. */
static gboolean
number (const guchar **p, const guchar *end, guint64 max, guint64 *v)
{
  const guchar *q = *p;

  *v = 0;
  if (q >= end || !g_ascii_isdigit (*q))
    return FALSE;
  for (; q < end && g_ascii_isdigit (*q); q++)
    if ((*v = *v * 10 + (guint) (*q - '0')) > max)
      return FALSE;
  *p = q;
  return TRUE;
}

/* Every ASCII sample from @p on: @n decimal numbers of at most @maxval, separated by white
 * space. */
static gboolean
ascii_samples (const CliBytes *b, const guchar *p, guint64 n, guint64 maxval, GError **error)
{
  const guchar *end = b->data + b->len;

  for (guint64 i = 0; i < n; i++)
    {
      guint64       v;
      const guchar *at;

      p = skip_space (p, end);
      at = p;
      if (p >= end)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                       "PPM file '%s' is corrupt: truncated: it holds %" G_GUINT64_FORMAT
                       " of the %" G_GUINT64_FORMAT " samples its header claims", b->path, i, n);
          return FALSE;
        }
      if (!number (&p, end, maxval, &v) || (p < end && !g_ascii_isspace (*p) && *p != '#'))
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                       "PPM file '%s' is corrupt: sample %" G_GUINT64_FORMAT " (byte %"
                       G_GSIZE_FORMAT ") is not a whole number from 0 to maxval %"
                       G_GUINT64_FORMAT, b->path, i + 1, (gsize) (at - b->data), maxval);
          return FALSE;
        }
    }
  return TRUE;
}

/* Binary samples above maxval (possible when maxval is not 255 or 65535). */
static gboolean
binary_samples (const CliBytes *b, const guchar *p, guint64 n, guint64 maxval, GError **error)
{
  const guint bpc = maxval > 255 ? 2 : 1;

  if (maxval == 255 || maxval == 65535)
    return TRUE;
  for (guint64 i = 0; i < n; i++, p += bpc)
    if ((bpc == 2 ? (guint64) (p[0] << 8 | p[1]) : p[0]) > maxval)
      {
        g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                     "PPM file '%s' is corrupt: sample %" G_GUINT64_FORMAT " is above maxval %"
                     G_GUINT64_FORMAT, b->path, i + 1, maxval);
        return FALSE;
      }
  return TRUE;
}

gboolean
cli_ppm_check (const CliBytes *b, CliClaim *claim, guint *bytes_per_pixel, GError **error)
{
  const guchar  *p = b->data + 2, *end = b->data + b->len;
  const gboolean ascii = b->data[1] == '2' || b->data[1] == '3';
  const guint    channels = b->data[1] == '3' || b->data[1] == '6' ? 3 : 1;
  guint64        w, h, maxval, samples, left;

  p = skip_space (p, end);
  if (!number (&p, end, PPM_MAX_SIDE, &w) || w == 0)
    return cli_input_corrupt (error, "PPM", b->path, "its width is not a number from 1 to %u",
                              PPM_MAX_SIDE);
  p = skip_space (p, end);
  if (!number (&p, end, PPM_MAX_SIDE, &h) || h == 0)
    return cli_input_corrupt (error, "PPM", b->path, "its height is not a number from 1 to %u",
                              PPM_MAX_SIDE);
  p = skip_space (p, end);
  if (!number (&p, end, 65535, &maxval) || maxval == 0)
    return cli_input_corrupt (error, "PPM", b->path, "its maxval is not a number from 1 to "
                              "65535");
  /* one white space character ends the header */
  if (p >= end || !g_ascii_isspace (*p))
    return cli_input_corrupt (error, "PPM", b->path, "truncated: it ends inside its header");
  p++;
  claim->width = w, claim->height = h;
  samples = w * h * channels;
  *bytes_per_pixel = channels * (maxval > 255 ? 2 : 1);
  left = (guint64) (end - p);
  if (ascii ? samples > left / 2 + 1 : samples * (maxval > 255 ? 2 : 1) > left)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "PPM file '%s' is corrupt: truncated: its header claims %" G_GUINT64_FORMAT
                   "×%" G_GUINT64_FORMAT " pixels, %" G_GUINT64_FORMAT " samples, but only %"
                   G_GUINT64_FORMAT " bytes follow it (%s)", b->path, w, h, samples, left,
                   ascii ? "an ASCII sample takes at least 2 bytes"
                         : maxval > 255 ? "2 bytes a sample" : "1 byte a sample");
      return FALSE;
    }
  return ascii ? ascii_samples (b, p, samples, maxval, error)
               : binary_samples (b, p, samples, maxval, error);
}
