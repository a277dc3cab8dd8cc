/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The dialog: a GimpProcedureDialog built from the procedure's arguments, plus a preview of
 * the result at 100 % (optionally split with GIMP's NoHalo), the output size with a chain,
 * and the kernel as a heatmap with its per-phase sums and a checkerboard warning. It only
 * reads and writes the config; all its state lives in one UpscaleDialog passed around. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "upscale.h"
#include "tconv-pipeline-heatmap.h"

#define PREVIEW_SIZE    360  /* preview area, pixels per side at most */
#define HEATMAP_SIZE    168
#define RISK_VISIBLE    1e-6 /* phase-sum spread below float noise counts as none */

typedef struct
{
  GimpProcedureConfig  *config;
  GimpDrawable         *drawable;   /* previewed and learned from */
  GeglBuffer           *source;     /* its pixels, copied once */
  gint                  img_w, img_h;
  gint                  out_w, out_h; /* of the whole image, from the config */

  UpscaleKernelCache    cache;      /* "self" kernels */
  UpscaleKernel         k;          /* k.kernel NULL when it could not be loaded */
  tconv_kernel         *shown;      /* what runs: phase-normalised when asked */
  tconv_kernel_analysis analysis;
  gdouble              *sums;       /* per-phase sums of channel 0 of shown */
  gchar                *error;      /* why kernel is NULL */

  GtkWidget            *preview;
  GtkWidget            *description;
  GtkWidget            *width, *height, *chain, *size_info;
  GtkWidget            *heatmap, *phases, *phase_info;
  GtkWidget            *warning, *warning_label;
  gboolean              updating;   /* set while the dialog writes the config itself */
  guint                 reload_id;
} UpscaleDialog;

static void upscale_dialog_show_size (UpscaleDialog *ud);

/* ---------------------------------------------------------------------------------------------
 * Kernel state
 */

static void
upscale_dialog_kernel_clear (UpscaleDialog *ud)
{
  upscale_kernel_clear (&ud->k);
  g_clear_pointer (&ud->shown, tconv_kernel_free);
  g_clear_pointer (&ud->sums, g_free);
  g_clear_pointer (&ud->error, g_free);
}

static void
upscale_dialog_update_size_info (UpscaleDialog *ud)
{
  gchar *text;

  if (ud->k.kernel == NULL)
    {
      text = g_strdup_printf (_("%d × %d pixels (×%.2f × %.2f)"), ud->out_w, ud->out_h,
                              (gdouble) ud->out_w / ud->img_w, (gdouble) ud->out_h / ud->img_h);
    }
  else if ((gint64) ud->k.kernel->stride_w * ud->img_w == ud->out_w
           && (gint64) ud->k.kernel->stride_h * ud->img_h == ud->out_h)
    {
      text = g_strdup_printf (_("%d × %d pixels: exactly ×%zu × %zu"), ud->out_w, ud->out_h,
                              ud->k.kernel->stride_w, ud->k.kernel->stride_h);
    }
  else
    {
      text = g_strdup_printf (_("%d × %d pixels (×%.2f × %.2f): kernel at ×%zu × %zu, "
                                "then resampled to the size"),
                              ud->out_w, ud->out_h, (gdouble) ud->out_w / ud->img_w,
                              (gdouble) ud->out_h / ud->img_h, ud->k.kernel->stride_w,
                              ud->k.kernel->stride_h);
    }
  gtk_label_set_text (GTK_LABEL (ud->size_info), text);
  g_free (text);
}

static void
upscale_dialog_update_kernel_info (UpscaleDialog *ud)
{
  gchar *text;

  if (ud->k.kernel == NULL)
    {
      gchar *escaped = g_markup_escape_text (ud->error ? ud->error : "", -1);

      text = g_strdup_printf ("<span foreground='#c01c28'>%s</span>", escaped);
      g_free (escaped);
      gtk_label_set_markup (GTK_LABEL (ud->description), text);
      g_free (text);
      gtk_label_set_text (GTK_LABEL (ud->phase_info), "");
      gtk_widget_hide (ud->warning);
      return;
    }

  text = g_strdup_printf (_("%s\n%zu × %zu taps, stride %zu × %zu, %s%s"),
                          ud->k.kernel->description[0] ? ud->k.kernel->description
                                                     : ud->k.kernel->name,
                          ud->k.kernel->k_w, ud->k.kernel->k_h, ud->k.kernel->stride_w,
                          ud->k.kernel->stride_h,
                          ud->k.kernel->provenance == TCONV_PROVENANCE_LEARNED ? _("learned")
                          : ud->k.kernel->provenance == TCONV_PROVENANCE_IMPORTED ? _("imported")
                          : _("analytic"),
                          ud->k.kernel->channels > 1 ? _(", one kernel per channel") : "");
  if (ud->k.bank != NULL)
    {
      gchar *bank = g_strdup_printf (_("%s\nA bank of %zu kernels, one chosen for every pixel "
                                       "by its local structure; below, the bank's global "
                                       "kernel"),
                                     text, ud->k.bank->classes);
      g_free (text);
      text = bank;
    }
  gtk_label_set_text (GTK_LABEL (ud->description), text);
  g_free (text);

  text = g_strdup_printf (_("Per-phase sums (DC gain of each of the %zu output phases): "
                            "min %.4f, max %.4f, mean %.4f"),
                          ud->shown->stride_h * ud->shown->stride_w, ud->analysis.phase_min,
                          ud->analysis.phase_max, ud->analysis.phase_mean);
  gtk_label_set_text (GTK_LABEL (ud->phase_info), text);
  g_free (text);

  if (ud->analysis.checkerboard_risk > RISK_VISIBLE)
    {
      text = g_strdup_printf (_("Checkerboard risk %.2f %%: the output phases have different "
                                "gains, so flat areas get a periodic pattern. Tick "
                                "“Normalize phases” to even them out."),
                              100.0 * ud->analysis.checkerboard_risk);
      gtk_label_set_text (GTK_LABEL (ud->warning_label), text);
      g_free (text);
      gtk_widget_show (ud->warning);
    }
  else
    {
      gtk_widget_hide (ud->warning);
    }
}

/* Loads the kernel the config describes, as upscale_render_image() will. */
static void
upscale_dialog_reload (UpscaleDialog *ud)
{
  UpscaleParams params;
  GError       *error = NULL;
  GdkWindow    *window = gtk_widget_get_window (gtk_widget_get_toplevel (ud->preview));
  GdkCursor    *busy = NULL;

  upscale_dialog_kernel_clear (ud);
  upscale_params_from_config (&params, ud->config);

  /* Learning from the image can take a second. */
  if (window != NULL && g_strcmp0 (params.kernel, UPSCALE_KERNEL_SELF) == 0)
    {
      busy = gdk_cursor_new_for_display (gdk_window_get_display (window), GDK_WATCH);
      gdk_window_set_cursor (window, busy);
      gdk_display_flush (gdk_window_get_display (window));
    }

  if (upscale_prepare (&params, ud->img_w, ud->img_h, ud->drawable, &ud->cache, &ud->k,
                       &ud->out_w, &ud->out_h, &error))
    {
      tconv_error  err = { 0 };
      tconv_status st  = tconv_kernel_copy (ud->k.kernel, &ud->shown, NULL);

      if (st == TCONV_OK && params.normalize_phases)
        st = tconv_kernel_normalize_phases (ud->shown, &err);
      if (st == TCONV_OK)
        st = tconv_kernel_analyze (ud->shown, &ud->analysis, NULL);
      if (st == TCONV_OK)
        {
          ud->sums = g_new (gdouble, ud->shown->stride_h * ud->shown->stride_w);
          st = tconv_kernel_phase_sums (ud->shown, 0, ud->sums, NULL);
        }
      if (st != TCONV_OK)
        {
          tconv_pipeline_set_status_error (&error, st, &err, _("Kernel"));
          upscale_dialog_kernel_clear (ud);
        }
    }
  if (error != NULL)
    {
      ud->error = g_strdup (error->message);
      g_clear_error (&error);
      /* Still show the size the arguments ask for. */
      ud->out_w = params.width ? params.width : ud->img_w * params.stride;
      ud->out_h = params.height ? params.height : ud->img_h * params.stride;
    }
  upscale_params_clear (&params);

  if (busy != NULL)
    {
      gdk_window_set_cursor (window, NULL);
      g_object_unref (busy);
    }

  upscale_dialog_update_kernel_info (ud);
  upscale_dialog_update_size_info (ud);
  upscale_dialog_show_size (ud);
  gtk_widget_queue_draw (ud->heatmap);
  gtk_widget_queue_draw (ud->phases);
  gimp_preview_invalidate (GIMP_PREVIEW (ud->preview));
}

static gboolean
upscale_dialog_reload_idle (gpointer data)
{
  UpscaleDialog *ud = data;

  ud->reload_id = 0;
  upscale_dialog_reload (ud);
  return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------------------------------------
 * Output size: two spin buttons and a chain that keeps the aspect ratio; changing the stride
 * resets the size to stride × the image. A size equal to stride × the image is stored as 0
 * (follow the stride), so remembered values suit the next image too.
 */

static void
upscale_dialog_show_size (UpscaleDialog *ud)
{
  ud->updating = TRUE;
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (ud->width), ud->out_w);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (ud->height), ud->out_h);
  ud->updating = FALSE;
}

static void
upscale_dialog_store_size (UpscaleDialog *ud,
                           gint           w,
                           gint           h)
{
  gint stride;

  g_object_get (ud->config, "stride", &stride, NULL);
  if (w == ud->img_w * stride && h == ud->img_h * stride)
    w = h = 0;
  ud->updating = TRUE;
  g_object_set (ud->config, "width", w, "height", h, NULL);
  ud->updating = FALSE;
}

static void
upscale_dialog_size_changed (GtkSpinButton *spin,
                             UpscaleDialog *ud)
{
  gint w = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (ud->width));
  gint h = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (ud->height));

  if (ud->updating)
    return;
  if (gimp_chain_button_get_active (GIMP_CHAIN_BUTTON (ud->chain)))
    {
      if (GTK_WIDGET (spin) == ud->width)
        h = MAX (1, (gint) floor ((gdouble) w * ud->img_h / ud->img_w + 0.5));
      else
        w = MAX (1, (gint) floor ((gdouble) h * ud->img_w / ud->img_h + 0.5));
      ud->updating = TRUE;
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (ud->width), w);
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (ud->height), h);
      ud->updating = FALSE;
    }
  upscale_dialog_store_size (ud, w, h);
  upscale_dialog_reload (ud);
}

static void
upscale_dialog_config_notify (GimpProcedureConfig *config G_GNUC_UNUSED,
                              GParamSpec          *pspec,
                              UpscaleDialog       *ud)
{
  const gchar *name = g_param_spec_get_name (pspec);

  if (ud->updating)
    return;
  if (strcmp (name, "stride") == 0)
    {
      /* The size follows the stride. */
      ud->updating = TRUE;
      g_object_set (ud->config, "width", 0, "height", 0, NULL);
      ud->updating = FALSE;
    }
  if (strcmp (name, "preview-split") == 0 || strcmp (name, "border") == 0
      || strcmp (name, "new-image") == 0)
    {
      gimp_preview_invalidate (GIMP_PREVIEW (ud->preview));
      return;
    }
  /* Coalesce the bursts of notifications that Reset and Load Settings send. */
  if (ud->reload_id == 0)
    ud->reload_id = g_idle_add_full (G_PRIORITY_HIGH_IDLE, upscale_dialog_reload_idle, ud, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Preview
 */

static void
upscale_dialog_preview (GimpPreview   *preview,
                        UpscaleDialog *ud)
{
  const gboolean gray  = gimp_drawable_is_gray (ud->drawable);
  const gboolean alpha = gimp_drawable_has_alpha (ud->drawable);
  const Babl    *format;
  UpscaleParams  params;
  GeglRectangle  roi;
  gboolean       split;
  gint           px, py, pw, ph, bpp, dw, dh, lw, lh;
  guchar        *buf;
  GError        *error = NULL;

  if (ud->shown == NULL)
    return;

  format = babl_format_with_space (gray ? (alpha ? "Y'A u8" : "Y' u8")
                                        : (alpha ? "R'G'B'A u8" : "R'G'B' u8"),
                                   gimp_drawable_get_format (ud->drawable));
  bpp = babl_format_get_bytes_per_pixel (format);
  gimp_preview_get_position (preview, &px, &py);
  gimp_preview_get_size (preview, &pw, &ph);
  buf = g_malloc0 ((gsize) pw * ph * bpp);

  /* The layer's size after scaling, as the final run gives it: the preview then shows the
   * final result's own pixels. */
  dw = gimp_drawable_get_width (ud->drawable);
  dh = gimp_drawable_get_height (ud->drawable);
  upscale_render_drawable_size (ud->drawable, ud->img_w, ud->img_h, ud->out_w, ud->out_h, &lw,
                                &lh);

  /* The window shows the result at 100 %, starting where the source position maps to. */
  roi.x      = (gint) floor ((gdouble) px * lw / dw + 0.5);
  roi.y      = (gint) floor ((gdouble) py * lh / dh + 0.5);
  roi.width  = pw;
  roi.height = ph;

  upscale_params_from_config (&params, ud->config);
  g_object_get (ud->config, "preview-split", &split, NULL);
  if (! upscale_render_region (ud->drawable, ud->source, &ud->k, &params, lw, lh, &roi,
                               format, buf, pw * bpp, &error))
    {
      ud->error = g_strdup (error->message);
      g_clear_error (&error);
      upscale_kernel_clear (&ud->k);
      upscale_dialog_update_kernel_info (ud);
    }
  else if (split && pw > 2)
    {
      /* Right half: GIMP's NoHalo on the same pixels, then a divider. */
      const gint    half = pw / 2;
      GeglRectangle right = { roi.x + half, roi.y, pw - half, ph };

      upscale_render_region_nohalo (ud->source, dw, dh, lw, lh, &right, format,
                                    buf + (gsize) half * bpp, pw * bpp);
      for (gint y = 0; y < ph; y++)
        memset (buf + ((gsize) y * pw + half) * bpp, (y / 4) % 2 ? 0x00 : 0xff, bpp);
    }
  upscale_params_clear (&params);

  gimp_preview_draw_buffer (preview, buf, pw * bpp);
  g_free (buf);
}

/* ---------------------------------------------------------------------------------------------
 * Heatmaps
 */

/* The shared colour map (pipeline/tconv-pipeline-heatmap.c); t in [-1, 1]. */
static void
upscale_dialog_diverging (cairo_t *cr,
                          gdouble  t)
{
  guint8 c[3];

  tconv_pipeline_heatmap_colour (t, c);
  cairo_set_source_rgb (cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
}

/* The taps as `tconv kernel show --png` draws them (tconv_pipeline_kernel_heatmap()),
 * scaled to fit and centred. */
static gboolean
upscale_dialog_draw_kernel (GtkWidget     *area,
                            cairo_t       *cr,
                            UpscaleDialog *ud)
{
  const gint          w = gtk_widget_get_allocated_width (area);
  const gint          h = gtk_widget_get_allocated_height (area);
  const tconv_kernel *k = ud->shown;
  cairo_surface_t    *surface;
  guint8             *rgb;
  guint32            *px;
  gdouble             max = 0.0, zoom;
  gint                cell, rw, rh, stride;

  cairo_set_source_rgb (cr, 0.5, 0.5, 0.5);
  cairo_paint (cr);
  if (k == NULL)
    return TRUE;

  for (gsize i = 0; i < k->k_h * k->k_w; i++)
    max = MAX (max, fabs (k->weights[i]));
  /* at least 3 pixels a tap, so that the grid never hides the taps: cairo shrinks the rest */
  cell = MAX (3, (gint) MIN ((gdouble) w / k->k_w, (gdouble) h / k->k_h));
  tconv_pipeline_kernel_heatmap_size (k, cell, &rw, &rh);
  rgb = g_new (guint8, (gsize) rw * rh * 3);
  tconv_pipeline_kernel_heatmap (k, 0, max > 0 ? max : 1.0, cell, rgb, (gsize) rw * 3);

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, rw, rh);
  px      = (guint32 *) cairo_image_surface_get_data (surface);
  stride  = cairo_image_surface_get_stride (surface) / 4;
  cairo_surface_flush (surface);
  for (gint y = 0; y < rh; y++)
    for (gint x = 0; x < rw; x++)
      {
        const guint8 *p = rgb + ((gsize) y * rw + x) * 3;

        px[y * stride + x] = ((guint32) p[0] << 16) | ((guint32) p[1] << 8) | p[2];
      }
  cairo_surface_mark_dirty (surface);
  g_free (rgb);

  zoom = MIN (1.0, MIN ((gdouble) w / rw, (gdouble) h / rh));
  cairo_translate (cr, (w - zoom * rw) / 2, (h - zoom * rh) / 2);
  cairo_scale (cr, zoom, zoom);
  cairo_set_source_surface (cr, surface, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_surface_destroy (surface);
  return TRUE;
}

static gboolean
upscale_dialog_draw_phases (GtkWidget     *area,
                            cairo_t       *cr,
                            UpscaleDialog *ud)
{
  const gint          w = gtk_widget_get_allocated_width (area);
  const gint          h = gtk_widget_get_allocated_height (area);
  const tconv_kernel *k = ud->shown;
  gdouble             cell, ox, oy, mean, spread = 0.0;

  cairo_set_source_rgb (cr, 0.5, 0.5, 0.5);
  cairo_paint (cr);
  if (k == NULL || ud->sums == NULL)
    return TRUE;

  mean = ud->analysis.phase_mean;
  for (gsize i = 0; i < k->stride_h * k->stride_w; i++)
    spread = MAX (spread, fabs (ud->sums[i] - mean));
  cell = MIN ((gdouble) w / k->stride_w, (gdouble) h / k->stride_h);
  ox   = (w - cell * k->stride_w) / 2;
  oy   = (h - cell * k->stride_h) / 2;
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, MIN (12.0, cell / 4.2));
  for (gsize y = 0; y < k->stride_h; y++)
    for (gsize x = 0; x < k->stride_w; x++)
      {
        const gdouble v = ud->sums[y * k->stride_w + x];

        /* Colour only a visible spread: white phases all have the same gain. */
        upscale_dialog_diverging (cr, spread > RISK_VISIBLE * fabs (mean) ? (v - mean) / spread
                                                                          : 0.0);
        cairo_rectangle (cr, ox + x * cell, oy + y * cell, cell - 1, cell - 1);
        cairo_fill (cr);
        if (cell >= 30)
          {
            gchar               text[32];
            cairo_text_extents_t ext;

            g_snprintf (text, sizeof text, "%.3f", v);
            cairo_text_extents (cr, text, &ext);
            cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
            cairo_move_to (cr, ox + x * cell + (cell - 1 - ext.width) / 2 - ext.x_bearing,
                           oy + y * cell + (cell - 1 - ext.height) / 2 - ext.y_bearing);
            cairo_show_text (cr, text);
          }
      }
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * Building the dialog
 */

static GtkWidget *
upscale_dialog_size_widgets (UpscaleDialog *ud)
{
  GtkWidget *frame = gimp_frame_new (_("Output size"));
  GtkWidget *grid  = gtk_grid_new ();
  GtkWidget *label;

  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 6);
  gtk_container_add (GTK_CONTAINER (frame), grid);

  ud->width  = gimp_spin_button_new_with_range (1, GIMP_MAX_IMAGE_SIZE, 1);
  ud->height = gimp_spin_button_new_with_range (1, GIMP_MAX_IMAGE_SIZE, 1);
  gtk_entry_set_width_chars (GTK_ENTRY (ud->width), 7);
  gtk_entry_set_width_chars (GTK_ENTRY (ud->height), 7);

  label = gtk_label_new_with_mnemonic (_("_Width:"));
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), ud->width);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_grid_attach (GTK_GRID (grid), label, 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), ud->width, 1, 0, 1, 1);

  label = gtk_label_new_with_mnemonic (_("H_eight:"));
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), ud->height);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_grid_attach (GTK_GRID (grid), label, 0, 1, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), ud->height, 1, 1, 1, 1);

  ud->chain = gimp_chain_button_new (GIMP_CHAIN_RIGHT);
  gimp_chain_button_set_active (GIMP_CHAIN_BUTTON (ud->chain), TRUE);
  gimp_help_set_help_data (ud->chain,
                           _("Keep the image's aspect ratio; the size follows the stride"),
                           NULL);
  gtk_grid_attach (GTK_GRID (grid), ud->chain, 2, 0, 1, 2);

  label = gtk_label_new (_("px"));
  gtk_grid_attach (GTK_GRID (grid), label, 3, 0, 1, 2);

  ud->size_info = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (ud->size_info), 0.0);
  gtk_label_set_line_wrap (GTK_LABEL (ud->size_info), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (ud->size_info), 48);
  gimp_label_set_attributes (GTK_LABEL (ud->size_info), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  gtk_grid_attach (GTK_GRID (grid), ud->size_info, 0, 2, 4, 1);

  g_signal_connect (ud->width, "value-changed", G_CALLBACK (upscale_dialog_size_changed), ud);
  g_signal_connect (ud->height, "value-changed", G_CALLBACK (upscale_dialog_size_changed), ud);
  gtk_widget_show_all (frame);
  return frame;
}

static GtkWidget *
upscale_dialog_kernel_widgets (UpscaleDialog *ud)
{
  GtkWidget *frame = gimp_frame_new (_("Kernel and per-phase sums"));
  GtkWidget *vbox  = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *hbox  = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *icon;

  gtk_container_add (GTK_CONTAINER (frame), vbox);
  gtk_box_pack_start (GTK_BOX (vbox), hbox, FALSE, FALSE, 0);

  ud->heatmap = gtk_drawing_area_new ();
  gtk_widget_set_size_request (ud->heatmap, HEATMAP_SIZE, HEATMAP_SIZE);
  gimp_help_set_help_data (ud->heatmap,
                           _("The kernel's taps: red positive, blue negative, white zero"),
                           NULL);
  g_signal_connect (ud->heatmap, "draw", G_CALLBACK (upscale_dialog_draw_kernel), ud);
  gtk_box_pack_start (GTK_BOX (hbox), ud->heatmap, FALSE, FALSE, 0);

  ud->phases = gtk_drawing_area_new ();
  gtk_widget_set_size_request (ud->phases, HEATMAP_SIZE * 2 / 3, HEATMAP_SIZE * 2 / 3);
  gimp_help_set_help_data (ud->phases,
                           _("The sum of the taps feeding each output phase: equal sums "
                             "(all white) keep a flat area flat"),
                           NULL);
  g_signal_connect (ud->phases, "draw", G_CALLBACK (upscale_dialog_draw_phases), ud);
  gtk_widget_set_valign (ud->phases, GTK_ALIGN_CENTER);
  gtk_box_pack_start (GTK_BOX (hbox), ud->phases, FALSE, FALSE, 0);

  ud->phase_info = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (ud->phase_info), 0.0);
  gtk_label_set_line_wrap (GTK_LABEL (ud->phase_info), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (ud->phase_info), 48);
  gimp_label_set_attributes (GTK_LABEL (ud->phase_info), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  gtk_box_pack_start (GTK_BOX (vbox), ud->phase_info, FALSE, FALSE, 0);

  ud->warning = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  icon = gtk_image_new_from_icon_name (GIMP_ICON_DIALOG_WARNING, GTK_ICON_SIZE_BUTTON);
  gtk_widget_set_valign (icon, GTK_ALIGN_START);
  gtk_box_pack_start (GTK_BOX (ud->warning), icon, FALSE, FALSE, 0);
  ud->warning_label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (ud->warning_label), 0.0);
  gtk_label_set_line_wrap (GTK_LABEL (ud->warning_label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (ud->warning_label), 48);
  gtk_box_pack_start (GTK_BOX (ud->warning), ud->warning_label, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), ud->warning, FALSE, FALSE, 0);

  gtk_widget_show_all (frame);
  /* Shown only when there is a risk, and not by a later show_all. */
  gtk_widget_hide (ud->warning);
  gtk_widget_set_no_show_all (ud->warning, TRUE);
  return frame;
}

/* The "kernel" values for which a kernel file is used. */
static GimpValueArray *
upscale_dialog_file_only (void)
{
  GimpValueArray *values = gimp_value_array_new (1);
  GValue          value  = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, UPSCALE_KERNEL_FILE);
  gimp_value_array_append (values, &value);
  g_value_unset (&value);
  return values;
}

gboolean
upscale_dialog (GimpProcedure       *procedure,
                GimpProcedureConfig *config,
                GimpImage           *image,
                GimpDrawable        *drawable)
{
  UpscaleDialog   ud = { 0 };
  GtkWidget      *dialog, *box, *size, *kernel_frame, *options;
  GeglBuffer     *buffer;
  gboolean        run;

  gimp_ui_init (PLUG_IN_BINARY);

  ud.config   = config;
  ud.drawable = drawable;
  ud.img_w    = gimp_image_get_width (image);
  ud.img_h    = gimp_image_get_height (image);
  buffer      = gimp_drawable_get_buffer (drawable);
  ud.source   = gegl_buffer_dup (buffer);
  g_object_unref (buffer);

  dialog = gimp_procedure_dialog_new (procedure, config, _("Upscale (Transposed Convolution)"));
  gimp_procedure_dialog_set_ok_label (GIMP_PROCEDURE_DIALOG (dialog), _("_Upscale"));
  gimp_window_set_transient (GTK_WINDOW (dialog));

  /* Left: the preview. */
  ud.preview = gimp_procedure_dialog_get_drawable_preview (GIMP_PROCEDURE_DIALOG (dialog),
                                                           "preview", drawable);
  gtk_widget_set_size_request (ud.preview, PREVIEW_SIZE, PREVIEW_SIZE * 3 / 4);
  gimp_procedure_dialog_get_label (GIMP_PROCEDURE_DIALOG (dialog), "preview-note",
                                   _("The result at 100 %. With the comparison on, the right "
                                     "half is GIMP's NoHalo (Image ▸ Scale Image)."),
                                   FALSE, FALSE);
  box = gimp_procedure_dialog_fill_box (GIMP_PROCEDURE_DIALOG (dialog), "preview-box",
                                        "preview", "preview-split", "preview-note", NULL);
  gtk_widget_set_margin_end (box, 12);

  /* Right: the options. */
  ud.description = gimp_procedure_dialog_get_label (GIMP_PROCEDURE_DIALOG (dialog),
                                                    "kernel-description", "", FALSE, FALSE);
  gimp_procedure_dialog_get_spin_scale (GIMP_PROCEDURE_DIALOG (dialog), "stride", 1.0);
  options = gimp_procedure_dialog_fill_box (GIMP_PROCEDURE_DIALOG (dialog), "options-box",
                                            "kernel", "kernel-description", "kernel-file",
                                            "stride", "border", "linear", "normalize-phases",
                                            "antiring", "new-image", NULL);
  gtk_label_set_line_wrap (GTK_LABEL (ud.description), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (ud.description), 48);
  gtk_label_set_xalign (GTK_LABEL (ud.description), 0.0);
  gimp_label_set_attributes (GTK_LABEL (ud.description), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL,
                             -1);

  size = upscale_dialog_size_widgets (&ud);
  gtk_box_pack_start (GTK_BOX (options), size, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (options), size, 4); /* after the stride */
  kernel_frame = upscale_dialog_kernel_widgets (&ud);
  gtk_box_pack_start (GTK_BOX (options), kernel_frame, FALSE, FALSE, 0);

  box = gimp_procedure_dialog_fill_box (GIMP_PROCEDURE_DIALOG (dialog), "main-box",
                                        "preview-box", "options-box", NULL);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (box), GTK_ORIENTATION_HORIZONTAL);

  /* The file chooser matters only for "file"; a file kernel brings its own stride. The
   * value arrays are the dialog's (transfer full). */
  gimp_procedure_dialog_set_sensitive_if_in (GIMP_PROCEDURE_DIALOG (dialog), "kernel-file",
                                             NULL, "kernel", upscale_dialog_file_only (), TRUE);
  gimp_procedure_dialog_set_sensitive_if_in (GIMP_PROCEDURE_DIALOG (dialog), "stride",
                                             NULL, "kernel", upscale_dialog_file_only (), FALSE);

  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog), "main-box", NULL);

  g_signal_connect (ud.preview, "invalidated", G_CALLBACK (upscale_dialog_preview), &ud);
  g_signal_connect (config, "notify", G_CALLBACK (upscale_dialog_config_notify), &ud);
  upscale_dialog_reload (&ud);

  run = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));

  /* The config outlives the dialog. */
  g_signal_handlers_disconnect_by_data (config, &ud);
  if (ud.reload_id)
    g_source_remove (ud.reload_id);
  gtk_widget_destroy (dialog);

  upscale_dialog_kernel_clear (&ud);
  upscale_kernel_cache_clear (&ud.cache);
  g_object_unref (ud.source);
  return run;
}
