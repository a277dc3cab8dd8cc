/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The kernel bank's fast gather (tconv-bank.h) and the argument checks it shares with the
 * oracle. Per owner LR pixel, one output row of its s x s block at a time: for each tap row
 * and tap column the s weights of that row of phases are contiguous in the class kernel, so
 * the inner loop runs over phases and channels. Every output pixel sums its taps in the same
 * order (tap rows, then tap columns, ascending) whatever region it is computed in. */
#include "tconv-bank.h"
#include "tconv-private.h"

#include <inttypes.h>
#include <string.h>

/* Largest s * channels a block row holds on the stack: 64 phases of 64 channels. */
#define ROW_MAX (TCONV_MAX_STRIDE * TCONV_KERNEL_MAX_CHANNELS)

static tconv_status
check_map (const tconv_bank *bank, const tconv_bank_class_map *map, const tconv_out_view *out,
           size_t s, tconv_error *err)
{
  const int64_t jy0 = (int64_t) (out->y0 / s), jy1 = (int64_t) ((out->y0 + out->h - 1) / s);
  const int64_t jx0 = (int64_t) (out->x0 / s), jx1 = (int64_t) ((out->x0 + out->w - 1) / s);

  if (map->data == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank class map: data is NULL");
  if (map->y0 > jy0 || map->x0 > jx0 || map->y0 + (int64_t) map->h <= jy1
      || map->x0 + (int64_t) map->w <= jx1 || map->stride < (ptrdiff_t) map->w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank class map rows %" PRId64 "..%" PRId64 ", columns %" PRId64
                       "..%" PRId64 ": must cover the owners, rows %" PRId64 "..%" PRId64
                       ", columns %" PRId64 "..%" PRId64,
                       map->y0, map->y0 + (int64_t) map->h - 1, map->x0,
                       map->x0 + (int64_t) map->w - 1, jy0, jy1, jx0, jx1);
  for (int64_t y = jy0; y <= jy1; y++)
    for (int64_t x = jx0; x <= jx1; x++)
      {
        uint16_t c = map->data[(y - map->y0) * map->stride + (x - map->x0)];
        if (c >= bank->classes)
          return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                             "bank class map: class %u at (%" PRId64 ", %" PRId64
                             "): the bank has %zu classes", c, y, x, bank->classes);
      }
  return TCONV_OK;
}

tconv_status
tconv_bank_check_args (const tconv_bank *bank, const tconv_geometry *geom,
                       const tconv_in_view *in, const tconv_bank_class_map *map,
                       const tconv_out_view *out, tconv_error *err)
{
  const tconv_kernel *g;
  tconv_status        st;

  if (bank == NULL || bank->global == NULL || geom == NULL || map == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank upsample: a pointer is NULL");
  g = bank->global;
  if (geom->groups != geom->in_c || geom->out_c != geom->in_c || geom->dil_h != 1
      || geom->dil_w != 1 || geom->k_h != g->k_h || geom->k_w != g->k_w
      || geom->stride_h != g->stride_h || geom->stride_w != g->stride_w
      || geom->pad_h != g->pad_h || geom->pad_w != g->pad_w || geom->opad_h != g->opad_h
      || geom->opad_w != g->opad_w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank upsample: the geometry must be depthwise (groups = channels) with "
                       "the bank's size, stride and padding");
  if (geom->in_c > TCONV_KERNEL_MAX_CHANNELS)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank upsample: %zu channels: at most %u", geom->in_c,
                       TCONV_KERNEL_MAX_CHANNELS);
  if ((st = tconv_check_views (geom, g->weights, in, out, err)))
    return st;
  return check_map (bank, map, out, geom->stride_h, err);
}

/* Tap offsets d (input = owner + d) that reach phase @phi: k > phi + pad - s d >= 0. */
static void
tap_range (size_t phi, size_t pad, size_t k, size_t s, int64_t *lo, int64_t *hi)
{
  int64_t top = (int64_t) phi + (int64_t) pad;
  *hi = tconv_floor_div (top, (int64_t) s);
  *lo = -tconv_floor_div ((int64_t) k - 1 - top, (int64_t) s);
}

typedef struct gather
{
  const tconv_geometry *geom;
  const tconv_in_view  *in;
  const tconv_out_view *out;
  size_t                s, C;
  int64_t               dx_lo, dx_hi; /* tap columns reaching any phase */
} gather;

/* Output row y = s jy + phy, columns of owner jx, into acc[phase x][channel]. */
static void
owner_row (const gather *g, const float *K, int64_t jy, size_t phy, int64_t jx, float *acc)
{
  const size_t s = g->s, C = g->C, k_w = g->geom->k_w, pad_w = g->geom->pad_w;
  int64_t      dy_lo, dy_hi;

  memset (acc, 0, s * C * sizeof (float));
  tap_range (phy, g->geom->pad_h, g->geom->k_h, s, &dy_lo, &dy_hi);
  for (int64_t dy = dy_lo; dy <= dy_hi; dy++)
    {
      const int64_t iy = jy + dy - g->in->y0;
      const float  *krow = K + ((int64_t) phy + (int64_t) g->geom->pad_h - (int64_t) s * dy)
                                 * (int64_t) k_w;
      if (iy < 0 || iy >= (int64_t) g->in->h)
        continue;
      for (int64_t dx = g->dx_lo; dx <= g->dx_hi; dx++)
        {
          const int64_t ix = jx + dx - g->in->x0;
          const int64_t kx0 = (int64_t) pad_w - (int64_t) s * dx; /* tap of phase 0 */
          const float  *px;
          float         v[TCONV_KERNEL_MAX_CHANNELS];
          if (ix < 0 || ix >= (int64_t) g->in->w)
            continue;
          px = g->in->data + iy * g->in->y_stride + ix * g->in->x_stride;
          for (size_t c = 0; c < C; c++)
            v[c] = px[(ptrdiff_t) c * g->in->c_stride];
          for (size_t phx = 0; phx < s; phx++)
            {
              const int64_t kx = kx0 + (int64_t) phx;
              if (kx < 0 || kx >= (int64_t) k_w)
                continue;
              for (size_t c = 0; c < C; c++)
                acc[phx * C + c] += krow[kx] * v[c];
            }
        }
    }
}

static void
gather_rows (const tconv_bank *bank, const gather *g, const tconv_bank_class_map *map)
{
  const tconv_out_view *out = g->out;
  const size_t          s = g->s, C = g->C, plane = g->geom->k_h * g->geom->k_w;
  float                 acc[ROW_MAX];

  for (size_t y = out->y0; y < out->y0 + out->h; y++)
    {
      const int64_t jy = (int64_t) (y / s);
      const size_t  phy = y % s;
      float        *orow = out->data + (ptrdiff_t) (y - out->y0) * out->y_stride;
      for (size_t x = out->x0; x < out->x0 + out->w;)
        {
          const int64_t   jx = (int64_t) (x / s);
          const uint16_t  c = map->data[(jy - map->y0) * map->stride + (jx - map->x0)];
          const size_t    last = (size_t) jx * s + s; /* one past the block's columns */
          owner_row (g, bank->weights + (size_t) c * plane, jy, phy, jx, acc);
          for (; x < last && x < out->x0 + out->w; x++)
            {
              float *o = orow + (ptrdiff_t) (x - out->x0) * out->x_stride;
              for (size_t ch = 0; ch < C; ch++)
                o[(ptrdiff_t) ch * out->c_stride] = acc[(x % s) * C + ch];
            }
        }
    }
}

tconv_status
tconv_bank_upsample (const tconv_bank *bank, const tconv_geometry *geom,
                     const tconv_in_view *in, const tconv_bank_class_map *map,
                     const tconv_out_view *out, tconv_error *err)
{
  gather       g;
  int64_t      lo, hi;
  tconv_status st = tconv_bank_check_args (bank, geom, in, map, out, err);

  if (st)
    return st;
  g = (gather) { geom, in, out, geom->stride_h, geom->in_c, INT64_MAX, INT64_MIN };
  for (size_t phx = 0; phx < g.s; phx++)
    {
      tap_range (phx, geom->pad_w, geom->k_w, g.s, &lo, &hi);
      g.dx_lo = lo < g.dx_lo ? lo : g.dx_lo;
      g.dx_hi = hi > g.dx_hi ? hi : g.dx_hi;
    }
  gather_rows (bank, &g, map);
  return TCONV_OK;
}
