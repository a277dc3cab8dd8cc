/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Drives the pipeline on the image: every layer, layer mask and channel is up-sampled into a
 * private buffer first (progress, cancel; the image untouched), and only when all of them
 * are done is the image scaled and written, in one undo group. Also renders preview regions
 * (tconv and GIMP's NoHalo). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libgimp/gimp.h>

#include "upscale.h"

/* GIMP's own rounding of scaled item geometry (app/core/gimpitem.c). */
#define UPSCALE_SIGNED_ROUND(x) ((gint) (((x) < 0) ? (x) - 0.5 : (x) + 0.5))

typedef struct
{
  GimpDrawable *drawable;
  gboolean      is_group;  /* a layer group: its pixels are the children's composite */
  gboolean      shrunk;    /* made 1x1 before gimp_image_scale(), resized after */
  gint          in_w, in_h;
  gint          out_x, out_y, out_w, out_h; /* expected after gimp_image_scale() */
  GeglBuffer   *source;    /* private copy of the pixels before scaling */
  GeglBuffer   *result;    /* up-sampled pixels in the drawable's format */
} UpscaleItem;

typedef struct
{
  const UpscaleKernel *kernel;
  const UpscaleParams *params;
  guint64              total; /* output pixels of all items */
  guint64              done;  /* output pixels of the finished items */
  guint64              current; /* output pixels of the item being computed */
  gint                 last_percent;
  gboolean             progress_ended; /* no more updates: they would restart it */
} UpscaleJob;

static void
upscale_item_clear (gpointer data)
{
  UpscaleItem *item = data;

  g_clear_object (&item->source);
  g_clear_object (&item->result);
}

/* Every drawable of @image whose pixels follow the image size, in a fixed order (the same
 * for an image and its duplicate): layers depth first (groups before their children), each
 * followed by its mask, then the channels. */
static void
upscale_collect_layers (GimpItem **items,
                        GArray    *out)
{
  for (gint i = 0; items != NULL && items[i] != NULL; i++)
    {
      GimpLayer     *layer = GIMP_LAYER (items[i]);
      GimpLayerMask *mask  = gimp_layer_get_mask (layer);
      UpscaleItem    item  = { 0 };

      item.drawable = GIMP_DRAWABLE (layer);
      item.is_group = gimp_item_is_group (items[i]);
      g_array_append_val (out, item);
      if (mask != NULL)
        {
          UpscaleItem m = { 0 };

          m.drawable = GIMP_DRAWABLE (mask);
          g_array_append_val (out, m);
        }
      if (item.is_group)
        {
          GimpItem **children = gimp_item_get_children (items[i]);

          upscale_collect_layers (children, out);
          g_free (children);
        }
    }
}

static GArray *
upscale_collect (GimpImage *image)
{
  GArray        *items = g_array_new (FALSE, TRUE, sizeof (UpscaleItem));
  GimpLayer    **layers = gimp_image_get_layers (image);
  GimpChannel  **channels = gimp_image_get_channels (image);

  g_array_set_clear_func (items, upscale_item_clear);
  upscale_collect_layers ((GimpItem **) layers, items);
  for (gint i = 0; channels != NULL && channels[i] != NULL; i++)
    {
      UpscaleItem item = { 0 };

      item.drawable = GIMP_DRAWABLE (channels[i]);
      g_array_append_val (items, item);
    }
  g_free (channels);
  g_free (layers);
  return items;
}

/* ---------------------------------------------------------------------------------------------
 * Computing
 */

/* The results wait in GEGL buffers (which swap to disk) while GIMP holds a scaled copy: refuse
 * a job that cannot fit in RAM plus the free disk where GEGL swaps, before any work. */
static gboolean
upscale_check_memory (guint64   need,
                      GError  **error)
{
  const guint64 have = tconv_pipeline_memory_available (NULL);

  if (have > 0 && need > have)
    {
      gchar *n = g_format_size_full (need, G_FORMAT_SIZE_IEC_UNITS);
      gchar *h = g_format_size_full (have, G_FORMAT_SIZE_IEC_UNITS);

      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE,
                   _("The up-sampled image needs about %s, more than the memory plus the free "
                     "swap disk space (%s)"),
                   n, h);
      g_free (n);
      g_free (h);
      return FALSE;
    }
  return TRUE;
}

static gboolean
upscale_job_progress (gdouble  fraction,
                      gpointer data)
{
  UpscaleJob   *job = data;
  const gdouble all = job->total
                      ? ((gdouble) job->done + fraction * (gdouble) job->current) / job->total
                      : fraction;
  const gint    percent = (gint) (all * 100.0);

  /* Each update is a round trip to GIMP: one per percent. None once the progress has
   * ended: an update would start it again, with a Cancel that could stop the plug-in while
   * it writes into the image (upscale_write() may compute again). */
  if (percent != job->last_percent && ! job->progress_ended)
    {
      job->last_percent = percent;
      gimp_progress_update (all);
    }
  return TRUE; /* GIMP cancels by ending the process, not through this callback */
}

/* The pipeline's options for @params at @out_w x @out_h: the same for the final result and
 * the preview, so that the preview shows the result's own pixels. */
static void
upscale_render_options (TconvUpscaleOptions *options,
                        const UpscaleKernel *kernel,
                        const UpscaleParams *params,
                        gint                 out_w,
                        gint                 out_h)
{
  tconv_pipeline_upscale_options_init (options);
  options->kernel           = kernel->kernel;
  options->bank             = kernel->bank;
  /* banks default to the anti-ringing their validation chose (docs/antiring.md), single
   * kernels stay the exact interpolation they name: as `tconv upscale` */
  options->antiring         = params->antiring >= 0.0 ? params->antiring
                              : kernel->bank != NULL ? TCONV_BANK_ANTIRING : 0.0;
  options->border           = params->border;
  options->linear           = params->linear;
  options->normalize_phases = params->normalize_phases;
  options->out_width        = out_w;
  options->out_height       = out_h;
}

/* Up-samples @source into @dest, of tconv_pipeline_result_new(). */
static gboolean
upscale_compute (UpscaleJob              *job,
                 GeglBuffer              *source,
                 const TconvPipelineDest *dest,
                 gint                     out_w,
                 gint                     out_h,
                 GError                 **error)
{
  TconvUpscaleOptions options;

  upscale_render_options (&options, job->kernel, job->params, out_w, out_h);
  options.progress      = upscale_job_progress;
  options.progress_data = job;
  return tconv_pipeline_upscale_region (source, &options, NULL, dest, error);
}

/* Up-samples the drawable of @item into item->result from a private copy of its pixels,
 * item->source, which outlives the scaling of the drawable (upscale_write() may need it).
 * The copy is made here, in the thread that talks to GIMP: the wire to GIMP carries one
 * message at a time, and the progress updates use it while the workers run. While it comes
 * in, mostly waiting on GIMP, another thread faults in the result's memory, which the
 * workers would otherwise do page by page where huge pages are not given. */
static gboolean
upscale_compute_item (UpscaleJob   *job,
                      UpscaleItem  *item,
                      GError      **error)
{
  const Babl       *format = gimp_drawable_get_format (item->drawable);
  GeglBuffer       *buffer = gimp_drawable_get_buffer (item->drawable);
  gint64            t0     = g_get_monotonic_time ();
  GThread          *faulting = NULL;
  TconvPipelineDest dest;

  item->result = tconv_pipeline_result_new (item->out_w, item->out_h, format, TRUE, &dest);
  if (dest.pixels != NULL)
    faulting = tconv_pipeline_fault_in_start (dest.pixels, dest.rowstride * (gsize) item->out_h);
  item->source = gegl_buffer_dup (buffer);
  g_object_unref (buffer);
  if (faulting != NULL)
    g_thread_join (faulting);
  tconv_pipeline_profile_stage ("copy source", &t0);
  if (! upscale_compute (job, item->source, &dest, item->out_w, item->out_h, error))
    g_clear_object (&item->result);
  tconv_pipeline_profile_stage ("compute", &t0);
  return item->result != NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Applying
 */

/* gimp_image_scale() would scale every pixel of every layer, only for upscale_write() to
 * overwrite them all (with NONE interpolation, about 4 s for 12 megapixels x2, longer than
 * the whole up-sampling). So each plain layer is first cut to its top-left pixel, which GIMP
 * scales in no time, to the offset it gives the full layer (it scales offsets, not pixels);
 * upscale_regrow_layers() then gives it the predicted size. Layer masks follow their layer.
 * Left to GIMP: layer groups (sized by their children), channels (image-sized), layers whose
 * position or pixels are locked, and any reduction, where one pixel could scale to none.
 * When the image records undo steps, only top-level layers that are exactly the canvas, at
 * (0, 0) and without a mask, are cut: for an offset layer, GIMP 3.0.4's one Undo of the
 * group left it 1x1 (tests/gimp3/test-dialog.sh has both kinds), so GIMP scales the others. */
static void
upscale_shrink_layers (GimpImage *image,
                       GArray    *items,
                       gdouble    fx,
                       gdouble    fy)
{
  const gboolean undo    = gimp_image_undo_is_enabled (image);
  const gint     image_w = gimp_image_get_width (image);
  const gint     image_h = gimp_image_get_height (image);

  if (fx < 1.0 || fy < 1.0)
    return;
  for (guint i = 0; i < items->len; i++)
    {
      UpscaleItem *item = &g_array_index (items, UpscaleItem, i);
      GimpItem    *it   = GIMP_ITEM (item->drawable);
      gint         x, y;

      if (item->is_group || ! GIMP_IS_LAYER (item->drawable) /* masks are channels */
          || gimp_item_get_lock_position (it) || gimp_item_get_lock_content (it))
        continue;
      if (undo)
        {
          gimp_drawable_get_offsets (item->drawable, &x, &y);
          if (x != 0 || y != 0 || item->in_w != image_w || item->in_h != image_h
              || gimp_layer_get_mask (GIMP_LAYER (item->drawable)) != NULL
              || gimp_item_get_parent (it) != NULL)
            continue;
        }
      item->shrunk = gimp_layer_resize (GIMP_LAYER (item->drawable), 1, 1, 0, 0);
    }
}

static gboolean
upscale_regrow_layers (GArray  *items,
                       GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      UpscaleItem *item = &g_array_index (items, UpscaleItem, i);
      GimpLayer   *layer;
      gint         x, y;

      if (! item->shrunk)
        continue;
      layer = GIMP_LAYER (item->drawable);
      gimp_drawable_get_offsets (item->drawable, &x, &y);
      if (! gimp_layer_resize (layer, item->out_w, item->out_h, 0, 0)
          || ((x != item->out_x || y != item->out_y)
              && ! gimp_layer_set_offsets (layer, item->out_x, item->out_y)))
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                       _("GIMP could not size a layer to %d×%d at (%d, %d): %s"), item->out_w,
                       item->out_h, item->out_x, item->out_y,
                       gimp_pdb_get_last_error (gimp_get_pdb ()));
          return FALSE;
        }
    }
  return TRUE;
}

/* Gives GIMP the @w x @h pixels of @result in bands of a few tile rows, each through a
 * drawable buffer of its own: unreferencing it sends its tiles over the wire and frees them,
 * and the next band's tiles reuse that memory. One buffer for the whole result kept every
 * tile until the end, 144 MB of fresh memory at 12 MP x2, and took 1.08 s instead of 0.72 s
 * from plain memory (docs/speed.md). */
static void
upscale_hand_over (GeglBuffer   *result,
                   GimpDrawable *drawable,
                   gint          w,
                   gint          h)
{
  const gint band = 4 * (gint) gimp_tile_height ();

  for (gint y = 0; y < h; y += band)
    {
      GeglBuffer         *buffer = gimp_drawable_get_buffer (drawable);
      const GeglRectangle rows   = { 0, y, w, MIN (band, h - y) };

      gegl_buffer_copy (result, &rows, GEGL_ABYSS_NONE, buffer, &rows);
      g_object_unref (buffer); /* sends the band's tiles to GIMP */
    }
}

static gboolean
upscale_write (UpscaleJob   *job,
               UpscaleItem  *item,
               GError      **error)
{
  GimpDrawable *drawable = item->drawable;
  const gint    w = gimp_drawable_get_width (drawable);
  const gint    h = gimp_drawable_get_height (drawable);
  gint64        t0;

  if (item->result == NULL
      || gegl_buffer_get_width (item->result) != w || gegl_buffer_get_height (item->result) != h)
    {
      /* GIMP sized it otherwise than predicted (a layer group's mask follows the group's new
       * bounds): compute it again at the size it has now. */
      TconvPipelineDest dest;

      g_clear_object (&item->result);
      item->result = tconv_pipeline_result_new (w, h, gimp_drawable_get_format (drawable), TRUE,
                                                &dest);
      if (! upscale_compute (job, item->source, &dest, w, h, error))
        {
          g_clear_object (&item->result);
          return FALSE;
        }
    }

  t0 = g_get_monotonic_time ();
  upscale_hand_over (item->result, drawable, w, h);
  gimp_drawable_update (drawable, 0, 0, w, h);
  tconv_pipeline_profile_stage ("write (tiles to GIMP)", &t0);
  return TRUE;
}

/* Predicts each drawable's geometry as gimp_image_scale() to @out_w x @out_h will make it,
 * and counts the output pixels (job->total) and bytes to hold. NULL with @error set when a
 * drawable would scale to nothing or the results cannot fit. */
static GArray *
upscale_plan (GimpImage   *image,
              UpscaleJob  *job,
              gint         out_w,
              gint         out_h,
              GError     **error)
{
  const gdouble fx = (gdouble) out_w / gimp_image_get_width (image);
  const gdouble fy = (gdouble) out_h / gimp_image_get_height (image);
  GArray       *items = upscale_collect (image);
  guint64       bytes = 0;

  for (guint i = 0; i < items->len; i++)
    {
      UpscaleItem *item = &g_array_index (items, UpscaleItem, i);
      gint         x, y;

      item->in_w = gimp_drawable_get_width (item->drawable);
      item->in_h = gimp_drawable_get_height (item->drawable);
      gimp_drawable_get_offsets (item->drawable, &x, &y);
      item->out_x = UPSCALE_SIGNED_ROUND (fx * x);
      item->out_y = UPSCALE_SIGNED_ROUND (fy * y);
      item->out_w = UPSCALE_SIGNED_ROUND (fx * (x + item->in_w)) - item->out_x;
      item->out_h = UPSCALE_SIGNED_ROUND (fy * (y + item->in_h)) - item->out_y;
      if (item->out_w < 1 || item->out_h < 1)
        {
          gchar *name = gimp_item_get_name (GIMP_ITEM (item->drawable));

          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                       _("'%s' (%d×%d) would be scaled to nothing at %d×%d"), name,
                       item->in_w, item->in_h, out_w, out_h);
          g_free (name);
          g_array_free (items, TRUE);
          return NULL;
        }
      if (! item->is_group)
        {
          job->total += (guint64) item->out_w * (guint64) item->out_h;
          bytes += (guint64) item->out_w * (guint64) item->out_h
                   * babl_format_get_bytes_per_pixel (gimp_drawable_get_format (item->drawable));
        }
    }
  /* Ours, and GIMP's scaled copy. */
  if (! upscale_check_memory (2 * bytes, error))
    {
      g_array_free (items, TRUE);
      return NULL;
    }
  return items;
}

/* All the pixels, before the image is touched. GIMP's Cancel ends this process
 * (app/plug-in/gimpplugin-progress.c), so a cancel can only happen here, while the image is
 * still as it was; the progress ends, and its Cancel button with it, before anything is
 * written (tests/gimp3/test-cancel.sh). */
static gboolean
upscale_compute_all (UpscaleJob  *job,
                     GArray      *items,
                     GError     **error)
{
  gint64 t0 = g_get_monotonic_time ();

  for (guint i = 0; i < items->len; i++)
    {
      UpscaleItem *item = &g_array_index (items, UpscaleItem, i);

      if (item->is_group)
        continue; /* GIMP recomposes groups; only their masks are pixels of their own */
      tconv_pipeline_profile_stage ("prepare", &t0);
      job->current = (guint64) item->out_w * (guint64) item->out_h;
      if (! upscale_compute_item (job, item, error))
        return FALSE;
      t0 = g_get_monotonic_time ();
      job->done += job->current;
      job->current = 0;
    }
  gimp_progress_update (1.0);
  gimp_progress_end ();
  job->progress_ended = TRUE;
  return TRUE;
}

/* The image to write into: @image inside an undo group, or its duplicate (undo off) whose
 * drawables replace those of @items. NULL with @error set if the duplicate differs. */
static GimpImage *
upscale_target_begin (GimpImage *image,
                      GArray    *items,
                      gboolean   new_image,
                      GError   **error)
{
  GimpImage *target;
  GArray    *copies;

  if (! new_image)
    {
      gimp_image_undo_group_start (image);
      return image;
    }
  target = gimp_image_duplicate (image);
  gimp_image_undo_disable (target);
  copies = upscale_collect (target);
  if (copies->len != items->len)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   _("The duplicate image has %u drawables, the image %u"),
                   copies->len, items->len);
      g_array_free (copies, TRUE);
      gimp_image_delete (target);
      return NULL;
    }
  for (guint i = 0; i < items->len; i++)
    g_array_index (items, UpscaleItem, i).drawable
      = g_array_index (copies, UpscaleItem, i).drawable;
  g_array_free (copies, TRUE);
  return target;
}

/* Scales @target to @out_w x @out_h and writes every computed drawable into it. */
static gboolean
upscale_apply (UpscaleJob  *job,
               GimpImage   *target,
               GArray      *items,
               gint         out_w,
               gint         out_h,
               GError     **error)
{
  gint64   t0 = g_get_monotonic_time ();
  gboolean ok;

  upscale_shrink_layers (target, items, (gdouble) out_w / gimp_image_get_width (target),
                         (gdouble) out_h / gimp_image_get_height (target));
  tconv_pipeline_profile_stage ("shrink layers", &t0);

  /* GIMP scales everything consistently (offsets, masks, channels, selection, paths,
   * guides); no interpolation, since every pixel is overwritten next. */
  gimp_context_push ();
  gimp_context_set_interpolation (GIMP_INTERPOLATION_NONE);
  ok = gimp_image_scale (target, out_w, out_h);
  gimp_context_pop ();
  tconv_pipeline_profile_stage ("gimp_image_scale", &t0);
  if (! ok)
    g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                 _("GIMP could not scale the image to %d×%d: %s"), out_w, out_h,
                 gimp_pdb_get_last_error (gimp_get_pdb ()));
  ok = ok && upscale_regrow_layers (items, error);
  tconv_pipeline_profile_stage ("regrow layers", &t0);

  for (guint i = 0; ok && i < items->len; i++)
    {
      UpscaleItem *item = &g_array_index (items, UpscaleItem, i);

      if (! item->is_group)
        ok = upscale_write (job, item, error);
    }
  tconv_pipeline_profile_stage ("all written", &t0);
  return ok;
}

GimpImage *
upscale_render_image (GimpImage           *image,
                      GimpDrawable        *self_src,
                      const UpscaleParams *params,
                      GError             **error)
{
  UpscaleJob    job  = { 0 };
  UpscaleKernel kernel = { 0 };
  GArray       *items = NULL;
  GimpImage    *target = NULL;
  gint          out_w, out_h;
  gboolean      ok = FALSE;
  gint64        t0 = g_get_monotonic_time ();

  gimp_progress_init (_("Upscaling (transposed convolution)"));
  if (! upscale_prepare (params, gimp_image_get_width (image), gimp_image_get_height (image),
                         self_src, NULL, &kernel, &out_w, &out_h, error))
    goto out;
  job.kernel       = &kernel;
  job.params       = params;
  job.last_percent = -1;

  items = upscale_plan (image, &job, out_w, out_h, error);
  if (items == NULL || ! upscale_compute_all (&job, items, error))
    goto out;
  target = upscale_target_begin (image, items, params->new_image, error);
  if (target == NULL)
    goto out;
  tconv_pipeline_profile_stage ("duplicate / undo group", &t0);

  ok = upscale_apply (&job, target, items, out_w, out_h, error);
  if (params->new_image)
    {
      gimp_image_undo_enable (target);
      if (! ok)
        {
          gimp_image_delete (target);
          target = NULL;
        }
    }
  else
    {
      gimp_image_undo_group_end (image);
      if (! ok)
        g_prefix_error (error, _("The image is partly up-sampled; Edit ▸ Undo restores it: "));
    }

out:
  if (! job.progress_ended)
    gimp_progress_end ();
  if (items != NULL)
    g_array_free (items, TRUE);
  upscale_kernel_clear (&kernel);
  tconv_pipeline_profile_stage ("finish", &t0);
  return ok ? target : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Preview regions
 */

gboolean
upscale_render_region (GimpDrawable        *drawable G_GNUC_UNUSED,
                       GeglBuffer          *source,
                       const UpscaleKernel *kernel,
                       const UpscaleParams *params,
                       gint                 out_w,
                       gint                 out_h,
                       const GeglRectangle *roi,
                       const Babl          *format,
                       guchar              *buf,
                       gint                 rowstride,
                       GError             **error)
{
  const gint          bpp = babl_format_get_bytes_per_pixel (format);
  TconvUpscaleOptions options;
  TconvPipelineDest   dst = { 0 };
  GeglRectangle       part;

  /* The window may reach past the result's edges (rounding): those pixels stay as they are. */
  if (! gegl_rectangle_intersect (&part, roi, GEGL_RECTANGLE (0, 0, out_w, out_h)))
    return TRUE;
  upscale_render_options (&options, kernel, params, out_w, out_h);
  dst.pixels    = buf + (gsize) (part.y - roi->y) * rowstride + (gsize) (part.x - roi->x) * bpp;
  dst.rowstride = rowstride;
  dst.format    = format;
  return tconv_pipeline_upscale_region (source, &options, &part, &dst, error);
}

void
upscale_render_drawable_size (GimpDrawable *drawable,
                              gint          img_w,
                              gint          img_h,
                              gint          out_w,
                              gint          out_h,
                              gint         *w,
                              gint         *h)
{
  const gdouble fx = (gdouble) out_w / img_w, fy = (gdouble) out_h / img_h;
  gint          x, y;

  gimp_drawable_get_offsets (drawable, &x, &y);
  *w = MAX (1, UPSCALE_SIGNED_ROUND (fx * (x + gimp_drawable_get_width (drawable)))
               - UPSCALE_SIGNED_ROUND (fx * x));
  *h = MAX (1, UPSCALE_SIGNED_ROUND (fy * (y + gimp_drawable_get_height (drawable)))
               - UPSCALE_SIGNED_ROUND (fy * y));
}

void
upscale_render_region_nohalo (GeglBuffer          *source,
                              gint                 in_w,
                              gint                 in_h,
                              gint                 out_w,
                              gint                 out_h,
                              const GeglRectangle *roi,
                              const Babl          *format,
                              guchar              *buf,
                              gint                 rowstride)
{
  GeglNode *graph = gegl_node_new ();
  GeglNode *input, *scale;

  /* What Image ▸ Scale Image does with NoHalo (gimp_gegl_apply_scale). */
  input = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", source,
                               NULL);
  scale = gegl_node_new_child (graph, "operation", "gegl:scale-ratio",
                               "origin-x", 0.0, "origin-y", 0.0,
                               "sampler", GEGL_SAMPLER_NOHALO,
                               "abyss-policy", GEGL_ABYSS_CLAMP,
                               "x", (gdouble) out_w / in_w,
                               "y", (gdouble) out_h / in_h,
                               NULL);
  gegl_node_link (input, scale);
  gegl_node_blit (scale, 1.0, roi, format, buf, rowstride, GEGL_BLIT_DEFAULT);
  g_object_unref (graph);
}
