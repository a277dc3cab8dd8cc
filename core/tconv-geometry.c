/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Geometry: PyTorch's legality rules and output size, every product overflow-checked, plus
 * the view helpers and the checks shared by all compute paths. */
#include "tconv-private.h"

#include <string.h>

void
tconv_params_init (tconv_params *params)
{
  if (params == NULL)
    return;
  memset (params, 0, sizeof *params);
  params->groups = 1;
  params->stride_h = params->stride_w = 1;
  params->dil_h = params->dil_w = 1;
}

/* Checks lo <= v <= hi for a named value. */
static tconv_status
check_range (tconv_error *err, const char *what, int64_t v, int64_t lo, int64_t hi)
{
  if (v < lo)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s %lld: must be >= %lld", what,
                       (long long) v, (long long) lo);
  if (v > hi)
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0, "%s %lld: must be <= %lld", what,
                       (long long) v, (long long) hi);
  return TCONV_OK;
}

/* Output extent along one axis; the terms are bounded so int64 cannot overflow:
 * in <= 2^19, s <= 64, d <= 64, k <= 256, o < 64. */
static int64_t
axis_out (int64_t in, int64_t k, int64_t s, int64_t p, int64_t o, int64_t d)
{
  return (in - 1) * s - 2 * p + d * (k - 1) + o + 1;
}

tconv_status
tconv_geometry_init (tconv_geometry *geom, const tconv_params *p, tconv_error *err)
{
  tconv_status st;
  int64_t      out_h, out_w;
  size_t       in_len, out_len, weight_len;

  if (geom == NULL || p == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "geometry: NULL argument");

  /* PyTorch's order: positivity of stride, padding, dilation, groups first. */
  if ((st = check_range (err, "stride_h", p->stride_h, 1, TCONV_MAX_STRIDE))
      || (st = check_range (err, "stride_w", p->stride_w, 1, TCONV_MAX_STRIDE))
      || (st = check_range (err, "dilation_h", p->dil_h, 1, TCONV_MAX_DILATION))
      || (st = check_range (err, "dilation_w", p->dil_w, 1, TCONV_MAX_DILATION))
      || (st = check_range (err, "padding_h", p->pad_h, 0, INT32_MAX))
      || (st = check_range (err, "padding_w", p->pad_w, 0, INT32_MAX))
      || (st = check_range (err, "output_padding_h", p->opad_h, 0, INT32_MAX))
      || (st = check_range (err, "output_padding_w", p->opad_w, 0, INT32_MAX))
      || (st = check_range (err, "groups", p->groups, 1, TCONV_MAX_GROUPS))
      || (st = check_range (err, "in_channels", p->in_c, 1, TCONV_MAX_CHANNELS))
      || (st = check_range (err, "out_channels", p->out_c, 1, TCONV_MAX_CHANNELS))
      || (st = check_range (err, "input height", p->in_h, 1, TCONV_MAX_SIDE))
      || (st = check_range (err, "input width", p->in_w, 1, TCONV_MAX_SIDE))
      || (st = check_range (err, "kernel height", p->k_h, 1, TCONV_MAX_KERNEL_SIDE))
      || (st = check_range (err, "kernel width", p->k_w, 1, TCONV_MAX_KERNEL_SIDE)))
    return st;

  if (!(p->opad_h < p->stride_h || p->opad_h < p->dil_h))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "output_padding_h %lld: must be smaller than either stride_h %lld or "
                       "dilation_h %lld",
                       (long long) p->opad_h, (long long) p->stride_h, (long long) p->dil_h);
  if (!(p->opad_w < p->stride_w || p->opad_w < p->dil_w))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "output_padding_w %lld: must be smaller than either stride_w %lld or "
                       "dilation_w %lld",
                       (long long) p->opad_w, (long long) p->stride_w, (long long) p->dil_w);
  if (p->in_c % p->groups != 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "in_channels %lld: must be divisible by groups %lld",
                       (long long) p->in_c, (long long) p->groups);
  if (p->out_c % p->groups != 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "out_channels %lld: must be divisible by groups %lld",
                       (long long) p->out_c, (long long) p->groups);

  out_h = axis_out (p->in_h, p->k_h, p->stride_h, p->pad_h, p->opad_h, p->dil_h);
  out_w = axis_out (p->in_w, p->k_w, p->stride_w, p->pad_w, p->opad_w, p->dil_w);
  if (out_h < 1 || out_w < 1)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "output size %lld x %lld: must be at least 1 x 1 (padding %lld,%lld "
                       "crops away the whole output)",
                       (long long) out_h, (long long) out_w, (long long) p->pad_h,
                       (long long) p->pad_w);
  if (out_h > (int64_t) TCONV_MAX_SIDE || out_w > (int64_t) TCONV_MAX_SIDE)
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "output size %lld x %lld: must be at most %u pixels per side",
                       (long long) out_h, (long long) out_w, TCONV_MAX_SIDE);

  if (!tconv_mul3_size ((size_t) p->in_c, (size_t) p->in_h, (size_t) p->in_w, &in_len)
      || in_len > SIZE_MAX / sizeof (double)
      || !tconv_mul3_size ((size_t) p->out_c, (size_t) out_h, (size_t) out_w, &out_len)
      || out_len > SIZE_MAX / sizeof (double)
      || !tconv_mul4_size ((size_t) p->in_c, (size_t) (p->out_c / p->groups), (size_t) p->k_h,
                           (size_t) p->k_w, &weight_len)
      || weight_len > SIZE_MAX / sizeof (double))
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "tensor sizes overflow: input %lldx%lldx%lld, output %lldx%lldx%lld",
                       (long long) p->in_c, (long long) p->in_h, (long long) p->in_w,
                       (long long) p->out_c, (long long) out_h, (long long) out_w);

  *geom = (tconv_geometry) {
    .in_c = (size_t) p->in_c, .in_h = (size_t) p->in_h, .in_w = (size_t) p->in_w,
    .out_c = (size_t) p->out_c, .out_h = (size_t) out_h, .out_w = (size_t) out_w,
    .groups = (size_t) p->groups,
    .k_h = (size_t) p->k_h, .k_w = (size_t) p->k_w,
    .stride_h = (size_t) p->stride_h, .stride_w = (size_t) p->stride_w,
    .pad_h = (size_t) p->pad_h, .pad_w = (size_t) p->pad_w,
    .opad_h = (size_t) p->opad_h, .opad_w = (size_t) p->opad_w,
    .dil_h = (size_t) p->dil_h, .dil_w = (size_t) p->dil_w,
    .in_len = in_len, .out_len = out_len, .weight_len = weight_len,
  };
  return TCONV_OK;
}

tconv_in_view
tconv_in_view_planar (const tconv_geometry *geom, const float *data)
{
  return (tconv_in_view) { .data = data, .y0 = 0, .x0 = 0, .h = geom->in_h, .w = geom->in_w,
                           .c_stride = (ptrdiff_t) (geom->in_h * geom->in_w),
                           .y_stride = (ptrdiff_t) geom->in_w, .x_stride = 1 };
}

tconv_out_view
tconv_out_view_planar (const tconv_geometry *geom, float *data)
{
  return (tconv_out_view) { .data = data, .y0 = 0, .x0 = 0, .h = geom->out_h, .w = geom->out_w,
                            .c_stride = (ptrdiff_t) (geom->out_h * geom->out_w),
                            .y_stride = (ptrdiff_t) geom->out_w, .x_stride = 1 };
}

tconv_status
tconv_check_views (const tconv_geometry *geom, const float *weight, const tconv_in_view *in,
                   const tconv_out_view *out, tconv_error *err)
{
  if (geom == NULL || weight == NULL || in == NULL || out == NULL || in->data == NULL
      || out->data == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "a NULL pointer among geometry, weights, views and their data");
  if (geom->groups == 0 || geom->stride_h == 0 || geom->stride_w == 0 || geom->dil_h == 0
      || geom->dil_w == 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "geometry with groups, stride or dilation 0: not from "
                       "tconv_geometry_init()");
  if (out->h == 0 || out->w == 0 || out->y0 > geom->out_h || out->h > geom->out_h - out->y0
      || out->x0 > geom->out_w || out->w > geom->out_w - out->x0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "output region (%zu, %zu) + %zux%zu: must be non-empty and inside the "
                       "%zux%zu output",
                       out->y0, out->x0, out->h, out->w, geom->out_h, geom->out_w);
  if (in->h > TCONV_MAX_SIDE * 2u || in->w > TCONV_MAX_SIDE * 2u
      || in->y0 < -(int64_t) TCONV_MAX_SIDE || in->y0 > (int64_t) TCONV_MAX_SIDE
      || in->x0 < -(int64_t) TCONV_MAX_SIDE || in->x0 > (int64_t) TCONV_MAX_SIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "input view (%lld, %lld) + %zux%zu: must start within +-%u and hold at "
                       "most %u pixels per side",
                       (long long) in->y0, (long long) in->x0, in->h, in->w, TCONV_MAX_SIDE,
                       2u * TCONV_MAX_SIDE);
  return TCONV_OK;
}
