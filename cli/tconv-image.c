/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading image files through GEGL, for every subcommand that takes one. The loader is chosen
 * from the file's first bytes, never its name (a mismatched loader can end the process), and
 * every warning a loader prints while it runs is caught and becomes the error it stands for:
 * GEGL's loaders report failure only that way, then hand over what they decoded. What comes
 * before decoding (the checks of every format, tconv's own JPEG and Radiance HDR decoders,
 * the TIFF fixes) is in tconv-input.c. */
#define _POSIX_C_SOURCE 200809L
#include "tconv-cli.h"
#include "tconv-input.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gegl.h>
#include <operation/gegl-operation-handlers.h>
#include <operation/gegl-operation.h>

/* ---------------------------------------------------------------------------------------------
 * GEGL warnings: loaders and savers report failure only through g_warning(), so they are
 * collected while one runs and turned into an error.
 */

static GMutex   capture_lock;
static GString *captured;

static void
capture_handler (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  gchar *m;

  (void) domain, (void) data;
  if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) == 0)
    return;
  /* some end in a newline (rgbe-load's "... fail at row 0\n"): the error stays one line */
  m = g_strchomp (g_strdup (message));
  g_mutex_lock (&capture_lock);
  if (captured != NULL && strstr (captured->str, m) == NULL) /* each message once */
    g_string_append_printf (captured, "%s%s", captured->len ? "; " : "", m);
  g_mutex_unlock (&capture_lock);
  g_free (m);
}

void
cli_log_capture_begin (void)
{
  g_mutex_lock (&capture_lock);
  captured = g_string_new (NULL);
  g_mutex_unlock (&capture_lock);
  g_log_set_default_handler (capture_handler, NULL);
}

void
cli_log_capture_printerr (const gchar *message)
{
  capture_handler (NULL, G_LOG_LEVEL_WARNING, message, NULL);
}

gchar *
cli_log_capture_end (void)
{
  gchar *s;

  g_log_set_default_handler (g_log_default_handler, NULL);
  g_mutex_lock (&capture_lock);
  s = captured->len ? g_string_free (captured, FALSE) : (g_string_free (captured, TRUE), NULL);
  captured = NULL;
  g_mutex_unlock (&capture_lock);
  return s;
}

/* babl 0.1.98 (Debian 12) keeps the conversions it has planned in
 * $XDG_CACHE_HOME/babl/babl-fishes (else $HOME/.cache/babl/babl-fishes), shared with GIMP.
 * Loading a cache that lists 8-bit conversions makes it first time lookup tables on 400 MB of
 * scratch memory: 1.2 s and 330 MB of peak memory on every start, more than a whole
 * 12-megapixel upscale computes. babl's own BABL_INHIBIT_CACHE does not serve: babl_init()
 * skips loading the cache when it is set, but babl_exit() calls babl_store_db()
 * unconditionally (babl.c, 0.1.98 and still upstream), which would replace the user's shared
 * cache with the few conversions tconv planned (checked: babl_init, one babl_fish and babl_exit
 * with it set overwrite an existing cache file). So babl gets a cache folder of its own while
 * GEGL starts and stops: an empty temporary folder, removed again as soon as each is done,
 * so that even a run killed meanwhile leaves nothing behind. (A folder where babl cannot
 * create its own is no better: babl then falls back to /tmp/babl-fishes.txt, shared by every
 * user, and GEGL's start-up plans an 8-bit conversion that times the tables anyway.)
 * GLib's user folders (presets, GEGL's swap) are looked up first, under the real HOME and
 * XDG_CACHE_HOME, and GLib keeps them. tests/cli/test-upscale.py checks that a babl
 * cache in HOME or XDG_CACHE_HOME is neither loaded nor rewritten. */
static gchar *babl_home;

/* Removes what babl makes there (its folder, the cache and the cache's temporary copy: under
 * XDG_CACHE_HOME as Debian's babl does, or under HOME/.cache as upstream's does) and the
 * folder itself. */
static void
remove_babl_home (void)
{
  static const char *const made[] = { "babl/babl-fishes", "babl/babl-fishes~", "babl",
                                      ".cache/babl/babl-fishes", ".cache/babl/babl-fishes~",
                                      ".cache/babl", ".cache", "" };

  for (gsize i = 0; i < G_N_ELEMENTS (made); i++)
    {
      gchar *p = g_build_filename (babl_home, made[i], NULL);
      g_remove (p);
      g_free (p);
    }
}

/* Sets @name to @value (NULL: unsets it) and returns its old value (g_free). */
static gchar *
swap_env (const char *name, const char *value)
{
  gchar *old = g_strdup (g_getenv (name));

  if (value != NULL)
    g_setenv (name, value, TRUE);
  else
    g_unsetenv (name);
  return old;
}

static void
with_babl_home (gboolean start)
{
  gchar *home = NULL, *cache = NULL;
  int    slot = -1;

  (void) g_get_home_dir ();
  (void) g_get_user_cache_dir ();
  (void) g_get_user_data_dir ();
  (void) g_get_user_config_dir ();
  if (start && babl_home == NULL)
    babl_home = g_dir_make_tmp ("tconv-babl-XXXXXX", NULL);
  if (babl_home != NULL)
    {
      /* removed on a signal too (tconv-output.c), while babl may write there */
      slot = cli_cleanup_add_folder (babl_home);
      /* at exit babl makes the folder again to write its cache there */
      home = swap_env ("HOME", babl_home);
      cache = swap_env ("XDG_CACHE_HOME", babl_home);
    }
  /* babl 0.1.98's conversion-path search overflows a fixed buffer (abort: "buffer overflow
   * detected", e.g. in gegl:webp-save) when BABL_TOLERANCE admits lossy paths, and tconv's
   * outputs are tested to 1 LSB: babl runs with its default tolerance in tconv's process. */
  if (start)
    {
      g_unsetenv ("BABL_TOLERANCE");
      gegl_init (NULL, NULL);
    }
  else
    gegl_exit ();
  if (babl_home != NULL)
    {
      g_free (swap_env ("HOME", home));
      g_free (swap_env ("XDG_CACHE_HOME", cache));
      g_free (home);
      g_free (cache);
      remove_babl_home ();
      cli_cleanup_remove_folder (slot);
    }
}

static gboolean gegl_started;

void
cli_gegl_start (void)
{
  cli_swap_begin ();
  with_babl_home (TRUE);
  gegl_started = TRUE;
}

void
cli_gegl_stop (void)
{
  /* an input refused before GEGL started */
  if (!gegl_started)
    return;
  gegl_started = FALSE;
  with_babl_home (FALSE);
  g_clear_pointer (&babl_home, g_free);
  cli_swap_end ();
}

void
cli_gegl_handlers_init (void)
{
  static gboolean done;
  guint           n = 0;
  gchar         **ops;

  if (done)
    return;
  ops = gegl_list_operations (&n);
  for (guint i = 0; i < n; i++)
    if (g_str_has_suffix (ops[i], "-load") || g_str_has_suffix (ops[i], "-save"))
      gegl_operation_get_key (ops[i], "name");
  g_free (ops);
  done = TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * Input
 */

/* A decoder may end the process itself (libjpeg calls exit() on a broken header): say which
 * file it was, so that even then the user gets a tconv message. No output exists yet then. */
static const CliSource *volatile decoding;

static void
report_decoder_exit (void)
{
  const CliSource *s = decoding;

  if (s != NULL)
    fprintf (stderr, "tconv %s: cannot read '%s': its decoder gave up (the file is corrupt "
                     "or not what its first bytes say)\n",
             s->sub, s->path);
}

static void
decoding_begin (const CliSource *s)
{
  static gboolean registered;

  if (!registered)
    registered = atexit (report_decoder_exit) == 0;
  decoding = s;
}

/* The loader a file's first bytes name, without GEGL (whether GEGL has it is asked later);
 * NULL when no magic matched. Mismatched loaders are not only wrong but dangerous: GEGL's
 * JPEG loader exits the process on a file that is not a JPEG. */
static const gchar *
magic_loader (const guchar *b, gsize n)
{
  static const struct
  {
    const char *magic;
    gsize       len, offset;
    const char *op;
  } magic[] = {
    { "\x89PNG\r\n\x1a\n", 8, 0, "gegl:png-load" },
    { "\xff\xd8\xff", 3, 0, "gegl:jpg-load" },
    { "II*\0", 4, 0, "gegl:tiff-load" },
    { "MM\0*", 4, 0, "gegl:tiff-load" },
    { "II+\0", 4, 0, "gegl:tiff-load" },
    { "MM\0+", 4, 0, "gegl:tiff-load" },
    { "GIF87a", 6, 0, "gegl:gif-load" },
    { "GIF89a", 6, 0, "gegl:gif-load" },
    { "WEBP", 4, 8, "gegl:webp-load" },
    { "v/1\x01", 4, 0, "gegl:exr-load" },
    { "#?RADIANCE", 10, 0, "gegl:rgbe-load" },
    { "#?RGBE", 6, 0, "gegl:rgbe-load" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (magic); i++)
    if (n >= magic[i].offset + magic[i].len
        && memcmp (b + magic[i].offset, magic[i].magic, magic[i].len) == 0
        && (magic[i].offset == 0 || memcmp (b, "RIFF", 4) == 0))
      return magic[i].op;
  /* Netpbm: P2, P3, P5 or P6 and a blank */
  if (n >= 3 && b[0] == 'P' && strchr ("2356", b[1]) != NULL && g_ascii_isspace (b[2]))
    return "gegl:ppm-load";
  return NULL;
}

/* GEGL running: any other loader GEGL has, by content type (never the JPEG or PNG loaders,
 * whose magic did not match, nor the ImageMagick fallback GEGL picks for unknown types). */
static const gchar *
sniff_loader (const guchar *b, gsize n, const char *path)
{
  gboolean     uncertain = TRUE;
  gchar       *type;
  const gchar *op = NULL;

  type = g_content_type_guess (path, b, n, &uncertain);
  if (!uncertain && type != NULL)
    {
      gchar *mime = g_content_type_get_mime_type (type);
      if (mime != NULL && g_str_has_prefix (mime, "image/"))
        {
          cli_gegl_handlers_init ();
          cli_log_capture_begin ();
          op = gegl_operation_handlers_get_loader (mime);
          g_free (cli_log_capture_end ());
        }
      g_free (mime);
    }
  g_free (type);
  if (op != NULL
      && (strcmp (op, "gegl:magick-load") == 0 || strcmp (op, "gegl:jpg-load") == 0
          || strcmp (op, "gegl:png-load") == 0 || !gegl_has_operation (op)))
    op = NULL;
  return op;
}

gboolean
cli_source_probe (CliSource *s, const char *sub, const char *path, GError **error)
{
  struct stat st;
  ssize_t     got;
  int         fd;

  memset (s, 0, sizeof *s);
  s->sub = sub;
  s->path = path;
  if ((fd = cli_open_regular (path, &st, error)) < 0)
    return FALSE;
  do
    got = read (fd, s->head, sizeof s->head);
  while (got < 0 && errno == EINTR);
  close (fd);
  if (got <= 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot read '%s': %s", path,
                   got < 0 ? g_strerror (errno) : "the file is empty");
      return FALSE;
    }
  s->head_len = (gsize) got;
  s->file_size = (guint64) st.st_size;
  return TRUE;
}

gboolean
cli_source_check (CliSource *s, GError **error)
{
  if (s->input != NULL || (s->loader = magic_loader (s->head, s->head_len)) == NULL)
    return TRUE;
  return cli_input_open (s, error);
}

static gboolean
unrecognised (const CliSource *s, GError **error)
{
  g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
               "'%s' is not an image in a format tconv recognises: expected an image GEGL "
               "can read (PNG, JPEG, TIFF, WebP, GIF, OpenEXR, Radiance HDR, PPM, ...)",
               s->path);
  return FALSE;
}

gboolean
cli_source_open (CliSource *s, GError **error)
{
  gchar *warn;

  /* checks before decoding; JPEG and Radiance HDR are decoded by tconv (tconv-input.c) */
  if (!cli_source_check (s, error))
    return FALSE;
  if (s->input == NULL)
    {
      if ((s->loader = sniff_loader (s->head, s->head_len, s->path)) == NULL)
        return unrecognised (s, error);
      if (!cli_input_open (s, error))
        return FALSE;
    }
  if (cli_input_own (s))
    {
      if (cli_input_format (s, error))
        return TRUE;
      cli_source_clear (s);
      return FALSE;
    }
  if (!gegl_has_operation (s->loader))
    {
      cli_source_clear (s);
      return unrecognised (s, error);
    }

  s->graph = gegl_node_new ();
  s->load = gegl_node_new_child (s->graph, "operation", s->loader, "path", s->load_path, NULL);
  cli_log_capture_begin ();
  decoding_begin (s);
  s->box = gegl_node_get_bounding_box (s->load);
  s->format = gegl_operation_get_format (gegl_node_get_gegl_operation (s->load), "output");
  decoding = NULL;
  warn = cli_input_message (s, cli_log_capture_end ());
  if (s->box.width <= 0 || s->box.height <= 0 || s->format == NULL || warn != NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot read '%s' (%s): %s",
                   s->path, s->loader, warn ? warn : "no image in the file");
      g_free (warn);
      cli_source_clear (s);
      return FALSE;
    }
  if (!cli_input_header (s, error))
    {
      cli_source_clear (s);
      return FALSE;
    }
  return TRUE;
}

GeglBuffer *
cli_source_read (CliSource *s, GError **error)
{
  GeglBuffer *buffer = NULL;
  GeglNode   *sink;
  gchar      *warn;

  if (cli_input_own (s))
    return cli_input_read (s, error);
  sink = gegl_node_new_child (s->graph, "operation", "gegl:buffer-sink", "buffer", &buffer,
                              NULL);
  gegl_node_link (s->load, sink);
  cli_log_capture_begin ();
  decoding_begin (s);
  gegl_node_process (sink);
  decoding = NULL;
  warn = cli_input_message (s, cli_log_capture_end ());
  if (buffer == NULL || warn != NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "cannot read '%s' (%s): %s (the file may be truncated or corrupt)", s->path,
                   s->loader, warn ? warn : "no pixels");
      g_free (warn);
      g_clear_object (&buffer);
      return NULL;
    }
  return cli_input_fix (s, buffer, error);
}

void
cli_source_clear (CliSource *s)
{
  g_clear_object (&s->graph);
  s->load = NULL;
  cli_input_clear (s);
}
