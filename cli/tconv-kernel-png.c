/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The heatmap of `tconv kernel show --png`. Of a kernel: per channel, the kernel as stored (one square cell
 * per tap, grey lines around the s x s blocks that hold one tap of every phase) and the same
 * taps regrouped by output phase, each phase with its DC gain, next to a colour bar. Colours
 * are diverging (ColorBrewer RdBu: red positive, blue negative, white zero) on a scale
 * symmetric about 0, and negative taps carry a small bar so the sign reads even where the
 * colour is pale. Cells and lines are drawn into an RGB byte buffer here; text comes from
 * gegl:text (skipped when GEGL lacks it) and the file from gegl:png-save, atomically. The
 * image size depends only on the kernel's geometry and the cell size, never on fonts. Of a
 * bank: every class's kernel, laid out by angle x coherence x strength (below). */
#define _POSIX_C_SOURCE 200809L
#include "tconv-cli.h"
#include "tconv-pipeline-heatmap.h"

#include <gegl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* Layout, in pixels. */
#define MARGIN      18
#define TITLE_H     26
#define LINE_H      19
#define HEAD_H      22
#define LABEL_H     20
#define PANEL_GAP   28
#define SLOT_GAP_X  14
#define SLOT_GAP_Y  8
#define SLOT_MIN_W  100
#define COL_A_MIN   210
#define COL_B_MIN   340
#define BAR_W       14
#define LEGEND_W    (BAR_W + 8 + 62)
#define BAR_MIN_H   140
#define MIN_WIDTH   680

typedef struct
{
  guchar  *px; /* RGB rows of 3 * w bytes */
  int      w, h;
  gboolean text; /* gegl:text exists */
} Canvas;

typedef struct
{
  guchar r, g, b;
} Rgb;

static const Rgb INK = { 0x22, 0x22, 0x22 };
static const Rgb MUTED = { 0x66, 0x66, 0x66 };
static const Rgb CELL_LINE = { 0xdc, 0xdc, 0xdc };
static const Rgb FRAME = { 0x40, 0x40, 0x40 };
static const Rgb WARM_TEXT = { 0xb2, 0x18, 0x2b };
static const Rgb COOL_TEXT = { 0x21, 0x66, 0xac };

static void
fill (Canvas *cv, int x, int y, int w, int h, Rgb c)
{
  const int x0 = MAX (x, 0), y0 = MAX (y, 0), x1 = MIN (x + w, cv->w), y1 = MIN (y + h, cv->h);

  for (int j = y0; j < y1; j++)
    for (int i = x0; i < x1; i++)
      {
        guchar *p = cv->px + ((gsize) j * (gsize) cv->w + (gsize) i) * 3;
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
      }
}

static void
frame (Canvas *cv, int x, int y, int w, int h, Rgb c)
{
  fill (cv, x, y, w, 1, c);
  fill (cv, x, y + h - 1, w, 1, c);
  fill (cv, x, y, 1, h, c);
  fill (cv, x + w - 1, y, 1, h, c);
}

/* The shared colour map (pipeline/tconv-pipeline-heatmap.c) as a fill colour. */
static Rgb
diverging (double t)
{
  guint8 c[3];

  tconv_pipeline_heatmap_colour (t, c);
  return (Rgb) { c[0], c[1], c[2] };
}

/* One tap of the phase panel, through the shared cell painter; the canvas holds it whole. */
static void
draw_cell (Canvas *cv, int x, int y, int c, double v, double vmax)
{
  tconv_pipeline_heatmap_cell (cv->px + ((gsize) y * (gsize) cv->w + (gsize) x) * 3,
                               (gsize) cv->w * 3, c, v, vmax);
}

/* Text through gegl:text, composited onto the canvas. @align: 0 left of @x, 1 centred on @x,
 * 2 right of @x; vertically centred in the @slot_h rows from @y. */
static void
draw_text (Canvas *cv, const char *text, double size, gboolean bold, Rgb rgb, int x, int y,
           int slot_h, int align)
{
  GeglNode     *graph, *node;
  GeglColor    *color;
  GeglRectangle r;
  gchar         css[32];
  guchar       *buf;

  if (!cv->text || text == NULL || *text == '\0')
    return;
  snprintf (css, sizeof css, "#%02x%02x%02x", rgb.r, rgb.g, rgb.b);
  color = gegl_color_new (css);
  graph = gegl_node_new ();
  node = gegl_node_new_child (graph, "operation", "gegl:text", "string", text, "font",
                              bold ? "Sans Bold" : "Sans", "size", size, "color", color, NULL);
  r = gegl_node_get_bounding_box (node);
  if (r.width > 0 && r.height > 0 && r.width < 20000 && r.height < 2000)
    {
      /* The layout's origin is its top-left corner and @r its ink: keep baselines level by
       * centring a line of 1.25 * size, not the ink. */
      const int ox = align == 0 ? x + r.x : align == 1 ? x - r.width / 2 : x - r.width;
      const int oy = y + (slot_h - (int) lround (1.25 * size)) / 2 + r.y;

      buf = g_malloc ((gsize) r.width * (gsize) r.height * 4);
      gegl_node_blit (node, 1.0, &r, babl_format ("R'G'B'A u8"), buf, r.width * 4,
                      GEGL_BLIT_DEFAULT);
      for (int j = 0; j < r.height; j++)
        for (int i = 0; i < r.width; i++)
          {
            const guchar *s = buf + ((gsize) j * (gsize) r.width + (gsize) i) * 4;
            const int     cx = ox + i, cy = oy + j;
            guchar       *d;

            if (s[3] == 0 || cx < 0 || cy < 0 || cx >= cv->w || cy >= cv->h)
              continue;
            d = cv->px + ((gsize) cy * (gsize) cv->w + (gsize) cx) * 3;
            for (int k = 0; k < 3; k++)
              d[k] = (guchar) ((s[k] * s[3] + d[k] * (255 - s[3]) + 127) / 255);
          }
      g_free (buf);
    }
  g_object_unref (graph);
  g_object_unref (color);
}

/* ---- layout ---- */

typedef struct
{
  int c;                    /* cell side */
  int sub_h, sub_w;         /* largest phase sub-kernel */
  int aw, ah;               /* panel A grid */
  int col_a, col_b;         /* column widths */
  int slot_w, slot_h, bw, bh;
  int body_h;               /* panels and colour bar of one channel */
  int block_h;              /* one channel with its headers */
  int w, h;
} Layout;

static void
layout_init (Layout *l, const tconv_kernel *k, int cell)
{
  const int kmax = (int) MAX (k->k_h, k->k_w);
  const int sh = (int) k->stride_h, sw = (int) k->stride_w;

  l->c = cell > 0 ? cell : CLAMP (384 / kmax, 14, 36);
  l->sub_h = ((int) k->k_h + sh - 1) / sh;
  l->sub_w = ((int) k->k_w + sw - 1) / sw;
  l->aw = (int) k->k_w * l->c + 1;
  l->ah = (int) k->k_h * l->c + 1;
  l->slot_w = MAX (l->sub_w * l->c + 1, SLOT_MIN_W);
  l->slot_h = l->sub_h * l->c + 1 + LABEL_H;
  l->bw = sw * l->slot_w + (sw - 1) * SLOT_GAP_X;
  l->bh = sh * l->slot_h + (sh - 1) * SLOT_GAP_Y;
  l->col_a = MAX (l->aw, COL_A_MIN);
  l->col_b = MAX (l->bw, COL_B_MIN);
  l->body_h = MAX (MAX (l->ah, l->bh), BAR_MIN_H);
  l->block_h = (k->channels > 1 ? LINE_H : 0) + HEAD_H + l->body_h + 14;
  l->w = MAX (MARGIN + l->col_a + PANEL_GAP + l->col_b + PANEL_GAP + LEGEND_W + MARGIN,
              MIN_WIDTH);
  l->h = MARGIN + TITLE_H + LINE_H + 10 + (int) k->channels * l->block_h + 4 * LINE_H + MARGIN;
}

static gchar *
fmt_tick (double v)
{
  if (fabs (v) < 1e-12)
    return g_strdup ("0");
  return g_strdup_printf ("%+.3g", v);
}

/* The colour bar from +@vmax at the top to -@vmax, @bar_h rows from @by, with ticks. */
static void
draw_colour_bar (Canvas *cv, int xl, int by, int bar_h, double vmax)
{
  for (int j = 0; j < bar_h; j++)
    fill (cv, xl, by + j, BAR_W, 1, diverging (1.0 - 2.0 * j / (double) (bar_h - 1)));
  frame (cv, xl - 1, by - 1, BAR_W + 2, bar_h + 2, FRAME);
  for (int t = 0; t <= 4; t++)
    {
      /* bar position u in [-1, 1] shows the value vmax * sign(u) * u^2 */
      const double u = 1.0 - t / 2.0;
      const int    ty = by + (int) lround ((bar_h - 1) * t / 4.0);
      gchar       *label = fmt_tick (vmax * (u < 0 ? -u * u : u * u));

      fill (cv, xl + BAR_W + 1, ty, 4, 1, FRAME);
      draw_text (cv, label, 11.0, FALSE, INK, xl + BAR_W + 8, ty - 9, 18, 0);
      g_free (label);
    }
}

static void
draw_channel (Canvas *cv, const Layout *l, const tconv_kernel *k, gsize ch, double vmax, int y)
{
  const float *w = k->weights + ch * k->k_h * k->k_w;
  const int    c = l->c, sh = (int) k->stride_h, sw = (int) k->stride_w;
  const int    xa = MARGIN, xb = MARGIN + l->col_a + PANEL_GAP;
  const int    xl = xb + l->col_b + PANEL_GAP;
  double      *sums = g_new (double, (gsize) sh * (gsize) sw);
  double       mean = 0.0;
  gchar       *s;

  if (k->channels > 1)
    {
      s = g_strdup_printf ("channel %zu", ch);
      draw_text (cv, s, 13.0, TRUE, INK, xa, y, LINE_H, 0);
      g_free (s);
      y += LINE_H;
    }

  /* Panel A: the kernel as stored. */
  s = g_strdup_printf ("kernel as stored, %zu\xc3\x97%zu taps", k->k_h, k->k_w);
  draw_text (cv, s, 12.0, TRUE, INK, xa, y, HEAD_H, 0);
  g_free (s);
  s = g_strdup_printf ("phases (ky mod %d, kx mod %d) and their DC gain \xce\xa3", sh, sw);
  draw_text (cv, s, 12.0, TRUE, INK, xb, y, HEAD_H, 0);
  g_free (s);
  y += HEAD_H;

  /* the shared raster of the taps, straight into the canvas */
  tconv_pipeline_kernel_heatmap (k, ch, vmax, c, cv->px + ((gsize) y * (gsize) cv->w + (gsize) xa) * 3,
                                 (gsize) cv->w * 3);

  /* Panel B: the phases, laid out like the phase-sum table. */
  tconv_kernel_phase_sums (k, ch, sums, NULL);
  for (int i = 0; i < sh * sw; i++)
    mean += sums[i] / (double) (sh * sw);
  for (int ry = 0; ry < sh; ry++)
    for (int rx = 0; rx < sw; rx++)
      {
        const int    ny = ((int) k->k_h - ry + sh - 1) / sh, nx = ((int) k->k_w - rx + sw - 1) / sw;
        const int    sx = xb + rx * (l->slot_w + SLOT_GAP_X), sy = y + ry * (l->slot_h + SLOT_GAP_Y);
        const int    gx = sx + (l->slot_w - (l->sub_w * c + 1)) / 2;
        const double sum = sums[ry * sw + rx];
        const double dev = mean != 0.0 ? (sum - mean) / fabs (mean) : (sum != 0.0 ? 1.0 : 0.0);
        gchar       *label;

        if (ny > 0 && nx > 0)
          {
            fill (cv, gx, sy, nx * c + 1, ny * c + 1, CELL_LINE);
            for (int j = 0; j < ny; j++)
              for (int i = 0; i < nx; i++)
                draw_cell (cv, gx + 1 + i * c, sy + 1 + j * c, c,
                           w[(gsize) (ry + j * sh) * k->k_w + (gsize) (rx + i * sw)], vmax);
            frame (cv, gx, sy, nx * c + 1, ny * c + 1, FRAME);
          }
        else
          frame (cv, gx, sy, l->sub_w * c + 1, l->sub_h * c + 1, CELL_LINE);

        if (fabs (dev) <= 1e-6)
          label = g_strdup_printf ("\xce\xa3 %.5g", sum);
        else if (fabs (dev) >= 1e-3)
          label = g_strdup_printf ("\xce\xa3 %.4g  %+.1f%%", sum, 100.0 * dev);
        else
          label = g_strdup_printf ("\xce\xa3 %.7g  %+.2g%%", sum, 100.0 * dev);
        draw_text (cv, label, 11.0, FALSE, fabs (dev) <= 1e-6 ? MUTED : dev > 0 ? WARM_TEXT : COOL_TEXT,
                   sx + l->slot_w / 2, sy + MAX (ny, 1) * c + 1, LABEL_H, 1);
        g_free (label);
      }

  draw_colour_bar (cv, xl, y + 6, l->body_h - 12, vmax);
  g_free (sums);
}

gboolean
cli_png_save_rgb8 (const guchar *px, int w, int h, const char *path, GError **error)
{
  GeglRectangle rect = { 0, 0, w, h };
  GeglBuffer   *buffer;
  GeglNode     *graph, *src, *save;
  CliAtomic  *f;
  const char   *temp;
  struct stat   st;

  if ((f = cli_atomic_open (path, error)) == NULL)
    return FALSE;
  temp = cli_atomic_temp_path (f);
  buffer = gegl_buffer_new (&rect, babl_format ("R'G'B' u8"));
  gegl_buffer_set (buffer, &rect, 0, babl_format ("R'G'B' u8"), px, w * 3);
  graph = gegl_node_new ();
  src = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", buffer, NULL);
  save = gegl_node_new_child (graph, "operation", "gegl:png-save", "path", temp, "bitdepth", 8,
                              "compression", 9, NULL);
  gegl_node_link (src, save);
  gegl_node_process (save);
  g_object_unref (graph);
  g_object_unref (buffer);
  if (stat (temp, &st) != 0 || st.st_size == 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "cannot write '%s': gegl:png-save wrote nothing", path);
      cli_atomic_abort (f);
      return FALSE;
    }
  return cli_atomic_commit (f, error);
}

/* The lines under the panels: checkerboard risk, separability and symmetry, the legend. */
static void
draw_footer (Canvas *cv, const tconv_kernel *k, const tconv_kernel_analysis *a, int y)
{
  gchar *s;

  if (a->checkerboard_risk <= 1e-6)
    s = g_strdup_printf ("checkerboard risk 0: every phase has the same DC gain, so a flat "
                         "image stays flat");
  else
    s = g_strdup_printf ("checkerboard risk %.3g: a flat image gets a %.3g%% peak-to-peak "
                         "pattern",
                         a->checkerboard_risk, 100.0 * a->checkerboard_risk);
  draw_text (cv, s, 12.0, TRUE, a->checkerboard_risk <= 1e-6 ? INK : WARM_TEXT, MARGIN, y,
             LINE_H, 0);
  g_free (s);
  y += LINE_H;
  s = g_strdup_printf ("%s \xc2\xb7 symmetric: top-bottom %s, left-right %s%s",
                       a->separable ? "separable (rank 1)" : "not separable",
                       a->symmetric_h ? "yes" : "no", a->symmetric_w ? "yes" : "no",
                       k->k_h != k->k_w ? "" : a->symmetric_transpose ? ", transpose yes"
                                                                     : ", transpose no");
  draw_text (cv, s, 11.5, FALSE, INK, MARGIN, y, LINE_H, 0);
  g_free (s);
  y += LINE_H;
  draw_text (cv,
             "colour: red positive, blue negative (also marked by a bar), white 0; saturation "
             "\xe2\x88\x9d \xe2\x88\x9a|tap|",
             11.0, FALSE, MUTED, MARGIN, y, LINE_H, 0);
  y += LINE_H;
  s = g_strdup_printf ("grey lines: %zu\xc3\x97%zu blocks, each holding one tap of every phase; "
                       "right: the same taps regrouped by output phase",
                       k->stride_h, k->stride_w);
  draw_text (cv, s, 11.0, FALSE, MUTED, MARGIN, y, LINE_H, 0);
  g_free (s);
}

/* GEGL started, its PNG saver checked and a white @w x @h canvas allocated; FALSE (GEGL
 * stopped) with @error set otherwise. */
static gboolean
canvas_begin (Canvas *cv, int w, int h, const char *path, GError **error)
{
  if ((gint64) w * h > (gint64) 1 << 28)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "heatmap of %d x %d pixels: too large; use a smaller --cell", w, h);
      return FALSE;
    }
  cli_gegl_start ();
  if (!gegl_has_operation ("gegl:png-save"))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "cannot write '%s': GEGL has no gegl:png-save operation", path);
      cli_gegl_stop ();
      return FALSE;
    }
  cv->w = w, cv->h = h;
  cv->text = gegl_has_operation ("gegl:text");
  if (!cv->text)
    g_printerr ("tconv kernel show: note: GEGL has no gegl:text operation; the heatmap has no "
                "labels\n");
  cv->px = g_malloc ((gsize) w * (gsize) h * 3);
  memset (cv->px, 0xff, (gsize) w * (gsize) h * 3);
  return TRUE;
}

/* The canvas saved to @path (atomically) and freed, GEGL stopped. */
static gboolean
canvas_finish (Canvas *cv, const char *path, int *width, int *height, GError **error)
{
  const gboolean ok = cli_png_save_rgb8 (cv->px, cv->w, cv->h, path, error);

  g_free (cv->px);
  cli_gegl_stop ();
  if (ok && width)
    *width = cv->w;
  if (ok && height)
    *height = cv->h;
  return ok;
}

/* The title line: name, taps, stride, padding; @what before the taps (or NULL). */
static void
draw_title (Canvas *cv, const tconv_kernel *k, const char *what, int y)
{
  gchar  opad[64];
  gchar *s;

  g_snprintf (opad, sizeof opad, ", output padding %zu,%zu", k->opad_h, k->opad_w);
  if (k->opad_h == 0 && k->opad_w == 0)
    opad[0] = '\0';
  s = g_strdup_printf ("%s \xc2\xb7 %s%s%zu\xc3\x97%zu taps \xc2\xb7 stride %zu\xc3\x97%zu "
                       "\xc2\xb7 padding %zu,%zu%s",
                       k->name, what ? what : "", what ? " \xc2\xb7 " : "", k->k_h, k->k_w,
                       k->stride_h, k->stride_w, k->pad_h, k->pad_w, opad);
  draw_text (cv, s, 15.0, TRUE, INK, MARGIN, y, TITLE_H, 0);
  g_free (s);
  draw_text (cv, k->description[0] ? k->description : "(no description)", 11.5, FALSE, MUTED,
             MARGIN, y + TITLE_H, LINE_H, 0);
}

gboolean
cli_kernel_png (const tconv_kernel *k, const char *path, int cell, int *width, int *height,
                  GError **error)
{
  Canvas                cv = { 0 };
  Layout                l;
  tconv_kernel_analysis a;
  double                vmax = 0.0;
  const gsize           n = k->channels * k->k_h * k->k_w;
  int                   y;

  layout_init (&l, k, cell);
  if (!canvas_begin (&cv, l.w, l.h, path, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    vmax = fmax (vmax, fabs ((double) k->weights[i]));
  if (!(vmax > 0.0))
    vmax = 1.0;
  tconv_kernel_analyze (k, &a, NULL);

  y = MARGIN;
  draw_title (&cv, k, NULL, y);
  y += TITLE_H + LINE_H + 10;
  for (gsize ch = 0; ch < k->channels; ch++)
    {
      draw_channel (&cv, &l, k, ch, vmax, y);
      y += l.block_h;
    }
  draw_footer (&cv, k, &a, y);
  return canvas_finish (&cv, path, width, height, error);
}

/* ---------------------------------------------------------------------------------------------
 * The bank: one block per strength bin, in it a row per coherence bin and a column per angle
 * bin, each cell the class's kernel as stored (on one colour scale for the whole bank) over
 * its phase sums; classes that fell back to the global kernel are marked.
 */

#define ROWHEAD_W 96

typedef struct
{
  int c, kw, kh;        /* cell side; one class raster */
  int slot_w, slot_h;   /* a class with its label */
  int grid_w, block_h;  /* one strength bin */
  int w, h;
} BankLayout;

static void
bank_layout_init (BankLayout *l, const tconv_bank *b, int cell)
{
  const tconv_kernel *g = b->global;
  const int           kmax = (int) MAX (g->k_h, g->k_w);
  const int           A = (int) b->classifier.angles, Q = (int) b->classifier.coherences;

  l->c = cell > 0 ? cell : CLAMP (96 / kmax, 4, 12);
  l->kw = (int) g->k_w * l->c + 1;
  l->kh = (int) g->k_h * l->c + 1;
  l->slot_w = MAX (l->kw, 64);
  l->slot_h = l->kh + LABEL_H;
  l->grid_w = A * l->slot_w + (A - 1) * SLOT_GAP_X;
  l->block_h = LINE_H + HEAD_H + Q * l->slot_h + (Q - 1) * SLOT_GAP_Y + 14;
  l->w = MAX (MARGIN + ROWHEAD_W + l->grid_w + PANEL_GAP + LEGEND_W + MARGIN, MIN_WIDTH);
  l->h = MARGIN + TITLE_H + LINE_H + 10 + (int) b->classifier.strengths * l->block_h
         + 3 * LINE_H + MARGIN;
}

/* The largest |phase sum - 1| of class @i: its weights seen as the global kernel's. */
double
cli_bank_class_deviation (const tconv_bank *b, gsize i)
{
  tconv_kernel view = *b->global;
  const gsize  n = view.stride_h * view.stride_w;
  double      *sums = g_new (double, n), worst = 0.0;

  view.weights = (float *) tconv_bank_class_weights (b, i);
  tconv_kernel_phase_sums (&view, 0, sums, NULL);
  for (gsize p = 0; p < n; p++)
    worst = MAX (worst, fabs (sums[p] - 1.0));
  g_free (sums);
  return worst;
}

/* Bin @i of @n with thresholds @t, as text: its range of the feature. */
static gchar *
bin_range (const double *t, gsize n, gsize i)
{
  if (n == 1)
    return g_strdup ("any");
  if (i == 0)
    return g_strdup_printf ("< %.3g", t[0]);
  if (i + 1 == n)
    return g_strdup_printf ("\xe2\x89\xa5 %.3g", t[n - 2]);
  return g_strdup_printf ("%.3g \xe2\x80\x93 %.3g", t[i - 1], t[i]);
}

/* Strength bin @s: its heading, the angle heads and a row of classes per coherence bin. */
static void
draw_strength_block (Canvas *cv, const BankLayout *l, const tconv_bank *b, gsize s, double vmax,
                     int y)
{
  const tconv_bank_classifier *cl = &b->classifier;
  const int                    x0 = MARGIN + ROWHEAD_W;
  tconv_kernel                 view = *b->global; /* the class's weights in the global's shape */
  gchar                       *r = bin_range (cl->strength_thresholds, cl->strengths, s);
  gchar                       *t = g_strdup_printf ("strength %s", r);

  draw_text (cv, t, 12.0, TRUE, INK, MARGIN, y, LINE_H, 0);
  g_free (t), g_free (r);
  y += LINE_H;
  draw_text (cv, "coherence", 11.0, FALSE, MUTED, MARGIN, y, HEAD_H, 0);
  for (gsize a = 0; a < cl->angles; a++)
    {
      t = g_strdup_printf ("%.3g\xc2\xb0", (a + 0.5) * 180.0 / (double) cl->angles);
      draw_text (cv, t, 11.0, FALSE, MUTED, x0 + (int) a * (l->slot_w + SLOT_GAP_X) + l->slot_w / 2,
                 y, HEAD_H, 1);
      g_free (t);
    }
  y += HEAD_H;
  for (gsize q = 0; q < cl->coherences; q++)
    {
      const int sy = y + (int) q * (l->slot_h + SLOT_GAP_Y);

      t = bin_range (cl->coherence_thresholds, cl->coherences, q);
      draw_text (cv, t, 10.5, FALSE, INK, MARGIN, sy, l->kh, 0);
      g_free (t);
      for (gsize a = 0; a < cl->angles; a++)
        {
          const gsize  i = (a * cl->strengths + s) * cl->coherences + q;
          const int    sx = x0 + (int) a * (l->slot_w + SLOT_GAP_X);
          const double dev = cli_bank_class_deviation (b, i);
          gchar       *label;

          view.weights = (float *) tconv_bank_class_weights (b, i);
          tconv_pipeline_kernel_heatmap (&view, 0, vmax, l->c,
                                         cv->px + ((gsize) sy * (gsize) cv->w
                                                   + (gsize) (sx + (l->slot_w - l->kw) / 2)) * 3,
                                         (gsize) cv->w * 3);
          label = dev <= 1e-6 ? g_strdup ("\xce\xa3 1") : g_strdup_printf ("\xce\xa3 1%+.0e", dev);
          if (b->fallback[i])
            {
              gchar *f = g_strconcat (label, " global", NULL);
              g_free (label);
              label = f;
            }
          draw_text (cv, label, 10.0, FALSE, b->fallback[i] ? WARM_TEXT : MUTED,
                     sx + l->slot_w / 2, sy + l->kh, LABEL_H, 1);
          g_free (label);
        }
    }
}

gboolean
cli_bank_png (const tconv_bank *b, const char *path, int cell, int *width, int *height,
              GError **error)
{
  const tconv_kernel *g = b->global;
  const gsize         n = b->classes * g->k_h * g->k_w;
  Canvas              cv = { 0 };
  BankLayout          l;
  double              vmax = 0.0, worst = 0.0;
  gsize               fallback = 0;
  gchar              *s;
  int                 y;

  bank_layout_init (&l, b, cell);
  if (!canvas_begin (&cv, l.w, l.h, path, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    vmax = fmax (vmax, fabs ((double) b->weights[i]));
  if (!(vmax > 0.0))
    vmax = 1.0;
  for (gsize i = 0; i < b->classes; i++)
    worst = MAX (worst, cli_bank_class_deviation (b, i)), fallback += b->fallback[i];

  y = MARGIN;
  s = g_strdup_printf ("bank of %zu classes", b->classes);
  draw_title (&cv, g, s, y);
  g_free (s);
  y += TITLE_H + LINE_H + 10;
  draw_colour_bar (&cv, MARGIN + ROWHEAD_W + l.grid_w + PANEL_GAP, y + LINE_H + HEAD_H + 6,
                   MAX (l.block_h - LINE_H - HEAD_H - 26, BAR_MIN_H - 12), vmax);
  for (gsize st = 0; st < b->classifier.strengths; st++)
    {
      draw_strength_block (&cv, &l, b, st, vmax, y);
      y += l.block_h;
    }
  draw_text (&cv, "columns: angle of the local structure (bin centres) \xc2\xb7 rows: coherence "
             "\xc2\xb7 blocks: strength", 11.0, FALSE, INK, MARGIN, y, LINE_H, 0);
  s = g_strdup_printf ("\xce\xa3: every phase of every class sums to 1 (largest deviation "
                       "%.2g) \xc2\xb7 %zu of %zu classes take the global kernel",
                       worst, fallback, b->classes);
  draw_text (&cv, s, 11.0, FALSE, INK, MARGIN, y + LINE_H, LINE_H, 0);
  g_free (s);
  draw_text (&cv,
             "colour: red positive, blue negative (also marked by a bar), white 0; saturation "
             "\xe2\x88\x9d \xe2\x88\x9a|tap|; one scale for the whole bank",
             11.0, FALSE, MUTED, MARGIN, y + 2 * LINE_H, LINE_H, 0);
  return canvas_finish (&cv, path, width, height, error);
}
