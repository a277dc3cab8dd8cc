/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What gegl:tiff-load decodes literally and tconv fixes after it, from the first directory's
 * tags (the one GEGL reads): MinIsWhite grey is stored inverted (0 is white) and GEGL shows it
 * as MinIsBlack; signed samples (SampleFormat 2) come as unsigned bit patterns, so -1 shows
 * as the maximum; CMYK comes as babl's "CMYK", which babl turns into RGB as if the ink values
 * were linear light (57/255 off on average against every other reader); the Orientation tag
 * is ignored. Fixed here: MinIsWhite inverted (max - v, or 1 - v for floats); signed samples
 * mapped linearly from -2^(n-1)..2^(n-1)-1 onto 0..2^n-1, i.e. 0..1 (the top bit flipped:
 * -32768 is black, 0 is mid-grey, 32767 white); CMYK converted to sRGB through the file's
 * ICC profile with lcms2, else by the standard formula R = (1 - C)(1 - K) (as Pillow);
 * the orientation applied. A fixed image is a new buffer, filled in bands. */
#include "tconv-input.h"

#include <lcms2.h>
#include <string.h>

#define BAND_ROWS 64

struct CliTiff
{
  const char   *path;
  gboolean      min_is_white, is_signed, is_cmyk;
  CliOrient     orient;
  guchar       *icc; /* CMYK profile, or NULL */
  guint32       icc_len;
  const Babl   *in, *out; /* band formats: read from GEGL's buffer, written to the new one */
  gint          w, h;     /* stored size */
};

CliTiff *
cli_tiff_inspect (const CliBytes *b, GError **error)
{
  guint32  photometric, format, ink, orient;
  CliTiff *t;

  if (!cli_tiff_tag_uint (b->data, b->len, 262, 1, &photometric)
      || !cli_tiff_tag_uint (b->data, b->len, 339, 1, &format)
      || !cli_tiff_tag_uint (b->data, b->len, 332, 1, &ink)
      || !cli_tiff_tag_uint (b->data, b->len, 274, 1, &orient))
    {
      cli_input_corrupt (error, "TIFF", b->path, "its first directory is malformed");
      return NULL;
    }
  if (photometric == 5 && ink != 1)
    {
      cli_input_corrupt (error, "TIFF", b->path, "its separated inks are not CMYK (InkSet %u)",
                         ink);
      return NULL;
    }
  t = g_new0 (CliTiff, 1);
  t->path = b->path;
  t->min_is_white = photometric == 0;
  t->is_signed = format == 2;
  t->is_cmyk = photometric == 5;
  if (!cli_orient_from_exif (orient, &t->orient))
    t->orient = (CliOrient) { FALSE, FALSE, FALSE }; /* an unknown value: shown as stored */
  if (t->is_cmyk)
    {
      guint   type;
      guint32 count;
      gsize   at;
      if (cli_tiff_tag_find (b->data, b->len, 34675, &type, &count, &at) && count > 0
          && (type == 7 || type == 1))
        t->icc = g_memdup2 (b->data + at, count), t->icc_len = count;
    }
  if (!t->min_is_white && !t->is_signed && !t->is_cmyk && !t->orient.transpose
      && !t->orient.flip_x && !t->orient.flip_y)
    g_clear_pointer (&t, cli_tiff_free);
  return t;
}

gboolean
cli_tiff_header (CliTiff *t, GeglRectangle *box, const Babl **format, GError **error)
{
  const Babl *type = babl_format_get_type (*format, 0);
  const char *tn = babl_get_name (type);
  const char *model = babl_get_name (babl_format_get_model (*format));
  gboolean    alpha = babl_format_has_alpha (*format);
  const char *why = NULL;
  gchar      *name;

  t->w = box->width, t->h = box->height;
  t->in = t->out = *format;
  if (t->is_signed && strcmp (tn, "u8") != 0 && strcmp (tn, "u16") != 0 && strcmp (tn, "u32") != 0)
    why = "signed samples that are not 8, 16 or 32 bits";
  else if (t->min_is_white && (strcmp (model, "Y'") != 0 && strcmp (model, "Y'A") != 0))
    why = "MinIsWhite samples with associated alpha";
  else if (t->is_cmyk)
    {
      if (strcmp (tn, "u8") != 0 && strcmp (tn, "u16") != 0)
        why = "CMYK samples that are not 8 or 16 bits";
      name = g_strdup_printf ("CMYK%s %s", alpha ? "A" : "", tn);
      t->in = babl_format_with_space (name, *format);
      g_free (name);
      name = g_strdup_printf ("R'G'B'%s %s", alpha ? "A" : "", tn);
      t->out = babl_format (name);
      g_free (name);
    }
  else if (t->min_is_white && strcmp (tn, "u8") != 0 && strcmp (tn, "u16") != 0
           && strcmp (tn, "u32") != 0)
    {
      /* half and double inverted as float */
      name = g_strdup_printf ("%s float", model);
      t->in = t->out = babl_format_with_space (name, *format);
      g_free (name);
    }
  if (why != NULL)
    return cli_input_corrupt (error, "TIFF", t->path, "%s: not supported", why);
  cli_orient_size (&t->orient, t->w, t->h, &box->width, &box->height);
  *format = t->out;
  return TRUE;
}

/* Signed to unsigned and MinIsWhite inverted, on @n samples of a band in @t->in (alpha, the
 * last of @comps components, is never inverted). */
static void
fix_samples (const CliTiff *t, guchar *band, gsize n, guint comps)
{
  const char *tn = babl_get_name (babl_format_get_type (t->in, 0));
  const gboolean alpha = babl_format_has_alpha (t->in);

  for (gsize i = 0; i < n; i++)
    {
      const gboolean inv = t->min_is_white && !(alpha && i % comps == comps - 1);
      if (strcmp (tn, "u8") == 0)
        {
          guint8 *v = band + i;
          *v = (guint8) ((t->is_signed ? *v ^ 0x80u : *v) ^ (inv ? 0xFFu : 0));
        }
      else if (strcmp (tn, "u16") == 0)
        {
          guint16 *v = (guint16 *) band + i;
          *v = (guint16) ((t->is_signed ? *v ^ 0x8000u : *v) ^ (inv ? 0xFFFFu : 0));
        }
      else if (strcmp (tn, "u32") == 0)
        {
          guint32 *v = (guint32 *) band + i;
          *v = (t->is_signed ? *v ^ 0x80000000u : *v) ^ (inv ? 0xFFFFFFFFu : 0);
        }
      else if (inv)
        ((float *) band)[i] = 1.0f - ((float *) band)[i];
    }
}

/* CMYK (ink: 0 none, max full) to R'G'B' of the same type, alpha kept. */
static void
fix_cmyk (const CliTiff *t, cmsHTRANSFORM xf, const guchar *in, guchar *out, gsize n)
{
  const gboolean wide = strcmp (babl_get_name (babl_format_get_type (t->in, 0)), "u16") == 0;
  const gboolean alpha = babl_format_has_alpha (t->in);
  const guint    ci = alpha ? 5 : 4, co = alpha ? 4 : 3;
  const double   max = wide ? 65535.0 : 255.0;

  if (xf != NULL)
    cmsDoTransform (xf, in, out, (cmsUInt32Number) n);
  for (gsize i = 0; i < n; i++)
    for (guint c = 0; c < co; c++)
      {
        const guint  src = c < 3 ? c : 4;
        double       v;
        if (xf != NULL && c < 3)
          continue;
        if (c == 3) /* alpha */
          v = wide ? ((const guint16 *) in)[i * ci + 4] : in[i * ci + 4];
        else
          {
            const double ink = (wide ? ((const guint16 *) in)[i * ci + src] : in[i * ci + src]) / max;
            const double k = (wide ? ((const guint16 *) in)[i * ci + 3] : in[i * ci + 3]) / max;
            v = (1.0 - ink) * (1.0 - k) * max + 0.5;
          }
        if (wide)
          ((guint16 *) out)[i * co + c] = (guint16) v;
        else
          out[i * co + c] = (guchar) v;
      }
}

static cmsHTRANSFORM
cmyk_transform (const CliTiff *t, GError **error, gboolean *ok)
{
  const gboolean wide = strcmp (babl_get_name (babl_format_get_type (t->in, 0)), "u16") == 0;
  const gboolean alpha = babl_format_has_alpha (t->in);
  cmsHPROFILE    in, out;
  cmsHTRANSFORM  xf = NULL;

  *ok = TRUE;
  if (t->icc == NULL)
    return NULL;
  in = cmsOpenProfileFromMem (t->icc, t->icc_len);
  out = cmsCreate_sRGBProfile ();
  if (in != NULL && cmsGetColorSpace (in) == cmsSigCmykData)
    xf = cmsCreateTransform (in, (wide ? TYPE_CMYK_16 : TYPE_CMYK_8) | EXTRA_SH (alpha ? 1 : 0),
                             out, (wide ? TYPE_RGB_16 : TYPE_RGB_8) | EXTRA_SH (alpha ? 1 : 0),
                             cmsGetHeaderRenderingIntent (in), cmsFLAGS_COPY_ALPHA);
  if (in != NULL)
    cmsCloseProfile (in);
  cmsCloseProfile (out);
  if (xf == NULL)
    *ok = cli_input_corrupt (error, "TIFF", t->path, "its ICC profile is not a CMYK profile "
                             "lcms2 can use");
  return xf;
}

GeglBuffer *
cli_tiff_fix (CliTiff *t, GeglBuffer *src, GError **error)
{
  const gsize   bin = (gsize) babl_format_get_bytes_per_pixel (t->in);
  const gsize   bout = (gsize) babl_format_get_bytes_per_pixel (t->out);
  const guint   comps = (guint) babl_format_get_n_components (t->in);
  gboolean      ok;
  cmsHTRANSFORM xf = t->is_cmyk ? cmyk_transform (t, error, &ok) : NULL;
  gint          sw, sh;
  guchar       *band, *conv, *scratch;
  GeglBuffer   *dst;

  if (t->is_cmyk && !ok)
    {
      g_object_unref (src);
      return NULL;
    }
  cli_orient_size (&t->orient, t->w, t->h, &sw, &sh);
  dst = gegl_buffer_new (GEGL_RECTANGLE (0, 0, sw, sh), t->out);
  band = g_malloc ((gsize) t->w * bin * BAND_ROWS);
  conv = g_malloc ((gsize) t->w * bout * BAND_ROWS);
  scratch = g_malloc ((gsize) t->w * bout * BAND_ROWS);
  for (gint y = 0; y < t->h; y += BAND_ROWS)
    {
      const gint  rows = MIN (BAND_ROWS, t->h - y);
      const gsize n = (gsize) t->w * (gsize) rows;

      gegl_buffer_get (src, GEGL_RECTANGLE (0, y, t->w, rows), 1.0, t->in, band,
                       GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      if (t->is_cmyk)
        fix_cmyk (t, xf, band, conv, n);
      else
        {
          fix_samples (t, band, n * comps, comps);
          memcpy (conv, band, n * bout);
        }
      cli_orient_set_band (dst, t->out, &t->orient, t->w, t->h, y, rows, conv, bout, scratch);
    }
  g_free (band), g_free (conv), g_free (scratch);
  if (xf != NULL)
    cmsDeleteTransform (xf);
  g_object_unref (src);
  return dst;
}

gboolean
cli_tiff_replaces (const CliTiff *t)
{
  return t != NULL;
}

void
cli_tiff_free (CliTiff *t)
{
  if (t == NULL)
    return;
  g_free (t->icc);
  g_free (t);
}
