/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Private to pipeline/: the state of one call, shared by the role files.
 *   tconv-pipeline-format.c  pixel formats, reading input rows, storing output rows
 *   tconv-pipeline-kernel.c  kernel checks and preparation (geometry, weights, factors)
 *   tconv-pipeline-bands.c   the region: its columns, the halo, bands of rows, scratch
 *   tconv-pipeline.c         entry points, options, threads and progress
 * Every output pixel is computed by the same float operations in the same order whatever
 * region, band or thread computes it; the comments at each step say what keeps it so. */
#ifndef TCONV_PIPELINE_PRIVATE_H
#define TCONV_PIPELINE_PRIVATE_H

#include "tconv-pipeline.h"
#include "tconv-resample.h"

/* Column runs handed to babl start and end on multiples of this (or at the row's end): babl
 * converts a run in groups of pixels, and a group with a huge or non-finite value takes a path
 * that rounds its other pixels differently, so runs must be cut at the same places whatever
 * the region (a whole row and GEGL's 128-pixel tiles are multiples too). */
#define TCONV_PIPELINE_ALIGN 16

#define TCONV_PIPELINE_MAX_THREADS 64

enum
{
  SCRATCH_IN,   /* input rows with halo */
  SCRATCH_SEP,  /* separable pass 1 */
  SCRATCH_MID,  /* rows of the stride x image (resample path) */
  SCRATCH_TMP,  /* one vertically reduced row (resample path) */
  SCRATCH_OUT,  /* output rows */
  SCRATCH_CONV, /* output rows converted to the destination's format by babl */
  SCRATCH_IN8,  /* 8-bit path: input rows with halo, 8-bit */
  SCRATCH_EXP,  /* 8-bit path: the same rows expanded */
  SCRATCH_PTR,  /* 8-bit path: pointers to them */
  SCRATCH_LUMA, /* bank: luma of the input rows */
  SCRATCH_BANK, /* bank: the classifier's work */
  SCRATCH_MAP,  /* bank: classes (uint16) */
  SCRATCH_COUNT
};

typedef struct
{
  gfloat *buf[SCRATCH_COUNT];
} TconvPipelineScratch;

typedef struct
{
  /* source */
  GeglBuffer    *src;
  gint           src_x, src_y, in_w, in_h;
  const Babl    *src_fmt;
  const Babl    *read_fmt;   /* straight float in the working encoding (premultiplied here) */
  gsize          read_bytes; /* 1 or 2: 8/16-bit samples read as they are and widened here */
  gfloat        *read_table; /* with read_bytes, for a linear job on perceptual samples:
                              * linear light of each level, per colour channel; or NULL */
  gsize          C;          /* channels, alpha last */
  gboolean       alpha;
  TconvBorder    border;

  /* destination: the whole output is out_w x out_h; roi is the part computed */
  gint           out_w, out_h;
  GeglRectangle  roi;
  GeglBuffer    *dst;        /* a buffer of the whole output, or NULL and: */
  gint           dst_x, dst_y;
  guint8        *dst_pixels; /* the region's rows in caller memory */
  gsize          dst_rowstride;
  const Babl    *dst_fmt;
  const Babl    *write_fmt;  /* the working format of the output rows */
  const Babl    *write_fish; /* write_fmt -> dst_fmt, when babl converts the output */
  gsize          write_bytes; /* 1 or 2: narrowed here rather than by babl */
  gfloat        *write_table; /* with write_bytes, for a linear job writing perceptual samples:
                               * per colour channel, the least linear value of each level
                               * above 0; or NULL */

  /* the transposed convolution: stride x image of mid_w x mid_h */
  tconv_geometry geom;
  gfloat        *weight;    /* C * k_h * k_w */
  gfloat        *bias;      /* C, or NULL */
  gfloat        *col, *row; /* rank-1 factors (C * k_h, C * k_w), or NULL */
  gint           mid_w, mid_h;
  const tconv_bank *bank;   /* adaptive: classes chosen per input pixel, or NULL */
  gfloat         antiring;  /* 0..1, applied to the stride x rows (tconv_antiring()) */
  gsize          bank_halo; /* input pixels each class reads on every side */
  tconv_bank_plan *bank_plan; /* inside bank_plan_mem; NULL: the core's portable loop */
  gpointer       bank_plan_mem;

  /* the exact-size reduction, when the output is not mid_w x mid_h */
  gboolean       resample;
  TconvResampler rx, ry;

  /* the region's columns */
  gint           cx0, cx1;  /* output columns computed: the region's, widened to
                             * TCONV_PIPELINE_ALIGN (or whole rows on the 8-bit path) */
  gint           mx0, mx1;  /* columns of the stride x image they read */
  gint64         ix_lo;     /* first input column held (may lie outside the image) */
  gsize          in_cols;   /* input columns held per row, halo included */
  gint          *col_map;   /* in_cols source columns after the border mapping, -1 = zero */
  gint           fx_lo, fx_n; /* the image columns read: [fx_lo, fx_lo + fx_n) */

  /* the 8-bit path (core/tconv-u8.c), for opaque 8-bit images in the working encoding at an
   * exact stride x: input rows of f8_cols pixels from column f8_lo, as 8-bit samples */
  tconv_u8_plan *fast8;     /* inside fast8_mem */
  gpointer       fast8_mem;
  gint64         f8_lo;
  gsize          f8_cols;
  gint          *f8_map;    /* source column of each, after the border mapping; -1 = zero */

  /* bands of the region's rows */
  gint           band_rows, n_bands;
  gint           max_threads; /* what the budget allows, at most the threads asked for */
  gsize          scratch_floats[SCRATCH_COUNT];

  /* shared while the threads run */
  GThread           *caller;     /* the thread that reports progress */
  TconvProgressFunc  progress;
  gpointer           progress_data;
  gint               reported;   /* bands done at the last report (caller only) */
  gint               next_band;  /* atomic */
  gint               done_bands; /* atomic */
  gint               stop;       /* atomic */
  gint               n_threads;  /* atomic: threads GEGL gave */
  GMutex             lock;
  GError            *error;      /* under lock: the first error */

  /* TCONV_PROFILE=1: microseconds per phase, summed over the threads (atomic) */
  gboolean       profile;
  gint64         prof_us[4]; /* read, compute, narrow, write */
} TconvPipelineJob;

/* tconv-pipeline-bank.c (tconv_pipeline_bank_classes() is public: tconv-pipeline.h) */
gboolean tconv_pipeline_bank_check (const tconv_bank *bank, const tconv_kernel *kernel,
                                    GError **error);
void     tconv_pipeline_bank_plan (TconvPipelineJob *job);
void     tconv_pipeline_bank_widen (const TconvPipelineJob *job, gint64 m0, gint64 m1,
                                    gint64 *a, gint64 *b);
gboolean tconv_pipeline_bank_scratch (const TconvPipelineJob *job, gsize n_in,
                                      gsize sizes[SCRATCH_COUNT]);
gboolean tconv_pipeline_bank_narrows (const TconvPipelineJob *job);
void     tconv_pipeline_bank_rows (const TconvPipelineJob *job, TconvPipelineScratch *s,
                                   const tconv_in_view *in, const tconv_out_view *out);

/* tconv-pipeline-format.c */
void     tconv_pipeline_choose_formats (TconvPipelineJob *job, gboolean linear);
gsize    tconv_pipeline_native_bytes (const TconvPipelineJob *job, const Babl *fmt,
                                      const Babl *space_of, gboolean linear);
void     tconv_pipeline_set_read_table (TconvPipelineJob *job);
void     tconv_pipeline_set_write_table (TconvPipelineJob *job);
void     tconv_pipeline_fetch_rows (const TconvPipelineJob *job, gint64 y, gint64 n, gfloat *dst,
                                    gsize row_floats);
void     tconv_pipeline_unpremultiply (const TconvPipelineJob *job, gfloat *p, gsize n_pixels);
void     tconv_pipeline_narrow (const TconvPipelineJob *job, gfloat *p, gsize n_samples);
void     tconv_pipeline_narrow_to (const TconvPipelineJob *job, const gfloat *src, gpointer dst,
                                   gsize n_samples);
const guint8 *tconv_pipeline_convert_rows (const TconvPipelineJob *job, const gfloat *rows,
                                           gsize n_rows, guint8 *conv);
void     tconv_pipeline_store_band (TconvPipelineJob *job, gint y0, gint y1, const guint8 *pixels);
gint64   tconv_pipeline_prof_now (void);
void     tconv_pipeline_prof_add (const TconvPipelineJob *job, gint phase, gint64 *t0);

/* tconv-pipeline-kernel.c */
gboolean tconv_pipeline_set_kernel (TconvPipelineJob *job, const tconv_kernel *k,
                                    gboolean normalize, GError **error);

/* tconv-pipeline-bands.c */
void     tconv_pipeline_set_region (TconvPipelineJob *job);
gboolean tconv_pipeline_plan_bands (TconvPipelineJob *job, gint threads, guint64 budget,
                                    GError **error);
gboolean tconv_pipeline_scratch_alloc (const TconvPipelineJob *job, TconvPipelineScratch *s);
void     tconv_pipeline_scratch_free (TconvPipelineScratch *s);
void     tconv_pipeline_band (TconvPipelineJob *job, TconvPipelineScratch *s, gint band);
void     tconv_pipeline_fast8_clear (TconvPipelineJob *job);

#endif /* TCONV_PIPELINE_PRIVATE_H */
