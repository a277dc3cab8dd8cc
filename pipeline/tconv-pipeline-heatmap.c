/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The kernel heatmap raster and its colour map (tconv-pipeline-heatmap.h). */
#include "tconv-pipeline-heatmap.h"

#include <math.h>

static const guint8 CELL_LINE[3] = { 0xdc, 0xdc, 0xdc };
static const guint8 BLOCK_LINE[3] = { 0x8c, 0x8c, 0x8c };
static const guint8 FRAME[3] = { 0x40, 0x40, 0x40 };

void
tconv_pipeline_heatmap_colour (gdouble t, guint8 rgb[3])
{
  static const guint8 stops[11][3] = {
    { 0x05, 0x30, 0x61 }, { 0x21, 0x66, 0xac }, { 0x43, 0x93, 0xc3 }, { 0x92, 0xc5, 0xde },
    { 0xd1, 0xe5, 0xf0 }, { 0xff, 0xff, 0xff }, { 0xfd, 0xdb, 0xc7 }, { 0xf4, 0xa5, 0x82 },
    { 0xd6, 0x60, 0x4d }, { 0xb2, 0x18, 0x2b }, { 0x67, 0x00, 0x1f },
  };
  gdouble u, f;
  gint    i;

  if (!(t > -1.0))
    t = -1.0;
  if (t > 1.0)
    t = 1.0;
  u = (t + 1.0) * 5.0;
  i = MIN ((gint) u, 9);
  f = u - i;
  for (gint c = 0; c < 3; c++)
    rgb[c] = (guint8) lround (stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
}

gdouble
tconv_pipeline_heatmap_position (gdouble v, gdouble vmax)
{
  const gdouble t = v / vmax;

  return t < 0.0 ? -sqrt (-t) : sqrt (t);
}

static void
fill (guint8 *rgb, gsize rowstride, gint x, gint y, gint w, gint h, const guint8 c[3])
{
  for (gint j = y; j < y + h; j++)
    for (gint i = x; i < x + w; i++)
      {
        guint8 *p = rgb + (gsize) j * rowstride + (gsize) i * 3;

        p[0] = c[0], p[1] = c[1], p[2] = c[2];
      }
}

void
tconv_pipeline_heatmap_cell (guint8 *rgb, gsize rowstride, gint cell, gdouble v, gdouble vmax)
{
  const gdouble t = tconv_pipeline_heatmap_position (v, vmax);
  guint8        colour[3];

  tconv_pipeline_heatmap_colour (t, colour);
  fill (rgb, rowstride, 0, 0, cell - 1, cell - 1, colour);
  if (v < 0.0 && cell >= 8)
    {
      const gint   bw = MAX (3, cell / 3), bh = MAX (1, (cell + 7) / 16);
      const guint8 white[3] = { 0xff, 0xff, 0xff }, navy[3] = { 0x1d, 0x35, 0x57 };

      fill (rgb, rowstride, (cell - 1 - bw) / 2, (cell - 1 - bh) / 2, bw, bh,
            t < -0.55 ? white : navy);
    }
}

void
tconv_pipeline_kernel_heatmap_size (const tconv_kernel *k, gint cell, gint *width, gint *height)
{
  *width = (gint) k->k_w * cell + 1;
  *height = (gint) k->k_h * cell + 1;
}

void
tconv_pipeline_kernel_heatmap (const tconv_kernel *k, gsize channel, gdouble vmax, gint cell,
                               guint8 *rgb, gsize rowstride)
{
  const gfloat *w = k->weights + channel * k->k_h * k->k_w;
  const gint    sh = (gint) k->stride_h, sw = (gint) k->stride_w;
  gint          aw, ah;

  tconv_pipeline_kernel_heatmap_size (k, cell, &aw, &ah);
  fill (rgb, rowstride, 0, 0, aw, ah, CELL_LINE);
  for (gsize ky = 0; ky < k->k_h; ky++)
    for (gsize kx = 0; kx < k->k_w; kx++)
      tconv_pipeline_heatmap_cell (rgb + (1 + ky * cell) * rowstride + (1 + kx * cell) * 3,
                                   rowstride, cell, w[ky * k->k_w + kx], vmax);
  if (sh > 1 || sw > 1)
    {
      for (gint ky = sh; ky < (gint) k->k_h; ky += sh)
        fill (rgb, rowstride, 0, ky * cell, aw, 1, BLOCK_LINE);
      for (gint kx = sw; kx < (gint) k->k_w; kx += sw)
        fill (rgb, rowstride, kx * cell, 0, 1, ah, BLOCK_LINE);
    }
  fill (rgb, rowstride, 0, 0, aw, 1, FRAME);
  fill (rgb, rowstride, 0, ah - 1, aw, 1, FRAME);
  fill (rgb, rowstride, 0, 0, 1, ah, FRAME);
  fill (rgb, rowstride, aw - 1, 0, 1, ah, FRAME);
}
