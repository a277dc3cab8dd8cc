/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared CLI helpers: strict number options, bounded file reads, .npy loading and saving
 * (the output file itself through tconv-output.c). */
#define _POSIX_C_SOURCE 200809L
#include "tconv-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (tconv-cli-error-quark, cli_error)

int
cli_report (const char *sub, GError *error)
{
  int code = CLI_EXIT_ERROR;

  if (error != NULL)
    {
      if (error->domain == CLI_ERROR)
        code = error->code;
      fprintf (stderr, "tconv %s: %s\n", sub, error->message);
      g_error_free (error);
    }
  return code;
}

gboolean
cli_parse_int (const char *option, const char *text, gint64 lo, gint64 hi, gint64 *value,
                 GError **error)
{
  gint64 v;
  char  *end = NULL;

  errno = 0;
  if (text == NULL || *text == '\0' || g_ascii_isspace (*text))
    goto bad;
  v = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0')
    goto bad;
  if (errno == ERANGE || v < lo || v > hi)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "%s '%s': must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                   option, text, lo, hi);
      return FALSE;
    }
  *value = v;
  return TRUE;

bad:
  g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "%s '%s': expected an integer", option,
               text ? text : "");
  return FALSE;
}

gboolean
cli_parse_pair (const char *option, const char *text, gint64 *a, gint64 *b, GError **error)
{
  /* Signed and wide on purpose: the core reports "stride_h -1: must be >= 1" itself. */
  const gint64 lim = G_GINT64_CONSTANT (1) << 40;
  gchar      **parts = g_strsplit (text ? text : "", ",", -1);
  guint        n = g_strv_length (parts);
  gboolean     ok = FALSE;

  if (n == 1)
    ok = cli_parse_int (option, parts[0], -lim, lim, a, error) && (*b = *a, TRUE);
  else if (n == 2)
    ok = cli_parse_int (option, parts[0], -lim, lim, a, error)
         && cli_parse_int (option, parts[1], -lim, lim, b, error);
  else
    g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                 "%s '%s': expected N or H,W (one or two integers)", option, text ? text : "");
  g_strfreev (parts);
  return ok;
}

/* O_NONBLOCK: opening a FIFO for reading would wait for a writer, forever; the mode is checked
 * on the open descriptor (no check-then-open race) and blocking restored for regular files. */
int
cli_open_regular (const char *path, struct stat *st, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

  if (fd < 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot open '%s': %s", path,
                   g_strerror (errno));
      return -1;
    }
  if (fstat (fd, st) != 0 || !S_ISREG (st->st_mode))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "'%s': not a regular file", path);
      close (fd);
      return -1;
    }
  {
    const int flags = fcntl (fd, F_GETFL);
    if (flags >= 0)
      fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  return fd;
}

gboolean
cli_read_file (const char *path, gsize max_bytes, gchar **contents, gsize *len, GError **error)
{
  struct stat st;
  int         fd = cli_open_regular (path, &st, error);
  gchar      *buf;
  gsize       got = 0;

  if (fd < 0)
    return FALSE;
  if ((guint64) st.st_size > max_bytes)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "'%s' is %" G_GUINT64_FORMAT " bytes: must be at most %" G_GSIZE_FORMAT, path,
                   (guint64) st.st_size, max_bytes);
      close (fd);
      return FALSE;
    }
  buf = g_try_malloc ((gsize) st.st_size + 1);
  if (buf == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "'%s': out of memory", path);
      close (fd);
      return FALSE;
    }
  while (got < (gsize) st.st_size)
    {
      ssize_t r = read (fd, buf + got, (gsize) st.st_size - got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot read '%s': %s", path,
                       r < 0 ? g_strerror (errno) : "file shrank while reading");
          g_free (buf);
          close (fd);
          return FALSE;
        }
      got += (gsize) r;
    }
  close (fd);
  buf[got] = '\0';
  *contents = buf;
  *len = got;
  return TRUE;
}

/* .npy inputs are bounded well above any tensor a transposed convolution here can use. */
#define NPY_MAX_FILE ((gsize) 4 << 30)

gboolean
cli_array_load (const char *path, const char *what, CliArray *array, GError **error)
{
  gchar      *bytes = NULL;
  gsize       len = 0;
  tconv_npy   npy;
  tconv_error err = { 0 };
  tconv_status st;

  memset (array, 0, sizeof *array);
  if (!cli_read_file (path, NPY_MAX_FILE, &bytes, &len, error))
    return FALSE;
  if ((st = tconv_npy_parse (bytes, len, &npy, &err)) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s '%s': %s", what, path,
                   tconv_pipeline_status_message (st, &err));
      g_free (bytes);
      return FALSE;
    }
  array->data = g_try_new (float, npy.count ? npy.count : 1);
  if (array->data == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s '%s': out of memory", what, path);
      g_free (bytes);
      return FALSE;
    }
  tconv_npy_to_float (&npy, array->data, npy.count, NULL);
  array->ndim = npy.ndim;
  array->count = npy.count;
  for (unsigned i = 0; i < npy.ndim; i++)
    array->shape[i] = npy.shape[i];
  g_free (bytes);
  return TRUE;
}

void
cli_array_clear (CliArray *array)
{
  g_clear_pointer (&array->data, g_free);
}

gboolean
cli_check_not_input (const char *output, const char *const *inputs, GError **error)
{
  struct stat so;

  for (; inputs != NULL && *inputs != NULL; inputs++)
    {
      struct stat si;
      gboolean    same = strcmp (output, *inputs) == 0;

      if (!same && stat (output, &so) == 0 && stat (*inputs, &si) == 0)
        same = so.st_dev == si.st_dev && so.st_ino == si.st_ino;
      if (same)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                       "output '%s' is also an input: refusing to overwrite an input", output);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
cli_npy_save (const char *path, const gsize *shape, unsigned ndim, const float *data,
                GError **error)
{
  char         header[256];
  gsize        header_len, count = 1;
  size_t       sh[TCONV_NPY_MAX_NDIM];
  CliAtomic *f;
  gboolean     ok;

  for (unsigned i = 0; i < ndim; i++)
    sh[i] = shape[i], count *= shape[i];
  if (tconv_npy_header (sh, ndim, header, sizeof header, &header_len, NULL) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot encode the .npy header");
      return FALSE;
    }
  if ((f = cli_atomic_open (path, error)) == NULL)
    return FALSE;
  ok = cli_atomic_write (f, header, header_len, error);
  if (ok && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    ok = cli_atomic_write (f, data, count * sizeof (float), error);
  else if (ok)
    for (gsize i = 0; ok && i < count; i++)
      {
        guint32 v;
        memcpy (&v, &data[i], 4);
        v = GUINT32_TO_LE (v);
        ok = cli_atomic_write (f, &v, 4, error);
      }
  if (!ok)
    {
      cli_atomic_abort (f);
      return FALSE;
    }
  return cli_atomic_commit (f, error);
}
