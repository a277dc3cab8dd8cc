/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The GIMP 3 plug-in "Upscale (Transposed Convolution)": what its files share. State is passed
 * explicitly (UpscaleParams, UpscaleKernelCache); there are no globals. */
#ifndef UPSCALE_H
#define UPSCALE_H

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "tconv.h"
#include "tconv-pipeline.h"
#include "tconv-pipeline-util.h"

G_BEGIN_DECLS

#define PLUG_IN_PROC   "plug-in-tconv-upscale"
#define PLUG_IN_BINARY "tconv-upscale"
#define PLUG_IN_ROLE   "tconv-upscale"

#define UPSCALE_MAX_STRIDE ((gint) TCONV_ANALYTIC_MAX_STRIDE) /* as in `tconv upscale` */

/* Choice nicks of the "kernel" argument that are not presets. */
#define UPSCALE_KERNEL_SELF "self"
#define UPSCALE_KERNEL_FILE "file"
/* The default: the adaptive bank where one exists for the scale, else the default single
 * kernel (tconv_pipeline_bank_find() and tconv_pipeline_preset_find() with no name). */
#define UPSCALE_KERNEL_ADAPTIVE "adaptive"

/* ---------------------------------------------------------------------------------------------
 * upscale-main.c
 */

#define UPSCALE_TYPE (upscale_get_type ())
G_DECLARE_FINAL_TYPE (Upscale, upscale, UPSCALE, PLUG_IN, GimpPlugIn)

/* The procedure's arguments, read once from the config. */
typedef struct
{
  gchar      *kernel;      /* choice nick: a preset name, "self" or "file" */
  GFile      *kernel_file; /* nullable; used when kernel is "file" */
  gint        stride;      /* 1..16 */
  gint        width;       /* 0: stride x input */
  gint        height;      /* 0: stride x input */
  TconvBorder border;
  gboolean    linear;
  gboolean    normalize_phases;
  gdouble     antiring;    /* 0..1; < 0: the kernel's default (TCONV_BANK_ANTIRING for banks,
                            * 0 for single kernels, as `tconv upscale`) */
  gboolean    new_image;
} UpscaleParams;

void upscale_params_from_config (UpscaleParams *params, GimpProcedureConfig *config);
void upscale_params_clear (UpscaleParams *params);

/* ---------------------------------------------------------------------------------------------
 * upscale-presets.c: the kernel choice, finding and loading kernels
 */

typedef struct
{
  const gchar *nick;  /* the PDB value */
  const gchar *label; /* N_() */
  const gchar *help;  /* N_() */
} UpscaleKernelInfo;

/* Every value of the "kernel" argument: the shipped kernels, then the other preset families
 * of the preset folders (a user's own NAME-xS.tconv files), then "self" and "file". */
GimpChoice *upscale_kernel_choice (void);

/* The plug-in's installed preset folders for the shared search path
 * (tconv-pipeline-presets.h): its own presets/ folder, then the tconv command's. */
const gchar *const *upscale_preset_installed (void);

/* A learned "self" kernel is expensive; the dialog keeps the last one. */
typedef struct
{
  gint          stride_h, stride_w;
  tconv_kernel *kernel;
} UpscaleKernelCache;

void upscale_kernel_cache_clear (UpscaleKernelCache *cache);

/* What a run up-samples with: a single kernel, or a kernel bank (adaptive kernels chosen per
 * pixel) whose global kernel @kernel is, owned by the bank. */
typedef struct
{
  tconv_kernel *kernel;
  tconv_bank   *bank;
} UpscaleKernel;

void upscale_kernel_clear (UpscaleKernel *kernel);

/**
 * upscale_prepare:
 * @params:   the arguments.
 * @in_w, @in_h: the image size.
 * @self_src: (nullable): the drawable "self" learns from.
 * @cache:    (nullable): reused and updated for "self".
 * @kernel:   (out): a new kernel or kernel bank: a file's own, or a preset / learned one at
 *            the kernel stride ceil (out / in) per axis (the stride argument when width and
 *            height are 0). upscale_kernel_clear() frees it.
 * @out_w, @out_h: (out): the output size: width and height, a 0 side being kernel stride x
 *            input.
 *
 * Everything is checked here, before any pixel is touched; errors name the value and the rule.
 */
gboolean upscale_prepare (const UpscaleParams *params,
                          gint                 in_w,
                          gint                 in_h,
                          GimpDrawable        *self_src,
                          UpscaleKernelCache  *cache,
                          UpscaleKernel       *kernel,
                          gint                *out_w,
                          gint                *out_h,
                          GError             **error);

/* ---------------------------------------------------------------------------------------------
 * upscale-render.c
 */

/**
 * upscale_render_image:
 * Up-samples every layer, layer mask and channel of @image. All pixels are computed first,
 * with progress; only then is the image (or a new duplicate, with @params->new_image)
 * scaled and written, inside one undo group. GIMP's Cancel ends the plug-in process, which
 * it can only do while the pixels are computed: the progress ends before the image is
 * touched. On an error before writing, the image is unchanged and @error is set.
 *
 * Returns: (transfer none): @image, or the new image, or NULL on error.
 */
GimpImage *upscale_render_image (GimpImage           *image,
                                 GimpDrawable        *self_src,
                                 const UpscaleParams *params,
                                 GError             **error);

/**
 * upscale_render_region:
 * For the preview: the output pixels (@roi, in output coordinates of the whole drawable,
 * whose output size is @out_w x @out_h) of @drawable up-sampled with @kernel, as
 * @format into @buf (@rowstride bytes per row): exactly the final result's pixels, at any
 * scale (tconv_pipeline_upscale_region() with the options the final run uses). Parts of
 * @roi outside the output are left as they are.
 */
gboolean upscale_render_region (GimpDrawable        *drawable,
                                GeglBuffer          *source,
                                const UpscaleKernel *kernel,
                                const UpscaleParams *params,
                                gint                 out_w,
                                gint                 out_h,
                                const GeglRectangle *roi,
                                const Babl          *format,
                                guchar              *buf,
                                gint                 rowstride,
                                GError             **error);

/* The size @drawable takes when its image of @img_w x @img_h is scaled to @out_w x @out_h
 * (GIMP's rounding of scaled item geometry, as upscale_render_image() predicts it). */
void upscale_render_drawable_size (GimpDrawable *drawable,
                                   gint          img_w,
                                   gint          img_h,
                                   gint          out_w,
                                   gint          out_h,
                                   gint         *w,
                                   gint         *h);

/* The same region scaled by GIMP's NoHalo sampler (as Image ▸ Scale Image does). */
void upscale_render_region_nohalo (GeglBuffer          *source,
                                   gint                 in_w,
                                   gint                 in_h,
                                   gint                 out_w,
                                   gint                 out_h,
                                   const GeglRectangle *roi,
                                   const Babl          *format,
                                   guchar              *buf,
                                   gint                 rowstride);

/* ---------------------------------------------------------------------------------------------
 * upscale-dialog.c
 */

gboolean upscale_dialog (GimpProcedure       *procedure,
                         GimpProcedureConfig *config,
                         GimpImage           *image,
                         GimpDrawable        *drawable);

G_END_DECLS

#endif /* UPSCALE_H */
