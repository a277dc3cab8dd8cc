/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv learn: least-squares kernels from high-resolution images. Each image is cropped to
 * a multiple of the stride, reduced by one or more degradations (as 8-bit images would be,
 * unless --no-quantize), and every (low, high) pair of BT.601 luma planes is added to the
 * normal equations of the core learner (core/tconv-lsq.c). The file records its data,
 * degradation and command, and is the same byte for byte on every run with the same
 * arguments: fixed file order, no threads in the learner, double accumulation. The per-image
 * step (crop, degrade, luma) is the core's tconv_learn_add_image(), which "--kernel self"
 * and the GIMP plug-in share (core/tconv-selflearn.c). */
#include "tconv-cli.h"
#include "tconv-bank.h"
#include "tconv-lsq.h"
#include "tconv-selflearn.h"
#include "tconv-pipeline-learn.h"

#include <gegl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* --weighting per-image: reweighting passes (one is converged to 0.01 dB on the validation
 * photographs; tconv_lsq_solve_balanced()). */
#define BALANCE_PASSES 3

typedef struct
{
  gint64            stride, size;
  tconv_degradation degr[TCONV_DEGRADE_COUNT];
  gsize             n_degr;
  gdouble           sigma;
  gboolean          quantize;
  gboolean          per_image; /* --weighting per-image */
  gboolean          shifts;    /* --shifts: every crop offset, not only the top-left one */
} LearnSetup;

/* ---- images ---- */

/* Decodes a probed image through tconv-image.c: the loader follows the file's first bytes,
 * not its name, JPEGs are checked complete first, and a loader's warning (truncated or corrupt
 * data, which GEGL still delivers, padded) is an error: such an image must not be trained on. */
static gboolean
load_rgb (CliSource *src, float **rgb, gsize *width, gsize *height, GError **error)
{
  GeglBuffer *buffer;
  gchar      *what;
  gboolean    ok;

  if (!cli_source_open (src, error))
    return FALSE;
  buffer = cli_source_read (src, error);
  cli_source_clear (src);
  if (buffer == NULL)
    return FALSE;
  what = g_strdup_printf ("image '%s'", src->path);
  ok = tconv_pipeline_buffer_rgb (buffer, what, rgb, width, height, error);
  cli_error_from_pipeline (error != NULL ? *error : NULL);
  g_free (what);
  g_object_unref (buffer);
  return ok;
}

/* Adds the pairs of one image (tconv_learn_add_image()): its top-left crop to a multiple of
 * @s, reduced by each degradation. @rgb is @w x @h with rows of @row floats. */
static gboolean
add_image (tconv_lsq *lsq, const LearnSetup *setup, const float *rgb, gsize w, gsize h,
           gsize row, const char *what, GError **error)
{
  const gsize  s = (gsize) setup->stride;
  tconv_error  err = { 0 };

  if (w / s == 0 || h / s == 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "%s is %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT ": smaller than the stride %"
                   G_GSIZE_FORMAT, what, w, h, s);
      return FALSE;
    }
  if (tconv_learn_add_image (lsq, rgb, w, h, row, (unsigned) s, setup->degr, setup->n_degr,
                             setup->sigma, setup->quantize, &err)
      != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s: %s", what, err.message);
      return FALSE;
    }
  return TRUE;
}

/* --shifts: the image at each of the s x s crop offsets (dx, dy), so that every pixel is at
 * every position of its low-resolution block once: s^2 different low-resolution images of
 * the same photograph. Offsets that leave less than one block are skipped. */
static gboolean
add_image_shifts (tconv_lsq *lsq, const LearnSetup *setup, const float *rgb, gsize w, gsize h,
                  gsize row, const char *what, GError **error)
{
  const gsize s = (gsize) setup->stride, n = setup->shifts ? s : 1;

  for (gsize dy = 0; dy < n; dy++)
    for (gsize dx = 0; dx < n; dx++)
      {
        if ((dx > 0 || dy > 0) && (w - dx < s || h - dy < s))
          continue;
        if (!add_image (lsq, setup, rgb + dy * row + dx * 3, w - dx, h - dy, row, what, error))
          return FALSE;
      }
  return TRUE;
}

/* Centred geometry: pad = ceil ((k - s) / 2), output padding s + 2 pad - k (0 or 1). */
static gsize
centred_pad (gsize k, gsize s)
{
  return k >= s ? (k - s + 1) / 2 : 0;
}

static gboolean
new_learner (gsize s, gsize k, tconv_lsq **lsq, GError **error)
{
  tconv_error err = { 0 };

  if (tconv_lsq_new (s, s, k, k, centred_pad (k, s), centred_pad (k, s), lsq, &err) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--size %" G_GSIZE_FORMAT
                   " --stride %" G_GSIZE_FORMAT ": %s", k, s, err.message);
      return FALSE;
    }
  return TRUE;
}

/* Solves the pooled statistics @lsq, or with @parts (one accumulator per image) weights
 * each image by its own error (tconv_lsq_solve_balanced()). */
static gboolean
solve (const tconv_lsq *lsq, tconv_lsq *const *parts, gsize n_parts,
       const tconv_lsq_options *opt, tconv_kernel **kernel, tconv_lsq_stats *stats,
       GError **error)
{
  tconv_error  err = { 0 };
  tconv_status st = parts != NULL
                      ? tconv_lsq_solve_balanced ((const tconv_lsq *const *) parts, n_parts,
                                                  BALANCE_PASSES, opt, kernel, stats, &err)
                      : tconv_lsq_solve (lsq, opt, kernel, stats, &err);

  if (st != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s",
                   tconv_pipeline_status_message (st, &err));
      return FALSE;
    }
  return TRUE;
}

/* PSNR on BT.601 Y (16..235 for 0..1 luma), as the benchmark scores it. */
static double
psnr_y (double mse)
{
  const double k = 219.0 / 255.0;
  return mse > 0.0 ? 10.0 * log10 (1.0 / (mse * k * k)) : INFINITY;
}

/* ---- the command ---- */

typedef struct
{
  gchar   *output, *degradation, *symmetry, *name, *description;
  gint     stride, size;
  gdouble  ridge, sigma;
  gboolean no_normalize, no_quantize, shifts, quiet;
  gchar   *weighting;
  gchar  **images;
  /* --bank */
  gboolean bank;
  gchar   *classes;
  gint     radius;
  gint64   min_samples;
  gdouble  window_sigma;
  gdouble  class_ridge;
  gboolean class_ridge_given; /* NaN from the user is an error, not the default */
} LearnOptions;

static gboolean
parse_degradations (const char *text, LearnSetup *setup, GError **error)
{
  gchar  **parts;
  gboolean ok = TRUE;

  if (text == NULL || strcmp (text, "bicubic") == 0)
    text = "bicubic";
  if (strcmp (text, "mix") == 0)
    text = "bicubic+area+gauss";
  parts = g_strsplit (text, "+", -1);
  setup->n_degr = 0;
  for (gchar **p = parts; ok && *p != NULL; p++)
    {
      tconv_degradation d;
      if (tconv_degradation_from_name (*p, &d, NULL) != TCONV_OK)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                       "--degradation '%s': '%s' is not one of bicubic, area, gauss (join them "
                       "with '+', or use mix for all three)",
                       text, *p);
          ok = FALSE;
        }
      else
        for (gsize i = 0; ok && i < setup->n_degr; i++)
          if (setup->degr[i] == d)
            {
              g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                           "--degradation '%s': '%s' appears twice", text, *p);
              ok = FALSE;
            }
      if (ok)
        setup->degr[setup->n_degr++] = d;
    }
  if (ok && setup->n_degr == 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--degradation '': empty");
      ok = FALSE;
    }
  g_strfreev (parts);
  return ok;
}

static gboolean
parse_symmetry (const char *text, unsigned *flags, GError **error)
{
  if (text == NULL || strcmp (text, "dihedral") == 0)
    *flags = TCONV_LSQ_SYM_DIHEDRAL;
  else if (strcmp (text, "none") == 0)
    *flags = 0;
  else if (strcmp (text, "flips") == 0)
    *flags = TCONV_LSQ_SYM_FLIP_X | TCONV_LSQ_SYM_FLIP_Y;
  else
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--symmetry '%s': must be none, flips or dihedral", text);
      return FALSE;
    }
  return TRUE;
}

/* --bank: the bank's options, checked; sets --size to S (2 R + 1) and the default ridge. */
static gboolean
bank_options (LearnOptions *o, GError **error)
{
  guint a = 24, b = 3, c = 3;
  char  tail;

  if (o->stride < 2 || o->stride > 8)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--bank --stride %d: must be 2..8",
                   o->stride);
      return FALSE;
    }
  if (o->classes != NULL
      && (sscanf (o->classes, "%ux%ux%u%c", &a, &b, &c, &tail) != 3 || a < 1 || b < 1 || c < 1
          || a > TCONV_BANK_MAX_BINS || b > TCONV_BANK_MAX_BINS || c > TCONV_BANK_MAX_BINS
          || a * b * c > TCONV_BANK_MAX_CLASSES))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--classes '%s': expected AxSxQ, each 1..%u, at most %u classes in all",
                   o->classes, TCONV_BANK_MAX_BINS, TCONV_BANK_MAX_CLASSES);
      return FALSE;
    }
  if (o->classes == NULL)
    o->classes = g_strdup ("24x3x3");
  if (o->radius == 0)
    o->radius = 3;
  if (o->radius < 1 || o->radius > 8)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--radius %d: must be 1..8", o->radius);
      return FALSE;
    }
  if (o->min_samples < 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--min-samples %" G_GINT64_FORMAT
                   ": must be >= 0", o->min_samples);
      return FALSE;
    }
  if (!(o->window_sigma > 0.0 && o->window_sigma <= TCONV_BANK_MAX_SIGMA))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--window-sigma %g: must be in (0, %g]",
                   o->window_sigma, TCONV_BANK_MAX_SIGMA);
      return FALSE;
    }
  if (o->weighting != NULL && strcmp (o->weighting, "pooled") != 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--bank: --weighting must be pooled");
      return FALSE;
    }
  if (o->ridge != 0.0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--bank: use --class-ridge, not --ridge");
      return FALSE;
    }
  if (isnan (o->class_ridge) && !o->class_ridge_given)
    o->class_ridge = o->stride == 2 ? 30.0 : 100.0;
  if (!(o->class_ridge >= 0.0 && isfinite (o->class_ridge)))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--class-ridge %g: must be finite and >= 0",
                   o->class_ridge);
      return FALSE;
    }
  if (o->size != 0 && o->size != o->stride * (2 * o->radius + 1))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--bank --size %d: must be S (2 R + 1) = %d (or left out)", o->size,
                   o->stride * (2 * o->radius + 1));
      return FALSE;
    }
  o->size = o->stride * (2 * o->radius + 1);
  return TRUE;
}

static gboolean
parse_options (int argc, char **argv, LearnOptions *o, GError **error)
{
  GOptionEntry entries[] = {
    { "stride", 's', 0, G_OPTION_ARG_INT, &o->stride, "Up-sampling factor, 1..64 (required)", "S" },
    { "size", 'k', 0, G_OPTION_ARG_INT, &o->size, "Kernel side in taps (required; 4S..6S is useful)", "K" },
    { "degradation", 'd', 0, G_OPTION_ARG_STRING, &o->degradation,
      "How low-resolution inputs are made: bicubic (default), area, gauss, mix, or a '+' list", "D" },
    { "sigma", 0, 0, G_OPTION_ARG_DOUBLE, &o->sigma,
      "Gaussian degradation: sigma in low-resolution pixels (default 0.5)", "SIGMA" },
    { "ridge", 'r', 0, G_OPTION_ARG_DOUBLE, &o->ridge,
      "Ridge, relative to the mean diagonal of the normal equations (default 0)", "R" },
    { "no-normalize", 0, 0, G_OPTION_ARG_NONE, &o->no_normalize,
      "Do not constrain each phase to sum to 1", NULL },
    { "symmetry", 0, 0, G_OPTION_ARG_STRING, &o->symmetry,
      "none, flips or dihedral (default: flips and transposes)", "SYM" },
    { "weighting", 0, 0, G_OPTION_ARG_STRING, &o->weighting,
      "pooled (default: every pixel counts the same) or per-image (every image by its own "
      "relative error: the mean PSNR over the images is maximised)", "W" },
    { "shifts", 0, 0, G_OPTION_ARG_NONE, &o->shifts,
      "Train on every one of the S x S crop offsets of each image, not only the top-left one", NULL },
    { "no-quantize", 0, 0, G_OPTION_ARG_NONE, &o->no_quantize,
      "Keep low-resolution inputs in float instead of rounding them to 8 bits", NULL },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &o->name, "Kernel name (default: from the output file)", "NAME" },
    { "description", 0, 0, G_OPTION_ARG_STRING, &o->description, "One-line description", "TEXT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output, "The .tconv file to write (required)", "FILE.tconv" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "No progress bar", NULL },
    { "bank", 0, 0, G_OPTION_ARG_NONE, &o->bank,
      "Learn a kernel bank (adaptive: one kernel per class of local structure) instead of one "
      "kernel; --size is then S (2 R + 1)", NULL },
    { "classes", 0, 0, G_OPTION_ARG_STRING, &o->classes,
      "--bank: angle x strength x coherence bins (default 24x3x3)", "AxSxQ" },
    { "radius", 0, 0, G_OPTION_ARG_INT, &o->radius,
      "--bank: low-resolution window radius R, 1..8 (default 3: 7x7 pixels)", "R" },
    { "min-samples", 0, 0, G_OPTION_ARG_INT64, &o->min_samples,
      "--bank: classes with fewer sample windows take the global kernel (default 1000)", "N" },
    { "class-ridge", 0, 0, G_OPTION_ARG_DOUBLE, &o->class_ridge,
      "--bank: ridge n0 towards the global filter, times each class's sample variance "
      "(default 30 at x2, 100 above)", "N0" },
    { "window-sigma", 0, 0, G_OPTION_ARG_DOUBLE, &o->window_sigma,
      "--bank: Gaussian window of the structure tensor, low-resolution pixels (default 2)", "SIGMA" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->images, NULL, "IMAGES..." },
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new ("IMAGES... - learn an up-sampling kernel");
  gboolean        ok;

  o->sigma = NAN;
  o->min_samples = 1000;
  o->window_sigma = 2.0;
  o->class_ridge = NAN; /* --bank: default by stride */
  for (int i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    if (strcmp (argv[i], "--class-ridge") == 0 || g_str_has_prefix (argv[i], "--class-ridge="))
      o->class_ridge_given = TRUE;
  g_option_context_set_summary (
    ctx, "Learns the S-times up-sampling kernel (K x K taps, one kernel for R, G and B) that "
         "best restores the images from\nlow-resolution copies of them, by least squares on "
         "BT.601 luma, one system per output phase.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, &argc, &argv, error);
  g_option_context_free (ctx);
  if (!ok)
    {
      (*error)->domain = CLI_ERROR, (*error)->code = CLI_EXIT_USAGE;
      return FALSE;
    }
  if (o->stride < 1 || o->stride > (gint) TCONV_MAX_STRIDE)
    {
      if (o->stride == 0)
        g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--stride is required (1..%u)",
                     TCONV_MAX_STRIDE);
      else
        g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--stride %d: must be 1..%u",
                     o->stride, TCONV_MAX_STRIDE);
      return FALSE;
    }
  if (o->bank && !bank_options (o, error))
    return FALSE;
  if (o->size < 1 || o->size > (gint) TCONV_MAX_KERNEL_SIDE)
    {
      if (o->size == 0)
        g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--size is required (e.g. %d)",
                     6 * o->stride);
      else
        g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--size %d: must be 1..%u",
                     o->size, TCONV_MAX_KERNEL_SIDE);
      return FALSE;
    }
  if (!(o->ridge >= 0.0) || !isfinite (o->ridge))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--ridge %g: must be >= 0", o->ridge);
      return FALSE;
    }
  if (o->output == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "-o FILE.tconv is required");
      return FALSE;
    }
  if (o->images == NULL || o->images[0] == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "no training images given");
      return FALSE;
    }
  return TRUE;
}

static void
progress (const LearnOptions *o, double fraction, const char *what)
{
  static gboolean tty = -1;
  const int       width = 30;
  int             n = (int) (fraction * width + 0.5);

  if (tty == -1)
    tty = isatty (STDERR_FILENO);
  if (o->quiet || !tty)
    return;
  fprintf (stderr, "\r[%.*s%*s] %3d%% %-40.40s", n, "##############################",
           width - n, "", (int) (fraction * 100.0 + 0.5), what);
  if (fraction >= 1.0)
    fputs ("\n", stderr);
  fflush (stderr);
}

static gchar *
file_sha256 (const char *path, GError **error)
{
  gchar *bytes = NULL, *sum;
  gsize  len = 0;

  if (!cli_read_file (path, (gsize) 1 << 31, &bytes, &len, error))
    return NULL;
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) bytes, len);
  g_free (bytes);
  return sum;
}

/* [a-z0-9._-]+ from the output's base name without .tconv, or NULL. */
static gchar *
name_from_output (const char *path)
{
  gchar *base = g_path_get_basename (path);

  if (g_str_has_suffix (base, ".tconv"))
    base[strlen (base) - 6] = '\0';
  for (const char *c = base; *c; c++)
    if (!(g_ascii_islower (*c) || g_ascii_isdigit (*c) || *c == '.' || *c == '_' || *c == '-'))
      {
        g_free (base);
        return NULL;
      }
  if (*base == '\0' || strlen (base) > TCONV_KERNEL_NAME_MAX)
    {
      g_free (base);
      return NULL;
    }
  return base;
}

/* The provenance strings. Base names only, so that the file does not depend on where the
 * data or the output live (the shipped presets are reproduced byte for byte in CI). */
static gboolean
set_provenance (tconv_kernel *k, const LearnOptions *o, const LearnSetup *setup,
                unsigned symmetry, GError **error)
{
  GString *src = g_string_new (NULL), *cmd = g_string_new ("tconv learn"), *deg = g_string_new (NULL);
  gsize    n = g_strv_length (o->images);
  gboolean ok = TRUE;

  g_string_append_printf (src, "%" G_GSIZE_FORMAT " image%s, BT.601 luma, %s crop to a "
                          "multiple of %" G_GINT64_FORMAT ":",
                          n, n == 1 ? "" : "s",
                          setup->shifts ? "every offset's" : "top-left", setup->stride);
  for (gsize i = 0; ok && i < n; i++)
    {
      gchar *base = g_path_get_basename (o->images[i]);
      gchar *sum = file_sha256 (o->images[i], error);

      if (sum == NULL)
        ok = FALSE;
      else if (src->len + strlen (base) + 40 < TCONV_KERNEL_TEXT_MAX - 64)
        g_string_append_printf (src, " %s (sha256 %.16s)", base, sum);
      else if (i + 1 == n || src->len < TCONV_KERNEL_TEXT_MAX - 64)
        {
          g_string_append_printf (src, " and %" G_GSIZE_FORMAT " more", n - i);
          break;
        }
      g_free (base), g_free (sum);
    }

  for (gsize d = 0; d < setup->n_degr; d++)
    {
      const tconv_degradation t = setup->degr[d];
      if (d > 0)
        g_string_append (deg, " + ");
      if (t == TCONV_DEGRADE_BICUBIC)
        g_string_append (deg, "bicubic (MATLAB imresize, antialiased)");
      else if (t == TCONV_DEGRADE_AREA)
        g_string_append (deg, "area (mean of each block)");
      else
        g_string_append_printf (deg, "gauss (sigma %g low-resolution pixels, sampled at block "
                                "centres)",
                                setup->sigma == 0.0 ? TCONV_DEGRADE_GAUSS_SIGMA : setup->sigma);
    }
  g_string_append_printf (deg, ", x1/%" G_GINT64_FORMAT "%s", setup->stride,
                          setup->quantize ? ", rounded to 8 bits" : ", float");

  if (o->bank)
    g_string_append_printf (cmd, " --bank --stride %d --classes %s --radius %d --class-ridge %g "
                            "--min-samples %" G_GINT64_FORMAT " --window-sigma %g", o->stride,
                            o->classes, o->radius, o->class_ridge, o->min_samples,
                            o->window_sigma);
  else
    g_string_append_printf (cmd, " --stride %d --size %d", o->stride, o->size);
  if (o->degradation != NULL)
    g_string_append_printf (cmd, " --degradation %s", o->degradation);
  if (!isnan (o->sigma))
    g_string_append_printf (cmd, " --sigma %g", o->sigma);
  if (o->ridge > 0.0)
    g_string_append_printf (cmd, " --ridge %g", o->ridge);
  if (o->no_normalize)
    g_string_append (cmd, " --no-normalize");
  g_string_append_printf (cmd, " --symmetry %s",
                          symmetry == 0 ? "none"
                          : symmetry == TCONV_LSQ_SYM_DIHEDRAL ? "dihedral" : "flips");
  if (o->no_quantize)
    g_string_append (cmd, " --no-quantize");
  if (setup->per_image)
    g_string_append (cmd, " --weighting per-image");
  if (setup->shifts)
    g_string_append (cmd, " --shifts");
  {
    gchar *out = g_path_get_basename (o->output);
    g_string_append_printf (cmd, " -o %s", out);
    g_free (out);
  }
  g_string_append_printf (cmd, " IMAGES (the %" G_GSIZE_FORMAT " file%s of source)", n,
                          n == 1 ? "" : "s");

  if (ok)
    ok = tconv_kernel_set_string (&k->source, src->str) == TCONV_OK
         && tconv_kernel_set_string (&k->degradation, deg->str) == TCONV_OK
         && tconv_kernel_set_string (&k->command, cmd->str) == TCONV_OK;
  if (!ok && error != NULL && *error == NULL)
    g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "out of memory");
  g_string_free (src, TRUE), g_string_free (cmd, TRUE), g_string_free (deg, TRUE);
  return ok;
}

/* The setup, symmetry and kernel name from the options, and the output's folder checked:
 * everything that needs no image, before minutes of training. */
static gboolean
learn_setup (const LearnOptions *o, LearnSetup *setup, unsigned *symmetry, gchar **name,
             GError **error)
{
  setup->stride = o->stride;
  setup->size = o->size;
  setup->sigma = isnan (o->sigma) ? 0.0 : o->sigma;
  setup->quantize = !o->no_quantize;
  setup->shifts = o->shifts;
  if (!parse_degradations (o->degradation, setup, error)
      || !parse_symmetry (o->symmetry, symmetry, error))
    return FALSE;
  if (o->weighting != NULL && strcmp (o->weighting, "per-image") == 0)
    setup->per_image = TRUE;
  else if (o->weighting != NULL && strcmp (o->weighting, "pooled") != 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--weighting '%s': expected pooled or per-image", o->weighting);
      return FALSE;
    }
  if (!isnan (o->sigma))
    {
      gsize       len;
      tconv_error err = { 0 };
      if (tconv_degrade_work_len (TCONV_DEGRADE_GAUSS, 2, o->sigma, 8, 8, &len, &err) != TCONV_OK
          || o->sigma == 0.0)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--sigma %g: must be > 0 and <= 16",
                       o->sigma);
          return FALSE;
        }
    }
  *name = o->name ? g_strdup (o->name) : name_from_output (o->output);
  if (*name == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "output '%s' does not give a kernel name ([a-z0-9._-]+): use --name", o->output);
      return FALSE;
    }
  {
    const char *const *inputs = (const char *const *) o->images;
    gchar             *dir = g_path_get_dirname (o->output);
    gboolean           dir_ok = g_file_test (dir, G_FILE_TEST_IS_DIR);

    /* before minutes of training, not after */
    if (!dir_ok)
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s': the folder '%s' does not exist", o->output, dir);
    g_free (dir);
    return dir_ok && cli_check_not_input (o->output, inputs, error);
  }
}

/* Decodes every probed image and adds its pairs to @lsq; with --weighting per-image also to
 * its own accumulator @each[i] (merged into @lsq, which still serves the bicubic figure). */
static gboolean
learn_accumulate (const LearnOptions *o, const LearnSetup *setup, CliSource *sources,
                  tconv_lsq *lsq, tconv_lsq **each, GError **error)
{
  const gsize n = g_strv_length (o->images);
  gboolean    ok = TRUE;

  for (gsize i = 0; ok && i < n; i++)
    {
      float *rgb = NULL;
      gsize  w, h;
      gchar *base = g_path_get_basename (o->images[i]);
      gchar *what = g_strdup_printf ("image '%s'", o->images[i]);

      progress (o, (double) i / (double) n, base);
      ok = load_rgb (&sources[i], &rgb, &w, &h, error)
           && (!setup->per_image
               || new_learner ((gsize) o->stride, (gsize) o->size, &each[i], error))
           && add_image_shifts (setup->per_image ? each[i] : lsq, setup, rgb, w, h, w * 3, what,
                                error);
      if (ok && setup->per_image)
        ok = tconv_lsq_merge (lsq, each[i], 1.0, NULL) == TCONV_OK;
      g_free (rgb), g_free (base), g_free (what);
    }
  if (ok)
    progress (o, 1.0, "solving");
  return ok;
}

/* Names and describes the solved kernel @k, records its provenance, checks it and writes it;
 * prints the training figures. */
static gboolean
learn_write (tconv_kernel *k, const LearnOptions *o, const LearnSetup *setup, unsigned symmetry,
             const char *name, const tconv_lsq_stats *stats, double mse_bicubic, GError **error)
{
  const gsize n = g_strv_length (o->images);
  tconv_error err = { 0 };
  gchar      *text;
  gboolean    ok;

  tconv_kernel_set_string (&k->name, name);
  if (o->description != NULL)
    text = g_strdup (o->description);
  else
    text = g_strdup_printf ("learned x%d up-sampling, %dx%d taps, least squares on %" G_GSIZE_FORMAT
                            " image%s (%s degradation)",
                            o->stride, o->size, o->size, n, n == 1 ? "" : "s",
                            o->degradation ? o->degradation : "bicubic");
  ok = tconv_kernel_set_string (&k->description, text) == TCONV_OK;
  g_free (text);
  if (!ok)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--description: not valid one-line UTF-8 text");
      return FALSE;
    }
  if (!set_provenance (k, o, setup, symmetry, error))
    return FALSE;
  if (mse_bicubic >= 0.0)
    text = g_strdup_printf ("training PSNR-Y %.2f dB on %" G_GUINT64_FORMAT " pixels (analytic "
                            "bicubic on the same pairs: %.2f dB)",
                            psnr_y (stats->mse), stats->samples, psnr_y (mse_bicubic));
  else
    text = g_strdup_printf ("training PSNR-Y %.2f dB on %" G_GUINT64_FORMAT " pixels",
                            psnr_y (stats->mse), stats->samples);
  tconv_kernel_set_string (&k->comments, text);
  if (tconv_kernel_validate (k, &err) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "%s", err.message);
      ok = FALSE;
    }
  ok = ok && cli_kernel_write (k, o->output, error);
  if (ok)
    printf ("%s: %s\n", o->output, text);
  g_free (text);
  return ok;
}

static gboolean
run_learn (LearnOptions *o, GError **error)
{
  LearnSetup        setup = { 0 };
  tconv_lsq        *lsq = NULL;
  tconv_kernel     *k = NULL, *bicubic = NULL;
  tconv_lsq_options opt;
  tconv_lsq_stats   stats;
  gchar            *name = NULL;
  gboolean          ok = FALSE;
  const gsize       n = g_strv_length (o->images);
  unsigned          symmetry = 0;
  double            mse_bicubic = -1.0;
  gboolean          gegl_started = FALSE;
  CliSource      *sources = NULL;
  tconv_lsq       **each = NULL; /* per image, with --weighting per-image */

  if (!learn_setup (o, &setup, &symmetry, &name, error))
    goto out;
  /* every image readable and not empty before GEGL starts and training begins */
  sources = g_new0 (CliSource, n);
  for (gsize i = 0; i < n; i++)
    if (!cli_source_probe (&sources[i], "learn", o->images[i], error)
        || !cli_source_check (&sources[i], error))
      goto out;
  if (!new_learner ((gsize) o->stride, (gsize) o->size, &lsq, error))
    goto out;
  each = g_new0 (tconv_lsq *, n);

  /* GEGL only once every argument has been checked: its start-up takes a while */
  cli_gegl_start ();
  gegl_started = TRUE;
  if (!learn_accumulate (o, &setup, sources, lsq, each, error))
    goto out;

  tconv_lsq_options_init (&opt);
  opt.ridge = o->ridge;
  opt.normalize = !o->no_normalize;
  opt.symmetry = symmetry;
  if (!solve (lsq, setup.per_image ? each : NULL, n, &opt, &k, &stats, error))
    goto out;

  /* the analytic bicubic kernel on the same pairs, when it fits in the learned window */
  if (tconv_kernel_analytic (TCONV_ANALYTIC_BICUBIC, (size_t) o->stride, (size_t) o->stride,
                             &bicubic, NULL)
        == TCONV_OK
      && tconv_lsq_mse (lsq, bicubic, &mse_bicubic, NULL) != TCONV_OK)
    mse_bicubic = -1.0;
  ok = learn_write (k, o, &setup, symmetry, name, &stats, mse_bicubic, error);

out:
  tconv_kernel_free (k);
  tconv_kernel_free (bicubic);
  tconv_lsq_free (lsq);
  for (gsize i = 0; each != NULL && i < n; i++)
    tconv_lsq_free (each[i]);
  g_free (each);
  g_free (name);
  for (gsize i = 0; sources != NULL && i < n; i++)
    cli_source_clear (&sources[i]);
  g_free (sources);
  if (gegl_started)
    cli_gegl_stop ();
  return ok;
}

/* ---- --bank ---- */

typedef struct
{
  tconv_bank_classifier cls;
  GArray               *strength, *coherence;
  float                *work;
  gsize                 work_len;
} FeatureCollect;

/* Threshold pass: the strength and coherence of every classifiable low-resolution pixel. */
static tconv_status
collect_features (void *ctx, const tconv_plane *lr, const tconv_plane *hr, tconv_error *err)
{
  FeatureCollect *f = ctx;
  const gsize     halo = tconv_bank_halo (&f->cls);
  gsize           need, iw, ih;
  float          *st, *co;
  tconv_status    s;

  (void) hr;
  if (lr->h <= 2 * halo || lr->w <= 2 * halo)
    return TCONV_OK;
  if ((s = tconv_bank_work_len (&f->cls, lr->h, lr->w, &need, err)))
    return s;
  if (need > f->work_len)
    f->work = g_renew (float, f->work, need), f->work_len = need;
  ih = lr->h - 2 * halo, iw = lr->w - 2 * halo;
  st = g_new (float, ih * iw), co = g_new (float, ih * iw);
  /* tconv_learn_pairs() hands over contiguous planes */
  s = tconv_bank_features (&f->cls, lr->data, lr->h, lr->w, lr->y_stride, NULL, st, co,
                           (ptrdiff_t) iw, f->work, f->work_len, err);
  if (s == TCONV_OK)
    {
      g_array_append_vals (f->strength, st, ih * iw);
      g_array_append_vals (f->coherence, co, ih * iw);
    }
  g_free (st), g_free (co);
  return s;
}

typedef struct
{
  tconv_bank_lsq *lsq;
  int             dihedral;
} BankAdd;

static tconv_status
bank_add (void *ctx, const tconv_plane *lr, const tconv_plane *hr, tconv_error *err)
{
  BankAdd *b = ctx;
  return tconv_bank_lsq_add_pair (b->lsq, lr, hr, b->dihedral, err);
}

typedef struct
{
  float **rgb;
  gsize  *w, *h, n;
} Images;

/* The classifier: bins from --classes, thresholds at the training set's quantiles (top-left
 * crop of each image, first degradation: the distribution, not every copy). */
static gboolean
bank_classifier (const LearnOptions *o, const LearnSetup *setup, const Images *im,
                 tconv_bank_classifier *cls, GError **error)
{
  FeatureCollect f = { .strength = g_array_new (FALSE, FALSE, sizeof (float)),
                       .coherence = g_array_new (FALSE, FALSE, sizeof (float)) };
  tconv_error    err = { 0 };
  gboolean       ok = TRUE;
  guint          a, b, c;

  sscanf (o->classes, "%ux%ux%u", &a, &b, &c);
  *cls = (tconv_bank_classifier) { .angles = a, .strengths = b, .coherences = c,
                                   .sigma = (float) o->window_sigma };
  f.cls = *cls;
  f.cls.strengths = f.cls.coherences = 1;
  for (gsize i = 0; ok && i < im->n; i++)
    ok = tconv_learn_pairs (collect_features, &f, im->rgb[i], im->w[i], im->h[i], im->w[i] * 3,
                            (unsigned) o->stride, setup->degr, 1, setup->sigma,
                            setup->quantize, &err)
         == TCONV_OK;
  ok = ok && f.strength->len > 0
       && tconv_bank_quantiles ((float *) (void *) f.strength->data, f.strength->len, b,
                                cls->strength_thresholds, &err) == TCONV_OK
       && tconv_bank_quantiles ((float *) (void *) f.coherence->data, f.coherence->len, c,
                                cls->coherence_thresholds, &err) == TCONV_OK
       && tconv_bank_classifier_validate (cls, &err) == TCONV_OK;
  if (!ok)
    g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "bank thresholds: %s",
                 err.message[0] ? err.message : "the images are too small to classify");
  g_array_free (f.strength, TRUE), g_array_free (f.coherence, TRUE), g_free (f.work);
  return ok;
}

static gboolean
bank_accumulate (const LearnOptions *o, const LearnSetup *setup, unsigned symmetry,
                 const Images *im, tconv_bank_lsq *lsq, GError **error)
{
  const gsize s = (gsize) o->stride, n = setup->shifts ? s : 1;
  BankAdd     add = { lsq, symmetry == TCONV_LSQ_SYM_DIHEDRAL };
  tconv_error err = { 0 };

  for (gsize i = 0; i < im->n; i++)
    {
      gchar *base = g_path_get_basename (o->images[i]);
      progress (o, (double) i / (double) im->n, base);
      g_free (base);
      for (gsize dy = 0; dy < n; dy++)
        for (gsize dx = 0; dx < n; dx++)
          if (im->w[i] - dx >= s && im->h[i] - dy >= s
              && tconv_learn_pairs (bank_add, &add, im->rgb[i] + (dy * im->w[i] + dx) * 3,
                                    im->w[i] - dx, im->h[i] - dy, im->w[i] * 3, (unsigned) s,
                                    setup->degr, setup->n_degr, setup->sigma, setup->quantize,
                                    &err) != TCONV_OK)
            {
              g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "image '%s': %s", o->images[i],
                           err.message);
              return FALSE;
            }
    }
  progress (o, 1.0, "solving");
  return TRUE;
}

/* Training PSNR of the bank and of its global kernel, over all samples and per class
 * population (classes with at least 10^k samples). */
static gchar *
bank_figures (const tconv_bank *b, const tconv_bank_lsq_stats *st, const double *class_mse)
{
  GString *t = g_string_new (NULL);

  g_string_append_printf (t, "training PSNR-Y %.2f dB on %" G_GUINT64_FORMAT " windows (its "
                          "global kernel: %.2f dB); %zu of %zu classes fall back to the global "
                          "kernel", psnr_y (st->mse), st->samples, psnr_y (st->mse_global),
                          st->fallback, b->classes);
  for (int k = 2; k <= 6; k++)
    {
      double   e = 0.0, eg = 0.0;
      uint64_t n = 0;
      gsize    classes = 0;
      for (gsize c = 0; c < b->classes; c++)
        if (b->samples[c] >= (uint64_t) pow (10.0, k) && b->samples[c] < (uint64_t) pow (10.0, k + 1))
          {
            e += class_mse[2 * c] * (double) b->samples[c];
            eg += class_mse[2 * c + 1] * (double) b->samples[c];
            n += b->samples[c];
            classes++;
          }
      if (n > 0)
        g_string_append_printf (t, "\nclasses of 1e%d..1e%d windows: %zu, PSNR-Y %.2f dB (global "
                                "%.2f dB)", k, k + 1, classes, psnr_y (e / (double) n),
                                psnr_y (eg / (double) n));
    }
  return g_string_free (t, FALSE);
}

/* Names, describes and writes the solved bank; prints its figures. */
static gboolean
bank_finish (tconv_bank *b, const LearnOptions *o, const LearnSetup *setup, unsigned symmetry,
             const char *name, const tconv_bank_lsq_stats *st, const double *class_mse,
             GError **error)
{
  tconv_kernel *g = b->global;
  gchar        *text = o->description != NULL
                         ? g_strdup (o->description)
                         : g_strdup_printf ("adaptive x%d up-sampling: %s classes of local "
                                            "structure, %dx%d low-resolution window",
                                            o->stride, o->classes, 2 * o->radius + 1,
                                            2 * o->radius + 1);
  gboolean      ok = tconv_kernel_set_string (&g->name, name) == TCONV_OK
                     && tconv_kernel_set_string (&g->description, text) == TCONV_OK;

  g_free (text);
  if (!ok)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--description: not valid one-line UTF-8 text");
      return FALSE;
    }
  if (!set_provenance (g, o, setup, symmetry, error))
    return FALSE;
  text = bank_figures (b, st, class_mse);
  tconv_kernel_set_string (&g->comments, text);
  ok = cli_bank_write (b, o->output, error);
  if (ok)
    printf ("%s: %s\n", o->output, text);
  g_free (text);
  return ok;
}

static gboolean
run_learn_bank (LearnOptions *o, GError **error)
{
  LearnSetup            setup = { 0 };
  const gsize           n = g_strv_length (o->images);
  Images                im = { g_new0 (float *, n), g_new0 (gsize, n), g_new0 (gsize, n), n };
  CliSource            *sources = g_new0 (CliSource, n);
  tconv_bank_classifier cls;
  tconv_bank_lsq       *lsq = NULL;
  tconv_bank           *bank = NULL;
  tconv_bank_lsq_stats  st;
  tconv_error           err = { 0 };
  double               *class_mse = NULL;
  unsigned              symmetry = 0;
  gchar                *name = NULL;
  gboolean              ok = learn_setup (o, &setup, &symmetry, &name, error);

  for (gsize i = 0; ok && i < n; i++)
    ok = cli_source_probe (&sources[i], "learn", o->images[i], error)
         && cli_source_check (&sources[i], error);
  if (!ok)
    goto out;
  cli_gegl_start ();
  for (gsize i = 0; ok && i < n; i++)
    ok = load_rgb (&sources[i], &im.rgb[i], &im.w[i], &im.h[i], error);
  ok = ok && bank_classifier (o, &setup, &im, &cls, error);
  if (ok && tconv_bank_lsq_new (&cls, (size_t) o->stride, (size_t) o->radius, &lsq, &err))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", err.message);
      ok = FALSE;
    }
  ok = ok && bank_accumulate (o, &setup, symmetry, &im, lsq, error);
  if (ok)
    {
      class_mse = g_new (double, 2 * cls.angles * cls.strengths * cls.coherences);
      if (tconv_bank_lsq_solve (lsq, o->class_ridge, (uint64_t) o->min_samples, class_mse, &bank,
                                &st, &err) != TCONV_OK)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", err.message);
          ok = FALSE;
        }
    }
  ok = ok && bank_finish (bank, o, &setup, symmetry, name, &st, class_mse, error);
  cli_gegl_stop ();
out:
  for (gsize i = 0; i < n; i++)
    g_free (im.rgb[i]);
  g_free (im.rgb), g_free (im.w), g_free (im.h), g_free (name);
  for (gsize i = 0; sources != NULL && i < n; i++)
    cli_source_clear (&sources[i]);
  g_free (sources);
  g_free (class_mse);
  tconv_bank_lsq_free (lsq);
  tconv_bank_free (bank);
  return ok;
}

int
cli_cmd_learn (int argc, char **argv)
{
  LearnOptions o = { 0 };
  GError      *error = NULL;
  int          code = CLI_EXIT_OK;

  if (!parse_options (argc, argv, &o, &error)
      || !(o.bank ? run_learn_bank (&o, &error) : run_learn (&o, &error)))
    code = cli_report ("learn", error);
  g_free (o.output), g_free (o.degradation), g_free (o.symmetry), g_free (o.name);
  g_free (o.description), g_free (o.weighting), g_free (o.classes);
  g_strfreev (o.images);
  return code;
}
