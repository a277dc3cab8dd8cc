/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The plug-in: registers plug-in-tconv-upscale with its arguments, and its run() validates,
 * shows the dialog, hands the work to upscale-render.c and turns errors into a PDB status.
 * Core statuses become GErrors in the pipeline (tconv_pipeline_set_status_error()); this file
 * holds the only mapping from those errors to a PDB status. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "upscale.h"

struct _Upscale
{
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE (Upscale, upscale, GIMP_TYPE_PLUG_IN)

GIMP_MAIN (UPSCALE_TYPE)

static GList         *upscale_query_procedures (GimpPlugIn *plug_in);
static GimpProcedure *upscale_create_procedure (GimpPlugIn  *plug_in,
                                                const gchar *name);
static gboolean       upscale_set_i18n         (GimpPlugIn   *plug_in,
                                                const gchar  *procedure_name,
                                                gchar       **gettext_domain,
                                                gchar       **catalog_dir);
static GimpValueArray *upscale_run             (GimpProcedure        *procedure,
                                                GimpRunMode           run_mode,
                                                GimpImage            *image,
                                                GimpDrawable        **drawables,
                                                GimpProcedureConfig  *config,
                                                gpointer              run_data);

static void
upscale_class_init (UpscaleClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = upscale_query_procedures;
  plug_in_class->create_procedure = upscale_create_procedure;
  plug_in_class->set_i18n         = upscale_set_i18n;
}

static void
upscale_init (Upscale *upscale G_GNUC_UNUSED)
{
}

/* The plug-in's own folder: <plug-ins>/tconv-upscale/. */
static gchar *
upscale_plug_in_dir (void)
{
  return g_path_get_dirname (gimp_get_progname ());
}

/* The oldest GIMP the plug-in runs in (docs/gimp.md; the metainfo's <requires> says the
 * same, tests/gimp3 checks both). A test build raises it to see the refusal. */
#ifndef UPSCALE_GIMP_MIN_MAJOR
#define UPSCALE_GIMP_MIN_MAJOR 3
#define UPSCALE_GIMP_MIN_MINOR 0
#define UPSCALE_GIMP_MIN_MICRO 0
#endif

/* gimp_version () asks the running GIMP (a PDB call), so it is the host's version, not the
 * one compiled against. An older host gets a message in its error console and no menu
 * entry, rather than failures later. */
static gboolean
upscale_host_is_supported (void)
{
  guint    major = 0, minor = 0, micro = 0;
  gchar   *host  = gimp_version ();
  gboolean ok;

  ok = host && sscanf (host, "%u.%u.%u", &major, &minor, &micro) >= 2 &&
       major * 1000000 + minor * 1000 + micro >=
       UPSCALE_GIMP_MIN_MAJOR * 1000000 + UPSCALE_GIMP_MIN_MINOR * 1000 + UPSCALE_GIMP_MIN_MICRO;
  if (! ok)
    {
      gchar *msg = g_strdup_printf ("tconv-upscale needs GIMP %d.%d.%d or newer; this GIMP is "
                                    "%s, so the filter is not installed.",
                                    UPSCALE_GIMP_MIN_MAJOR, UPSCALE_GIMP_MIN_MINOR,
                                    UPSCALE_GIMP_MIN_MICRO, host ? host : "(unknown)");
      gimp_message (msg);
      g_free (msg);
    }
  g_free (host);
  return ok;
}

static GList *
upscale_query_procedures (GimpPlugIn *plug_in)
{
  gchar *dir, *help;

  if (! upscale_host_is_supported ())
    return NULL;
  dir  = upscale_plug_in_dir ();
  help = g_build_filename (dir, "help", NULL);

  /* Help pages installed beside the binary (help/en/gimp-help.xml maps the help ID). */
  if (g_file_test (help, G_FILE_TEST_IS_DIR))
    {
      GFile *file = g_file_new_for_path (help);

      gimp_plug_in_set_help_domain (plug_in, PLUG_IN_PROC, file);
      g_object_unref (file);
    }
  g_free (help);
  g_free (dir);

  return g_list_append (NULL, g_strdup (PLUG_IN_PROC));
}

/* Translations live in <plug-in folder>/locale, domain "tconv-upscale". Without that folder
 * (no translation installed yet) localisation is off, quietly. */
static gboolean
upscale_set_i18n (GimpPlugIn   *plug_in G_GNUC_UNUSED,
                  const gchar  *procedure_name G_GNUC_UNUSED,
                  gchar       **gettext_domain,
                  gchar       **catalog_dir)
{
  gchar   *dir    = upscale_plug_in_dir ();
  gchar   *locale = g_build_filename (dir, "locale", NULL);
  gboolean found  = g_file_test (locale, G_FILE_TEST_IS_DIR);

  g_free (locale);
  g_free (dir);
  if (! found)
    return FALSE;

  *gettext_domain = g_strdup (GETTEXT_PACKAGE);
  *catalog_dir    = g_strdup ("locale");
  return TRUE;
}

static GimpProcedure *
upscale_create_procedure (GimpPlugIn  *plug_in,
                          const gchar *name)
{
  GimpProcedure *procedure;

  if (g_strcmp0 (name, PLUG_IN_PROC) != 0)
    return NULL;

  procedure = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN,
                                        upscale_run, NULL, NULL);

  gimp_procedure_set_image_types (procedure, "RGB*, GRAY*");
  /* The whole image is scaled, whatever is selected. */
  gimp_procedure_set_sensitivity_mask (procedure,
                                       GIMP_PROCEDURE_SENSITIVE_DRAWABLE |
                                       GIMP_PROCEDURE_SENSITIVE_DRAWABLES |
                                       GIMP_PROCEDURE_SENSITIVE_NO_DRAWABLES);
  gimp_procedure_set_menu_label (procedure, _("_Upscale (Transposed Convolution)…"));
  gimp_procedure_add_menu_path (procedure, "<Image>/Filters/Enhance");
  gimp_procedure_set_icon_name (procedure, GIMP_ICON_TOOL_SCALE);
  gimp_procedure_set_documentation (
    procedure,
    _("Enlarge the image by a transposed convolution with a preset, learned or custom kernel"),
    _("Every layer, layer mask and channel is up-sampled by a transposed convolution: each "
      "input pixel stamps the kernel, scaled by its value, into the output, 'stride' pixels "
      "apart. Kernels: 'adaptive' (the default: a bank of kernels learned from photographs, one "
      "chosen for every pixel by its local structure, at ×2–×4), classic interpolators "
      "(bicubic, Lanczos, …), kernels learned by least "
      "squares from photographs ('learned', 'learned-small'), a kernel learned from this "
      "image ('self'), or a .tconv file ('file'). With width and height 0 the output is "
      "stride × the input; any other size runs the kernel at ceil (size / input) and then "
      "resamples to the exact size. The image is resized in one undo step, or the result "
      "goes to a new image."),
    PLUG_IN_PROC);
  gimp_procedure_set_attribution (procedure, "The tconv authors", "The tconv authors", "2026");

  gimp_procedure_add_choice_argument (procedure, "kernel", _("_Kernel"),
                                      _("A preset kernel by name ('adaptive': learned kernels "
                                        "chosen per pixel), 'self' to learn one from this "
                                        "image, or 'file' to read kernel-file"),
                                      upscale_kernel_choice (), UPSCALE_KERNEL_ADAPTIVE,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_file_argument (procedure, "kernel-file", _("Kernel _file"),
                                    _("A .tconv kernel file, used when kernel is 'file'; its "
                                      "own stride is used"),
                                    GIMP_FILE_CHOOSER_ACTION_OPEN, TRUE, NULL,
                                    G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "stride", _("S_tride"),
                                   _("Up-sampling factor: the output is stride × the input "
                                     "when width and height are 0"),
                                   1, UPSCALE_MAX_STRIDE, 2, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "width", _("_Width"),
                                   _("Output width in pixels; 0: stride × the input width"),
                                   0, GIMP_MAX_IMAGE_SIZE, 0, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "height", _("_Height"),
                                   _("Output height in pixels; 0: stride × the input height"),
                                   0, GIMP_MAX_IMAGE_SIZE, 0, G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument (
    procedure, "border", _("_Border"), _("How pixels beyond the edges are made up"),
    gimp_choice_new_with_values ("clamp", TCONV_BORDER_CLAMP, _("Clamp (repeat the edge)"), NULL,
                                 "mirror", TCONV_BORDER_MIRROR, _("Mirror"), NULL,
                                 "wrap", TCONV_BORDER_WRAP, _("Wrap (tileable)"), NULL,
                                 "zero", TCONV_BORDER_ZERO, _("Zero (transparent)"), NULL,
                                 NULL),
    "clamp", G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument (procedure, "linear", _("Linear li_ght"),
                                       _("Convolve linear-light values instead of the "
                                         "perceptual (gamma-encoded) ones"),
                                       FALSE, G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument (procedure, "normalize-phases", _("_Normalize phases"),
                                       _("Give every output phase the same gain, so that a "
                                         "flat area stays flat (no checkerboard)"),
                                       FALSE, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "antiring", _("_Anti-ringing"),
                                      _("Limit halos: pull each output value towards the range "
                                        "of the 2×2 input pixels around it, 0 (off) to 1; -1: "
                                        "the kernel's default (0.75 for adaptive kernel banks, "
                                        "0 for single kernels)"),
                                      -1.0, 1.0, -1.0, G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument (procedure, "new-image", _("New _image"),
                                       _("Put the result in a new image and leave this one "
                                         "as it is"),
                                       FALSE, G_PARAM_READWRITE);

  /* Dialog-only state, remembered with the last values. */
  gimp_procedure_add_boolean_aux_argument (procedure, "preview-split",
                                           _("Co_mpare with GIMP's NoHalo"),
                                           _("Show GIMP's own NoHalo scaling in the right half "
                                             "of the preview"),
                                           TRUE, G_PARAM_READWRITE);

  gimp_procedure_add_image_return_value (procedure, "result", _("Result"),
                                         _("The up-sampled image: this one, or the new image"),
                                         FALSE, G_PARAM_READWRITE);
  return procedure;
}

/* ---------------------------------------------------------------------------------------------
 * Parameters
 */

void
upscale_params_from_config (UpscaleParams       *params,
                            GimpProcedureConfig *config)
{
  memset (params, 0, sizeof *params);
  g_object_get (config,
                "kernel",           &params->kernel,
                "kernel-file",      &params->kernel_file,
                "stride",           &params->stride,
                "width",            &params->width,
                "height",           &params->height,
                "linear",           &params->linear,
                "normalize-phases", &params->normalize_phases,
                "antiring",         &params->antiring,
                "new-image",        &params->new_image,
                NULL);
  params->border = (TconvBorder) gimp_procedure_config_get_choice_id (config, "border");
}

void
upscale_params_clear (UpscaleParams *params)
{
  g_clear_pointer (&params->kernel, g_free);
  g_clear_object (&params->kernel_file);
}

/* ---------------------------------------------------------------------------------------------
 * Errors
 */

/* A cancel is no error; bad arguments are the caller's; the rest failed while running. */
static GimpValueArray *
upscale_return_error (GimpProcedure *procedure,
                      GError        *error)
{
  GimpPDBStatusType status = GIMP_PDB_EXECUTION_ERROR;

  if (g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_CANCELLED))
    {
      g_error_free (error);
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);
    }
  if (g_error_matches (error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID))
    status = GIMP_PDB_CALLING_ERROR;

  return gimp_procedure_new_return_values (procedure, status, error);
}

/* ---------------------------------------------------------------------------------------------
 * run()
 */

/* The drawable the preview shows and "self" learns from: the first selected layer, else the
 * top layer. Returns NULL for an image without layers. */
static GimpDrawable *
upscale_main_drawable (GimpImage     *image,
                       GimpDrawable **drawables)
{
  GimpLayer   **layers;
  GimpDrawable *found = NULL;

  for (gint i = 0; drawables != NULL && drawables[i] != NULL; i++)
    if (GIMP_IS_LAYER (drawables[i]) && ! gimp_item_is_group (GIMP_ITEM (drawables[i])))
      return drawables[i];

  layers = gimp_image_get_layers (image);
  for (gint i = 0; layers != NULL && layers[i] != NULL && found == NULL; i++)
    if (! gimp_item_is_group (GIMP_ITEM (layers[i])))
      found = GIMP_DRAWABLE (layers[i]);
  g_free (layers);
  return found;
}

/* GEGL loads every operation module it finds when it starts, a fifth of a second for
 * Debian's fifty; only the dialog's preview runs GEGL operations (GIMP's NoHalo), so
 * without a dialog GEGL starts with a module path that holds none. Buffers, formats and
 * the tiles to and from GIMP need no module. */
static void
upscale_gegl_init (gboolean with_operations)
{
  gint64 t0        = g_get_monotonic_time ();
  gchar *user_path = g_strdup (g_getenv ("GEGL_PATH"));

  if (! with_operations)
    g_setenv ("GEGL_PATH", "/nonexistent/tconv-upscale/no-gegl-modules", TRUE);
  gegl_init (NULL, NULL);
  if (user_path != NULL)
    g_setenv ("GEGL_PATH", user_path, TRUE);
  else
    g_unsetenv ("GEGL_PATH");
  g_free (user_path);
  tconv_pipeline_profile_stage (with_operations ? "start GEGL" : "start GEGL without operations",
                                &t0);
}

static GimpValueArray *
upscale_run (GimpProcedure        *procedure,
             GimpRunMode           run_mode,
             GimpImage            *image,
             GimpDrawable        **drawables,
             GimpProcedureConfig  *config,
             gpointer              run_data G_GNUC_UNUSED)
{
  GimpValueArray *ret;
  GimpDrawable   *main_drawable;
  GimpImage      *result;
  UpscaleParams   params;
  GError         *error = NULL;

  tconv_pipeline_keep_freed_memory ();
  upscale_gegl_init (run_mode == GIMP_RUN_INTERACTIVE);

  /* The menu's image types do not bind PDB callers: check here. */
  if (image == NULL || ! gimp_image_is_valid (image))
    {
      g_set_error (&error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("No image given: an RGB or grayscale image is required"));
      return upscale_return_error (procedure, error);
    }
  if (gimp_image_get_base_type (image) == GIMP_INDEXED)
    {
      g_set_error (&error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                   _("Image %d is indexed: up-sampling makes new colours that a palette "
                     "cannot hold. Convert it with Image ▸ Mode ▸ RGB (or Grayscale) first."),
                   gimp_image_get_id (image));
      return upscale_return_error (procedure, error);
    }
  main_drawable = upscale_main_drawable (image, drawables);

  if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      if (main_drawable == NULL)
        {
          g_set_error (&error, TCONV_PIPELINE_ERROR, TCONV_PIPELINE_ERROR_INVALID,
                       _("The image has no layer to preview"));
          return upscale_return_error (procedure, error);
        }
      if (! upscale_dialog (procedure, config, image, main_drawable))
        return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);
    }

  upscale_params_from_config (&params, config);
  result = upscale_render_image (image, main_drawable, &params, &error);
  if (result != NULL && params.new_image && run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_display_new (result);
  upscale_params_clear (&params);

  if (result == NULL)
    return upscale_return_error (procedure, error);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_displays_flush ();

  ret = gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_IMAGE (ret, 1, result);
  return ret;
}
