/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The kernel heatmap both front ends show: one colour map and one raster of the taps. The
 * command frames it with labels and writes a PNG (`tconv kernel show --png`); the plug-in's
 * dialog paints it. */
#ifndef TCONV_PIPELINE_HEATMAP_H
#define TCONV_PIPELINE_HEATMAP_H

#include <glib.h>

#include "tconv.h"

G_BEGIN_DECLS

/**
 * tconv_pipeline_heatmap_colour:
 * @t:   position on the map, -1..1 (clamped; NaN is -1).
 * @rgb: (out): 8-bit R, G, B.
 *
 * Diverging colours, ColorBrewer RdBu (11 classes) interpolated: -1 dark blue, 0 white,
 * +1 dark red.
 */
void tconv_pipeline_heatmap_colour (gdouble t, guint8 rgb[3]);

/**
 * tconv_pipeline_heatmap_position:
 * Returns: where a tap @v sits on the map for taps up to @vmax (> 0) in magnitude: the signed
 * square root of @v / @vmax, so that the small negative lobes (a few per cent of the peak)
 * that decide ringing stay visible next to the peak.
 */
gdouble tconv_pipeline_heatmap_position (gdouble v, gdouble vmax);

/**
 * tconv_pipeline_heatmap_cell:
 * @rgb:  (out): top-left pixel of a @cell x @cell square of 8-bit RGB rows, @rowstride bytes
 *        apart; (@cell - 1) x (@cell - 1) pixels are written, the last row and column left
 *        to the grid lines.
 *
 * One tap: its colour, and for a negative tap in a cell of 8 or more pixels a small bar, so
 * that the sign reads even where the colour is pale.
 */
void tconv_pipeline_heatmap_cell (guint8 *rgb, gsize rowstride, gint cell, gdouble v,
                                  gdouble vmax);

/**
 * tconv_pipeline_kernel_heatmap_size:
 * The raster of tconv_pipeline_kernel_heatmap(): (@k->k_w @cell + 1) x (@k->k_h @cell + 1).
 */
void tconv_pipeline_kernel_heatmap_size (const tconv_kernel *k, gint cell, gint *width,
                                         gint *height);

/**
 * tconv_pipeline_kernel_heatmap:
 * @channel: which channel's taps (0 for a shared kernel).
 * @vmax:    the magnitude that gets the map's ends (> 0), e.g. the largest |tap|.
 * @cell:    pixels per tap, >= 2.
 * @rgb:     (out): tconv_pipeline_kernel_heatmap_size() pixels of 8-bit RGB, rows @rowstride
 *           bytes apart; every one is written.
 *
 * The kernel as stored: one square per tap (tconv_pipeline_heatmap_cell()) on light grid
 * lines, darker lines around the stride x stride blocks (each holds one tap of every output
 * phase), a dark frame.
 */
void tconv_pipeline_kernel_heatmap (const tconv_kernel *k, gsize channel, gdouble vmax,
                                    gint cell, guint8 *rgb, gsize rowstride);

G_END_DECLS

#endif /* TCONV_PIPELINE_HEATMAP_H */
