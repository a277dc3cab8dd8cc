/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv apply: ConvTranspose2d on .npy tensors, exactly as PyTorch computes it. */
#include "tconv-cli.h"

#include <math.h>
#include <string.h>

typedef struct
{
  gchar *input, *weight, *bias, *output;
  gchar *stride, *padding, *output_padding, *dilation, *groups;
} ApplyOptions;

static gboolean
parse_options (int argc, char **argv, ApplyOptions *o, GError **error)
{
  GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &o->input, "Input X: (C_in, H, W) or (1, C_in, H, W)", "X.npy" },
    { "weight", 'w', 0, G_OPTION_ARG_FILENAME, &o->weight, "Weight: (C_in, C_out/groups, kH, kW)", "W.npy" },
    { "bias", 'b', 0, G_OPTION_ARG_FILENAME, &o->bias, "Bias: (C_out,)", "B.npy" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output, "Output Y: float32 (C_out, H_out, W_out)", "Y.npy" },
    { "stride", 0, 0, G_OPTION_ARG_STRING, &o->stride, "Stride (default 1)", "S|SH,SW" },
    { "padding", 0, 0, G_OPTION_ARG_STRING, &o->padding, "Padding (default 0)", "P|PH,PW" },
    { "output-padding", 0, 0, G_OPTION_ARG_STRING, &o->output_padding, "Output padding (default 0)", "O|OH,OW" },
    { "dilation", 0, 0, G_OPTION_ARG_STRING, &o->dilation, "Dilation (default 1)", "D|DH,DW" },
    { "groups", 0, 0, G_OPTION_ARG_STRING, &o->groups, "Groups (default 1)", "G" },
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new ("- transposed convolution of .npy tensors");
  gboolean        ok;

  g_option_context_set_summary (ctx, "Computes torch.nn.functional.conv_transpose2d(X, W, B, stride, "
                                     "padding, output_padding, groups, dilation).");
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
  if (o->input == NULL || o->weight == NULL || o->output == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "-i X.npy, -w W.npy and -o Y.npy are required");
      return FALSE;
    }
  return TRUE;
}

static gboolean
fill_params (const ApplyOptions *o, tconv_params *p, GError **error)
{
  tconv_params_init (p);
  if (o->stride && !cli_parse_pair ("--stride", o->stride, &p->stride_h, &p->stride_w, error))
    return FALSE;
  if (o->padding && !cli_parse_pair ("--padding", o->padding, &p->pad_h, &p->pad_w, error))
    return FALSE;
  if (o->output_padding
      && !cli_parse_pair ("--output-padding", o->output_padding, &p->opad_h, &p->opad_w, error))
    return FALSE;
  if (o->dilation && !cli_parse_pair ("--dilation", o->dilation, &p->dil_h, &p->dil_w, error))
    return FALSE;
  if (o->groups && !cli_parse_int ("--groups", o->groups, G_MININT32, G_MAXINT32, &p->groups, error))
    return FALSE;
  return TRUE;
}

static gboolean
check_finite (const CliArray *a, const char *what, GError **error)
{
  for (gsize i = 0; i < a->count; i++)
    if (!isfinite (a->data[i]))
      {
        g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                     "%s element %" G_GSIZE_FORMAT " is %g: values must be finite (float64 values "
                     "beyond the float32 range become infinite)",
                     what, i, (double) a->data[i]);
        return FALSE;
      }
  return TRUE;
}

static gboolean
run_apply (const ApplyOptions *o, GError **error)
{
  CliArray     x = { 0 }, w = { 0 }, b = { 0 };
  tconv_params   p;
  tconv_geometry g;
  tconv_error    err = { 0 };
  tconv_status   st;
  float         *y = NULL;
  gboolean       ok = FALSE;
  const char    *inputs[] = { o->input, o->weight, o->bias, NULL };

  if (!fill_params (o, &p, error) || !cli_check_not_input (o->output, inputs, error))
    return FALSE;
  if (!cli_array_load (o->input, "input", &x, error)
      || !cli_array_load (o->weight, "weight", &w, error)
      || (o->bias && !cli_array_load (o->bias, "bias", &b, error)))
    goto out;

  /* Shapes, in PyTorch's words. */
  if (!(x.ndim == 3 || (x.ndim == 4 && x.shape[0] == 1)))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "input '%s' has %u dimensions%s: expected (C_in, H, W) or (1, C_in, H, W)",
                   o->input, x.ndim, x.ndim == 4 ? " with batch size != 1" : "");
      goto out;
    }
  const gsize *xs = x.shape + (x.ndim == 4);
  if (w.ndim != 4)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "weight '%s' has %u dimensions: expected 4, (C_in, C_out/groups, kH, kW)",
                   o->weight, w.ndim);
      goto out;
    }
  if (w.shape[0] != xs[0])
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "weight dimension 0 is %" G_GSIZE_FORMAT ": must equal the input's C_in %" G_GSIZE_FORMAT,
                   w.shape[0], xs[0]);
      goto out;
    }
  p.in_c = (gint64) MIN (xs[0], (gsize) G_MAXINT64);
  p.in_h = (gint64) MIN (xs[1], (gsize) G_MAXINT64);
  p.in_w = (gint64) MIN (xs[2], (gsize) G_MAXINT64);
  p.k_h = (gint64) MIN (w.shape[2], (gsize) G_MAXINT64);
  p.k_w = (gint64) MIN (w.shape[3], (gsize) G_MAXINT64);
  /* C_out = weight.shape[1] * groups; both factors are bounded first, so the product cannot
   * overflow, and the core names whichever value breaks a rule. */
  p.out_c = (gint64) MIN (w.shape[1], (gsize) G_MAXINT64);
  if (w.shape[1] <= TCONV_MAX_CHANNELS && p.groups >= 1 && p.groups <= TCONV_MAX_GROUPS)
    p.out_c *= p.groups;

  if ((st = tconv_geometry_init (&g, &p, &err)) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "%s", err.message);
      goto out;
    }
  if (o->bias && (b.ndim != 1 || b.shape[0] != g.out_c))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "bias '%s' must have shape (%" G_GSIZE_FORMAT ",) = (C_out,), got %u dimensions%s",
                   o->bias, g.out_c, b.ndim, b.ndim == 1 ? " of the wrong length" : "");
      goto out;
    }
  if (!check_finite (&w, "weight", error) || (o->bias && !check_finite (&b, "bias", error)))
    goto out;

  y = g_try_new (float, g.out_len);
  if (y == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output of %" G_GSIZE_FORMAT " floats does not fit in memory", g.out_len);
      goto out;
    }
  tconv_in_view  in = tconv_in_view_planar (&g, x.data);
  tconv_out_view out = tconv_out_view_planar (&g, y);
  tconv_error terr = { 0 };
  if ((st = tconv_upsample (&g, w.data, o->bias ? b.data : NULL, &in, &out, &terr)) != TCONV_OK)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "computation failed: %s: %s",
                   tconv_status_string (st), terr.message);
      goto out;
    }
  const gsize shape[3] = { g.out_c, g.out_h, g.out_w };
  ok = cli_npy_save (o->output, shape, 3, y, error);

out:
  g_free (y);
  cli_array_clear (&x);
  cli_array_clear (&w);
  cli_array_clear (&b);
  return ok;
}

int
cli_cmd_apply (int argc, char **argv)
{
  ApplyOptions o = { 0 };
  GError      *error = NULL;
  int          code = CLI_EXIT_OK;

  if (!parse_options (argc, argv, &o, &error) || !run_apply (&o, &error))
    code = cli_report ("apply", error);
  g_free (o.input), g_free (o.weight), g_free (o.bias), g_free (o.output);
  g_free (o.stride), g_free (o.padding), g_free (o.output_padding), g_free (o.dilation);
  g_free (o.groups);
  return code;
}
