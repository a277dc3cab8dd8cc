/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv upscale: enlarges an image file with a transposed convolution, through the GEGL
 * pipeline. The input is recognised by its first bytes (never by its name), checked and sized
 * before any pixel is decoded (tconv-image.c); the output keeps the input's bit depth and channels, goes to a
 * temporary file renamed at the end, and never replaces the input. PNG to PNG streams in bands
 * (tconv-stream.c, docs/streaming.md); TCONV_NO_STREAM=1 forces the whole-image path (tests
 * compare the two). */
#define _POSIX_C_SOURCE 200809L
#include "tconv-cli.h"

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
/* Largest output kept in plain memory (run_upscale): a 12-megapixel RGB image x2 is 144 MB;
 * larger ones go through a GEGL buffer, which swaps. */
#define MEMORY_OUTPUT_MAX ((gsize) 512 << 20)

typedef struct
{
  gchar   *input, *output, *kernel, *stride, *size, *scale, *border, *threads, *budget;
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
    { "kernel", 'k', 0, G_OPTION_ARG_STRING, &o->kernel, "Kernel name, self (learned from the input) or .tconv file (default: learned at x2-x4, else bicubic)", "NAME|FILE" },
    { "stride", 0, 0, G_OPTION_ARG_STRING, &o->stride, "Up-sampling factor of the kernel (default 2)", "S|SH,SW" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &o->size, "Exact output size", "WxH" },
    { "scale", 0, 0, G_OPTION_ARG_STRING, &o->scale, "Any scale factor, e.g. 1.5", "F" },
    { "border", 0, 0, G_OPTION_ARG_STRING, &o->border, "clamp (default), mirror, wrap or zero", "MODE" },
    { "linear", 0, 0, G_OPTION_ARG_NONE, &o->linear, "Convolve in linear light (default: perceptual values)", NULL },
    { "normalize-phases", 0, 0, G_OPTION_ARG_NONE, &o->normalize_phases, "Give every output phase the same DC gain", NULL },
    { "threads", 0, 0, G_OPTION_ARG_STRING, &o->threads, "Worker threads (default: GEGL's, one per core)", "N" },
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
  int          fd;

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
  /* The saver creates the file itself: over an existing one GIO would write yet another
   * temporary file and rename it. The name stays registered for removal on a signal. */
  unlink (temp);

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
  /* the saver's file is a new inode: make it durable before the rename (and hear of any
   * write error the file system reports only now) */
  if ((fd = open (temp, O_RDONLY | O_CLOEXEC)) < 0 || fsync (fd) != 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot write '%s': %s", path,
                   g_strerror (errno));
      if (fd >= 0)
        close (fd);
      cli_atomic_abort (f);
      return FALSE;
    }
  close (fd);
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

static gboolean
run_upscale (const UpscaleOptions *o, GError **error)
{
  TconvUpscaleOptions opt;
  TconvPipelineDest   dest = { 0 };
  CliSource         src = { 0 };
  GeglBuffer         *in = NULL, *out = NULL;
  tconv_kernel       *kernel = NULL;
  const gchar        *saver;
  const char         *inputs[] = { o->input, NULL };
  gint64              sh = 0, sw = 0, threads = 0;
  gint                size_w = 0, size_h = 0, out_w, out_h;
  gdouble             scale = 0.0;
  TconvBorder         border = TCONV_BORDER_CLAMP;
  guint64             budget = 0, need, bpp;
  gint64              t0;
  guint8             *pixels = NULL; /* out's memory, when it is a memory buffer */
  CliPngRead       *png_read = NULL;
  gsize               pixels_stride = 0;
  gchar              *where = NULL, *dir;
  Progress            progress = { 0 };
  gboolean            ok = FALSE, self, by_libpng, streamed;
  GError             *perr = NULL;

  /* Everything that needs no file first. */
  if (o->stride != NULL && !cli_parse_pair ("--stride", o->stride, &sh, &sw, error))
    return FALSE;
  if (o->stride != NULL
      && (sh < 1 || sh > TCONV_ANALYTIC_MAX_STRIDE || sw < 1 || sw > TCONV_ANALYTIC_MAX_STRIDE))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--stride '%s': each stride must be from 1 to %u", o->stride,
                   TCONV_ANALYTIC_MAX_STRIDE);
      return FALSE;
    }
  if (o->size != NULL && !parse_size (o->size, &size_w, &size_h, error))
    return FALSE;
  if (o->scale != NULL && !parse_scale (o->scale, &scale, error))
    return FALSE;
  if (o->border != NULL && !tconv_pipeline_border_from_name (o->border, &border))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--border '%s': expected clamp, mirror, wrap or zero", o->border);
      return FALSE;
    }
  if (o->threads != NULL
      && !cli_parse_int ("--threads", o->threads, 1, MAX_THREADS, &threads, error))
    return FALSE;
  if (o->budget != NULL && !parse_bytes ("--memory-budget", o->budget, &budget, error))
    return FALSE;
  if (!cli_check_not_input (o->output, inputs, error))
    return FALSE;

  dir = g_path_get_dirname (o->output);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s': the folder '%s' does not exist", o->output, dir);
      g_free (dir);
      return FALSE;
    }
  g_free (dir);
  if (!cli_source_probe (&src, "upscale", o->input, error))
    return FALSE;

  /* PNG to PNG streams unless the kernel is learned from the whole input or the border wraps
   * (the first rows read the last ones) */
  self = g_strcmp0 (o->kernel, "self") == 0;
  {
    gchar *low = g_ascii_strdown (o->output, -1);
    streamed = !self && border != TCONV_BORDER_WRAP && g_getenv ("TCONV_NO_STREAM") == NULL
               && g_str_has_suffix (low, ".png");
    g_free (low);
  }

  /* GEGL loads all its modules here: a few tenths of a second, while a PNG input decodes */
  t0 = g_get_monotonic_time ();
  png_read = cli_png_read_start (&src, streamed);
  cli_gegl_start ();
  tconv_pipeline_profile_stage ("GEGL start", &t0);
  if ((saver = saver_for (o->output)) == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "output '%s': no GEGL saver for its extension (use .png, .jpg, .tif, .webp, "
                   ".exr, ...)",
                   o->output);
      goto out;
    }

  /* The input's size, from its header only. */
  if (!cli_source_open (&src, error))
    goto out;

  /* Stride: given, or what the requested size needs, or the kernel's default. */
  if (o->stride == NULL && (o->size != NULL || o->scale != NULL))
    {
      if (o->scale != NULL)
        {
          const gdouble w = floor (src.box.width * scale + 0.5);
          const gdouble h = floor (src.box.height * scale + 0.5);
          if (w < 1.0 || h < 1.0)
            {
              g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                           "--scale %s: a %dx%d input would give %.0fx%.0f pixels: each side "
                           "must be at least 1",
                           o->scale, src.box.width, src.box.height, w, h);
              goto out;
            }
          size_w = w > G_MAXINT32 ? G_MAXINT32 : (gint) w;
          size_h = h > G_MAXINT32 ? G_MAXINT32 : (gint) h;
        }
      sw = tconv_pipeline_stride_for_size (src.box.width, size_w);
      sh = tconv_pipeline_stride_for_size (src.box.height, size_h);
      /* a kernel file keeps its own stride */
      if (strchr (o->kernel ? o->kernel : "", '/') != NULL
          || g_str_has_suffix (o->kernel ? o->kernel : "", ".tconv"))
        sh = sw = 0;
    }
  /* --kernel self is learned from the input once it is read (tconv_pipeline_learn_self()); the
   * bicubic kernel of the same stride stands in for the size and memory checks until then. */
  if (!cli_kernel_lookup (self ? "bicubic" : o->kernel, sh, sw, &kernel, error))
    goto out;

  tconv_pipeline_upscale_options_init (&opt);
  opt.kernel = kernel;
  opt.border = border;
  opt.linear = o->linear;
  opt.normalize_phases = o->normalize_phases;
  opt.out_width = size_w;
  opt.out_height = size_h;
  opt.threads = (gint) threads;
  if (threads > 0) /* the pipeline runs on GEGL's pool, which this many threads must fit */
    g_object_set (gegl_config (), "threads", (gint) threads, NULL);
  if (!tconv_pipeline_output_size (&opt, src.box.width, src.box.height, &out_w, &out_h, &perr))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", perr->message);
      g_error_free (perr);
      goto out;
    }

  /* The images must fit in RAM plus swap before anything is decoded. */
  {
    guint64 limit = budget;

    if (limit == 0)
      limit = tconv_pipeline_memory_available (&where);
    else
      where = g_strdup ("--memory-budget");
    bpp = (guint64) babl_format_get_bytes_per_pixel (src.format);
    need = ((guint64) src.box.width * (guint64) src.box.height + (guint64) out_w * (guint64) out_h)
           * bpp;
    if (need > limit)
      {
        gchar *n = human_bytes (need), *l = human_bytes (limit);
        g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                     "output of %dx%d pixels needs up to %s with the input: more than the "
                     "memory budget of %s (%s)",
                     out_w, out_h, n, l, where);
        g_free (n), g_free (l);
        goto out;
      }
    if (budget != 0)
      {
        /* an explicit budget also bounds GEGL's tile cache and the working memory */
        g_object_set (gegl_config (), "tile-cache-size", MAX (budget / 2, (guint64) 1 << 20),
                      NULL);
        opt.memory_budget = MAX (budget / 4, (guint64) 1 << 16);
      }
  }

  tconv_pipeline_profile_stage ("options, kernel", &t0);
  progress.start = g_get_monotonic_time ();
  progress.tty = isatty (STDERR_FILENO);
  opt.progress = on_progress;
  opt.progress_data = &progress;
  if (streamed && saver != NULL && strcmp (saver, "gegl:png-save") == 0
      && (in = cli_png_read_stream (png_read, &src)) != NULL)
    {
      const CliStreamResult res = cli_stream_upscale (
        in, png_read, &opt, o->output,
        threads > 0 ? (gint) threads : (gint) g_get_num_processors (), PNG_LEVEL, error);

      g_clear_object (&in);
      if (progress.shown)
        fputc ('\n', stderr);
      tconv_pipeline_profile_stage (res == CLI_STREAM_FALLBACK ? "stream fell back" : "streamed PNG to PNG", &t0);
      if (res != CLI_STREAM_FALLBACK)
        {
          ok = res == CLI_STREAM_DONE;
          goto out;
        }
      /* the rows never came: GEGL's loader decodes, as for any PNG libpng leaves to it */
      cli_png_read_finish (png_read, NULL);
      png_read = NULL;
      progress.shown = FALSE;
    }
  by_libpng = (in = cli_png_read_finish (png_read, &src)) != NULL;
  png_read = NULL;
  if (!by_libpng && (in = cli_source_read (&src, error)) == NULL)
    goto out;
  tconv_pipeline_profile_stage (by_libpng ? "read input (libpng)" : "read input", &t0);
  if (self)
    {
      tconv_kernel *learned = NULL;
      if (!tconv_pipeline_learn_self (in, (gint64) kernel->stride_h, (gint64) kernel->stride_w,
                                      &learned, error))
        {
          cli_error_from_pipeline (*error);
          goto out;
        }
      tconv_kernel_free (kernel);
      opt.kernel = kernel = learned;
    }
  /* Outputs of moderate size go to plain memory that the pipeline writes and tconv's PNG
   * writer reads directly (GEGL buffer writes cost more than the convolution); larger ones
   * and memory budgets keep a GEGL buffer, which can swap to disk. */
  if (budget == 0
      && (guint64) out_w * (guint64) out_h
             * (guint64) babl_format_get_bytes_per_pixel (gegl_buffer_get_format (in))
           <= MEMORY_OUTPUT_MAX
      && (out = tconv_pipeline_memory_buffer (out_w, out_h, gegl_buffer_get_format (in), &pixels,
                                              &pixels_stride)) != NULL)
    {
      dest.pixels = pixels;
      dest.rowstride = pixels_stride;
      dest.format = gegl_buffer_get_format (in);
    }
  else
    {
      out = gegl_buffer_new (GEGL_RECTANGLE (0, 0, out_w, out_h), gegl_buffer_get_format (in));
      dest.buffer = out;
    }

  if (!tconv_pipeline_upscale_region (in, &opt, NULL, &dest, &perr))
    {
      if (progress.shown)
        fputc ('\n', stderr);
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", perr->message);
      g_error_free (perr);
      goto out;
    }
  if (progress.shown)
    fprintf (stderr, "\ntconv upscale: writing %s ...\n", o->output);
  tconv_pipeline_profile_stage ("up-sample", &t0);
  g_clear_object (&in);
  ok = save_image (out, pixels, pixels_stride, o->output, saver,
                   threads > 0 ? (gint) threads : (gint) g_get_num_processors (), error);
  tconv_pipeline_profile_stage ("write output", &t0);

out:
  cli_png_read_finish (png_read, NULL); /* a failed run: only joins the decoder */
  g_clear_object (&in);
  g_clear_object (&out); /* frees pixels too */
  cli_source_clear (&src);
  tconv_kernel_free (kernel);
  g_free (where);
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
  return code;
}
