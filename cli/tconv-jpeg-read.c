/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JPEG input decoded by tconv with libjpeg, instead of gegl:jpg-load, which prints libjpeg's
 * warnings on stderr and goes on (a file cut short, corrupt entropy data, a scan that holds
 * fewer rows than the frame claims: all padded with grey, exit 0), calls exit() on libjpeg's
 * errors, converts CMYK as if its values were linear light and ignores EXIF orientation.
 * Here every libjpeg warning is an error, errors come back through longjmp, CMYK is converted
 * to sRGB through the file's ICC profile (lcms2) or else by the standard formula, and the
 * EXIF orientation is applied (the output carries no orientation: savers write none). The
 * pixels are decoded in bands straight into a GEGL buffer, which can swap like any other. */
#include "tconv-input.h"

#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <lcms2.h>

/* Rows decoded per band (one gegl_buffer_set each). */
#define BAND_ROWS 64

/* The best compression Huffman coding can reach: one bit per 8x8 block of one component
 * (a progressive DC scan with a one-bit code, each AC scan ended by end-of-band runs of
 * 32767 blocks), and a component may be sampled at a quarter of the image's resolution
 * both ways: one bit per 32 x 32 pixels, 8192 pixels per byte. */
#define HUFFMAN_PIXELS_PER_BYTE 8192.0
/* Arithmetic coding adapts to almost zero bits per block: libjpeg-turbo writes a flat 8192 x
 * 8192 grey image in 125 bytes (537 000 pixels per byte; 185 000 in colour, progressive).
 * The bound is twice that, and weak; such files are rare (few encoders write them). */
#define ARITH_PIXELS_PER_BYTE 1048576.0

typedef struct
{
  struct jpeg_error_mgr pub;
  jmp_buf               jump;
  char                  message[JMSG_LENGTH_MAX];
} ErrorMgr;

struct CliJpeg
{
  struct jpeg_decompress_struct cinfo;
  ErrorMgr                      err;
  CliBytes                      bytes;
  CliOrient                     orient;
  const Babl                   *format;  /* of the decoded pixels, as shown */
  cmsHTRANSFORM                 cmyk;    /* CMYK through the file's profile, or NULL */
  gboolean                      is_cmyk; /* converted to R'G'B' u8 */
  gint                          shown_w, shown_h;
};

/* libjpeg's errors, and its warnings too: each is the end of decoding. */
static void
on_error (j_common_ptr cinfo)
{
  ErrorMgr *e = (ErrorMgr *) cinfo->err;

  (*cinfo->err->format_message) (cinfo, e->message);
  longjmp (e->jump, 1);
}

static void
on_message (j_common_ptr cinfo, int level)
{
  if (level < 0) /* a warning: corrupt or missing data that libjpeg would pad */
    on_error (cinfo);
}

/* The ICC profile of APP2 "ICC_PROFILE" markers, joined in sequence order (ICC.1, B.4). */
static guchar *
icc_profile (j_decompress_ptr cinfo, gsize *len)
{
  jpeg_saved_marker_ptr m;
  guint                 count = 0;
  gsize                 size[256] = { 0 }, at[256] = { 0 }, total = 0;
  const JOCTET         *data[256] = { NULL };
  guchar               *icc;

  for (m = cinfo->marker_list; m != NULL; m = m->next)
    if (m->marker == JPEG_APP0 + 2 && m->data_length > 14
        && memcmp (m->data, "ICC_PROFILE\0", 12) == 0)
      {
        const guint seq = m->data[12];
        if (count == 0)
          count = m->data[13];
        if (seq == 0 || seq > count || m->data[13] != count || data[seq] != NULL)
          return NULL;
        data[seq] = m->data + 14;
        size[seq] = m->data_length - 14;
      }
  for (guint i = 1; i <= count; i++)
    {
      if (data[i] == NULL)
        return NULL;
      at[i] = total;
      total += size[i];
    }
  if (total == 0)
    return NULL;
  icc = g_malloc (total);
  for (guint i = 1; i <= count; i++)
    memcpy (icc + at[i], data[i], size[i]);
  *len = total;
  return icc;
}

/* The EXIF orientation of the first APP1 "Exif" marker; 1 without one. */
static guint
exif_orientation (j_decompress_ptr cinfo)
{
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != NULL; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp (m->data, "Exif\0\0", 6) == 0)
      {
        guint32 v = 1;
        /* a malformed block is no reason to refuse the pixels: shown as stored */
        if (!cli_tiff_tag_uint (m->data + 6, m->data_length - 6, 0x0112, 1, &v)
            || v < 1 || v > 8)
          v = 1;
        return v;
      }
  return 1;
}

/* The colour: the embedded profile for grey and RGB (babl), CMYK to sRGB (lcms2). */
gboolean
cli_jpeg_format (CliJpeg *j, const Babl **format, GError **error)
{
  gsize          icc_len = 0;
  guchar        *icc = icc_profile (&j->cinfo, &icc_len);
  const Babl    *space = NULL;
  const char    *why = NULL;
  const gboolean grey = j->cinfo.out_color_space == JCS_GRAYSCALE;

  if (j->cinfo.out_color_space == JCS_CMYK)
    {
      j->is_cmyk = TRUE;
      if (icc != NULL)
        {
          cmsHPROFILE in = cmsOpenProfileFromMem (icc, (cmsUInt32Number) icc_len);
          cmsHPROFILE out = cmsCreate_sRGBProfile ();

          if (in != NULL && cmsGetColorSpace (in) == cmsSigCmykData)
            j->cmyk = cmsCreateTransform (in, TYPE_CMYK_8, out, TYPE_RGB_8,
                                          cmsGetHeaderRenderingIntent (in), 0);
          if (j->cmyk == NULL)
            why = "its ICC profile is not a CMYK profile lcms2 can use";
          if (in != NULL)
            cmsCloseProfile (in);
          cmsCloseProfile (out);
        }
      j->format = babl_format ("R'G'B' u8");
    }
  else if (grey || j->cinfo.out_color_space == JCS_RGB)
    {
      if (icc != NULL)
        space = babl_space_from_icc ((const char *) icc, (int) icc_len,
                                     BABL_ICC_INTENT_RELATIVE_COLORIMETRIC, &why);
      j->format = babl_format_with_space (grey ? "Y' u8" : "R'G'B' u8", space);
    }
  else
    why = "its colour space is neither grey, RGB nor CMYK";
  g_free (icc);
  if (why != NULL)
    return cli_input_corrupt (error, "JPEG", j->bytes.path, "%s", why);
  *format = j->format;
  return TRUE;
}

CliJpeg *
cli_jpeg_open (const CliBytes *b, GeglRectangle *box, GError **error)
{
  CliJpeg *j = g_new0 (CliJpeg, 1);
  double   pixels, bound;

  j->bytes = *b;
  j->cinfo.err = jpeg_std_error (&j->err.pub);
  j->err.pub.error_exit = on_error;
  j->err.pub.emit_message = on_message;
  jpeg_create_decompress (&j->cinfo);
  if (setjmp (j->err.jump))
    {
      cli_input_corrupt (error, "JPEG", b->path, "%s", j->err.message);
      cli_jpeg_free (j);
      return NULL;
    }
  jpeg_mem_src (&j->cinfo, b->data, (unsigned long) b->len);
  jpeg_save_markers (&j->cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_save_markers (&j->cinfo, JPEG_APP0 + 2, 0xFFFF);
  jpeg_read_header (&j->cinfo, TRUE);

  pixels = (double) j->cinfo.image_width * (double) j->cinfo.image_height;
  bound = (j->cinfo.arith_code ? ARITH_PIXELS_PER_BYTE : HUFFMAN_PIXELS_PER_BYTE) * (double) b->len;
  if (pixels > bound)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "JPEG file '%s' claims %u×%u pixels but is only %" G_GSIZE_FORMAT " bytes "
                   "long: %s JPEG coding holds at most %.0f pixels per byte", b->path,
                   j->cinfo.image_width, j->cinfo.image_height, b->len,
                   j->cinfo.arith_code ? "arithmetic" : "Huffman",
                   j->cinfo.arith_code ? ARITH_PIXELS_PER_BYTE : HUFFMAN_PIXELS_PER_BYTE);
      cli_jpeg_free (j);
      return NULL;
    }
  if (!cli_orient_from_exif (exif_orientation (&j->cinfo), &j->orient))
    {
      cli_jpeg_free (j);
      return NULL;
    }
  cli_orient_size (&j->orient, (gint) j->cinfo.image_width, (gint) j->cinfo.image_height,
                   &j->shown_w, &j->shown_h);
  *box = (GeglRectangle) { 0, 0, j->shown_w, j->shown_h };
  return j;
}

/* CMYK rows (Adobe's inverted convention: 0 is full ink, as Photoshop writes them and as
 * Pillow and browsers read them) to R'G'B' u8 in place: through the profile, or
 * R = 255 (1 - C)(1 - K) with ink fractions C and K (and so on for G, B). */
static void
cmyk_rows (CliJpeg *j, guchar *px, gsize n, guchar *rgb)
{
  for (gsize i = 0; i < n * 4; i++)
    px[i] = (guchar) (255 - px[i]); /* ink amounts, 255 = full */
  if (j->cmyk != NULL)
    {
      cmsDoTransform (j->cmyk, px, rgb, (cmsUInt32Number) n);
      memcpy (px, rgb, n * 3);
      return;
    }
  for (gsize i = 0; i < n; i++)
    {
      const guint c = px[4 * i], m = px[4 * i + 1], y = px[4 * i + 2], k = px[4 * i + 3];
      const guint nk = 255 - k;
      px[3 * i] = (guchar) ((nk * (255 - c) + 127) / 255);
      px[3 * i + 1] = (guchar) ((nk * (255 - m) + 127) / 255);
      px[3 * i + 2] = (guchar) ((nk * (255 - y) + 127) / 255);
    }
}

GeglBuffer *
cli_jpeg_read (CliJpeg *j, GError **error)
{
  GeglBuffer *volatile buffer = NULL;
  guchar *volatile band = NULL;
  guchar *volatile scratch = NULL;
  gsize       comps, bpp;
  gint        w, h;

  if (setjmp (j->err.jump))
    {
      cli_input_corrupt (error, "JPEG", j->bytes.path, "%s", j->err.message);
      g_free (band), g_free (scratch);
      g_clear_object ((GeglBuffer **) &buffer);
      return NULL;
    }
  jpeg_start_decompress (&j->cinfo);
  w = (gint) j->cinfo.output_width;
  h = (gint) j->cinfo.output_height;
  comps = (gsize) j->cinfo.output_components;
  bpp = (gsize) babl_format_get_bytes_per_pixel (j->format);
  buffer = gegl_buffer_new (GEGL_RECTANGLE (0, 0, j->shown_w, j->shown_h), j->format);
  band = g_malloc ((gsize) w * comps * BAND_ROWS);
  scratch = g_malloc ((gsize) w * bpp * BAND_ROWS);
  while ((gint) j->cinfo.output_scanline < h)
    {
      const gint y0 = (gint) j->cinfo.output_scanline;
      gint       rows = 0;

      while (rows < BAND_ROWS && (gint) j->cinfo.output_scanline < h)
        {
          JSAMPROW row = band + (gsize) rows * (gsize) w * comps;
          rows += (gint) jpeg_read_scanlines (&j->cinfo, &row, 1);
        }
      if (j->is_cmyk)
        cmyk_rows (j, band, (gsize) w * (gsize) rows, scratch);
      cli_orient_set_band (buffer, j->format, &j->orient, w, h, y0, rows, band, bpp, scratch);
    }
  /* reads on to the end-of-image marker: a file cut after its last row is still cut */
  jpeg_finish_decompress (&j->cinfo);
  g_free (band), g_free (scratch);
  return buffer;
}

void
cli_jpeg_free (CliJpeg *j)
{
  if (j == NULL)
    return;
  jpeg_destroy_decompress (&j->cinfo);
  if (j->cmyk != NULL)
    cmsDeleteTransform (j->cmyk);
  g_free (j);
}
