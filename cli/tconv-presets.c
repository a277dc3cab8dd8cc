/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The preset search path and preset lookup: NAME + stride -> NAME-xS.tconv in the first preset
 * folder that has it, or an analytic kernel generated at that stride. Folders, most specific
 * first: $TCONV_PRESET_DIR (colon-separated), the user's $XDG_DATA_HOME/tconv/presets, an
 * extra folder (a GIMP plug-in's own), <bindir>/../share/tconv next to the running binary,
 * the configured install folder, and the source tree's presets/ when the binary runs from its
 * build folder. A file in an earlier folder hides one of the same name in a later folder. */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "tconv-cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* realpath() of @path, or a copy of @path when it does not resolve. */
static gchar *
canonical (const char *path)
{
  char *r = realpath (path, NULL);
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

/* Whether the binary runs from inside @root (its build folder). */
static gboolean
runs_from (const char *root)
{
  gchar   *dir = exe_dir ();
  gchar   *r = canonical (root);
  gsize    n = strlen (r);
  gboolean inside;

  inside = dir != NULL && strncmp (dir, r, n) == 0 && (dir[n] == '/' || dir[n] == '\0');
  g_free (dir);
  g_free (r);
  return inside;
}

static void
add_dir (GPtrArray *dirs, GPtrArray *seen, const char *dir)
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
tconv_preset_dirs (const char *extra_dir)
{
  GPtrArray   *dirs = g_ptr_array_new ();
  GPtrArray   *seen = g_ptr_array_new_with_free_func (g_free);
  const char  *env = g_getenv ("TCONV_PRESET_DIR");
  gchar       *user = g_build_filename (g_get_user_data_dir (), "tconv", "presets", NULL);
  gchar       *bin = exe_dir ();

  if (env != NULL)
    {
      gchar **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (gchar **p = parts; *p != NULL; p++)
        add_dir (dirs, seen, *p);
      g_strfreev (parts);
    }
  add_dir (dirs, seen, user);
  add_dir (dirs, seen, extra_dir);
#ifdef TCONV_PRESET_DIR_RELATIVE
  if (bin != NULL)
    {
      /* lexically: ".." steps out of the binary's real folder, whether or not it exists */
      gchar *rel = g_canonicalize_filename (TCONV_PRESET_DIR_RELATIVE, bin);

      add_dir (dirs, seen, rel);
      g_free (rel);
    }
#endif
#ifdef TCONV_PRESET_DIR_INSTALLED
  add_dir (dirs, seen, TCONV_PRESET_DIR_INSTALLED);
#endif
#if defined(TCONV_PRESET_DIR_SOURCE) && defined(TCONV_BUILD_ROOT)
  if (runs_from (TCONV_BUILD_ROOT))
    add_dir (dirs, seen, TCONV_PRESET_DIR_SOURCE);
#endif
  g_free (user);
  g_free (bin);
  g_ptr_array_free (seen, TRUE);
  g_ptr_array_add (dirs, NULL);
  return (gchar **) g_ptr_array_free (dirs, FALSE);
}

/* ---- files ---- */

gboolean
tconv_preset_load (const char *path, gint64 stride_h, gint64 stride_w, tconv_kernel **kernel,
                   GError **error)
{
  gchar       *text = NULL;
  gsize        len = 0;
  tconv_error  err = { 0 };
  tconv_status st;

  *kernel = NULL;
  if (!tconv_read_file (path, TCONV_KERNEL_FILE_MAX, &text, &len, error))
    return FALSE;
  st = tconv_kernel_parse (text, len, kernel, &err);
  g_free (text);
  if (st != TCONV_OK)
    {
      if (err.line > 0)
        g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_ERROR, "kernel file '%s':%u:%u: %s",
                     path, err.line, err.column, err.message);
      else
        g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_ERROR, "kernel file '%s': %s", path,
                     err.message[0] ? err.message : tconv_status_string (st));
      return FALSE;
    }
  if ((stride_h > 0 && (gint64) (*kernel)->stride_h != stride_h)
      || (stride_w > 0 && (gint64) (*kernel)->stride_w != stride_w))
    {
      g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_USAGE,
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
tconv_preset_split_name (const char *base, gchar **family, gint64 *stride_h, gint64 *stride_w)
{
  const char *x = strrchr (base, '-');
  gint64      v[2] = { 0, 0 };
  int         n = 0;
  const char *p;

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

GPtrArray *
tconv_presets_list (const char *extra_dir)
{
  GPtrArray  *list = g_ptr_array_new_with_free_func (preset_file_free);
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  gchar     **dirs = tconv_preset_dirs (extra_dir);

  for (gchar **d = dirs; *d != NULL; d++)
    {
      GDir       *dir = g_dir_open (*d, 0, NULL);
      const char *entry;

      if (dir == NULL)
        continue;
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          TconvPresetFile *f;
          GError          *error = NULL;
          gint64           sh, sw;

          if (!g_str_has_suffix (entry, ".tconv") || entry[0] == '.'
              || strlen (entry) == strlen (".tconv"))
            continue;
          f = g_new0 (TconvPresetFile, 1);
          f->base = g_strndup (entry, strlen (entry) - strlen (".tconv"));
          if (g_hash_table_contains (seen, f->base))
            {
              preset_file_free (f);
              continue;
            }
          f->path = g_build_filename (*d, entry, NULL);
          if (!g_file_test (f->path, G_FILE_TEST_IS_REGULAR))
            {
              preset_file_free (f);
              continue;
            }
          g_hash_table_add (seen, f->base);
          if (tconv_preset_split_name (f->base, &f->family, &sh, &sw))
            f->named_stride_h = sh, f->named_stride_w = sw;
          else
            f->family = g_strdup (f->base);
          if (!tconv_preset_load (f->path, 0, 0, &f->kernel, &error))
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
          g_ptr_array_add (list, f);
        }
      g_dir_close (dir);
    }
  g_strfreev (dirs);
  g_hash_table_destroy (seen);
  g_ptr_array_sort (list, compare_preset);
  return list;
}

/* ---- lookup ---- */

static gboolean
valid_name (const char *name)
{
  gsize n = 0;

  for (const char *c = name; *c; c++, n++)
    if (!(g_ascii_islower (*c) || g_ascii_isdigit (*c) || *c == '-' || *c == '_' || *c == '.'))
      return FALSE;
  return n > 0 && n <= TCONV_KERNEL_NAME_MAX && strcmp (name, ".") != 0
         && strcmp (name, "..") != 0;
}

gchar *
tconv_preset_locate (const char *file, const char *extra_dir)
{
  gchar **dirs = tconv_preset_dirs (extra_dir);
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
stride_file (const char *name, gint64 stride_h, gint64 stride_w)
{
  if (stride_h == stride_w)
    return g_strdup_printf ("%s-x%" G_GINT64_FORMAT ".tconv", name, stride_h);
  return g_strdup_printf ("%s-x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ".tconv", name, stride_h,
                          stride_w);
}

/* "learned (x2 x3 x4), learned-small (x2 x3 x4)": the file presets in the path, for messages;
 * with @family set, only that family's strides ("x2 x3 x4"). */
static gchar *
describe_presets (const char *extra_dir, const char *family)
{
  GPtrArray  *list = tconv_presets_list (extra_dir);
  GString    *s = g_string_new (NULL);
  const char *last = NULL;

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
      if (tconv_analytic_from_name (f->family, &type) == TCONV_OK)
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

gboolean
tconv_preset_find (const char *name, gint64 stride_h, gint64 stride_w, const char *extra_dir,
                   tconv_kernel **kernel, gchar **path, GError **error)
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
  if (name == NULL || !valid_name (name))
    {
      g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_USAGE,
                   "kernel '%s': a kernel name is 1 to %u characters of [a-z0-9._-] (or give a "
                   "path to a .tconv file)",
                   name ? name : "", TCONV_KERNEL_NAME_MAX);
      return FALSE;
    }
  if (sh > TCONV_MAX_STRIDE || sw > TCONV_MAX_STRIDE)
    {
      g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_USAGE,
                   "stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ": must be 1..%u", sh, sw,
                   TCONV_MAX_STRIDE);
      return FALSE;
    }

  /* A full preset name ("learned-x3") is its own file; an explicit stride must agree. */
  if (tconv_preset_split_name (name, &family, &nh, &nw))
    {
      const gboolean analytic = tconv_analytic_from_name (family, &type) == TCONV_OK;

      file = g_strconcat (name, ".tconv", NULL);
      found = tconv_preset_locate (file, extra_dir);
      g_free (file);
      if ((found != NULL || analytic) && explicit_stride && (nh != sh || nw != sw))
        {
          g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_USAGE,
                       "--stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ": kernel '%s' is for "
                       "stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT,
                       sh, sw, name, nh, nw);
          g_free (found);
          g_free (family);
          return FALSE;
        }
      /* "bicubic-x5" is bicubic at stride 5 even when no such file is shipped */
      if (found == NULL && analytic)
        {
          gboolean ok = tconv_preset_find (family, nh, nw, extra_dir, kernel, path, error);

          g_free (family);
          return ok;
        }
      g_free (family);
    }
  if (found == NULL)
    {
      nh = sh, nw = sw;
      file = stride_file (name, sh, sw);
      found = tconv_preset_locate (file, extra_dir);
      g_free (file);
    }
  if (found != NULL)
    {
      gboolean ok = tconv_preset_load (found, 0, 0, kernel, error);

      /* the file name promises a stride: a file that breaks it is refused, not guessed at */
      if (ok && ((gint64) (*kernel)->stride_h != nh || (gint64) (*kernel)->stride_w != nw))
        {
          g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_ERROR,
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

  if (tconv_analytic_from_name (name, &type) == TCONV_OK)
    {
      tconv_error  err = { 0 };
      tconv_status st = tconv_kernel_analytic (type, (size_t) sh, (size_t) sw, kernel, &err);

      if (st != TCONV_OK)
        {
          g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_USAGE, "kernel '%s': %s", name,
                       err.message[0] ? err.message : tconv_status_string (st));
          return FALSE;
        }
      return TRUE;
    }

  /* Unknown: say what exists, at this stride and at others. */
  {
    gchar   *family = describe_presets (extra_dir, name);
    gchar   *others = describe_presets (extra_dir, NULL);
    GString *known = g_string_new (NULL);

    for (int i = 0; i < TCONV_ANALYTIC_COUNT; i++)
      g_string_append_printf (known, "%s%s", i ? ", " : "",
                              tconv_analytic_name ((tconv_analytic) i));
    if (*family != '\0')
      g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_USAGE,
                   "preset '%s' has no kernel for stride %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " (it exists for %s); the analytic kernels (%s) exist at any stride 1..16",
                   name, sh, sw, family, known->str);
    else
      g_set_error (error, TCONV_CLI_ERROR, TCONV_EXIT_USAGE,
                   "unknown kernel '%s': expected an analytic kernel (%s, any stride 1..16)%s%s"
                   "%s, or a path to a .tconv file ('tconv kernel list' shows them all)",
                   name, known->str, *others ? ", a preset (" : "", others,
                   *others ? ")" : "");
    g_free (family);
    g_free (others);
    g_string_free (known, TRUE);
  }
  return FALSE;
}
