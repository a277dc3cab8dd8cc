/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernel preparation for the pipeline: the checks that name the bad value, the optional
 * phase normalisation, the geometry of the stride x image, and the weights in the form the
 * core runs (depthwise, one kernel per channel, or two 1-D factors). Nothing here reads
 * pixels. */
#include "tconv-pipeline-private.h"

#include <string.h>

/* The kernel is valid, fits the image's channels, and enlarges by exactly its stride. */
static gboolean
check_kernel (const TconvPipelineJob *job, const tconv_kernel *k, GError **error)
{
  tconv_error err = { 0 };
  gboolean    h;

  if (tconv_kernel_validate (k, &err) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID, "kernel '%s': %s",
                   k->name ? k->name : "?", err.message);
      return FALSE;
    }
  if (k->channels != 1 && k->channels != job->C)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s' has %" G_GSIZE_FORMAT " per-channel kernels: the image has "
                   "%" G_GSIZE_FORMAT " channels (%s), so it needs 1 or %" G_GSIZE_FORMAT,
                   k->name, (gsize) k->channels, job->C, babl_get_name (job->read_fmt), job->C);
      return FALSE;
    }
  h = k->k_h + k->opad_h != 2 * k->pad_h + k->stride_h;
  if (h || k->k_w + k->opad_w != 2 * k->pad_w + k->stride_w)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s': k_%s %" G_GSIZE_FORMAT " + output_padding %" G_GSIZE_FORMAT
                   " - 2 * padding %" G_GSIZE_FORMAT " must equal the stride %" G_GSIZE_FORMAT
                   " for an exact stride x up-sample",
                   k->name, h ? "h" : "w", h ? (gsize) k->k_h : (gsize) k->k_w,
                   h ? (gsize) k->opad_h : (gsize) k->opad_w, h ? (gsize) k->pad_h : (gsize) k->pad_w,
                   h ? (gsize) k->stride_h : (gsize) k->stride_w);
      return FALSE;
    }
  return TRUE;
}

/* A phase-normalised copy of @k in *@copy (free with tconv_kernel_free()). */
static gboolean
normalized_copy (const tconv_kernel *k, tconv_kernel **copy, GError **error)
{
  tconv_error  err = { 0 };
  tconv_status st;

  if ((st = tconv_kernel_copy (k, copy, NULL)) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED, "kernel '%s': %s",
                   k->name, tconv_status_string (st));
      return FALSE;
    }
  if (tconv_kernel_normalize_phases (*copy, &err) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s': cannot normalise its phases: %s", k->name, err.message);
      g_clear_pointer (copy, tconv_kernel_free);
      return FALSE;
    }
  return TRUE;
}

/* The depthwise geometry of @k on the image: the stride x image is mid_w x mid_h. */
static gboolean
set_geometry (TconvPipelineJob *job, const tconv_kernel *k, GError **error)
{
  tconv_error  err = { 0 };
  tconv_params p;
  tconv_status st;

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = (gint64) job->C;
  p.in_h = job->in_h;
  p.in_w = job->in_w;
  p.k_h = (gint64) k->k_h;
  p.k_w = (gint64) k->k_w;
  p.stride_h = (gint64) k->stride_h;
  p.stride_w = (gint64) k->stride_w;
  p.pad_h = (gint64) k->pad_h;
  p.pad_w = (gint64) k->pad_w;
  p.opad_h = (gint64) k->opad_h;
  p.opad_w = (gint64) k->opad_w;
  if ((st = tconv_geometry_init (&job->geom, &p, &err)) != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR,
                   st == TCONV_ERR_TOO_LARGE ? TCONV_PIPELINE_ERROR_TOO_LARGE
                                             : TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s' on a %dx%d image: %s", k->name, job->in_w, job->in_h, err.message);
      return FALSE;
    }
  job->mid_w = (gint) job->geom.out_w;
  job->mid_h = (gint) job->geom.out_h;
  return TRUE;
}

/* Depthwise weights (C, 1, k_h, k_w) and bias: a shared kernel is replicated to every
 * channel. */
static void
set_weights (TconvPipelineJob *job, const tconv_kernel *k)
{
  const gsize C = job->C, kk = k->k_h * k->k_w;

  job->weight = g_new (gfloat, C * kk);
  for (gsize c = 0; c < C; c++)
    memcpy (job->weight + c * kk, k->weights + (k->channels == 1 ? 0 : c) * kk,
            kk * sizeof (gfloat));
  if (k->bias != NULL)
    {
      job->bias = g_new (gfloat, C);
      for (gsize c = 0; c < C; c++)
        job->bias[c] = k->bias[k->channels == 1 ? 0 : c];
    }
}

/* Rank-1 kernels run as two 1-D passes when that saves work: (K/s)^2 multiply-adds per
 * output against about (K/s)(1 + 1/s). The 2-D path is vectorised across phases and
 * channels and the 1-D passes are not, so the 2-D path stays faster up to K = 4s (bicubic
 * x2, K = 8: 2-D 10-20 % faster; lanczos3 x2, K = 12: 1-D 30 % faster). */
static void
set_factors (TconvPipelineJob *job, const tconv_kernel *k)
{
  const gsize C = job->C;
  gfloat     *col, *row;
  int         separable = 0;

  if (k->k_h <= 4 * k->stride_h || k->k_w <= 4 * k->stride_w || job->bank != NULL)
    return;
  col = g_new (gfloat, k->channels * k->k_h);
  row = g_new (gfloat, k->channels * k->k_w);
  if (tconv_kernel_factor (k, 1e-6, col, row, &separable, NULL) == TCONV_OK && separable)
    {
      job->col = g_new (gfloat, C * k->k_h);
      job->row = g_new (gfloat, C * k->k_w);
      for (gsize c = 0; c < C; c++)
        {
          const gsize kc = k->channels == 1 ? 0 : c;
          memcpy (job->col + c * k->k_h, col + kc * k->k_h, k->k_h * sizeof (gfloat));
          memcpy (job->row + c * k->k_w, row + kc * k->k_w, k->k_w * sizeof (gfloat));
        }
    }
  g_free (col);
  g_free (row);
}

/* Checks @k against the image (job->C, in_w, in_h) and prepares what the bands run. */
gboolean
tconv_pipeline_set_kernel (TconvPipelineJob *job, const tconv_kernel *k, gboolean normalize,
                           GError **error)
{
  tconv_kernel *copy = NULL;
  gboolean      ok;

  if (!check_kernel (job, k, error))
    return FALSE;
  if (normalize)
    {
      if (!normalized_copy (k, &copy, error))
        return FALSE;
      k = copy;
    }
  ok = set_geometry (job, k, error);
  if (ok)
    {
      set_weights (job, k);
      set_factors (job, k);
    }
  tconv_kernel_free (copy);
  return ok;
}
