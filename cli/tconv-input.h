/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Input files before and around their decoders (tconv-input.c and the per-format files it
 * calls): every check made before any pixel is decoded, tconv's own decoders for the formats
 * GEGL's loaders get wrong (JPEG, Radiance HDR), and the fixes of what GEGL's TIFF loader
 * decodes literally (CMYK, MinIsWhite, signed samples, orientation). CLI-internal. */
#ifndef TCONV_INPUT_H
#define TCONV_INPUT_H

#include "tconv-cli.h"

G_BEGIN_DECLS

/* ---- the orchestrator (tconv-input.c), called by tconv-image.c ---- */

/* After the loader is chosen, before GEGL sees the file: opens @s->path again without
 * blocking (refused unless a regular file), keeps the descriptor until cli_input_clear() and
 * sets @s->open_path to "/proc/self/fd/N" (what GEGL's loaders open: the file checked, not
 * whatever the name points to by then). Then the format's checks: the claimed pixels against
 * the file's bytes (each format's best-case compression), and its payload walked where the
 * loader pads or garbles silently (GIF, WebP, PPM). For the formats tconv decodes itself
 * (JPEG, Radiance HDR) it reads the header: @s->box is then set and cli_input_own() is
 * TRUE. Needs neither GEGL nor babl. On failure the descriptor is closed again. */
gboolean    cli_input_open (CliSource *s, GError **error);
gboolean    cli_input_own (const CliSource *s);
/* cli_input_own() and babl running: @s->format. */
gboolean    cli_input_format (CliSource *s, GError **error);
/* After GEGL's loader gave @s->box and @s->format: the checks that need them (TIFF, SVG,
 * OpenEXR sizes; what the loader holds in RAM against the RAM), and the box and format the
 * TIFF fixes will give. */
gboolean    cli_input_header (CliSource *s, GError **error);
/* cli_input_own(): the pixels, by tconv's decoder. */
GeglBuffer *cli_input_read (CliSource *s, GError **error);
/* The pixels GEGL's loader gave, fixed where needed (TIFF); takes @buffer, returns a
 * reference (the same buffer, or a new one) or NULL with @error. */
GeglBuffer *cli_input_fix (CliSource *s, GeglBuffer *buffer, GError **error);
/* Bytes the chosen loader holds in RAM beside the decoded buffer (a whole frame for GIF,
 * WebP, SVG, PPM, OpenEXR; the undecoded TIFF buffer when a fix makes a new one), for the
 * memory budget. */
guint64     cli_input_loader_bytes (const CliSource *s);
/* A loader's message (taken) with @s->load_path written as the path the user gave. */
gchar      *cli_input_message (const CliSource *s, gchar *message);
void        cli_input_clear (CliSource *s);

/* ---- what the checks and decoders share ---- */

/* A whole input file, mapped read-only from the checked descriptor. */
typedef struct
{
  const guchar *data; /* NULL when the file is empty */
  gsize         len;
  const char   *path; /* for messages */
} CliBytes;

/* Sets @error to "FORMAT file 'PATH' is corrupt: WHY" and returns FALSE. */
gboolean cli_input_corrupt (GError **error, const char *format, const char *path,
                            const char *why, ...) G_GNUC_PRINTF (4, 5);

/* How stored pixels (x along a stored row, y the row) land in the image as shown: first
 * transposed when @transpose (the shown image is then H x W), then mirrored. EXIF
 * orientations 1-8 and Radiance's resolution lines both map to this. */
typedef struct
{
  gboolean transpose, flip_x, flip_y;
} CliOrient;

/* EXIF orientation 1-8 as a CliOrient; FALSE for other values. */
gboolean cli_orient_from_exif (guint value, CliOrient *o);
/* The shown size of a stored @w x @h image. */
void     cli_orient_size (const CliOrient *o, gint w, gint h, gint *shown_w, gint *shown_h);
/* Writes stored rows [@y0, @y0 + @rows) of a @w x @h image (@band: rows of @w pixels of @bpp
 * bytes, packed) where they are shown in @dst (of the shown size, in @format). @scratch holds
 * @w x @rows pixels. */
void     cli_orient_set_band (GeglBuffer *dst, const Babl *format, const CliOrient *o, gint w,
                              gint h, gint y0, gint rows, const guchar *band, gsize bpp,
                              guchar *scratch);

/* Tags of the first directory of a TIFF-structured block (a TIFF file, or an Exif APP1
 * payload after its "Exif\0\0"), classic TIFF only. _uint() reads the first value of a
 * SHORT or LONG tag: @dflt when the tag is absent, FALSE when the block or the tag is
 * malformed. _find() gives a tag's type, count and the offset of its values. */
gboolean cli_tiff_tag_uint (const guchar *tiff, gsize len, guint tag, guint32 dflt,
                            guint32 *value);
gboolean cli_tiff_tag_find (const guchar *tiff, gsize len, guint tag, guint *type,
                            guint32 *count, gsize *offset);
/* TRUE when the first directory links to another (a multi-page TIFF). */
gboolean cli_tiff_more_pages (const guchar *tiff, gsize len);

/* ---- per format ---- */

/* The claim of a file's header: pixels and samples, for the plausibility checks. */
typedef struct
{
  guint64 width, height;
  guint   frames; /* images in the file (GIF, WebP); only the first is read */
} CliClaim;

/* GIF (tconv-check-gif.c): blocks walked to the trailer, the first frame's LZW data decoded
 * far enough to count its pixels; @claim gets the larger of the screen and first frame. */
gboolean cli_gif_check (const CliBytes *b, CliClaim *claim, GError **error);
/* WebP (tconv-check-webp.c): RIFF chunks complete and inside the file, one image (its
 * animation frames counted). */
gboolean cli_webp_check (const CliBytes *b, CliClaim *claim, GError **error);
/* Netpbm P2/P3/P5/P6 (tconv-check-ppm.c): the header, the samples' count, each sample at
 * most maxval. @bytes_per_pixel gets what gegl:ppm-load holds per pixel in RAM. */
gboolean cli_ppm_check (const CliBytes *b, CliClaim *claim, guint *bytes_per_pixel,
                        GError **error);

/* JPEG (tconv-jpeg-read.c), decoded by tconv with libjpeg: any libjpeg warning is an error,
 * CMYK converted to sRGB (through the embedded ICC profile with lcms2, else the standard
 * formula), EXIF orientation applied. */
typedef struct CliJpeg CliJpeg;
CliJpeg    *cli_jpeg_open (const CliBytes *b, GeglRectangle *box, GError **error);
/* Once babl runs: the format of the decoded pixels (the profile's space for grey and RGB). */
gboolean    cli_jpeg_format (CliJpeg *jpeg, const Babl **format, GError **error);
GeglBuffer *cli_jpeg_read (CliJpeg *jpeg, GError **error);
void        cli_jpeg_free (CliJpeg *jpeg);

/* Radiance HDR (tconv-hdr-read.c): flat and run-length scanlines, all eight orientations of
 * the resolution line. */
typedef struct CliHdr CliHdr;
CliHdr     *cli_hdr_open (const CliBytes *b, GeglRectangle *box, GError **error);
const Babl *cli_hdr_format (CliHdr *hdr); /* once babl runs */
GeglBuffer *cli_hdr_read (CliHdr *hdr, GError **error);
void        cli_hdr_free (CliHdr *hdr);

/* TIFF (tconv-tiff-fix.c): what the first directory says that GEGL's loader ignores. */
typedef struct CliTiff CliTiff;
CliTiff    *cli_tiff_inspect (const CliBytes *b, GError **error); /* NULL: nothing to fix */
/* The box and format the fix gives from GEGL's @box and @format (which it keeps). */
gboolean    cli_tiff_header (CliTiff *t, GeglRectangle *box, const Babl **format,
                             GError **error);
GeglBuffer *cli_tiff_fix (CliTiff *t, GeglBuffer *buffer, GError **error); /* takes @buffer */
gboolean    cli_tiff_replaces (const CliTiff *t); /* the fix makes a new buffer */
void        cli_tiff_free (CliTiff *t);

G_END_DECLS

#endif /* TCONV_INPUT_H */
