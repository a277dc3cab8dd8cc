/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Radiance HDR (RGBE) input decoded by tconv: Debian's gegl:rgbe-load refuses the run-length
 * scanlines every common writer uses (ImageMagick, vips, Radiance itself), reads past the end
 * of a short file, parses "-Y 010 +X 010" as 8 x 8 and ignores the orientation of the
 * resolution line. Here the header is read to its blank line, the resolution line may be any
 * of the eight the format defines (decimal numbers, leading zeros allowed), every scanline
 * is walked when the file is opened (flat, or run-length per component with runs that add up
 * to the width exactly; the old-style runs of 1987 are refused), then decoded in bands into
 * an "RGB float" GEGL buffer: R = r 2^(e - 136), as gegl:rgbe-load and Radiance's own
 * reader compute it (EXPOSURE and COLORCORR are not applied: the values are those stored). */
#include "tconv-input.h"

#include <math.h>
#include <string.h>

#define BAND_ROWS 64
/* Sides beyond this are refused outright (the pipeline takes at most 524288). */
#define HDR_MAX_SIDE (1u << 24)

struct CliHdr
{
  CliBytes      bytes;
  gsize         data; /* offset of the first scanline */
  guint         len, count; /* pixels per scanline, scanlines */
  CliOrient     orient;
  const Babl   *format;
};

/* One scanline of @w pixels at *@p (before @end) into @rgbe (4 w bytes; NULL: only walked).
 * Returns NULL with *@why set when it is corrupt. */
static const guchar *
scanline (const guchar *p, const guchar *end, guint w, guchar *rgbe, const char **why)
{
  if (end - p < 4)
    return *why = "truncated: it ends before its last scanline", NULL;
  if (p[0] == 1 && p[1] == 1 && p[2] == 1)
    return *why = "old-style run-length scanlines (before 1991), which tconv does not read", NULL;
  if (w < 8 || w > 0x7FFF || p[0] != 2 || p[1] != 2 || (p[2] & 0x80) != 0)
    {
      /* flat: four bytes a pixel */
      if ((gsize) (end - p) / 4 < w)
        return *why = "truncated: it ends inside a scanline", NULL;
      if (rgbe != NULL)
        memcpy (rgbe, p, (gsize) w * 4);
      return p + (gsize) w * 4;
    }
  if ((guint) (p[2] << 8 | p[3]) != w)
    return *why = "a run-length scanline is not as long as the image is wide", NULL;
  p += 4;
  /* the four components (R, G, B, exponent) one after the other, each in runs "128 + n,
   * byte" (n = 1..127) and dumps "n, n bytes" (n = 1..128) */
  for (guint c = 0; c < 4; c++)
    for (guint x = 0; x < w;)
      {
        const guint  code = p < end ? *p++ : 0;
        const guint  n = code > 128 ? code - 128 : code;
        const gsize  need = code > 128 ? 1 : n;

        if (p >= end || (gsize) (end - p) < need)
          return *why = "truncated: it ends inside a run-length scanline", NULL;
        if (n == 0)
          return *why = "a run-length scanline holds a run of length 0", NULL;
        if (n > w - x)
          return *why = "a run of a run-length scanline goes past its end", NULL;
        if (rgbe != NULL)
          for (guint i = 0; i < n; i++)
            rgbe[4 * (x + i) + c] = p[code > 128 ? 0 : i];
        x += n;
        p += need;
      }
  return p;
}

/* Reads "[+-]A N" (A = X or Y, N decimal, 1..HDR_MAX_SIDE) at *@p. */
static gboolean
axis (const guchar **p, const guchar *end, char *sign, char *name, guint *n)
{
  const guchar *q = *p;
  guint64       v = 0;

  if (end - q < 4 || (q[0] != '-' && q[0] != '+') || (q[1] != 'X' && q[1] != 'Y') || q[2] != ' '
      || !g_ascii_isdigit (q[3]))
    return FALSE;
  *sign = (char) q[0];
  *name = (char) q[1];
  for (q += 3; q < end && g_ascii_isdigit (*q); q++)
    if ((v = v * 10 + (guint) (*q - '0')) > HDR_MAX_SIDE)
      return FALSE;
  *n = (guint) v;
  *p = q;
  return v > 0;
}

/* The resolution line: scanlines along the first axis, pixels along the second. "-Y H +X W"
 * is the usual one (rows from the top, pixels from the left); "+Y" counts rows from the
 * bottom, "-X" pixels from the right, and "X" first makes scanlines columns. */
static gboolean
resolution (CliHdr *h, const guchar **p, const guchar *end)
{
  char sign1, name1, sign2, name2;

  if (!axis (p, end, &sign1, &name1, &h->count) || *p >= end || *(*p)++ != ' '
      || !axis (p, end, &sign2, &name2, &h->len) || name1 == name2 || *p >= end
      || *(*p)++ != '\n')
    return FALSE;
  h->orient.transpose = name1 == 'X';
  /* shown x grows with +X, shown y with -Y (Radiance's Y points up) */
  h->orient.flip_x = (name1 == 'X' ? sign1 : sign2) == '-';
  h->orient.flip_y = (name1 == 'Y' ? sign1 : sign2) == '+';
  return TRUE;
}

CliHdr *
cli_hdr_open (const CliBytes *b, GeglRectangle *box, GError **error)
{
  CliHdr       *h = g_new0 (CliHdr, 1);
  const guchar *p = b->data, *end = b->data + b->len, *line = p;
  const char   *why = NULL;
  gint          sw, sh;

  h->bytes = *b;
  /* header lines up to an empty one */
  for (;;)
    {
      const guchar *nl = line < end ? memchr (line, '\n', (gsize) (end - line)) : NULL;

      if (nl == NULL)
        {
          why = "truncated: its header has no end (an empty line)";
          break;
        }
      if (nl == line)
        {
          line++;
          break;
        }
      if (nl - line > 7 && memcmp (line, "FORMAT=", 7) == 0
          && !(nl - line == 22 && memcmp (line + 7, "32-bit_rle_rgbe", 15) == 0))
        {
          why = "its FORMAT is not 32-bit_rle_rgbe (XYZE files are not read)";
          break;
        }
      line = nl + 1;
    }
  p = line;
  if (why == NULL && !resolution (h, &p, end))
    why = "the resolution line after the header is not one of '-Y H +X W' and the seven other "
          "orientations, with sides of 1 to 16777216";
  h->data = (gsize) (p - b->data);
  for (guint y = 0; why == NULL && y < h->count; y++)
    p = scanline (p, end, h->len, NULL, &why);
  if (why != NULL)
    {
      cli_input_corrupt (error, "Radiance HDR", b->path, "%s", why);
      g_free (h);
      return NULL;
    }
  cli_orient_size (&h->orient, (gint) h->len, (gint) h->count, &sw, &sh);
  *box = (GeglRectangle) { 0, 0, sw, sh };
  return h;
}

const Babl *
cli_hdr_format (CliHdr *h)
{
  return h->format = babl_format ("RGB float");
}

GeglBuffer *
cli_hdr_read (CliHdr *h, GError **error)
{
  const guchar *p = h->bytes.data + h->data, *end = h->bytes.data + h->bytes.len;
  const gsize   w = h->len;
  guchar       *rgbe = g_malloc (w * 4);
  float        *band = g_malloc (w * 3 * sizeof (float) * BAND_ROWS);
  guchar       *scratch = g_malloc (w * 3 * sizeof (float) * BAND_ROWS);
  const char   *why = NULL;
  gint          sw, sh;
  GeglBuffer   *buffer;

  cli_orient_size (&h->orient, (gint) h->len, (gint) h->count, &sw, &sh);
  buffer = gegl_buffer_new (GEGL_RECTANGLE (0, 0, sw, sh), h->format);
  for (guint y0 = 0; y0 < h->count && why == NULL; y0 += BAND_ROWS)
    {
      const guint rows = MIN (BAND_ROWS, h->count - y0);

      for (guint r = 0; r < rows && why == NULL; r++)
        {
          float *out = band + (gsize) r * w * 3;
          if ((p = scanline (p, end, h->len, rgbe, &why)) == NULL)
            break;
          for (gsize x = 0; x < w; x++)
            {
              const guchar *e = rgbe + 4 * x;
              const float   f = e[3] == 0 ? 0.0f : ldexpf (1.0f, (int) e[3] - (128 + 8));
              out[3 * x] = e[0] * f;
              out[3 * x + 1] = e[1] * f;
              out[3 * x + 2] = e[2] * f;
            }
        }
      if (why == NULL)
        cli_orient_set_band (buffer, h->format, &h->orient, (gint) h->len, (gint) h->count,
                             (gint) y0, (gint) rows, (const guchar *) band,
                             3 * sizeof (float), scratch);
    }
  g_free (rgbe), g_free (band), g_free (scratch);
  if (why != NULL) /* the file changed since it was walked */
    {
      cli_input_corrupt (error, "Radiance HDR", h->bytes.path, "%s", why);
      g_clear_object (&buffer);
    }
  return buffer;
}

void
cli_hdr_free (CliHdr *h)
{
  g_free (h);
}
