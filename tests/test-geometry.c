/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Geometry: output sizes by PyTorch's formula, every legality rule with its message, limits
 * and overflow refusal. Expected sizes are computed by hand or checked against torch 1.13. */
#include "test-util.h"

#include <string.h>

static tconv_params
base (void)
{
  tconv_params p;
  tconv_params_init (&p);
  p.in_c = 2, p.out_c = 2, p.in_h = 5, p.in_w = 7, p.k_h = 3, p.k_w = 4;
  return p;
}

static void
expect_size (tconv_params p, size_t h, size_t w, const char *what)
{
  tconv_geometry g;
  tconv_status   st = tconv_geometry_init (&g, &p, NULL);
  CHECK (st == TCONV_OK && g.out_h == h && g.out_w == w, "%s: out %zux%zu (want %zux%zu)", what,
         st == TCONV_OK ? g.out_h : 0, st == TCONV_OK ? g.out_w : 0, h, w);
}

static void
expect_error (tconv_params p, tconv_status want, const char *needle, const char *what)
{
  tconv_geometry g;
  tconv_error    err = { 0 };
  tconv_status   st = tconv_geometry_init (&g, &p, &err);
  CHECK (st == want && strstr (err.message, needle) != NULL, "%s: %s, message \"%s\" names \"%s\"",
         what, tconv_status_string (st), err.message, needle);
}

static void
sizes_follow_pytorch_formula (void)
{
  tconv_params p = base ();
  expect_size (p, 7, 10, "stride 1: H + k - 1");
  p.stride_h = 2, p.stride_w = 3;
  expect_size (p, 11, 22, "strides 2,3: (H-1)s + k");
  p.pad_h = 1, p.pad_w = 2;
  expect_size (p, 9, 18, "padding crops 2p");
  p.opad_h = 1, p.opad_w = 2;
  expect_size (p, 10, 20, "output_padding adds o");
  p.dil_h = 3;
  expect_size (p, 14, 20, "dilation d(k-1)");
  /* torch: ConvTranspose2d(1,1,4,stride=2,padding=1) on 16x16 gives 32x32 */
  tconv_params q;
  tconv_params_init (&q);
  q.in_c = q.out_c = 1, q.in_h = q.in_w = 16, q.k_h = q.k_w = 4, q.stride_h = q.stride_w = 2;
  q.pad_h = q.pad_w = 1;
  expect_size (q, 32, 32, "k4 s2 p1 doubles");
}

static void
opad_rule_is_max_of_stride_and_dilation (void)
{
  tconv_params p = base ();
  p.stride_h = 1, p.dil_h = 2, p.opad_h = 1;
  expect_size (p, 5 + 2 * 2 + 1, 10, "s=1 d=2 o=1 is legal");
  p = base ();
  p.stride_h = 2, p.dil_h = 3, p.opad_h = 2;
  expect_size (p, 8 + 6 + 2 + 1, 10, "s=2 d=3 o=2 is legal");
  p = base ();
  p.stride_h = 2, p.dil_h = 2, p.opad_h = 2;
  expect_error (p, TCONV_ERR_INVALID_ARG, "output_padding_h 2: must be smaller than either stride_h 2",
                "o=s=d=2 rejected");
  p = base ();
  p.stride_w = 3, p.opad_w = 3;
  expect_error (p, TCONV_ERR_INVALID_ARG, "output_padding_w 3", "o=s=3 rejected");
}

static void
each_rule_names_value (void)
{
  tconv_params p;
  p = base (), p.stride_h = 0;
  expect_error (p, TCONV_ERR_INVALID_ARG, "stride_h 0: must be >= 1", "stride 0");
  p = base (), p.stride_w = -2;
  expect_error (p, TCONV_ERR_INVALID_ARG, "stride_w -2: must be >= 1", "negative stride");
  p = base (), p.pad_w = -1;
  expect_error (p, TCONV_ERR_INVALID_ARG, "padding_w -1: must be >= 0", "negative padding");
  p = base (), p.opad_h = -1;
  expect_error (p, TCONV_ERR_INVALID_ARG, "output_padding_h -1", "negative output padding");
  p = base (), p.dil_w = 0;
  expect_error (p, TCONV_ERR_INVALID_ARG, "dilation_w 0: must be >= 1", "dilation 0");
  p = base (), p.groups = 0;
  expect_error (p, TCONV_ERR_INVALID_ARG, "groups 0: must be >= 1", "groups 0");
  p = base (), p.groups = 3, p.in_c = 4, p.out_c = 3;
  expect_error (p, TCONV_ERR_INVALID_ARG, "in_channels 4: must be divisible by groups 3",
                "groups divides C_in");
  p = base (), p.groups = 2, p.in_c = 4, p.out_c = 3;
  expect_error (p, TCONV_ERR_INVALID_ARG, "out_channels 3: must be divisible by groups 2",
                "groups divides C_out");
  p = base (), p.in_h = 0;
  expect_error (p, TCONV_ERR_INVALID_ARG, "input height 0", "empty input");
  p = base (), p.k_w = 0;
  expect_error (p, TCONV_ERR_INVALID_ARG, "kernel width 0", "empty kernel");
  p = base (), p.pad_h = 4;
  expect_error (p, TCONV_ERR_INVALID_ARG, "output size -1 x 10", "padding crops all (H_out < 1)");
  p = base (), p.pad_h = 3, p.k_h = 1, p.in_h = 6;
  expect_error (p, TCONV_ERR_INVALID_ARG, "output size 0 x", "H_out == 0 is an error too");
}

static void
limits_and_overflow_refused (void)
{
  tconv_params p;
  p = base (), p.stride_h = 65;
  expect_error (p, TCONV_ERR_TOO_LARGE, "stride_h 65: must be <= 64", "stride limit");
  p = base (), p.k_h = 257;
  expect_error (p, TCONV_ERR_TOO_LARGE, "kernel height 257", "kernel limit");
  p = base (), p.in_w = 524289;
  expect_error (p, TCONV_ERR_TOO_LARGE, "input width 524289", "side limit");
  p = base (), p.in_h = 524288, p.stride_h = 2;
  expect_error (p, TCONV_ERR_TOO_LARGE, "must be at most 524288 pixels per side",
                "output side limit");
  p = base (), p.in_c = INT64_MAX;
  expect_error (p, TCONV_ERR_TOO_LARGE, "in_channels", "absurd channels");
  p = base (), p.pad_w = INT64_MAX;
  expect_error (p, TCONV_ERR_TOO_LARGE, "padding_w", "absurd padding");
  /* the largest legal sizes still compute without overflow */
  p = base (), p.in_h = p.in_w = 262144, p.in_c = p.out_c = 65536, p.stride_h = p.stride_w = 2;
  p.k_h = p.k_w = 2;
  expect_size (p, 524288, 524288, "largest sides");
  CHECK (tconv_geometry_init (NULL, &p, NULL) == TCONV_ERR_INVALID_ARG, "NULL geometry");
  CHECK (tconv_geometry_init ((tconv_geometry[1]) { 0 }, NULL, NULL) == TCONV_ERR_INVALID_ARG,
         "NULL params");
}

int
main (void)
{
  test_begin ("test-geometry");
  sizes_follow_pytorch_formula ();
  opad_rule_is_max_of_stride_and_dilation ();
  each_rule_names_value ();
  limits_and_overflow_refused ();
  return test_end ();
}
