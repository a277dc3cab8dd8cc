/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every input image file between its first bytes and its pixels: opened once more without
 * blocking and kept open, so that GEGL's loaders read the file that was checked (through
 * /proc/self/fd/N, not its name); each format's claim of pixels checked against the file's
 * bytes before anything is decoded (a tiny file must not make tconv decode, or allocate, for
 * minutes); payloads walked where a loader pads silently; JPEG and Radiance HDR decoded by
 * tconv itself; TIFF fixed after GEGL's loader; what each loader holds in RAM counted.
 *
 * The bounds of pixels against bytes, each a format's best case (documented at its check):
 *   PNG       deflate expands at most 1032:1 (a 258-byte match in 2 bits), over the filtered rows
 *   JPEG      8192 pixels a byte with Huffman coding, 2^20 with arithmetic (tconv-jpeg-read.c)
 *   GIF       LZW: one 12-bit code for at most 4093 pixels, under 2731 pixels a byte
 *   PPM       exact for binary files; 2 bytes an ASCII sample (tconv-check-ppm.c)
 *   TIFF      10^7 decoded bytes a byte (CCITT G4, zstd)
 *   HDR       every scanline walked before decoding (tconv-hdr-read.c)
 *   WebP, SVG, OpenEXR: none (a one-colour lossless WebP codes pixels in 0 bits; SVG is
 *             vector; EXR's PIZ has no useful bound): their loaders' whole frames are counted
 *             in the memory budget and must fit in RAM, where they cannot swap. */
#define _POSIX_C_SOURCE 200809L
#include "tconv-input.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PNG_DEFLATE_RATIO  1032.0
#define GIF_PIXELS_PER_BYTE 2731.0
/* GIF: a canvas of up to this many pixels is allowed however small the file (a small frame
 * on an empty canvas). */
#define GIF_CANVAS_FREE    1048576.0
#define TIFF_BYTES_PER_BYTE 1e7
#define TIFF_RULE "no TIFF compression expands data that far (at most 10^7 decoded bytes per " \
                  "file byte)"

struct CliInput
{
  int          fd; /* open from cli_input_open() to cli_input_clear() */
  GMappedFile *map;
  CliBytes     bytes;
  CliJpeg     *jpeg;
  CliHdr      *hdr;
  CliTiff     *tiff;
  guint64      loader_bytes;
};

gboolean
cli_input_corrupt (GError **error, const char *format, const char *path, const char *why, ...)
{
  va_list ap;
  gchar  *w;

  va_start (ap, why);
  w = g_strdup_vprintf (why, ap);
  va_end (ap);
  g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s file '%s' is corrupt: %s", format, path, w);
  g_free (w);
  return FALSE;
}

static gboolean
is_loader (const CliSource *s, const char *op)
{
  return s->loader != NULL && strcmp (s->loader, op) == 0;
}

/* Refuses a claim of more pixels (or decoded bytes) than @bound. */
static gboolean
claim_fits (const CliSource *s, const char *format, guint64 w, guint64 h, double claimed,
            double bound, const char *rule, GError **error)
{
  if (claimed <= bound)
    return TRUE;
  g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
               "%s file '%s' claims %" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT " pixels but is "
               "only %" G_GUINT64_FORMAT " bytes long: %s", format, s->path, w, h, s->file_size,
               rule);
  return FALSE;
}

/* PNG: the filtered rows (a filter byte and the packed samples, per row) against deflate's
 * best ratio. */
static gboolean
png_claim (const CliSource *s, const CliBytes *b, GError **error)
{
  static const guint channels[7] = { 1, 0, 3, 1, 2, 0, 4 };
  const guchar      *h = b->data + 16;
  guint64            w, hh;
  double             raw;

  if (b->len < 29 || memcmp (b->data + 12, "IHDR", 4) != 0 || h[9] > 6)
    return TRUE; /* libpng and GEGL's loader say what is wrong */
  w = (guint64) h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
  hh = (guint64) h[4] << 24 | h[5] << 16 | h[6] << 8 | h[7];
  raw = (double) hh * (1.0 + ceil ((double) w * channels[h[9]] * h[8] / 8.0));
  return claim_fits (s, "PNG", w, hh, raw, PNG_DEFLATE_RATIO * (double) b->len + 65536.0,
                     "deflate expands data at most 1032 times", error);
}

/* TIFF, before GEGL starts: the first directory's size and samples (classic TIFF; anything
 * else waits for the check on GEGL's own header in cli_input_header()). Decoded bytes as GEGL
 * holds them: 1, 2 or 4 bytes a sample. */
static gboolean
tiff_claim (const CliSource *s, const CliBytes *b, GError **error)
{
  guint32 w, h, spp, bits;

  if (!cli_tiff_tag_uint (b->data, b->len, 256, 0, &w)
      || !cli_tiff_tag_uint (b->data, b->len, 257, 0, &h)
      || !cli_tiff_tag_uint (b->data, b->len, 277, 1, &spp)
      || !cli_tiff_tag_uint (b->data, b->len, 258, 1, &bits))
    return TRUE;
  return claim_fits (s, "TIFF", w, h,
                     (double) w * h * spp * (bits <= 8 ? 1 : bits <= 16 ? 2 : 4),
                     TIFF_BYTES_PER_BYTE * (double) s->file_size + 1e8, TIFF_RULE, error);
}

static gboolean
open_checks (CliSource *s, CliInput *in, GError **error)
{
  const CliBytes *b = &in->bytes;
  CliClaim        c = { 0 };
  guint           bpp = 0;

  if (is_loader (s, "gegl:jpg-load"))
    return (in->jpeg = cli_jpeg_open (b, &s->box, error)) != NULL;
  if (is_loader (s, "gegl:rgbe-load"))
    return (in->hdr = cli_hdr_open (b, &s->box, error)) != NULL;
  if (is_loader (s, "gegl:png-load"))
    return png_claim (s, b, error);
  if (is_loader (s, "gegl:gif-load"))
    {
      if (!cli_gif_check (b, &c, error)
          || !claim_fits (s, "GIF", c.width, c.height, (double) c.width * (double) c.height,
                          GIF_PIXELS_PER_BYTE * (double) b->len + GIF_CANVAS_FREE,
                          "LZW codes at most 2731 pixels a byte", error))
        return FALSE;
      /* libnsgif's frame of 4 bytes a pixel, and the whole file */
      in->loader_bytes = c.width * c.height * 4 + b->len;
      if (c.frames > 1)
        g_printerr ("tconv %s: warning: '%s' is an animation of %u frames: only the first is "
                    "read\n", s->sub, s->path, c.frames);
      return TRUE;
    }
  if (is_loader (s, "gegl:webp-load"))
    {
      if (!cli_webp_check (b, &c, error))
        return FALSE;
      /* GEGL's loader decodes still images only (an animation fails deep inside it) */
      if (c.frames > 0)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                       "'%s' is an animated WebP (%u frames): GEGL's WebP loader reads still "
                       "images only; save a frame as a still image first", s->path, c.frames);
          return FALSE;
        }
      in->loader_bytes = c.width * c.height * 4 + b->len; /* libwebp's RGBA frame */
      return TRUE;
    }
  if (is_loader (s, "gegl:ppm-load"))
    {
      if (!cli_ppm_check (b, &c, &bpp, error))
        return FALSE;
      in->loader_bytes = c.width * c.height * bpp; /* every sample, read at once */
      return TRUE;
    }
  if (is_loader (s, "gegl:tiff-load"))
    {
      GError *err = NULL;
      if (!tiff_claim (s, b, error))
        return FALSE;
      if (cli_tiff_more_pages (b->data, b->len))
        g_printerr ("tconv %s: warning: '%s' holds more than one page: only the first is "
                    "read\n", s->sub, s->path);
      in->tiff = cli_tiff_inspect (b, &err);
      if (err != NULL)
        {
          g_propagate_error (error, err);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
cli_input_open (CliSource *s, GError **error)
{
  struct stat st;
  CliInput   *in;
  GError     *err = NULL;
  gchar      *fd_path;
  int         fd;

  if ((fd = cli_open_regular (s->path, &st, error)) < 0)
    return FALSE;
  in = g_new0 (CliInput, 1);
  s->input = in;
  in->fd = fd;
  s->file_size = (guint64) st.st_size;
  /* the loaders open this name: the file open here, whatever the path names by now */
  fd_path = g_strdup_printf ("/proc/self/fd/%d", fd);
  s->load_path = access (fd_path, R_OK) == 0 ? fd_path : (g_free (fd_path), g_strdup (s->path));
  if ((in->map = g_mapped_file_new_from_fd (fd, FALSE, &err)) == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot read '%s': %s", s->path,
                   err->message);
      g_error_free (err);
      cli_input_clear (s);
      return FALSE;
    }
  in->bytes.data = (const guchar *) g_mapped_file_get_contents (in->map);
  in->bytes.len = in->bytes.data != NULL ? g_mapped_file_get_length (in->map) : 0;
  in->bytes.path = s->path;
  if (in->bytes.data == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot read '%s': the file is empty",
                   s->path);
      cli_input_clear (s);
      return FALSE;
    }
  if (!open_checks (s, in, error))
    {
      cli_input_clear (s);
      return FALSE;
    }
  return TRUE;
}

gboolean
cli_input_own (const CliSource *s)
{
  return s->input != NULL && (s->input->jpeg != NULL || s->input->hdr != NULL);
}

gboolean
cli_input_format (CliSource *s, GError **error)
{
  if (s->input->jpeg != NULL)
    return cli_jpeg_format (s->input->jpeg, &s->format, error);
  s->format = cli_hdr_format (s->input->hdr);
  return TRUE;
}

/* What a loader holding a whole frame in RAM needs must fit in RAM: it cannot swap. */
static gboolean
loader_fits_ram (const CliSource *s, GError **error)
{
  const long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
  const guint64 ram = pages > 0 && page > 0 ? (guint64) pages * (guint64) page : 0;

  if (ram == 0 || s->input->loader_bytes <= ram)
    return TRUE;
  g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
               "'%s' is %d×%d pixels, and its loader (%s) holds the whole image in RAM: %"
               G_GUINT64_FORMAT " MiB, more than this machine's %" G_GUINT64_FORMAT " MiB",
               s->path, s->box.width, s->box.height, s->loader,
               s->input->loader_bytes >> 20, ram >> 20);
  return FALSE;
}

gboolean
cli_input_header (CliSource *s, GError **error)
{
  CliInput    *in = s->input;
  const guint64 pixels = (guint64) s->box.width * (guint64) s->box.height;
  const guint   bpp = (guint) babl_format_get_bytes_per_pixel (s->format);

  /* TIFF: a header can claim any size, and GEGL's tiff-load fills its whole buffer (in the
   * swap, for minutes) before noticing that the strips are missing. TIFF's codecs expand
   * data by at most a few 10^5 (CCITT G4 on a blank page; deflate 1032:1, zstd about
   * 32000:1), so more than 10^7 decoded bytes per file byte is refused at once. */
  if (is_loader (s, "gegl:tiff-load")
      && !claim_fits (s, "TIFF", (guint64) s->box.width, (guint64) s->box.height,
                      (double) pixels * bpp, TIFF_BYTES_PER_BYTE * (double) s->file_size + 1e8,
                      TIFF_RULE, error))
    return FALSE;
  if (in->tiff != NULL)
    {
      in->loader_bytes = pixels * bpp; /* GEGL's buffer, while the fixed one fills */
      if (!cli_tiff_header (in->tiff, &s->box, &s->format, error))
        return FALSE;
    }
  if (is_loader (s, "gegl:svg-load"))
    in->loader_bytes = pixels * 4; /* cairo's ARGB32 surface of the whole image */
  if (is_loader (s, "gegl:exr-load"))
    in->loader_bytes = pixels * bpp; /* OpenEXR's frame buffer */
  return loader_fits_ram (s, error);
}

GeglBuffer *
cli_input_read (CliSource *s, GError **error)
{
  if (s->input->jpeg != NULL)
    return cli_jpeg_read (s->input->jpeg, error);
  return cli_hdr_read (s->input->hdr, error);
}

GeglBuffer *
cli_input_fix (CliSource *s, GeglBuffer *buffer, GError **error)
{
  if (s->input == NULL || s->input->tiff == NULL)
    return buffer;
  return cli_tiff_fix (s->input->tiff, buffer, error);
}

guint64
cli_input_loader_bytes (const CliSource *s)
{
  return s->input != NULL ? s->input->loader_bytes : 0;
}

gchar *
cli_input_message (const CliSource *s, gchar *message)
{
  gchar **parts;
  gchar  *joined;

  if (message == NULL || s->load_path == NULL || strcmp (s->load_path, s->path) == 0)
    return message;
  parts = g_strsplit (message, s->load_path, -1);
  joined = g_strjoinv (s->path, parts);
  g_strfreev (parts);
  g_free (message);
  return joined;
}

void
cli_input_clear (CliSource *s)
{
  CliInput *in = s->input;

  if (in != NULL)
    {
      cli_jpeg_free (in->jpeg);
      cli_hdr_free (in->hdr);
      cli_tiff_free (in->tiff);
      if (in->map != NULL)
        g_mapped_file_unref (in->map);
      close (in->fd);
      g_free (in);
      s->input = NULL;
    }
  g_clear_pointer (&s->load_path, g_free);
}
