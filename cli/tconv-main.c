/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The tconv command: dispatch to one subcommand. */
#include "tconv-cli.h"

#include <locale.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Subcommand;

static const Subcommand subcommands[] = {
  { "apply", cli_cmd_apply, "transposed convolution of .npy tensors (PyTorch semantics)" },
  { "matrix", cli_cmd_matrix, "show a transposed convolution as the transpose of a matrix" },
  { "upscale", cli_cmd_upscale, "enlarge an image file (PNG, JPEG, TIFF, ...) through GEGL" },
  { "learn", cli_cmd_learn, "learn a kernel by least squares from high-resolution images" },
  { "kernel", cli_cmd_kernel, "list, show, make, import and normalize up-sampling kernels" },
  { "bench", cli_cmd_bench, "kernel-only timings against the memory-bandwidth floor" },
};

static void
usage (FILE *out)
{
  fputs ("Usage: tconv COMMAND [OPTIONS]\n\nCommands:\n", out);
  for (gsize i = 0; i < G_N_ELEMENTS (subcommands); i++)
    fprintf (out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
  fputs ("\nRun 'tconv COMMAND --help' for the options of a command.\n", out);
}

/* What a command printed must have reached its destination: `tconv kernel list > /dev/full`
 * is an error, not a silent success. */
static int
stdout_checked (int code)
{
  if (fflush (stdout) != 0 || ferror (stdout))
    {
      fprintf (stderr, "tconv: writing to standard output: %s\n", g_strerror (errno));
      return code == CLI_EXIT_OK ? CLI_EXIT_ERROR : code;
    }
  return code;
}

int
main (int argc, char **argv)
{
  /* Numbers are always read and written with '.' whatever the user's locale. */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");
  /* before anything is written: what a signal or exit() would leave behind is removed */
  cli_cleanup_init ();
  tconv_pipeline_keep_freed_memory ();

  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      puts ("tconv " TCONV_VERSION);
      return stdout_checked (CLI_EXIT_OK);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (subcommands); i++)
    if (strcmp (argv[1], subcommands[i].name) == 0)
      return stdout_checked (subcommands[i].run (argc - 1, argv + 1));

  fprintf (stderr, "tconv: unknown command '%s'\n", argv[1]);
  usage (stderr);
  return CLI_EXIT_USAGE;
}
