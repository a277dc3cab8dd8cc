/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv kernel: list, show, make, import and normalize up-sampling kernels (.tconv files).
 * Every output (.tconv, .npy, .png) is written atomically, and only after every check has
 * passed, so a failing command never leaves an output file. The heatmap of `show --png` is
 * drawn in tconv-kernel-png.c. */
#include "tconv-cli.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Phase sums that agree to this relative spread are equal to float32 precision: a kernel of
 * float taps cannot do better, and 1e-6 of a full-scale 8-bit level is invisible. */
#define RISK_ZERO 1e-6

/* ---------------------------------------------------------------------------------------------
 * Shared helpers
 */

static GError *
usage_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static GError *
usage_error (const char *fmt, ...)
{
  va_list ap;
  gchar  *msg;
  GError *e;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  e = g_error_new_literal (CLI_ERROR, CLI_EXIT_USAGE, msg);
  g_free (msg);
  return e;
}

/* Parses the options of one subcommand; leaves the positional arguments in @argc/@argv. */
static gboolean
parse_options (const char *params, const char *summary, GOptionEntry *entries, int *argc,
               char ***argv, GError **error)
{
  GOptionContext *ctx = g_option_context_new (params);
  gboolean        ok;

  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, argc, argv, error);
  g_option_context_free (ctx);
  if (!ok)
    {
      (*error)->domain = CLI_ERROR;
      (*error)->code = CLI_EXIT_USAGE;
    }
  return ok;
}

/* Exactly @n positional arguments after the subcommand name. */
static gboolean
positional (int argc, char **argv, int n, const char *what, GError **error)
{
  if (argc - 1 < n)
    {
      g_propagate_error (error, usage_error ("missing %s", what));
      return FALSE;
    }
  if (argc - 1 > n)
    {
      g_propagate_error (error, usage_error ("unexpected argument '%s'", argv[n + 1]));
      return FALSE;
    }
  return TRUE;
}

/* "S" or "SH,SW", each 1..TCONV_MAX_STRIDE; NULL leaves both 0 (unspecified). */
static gboolean
parse_stride (const char *text, gint64 *sh, gint64 *sw, GError **error)
{
  gchar  **parts;
  guint    n;
  gboolean ok;

  *sh = *sw = 0;
  if (text == NULL)
    return TRUE;
  parts = g_strsplit (text, ",", -1);
  n = g_strv_length (parts);
  if (n == 1)
    ok = cli_parse_int ("--stride", parts[0], 1, TCONV_MAX_STRIDE, sh, error) && (*sw = *sh, TRUE);
  else if (n == 2)
    ok = cli_parse_int ("--stride", parts[0], 1, TCONV_MAX_STRIDE, sh, error)
         && cli_parse_int ("--stride", parts[1], 1, TCONV_MAX_STRIDE, sw, error);
  else
    {
      g_propagate_error (error, usage_error ("--stride '%s': expected S or SH,SW", text));
      ok = FALSE;
    }
  g_strfreev (parts);
  return ok;
}

/* "P" or "PH,PW" within lo..hi. */
static gboolean
parse_pair_range (const char *option, const char *text, gint64 lo, gint64 hi, gint64 *a,
                  gint64 *b, GError **error)
{
  if (!cli_parse_pair (option, text, a, b, error))
    return FALSE;
  if (*a < lo || *b < lo || *a > hi || *b > hi)
    {
      g_propagate_error (error, usage_error ("%s '%s': must be %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                                             option, text, lo, hi));
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_path (const char *name)
{
  return strchr (name, '/') != NULL || g_str_has_suffix (name, ".tconv");
}

/* NAME (a preset or analytic kernel) or FILE (a .tconv path); @path gets the file, if any. */
static gboolean
resolve_kernel (const char *arg, gint64 sh, gint64 sw, tconv_kernel **kernel, gchar **path,
                GError **error)
{
  if (is_path (arg))
    {
      if (!cli_preset_load (arg, sh, sw, kernel, error))
        return FALSE;
      *path = g_strdup (arg);
      return TRUE;
    }
  return cli_preset_find (arg, sh, sw, kernel, path, error);
}

/* Shortest "%.Ng" text (N <= 9) that reads back to exactly @v. LC_NUMERIC is "C" (main()). */
static const char *
fmt_float (float v, char buf[32])
{
  for (int p = 1; p <= 9; p++)
    {
      snprintf (buf, 32, "%.*g", p, (double) v);
      if (strtof (buf, NULL) == v && signbit (strtof (buf, NULL)) == signbit (v))
        break;
    }
  return buf;
}

/* The command line as a shell would need it, valid UTF-8 without control characters, at most
 * TCONV_KERNEL_TEXT_MAX bytes: the "command" of an imported kernel. */
static gchar *
command_line (int argc, char **argv)
{
  GString *s = g_string_new ("tconv");
  gchar   *valid;
  gsize    n;

  for (int i = 0; i < argc; i++)
    {
      const char *a = argv[i];
      gboolean    plain = *a != '\0';

      for (const char *c = a; *c && plain; c++)
        plain = g_ascii_isalnum (*c) || strchr ("_./,:=+-@%", *c) != NULL;
      g_string_append_c (s, ' ');
      if (plain)
        g_string_append (s, a);
      else
        {
          gchar *q = g_shell_quote (a);
          g_string_append (s, q);
          g_free (q);
        }
    }
  valid = g_utf8_make_valid (s->str, -1);
  g_string_free (s, TRUE);
  for (gchar *c = valid; *c; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = '?';
  /* C1 controls (U+0080..U+009F) are not allowed either */
  {
    GString *t = g_string_new (NULL);
    for (const gchar *c = valid; *c; c = g_utf8_next_char (c))
      {
        gunichar u = g_utf8_get_char (c);
        if (u >= 0x80 && u <= 0x9f)
          g_string_append_c (t, '?');
        else
          g_string_append_unichar (t, u);
      }
    g_free (valid);
    valid = g_string_free (t, FALSE);
  }
  /* cut at a character boundary */
  n = strlen (valid);
  if (n > TCONV_KERNEL_TEXT_MAX)
    {
      gsize cut = TCONV_KERNEL_TEXT_MAX;
      while (cut > 0 && ((guchar) valid[cut] & 0xC0) == 0x80)
        cut--;
      valid[cut] = '\0';
    }
  return valid;
}

/* A file path as one line of valid UTF-8 of at most TCONV_KERNEL_TEXT_MAX bytes. */
static gchar *
display_path (const char *path)
{
  gchar *d = g_filename_display_name (path);

  for (gchar *c = d; *c; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = '?';
  if (strlen (d) > TCONV_KERNEL_TEXT_MAX)
    {
      gsize cut = TCONV_KERNEL_TEXT_MAX;
      while (cut > 0 && ((guchar) d[cut] & 0xC0) == 0x80)
        cut--;
      d[cut] = '\0';
    }
  return d;
}

/* Writes @text (freed here) to @path atomically: all of it or nothing. */
static gboolean
write_text (const char *path, gchar *text, gsize len, GError **error)
{
  CliAtomic *f = cli_atomic_open (path, error);
  gboolean   ok = f != NULL && cli_atomic_write (f, text, len, error);

  g_free (text);
  if (!ok)
    {
      cli_atomic_abort (f);
      return FALSE;
    }
  return cli_atomic_commit (f, error);
}

gboolean
cli_kernel_write (const tconv_kernel *k, const char *path, GError **error)
{
  gsize        len = 0;
  gchar       *text;
  tconv_error  err = { 0 };
  tconv_status st;

  if ((st = tconv_kernel_validate (k, &err)) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot write '%s': %s", path,
                   tconv_pipeline_status_message (st, &err));
      return FALSE;
    }
  if ((st = tconv_kernel_write (k, NULL, 0, &len, NULL)) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "cannot write '%s': the kernel's text would be %" G_GSIZE_FORMAT " bytes (%s; "
                   "at most %u)",
                   path, len, tconv_status_string (st), TCONV_KERNEL_FILE_MAX);
      return FALSE;
    }
  text = g_malloc (len + 1);
  tconv_kernel_write (k, text, len + 1, &len, NULL);
  return write_text (path, text, len, error);
}

gboolean
cli_bank_write (const tconv_bank *b, const char *path, GError **error)
{
  gsize       len = 0;
  tconv_error err = { 0 };

  if (tconv_bank_write (b, NULL, 0, &len, &err) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot write '%s': %s", path, err.message);
      return FALSE;
    }
  gchar *text = g_malloc (len + 1);
  tconv_bank_write (b, text, len + 1, &len, NULL);
  return write_text (path, text, len, error);
}

/* Per-channel checkerboard risk, as tconv_kernel_analyze() defines it. */
static double
channel_risk (const double *sums, gsize n, double *mean_out)
{
  double lo = INFINITY, hi = -INFINITY, total = 0.0;

  for (gsize i = 0; i < n; i++)
    lo = fmin (lo, sums[i]), hi = fmax (hi, sums[i]), total += sums[i];
  *mean_out = total / (double) n;
  if (hi == lo)
    return 0.0;
  if (total == 0.0)
    return INFINITY;
  return (hi - lo) / fabs (total / (double) n);
}

static void
print_risk (const char *label, double risk)
{
  if (risk <= RISK_ZERO)
    printf ("%-19s 0 (phase sums equal to float precision; (max - min) / mean = %.3g)\n", label,
            risk);
  else
    printf ("%-19s %.6g ((max - min) / mean of the phase sums: a flat image gets a pattern of "
            "%.3g%% peak to peak; 'tconv kernel normalize' removes it)\n",
            label, risk, 100.0 * risk);
}

/* ---------------------------------------------------------------------------------------------
 * tconv kernel list
 */

/* "Bicubic ..., x2 up-sampling, ..." -> "..., xS up-sampling, ...": one line for all strides. */
static gchar *
replace_token (const char *text, const char *token, const char *by)
{
  GString *s = g_string_new (NULL);
  gsize    n = strlen (token);

  for (const char *p = text; *p;)
    {
      if (strncmp (p, token, n) == 0 && (p == text || !g_ascii_isalnum (p[-1]))
          && !g_ascii_isalnum (p[n]))
        {
          g_string_append (s, by);
          p += n;
        }
      else
        g_string_append_c (s, *p++);
    }
  return g_string_free (s, FALSE);
}

/* ... and "12x12 taps" -> "KxK taps", as the size grows with the stride. */
static gchar *
generic_description (const tconv_kernel *k)
{
  gchar *token = k->stride_h == k->stride_w
                   ? g_strdup_printf ("x%zu", k->stride_h)
                   : g_strdup_printf ("x%zux%zu", k->stride_h, k->stride_w);
  gchar *size = g_strdup_printf ("%zux%zu", k->k_h, k->k_w);
  gchar *a = replace_token (k->description, token, "xS");
  gchar *b = replace_token (a, size, "KxK");

  g_free (token), g_free (size), g_free (a);
  return b;
}

static gchar *
stride_label (gint64 sh, gint64 sw)
{
  if (sh <= 0)
    return g_strdup ("?");
  if (sh == sw)
    return g_strdup_printf ("x%" G_GINT64_FORMAT, sh);
  return g_strdup_printf ("x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT, sh, sw);
}

/* --verbose: the preset folders, then every file with its path. */
static void
list_verbose (const GPtrArray *list)
{
  gchar **dirs = tconv_pipeline_preset_dirs (cli_preset_installed ());

  puts ("preset folders, first match wins:");
  for (gchar **d = dirs; *d != NULL; d++)
    printf ("  %s%s\n", *d, g_file_test (*d, G_FILE_TEST_IS_DIR) ? "" : "  (missing)");
  g_strfreev (dirs);
  puts ("");
  for (guint i = 0; i < list->len; i++)
    {
      const TconvPresetFile *f = g_ptr_array_index (list, i);
      gchar                 *st = stride_label (f->stride_h, f->stride_w);

      if (f->kernel != NULL && f->error == NULL)
        printf ("%-22s %-7s %3zux%-3zu %-9s %s\n", f->base, st, f->kernel->k_h,
                f->kernel->k_w, f->kernel->provenance == TCONV_PROVENANCE_ANALYTIC ? "analytic"
                                : f->kernel->provenance == TCONV_PROVENANCE_IMPORTED ? "imported"
                                                                                     : "learned",
                f->path);
      else
        printf ("%-22s %-7s %-7s %-9s %s: cannot be used: %s\n", f->base, st, "-", "-", f->path,
                f->error);
      g_free (st);
    }
}

/* One line per analytic kernel: the strides its files exist at, else "any 1..16". */
static void
list_analytic (const GPtrArray *list)
{
  for (int t = 0; t < TCONV_ANALYTIC_COUNT; t++)
    {
      const char   *name = tconv_analytic_name ((tconv_analytic) t);
      GString      *strides = g_string_new (NULL);
      gchar        *desc = NULL;
      tconv_kernel *k = NULL;

      for (guint j = 0; j < list->len; j++)
        {
          const TconvPresetFile *f = g_ptr_array_index (list, j);
          gchar                 *st;

          if (strcmp (f->family, name) != 0 || f->named_stride_h == 0 || f->error != NULL)
            continue;
          st = stride_label (f->stride_h, f->stride_w);
          g_string_append_printf (strides, "%s ", st);
          g_free (st);
          if (desc == NULL)
            desc = generic_description (f->kernel);
        }
      g_string_append (strides, strides->len ? "(any 1..16)" : "any 1..16");
      if (desc == NULL && tconv_kernel_analytic ((tconv_analytic) t, 2, 2, &k, NULL) == TCONV_OK)
        desc = generic_description (k);
      tconv_kernel_free (k);
      printf ("%-16s %-24s %s\n", name, strides->str, desc ? desc : "");
      g_string_free (strides, TRUE);
      g_free (desc);
    }
}

/* The family of list[@i] on one line (its strides, a description, files that cannot be
 * used); returns the index after the family. Analytic families were listed already (only
 * their broken files are). */
static guint
list_family (const GPtrArray *list, guint i)
{
  const TconvPresetFile *first = g_ptr_array_index (list, i);
  tconv_analytic         type;
  GString               *strides = g_string_new (NULL);
  GString               *broken = g_string_new (NULL);
  gchar                 *desc = NULL;
  guint                  j = i;

  for (; j < list->len; j++)
    {
      const TconvPresetFile *f = g_ptr_array_index (list, j);
      gchar                 *st;

      if (strcmp (f->family, first->family) != 0)
        break;
      if (f->error != NULL)
        {
          g_string_append_printf (broken, "; %s.tconv cannot be used: %s", f->base, f->error);
          continue;
        }
      st = stride_label (f->stride_h, f->stride_w);
      g_string_append_printf (strides, "%s%s", strides->len ? " " : "", st);
      g_free (st);
      if (desc == NULL)
        desc = f->named_stride_h > 0 ? generic_description (f->kernel)
                                     : g_strdup (f->kernel->description);
    }
  if (tconv_analytic_from_name (first->family, &type, NULL) != TCONV_OK || broken->len)
    printf ("%-16s %-24s %s%s\n", first->family, strides->len ? strides->str : "-",
            desc ? desc : "", broken->str);
  g_string_free (strides, TRUE);
  g_string_free (broken, TRUE);
  g_free (desc);
  return j;
}

static int
cmd_list (int argc, char **argv, GError **error)
{
  gboolean     verbose = FALSE;
  GOptionEntry entries[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Show the preset folders, then every file with its path", NULL },
    G_OPTION_ENTRY_NULL,
  };
  GPtrArray   *list;

  if (!parse_options ("- list the kernels",
                      "Lists every preset (*.tconv in the preset folders) and the analytic "
                      "kernels, one line each: name, strides, description. Analytic kernels "
                      "exist at any stride 1..16 (generated on demand); a preset file only at "
                      "its own.",
                      entries, &argc, &argv, error)
      || !positional (argc, argv, 0, "", error))
    return FALSE;

  list = tconv_pipeline_presets_list (cli_preset_installed ());
  if (verbose)
    list_verbose (list);
  else
    {
      printf ("%-16s %-24s %s\n", "NAME", "STRIDES", "DESCRIPTION");
      /* The analytic kernels first (always available), then the file families, by name. */
      list_analytic (list);
      for (guint i = 0; i < list->len;)
        i = list_family (list, i);
    }
  g_ptr_array_unref (list);
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * tconv kernel show
 */

static const char *
provenance_name (tconv_provenance p)
{
  switch (p)
    {
    case TCONV_PROVENANCE_ANALYTIC:
      return "analytic";
    case TCONV_PROVENANCE_IMPORTED:
      return "imported";
    case TCONV_PROVENANCE_LEARNED:
      return "learned";
    default:
      return "?";
    }
}

/* Prints rows of floats right-aligned in columns, each in its shortest exact form. */
static void
print_matrix (const float *w, gsize rows, gsize cols, const char *indent)
{
  char buf[32];
  int  width = 1;

  for (gsize i = 0; i < rows * cols; i++)
    width = MAX (width, (int) strlen (fmt_float (w[i], buf)));
  for (gsize y = 0; y < rows; y++)
    {
      fputs (indent, stdout);
      for (gsize x = 0; x < cols; x++)
        printf ("%s%*s", x ? " " : "", width, fmt_float (w[y * cols + x], buf));
      putchar ('\n');
    }
}

/* The header lines: name, provenance, geometry, bias. */
static void
print_kernel_header (const tconv_kernel *k, const char *path)
{
  const gboolean exact = k->k_h + k->opad_h == 2 * k->pad_h + k->stride_h
                         && k->k_w + k->opad_w == 2 * k->pad_w + k->stride_w;
  char           buf[32];

  printf ("%-19s %s\n", "name", k->name);
  printf ("%-19s %s\n", "file", path ? path : "(generated: analytic kernel)");
  if (k->description[0])
    printf ("%-19s %s\n", "description", k->description);
  printf ("%-19s %s\n", "provenance", provenance_name (k->provenance));
  if (k->source)
    printf ("%-19s %s\n", "source", k->source);
  if (k->degradation)
    printf ("%-19s %s\n", "degradation", k->degradation);
  if (k->command)
    printf ("%-19s %s\n", "command", k->command);
  if (k->comments)
    {
      gchar **lines = g_strsplit (k->comments, "\n", -1);
      for (gchar **l = lines; *l; l++)
        printf ("%-19s # %s\n", l == lines ? "comments" : "", *l);
      g_strfreev (lines);
    }
  printf ("%-19s %zux%zu (rows x columns)\n", "stride", k->stride_h, k->stride_w);
  printf ("%-19s %zux%zu taps\n", "size", k->k_h, k->k_w);
  printf ("%-19s %zu,%zu (output padding %zu,%zu)\n", "padding", k->pad_h, k->pad_w, k->opad_h,
          k->opad_w);
  if (exact)
    printf ("%-19s exactly %zux%zu times the input\n", "output size", k->stride_h, k->stride_w);
  else
    printf ("%-19s (in - 1) * stride + %td rows, + %td columns (not exactly %zux%zu times the "
            "input)\n",
            "output size",
            (ptrdiff_t) k->k_h + (ptrdiff_t) k->opad_h - 2 * (ptrdiff_t) k->pad_h,
            (ptrdiff_t) k->k_w + (ptrdiff_t) k->opad_w - 2 * (ptrdiff_t) k->pad_w, k->stride_h,
            k->stride_w);
  printf ("%-19s %zu%s\n", "channels", k->channels,
          k->channels == 1 ? " (one kernel for every image channel)" : " (one kernel per channel)");
  if (k->bias)
    {
      printf ("%-19s", "bias");
      for (gsize c = 0; c < k->channels; c++)
        printf (" %s", fmt_float (k->bias[c], buf));
      putchar ('\n');
    }
}

/* Channel @c: its weights and the table of its phase sums. */
static void
print_kernel_channel (const tconv_kernel *k, gsize c, double *sums)
{
  const gsize np = k->stride_h * k->stride_w;
  double      mean, risk;
  int         width = 1;
  char        buf[32];

  putchar ('\n');
  if (k->channels > 1)
    printf ("channel %zu\n", c);
  printf ("weights (%zu rows x %zu columns):\n", k->k_h, k->k_w);
  print_matrix (k->weights + c * k->k_h * k->k_w, k->k_h, k->k_w, "  ");

  tconv_kernel_phase_sums (k, c, sums, NULL);
  risk = channel_risk (sums, np, &mean);
  for (gsize i = 0; i < np; i++)
    width = MAX (width, snprintf (buf, sizeof buf, "%.7g", sums[i]));
  width = MAX (width, 3);
  printf ("phase sums (DC gain of output phase ry, rx: the taps ky mod %zu = ry, "
          "kx mod %zu = rx):\n",
          k->stride_h, k->stride_w);
  printf ("  %-7s", "ry\\rx");
  for (gsize rx = 0; rx < k->stride_w; rx++)
    printf (" %*zu", width, rx);
  putchar ('\n');
  for (gsize ry = 0; ry < k->stride_h; ry++)
    {
      printf ("  %-7zu", ry);
      for (gsize rx = 0; rx < k->stride_w; rx++)
        {
          snprintf (buf, sizeof buf, "%.7g", sums[ry * k->stride_w + rx]);
          printf (" %*s", width, buf);
        }
      putchar ('\n');
    }
  printf ("%-19s %.9g\n", "mean phase sum", mean);
  if (k->channels > 1)
    print_risk ("channel risk", risk);
}

/* The rank-1 factors of a separable kernel, per channel (@col, @row from
 * tconv_kernel_factor()). */
static void
print_kernel_factors (const tconv_kernel *k, float *col, float *row)
{
  printf ("%-19s yes: weights[y][x] = column[y] * row[x] (to 1e-6 of the largest tap)\n",
          "separable");
  for (gsize c = 0; c < k->channels; c++)
    {
      float *cc = col + c * k->k_h, *rr = row + c * k->k_w;
      double sr = 0.0;

      /* Present the factors with the row's phases summing to 1 on average (the 1-D
       * interpolation kernel for the analytic ones); the product is unchanged. */
      for (gsize x = 0; x < k->k_w; x++)
        sr += rr[x];
      if (sr != 0.0 && isfinite (sr))
        {
          const double f = (double) k->stride_w / sr;
          for (gsize x = 0; x < k->k_w; x++)
            rr[x] = (float) (rr[x] * f);
          for (gsize y = 0; y < k->k_h; y++)
            cc[y] = (float) (cc[y] / f);
        }
      if (k->channels > 1)
        printf ("  channel %zu\n", c);
      printf ("  column:");
      for (gsize y = 0; y < k->k_h; y++)
        printf (" %.6g", (double) cc[y]);
      printf ("\n  row:   ");
      for (gsize x = 0; x < k->k_w; x++)
        printf (" %.6g", (double) rr[x]);
      putchar ('\n');
    }
}

static void
print_kernel (const tconv_kernel *k, const char *path)
{
  tconv_kernel_analysis a;
  double               *sums = g_new (double, k->stride_h * k->stride_w);
  float                *col = g_new (float, k->channels * k->k_h);
  float                *row = g_new (float, k->channels * k->k_w);
  int                   separable = 0;

  tconv_kernel_analyze (k, &a, NULL);
  print_kernel_header (k, path);
  for (gsize c = 0; c < k->channels; c++)
    print_kernel_channel (k, c, sums);

  putchar ('\n');
  print_risk ("checkerboard risk", a.checkerboard_risk);
  if (a.separable && tconv_kernel_factor (k, 1e-6, col, row, &separable, NULL) == TCONV_OK
      && separable)
    print_kernel_factors (k, col, row);
  else
    printf ("%-19s no (not rank 1: the two-pass path does not apply)\n", "separable");
  printf ("%-19s top-bottom %s, left-right %s, transpose %s\n", "symmetry",
          a.symmetric_h ? "yes" : "no", a.symmetric_w ? "yes" : "no",
          k->k_h != k->k_w ? "n/a (not square)" : a.symmetric_transpose ? "yes" : "no");
  g_free (sums);
  g_free (col);
  g_free (row);
}

/* The bank beyond its global kernel: classifier, classes, fallbacks, phase sums. */
static void
print_bank (const tconv_bank *b)
{
  const tconv_bank_classifier *c = &b->classifier;
  gsize                        fallback = 0;
  double                       worst = 0.0;
  uint64_t                     lo = UINT64_MAX, hi = 0;

  for (gsize i = 0; i < b->classes; i++)
    {
      fallback += b->fallback[i];
      lo = MIN (lo, b->samples[i]), hi = MAX (hi, b->samples[i]);
      worst = MAX (worst, cli_bank_class_deviation (b, i));
    }
  printf ("\n%-19s %zu classes = %zu angles x %zu strengths x %zu coherences (the weights "
          "above are its global kernel)\n", "kernel bank", b->classes, c->angles, c->strengths,
          c->coherences);
  printf ("%-19s structure tensor of the luma, Gaussian window sigma %g (halo %zu pixels)\n",
          "classifier", c->sigma, tconv_bank_halo (c));
  printf ("%-19s", "strength bins at");
  for (gsize i = 0; i + 1 < c->strengths; i++)
    printf (" %.6g", c->strength_thresholds[i]);
  printf ("\n%-19s", "coherence bins at");
  for (gsize i = 0; i + 1 < c->coherences; i++)
    printf (" %.6g", c->coherence_thresholds[i]);
  printf ("\n%-19s %zu of %zu classes take the global kernel\n", "fallback", fallback,
          b->classes);
  printf ("%-19s %" G_GUINT64_FORMAT " .. %" G_GUINT64_FORMAT " windows per class\n",
          "training samples", lo, hi);
  printf ("%-19s every phase of every class sums to 1 (largest deviation %.3g)\n",
          "class phase sums", worst);
}

static gboolean
save_weights_npy (const tconv_kernel *k, const char *path, GError **error)
{
  const gsize shape[4] = { k->channels, 1, k->k_h, k->k_w };

  return cli_npy_save (path, shape, 4, k->weights, error);
}

static gboolean
cmd_show (int argc, char **argv, GError **error)
{
  gchar       *stride = NULL, *png = NULL, *npy = NULL;
  gint         cell = 0;
  GOptionEntry entries[] = {
    { "stride", 's', 0, G_OPTION_ARG_STRING, &stride,
      "Stride of a named kernel (default 2); a file's must match", "S|SH,SW" },
    { "png", 0, 0, G_OPTION_ARG_FILENAME, &png,
      "Write a heatmap of the kernel and its phases (of a bank: every class)", "FILE.png" },
    { "cell", 0, 0, G_OPTION_ARG_INT, &cell, "Heatmap cell side in pixels (default: by size)",
      "PX" },
    { "npy", 0, 0, G_OPTION_ARG_FILENAME, &npy,
      "Write the weights as a (C, 1, kH, kW) float32 .npy (ConvTranspose2d.weight)", "FILE.npy" },
    G_OPTION_ENTRY_NULL,
  };
  tconv_kernel *k = NULL;
  tconv_bank   *bank = NULL;
  gchar        *path = NULL;
  gint64        sh, sw;
  gboolean      ok = FALSE;
  int           png_w = 0, png_h = 0;

  if (!parse_options ("NAME|FILE - show a kernel and its analysis",
                      "Prints the weights, the per-phase DC gains, the checkerboard risk, "
                      "separability and symmetry of a preset, an analytic kernel or a .tconv "
                      "file.",
                      entries, &argc, &argv, error)
      || !positional (argc, argv, 1, "NAME|FILE", error) || !parse_stride (stride, &sh, &sw, error))
    goto out;
  if (png != NULL && cell != 0 && (cell < 4 || cell > 64))
    {
      g_propagate_error (error, usage_error ("--cell %d: must be 4..64", cell));
      goto out;
    }
  if (png != NULL && npy != NULL && strcmp (png, npy) == 0)
    {
      g_propagate_error (error, usage_error ("--png and --npy both name '%s'", png));
      goto out;
    }
  if (!cli_bank_find (argv[1], sh, sw, &bank, &path, error))
    goto out;
  if (bank != NULL)
    k = g_steal_pointer (&bank->global);
  else if (!resolve_kernel (argv[1], sh, sw, &k, &path, error))
    goto out;
  {
    const char *inputs[] = { path, NULL };
    if ((png && !cli_check_not_input (png, inputs, error))
        || (npy && !cli_check_not_input (npy, inputs, error)))
      goto out;
  }
  if (bank != NULL)
    bank->global = k; /* back, for the picture and the summary (freed with the bank) */
  if (png != NULL
      && !(bank != NULL ? cli_bank_png (bank, png, cell, &png_w, &png_h, error)
                        : cli_kernel_png (k, png, cell, &png_w, &png_h, error)))
    goto out;
  if (npy != NULL && !save_weights_npy (k, npy, error))
    {
      if (png != NULL)
        remove (png); /* all or nothing: this command wrote it a moment ago */
      goto out;
    }
  print_kernel (k, path);
  if (bank != NULL)
    print_bank (bank);
  if (npy != NULL)
    printf ("\n%s written to %s as (%zu, 1, %zu, %zu) float32\n",
            bank ? "the global kernel's weights" : "weights", npy, k->channels, k->k_h, k->k_w);
  if (png != NULL)
    printf ("%s%s written to %s (%d x %d pixels)\n", npy ? "" : "\n",
            bank ? "picture of the bank" : "heatmap", png, png_w, png_h);
  ok = TRUE;

out:
  if (bank != NULL)
    {
      if (bank->global == NULL)
        bank->global = k; /* the bank frees it */
      k = NULL;
    }
  tconv_bank_free (bank);
  tconv_kernel_free (k);
  g_free (path);
  g_free (stride), g_free (png), g_free (npy);
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * tconv kernel make
 */

static gboolean
cmd_make (int argc, char **argv, GError **error)
{
  gchar         *stride = NULL, *output = NULL;
  GOptionEntry   entries[] = {
    { "stride", 's', 0, G_OPTION_ARG_STRING, &stride, "Up-sampling factor, 1..16 (required)",
      "S|SH,SW" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "The .tconv file to write (required)",
      "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  tconv_kernel  *k = NULL;
  tconv_analytic type;
  tconv_error    err = { 0 };
  tconv_status   st;
  gint64         sh, sw;
  gboolean       ok = FALSE;

  if (!parse_options ("TYPE - write an analytic kernel",
                      "Writes the analytic interpolation kernel TYPE (nearest, bilinear, bicubic, "
                      "mitchell, lanczos2, lanczos3, bspline) at the given stride as a .tconv "
                      "file; the same command always writes the same bytes.",
                      entries, &argc, &argv, error)
      || !positional (argc, argv, 1, "TYPE", error) || !parse_stride (stride, &sh, &sw, error))
    goto out;
  if (stride == NULL || output == NULL)
    {
      g_propagate_error (error, usage_error ("--stride S and -o FILE are required"));
      goto out;
    }
  if (tconv_analytic_from_name (argv[1], &type, NULL) != TCONV_OK)
    {
      GString *known = g_string_new (NULL);
      for (int i = 0; i < TCONV_ANALYTIC_COUNT; i++)
        g_string_append_printf (known, "%s%s", i ? ", " : "", tconv_analytic_name ((tconv_analytic) i));
      g_propagate_error (error, usage_error ("unknown kernel type '%s': expected one of %s",
                                             argv[1], known->str));
      g_string_free (known, TRUE);
      goto out;
    }
  if ((st = tconv_kernel_analytic (type, (size_t) sh, (size_t) sw, &k, &err)) != TCONV_OK)
    {
      g_propagate_error (error, usage_error ("kernel '%s': %s", argv[1],
                                             tconv_pipeline_status_message (st, &err)));
      goto out;
    }
  ok = cli_kernel_write (k, output, error);

out:
  tconv_kernel_free (k);
  g_free (stride), g_free (output);
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * tconv kernel import
 */

/* A kernel name from a file name: lower case, [a-z0-9._-] only, at most the name limit. */
static gchar *
name_from_path (const char *path)
{
  gchar   *base = g_path_get_basename (path);
  GString *s = g_string_new (NULL);

  if (g_str_has_suffix (base, ".tconv"))
    base[strlen (base) - strlen (".tconv")] = '\0';
  for (const char *c = base; *c && s->len < TCONV_KERNEL_NAME_MAX; c++)
    {
      const char l = g_ascii_tolower (*c);
      g_string_append_c (s, g_ascii_isalnum (l) || l == '.' || l == '_' || l == '-' ? l : '-');
    }
  g_free (base);
  if (s->len == 0 || strcmp (s->str, ".") == 0 || strcmp (s->str, "..") == 0)
    g_string_assign (s, "imported");
  return g_string_free (s, FALSE);
}

/* The default padding of one axis: centred, output exactly s times the input. */
static gboolean
default_padding (const char *axis, gint64 k, gint64 s, gint64 *pad, GError **error)
{
  if (k >= s && (k - s) % 2 == 0)
    {
      *pad = (k - s) / 2;
      return TRUE;
    }
  if (k >= s)
    g_propagate_error (error,
                       usage_error ("kernel %s %" G_GINT64_FORMAT " at stride %" G_GINT64_FORMAT
                                    ": k - s = %" G_GINT64_FORMAT " is odd, so no padding makes "
                                    "the output exactly %" G_GINT64_FORMAT " times the input; "
                                    "give the padding the model uses, e.g. --padding %" G_GINT64_FORMAT
                                    " --output-padding 1 (exactly %" G_GINT64_FORMAT "x, the grid "
                                    "shifted by half an output pixel)",
                                    axis, k, s, k - s, s, (k - s + 1) / 2, s));
  else
    g_propagate_error (error,
                       usage_error ("kernel %s %" G_GINT64_FORMAT " is smaller than stride %"
                                    G_GINT64_FORMAT ": give the padding the model uses, e.g. "
                                    "--padding 0 --output-padding %" G_GINT64_FORMAT
                                    " (exactly %" G_GINT64_FORMAT "x)",
                                    axis, k, s, s - k, s));
  return FALSE;
}

static gboolean
check_finite (const float *v, gsize n, const char *what, const char *path, gsize c_div,
              gsize k_h, gsize k_w, GError **error)
{
  for (gsize i = 0; i < n; i++)
    if (!isfinite (v[i]))
      {
        if (c_div)
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                       "%s '%s': element (%" G_GSIZE_FORMAT ", 0, %" G_GSIZE_FORMAT ", %"
                       G_GSIZE_FORMAT ") is %g: weights must be finite (float64 values beyond "
                       "the float32 range become infinite)",
                       what, path, i / (k_h * k_w), i / k_w % k_h, i % k_w, (double) v[i]);
        else
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                       "%s '%s': element %" G_GSIZE_FORMAT " is %g: values must be finite", what,
                       path, i, (double) v[i]);
        return FALSE;
      }
  return TRUE;
}

/* The options of `tconv kernel import`. */
typedef struct
{
  gchar *stride, *padding, *opadding, *output, *bias, *name, *description;
} ImportArgs;

/* The weights (and bias) are a depthwise ConvTranspose2d's: shape (C, 1, kH, kW), finite. */
static gboolean
import_check_arrays (const CliArray *w, const CliArray *b, const char *wpath,
                     const char *bias, GError **error)
{
  const gsize channels = w->ndim == 4 ? w->shape[0] : 0;

  if (w->ndim != 4 || w->shape[1] != 1)
    {
      GString *s = g_string_new ("(");
      for (unsigned i = 0; i < w->ndim; i++)
        g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? ", " : "", w->shape[i]);
      g_string_append (s, w->ndim == 1 ? ",)" : ")");
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "weights '%s' have shape %s: expected (1, 1, kH, kW) for one kernel or "
                   "(C, 1, kH, kW) for one per channel, the weight of a depthwise "
                   "ConvTranspose2d (groups = C)%s",
                   wpath, s->str,
                   w->ndim == 4 ? "; a layer that mixes channels is not an up-sampling kernel" : "");
      g_string_free (s, TRUE);
      return FALSE;
    }
  if (channels < 1 || channels > TCONV_KERNEL_MAX_CHANNELS)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "weights '%s': %" G_GSIZE_FORMAT " channels: must be 1..%u", wpath, channels,
                   TCONV_KERNEL_MAX_CHANNELS);
      return FALSE;
    }
  if (w->shape[2] < 1 || w->shape[3] < 1 || w->shape[2] > TCONV_MAX_KERNEL_SIDE
      || w->shape[3] > TCONV_MAX_KERNEL_SIDE)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "weights '%s': kernel %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT ": each side must "
                   "be 1..%u",
                   wpath, w->shape[2], w->shape[3], TCONV_MAX_KERNEL_SIDE);
      return FALSE;
    }
  if (!check_finite (w->data, w->count, "weights", wpath, 1, w->shape[2], w->shape[3], error))
    return FALSE;
  if (bias == NULL)
    return TRUE;
  if (b->ndim != 1 || b->shape[0] != channels)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "bias '%s' must have shape (%" G_GSIZE_FORMAT ",), one value per channel",
                   bias, channels);
      return FALSE;
    }
  return check_finite (b->data, b->count, "bias", bias, 0, 0, 0, error);
}

/* Padding and output padding: given (the format's ranges are PyTorch's, dilation 1), or the
 * default that makes the output exactly s times the input. */
static gboolean
import_geometry (const ImportArgs *args, gsize k_h, gsize k_w, gint64 sh, gint64 sw,
                 gint64 *ph, gint64 *pw, gint64 *oh, gint64 *ow, GError **error)
{
  if (args->padding == NULL)
    return default_padding ("height", (gint64) k_h, sh, ph, error)
           && default_padding ("width", (gint64) k_w, sw, pw, error);
  if (!parse_pair_range ("--padding", args->padding, 0, G_MAXINT32, ph, pw, error))
    return FALSE;
  if (*ph > (gint64) k_h - 1 || *pw > (gint64) k_w - 1)
    {
      g_propagate_error (error, usage_error ("--padding %s: must be at most k - 1 = %"
                                             G_GSIZE_FORMAT ",%" G_GSIZE_FORMAT
                                             " for a %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                                             " kernel",
                                             args->padding, k_h - 1, k_w - 1, k_h, k_w));
      return FALSE;
    }
  if (args->opadding != NULL
      && !parse_pair_range ("--output-padding", args->opadding, 0, G_MAXINT32, oh, ow, error))
    return FALSE;
  if (*oh >= sh || *ow >= sw)
    {
      g_propagate_error (error, usage_error ("--output-padding %s: must be smaller than the "
                                             "stride %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT,
                                             args->opadding, sh, sw));
      return FALSE;
    }
  return TRUE;
}

/* The kernel from the checked arrays (geometry @geo: stride, padding, output padding, each
 * rows then columns), with its names and provenance, validated. */
static gboolean
import_build (const ImportArgs *args, const CliArray *w, const CliArray *b,
              const char *wpath, const gchar *cmdline, const gint64 geo[6], tconv_kernel **kp,
              GError **error)
{
  const gsize   channels = w->shape[0], k_h = w->shape[2], k_w = w->shape[3];
  tconv_kernel *k = NULL;
  tconv_error   err = { 0 };
  tconv_status  st;
  gchar        *auto_name, *src, *auto_desc;
  gboolean      set;

  if ((st = tconv_kernel_new (channels, k_h, k_w, &k, NULL)) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", tconv_status_string (st));
      return FALSE;
    }
  *kp = k;
  memcpy (k->weights, w->data, w->count * sizeof (float));
  if (args->bias != NULL)
    {
      k->bias = malloc (channels * sizeof (float));
      if (k->bias == NULL)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "out of memory");
          return FALSE;
        }
      memcpy (k->bias, b->data, channels * sizeof (float));
    }
  k->stride_h = (size_t) geo[0], k->stride_w = (size_t) geo[1];
  k->pad_h = (size_t) geo[2], k->pad_w = (size_t) geo[3];
  k->opad_h = (size_t) geo[4], k->opad_w = (size_t) geo[5];
  k->provenance = TCONV_PROVENANCE_IMPORTED;
  auto_name = args->name ? NULL : name_from_path (args->output);
  src = display_path (wpath);
  auto_desc = args->description ? NULL
                                : g_strdup_printf ("imported ConvTranspose2d weights, "
                                                   "%zux%zu taps, stride %zux%zu",
                                                   k_h, k_w, k->stride_h, k->stride_w);
  set = tconv_kernel_set_string (&k->name, args->name ? args->name : auto_name) == TCONV_OK
        && tconv_kernel_set_string (&k->description,
                                    args->description ? args->description : auto_desc) == TCONV_OK
        && tconv_kernel_set_string (&k->source, src) == TCONV_OK
        && tconv_kernel_set_string (&k->command, cmdline) == TCONV_OK;
  g_free (auto_name), g_free (src), g_free (auto_desc);
  if (!set)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "out of memory");
      return FALSE;
    }
  if ((st = tconv_kernel_validate (k, &err)) != TCONV_OK)
    {
      /* only the free-text options can break a rule here */
      g_propagate_error (error, usage_error ("%s", tconv_pipeline_status_message (st, &err)));
      return FALSE;
    }
  return TRUE;
}

/* What was written: geometry, whether the output is exactly s times, checkerboard risk. */
static void
import_report (const tconv_kernel *k, const char *output)
{
  tconv_kernel_analysis a;
  const gint64          gh = (gint64) k->k_h + (gint64) k->opad_h - 2 * (gint64) k->pad_h;
  const gint64          gw = (gint64) k->k_w + (gint64) k->opad_w - 2 * (gint64) k->pad_w;
  const gint64          sh = (gint64) k->stride_h, sw = (gint64) k->stride_w;

  tconv_kernel_analyze (k, &a, NULL);
  printf ("%s: %zux%zu taps, stride %zux%zu, padding %zu,%zu, output padding %zu,%zu, %zu "
          "channel%s\n",
          output, k->k_h, k->k_w, k->stride_h, k->stride_w, k->pad_h, k->pad_w, k->opad_h,
          k->opad_w, k->channels, k->channels == 1 ? "" : "s");
  if (gh != sh || gw != sw)
    printf ("note: the output is (in - 1) * stride + %" G_GINT64_FORMAT " rows, + %"
            G_GINT64_FORMAT " columns: not exactly %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
            " times the input (k + output_padding - 2 padding != stride)\n",
            gh, gw, sh, sw);
  if (a.checkerboard_risk > RISK_ZERO)
    printf ("checkerboard risk %.6g: the phase sums differ (%.6g .. %.6g); 'tconv kernel "
            "normalize %s -o OUT' evens them out\n",
            a.checkerboard_risk, a.phase_min, a.phase_max, output);
  else
    printf ("checkerboard risk 0\n");
}

/* The option checks that need no file. */
static gboolean
import_check_args (const ImportArgs *args, GError **error)
{
  if (args->stride == NULL || args->output == NULL)
    {
      g_propagate_error (error, usage_error ("--stride S and -o FILE are required"));
      return FALSE;
    }
  if (args->opadding != NULL && args->padding == NULL)
    {
      g_propagate_error (error, usage_error ("--output-padding needs --padding too"));
      return FALSE;
    }
  if (args->name != NULL
      && !(strlen (args->name) <= TCONV_KERNEL_NAME_MAX && *args->name
           && strspn (args->name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == strlen (args->name)))
    {
      g_propagate_error (error, usage_error ("--name '%s': expected 1 to %u characters of "
                                             "[a-z0-9._-]",
                                             args->name, TCONV_KERNEL_NAME_MAX));
      return FALSE;
    }
  return TRUE;
}

static gboolean
cmd_import (int argc, char **argv, gchar *cmdline, GError **error)
{
  ImportArgs    args = { 0 };
  GOptionEntry  entries[] = {
    { "stride", 's', 0, G_OPTION_ARG_STRING, &args.stride, "The layer's stride (required)", "S|SH,SW" },
    { "padding", 'p', 0, G_OPTION_ARG_STRING, &args.padding,
      "The layer's padding (default (k - s) / 2: output exactly s times the input)", "P|PH,PW" },
    { "output-padding", 0, 0, G_OPTION_ARG_STRING, &args.opadding,
      "The layer's output_padding, 0..s-1 (default 0)", "O|OH,OW" },
    { "bias", 'b', 0, G_OPTION_ARG_FILENAME, &args.bias, "The layer's bias, shape (C,)", "B.npy" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &args.name,
      "Kernel name, [a-z0-9._-] (default: from the output file name)", "NAME" },
    { "description", 'd', 0, G_OPTION_ARG_STRING, &args.description, "One-line description", "TEXT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &args.output, "The .tconv file to write (required)",
      "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  CliArray    w = { 0 }, b = { 0 };
  tconv_kernel *k = NULL;
  gint64        sh, sw, ph = -1, pw = -1, oh = 0, ow = 0;
  gboolean      ok = FALSE;

  if (!parse_options ("W.npy - import PyTorch ConvTranspose2d weights",
                      "Converts the weights of a depthwise torch.nn.ConvTranspose2d saved with "
                      "numpy.save (shape (1, 1, kH, kW) for one kernel shared by every channel, "
                      "(C, 1, kH, kW) for one per channel) into a .tconv file, with the stride, "
                      "padding and output padding of the layer.",
                      entries, &argc, &argv, error)
      || !positional (argc, argv, 1, "W.npy", error)
      || !parse_stride (args.stride, &sh, &sw, error) || !import_check_args (&args, error))
    goto out;
  {
    const char *inputs[] = { argv[1], args.bias, NULL };
    if (!cli_check_not_input (args.output, inputs, error))
      goto out;
  }
  if (!cli_array_load (argv[1], "weights", &w, error)
      || (args.bias != NULL && !cli_array_load (args.bias, "bias", &b, error))
      || !import_check_arrays (&w, &b, argv[1], args.bias, error)
      || !import_geometry (&args, w.shape[2], w.shape[3], sh, sw, &ph, &pw, &oh, &ow, error))
    goto out;
  {
    const gint64 geo[6] = { sh, sw, ph, pw, oh, ow };

    if (!import_build (&args, &w, &b, argv[1], cmdline, geo, &k, error)
        || !cli_kernel_write (k, args.output, error))
      goto out;
  }
  import_report (k, args.output);
  ok = TRUE;

out:
  cli_array_clear (&w);
  cli_array_clear (&b);
  tconv_kernel_free (k);
  g_free (args.stride), g_free (args.padding), g_free (args.opadding), g_free (args.output);
  g_free (args.bias), g_free (args.name), g_free (args.description);
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * tconv kernel normalize
 */

static gboolean
cmd_normalize (int argc, char **argv, gchar *cmdline, GError **error)
{
  gchar                *stride = NULL, *output = NULL;
  GOptionEntry          entries[] = {
    { "stride", 's', 0, G_OPTION_ARG_STRING, &stride,
      "Stride of a named kernel (default 2); a file's must match", "S|SH,SW" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "The .tconv file to write (required)",
      "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  tconv_kernel         *k = NULL;
  gchar                *path = NULL, *note = NULL, *comments = NULL;
  tconv_kernel_analysis before, after;
  tconv_error           err = { 0 };
  tconv_status          st;
  gint64                sh, sw;
  gboolean              ok = FALSE;

  if (!parse_options ("IN - even out the phase gains of a kernel",
                      "Rescales the taps of each output phase so that every phase sums to the "
                      "kernel's mean phase sum (checkerboard risk 0, overall gain kept) and "
                      "writes the result; provenance is kept and a comment records the change.",
                      entries, &argc, &argv, error)
      || !positional (argc, argv, 1, "IN (a .tconv file or a kernel name)", error)
      || !parse_stride (stride, &sh, &sw, error))
    goto out;
  if (output == NULL)
    {
      g_propagate_error (error, usage_error ("-o OUT is required"));
      goto out;
    }
  {
    const char *inputs[] = { argv[1], NULL };
    if (!cli_check_not_input (output, inputs, error))
      goto out;
  }
  if (!resolve_kernel (argv[1], sh, sw, &k, &path, error))
    goto out;
  if (path != NULL)
    {
      const char *inputs[] = { path, NULL };
      if (!cli_check_not_input (output, inputs, error))
        goto out;
    }
  tconv_kernel_analyze (k, &before, NULL);
  if ((st = tconv_kernel_normalize_phases (k, &err)) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot normalise '%s': %s", argv[1],
                   tconv_pipeline_status_message (st, &err));
      goto out;
    }
  tconv_kernel_analyze (k, &after, NULL);

  note = g_strdup_printf ("phases normalised (checkerboard risk %.3g -> %s, mean phase sum "
                          "%.7g): %s",
                          before.checkerboard_risk, after.checkerboard_risk <= RISK_ZERO ? "0" : "?",
                          after.phase_mean, cmdline);
  for (gchar *c = note; *c; c++)
    if (*c == '\t')
      *c = ' ';
  comments = k->comments ? g_strconcat (k->comments, "\n", note, NULL) : g_strdup (note);
  if (strlen (comments) > TCONV_KERNEL_TEXT_MAX)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "cannot record the normalisation: the comments of '%s' would exceed %u bytes",
                   argv[1], TCONV_KERNEL_TEXT_MAX);
      goto out;
    }
  if (tconv_kernel_set_string (&k->comments, comments) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "out of memory");
      goto out;
    }
  if (!cli_kernel_write (k, output, error))
    goto out;
  printf ("%s: checkerboard risk %.6g -> %s (phase sums now %.9g)\n", output,
          before.checkerboard_risk, after.checkerboard_risk <= RISK_ZERO ? "0" : "not 0",
          after.phase_mean);
  ok = TRUE;

out:
  tconv_kernel_free (k);
  g_free (path), g_free (note), g_free (comments);
  g_free (stride), g_free (output);
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * Dispatch
 */

static void
usage (FILE *out)
{
  fputs ("Usage: tconv kernel COMMAND [OPTIONS]\n\n"
         "Commands:\n"
         "  list                                every preset and analytic kernel\n"
         "  show NAME|FILE [--stride S] [--png FILE] [--npy FILE]\n"
         "                                      weights, phase sums, checkerboard risk, "
         "separability\n"
         "  make TYPE --stride S -o FILE        write an analytic kernel as .tconv\n"
         "  import W.npy --stride S [--padding P] -o FILE\n"
         "                                      convert PyTorch ConvTranspose2d weights\n"
         "  normalize IN -o OUT                 even out the phase gains (no checkerboard)\n"
         "\nRun 'tconv kernel COMMAND --help' for the options of a command.\n",
         out);
}

int
cli_cmd_kernel (int argc, char **argv)
{
  GError     *error = NULL;
  gchar      *cmdline;
  gchar      *sub;
  gboolean    ok;
  const char *name;

  if (argc < 2)
    {
      fputs ("tconv kernel: missing command: list, show, make, import or normalize\n", stderr);
      usage (stderr);
      return CLI_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage (stdout);
      return CLI_EXIT_OK;
    }
  name = argv[1];
  cmdline = command_line (argc, argv);
  sub = g_strdup_printf ("kernel %s", name);
  /* "Usage: tconv kernel show [OPTION…]" in --help, rather than "show" */
  {
    gchar *prg = g_strdup_printf ("tconv kernel %s", name);
    g_set_prgname (prg);
    g_free (prg);
  }
  /* the subcommand sees itself as argv[0], as GOptionContext expects */
  if (strcmp (name, "list") == 0)
    ok = cmd_list (argc - 1, argv + 1, &error);
  else if (strcmp (name, "show") == 0)
    ok = cmd_show (argc - 1, argv + 1, &error);
  else if (strcmp (name, "make") == 0)
    ok = cmd_make (argc - 1, argv + 1, &error);
  else if (strcmp (name, "import") == 0)
    ok = cmd_import (argc - 1, argv + 1, cmdline, &error);
  else if (strcmp (name, "normalize") == 0 || strcmp (name, "normalise") == 0)
    ok = cmd_normalize (argc - 1, argv + 1, cmdline, &error);
  else
    {
      fprintf (stderr, "tconv kernel: unknown command '%s'\n", name);
      usage (stderr);
      g_free (cmdline), g_free (sub);
      return CLI_EXIT_USAGE;
    }
  g_free (cmdline);
  if (!ok)
    {
      int code = cli_report (sub, error);
      g_free (sub);
      return code;
    }
  g_free (sub);
  return CLI_EXIT_OK;
}
