/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Replays fuzz inputs without libFuzzer: every regular file named on the command line, or found
 * under a directory named there (recursively, in name order, skipping dotfiles such as
 * .gitkeep), goes once through LLVMFuzzerTestOneInput(). So the seed corpus and the committed
 * crash files run under a plain `meson test`; a crash, an abort or a sanitizer report fails it. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
replay_file (const char *path, off_t size, unsigned *n_inputs)
{
  static unsigned char empty;
  unsigned char       *buf = NULL;
  FILE                *fp;
  size_t               n = (size_t) size;

  fp = fopen (path, "rb");
  if (fp == NULL)
    {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return -1;
    }
  /* A block of exactly the file's size, so that sanitizers catch any read past the input. */
  if (n != 0 && (buf = malloc (n)) == NULL)
    {
      fprintf (stderr, "replay: %s: %zu bytes: out of memory\n", path, n);
      fclose (fp);
      return -1;
    }
  if (fread (buf != NULL ? buf : &empty, 1, n, fp) != n || fgetc (fp) != EOF)
    {
      fprintf (stderr, "replay: %s: could not read %zu bytes (file changed?)\n", path, n);
      free (buf);
      fclose (fp);
      return -1;
    }
  fclose (fp);

  printf ("replay: %s (%zu bytes)\n", path, n);
  fflush (stdout);
  LLVMFuzzerTestOneInput (buf != NULL ? buf : &empty, n);
  free (buf);
  (*n_inputs)++;
  return 0;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
replay_path (const char *path, unsigned *n_inputs)
{
  struct stat    st;
  DIR           *dir;
  struct dirent *ent;
  char         **names = NULL;
  size_t         n_names = 0, cap = 0;
  int            rc = 0;

  if (stat (path, &st) != 0)
    {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return -1;
    }
  if (S_ISREG (st.st_mode))
    return replay_file (path, st.st_size, n_inputs);
  if (!S_ISDIR (st.st_mode))
    return 0; /* sockets, fifos: nothing to replay */

  dir = opendir (path);
  if (dir == NULL)
    {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return -1;
    }
  while ((ent = readdir (dir)) != NULL)
    {
      size_t len;
      if (ent->d_name[0] == '.')
        continue; /* ".", "..", .gitkeep and other dotfiles */
      if (n_names == cap)
        {
          char **grown = realloc (names, (cap = cap ? 2 * cap : 64) * sizeof *names);
          if (grown == NULL)
            {
              rc = -1;
              break;
            }
          names = grown;
        }
      len = strlen (path) + 1 + strlen (ent->d_name) + 1;
      if ((names[n_names] = malloc (len)) == NULL)
        {
          rc = -1;
          break;
        }
      snprintf (names[n_names++], len, "%s/%s", path, ent->d_name);
    }
  closedir (dir);
  if (rc != 0)
    fprintf (stderr, "replay: %s: out of memory\n", path);

  if (n_names > 1)
    qsort (names, n_names, sizeof *names, compare_names);
  for (size_t i = 0; i < n_names; i++)
    {
      if (rc == 0 && replay_path (names[i], n_inputs) != 0)
        rc = -1;
      free (names[i]);
    }
  free (names);
  return rc;
}

int
main (int argc, char **argv)
{
  unsigned n_inputs = 0;
  int      rc = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    if (replay_path (argv[i], &n_inputs) != 0)
      rc = 1;
  printf ("replay: %u inputs replayed\n", n_inputs);
  if (rc == 0 && n_inputs == 0)
    {
      /* An empty seed corpus means a wrong path, not a passing test. */
      fprintf (stderr, "replay: no inputs found in the paths given\n");
      rc = 1;
    }
  return rc;
}
