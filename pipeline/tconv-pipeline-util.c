/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Status to GError, the TCONV_PROFILE stage timer, and the memory a job may use; shared by
 * the tconv command and the GIMP plug-in. */
#include "tconv-pipeline-util.h"

#include <stdio.h>
#include <string.h>

#include <gegl.h>

#include "tconv-pipeline.h"

#ifdef G_OS_UNIX
#include <sys/statvfs.h>
#include <unistd.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Jobs run band after band, each allocating its rows of a few MiB and freeing them again.
 * glibc hands such blocks back to the kernel at once (mmap above its dynamic threshold, heap
 * tops above 128 KiB), so every band touched fresh pages: on a 12-megapixel x2 job page
 * faults were a sixth of the CPU time and 2.5 s of system time. Fixed thresholds keep the
 * pages for the next band; blocks above 32 MiB (whole images) are still returned. */
void
tconv_pipeline_keep_freed_memory (void)
{
#ifdef __GLIBC__
  mallopt (M_MMAP_THRESHOLD, 32 << 20);
  mallopt (M_TRIM_THRESHOLD, 256 << 20);
#endif
}

const gchar *
tconv_pipeline_status_message (tconv_status status, const tconv_error *err)
{
  return err != NULL && err->message[0] ? err->message : tconv_status_string (status);
}

void
tconv_pipeline_set_status_error (GError           **error,
                                 tconv_status       status,
                                 const tconv_error *err,
                                 const gchar       *what)
{
  const gchar *message = tconv_pipeline_status_message (status, err);
  const gint   code    = status == TCONV_ERR_TOO_LARGE ? TCONV_PIPELINE_ERROR_TOO_LARGE
                         : status == TCONV_ERR_NO_MEMORY ? TCONV_PIPELINE_ERROR_FAILED
                         : TCONV_PIPELINE_ERROR_INVALID;

  if (err != NULL && err->line > 0)
    g_set_error (error, TCONV_PIPELINE_ERROR, code, "%s:%u:%u: %s", what, err->line,
                 err->column, message);
  else
    g_set_error (error, TCONV_PIPELINE_ERROR, code, "%s: %s", what, message);
}

gboolean
tconv_pipeline_profile_enabled (void)
{
  static gsize enabled = 0; /* 0 unknown, 1 off, 2 on; g_once_init_* needs a non-zero value */

  if (g_once_init_enter (&enabled))
    g_once_init_leave (&enabled, g_getenv ("TCONV_PROFILE") != NULL ? 2 : 1);
  return enabled == 2;
}

void
tconv_pipeline_profile_stage (const gchar *what, gint64 *t0)
{
  const gint64 now = g_get_monotonic_time ();

  /* stdio, not g_printerr(): the CLI captures g_printerr() while GEGL saves */
  if (tconv_pipeline_profile_enabled ())
    fprintf (stderr, "tconv-profile: %-28s %7.3f s\n", what, (double) (now - *t0) / 1e6);
  *t0 = now;
}

/* Free bytes on the file system of @path, or of its nearest existing parent (GEGL creates
 * its swap folder only when it first swaps); 0 when unknown. */
static guint64
free_disk (const gchar *path)
{
  guint64 bytes = 0;
#ifdef G_OS_UNIX
  gchar         *dir = g_strdup (path);
  struct statvfs vfs;

  while (statvfs (dir, &vfs) != 0 && strcmp (dir, "/") != 0 && strcmp (dir, ".") != 0)
    {
      gchar *up = g_path_get_dirname (dir);

      g_free (dir);
      dir = up;
    }
  if (statvfs (dir, &vfs) == 0)
    bytes = (guint64) vfs.f_bavail * (guint64) vfs.f_frsize;
  g_free (dir);
#else
  (void) path;
#endif
  return bytes;
}

guint64
tconv_pipeline_memory_available (gchar **where)
{
  guint64 ram = (guint64) 1 << 32, disk = 0;
  gchar  *swap = NULL;
#ifdef G_OS_UNIX
  const long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);

  if (pages > 0 && page > 0)
    ram = (guint64) pages * (guint64) page;
#endif
  g_object_get (gegl_config (), "swap", &swap, NULL);
  if (swap != NULL && *swap != '\0' && strcmp (swap, "RAM") != 0)
    {
      disk = free_disk (swap);
      if (where != NULL)
        *where = g_strdup_printf ("RAM + free disk for GEGL's swap in %s", swap);
    }
  else if (where != NULL)
    *where = g_strdup ("RAM; GEGL's swap is off");
  g_free (swap);
  return ram + disk;
}
