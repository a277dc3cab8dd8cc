/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Small services both front ends need once: a core status as a GError, the TCONV_PROFILE
 * stage timer, and how much image data the machine can hold. */
#ifndef TCONV_PIPELINE_UTIL_H
#define TCONV_PIPELINE_UTIL_H

#include <glib.h>

#include "tconv.h"

G_BEGIN_DECLS

/**
 * tconv_pipeline_status_message:
 * Returns: (transfer none): @err->message when the core filled it, else the generic text
 * of @status (tconv_status_string()). @err may be NULL.
 */
const gchar *tconv_pipeline_status_message (tconv_status status, const tconv_error *err);

/**
 * tconv_pipeline_set_status_error:
 * @what: what failed, e.g. "Kernel file 'a.tconv'"; printed before the message.
 *
 * The one mapping of a core status to a GError: domain TCONV_PIPELINE_ERROR, code
 * TOO_LARGE for %TCONV_ERR_TOO_LARGE, FAILED for %TCONV_ERR_NO_MEMORY and INVALID for the
 * rest; message "@what:line:column: message" for a parse error, else "@what: message".
 */
void tconv_pipeline_set_status_error (GError           **error,
                                      tconv_status       status,
                                      const tconv_error *err,
                                      const gchar       *what);

/**
 * tconv_pipeline_profile_enabled:
 * Returns: whether TCONV_PROFILE is set (read once per process).
 */
gboolean tconv_pipeline_profile_enabled (void);

/**
 * tconv_pipeline_profile_stage:
 * @what: the stage that just ended.
 * @t0:   (inout): its start (g_get_monotonic_time()); set to now.
 *
 * With TCONV_PROFILE set, prints "tconv-profile: @what <seconds> s" to stderr.
 */
void tconv_pipeline_profile_stage (const gchar *what, gint64 *t0);

/**
 * tconv_pipeline_memory_available:
 * @where: (out) (optional) (transfer full): what the figure counts, for messages.
 *
 * Returns: bytes of physical RAM plus the free disk space of the folder where GEGL swaps
 * (none when GEGL's swap is "RAM" or off): the most image data a job can hold. RAM that the
 * system does not report counts as 4 GiB. GEGL must be initialised.
 */
guint64 tconv_pipeline_memory_available (gchar **where);

/**
 * tconv_pipeline_keep_freed_memory:
 *
 * Called once by a program that runs the pipeline (the tconv command, the plug-in process)
 * before its first job: freed blocks of up to 32 MiB, and up to 256 MiB of free heap, stay in
 * the process for the next band instead of going back to the kernel (glibc only).
 */
void tconv_pipeline_keep_freed_memory (void);

G_END_DECLS

#endif /* TCONV_PIPELINE_UTIL_H */
