/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PNG to PNG in bands (tconv-stream.c): see docs/streaming.md. */
#ifndef TCONV_STREAM_H
#define TCONV_STREAM_H

#include "tconv-cli.h"
#include "tconv-pipeline.h"

G_BEGIN_DECLS

typedef enum
{
  CLI_STREAM_DONE,
  CLI_STREAM_FAILED,  /* @error says why; nothing is left under the output path */
  CLI_STREAM_FALLBACK /* the decoder could not deliver the rows (a libpng warning or error):
                       * nothing is left under the output path; decode with GEGL's loader
                       * and take the whole-image path */
} CliStreamResult;

/* Up-samples @in (from cli_png_read_stream() of @read) by @options band by band into the PNG
 * file @path, atomically, with cli_png_write()'s bytes for the whole image: each band is
 * the pipeline's region of those rows, and its input rows are decoded just before it and
 * given back just after the last band that reads them. @threads deflate the PNG; the
 * pipeline uses @options->threads. */
CliStreamResult cli_stream_upscale (GeglBuffer *in, CliPngRead *read,
                                    const TconvUpscaleOptions *options, const char *path,
                                    gint threads, gint level, GError **error);

G_END_DECLS

#endif /* TCONV_STREAM_H */
