/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The pixel pipeline shared by the tconv command and the GIMP plug-in: GeglBuffer in, any
 * rectangle of the up-sampled image out (a GeglBuffer or caller memory). Float internally, in
 * bands of output rows with an input halo, on GEGL's thread pool with byte-identical output for
 * any thread count and any region: a region's pixels are exactly those of the whole-image
 * result, so previews, tiles and whole images agree. Memory is bounded by the band size
 * (GEGL's tile cache swaps whole buffers to disk when they exceed RAM).
 *
 * Colour: the kernel runs on the encoding it was designed for: perceptual (non-linear TRC,
 * the "R'G'B'" of babl, as MATLAB, PIL and the super-resolution literature do) by default,
 * linear light with @linear. The source's own babl space (primaries, TRC) is kept. Alpha is
 * premultiplied before the convolution and un-premultiplied after; values are clamped only
 * at the end (alpha to [0, 1]; colour to the output format's range by babl for integer
 * formats; float formats keep out-of-range colour).
 *
 * Opaque 8-bit images in the working encoding (perceptual, their own space) written to 8-bit
 * take a path without float images in memory (core/tconv-u8.c): the convolution of the 8-bit
 * values, rounded once; it equals the float path within 1 LSB (it may differ where the exact
 * value lies next to a .5 boundary). TCONV_PIPELINE_NO_FAST8=1 forces the float path;
 * TCONV_PROFILE=1 prints the time of each phase to stderr.
 */
#ifndef TCONV_PIPELINE_H
#define TCONV_PIPELINE_H

#include <gegl.h>

#include "tconv.h"
#include "tconv-bank.h"

G_BEGIN_DECLS

#define TCONV_PIPELINE_ERROR (tconv_pipeline_error_quark ())
GQuark tconv_pipeline_error_quark (void);

typedef enum
{
  TCONV_PIPELINE_ERROR_INVALID,   /* bad options or kernel; the message names the value */
  TCONV_PIPELINE_ERROR_TOO_LARGE, /* output beyond TCONV_MAX_SIDE or the memory budget */
  TCONV_PIPELINE_ERROR_CANCELLED, /* the progress callback asked to stop */
  TCONV_PIPELINE_ERROR_FAILED     /* anything else (allocation, GEGL) */
} TconvPipelineError;

typedef enum
{
  TCONV_BORDER_CLAMP,  /* repeat the edge pixel: a constant image stays constant to the edge */
  TCONV_BORDER_MIRROR, /* reflect about the edge (edge pixel not repeated: ... 2 1 | 0 1 2 ...) */
  TCONV_BORDER_WRAP,   /* periodic: tileable textures stay seamless */
  TCONV_BORDER_ZERO,   /* transparent black outside: the pure transposed convolution */
  TCONV_BORDER_COUNT
} TconvBorder;

const gchar *tconv_pipeline_border_name (TconvBorder border);
gboolean     tconv_pipeline_border_from_name (const gchar *name, TconvBorder *border);

/* Called from the calling thread between bands with the fraction done (0..1), last with 1;
 * returning FALSE cancels the job (error TCONV_PIPELINE_ERROR_CANCELLED, nothing more
 * written), even from that last call: the caller then discards the destination. */
typedef gboolean (*TconvProgressFunc) (gdouble fraction, gpointer user_data);

/* The anti-ringing front ends use with kernel banks unless told otherwise: chosen on the
 * validation photographs by the rule in docs/antiring.md. */
#define TCONV_BANK_ANTIRING 0.75

typedef struct
{
  const tconv_bank   *bank;        /* nullable: an adaptive kernel bank; @kernel must then be
                                    * bank->global (its geometry and provenance) */
  const tconv_kernel *kernel;      /* required; kernel->stride_* is the up-sampling stride, and
                                    * k + opad - 2 pad == stride per axis (exact s x); 1 channel
                                    * (shared) or one per image channel, alpha included */
  TconvBorder         border;
  gboolean            linear;      /* convolve in linear light instead of perceptual values */
  gboolean            normalize_phases; /* run on a phase-normalised copy of the kernel */
  gdouble             antiring;    /* 0..1: limit each output value towards the range of the
                                    * 2 x 2 input pixels around it (tconv_antiring()); 0: off.
                                    * Front ends default to TCONV_BANK_ANTIRING with banks */
  gint                out_width;   /* 0 with out_height 0: exactly stride x input */
  gint                out_height;  /* otherwise any size: see tconv_pipeline_upscale() */
  gint                threads;     /* 0: GEGL's configured thread count (gegl_config ()'s
                                    * "threads"), which also caps any other value; at most 64 */
  guint64             memory_budget; /* bytes of working memory (bands) the job may use, on
                                      * top of @src and the destination themselves; 0: 1 GiB.
                                      * Fewer threads and thinner bands are used to stay
                                      * within it */
  TconvProgressFunc   progress;    /* nullable */
  gpointer            progress_data;
} TconvUpscaleOptions;

/**
 * TconvPipelineDest:
 * @buffer:    a buffer holding the whole output image (its extent is the output size; its x, y
 *             may be non-zero): the region goes to the same place in it, and nothing else is
 *             written. Or NULL, and:
 * @pixels:    caller memory for the region only: its row r (0 = the region's top row) at
 *             @pixels + r x @rowstride, in @format. Caller-owned; nothing else is written.
 * @rowstride: bytes from one row to the next, at least the region's width x bytes per pixel.
 * @format:    the format of @pixels, usually the source's (same precision and components).
 *
 * Where tconv_pipeline_upscale_region() writes. The pixels are the same bytes whichever kind
 * of destination is given.
 */
typedef struct
{
  GeglBuffer *buffer;
  guint8     *pixels;
  gsize       rowstride;
  const Babl *format;
} TconvPipelineDest;

/* Fills @options with the defaults (clamp, perceptual, stride x size, GEGL threads). */
void tconv_pipeline_upscale_options_init (TconvUpscaleOptions *options);

/**
 * tconv_pipeline_output_size:
 * The output size for an input of @in_width x @in_height under @options; fails (naming the
 * value and the rule) when it is beyond TCONV_MAX_SIDE per side.
 */
gboolean tconv_pipeline_output_size (const TconvUpscaleOptions *options,
                                     gint                       in_width,
                                     gint                       in_height,
                                     gint                      *out_width,
                                     gint                      *out_height,
                                     GError                   **error);

/**
 * tconv_pipeline_stride_for_size:
 * The stride at which to run the transposed convolution for an output of @out_size samples
 * from @in_size along one axis: ceil (@out_size / @in_size), within 1..16 (the range of the
 * analytic kernels; beyond 16 the exact-size step also enlarges).
 */
gint tconv_pipeline_stride_for_size (gint in_size, gint out_size);

/**
 * tconv_pipeline_upscale_region:
 * @src:     input pixels; its extent is the image (x, y may be non-zero); any babl format with
 *           Y, Y'A, RGB or RGBA components at any precision.
 * @options: the job; its output size is tconv_pipeline_output_size()'s.
 * @roi:     (nullable): the rectangle of the output image to compute, in output pixels from
 *           (0, 0); it must lie inside the output. NULL: the whole output.
 * @dst:     where the pixels go (see TconvPipelineDest). On error the part of it inside @roi
 *           is unspecified (callers write into a fresh buffer).
 *
 * Computes exactly the pixels of @roi in the whole-image result, byte for byte, whatever the
 * region, thread count or memory budget: the pipeline reads the input rows and columns the
 * region needs plus the halo the kernel and the resampler reach, filled by the border mode at
 * the image edges. A whole image is the region of all its pixels.
 *
 * Exact stride x up-sampling runs the transposed convolution directly. Any other size runs it
 * at the kernel's stride (callers pick kernels of stride tconv_pipeline_stride_for_size() per
 * axis, i.e. ceil (out / in)) and then reduces to the exact size with an antialiased
 * separable Keys-cubic (a = -0.5) resampler whose support is widened by the reduction factor
 * (plain Keys when it still has to enlarge), with output pixel centres aligned as in the
 * kernel: output x sits at input coordinate (x + 0.5) * in / out - 0.5. The reduction reads
 * beyond the edges of the stride x image with the same @border mode, and runs on the same
 * premultiplied values, fused with the convolution band by band.
 *
 * Bands of the region's rows are handed to GEGL's thread pool
 * (gegl_parallel_distribute()); progress is reported from the calling thread. Every output
 * pixel is computed by the same arithmetic whatever the band, region or thread. Fails with
 * TCONV_PIPELINE_ERROR_TOO_LARGE when one band row of working memory per thread does not fit
 * in the memory budget.
 */
gboolean tconv_pipeline_upscale_region (GeglBuffer                *src,
                                        const TconvUpscaleOptions *options,
                                        const GeglRectangle       *roi,
                                        const TconvPipelineDest   *dst,
                                        GError                   **error);

/**
 * tconv_pipeline_upscale:
 * @dst: a buffer whose extent is the output size from tconv_pipeline_output_size(), usually
 *       in the source's format. Written in full on success.
 *
 * The whole image into @dst: tconv_pipeline_upscale_region() with no @roi.
 */
gboolean tconv_pipeline_upscale (GeglBuffer                *src,
                                 GeglBuffer                *dst,
                                 const TconvUpscaleOptions *options,
                                 GError                   **error);

/* Largest result the CLI and the plug-in keep in plain memory (a 12-megapixel RGB image x2
 * is 144 MB); larger ones go through a GEGL buffer, which swaps to disk. */
#define TCONV_PIPELINE_MEMORY_OUTPUT_MAX ((guint64) 512 << 20)

/* A new linear buffer of @width x @height in @format over plain memory, returned in @pixels
 * with its @rowstride, for TconvPipelineDest.pixels: the pipeline then writes rows
 * straight into it, and the buffer reads them like any other (GEGL buffer writes from many
 * threads cost more than an 8-bit convolution). The memory is not initialised and lives as
 * long as the buffer; it cannot swap, so callers keep this for outputs that fit in RAM. NULL
 * when the memory is not available or the size overflows. */
GeglBuffer *tconv_pipeline_memory_buffer (gint width, gint height, const Babl *format,
                                          guint8 **pixels, gsize *rowstride);

/* The result of a whole up-sample to @width x @height in @format, and @dest set to write
 * into it: plain memory (tconv_pipeline_memory_buffer(), written row by row without GEGL)
 * when @memory_ok and it takes at most TCONV_PIPELINE_MEMORY_OUTPUT_MAX bytes, else a GEGL
 * buffer, which can swap. dest->pixels is NULL for a GEGL buffer. */
GeglBuffer *tconv_pipeline_result_new (gint width, gint height, const Babl *format,
                                       gboolean memory_ok, TconvPipelineDest *dest);

/* Starts a thread that faults in the @bytes of fresh memory at @pixels (the pages of a
 * tconv_pipeline_memory_buffer()), so that a caller waiting on something else meanwhile
 * spares the workers a page fault per 4 KiB page later; the contents become unspecified.
 * g_thread_join() it before the memory is written. NULL if no thread could be started. */
GThread *tconv_pipeline_fault_in_start (guint8 *pixels, gsize bytes);

/**
 * tconv_pipeline_bank_classes:
 * The class @bank gives every pixel of @src, as an up-sample with @border and @linear sees it
 * (the luma of the working values, premultiplied; the border mode around the edges): a new
 * array of width x height classes, row by row (g_free() it). For `--class-map`.
 */
guint16 *tconv_pipeline_bank_classes (GeglBuffer       *src,
                                      const tconv_bank *bank,
                                      TconvBorder       border,
                                      gboolean          linear,
                                      GError          **error);

G_END_DECLS

#endif /* TCONV_PIPELINE_H */
