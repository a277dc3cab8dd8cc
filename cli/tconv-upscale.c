/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv upscale: enlarges an image file with a transposed convolution, through the GEGL
 * pipeline. The input is recognised by its first bytes (never by its name), checked and sized
 * before any pixel is decoded (tconv-image.c); the output keeps the input's bit depth and channels, goes to a
 * temporary file renamed at the end, and never replaces the input. PNG to PNG streams in bands
 * (tconv-stream.c, docs/streaming.md); TCONV_NO_STREAM=1 forces the whole-image path (tests
 * compare the two). */
#define _POSIX_C_SOURCE 200809L
#include "tconv-cli.h"
#include "tconv-input.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gegl.h>
#include <operation/gegl-operation-handlers.h>

#include "tconv-pipeline.h"
#include "tconv-stream.h"

#define MAX_THREADS 64
/* zlib level of PNG output: gegl:png-save's default, a good speed/size balance for photographs */
#define PNG_LEVEL 3

typedef struct
{
  gchar   *input, *output, *kernel, *stride, *size, *scale, *border, *threads, *budget;
  gchar   *class_map, *antiring;
  gboolean linear, normalize_phases;
} UpscaleOptions;

/* ---------------------------------------------------------------------------------------------
 * Options
 */

static gboolean
parse_options (int argc, char **argv, UpscaleOptions *o, GError **error)
{
  GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &o->input, "Input image (PNG, JPEG, TIFF, WebP, ...)", "IN" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output, "Output image; the format follows the extension", "OUT" },
    { "kernel", 'k', 0, G_OPTION_ARG_STRING, &o->kernel, "Kernel name, self (learned from the input) or .tconv file (default: adaptive at x2-x4, else bicubic)", "NAME|FILE" },
    { "stride", 0, 0, G_OPTION_ARG_STRING, &o->stride, "Up-sampling factor of the kernel (default 2)", "S|SH,SW" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &o->size, "Exact output size", "WxH" },
    { "scale", 0, 0, G_OPTION_ARG_STRING, &o->scale, "Any scale factor, e.g. 1.5", "F" },
    { "border", 0, 0, G_OPTION_ARG_STRING, &o->border, "clamp (default), mirror, wrap or zero", "MODE" },
    { "linear", 0, 0, G_OPTION_ARG_NONE, &o->linear, "Convolve in linear light (default: perceptual values)", NULL },
    { "normalize-phases", 0, 0, G_OPTION_ARG_NONE, &o->normalize_phases, "Give every output phase the same DC gain", NULL },
    { "threads", 0, 0, G_OPTION_ARG_STRING, &o->threads, "Worker threads (default: GEGL's, one per core)", "N" },
    { "antiring", 0, 0, G_OPTION_ARG_STRING, &o->antiring, "Limit halos: pull each output value towards the range of the 2x2 input pixels around it, 0 (off) to 1 (default: 0.75 with kernel banks, 0 with single kernels)", "A" },
    { "class-map", 0, 0, G_OPTION_ARG_FILENAME, &o->class_map, "With a kernel bank: also write the class of every input pixel as a PNG (hue: angle, value: strength, saturation: coherence)", "FILE.png" },
    { "memory-budget", 0, 0, G_OPTION_ARG_STRING, &o->budget, "RAM plus swap the job may use (default: RAM + free disk for GEGL's swap)", "BYTES[K|M|G|T]" },
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new ("- enlarge an image by transposed convolution");
  gboolean        ok;

  g_option_context_set_summary (
    ctx, "Up-samples IN by the kernel's stride (or to --size / --scale) and writes OUT with the "
         "same bit depth and channels.\nKernels: nearest, bilinear, bicubic, mitchell, lanczos2, "
         "lanczos3, bspline, or a .tconv file.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, &argc, &argv, error);
  g_option_context_free (ctx);
  if (!ok)
    {
      (*error)->domain = CLI_ERROR, (*error)->code = CLI_EXIT_USAGE;
      return FALSE;
    }
  if (argc > 1)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "unexpected argument '%s'", argv[1]);
      return FALSE;
    }
  if (o->input == NULL || o->output == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "-i IN and -o OUT are required");
      return FALSE;
    }
  if (o->size != NULL && o->scale != NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--size %s and --scale %s: give one or the other", o->size, o->scale);
      return FALSE;
    }
  return TRUE;
}

/* "WxH", two integers 1..2^31-1. */
static gboolean
parse_size (const char *text, gint *w, gint *h, GError **error)
{
  gchar **parts = g_strsplit_set (text, "xX", -1);
  gint64  a = 0, b = 0;
  gboolean ok = g_strv_length (parts) == 2;

  if (!ok)
    g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                 "--size '%s': expected WxH, two positive integers such as 1920x1080", text);
  else
    ok = cli_parse_int ("--size width", parts[0], 1, G_MAXINT32, &a, error)
         && cli_parse_int ("--size height", parts[1], 1, G_MAXINT32, &b, error);
  g_strfreev (parts);
  *w = (gint) a, *h = (gint) b;
  return ok;
}

static gboolean
parse_scale (const char *text, gdouble *scale, GError **error)
{
  gchar  *end = NULL;
  gdouble v;

  errno = 0;
  v = g_ascii_strtod (text, &end);
  if (*text == '\0' || g_ascii_isspace (*text) || end == text || *end != '\0' || errno == ERANGE
      || !isfinite (v))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--scale '%s': expected a number such as 1.5", text);
      return FALSE;
    }
  if (!(v > 0.0) || v > TCONV_MAX_SIDE)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--scale %s: must be greater than 0 and at most %u", text, TCONV_MAX_SIDE);
      return FALSE;
    }
  *scale = v;
  return TRUE;
}

/* Bytes, with an optional binary suffix K, M, G or T (an optional trailing B or iB). */
static gboolean
parse_bytes (const char *option, const char *text, guint64 *bytes, GError **error)
{
  gchar  *end = NULL;
  guint64 v, mul = 1;

  errno = 0;
  if (*text == '\0' || !g_ascii_isdigit (*text))
    goto bad;
  v = g_ascii_strtoull (text, &end, 10);
  if (errno == ERANGE)
    goto bad;
  switch (g_ascii_toupper (*end))
    {
    case 'K': mul = (guint64) 1 << 10, end++; break;
    case 'M': mul = (guint64) 1 << 20, end++; break;
    case 'G': mul = (guint64) 1 << 30, end++; break;
    case 'T': mul = (guint64) 1 << 40, end++; break;
    default: break;
    }
  if (mul > 1 && *end == 'i')
    end++;
  if (*end == 'B')
    end++;
  if (*end != '\0')
    goto bad;
  if (v == 0 || v > G_MAXUINT64 / mul)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "%s '%s': must be from 1 byte to 16 EiB", option, text);
      return FALSE;
    }
  *bytes = v * mul;
  return TRUE;

bad:
  g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
               "%s '%s': expected a number of bytes such as 512M or 8G", option, text);
  return FALSE;
}

static gchar *
human_bytes (guint64 b)
{
  return g_format_size_full (b, G_FORMAT_SIZE_IEC_UNITS);
}

/* ---------------------------------------------------------------------------------------------
 * Output
 */

/* The saver for the output's extension, or NULL. */
static const gchar *
saver_for (const char *path)
{
  const char  *dot = strrchr (path, '.');
  const char  *slash = strrchr (path, '/');
  const gchar *op;
  gchar       *ext;

  if (dot == NULL || (slash != NULL && dot < slash) || dot[1] == '\0')
    return NULL;
  ext = g_ascii_strdown (dot, -1);
  cli_gegl_handlers_init ();
  cli_log_capture_begin ();
  op = gegl_operation_handlers_get_saver (ext);
  g_free (cli_log_capture_end ());
  /* GEGL falls back to its PNG saver for extensions it does not know */
  if (op != NULL && strcmp (op, "gegl:png-save") == 0 && strcmp (ext, ".png") != 0)
    op = NULL;
  g_free (ext);
  return op != NULL && gegl_has_operation (op) ? op : NULL;
}

static gboolean
save_image (GeglBuffer *buffer, const guint8 *pixels, gsize stride, const char *path,
            const gchar *saver, gint threads, GError **error)
{
  CliAtomic *f;
  const char  *temp;
  GeglNode    *graph, *source, *save;
  const Babl  *type = babl_format_get_type (gegl_buffer_get_format (buffer), 0);
  gchar       *warn;
  struct stat  st;

  if ((f = cli_atomic_open (path, error)) == NULL)
    return FALSE;
  if (strcmp (saver, "gegl:png-save") == 0)
    {
      /* PNG_LEVEL: gegl:png-save's default */
      if (!cli_png_write (buffer, pixels, stride, f, threads, PNG_LEVEL, error))
        {
          g_prefix_error (error, "cannot write '%s': ", path);
          cli_atomic_abort (f);
          return FALSE;
        }
      return cli_atomic_commit (f, error);
    }
  temp = cli_atomic_temp_path (f);

  graph = gegl_node_new ();
  source = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", buffer, NULL);
  save = gegl_node_new_child (graph, "operation", saver, "path", temp, NULL);
  /* PNG and PPM savers take a bit depth: keep the input's (float becomes 16-bit); the TIFF
   * saver's automatic depth already keeps it, float32 included (16 would mean half float) */
  if (gegl_operation_find_property (saver, "bitdepth") != NULL
      && strcmp (saver, "gegl:tiff-save") != 0)
    gegl_node_set (save, "bitdepth", type == babl_type ("u8") ? 8 : 16, NULL);
  gegl_node_link (source, save);
  cli_log_capture_begin ();
  g_set_printerr_handler (cli_log_capture_printerr);
  gegl_node_process (save);
  g_set_printerr_handler (NULL);
  warn = cli_log_capture_end ();
  g_object_unref (graph);

  if (warn != NULL || stat (temp, &st) != 0 || st.st_size == 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot write '%s' (%s): %s", path,
                   saver, warn ? warn : "the saver wrote nothing");
      g_free (warn);
      cli_atomic_abort (f);
      return FALSE;
    }
  /* the commit fsyncs the saver's file before the rename */
  return cli_atomic_commit (f, error);
}

/* ---------------------------------------------------------------------------------------------
 * Progress
 */

typedef struct
{
  gint64   start;
  gboolean tty, shown;
  gint     last;
} Progress;

static gboolean
on_progress (gdouble fraction, gpointer data)
{
  Progress  *p = data;
  const gint width = 40;
  gint       pct = (gint) (fraction * 100.0 + 0.5), fill;

  if (!p->tty || (!p->shown && g_get_monotonic_time () - p->start < G_USEC_PER_SEC / 2)
      || (p->shown && pct == p->last))
    return TRUE;
  fill = (gint) (fraction * width + 0.5);
  fprintf (stderr, "\rtconv upscale: [%.*s%*s] %3d%%", fill,
           "########################################", width - fill, "", pct);
  fflush (stderr);
  p->shown = TRUE;
  p->last = pct;
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * The command
 */

/* TCONV_PROFILE=1: the process's peak resident memory (VmHWM), which tests bound. */
static void
profile_peak_memory (void)
{
  gchar *status = NULL, *line;

  if (!tconv_pipeline_profile_enabled ()
      || !g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return;
  if ((line = strstr (status, "VmHWM:")) != NULL)
    {
      line[6 + strcspn (line + 6, "\n")] = '\0';
      fprintf (stderr, "tconv-profile: peak RSS %s\n", g_strstrip (line + 6));
    }
  g_free (status);
}

/* One run of the command: what the options say, then what the run holds. */
typedef struct
{
  gint64              sh, sw, threads;
  gint                size_w, size_h, out_w, out_h;
  gdouble             scale;
  TconvBorder         border;
  guint64             budget;
  gboolean            self, streamed;
  CliSource           src;
  const gchar        *saver;
  CliPngRead         *png_read;
  tconv_kernel       *kernel;
  TconvUpscaleOptions opt;
  GeglBuffer         *in, *out;
  guint8             *pixels; /* out's memory, when it is a memory buffer */
  gsize               pixels_stride;
  Progress            progress;
  gint64              t0;
  tconv_bank          *bank;     /* --kernel names a kernel bank: r->kernel is its global */
  gdouble              antiring;
} Run;

static gboolean
folder_exists (const char *output, GError **error)
{
  gchar   *dir = g_path_get_dirname (output);
  gboolean ok = g_file_test (dir, G_FILE_TEST_IS_DIR);

  if (!ok)
    g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                 "output '%s': the folder '%s' does not exist", output, dir);
  g_free (dir);
  return ok;
}

/* Everything that needs no file: the options' values, the outputs' folders. */
static gboolean
run_parse (const UpscaleOptions *o, Run *r, GError **error)
{
  const char *inputs[] = { o->input, NULL };

  if (o->stride != NULL && !cli_parse_pair ("--stride", o->stride, &r->sh, &r->sw, error))
    return FALSE;
  if (o->stride != NULL
      && (r->sh < 1 || r->sh > TCONV_ANALYTIC_MAX_STRIDE || r->sw < 1
          || r->sw > TCONV_ANALYTIC_MAX_STRIDE))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--stride '%s': each stride must be from 1 to %u", o->stride,
                   TCONV_ANALYTIC_MAX_STRIDE);
      return FALSE;
    }
  if ((o->size != NULL && !parse_size (o->size, &r->size_w, &r->size_h, error))
      || (o->scale != NULL && !parse_scale (o->scale, &r->scale, error)))
    return FALSE;
  if (o->border != NULL && !tconv_pipeline_border_from_name (o->border, &r->border))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--border '%s': expected clamp, mirror, wrap or zero", o->border);
      return FALSE;
    }
  if (o->kernel != NULL && *o->kernel == '\0')
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--kernel '': empty; leave the option out for the default kernel");
      return FALSE;
    }
  if (o->scale != NULL && o->stride != NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--scale %s with --stride %s: give one of them (--scale chooses the stride)",
                   o->scale, o->stride);
      return FALSE;
    }
  if (o->antiring != NULL)
    {
      gchar *end = NULL;
      r->antiring = g_ascii_strtod (o->antiring, &end);
      if (end == o->antiring || *end != '\0' || !(r->antiring >= 0.0 && r->antiring <= 1.0))
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                       "--antiring '%s': expected a number from 0 to 1", o->antiring);
          return FALSE;
        }
    }
  if ((o->threads != NULL
       && !cli_parse_int ("--threads", o->threads, 1, MAX_THREADS, &r->threads, error))
      || (o->budget != NULL && !parse_bytes ("--memory-budget", o->budget, &r->budget, error))
      || !cli_check_not_input (o->output, inputs, error))
    return FALSE;
  /* the class map is written after the image: what can be checked before, is */
  if (o->class_map != NULL)
    {
      const char *both[] = { o->input, o->output, NULL };
      if (!cli_check_not_input (o->class_map, both, error) || !folder_exists (o->class_map, error))
        return FALSE;
    }
  return folder_exists (o->output, error);
}

/* The stride (given, or what the requested size needs, or the kernel's default) and the
 * kernel. --kernel self is learned from the input once it is read (run_read()); the bicubic
 * kernel of the same stride stands in for the size and memory checks until then. */
static gboolean
run_kernel (const UpscaleOptions *o, Run *r, GError **error)
{
  if (o->stride == NULL && (o->size != NULL || o->scale != NULL))
    {
      if (o->scale != NULL)
        {
          const gdouble w = floor (r->src.box.width * r->scale + 0.5);
          const gdouble h = floor (r->src.box.height * r->scale + 0.5);
          if (w < 1.0 || h < 1.0)
            {
              g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                           "--scale %s: a %dx%d input would give %.0fx%.0f pixels: each side "
                           "must be at least 1",
                           o->scale, r->src.box.width, r->src.box.height, w, h);
              return FALSE;
            }
          r->size_w = w > G_MAXINT32 ? G_MAXINT32 : (gint) w;
          r->size_h = h > G_MAXINT32 ? G_MAXINT32 : (gint) h;
        }
      r->sw = tconv_pipeline_stride_for_size (r->src.box.width, r->size_w);
      r->sh = tconv_pipeline_stride_for_size (r->src.box.height, r->size_h);
      /* a kernel file keeps its own stride */
      if (strchr (o->kernel ? o->kernel : "", '/') != NULL
          || g_str_has_suffix (o->kernel ? o->kernel : "", ".tconv"))
        r->sh = r->sw = 0;
    }
  if (!r->self && !cli_bank_find (o->kernel, r->sh, r->sw, &r->bank, NULL, error))
    return FALSE;
  if (r->bank != NULL)
    {
      r->kernel = r->bank->global; /* owned by the bank */
      return TRUE;
    }
  return cli_kernel_lookup (r->self ? "bicubic" : o->kernel, r->sh, r->sw, &r->kernel, error);
}

/* The pipeline's options and the output size; the images must fit in RAM plus swap (or the
 * budget) before anything is decoded. */
static gboolean
run_options (const UpscaleOptions *o, Run *r, GError **error)
{
  guint64 limit = r->budget, need;
  gchar  *where;
  GError *perr = NULL;

  tconv_pipeline_upscale_options_init (&r->opt);
  r->opt.kernel = r->kernel;
  r->opt.bank = r->bank;
  /* banks default to the anti-ringing their validation chose (docs/antiring.md); single
   * kernels stay the exact interpolation they name */
  r->opt.antiring = o->antiring != NULL ? r->antiring : r->bank != NULL ? TCONV_BANK_ANTIRING : 0.0;
  r->opt.border = r->border;
  r->opt.linear = o->linear;
  r->opt.normalize_phases = o->normalize_phases;
  r->opt.out_width = r->size_w;
  r->opt.out_height = r->size_h;
  r->opt.threads = (gint) r->threads;
  if (r->threads > 0) /* the pipeline runs on GEGL's pool, which this many threads must fit */
    g_object_set (gegl_config (), "threads", (gint) r->threads, NULL);
  if (!tconv_pipeline_output_size (&r->opt, r->src.box.width, r->src.box.height, &r->out_w,
                                   &r->out_h, &perr))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", perr->message);
      g_error_free (perr);
      return FALSE;
    }

  where = limit == 0 ? NULL : g_strdup ("--memory-budget");
  if (limit == 0)
    limit = tconv_pipeline_memory_available (&where);
  /* the loader's own frame too (GIF, WebP, SVG, PPM, ...: tconv-input.c) */
  need = ((guint64) r->src.box.width * (guint64) r->src.box.height
          + (guint64) r->out_w * (guint64) r->out_h)
           * (guint64) babl_format_get_bytes_per_pixel (r->src.format)
         + cli_input_loader_bytes (&r->src);
  if (need > limit)
    {
      gchar *n = human_bytes (need), *l = human_bytes (limit);
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output of %dx%d pixels needs up to %s with the input and its loader: more "
                   "than the memory budget of %s (%s)",
                   r->out_w, r->out_h, n, l, where);
      g_free (n), g_free (l), g_free (where);
      return FALSE;
    }
  g_free (where);
  if (r->budget != 0)
    {
      /* an explicit budget also bounds GEGL's tile cache and the working memory */
      g_object_set (gegl_config (), "tile-cache-size", MAX (r->budget / 2, (guint64) 1 << 20),
                    NULL);
      r->opt.memory_budget = MAX (r->budget / 4, (guint64) 1 << 16);
    }
  return TRUE;
}

static gint
run_threads (const Run *r)
{
  return r->threads > 0 ? (gint) r->threads : (gint) g_get_num_processors ();
}

/* PNG to PNG in bands (cli/tconv-stream.c). TRUE when the run is over (@ok says how it
 * ended); FALSE when it did not stream, or fell back before writing anything. */
static gboolean
run_streamed (const UpscaleOptions *o, Run *r, gboolean *ok, GError **error)
{
  CliStreamResult res;

  if (!r->streamed || strcmp (r->saver, "gegl:png-save") != 0
      || (r->in = cli_png_read_stream (r->png_read, &r->src)) == NULL)
    return FALSE;
  res = cli_stream_upscale (r->in, r->png_read, &r->opt, o->output, run_threads (r), PNG_LEVEL,
                            error);
  g_clear_object (&r->in);
  if (r->progress.shown)
    fputc ('\n', stderr);
  tconv_pipeline_profile_stage (res == CLI_STREAM_FALLBACK ? "stream fell back"
                                                           : "streamed PNG to PNG",
                                &r->t0);
  if (res != CLI_STREAM_FALLBACK)
    {
      *ok = res == CLI_STREAM_DONE;
      return TRUE;
    }
  /* the rows never came: GEGL's loader decodes, as for any PNG libpng leaves to it */
  cli_png_read_finish (r->png_read, NULL);
  r->png_read = NULL;
  r->progress.shown = FALSE;
  return FALSE;
}

/* The whole input in memory (by libpng, else by GEGL's loader), and the kernel learned from
 * it for --kernel self. */
static gboolean
run_read (Run *r, GError **error)
{
  tconv_kernel *learned = NULL;
  gboolean      by_libpng;

  by_libpng = (r->in = cli_png_read_finish (r->png_read, &r->src)) != NULL;
  r->png_read = NULL;
  if (!by_libpng && (r->in = cli_source_read (&r->src, error)) == NULL)
    return FALSE;
  tconv_pipeline_profile_stage (by_libpng ? "read input (libpng)" : "read input", &r->t0);
  if (!r->self)
    return TRUE;
  if (!tconv_pipeline_learn_self (r->in, (gint64) r->kernel->stride_h,
                                  (gint64) r->kernel->stride_w, &learned, error))
    {
      cli_error_from_pipeline (*error);
      return FALSE;
    }
  tconv_kernel_free (r->kernel);
  r->opt.kernel = r->kernel = learned;
  return TRUE;
}

/* The whole output, computed then saved. Outputs of moderate size go to plain memory that
 * the pipeline writes and tconv's PNG writer reads directly (GEGL buffer writes cost more
 * than the convolution); larger ones and memory budgets keep a GEGL buffer, which can swap
 * to disk. */
static gboolean
run_whole (const UpscaleOptions *o, Run *r, GError **error)
{
  const Babl       *format = gegl_buffer_get_format (r->in);
  TconvPipelineDest dest = { 0 };
  GError           *perr = NULL;

  r->out = tconv_pipeline_result_new (r->out_w, r->out_h, format, r->budget == 0, &dest);
  r->pixels = dest.pixels;
  r->pixels_stride = dest.rowstride;

  if (!tconv_pipeline_upscale_region (r->in, &r->opt, NULL, &dest, &perr))
    {
      if (r->progress.shown)
        fputc ('\n', stderr);
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", perr->message);
      g_error_free (perr);
      return FALSE;
    }
  if (r->progress.shown)
    fprintf (stderr, "\ntconv upscale: writing %s ...\n", o->output);
  tconv_pipeline_profile_stage ("up-sample", &r->t0);
  g_clear_object (&r->in);
  return save_image (r->out, r->pixels, r->pixels_stride, o->output, r->saver, run_threads (r),
                     error);
}

/* Starts GEGL (while a PNG input decodes on its own thread), then reads the input's header
 * and works out the kernel, the options and the memory needed. */
static gboolean
run_prepare (const UpscaleOptions *o, Run *r, GError **error)
{
  gchar *low = g_ascii_strdown (o->output, -1);

  /* PNG to PNG streams unless the kernel is learned from the whole input or the border
   * wraps (the first rows read the last ones) */
  r->self = g_strcmp0 (o->kernel, "self") == 0;
  r->streamed = !r->self && r->border != TCONV_BORDER_WRAP && o->class_map == NULL
                && g_getenv ("TCONV_NO_STREAM") == NULL && g_str_has_suffix (low, ".png");
  g_free (low);

  /* GEGL loads all its modules here: a few tenths of a second, while a PNG input decodes */
  r->t0 = g_get_monotonic_time ();
  r->png_read = cli_png_read_start (&r->src, r->streamed);
  /* a tiny file claiming a huge image is refused before GEGL loads its modules */
  if (!cli_source_check (&r->src, error))
    return FALSE;
  cli_gegl_start ();
  tconv_pipeline_profile_stage ("GEGL start", &r->t0);
  if ((r->saver = saver_for (o->output)) == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "output '%s': no GEGL saver for its extension (use .png, .jpg, .tif, .webp, "
                   ".exr, ...)",
                   o->output);
      return FALSE;
    }
  /* the input's size, from its header only */
  if (!cli_source_open (&r->src, error) || !run_kernel (o, r, error)
      || !run_options (o, r, error)
      || !cli_saver_check ("upscale", r->saver, o->output, r->out_w, r->out_h, r->src.format,
                           error))
    return FALSE;
  tconv_pipeline_profile_stage ("options, kernel", &r->t0);
  r->progress.start = g_get_monotonic_time ();
  r->progress.tty = isatty (STDERR_FILENO);
  r->opt.progress = on_progress;
  r->opt.progress_data = &r->progress;
  return TRUE;
}

/* HSV to 8-bit RGB, h in [0, 1). */
static void
hsv_rgb (double h, double s, double v, guchar *rgb)
{
  const double f = h * 6.0 - floor (h * 6.0), p = v * (1 - s), q = v * (1 - s * f),
               t = v * (1 - s * (1 - f));
  double       c[3];

  switch ((int) floor (h * 6.0) % 6)
    {
    case 0: c[0] = v, c[1] = t, c[2] = p; break;
    case 1: c[0] = q, c[1] = v, c[2] = p; break;
    case 2: c[0] = p, c[1] = v, c[2] = t; break;
    case 3: c[0] = p, c[1] = q, c[2] = v; break;
    case 4: c[0] = t, c[1] = p, c[2] = v; break;
    default: c[0] = v, c[1] = p, c[2] = q; break;
    }
  for (int i = 0; i < 3; i++)
    rgb[i] = (guchar) floor (c[i] * 255.0 + 0.5);
}

/* --class-map: the class of every input pixel as a colour: hue = angle bin / angles, value =
 * (strength bin + 1) / strengths, saturation = (coherence bin + 1) / coherences. */
static guchar *
class_map_pixels (Run *r, GError **error)
{
  const tconv_bank_classifier *c;
  const gsize                  n = (gsize) r->src.box.width * (gsize) r->src.box.height;
  guint16                     *classes;
  guchar                      *px;
  GError                      *perr = NULL;

  if (r->bank == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--class-map: kernel '%s' is not a kernel bank (classes exist only for banks, "
                   "e.g. --kernel adaptive)", r->kernel->name);
      return NULL;
    }
  c = &r->bank->classifier;
  classes = tconv_pipeline_bank_classes (r->in, r->bank, r->border, r->opt.linear, &perr);
  if (classes == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "--class-map: %s", perr->message);
      g_error_free (perr);
      return NULL;
    }
  px = g_new (guchar, n * 3);
  for (gsize i = 0; i < n; i++)
    {
      const gsize k = classes[i], q = k % c->coherences, s = (k / c->coherences) % c->strengths;
      const gsize a = k / (c->coherences * c->strengths);
      hsv_rgb ((double) a / (double) c->angles, (double) (q + 1) / (double) c->coherences,
               (double) (s + 1) / (double) c->strengths, px + 3 * i);
    }
  g_free (classes);
  return px;
}

static gboolean
run_upscale (const UpscaleOptions *o, GError **error)
{
  Run      r = { .border = TCONV_BORDER_CLAMP };
  gboolean ok = FALSE;

  if (!run_parse (o, &r, error) || !cli_source_probe (&r.src, "upscale", o->input, error))
    return FALSE;
  if (run_prepare (o, &r, error) && !run_streamed (o, &r, &ok, error) && run_read (&r, error))
    {
      guchar *map = NULL;
      ok = (o->class_map == NULL || (map = class_map_pixels (&r, error)) != NULL)
           && run_whole (o, &r, error)
           && (map == NULL || cli_png_save_rgb8 (map, r.src.box.width, r.src.box.height,
                                                 o->class_map, error));
      g_free (map);
      tconv_pipeline_profile_stage ("write output", &r.t0);
    }

  cli_png_read_finish (r.png_read, NULL); /* a failed run: only joins the decoder */
  g_clear_object (&r.in);
  g_clear_object (&r.out); /* frees pixels too */
  cli_source_clear (&r.src);
  if (r.bank != NULL)
    tconv_bank_free (r.bank);
  else
    tconv_kernel_free (r.kernel);
  cli_gegl_stop ();
  profile_peak_memory ();
  return ok;
}

int
cli_cmd_upscale (int argc, char **argv)
{
  UpscaleOptions o = { 0 };
  GError        *error = NULL;
  int            code = CLI_EXIT_OK;

  if (!parse_options (argc, argv, &o, &error) || !run_upscale (&o, &error))
    code = cli_report ("upscale", error);
  g_free (o.input), g_free (o.output), g_free (o.kernel), g_free (o.stride), g_free (o.size);
  g_free (o.scale), g_free (o.border), g_free (o.threads), g_free (o.budget);
  g_free (o.class_map), g_free (o.antiring);
  return code;
}
