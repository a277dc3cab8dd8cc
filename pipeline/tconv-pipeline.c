/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The pipeline's entry points: options and output size, checks made before any work, and the
 * run: the region's bands handed to GEGL's thread pool, progress and cancel from the calling
 * thread. What a band does is in tconv-pipeline-bands.c; why every thread count and region
 * gives the same bytes is said there. Working memory is allocated once per thread, sized from
 * the budget before any pixel is read. */
#include "tconv-pipeline-private.h"
#include "tconv-pipeline-util.h"

#include <string.h>

G_DEFINE_QUARK (tconv-pipeline-error-quark, tconv_pipeline_error)

#define DEFAULT_BUDGET ((guint64) 1 << 30)

static const gchar *const border_names[TCONV_BORDER_COUNT] = {
  [TCONV_BORDER_CLAMP] = "clamp",
  [TCONV_BORDER_MIRROR] = "mirror",
  [TCONV_BORDER_WRAP] = "wrap",
  [TCONV_BORDER_ZERO] = "zero",
};

const gchar *
tconv_pipeline_border_name (TconvBorder border)
{
  return (guint) border < TCONV_BORDER_COUNT ? border_names[border] : NULL;
}

gboolean
tconv_pipeline_border_from_name (const gchar *name, TconvBorder *border)
{
  for (guint i = 0; name != NULL && i < TCONV_BORDER_COUNT; i++)
    if (strcmp (name, border_names[i]) == 0)
      {
        *border = (TconvBorder) i;
        return TRUE;
      }
  return FALSE;
}

void
tconv_pipeline_upscale_options_init (TconvUpscaleOptions *options)
{
  memset (options, 0, sizeof *options);
  options->border = TCONV_BORDER_CLAMP;
}

gint
tconv_pipeline_stride_for_size (gint in_size, gint out_size)
{
  gint64 s;

  if (in_size <= 0 || out_size <= 0)
    return 1;
  s = ((gint64) out_size + in_size - 1) / in_size;
  /* the stride x image must itself stay within TCONV_MAX_SIDE */
  s = MIN (s, (gint64) TCONV_MAX_SIDE / in_size);
  return (gint) CLAMP (s, 1, (gint64) TCONV_ANALYTIC_MAX_STRIDE);
}

gboolean
tconv_pipeline_output_size (const TconvUpscaleOptions *options, gint in_width, gint in_height,
                            gint *out_width, gint *out_height, GError **error)
{
  gint64 w, h;

  if (options == NULL || options->kernel == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "no kernel given: a kernel is required");
      return FALSE;
    }
  if (in_width < 1 || in_height < 1)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "input of %dx%d pixels: must be at least 1x1", in_width, in_height);
      return FALSE;
    }
  if ((options->out_width == 0) != (options->out_height == 0) || options->out_width < 0
      || options->out_height < 0)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "output size %dx%d: both sides must be positive, or both 0 for stride x "
                   "the input",
                   options->out_width, options->out_height);
      return FALSE;
    }
  if (options->out_width == 0)
    {
      w = (gint64) in_width * (gint64) options->kernel->stride_w;
      h = (gint64) in_height * (gint64) options->kernel->stride_h;
    }
  else
    {
      w = options->out_width;
      h = options->out_height;
    }
  if (w > TCONV_MAX_SIDE || h > TCONV_MAX_SIDE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_TOO_LARGE,
                   "output of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " pixels: each side must be at most %u (GIMP's limit)",
                   w, h, TCONV_MAX_SIDE);
      return FALSE;
    }
  *out_width = (gint) w;
  *out_height = (gint) h;
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * Setting up a job
 */

static gboolean
check_options (const TconvUpscaleOptions *options, GError **error)
{
  if ((guint) options->border >= TCONV_BORDER_COUNT)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "border mode %d: must be 0..%d", (gint) options->border,
                   TCONV_BORDER_COUNT - 1);
      return FALSE;
    }
  if (options->threads < 0 || options->threads > TCONV_PIPELINE_MAX_THREADS)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "threads %d: must be 0 (GEGL's setting) to %d", options->threads,
                   TCONV_PIPELINE_MAX_THREADS);
      return FALSE;
    }
  return TRUE;
}

/* The region (the whole output when NULL) and the destination, checked against the output
 * size. */
static gboolean
set_destination (TconvPipelineJob *job, const GeglRectangle *roi, const TconvPipelineDest *dst,
                 GError **error)
{
  job->roi = roi != NULL ? *roi : *GEGL_RECTANGLE (0, 0, job->out_w, job->out_h);
  if (job->roi.width < 1 || job->roi.height < 1 || job->roi.x < 0 || job->roi.y < 0
      || job->roi.width > job->out_w - job->roi.x || job->roi.height > job->out_h - job->roi.y)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "region %dx%d at (%d, %d): must be a non-empty rectangle inside the %dx%d "
                   "output", job->roi.width, job->roi.height, job->roi.x, job->roi.y, job->out_w,
                   job->out_h);
      return FALSE;
    }
  if (dst->buffer != NULL)
    {
      const GeglRectangle *de = gegl_buffer_get_extent (dst->buffer);

      if (de->width != job->out_w || de->height != job->out_h)
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                       "destination buffer is %dx%d: must be the output size %dx%d", de->width,
                       de->height, job->out_w, job->out_h);
          return FALSE;
        }
      job->dst = dst->buffer;
      job->dst_x = de->x, job->dst_y = de->y;
      job->dst_fmt = gegl_buffer_get_format (dst->buffer);
      return TRUE;
    }
  if (dst->pixels == NULL || dst->format == NULL)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "no destination: a buffer, or pixels with their format, is required");
      return FALSE;
    }
  {
    const gsize bpp = (gsize) babl_format_get_bytes_per_pixel (dst->format);

    if (dst->rowstride / bpp < (gsize) job->roi.width)
      {
        g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                     "output rowstride %" G_GSIZE_FORMAT ": must be at least %d pixels of %"
                     G_GSIZE_FORMAT " bytes", dst->rowstride, job->roi.width, bpp);
        return FALSE;
      }
  }
  job->dst_pixels = dst->pixels;
  job->dst_rowstride = dst->rowstride;
  job->dst_fmt = dst->format;
  return TRUE;
}

/* Everything a band needs, from the options: formats, kernel, reduction, columns, bands. */
static gboolean
job_prepare (TconvPipelineJob *job, const TconvUpscaleOptions *options, GError **error)
{
  gint threads = options->threads;

  job->border = options->border;
  tconv_pipeline_choose_formats (job, options->linear);
  job->read_bytes = tconv_pipeline_native_bytes (job, job->src_fmt, job->src_fmt, options->linear);
  job->write_bytes = tconv_pipeline_native_bytes (job, job->dst_fmt, job->src_fmt, options->linear);
  if (options->linear)
    {
      tconv_pipeline_set_read_table (job);
      tconv_pipeline_set_write_table (job);
    }
  /* only when babl converts the output: making a fish can cost babl a search of its paths */
  if (job->write_bytes == 0 && job->write_fmt != job->dst_fmt)
    job->write_fish = babl_fish (job->write_fmt, job->dst_fmt);
  job->bank = options->bank;
  if (!(options->antiring >= 0.0 && options->antiring <= 1.0))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "anti-ringing %g: must be from 0 to 1", options->antiring);
      return FALSE;
    }
  job->antiring = (gfloat) options->antiring;
  if (job->bank != NULL)
    {
      if (!tconv_pipeline_bank_check (job->bank, options->kernel, error))
        return FALSE;
      job->bank_halo = tconv_bank_halo (&job->bank->classifier);
      tconv_pipeline_bank_plan (job);
    }
  if (!tconv_pipeline_set_kernel (job, options->kernel,
                                  options->normalize_phases && job->bank == NULL, error))
    return FALSE;
  job->resample = job->out_w != job->mid_w || job->out_h != job->mid_h;
  if (job->resample
      && (!tconv_pipeline_resampler_init (&job->rx, job->mid_w, job->out_w, job->border)
          || !tconv_pipeline_resampler_init (&job->ry, job->mid_h, job->out_h, job->border)))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   "out of memory for the resampling tables of %dx%d -> %dx%d", job->mid_w,
                   job->mid_h, job->out_w, job->out_h);
      return FALSE;
    }
  tconv_pipeline_set_region (job);
  if (threads == 0)
    g_object_get (gegl_config (), "threads", &threads, NULL);
  threads = CLAMP (threads, 1, TCONV_PIPELINE_MAX_THREADS);
  return tconv_pipeline_plan_bands (job, threads,
                                    options->memory_budget ? options->memory_budget
                                                           : DEFAULT_BUDGET,
                                    error);
}

static void
job_clear (TconvPipelineJob *job)
{
  g_free (job->weight);
  g_free (job->bias);
  g_free (job->col);
  g_free (job->bank_plan_mem);
  g_free (job->row);
  g_free (job->col_map);
  g_free (job->read_table);
  g_free (job->write_table);
  tconv_pipeline_fast8_clear (job);
  tconv_pipeline_resampler_clear (&job->rx);
  tconv_pipeline_resampler_clear (&job->ry);
  g_mutex_clear (&job->lock);
  g_clear_error (&job->error);
}

/* ---------------------------------------------------------------------------------------------
 * Running: threads and progress
 */

static void
job_fail (TconvPipelineJob *job, GError *error)
{
  g_mutex_lock (&job->lock);
  if (job->error == NULL)
    job->error = error;
  else
    g_error_free (error);
  g_mutex_unlock (&job->lock);
  g_atomic_int_set (&job->stop, 1);
}

/* On the calling thread: reports the bands done, once per change; FALSE when asked to stop. */
static gboolean
job_report (TconvPipelineJob *job)
{
  const gint done = g_atomic_int_get (&job->done_bands);

  if (job->progress == NULL || done == job->reported || g_atomic_int_get (&job->stop))
    return TRUE;
  job->reported = done;
  if (job->progress ((gdouble) done / job->n_bands, job->progress_data))
    return TRUE;
  job_fail (job, g_error_new (TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_CANCELLED,
                              "cancelled at %d of %d bands", done, job->n_bands));
  return FALSE;
}

/* One of GEGL's threads (the calling thread among them): takes bands until none is left or
 * the job stops. Bands are handed out in any order; each is computed alike whoever takes it. */
static void
job_worker (gint i, gint n, gpointer data)
{
  TconvPipelineJob    *job = data;
  TconvPipelineScratch s;
  const gboolean       caller = g_thread_self () == job->caller;

  (void) i;
  g_atomic_int_set (&job->n_threads, n);
  if (!tconv_pipeline_scratch_alloc (job, &s))
    job_fail (job, g_error_new (TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                                "out of memory for the working buffers of a band of %d rows",
                                job->band_rows));
  while (!g_atomic_int_get (&job->stop))
    {
      gint band;

      if (caller && !job_report (job))
        break;
      band = g_atomic_int_add (&job->next_band, 1);
      if (band >= job->n_bands)
        break;
      tconv_pipeline_band (job, &s, band);
      g_atomic_int_inc (&job->done_bands);
    }
  tconv_pipeline_scratch_free (&s);
}

static void
job_profile (const TconvPipelineJob *job, gint64 t_start)
{
  g_printerr ("tconv-profile: pipeline %dx%d -> %dx%d (region %dx%d at %d,%d) C=%" G_GSIZE_FORMAT
              " %s, read %d/%d B, %d threads, %d bands of %d rows: %.3f s wall; thread CPU s: "
              "read %.6f (compute includes it) compute %.6f narrow %.6f write %.6f\n",
              job->in_w, job->in_h, job->out_w, job->out_h, job->roi.width, job->roi.height,
              job->roi.x, job->roi.y, job->C, job->fast8 != NULL ? "8-bit path" : "float path",
              (gint) job->read_bytes, (gint) job->write_bytes, job->n_threads, job->n_bands,
              job->band_rows, (g_get_monotonic_time () - t_start) / 1e6, job->prof_us[0] / 1e6,
              job->prof_us[1] / 1e6, job->prof_us[2] / 1e6, job->prof_us[3] / 1e6);
}

/* Runs the bands on up to max_threads of GEGL's threads, then reports the end. */
static gboolean
job_run (TconvPipelineJob *job, GError **error)
{
  gegl_parallel_distribute (MAX (job->max_threads, 1), job_worker, job);
  if (job->error != NULL)
    {
      g_propagate_error (error, job->error);
      job->error = NULL;
      return FALSE;
    }
  /* a stop asked for at the very end still counts: nothing has been handed over yet, and
   * a job quicker than the reports between bands would otherwise never be cancelled */
  if (job->progress != NULL && job->reported != job->n_bands
      && !job->progress (1.0, job->progress_data))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_CANCELLED,
                   "cancelled at %d of %d bands", job->n_bands, job->n_bands);
      return FALSE;
    }
  return TRUE;
}

gboolean
tconv_pipeline_upscale_region (GeglBuffer *src, const TconvUpscaleOptions *options,
                               const GeglRectangle *roi, const TconvPipelineDest *dst,
                               GError **error)
{
  TconvPipelineJob     job;
  const GeglRectangle *se;
  gboolean             ok = FALSE;
  const gint64         t_start = g_get_monotonic_time ();

  g_return_val_if_fail (GEGL_IS_BUFFER (src) && options != NULL && dst != NULL, FALSE);

  memset (&job, 0, sizeof job);
  g_mutex_init (&job.lock);
  job.profile = tconv_pipeline_profile_enabled ();
  job.caller = g_thread_self ();
  job.progress = options->progress, job.progress_data = options->progress_data;
  job.reported = -1;
  se = gegl_buffer_get_extent (src);
  job.src = src, job.src_fmt = gegl_buffer_get_format (src);
  job.src_x = se->x, job.src_y = se->y, job.in_w = se->width, job.in_h = se->height;

  if (check_options (options, error)
      && tconv_pipeline_output_size (options, se->width, se->height, &job.out_w, &job.out_h,
                                     error)
      && set_destination (&job, roi, dst, error) && job_prepare (&job, options, error))
    {
      ok = job_run (&job, error);
      if (ok && job.profile)
        job_profile (&job, t_start);
    }
  job_clear (&job);
  return ok;
}

gboolean
tconv_pipeline_upscale (GeglBuffer *src, GeglBuffer *dst, const TconvUpscaleOptions *options,
                        GError **error)
{
  const TconvPipelineDest d = { .buffer = dst };

  g_return_val_if_fail (GEGL_IS_BUFFER (dst), FALSE);
  return tconv_pipeline_upscale_region (src, options, NULL, &d, error);
}
