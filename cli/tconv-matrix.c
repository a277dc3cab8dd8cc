/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv matrix: the seed article's worked example, for learners. A convolution is a matrix C;
 * the transposed convolution is C^T. Prints C, C^T, and shows that C^T x equals the
 * transposed convolution (the scatter) of x. */
#include "tconv-cli.h"
#include "tconv-oracle.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SIZE   8
#define MAX_STRIDE 4
#define MAX_PAD    2

/* Parses a comma-separated list of exactly @n finite numbers. */
static gboolean
parse_values (const char *option, const char *text, gsize n, float *dst, GError **error)
{
  gchar  **parts = g_strsplit (text, ",", -1);
  gsize    count = g_strv_length (parts);
  gboolean ok = count == n;

  if (!ok)
    g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                 "%s: %" G_GSIZE_FORMAT " values given, expected %" G_GSIZE_FORMAT, option, count, n);
  for (gsize i = 0; ok && i < n; i++)
    {
      char  *end = NULL;
      double v = g_ascii_strtod (parts[i], &end);
      if (end == parts[i] || *end != '\0' || !isfinite (v) || fabs (v) > 1e6)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                       "%s value %" G_GSIZE_FORMAT " '%s': expected a finite number of magnitude <= 1e6",
                       option, i + 1, parts[i]);
          ok = FALSE;
        }
      dst[i] = (float) v;
    }
  g_strfreev (parts);
  return ok;
}

/* Width of the widest "%g" among @n values, so columns line up. */
static int
cell_width (const double *v, gsize n)
{
  int w = 1;
  for (gsize i = 0; i < n; i++)
    {
      char buf[64];
      int  l = snprintf (buf, sizeof buf, "%g", v[i] == 0 ? 0.0 : v[i]);
      w = MAX (w, l);
    }
  return w;
}

static void
print_grid (const char *indent, const double *v, gsize rows, gsize cols, int width)
{
  for (gsize r = 0; r < rows; r++)
    {
      printf ("%s[", indent);
      for (gsize c = 0; c < cols; c++)
        printf (" %*g", width, v[r * cols + c] == 0 ? 0.0 : v[r * cols + c]);
      printf (" ]\n");
    }
}

/* The demonstration's figures: C, C^T, x, C^T x and the transposed convolution of x, for
 * the convolution @d describes. Returns the exit status: whether C^T x equals the
 * transposed convolution. */
typedef struct
{
  gint64        n, k, s, p, m;
  gsize         rows, cols, opad;
  const float  *w, *x, *y;
  const double *c, *ct, *cx;
} MatrixDemo;

static int
matrix_print (const MatrixDemo *d)
{
  const gint64  n = d->n, k = d->k, s = d->s, p = d->p, m = d->m;
  const gsize   rows = d->rows, cols = d->cols;
  const double *c = d->c, *ct = d->ct, *cx = d->cx;
  const float  *w = d->w, *x = d->x, *y = d->y;
  double        wd[MAX_SIZE * MAX_SIZE * 4], xd[(MAX_SIZE + 2 * MAX_PAD) * (MAX_SIZE + 2 * MAX_PAD)];
  double        yd[MAX_SIZE * MAX_SIZE];
  double        maxdiff = 0;

  for (gint64 i = 0; i < k * k; i++)
    wd[i] = w[i];
  for (gint64 i = 0; i < m * m; i++)
    xd[i] = x[i];
  for (gsize i = 0; i < cols; i++)
    yd[i] = y[i], maxdiff = MAX (maxdiff, fabs (yd[i] - cx[i]));

  printf ("Convolution: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " kernel over a %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
          " input, stride %" G_GINT64_FORMAT ", padding %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " output.\n",
          k, k, n, n, s, p, m, m);
  printf ("Its transpose maps %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " back to %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
          " (ConvTranspose2d with the same kernel, stride %" G_GINT64_FORMAT ", padding %" G_GINT64_FORMAT
          ", output_padding %zu).\n\n", m, m, n, n, s, p, d->opad);
  printf ("Kernel w (%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "):\n", k, k);
  print_grid ("  ", wd, (gsize) k, (gsize) k, cell_width (wd, (gsize) (k * k)));
  printf ("\nConvolution matrix C (%zu x %zu): row i = output pixel i of the convolution, column j = input pixel j\n"
          "(row-major). Each row holds the kernel where it lies over the input, zeros elsewhere:\n",
          rows, cols);
  print_grid ("  ", c, rows, cols, cell_width (c, rows * cols));
  printf ("\nTranspose C^T (%zu x %zu): column i spreads input pixel i of the transposed convolution\n"
          "over the output (one-to-many):\n", cols, rows);
  print_grid ("  ", ct, cols, rows, cell_width (ct, rows * cols));
  printf ("\nInput x (%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "), flattened to %zu values:\n", m, m, rows);
  print_grid ("  ", xd, (gsize) m, (gsize) m, cell_width (xd, (gsize) (m * m)));
  printf ("\nC^T x, reshaped to %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ":\n", n, n);
  print_grid ("  ", cx, (gsize) n, (gsize) n, cell_width (cx, cols));
  printf ("\nTransposed convolution of x (each input pixel stamps the kernel, scaled by its value):\n");
  print_grid ("  ", yd, (gsize) n, (gsize) n, cell_width (yd, cols));
  printf ("\nC^T x %s the transposed convolution (max difference %g).\n",
          maxdiff <= 1e-9 ? "equals" : "DIFFERS FROM", maxdiff);
  return maxdiff <= 1e-9 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

int
cli_cmd_matrix (int argc, char **argv)
{
  gchar       *size_s = NULL, *kernel_s = NULL, *stride_s = NULL, *pad_s = NULL;
  gchar       *weights_s = NULL, *input_s = NULL;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_STRING, &size_s, "Side of the convolution's input = the transposed convolution's output (default 4, at most 8)", "N" },
    { "kernel", 0, 0, G_OPTION_ARG_STRING, &kernel_s, "Kernel side (default 3)", "K" },
    { "stride", 0, 0, G_OPTION_ARG_STRING, &stride_s, "Stride (default 1, at most 4)", "S" },
    { "padding", 0, 0, G_OPTION_ARG_STRING, &pad_s, "Padding (default 0, at most 2)", "P" },
    { "weights", 0, 0, G_OPTION_ARG_STRING, &weights_s, "K*K kernel values, row-major (default 1,2,...)", "w1,w2,..." },
    { "input", 0, 0, G_OPTION_ARG_STRING, &input_s, "Values of the transposed convolution's input (default 1,2,...)", "x1,x2,..." },
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new ("- a transposed convolution as the transpose of a matrix");
  GError         *error = NULL;
  gint64          n = 4, k = 3, s = 1, p = 0;
  tconv_params    tp;
  tconv_geometry  g;
  tconv_error     err = { 0 };
  gsize           rows, cols;
  float           w[MAX_SIZE * MAX_SIZE * 4], y[MAX_SIZE * MAX_SIZE];
  float           x[(MAX_SIZE + 2 * MAX_PAD) * (MAX_SIZE + 2 * MAX_PAD)];
  double         *c = NULL, *ct = NULL, *cx = NULL, work[MAX_SIZE * MAX_SIZE];
  int             code = CLI_EXIT_OK;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      error->domain = CLI_ERROR, error->code = CLI_EXIT_USAGE;
      goto fail;
    }
  if (argc > 1)
    {
      g_set_error (&error, CLI_ERROR, CLI_EXIT_USAGE, "unexpected argument '%s'", argv[1]);
      goto fail;
    }
  if ((size_s && !cli_parse_int ("--size", size_s, 1, MAX_SIZE, &n, &error))
      || (stride_s && !cli_parse_int ("--stride", stride_s, 1, MAX_STRIDE, &s, &error))
      || (pad_s && !cli_parse_int ("--padding", pad_s, 0, MAX_PAD, &p, &error))
      || (kernel_s && !cli_parse_int ("--kernel", kernel_s, 1, n + 2 * p, &k, &error)))
    goto fail;
  if (k > n + 2 * p)
    {
      g_set_error (&error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--kernel %" G_GINT64_FORMAT ": must be at most size + 2 * padding = %" G_GINT64_FORMAT,
                   k, n + 2 * p);
      goto fail;
    }

  /* The convolution (N, K, S, P) maps N x N to M x M; its transpose maps M x M back to N x N
   * with output_padding (N + 2P - K) mod S restoring the size (Dumoulin & Visin, rel. 14). */
  const gint64 m = (n + 2 * p - k) / s + 1;
  tconv_params_init (&tp);
  tp.in_c = tp.out_c = 1, tp.in_h = tp.in_w = m, tp.k_h = tp.k_w = k;
  tp.stride_h = tp.stride_w = s, tp.pad_h = tp.pad_w = p;
  tp.opad_h = tp.opad_w = (n + 2 * p - k) % s;
  if (tconv_geometry_init (&g, &tp, &err) != TCONV_OK || tconv_matrix_size (&g, &rows, &cols) != TCONV_OK)
    {
      g_set_error (&error, CLI_ERROR, CLI_EXIT_USAGE, "%s", err.message);
      goto fail;
    }
  for (gint64 i = 0; i < k * k; i++)
    w[i] = (float) (i + 1);
  for (gint64 i = 0; i < m * m; i++)
    x[i] = (float) (i + 1);
  if ((weights_s && !parse_values ("--weights", weights_s, (gsize) (k * k), w, &error))
      || (input_s && !parse_values ("--input", input_s, (gsize) (m * m), x, &error)))
    goto fail;

  c = g_new (double, rows * cols);
  ct = g_new (double, rows * cols);
  cx = g_new (double, cols);
  tconv_matrix_build (&g, w, c, rows * cols);
  for (gsize r = 0; r < rows; r++)
    for (gsize q = 0; q < cols; q++)
      ct[q * rows + r] = c[r * cols + q];
  for (gsize q = 0; q < cols; q++)
    {
      cx[q] = 0;
      for (gsize r = 0; r < rows; r++)
        cx[q] += ct[q * rows + r] * x[r];
    }
  tconv_in_view  in = tconv_in_view_planar (&g, x);
  tconv_out_view out = tconv_out_view_planar (&g, y);
  tconv_upsample_ref (&g, w, NULL, &in, &out, work, G_N_ELEMENTS (work));

  {
    const MatrixDemo demo = { n, k, s, p, m, rows, cols, g.opad_h, w, x, y, c, ct, cx };

    code = matrix_print (&demo);
  }
  goto done;

fail:
  code = cli_report ("matrix", error);
done:
  g_option_context_free (ctx);
  g_free (c), g_free (ct), g_free (cx);
  g_free (size_s), g_free (kernel_s), g_free (stride_s), g_free (pad_s);
  g_free (weights_s), g_free (input_s);
  return code;
}
