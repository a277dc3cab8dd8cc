/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The preset search path, the listing of preset files and the lookup NAME + stride -> kernel
 * (tconv-pipeline-presets.h), for the tconv command and the GIMP plug-in alike. */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "tconv-pipeline-presets.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tconv-pipeline.h"
#include "tconv-pipeline-util.h"

/* realpath() of @path, or a copy of @path when it does not resolve. */
static gchar *
canonical (const gchar *path)
{
  char  *r = realpath (path, NULL);
  gchar *c = g_strdup (r != NULL ? r : path);

  free (r);
  return c;
}

/* The folder of the running binary, resolved through /proc/self/exe; NULL when unknown. */
static gchar *
exe_dir (void)
{
  gchar *exe = canonical ("/proc/self/exe");
  gchar *dir = NULL;

  if (g_path_is_absolute (exe) && strcmp (exe, "/proc/self/exe") != 0)
    dir = g_path_get_dirname (exe);
  g_free (exe);
  return dir;
}

/* The source tree's presets/ for a binary in its build tree: the line that is not a comment
 * in the file meson writes beside the uninstalled binary (never installed), or NULL. */
static gchar *
source_presets (void)
{
  gchar *dir = exe_dir ();
  gchar *file, *text = NULL, *found = NULL;
  gsize  len = 0;

  if (dir == NULL)
    return NULL;
  file = g_build_filename (dir, TCONV_PIPELINE_SOURCE_PRESETS_FILE, NULL);
  if (g_file_test (file, G_FILE_TEST_IS_REGULAR) && g_file_get_contents (file, &text, &len, NULL)
      && len < 4 * PATH_MAX)
    {
      gchar **lines = g_strsplit (text, "\n", -1);

      for (gchar **l = lines; *l != NULL && found == NULL; l++)
        if (**l != '#' && g_path_is_absolute (*l))
          found = g_strdup (*l);
      g_strfreev (lines);
    }
  g_free (text);
  g_free (file);
  g_free (dir);
  return found;
}

static void
add_dir (GPtrArray *dirs, GPtrArray *seen, const gchar *dir)
{
  gchar *c;

  if (dir == NULL || *dir == '\0')
    return;
  c = canonical (dir);
  for (guint i = 0; i < seen->len; i++)
    if (strcmp (g_ptr_array_index (seen, i), c) == 0)
      {
        g_free (c);
        return;
      }
  g_ptr_array_add (seen, c);
  g_ptr_array_add (dirs, g_strdup (dir));
}

gchar **
tconv_pipeline_preset_dirs (const gchar *const *installed)
{
  GPtrArray   *dirs = g_ptr_array_new ();
  GPtrArray   *seen = g_ptr_array_new_with_free_func (g_free);
  const gchar *env  = g_getenv ("TCONV_PRESET_DIR");
  gchar       *user = g_build_filename (g_get_user_data_dir (), "tconv", "presets", NULL);
  gchar       *src  = source_presets ();

  if (env != NULL)
    {
      gchar **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (gchar **p = parts; *p != NULL; p++)
        add_dir (dirs, seen, *p);
      g_strfreev (parts);
    }
  add_dir (dirs, seen, user);
  for (gsize i = 0; installed != NULL && installed[i] != NULL; i++)
    add_dir (dirs, seen, installed[i]);
  add_dir (dirs, seen, src);
  g_free (user);
  g_free (src);
  g_ptr_array_free (seen, TRUE);
  g_ptr_array_add (dirs, NULL);
  return (gchar **) g_ptr_array_free (dirs, FALSE);
}

/* ---- files ---- */

/* The bytes of a regular file of at most TCONV_KERNEL_FILE_MAX bytes. Opened without blocking
 * and checked on the descriptor: a FIFO would otherwise wait for a writer forever, and a check
 * by name before opening could be raced. */
static gboolean
read_preset (const gchar *path, gchar **text, gsize *len, GError **error)
{
  struct stat st;
  gsize       got = 0;
  int         fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

  if (fd < 0)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   "cannot open '%s': %s", path, g_strerror (errno));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   "'%s': not a regular file", path);
      close (fd);
      return FALSE;
    }
  if ((guint64) st.st_size > TCONV_KERNEL_FILE_MAX)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   "'%s' is %" G_GUINT64_FORMAT " bytes: must be at most %u", path,
                   (guint64) st.st_size, TCONV_KERNEL_FILE_MAX);
      close (fd);
      return FALSE;
    }
  /* one byte more than allowed tells a file that grew since fstat */
  *text = g_malloc ((gsize) st.st_size + 2);
  for (;;)
    {
      const gssize n = read (fd, *text + got, (gsize) st.st_size + 1 - got);
      if (n > 0 && (got += (gsize) n) <= (gsize) st.st_size)
        continue;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || got > TCONV_KERNEL_FILE_MAX)
        {
          g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                       "cannot read '%s': %s", path,
                       n < 0 ? g_strerror (errno) : "the file grows while it is read");
          g_clear_pointer (text, g_free);
          close (fd);
          return FALSE;
        }
      break;
    }
  close (fd);
  (*text)[got] = '\0';
  *len = got;
  return TRUE;
}

/* A parser's failure on @path as an error naming the file, line and column. */
static void
set_parse_error (GError **error, const gchar *what, const gchar *path, tconv_status st,
                 const tconv_error *err)
{
  if (err->line > 0)
    g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED, "%s '%s':%u:%u: %s",
                 what, path, err->line, err->column, err->message);
  else
    g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED, "%s '%s': %s", what,
                 path, tconv_pipeline_status_message (st, err));
}

gboolean
tconv_pipeline_preset_load (const gchar *path, gint64 stride_h, gint64 stride_w,
                            tconv_kernel **kernel, GError **error)
{
  gchar       *text = NULL;
  gsize        len = 0;
  tconv_error  err = { 0 };
  tconv_status st;

  *kernel = NULL;
  if (!read_preset (path, &text, &len, error))
    return FALSE;
  st = tconv_kernel_parse (text, len, kernel, &err);
  g_free (text);
  if (st != TCONV_OK)
    {
      set_parse_error (error, "kernel file", path, st, &err);
      return FALSE;
    }
  if ((stride_h > 0 && (gint64) (*kernel)->stride_h != stride_h)
      || (stride_w > 0 && (gint64) (*kernel)->stride_w != stride_w))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "--stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ": kernel file '%s' is for "
                   "stride %" G_GSIZE_FORMAT ",%" G_GSIZE_FORMAT " (a file keeps its own stride)",
                   stride_h, stride_w, path, (gsize) (*kernel)->stride_h,
                   (gsize) (*kernel)->stride_w);
      g_clear_pointer (kernel, tconv_kernel_free);
      return FALSE;
    }
  return TRUE;
}

gboolean
tconv_pipeline_preset_split_name (const gchar *base, gchar **family, gint64 *stride_h,
                                  gint64 *stride_w)
{
  const gchar *x = strrchr (base, '-');
  gint64       v[2] = { 0, 0 };
  int          n = 0;
  const gchar *p;

  if (x == NULL || x == base || x[1] != 'x')
    return FALSE;
  p = x + 2;
  while (n < 2)
    {
      gint64 d = 0;
      int    digits = 0;

      if (*p == '0')
        return FALSE; /* no leading zeros: "x02" is not a stride */
      while (g_ascii_isdigit (*p) && digits < 3)
        d = d * 10 + (*p++ - '0'), digits++;
      if (digits == 0 || d < 1 || d > TCONV_MAX_STRIDE)
        return FALSE;
      v[n++] = d;
      if (*p == '\0')
        break;
      if (*p != 'x')
        return FALSE;
      p++;
    }
  if (*p != '\0')
    return FALSE;
  if (family != NULL)
    *family = g_strndup (base, (gsize) (x - base));
  *stride_h = v[0];
  *stride_w = n == 2 ? v[1] : v[0];
  return TRUE;
}

/* ---- the listing ---- */

static gint
compare_preset (gconstpointer a, gconstpointer b)
{
  const TconvPresetFile *pa = *(TconvPresetFile *const *) a;
  const TconvPresetFile *pb = *(TconvPresetFile *const *) b;
  int                    c = strcmp (pa->family, pb->family);

  if (c != 0)
    return c;
  if (pa->stride_h != pb->stride_h)
    return pa->stride_h < pb->stride_h ? -1 : 1;
  if (pa->stride_w != pb->stride_w)
    return pa->stride_w < pb->stride_w ? -1 : 1;
  return strcmp (pa->base, pb->base);
}

static void
preset_file_free (gpointer data)
{
  TconvPresetFile *f = data;

  g_free (f->base);
  g_free (f->family);
  g_free (f->path);
  g_free (f->error);
  tconv_kernel_free (f->kernel);
  g_free (f);
}

static gboolean load_bank (const gchar *path, gint64 sh, gint64 sw, tconv_bank **bank,
                           GError **error);

/* A bank file is listed by its global kernel (name, description, stride). */
static gboolean
preset_load_any (const gchar *path, tconv_kernel **kernel, GError **error)
{
  tconv_bank *bank = NULL;
  gboolean    ok = load_bank (path, 0, 0, &bank, error);

  if (ok && bank != NULL)
    {
      *kernel = g_steal_pointer (&bank->global);
      tconv_bank_free (bank);
      return TRUE;
    }
  return ok && tconv_pipeline_preset_load (path, 0, 0, kernel, error);
}

/* Parses @f->path and checks that its stride is the one its name promises. */
static void
preset_file_read (TconvPresetFile *f)
{
  GError *error = NULL;
  gint64  sh, sw;

  if (tconv_pipeline_preset_split_name (f->base, &f->family, &sh, &sw))
    f->named_stride_h = sh, f->named_stride_w = sw;
  else
    f->family = g_strdup (f->base);
  if (!preset_load_any (f->path, &f->kernel, &error))
    {
      f->error = g_strdup (error->message);
      g_error_free (error);
    }
  else
    {
      f->stride_h = (gint64) f->kernel->stride_h;
      f->stride_w = (gint64) f->kernel->stride_w;
      if (f->named_stride_h > 0
          && (f->named_stride_h != f->stride_h || f->named_stride_w != f->stride_w))
        f->error = g_strdup_printf ("named for stride %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                                    " but holds stride %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
                                    f->named_stride_h, f->named_stride_w, f->stride_h,
                                    f->stride_w);
    }
  if (f->kernel == NULL)
    f->stride_h = f->named_stride_h, f->stride_w = f->named_stride_w;
}

/* Adds the *.tconv files of @dir whose names @seen does not hold yet. */
static void
list_folder (GPtrArray *list, GHashTable *seen, const gchar *folder)
{
  GDir        *dir = g_dir_open (folder, 0, NULL);
  const gchar *entry;

  if (dir == NULL)
    return;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      TconvPresetFile *f;

      if (!g_str_has_suffix (entry, ".tconv") || entry[0] == '.'
          || strlen (entry) == strlen (".tconv"))
        continue;
      f = g_new0 (TconvPresetFile, 1);
      f->base = g_strndup (entry, strlen (entry) - strlen (".tconv"));
      f->path = g_build_filename (folder, entry, NULL);
      if (g_hash_table_contains (seen, f->base)
          || !g_file_test (f->path, G_FILE_TEST_IS_REGULAR))
        {
          preset_file_free (f);
          continue;
        }
      g_hash_table_add (seen, f->base);
      preset_file_read (f);
      g_ptr_array_add (list, f);
    }
  g_dir_close (dir);
}

GPtrArray *
tconv_pipeline_presets_list (const gchar *const *installed)
{
  GPtrArray  *list = g_ptr_array_new_with_free_func (preset_file_free);
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  gchar     **dirs = tconv_pipeline_preset_dirs (installed);

  for (gchar **d = dirs; *d != NULL; d++)
    list_folder (list, seen, *d);
  g_strfreev (dirs);
  g_hash_table_destroy (seen);
  g_ptr_array_sort (list, compare_preset);
  return list;
}

gchar **
tconv_pipeline_preset_families (const gchar *const *installed)
{
  GPtrArray *list = tconv_pipeline_presets_list (installed);
  GPtrArray *names = g_ptr_array_new ();
  tconv_analytic type;

  for (int i = 0; i < TCONV_ANALYTIC_COUNT; i++)
    g_ptr_array_add (names, g_strdup (tconv_analytic_name ((tconv_analytic) i)));
  for (guint i = 0; i < list->len; i++)
    {
      const TconvPresetFile *f = g_ptr_array_index (list, i);
      const gchar           *last = names->len ? g_ptr_array_index (names, names->len - 1) : "";

      /* the list is sorted by family: a new family is one unlike the last name added */
      if (f->error != NULL || f->named_stride_h == 0 || strcmp (last, f->family) == 0
          || tconv_analytic_from_name (f->family, &type, NULL) == TCONV_OK)
        continue;
      g_ptr_array_add (names, g_strdup (f->family));
    }
  g_ptr_array_unref (list);
  g_ptr_array_add (names, NULL);
  return (gchar **) g_ptr_array_free (names, FALSE);
}

/* ---- lookup ---- */

static gboolean
valid_name (const gchar *name)
{
  gsize n = 0;

  for (const gchar *c = name; *c; c++, n++)
    if (!(g_ascii_islower (*c) || g_ascii_isdigit (*c) || *c == '-' || *c == '_' || *c == '.'))
      return FALSE;
  return n > 0 && n <= TCONV_KERNEL_NAME_MAX && strcmp (name, ".") != 0
         && strcmp (name, "..") != 0;
}

gchar *
tconv_pipeline_preset_locate (const gchar *file, const gchar *const *installed)
{
  gchar **dirs = tconv_pipeline_preset_dirs (installed);
  gchar  *found = NULL;

  for (gchar **d = dirs; found == NULL && *d != NULL; d++)
    {
      gchar *path = g_build_filename (*d, file, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        found = path;
      else
        g_free (path);
    }
  g_strfreev (dirs);
  return found;
}

static gchar *
stride_file (const gchar *name, gint64 stride_h, gint64 stride_w)
{
  if (stride_h == stride_w)
    return g_strdup_printf ("%s-x%" G_GINT64_FORMAT ".tconv", name, stride_h);
  return g_strdup_printf ("%s-x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ".tconv", name, stride_h,
                          stride_w);
}

/* "learned (x2 x3 x4), learned-small (x2 x3 x4)": the file presets in the path, for messages;
 * with @family set, only that family's strides ("x2 x3 x4"). */
static gchar *
describe_presets (const gchar *const *installed, const gchar *family)
{
  GPtrArray   *list = tconv_pipeline_presets_list (installed);
  GString     *s = g_string_new (NULL);
  const gchar *last = NULL;

  for (guint i = 0; i < list->len; i++)
    {
      const TconvPresetFile *f = g_ptr_array_index (list, i);
      tconv_analytic         type;

      if (f->error != NULL || f->named_stride_h == 0)
        continue;
      if (family != NULL)
        {
          if (strcmp (f->family, family) == 0)
            g_string_append_printf (s, "%s%s", s->len ? " " : "", f->base + strlen (family) + 1);
          continue;
        }
      if (tconv_analytic_from_name (f->family, &type, NULL) == TCONV_OK)
        continue;
      if (last == NULL || strcmp (last, f->family) != 0)
        g_string_append_printf (s, "%s%s (", last ? "), " : "", f->family);
      else
        g_string_append_c (s, ' ');
      g_string_append (s, f->base + strlen (f->family) + 1);
      last = f->family;
    }
  if (family == NULL && last != NULL)
    g_string_append_c (s, ')');
  g_ptr_array_unref (list);
  return g_string_free (s, FALSE);
}

/* The error for a name that is neither a preset file nor an analytic kernel. */
static void
set_unknown (GError **error, const gchar *name, gint64 sh, gint64 sw,
             const gchar *const *installed)
{
  gchar   *family = describe_presets (installed, name);
  gchar   *others = describe_presets (installed, NULL);
  GString *known = g_string_new (NULL);

  for (int i = 0; i < TCONV_ANALYTIC_COUNT; i++)
    g_string_append_printf (known, "%s%s", i ? ", " : "", tconv_analytic_name ((tconv_analytic) i));
  if (*family != '\0')
    g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                 "preset '%s' has no kernel for stride %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                 " (it exists for %s); the analytic kernels (%s) exist at any stride 1..16",
                 name, sh, sw, family, known->str);
  else
    g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                 "unknown kernel '%s': expected an analytic kernel (%s, any stride 1..16)%s%s"
                 "%s, or a path to a .tconv file ('tconv kernel list' shows them all)",
                 name, known->str, *others ? ", a preset (" : "", others, *others ? ")" : "");
  g_free (family);
  g_free (others);
  g_string_free (known, TRUE);
}

/* Loads the preset file @found, which its name says holds stride @nh x @nw. */
static gboolean
load_named (gchar *found, gint64 nh, gint64 nw, tconv_kernel **kernel, gchar **path,
            GError **error)
{
  gboolean ok = tconv_pipeline_preset_load (found, 0, 0, kernel, error);

  /* the file name promises a stride: a file that breaks it is refused, not guessed at */
  if (ok && ((gint64) (*kernel)->stride_h != nh || (gint64) (*kernel)->stride_w != nw))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_FAILED,
                   "preset file '%s' is named for stride %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " but holds a kernel for stride %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                   ": rename it or fix its 'stride' line",
                   found, nh, nw, (gsize) (*kernel)->stride_h, (gsize) (*kernel)->stride_w);
      g_clear_pointer (kernel, tconv_kernel_free);
      ok = FALSE;
    }
  if (ok && path != NULL)
    *path = g_steal_pointer (&found);
  g_free (found);
  return ok;
}

/* A full preset name "learned-x3" (split into @family, @nh x @nw): its own file, or the
 * analytic family at that stride. FALSE with nothing set (@found NULL) when neither exists. */
static gboolean
find_full_name (const gchar *name, const gchar *family, gint64 nh, gint64 nw, gint64 sh,
                gint64 sw, gboolean explicit_stride, const gchar *const *installed,
                gchar **found, GError **error)
{
  tconv_analytic type;
  const gboolean analytic = tconv_analytic_from_name (family, &type, NULL) == TCONV_OK;
  gchar         *file = g_strconcat (name, ".tconv", NULL);

  *found = tconv_pipeline_preset_locate (file, installed);
  g_free (file);
  if ((*found != NULL || analytic) && explicit_stride && (nh != sh || nw != sw))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "--stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ": kernel '%s' is for "
                   "stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT,
                   sh, sw, name, nh, nw);
      g_clear_pointer (found, g_free);
      return FALSE;
    }
  return TRUE;
}

static gboolean
generate (const gchar *name, tconv_analytic type, gint64 sh, gint64 sw, tconv_kernel **kernel,
          GError **error)
{
  tconv_error  err = { 0 };
  tconv_status st = tconv_kernel_analytic (type, (size_t) sh, (size_t) sw, kernel, &err);

  if (st != TCONV_OK)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID, "kernel '%s': %s",
                   name, tconv_pipeline_status_message (st, &err));
      return FALSE;
    }
  return TRUE;
}

gboolean
tconv_pipeline_preset_find (const gchar *name, gint64 stride_h, gint64 stride_w,
                            const gchar *const *installed, tconv_kernel **kernel, gchar **path,
                            GError **error)
{
  const gboolean explicit_stride = stride_h > 0 || stride_w > 0;
  const gint64   sh = stride_h > 0 ? stride_h : (stride_w > 0 ? stride_w : 2);
  const gint64   sw = stride_w > 0 ? stride_w : sh;
  tconv_analytic type;
  gchar         *file, *found = NULL, *family = NULL;
  gint64         nh, nw;

  *kernel = NULL;
  if (path != NULL)
    *path = NULL;
  /* The default single kernel: the learned presets where they exist (x2, x3, x4), else
   * bicubic (the default bank, when there is one, comes first: tconv_pipeline_bank_find()). */
  if (name == NULL)
    {
      gchar *learned = sh == sw && sh >= 2 && sh <= 4 ? stride_file ("learned", sh, sw) : NULL;
      gchar *where = learned ? tconv_pipeline_preset_locate (learned, installed) : NULL;

      name = where != NULL ? "learned" : "bicubic";
      g_free (learned), g_free (where);
    }
  if (!valid_name (name))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "kernel '%s': a kernel name is 1 to %u characters of [a-z0-9._-] (or give a "
                   "path to a .tconv file)",
                   name ? name : "", TCONV_KERNEL_NAME_MAX);
      return FALSE;
    }
  if (sh > TCONV_MAX_STRIDE || sw > TCONV_MAX_STRIDE)
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ": must be 1..%u", sh, sw,
                   TCONV_MAX_STRIDE);
      return FALSE;
    }

  if (tconv_pipeline_preset_split_name (name, &family, &nh, &nw))
    {
      gboolean ok = find_full_name (name, family, nh, nw, sh, sw, explicit_stride, installed,
                                    &found, error);

      /* "bicubic-x5" is bicubic at stride 5 even when no such file is shipped */
      if (ok && found == NULL && tconv_analytic_from_name (family, &type, NULL) == TCONV_OK)
        ok = tconv_pipeline_preset_find (family, nh, nw, installed, kernel, path, error);
      g_free (family);
      if (!ok || *kernel != NULL)
        return ok;
    }
  if (found == NULL)
    {
      nh = sh, nw = sw;
      file = stride_file (name, sh, sw);
      found = tconv_pipeline_preset_locate (file, installed);
      g_free (file);
    }
  if (found != NULL)
    return load_named (found, nh, nw, kernel, path, error);
  if (tconv_analytic_from_name (name, &type, NULL) == TCONV_OK)
    return generate (name, type, sh, sw, kernel, error);
  set_unknown (error, name, sh, sw, installed);
  return FALSE;
}

/* ---- kernel banks ---- */

static gboolean
load_bank (const gchar *path, gint64 sh, gint64 sw, tconv_bank **bank, GError **error)
{
  gchar       *text = NULL;
  gsize        len = 0;
  tconv_error  err = { 0 };
  tconv_status st;

  if (!read_preset (path, &text, &len, error))
    return FALSE;
  if (!tconv_text_is_bank (text, len))
    {
      g_free (text);
      return TRUE;
    }
  st = tconv_bank_parse (text, len, bank, &err);
  g_free (text);
  if (st != TCONV_OK)
    {
      set_parse_error (error, "kernel bank", path, st, &err);
      return FALSE;
    }
  if ((sh > 0 && (gint64) (*bank)->global->stride_h != sh)
      || (sw > 0 && (gint64) (*bank)->global->stride_w != sw))
    {
      g_set_error (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   "stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ": kernel bank '%s' is for "
                   "stride %" G_GSIZE_FORMAT " (a file keeps its own stride)", sh, sw, path,
                   (gsize) (*bank)->global->stride_h);
      g_clear_pointer (bank, tconv_bank_free);
      return FALSE;
    }
  return TRUE;
}

gboolean
tconv_pipeline_bank_find (const gchar *name, gint64 stride_h, gint64 stride_w,
                          const gchar *const *installed, tconv_bank **bank, gchar **path,
                          GError **error)
{
  const gint64 sh = stride_h > 0 ? stride_h : (stride_w > 0 ? stride_w : 2);
  const gint64 sw = stride_w > 0 ? stride_w : sh;
  gchar       *found = NULL, *file;
  gint64       nh, nw;
  gboolean     ok;

  *bank = NULL;
  if (path != NULL)
    *path = NULL;
  /* The default kernel: the adaptive banks where they exist (x2, x3, x4), chosen on the
   * validation photographs (presets/README-adaptive.md). */
  if (name == NULL || *name == '\0')
    {
      if (sh != sw || sh < 2 || sh > 4)
        return TRUE;
      name = "adaptive";
    }
  if (strchr (name, '/') != NULL || g_str_has_suffix (name, ".tconv"))
    {
      GStatBuf st;
      /* a missing file is for the kernel loader to report */
      if (g_stat (name, &st) != 0)
        return TRUE;
      ok = load_bank (name, stride_h, stride_w, bank, error);
      if (ok && *bank != NULL && path != NULL)
        *path = g_strdup (name);
      return ok;
    }
  if (!valid_name (name))
    return TRUE;
  if (tconv_pipeline_preset_split_name (name, NULL, &nh, &nw))
    file = g_strconcat (name, ".tconv", NULL);
  else
    file = stride_file (name, sh, sw);
  found = tconv_pipeline_preset_locate (file, installed);
  g_free (file);
  ok = found == NULL || load_bank (found, 0, 0, bank, error);
  if (ok && *bank != NULL && path != NULL)
    *path = g_steal_pointer (&found);
  g_free (found);
  return ok;
}

gboolean
tconv_pipeline_preset_is_bank (const gchar *family, const gchar *const *installed)
{
  for (gint64 s = 2; s <= 4; s++)
    {
      gchar   *file = stride_file (family, s, s);
      gchar   *path = tconv_pipeline_preset_locate (file, installed);
      gchar    head[32] = { 0 };
      FILE    *f = path != NULL ? fopen (path, "rb") : NULL;
      gsize    n = f != NULL ? fread (head, 1, sizeof head - 1, f) : 0;
      gboolean bank = tconv_text_is_bank (head, n);

      if (f != NULL)
        fclose (f);
      g_free (file), g_free (path);
      if (bank)
        return TRUE;
    }
  return FALSE;
}
