/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Output files, one rule for every writer: the target is checked with lstat (a regular file
 * the user may open for writing, or a new name; never a symbolic link, device, FIFO, socket
 * or folder, nor a file with other hard links), the data goes to a temporary file inside a
 * private 0700 folder made in the output folder, and a rename puts it in place. Whatever
 * could be left behind (that folder, the private babl and swap folders) is registered for
 * removal on every catchable fatal signal and at exit(). Linux-first: the removal of a
 * folder's entries from a signal handler uses getdents64. */
#define _GNU_SOURCE
#include "tconv-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#ifndef O_PATH
#define O_PATH O_RDONLY
#endif

/* ---------------------------------------------------------------------------------------------
 * Removal on signals and at exit. Fixed storage and async-signal-safe calls only: the
 * handler may interrupt any code, on any thread.
 */

#define MAX_CLEANUP 16

typedef struct
{
  volatile sig_atomic_t used;
  int                   parent_fd; /* the folder holding @name (AT_FDCWD: @name is a path) */
  volatile sig_atomic_t dir_fd;    /* the folder itself once open, else -1 */
  char                  name[PATH_MAX];
} CleanupEntry;

static CleanupEntry cleanup[MAX_CLEANUP];

/* Removes the entries of the open folder @fd, and of its sub-folders down to @depth levels
 * (babl's private HOME holds .cache/babl/babl-fishes). Listing restarts after every pass that
 * removed something: entries removed during a getdents64 walk may hide others. */
static void
remove_entries (int fd, int depth)
{
#ifdef __linux__
  char buf[2048] __attribute__ ((aligned (8)));
  int  removed = 1;

  while (removed)
    {
      long n;

      removed = 0;
      if (lseek (fd, 0, SEEK_SET) != 0)
        return;
      while ((n = syscall (SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long off = 0; off < n;)
          {
            /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
            unsigned short reclen;
            const char    *name = buf + off + 19;

            memcpy (&reclen, buf + off + 16, sizeof reclen);
            off += reclen;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
              continue;
            if (unlinkat (fd, name, 0) == 0)
              removed = 1;
            else if (errno == EISDIR && depth > 0)
              {
                int sub = openat (fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                  {
                    remove_entries (sub, depth - 1);
                    close (sub);
                  }
                removed |= unlinkat (fd, name, AT_REMOVEDIR) == 0;
              }
          }
    }
#else
  (void) fd, (void) depth;
#endif
}

/* Empties and removes the folder of @e; async-signal-safe. */
static void
cleanup_entry_run (CleanupEntry *e)
{
  int fd = e->dir_fd;
  int own = 0;

  if (fd < 0)
    {
      fd = openat (e->parent_fd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      own = fd >= 0;
    }
  if (fd >= 0)
    remove_entries (fd, 3);
  if (own)
    close (fd);
  /* only an empty folder goes: should @name have been replaced meanwhile, nothing is lost */
  unlinkat (e->parent_fd, e->name, AT_REMOVEDIR);
}

static void
cleanup_all (void)
{
  for (int i = 0; i < MAX_CLEANUP; i++)
    if (cleanup[i].used)
      {
        cleanup_entry_run (&cleanup[i]);
        cleanup[i].used = 0;
      }
}

/* Every signal whose default action ends the process, except SIGKILL and SIGSTOP (which
 * cannot be caught) and SIGXFSZ (ignored instead, below). */
static const int fatal_signals[] = {
  SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGVTALRM,
  SIGPROF, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS, SIGTRAP,
#ifdef SIGPOLL
  SIGPOLL,
#endif
#ifdef SIGPWR
  SIGPWR,
#endif
#ifdef SIGSTKFLT
  SIGSTKFLT,
#endif
};

static void
on_fatal_signal (int sig)
{
  const int saved = errno;

  cleanup_all ();
  /* then die of the same signal, so that the exit status says what happened */
  signal (sig, SIG_DFL);
  raise (sig);
  errno = saved;
}

void
cli_cleanup_init (void)
{
  static gboolean done;
  struct sigaction sa, old;

  if (done)
    return;
  done = TRUE;
  for (int i = 0; i < MAX_CLEANUP; i++)
    cleanup[i].dir_fd = -1;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sigfillset (&sa.sa_mask); /* no second handler on top of a running one */
  for (gsize i = 0; i < G_N_ELEMENTS (fatal_signals); i++)
    /* A signal the caller ignores stays ignored (nohup, a shell's background job), and one
     * someone else handles stays theirs (AddressSanitizer's SIGSEGV report). */
    if (sigaction (fatal_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
      sigaction (fatal_signals[i], &sa, NULL);
  /* Past a file-size limit (ulimit -f) write() then fails with EFBIG and the error path
   * removes the temporary file, instead of SIGXFSZ killing the process and leaving it. */
  signal (SIGXFSZ, SIG_IGN);
  /* exit() from inside a library (libjpeg on a fatal error) */
  atexit (cleanup_all);
}

/* A free entry for the folder @name under @parent_fd, registered before the folder exists so
 * that no signal can orphan it; -1 when the table is full or @name too long. */
static int
cleanup_add (int parent_fd, const char *name)
{
  cli_cleanup_init ();
  if (strlen (name) >= sizeof cleanup[0].name)
    return -1;
  for (int i = 0; i < MAX_CLEANUP; i++)
    if (!cleanup[i].used)
      {
        cleanup[i].parent_fd = parent_fd;
        cleanup[i].dir_fd = -1;
        memcpy (cleanup[i].name, name, strlen (name) + 1);
        /* the handler must see the name complete before it sees the entry used */
        atomic_signal_fence (memory_order_seq_cst);
        cleanup[i].used = 1;
        return i;
      }
  return -1;
}

static void
cleanup_remove (int slot, gboolean run)
{
  if (slot < 0 || !cleanup[slot].used)
    return;
  if (run)
    cleanup_entry_run (&cleanup[slot]);
  cleanup[slot].used = 0;
}

int
cli_cleanup_add_folder (const char *path)
{
  return path != NULL && g_path_is_absolute (path) ? cleanup_add (AT_FDCWD, path) : -1;
}

void
cli_cleanup_remove_folder (int slot)
{
  cleanup_remove (slot, TRUE);
}

/* ---------------------------------------------------------------------------------------------
 * GEGL's swap in a private folder
 */

static gchar *swap_dir;
static int    swap_slot = -1;

void
cli_swap_begin (void)
{
  const char *env = g_getenv ("GEGL_SWAP");
  gchar      *base, *tmpl;

  if (swap_dir != NULL || (env != NULL && (*env == '\0' || strcmp (env, "RAM") == 0)))
    return;
  /* GEGL's own default when GEGL_SWAP is unset */
  base = env != NULL ? g_strdup (env)
                     : g_build_filename (g_get_user_cache_dir (), "gegl-0.4", "swap", NULL);
  tmpl = g_build_filename (base, "tconv-XXXXXX", NULL);
  g_free (base);
  if (g_path_is_absolute (tmpl) && g_mkdir_with_parents (base = g_path_get_dirname (tmpl), 0700) == 0
      && g_mkdtemp (tmpl) != NULL)
    {
      swap_slot = cli_cleanup_add_folder (tmpl);
      swap_dir = tmpl;
      /* read by gegl_init() */
      g_setenv ("GEGL_SWAP", swap_dir, TRUE);
    }
  else
    g_free (tmpl);
  g_free (base);
}

void
cli_swap_end (void)
{
  if (swap_dir == NULL)
    return;
  if (swap_slot >= 0)
    cli_cleanup_remove_folder (swap_slot);
  else
    g_rmdir (swap_dir);
  swap_slot = -1;
  g_clear_pointer (&swap_dir, g_free);
}

/* ---------------------------------------------------------------------------------------------
 * Output files
 */

struct CliAtomic
{
  char    *path;    /* as given */
  char    *base;    /* its last component: the name in the output folder */
  char    *temp;    /* the temporary file's path, for savers that take one */
  char     dir_name[16]; /* the private folder, ".tconv-XXXXXX" */
  char     temp_name[48]; /* the temporary file in it */
  int      parent_fd, dir_fd, fd;
  int      slot;
  gboolean replace; /* @path exists: give the new file its permission bits and owner */
  struct stat old;
};

static const char *
file_kind (mode_t mode)
{
  return S_ISDIR (mode)    ? "a directory"
         : S_ISLNK (mode)  ? "a symbolic link"
         : S_ISCHR (mode)  ? "a character device"
         : S_ISBLK (mode)  ? "a block device"
         : S_ISFIFO (mode) ? "a FIFO"
         : S_ISSOCK (mode) ? "a socket"
                           : "not a regular file";
}

/* The output rule, on @base in the open folder @parent_fd. */
static gboolean
check_target (CliAtomic *f, GError **error)
{
  int fd;
  struct stat now;

  if (fstatat (f->parent_fd, f->base, &f->old, AT_SYMLINK_NOFOLLOW) != 0)
    {
      if (errno == ENOENT)
        return TRUE; /* a new name */
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot create output '%s': %s", f->path,
                   g_strerror (errno));
      return FALSE;
    }
  if (!S_ISREG (f->old.st_mode))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s' is %s: tconv writes only to a regular file or a new name%s",
                   f->path, file_kind (f->old.st_mode),
                   S_ISLNK (f->old.st_mode) ? " (name the link's target instead)" : "");
      return FALSE;
    }
  if (f->old.st_nlink > 1)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s' has %ju hard links: replacing it would leave the other names "
                   "with the old contents; remove it first or choose a new name", f->path,
                   (uintmax_t) f->old.st_nlink);
      return FALSE;
    }
  /* Replace only what the user could write into (as cp would): the open is the test. */
  fd = openat (f->parent_fd, f->base, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot replace output '%s': %s", f->path,
                   g_strerror (errno));
      return FALSE;
    }
  if (fstat (fd, &now) != 0 || now.st_dev != f->old.st_dev || now.st_ino != f->old.st_ino)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s' changed while it was being checked", f->path);
      close (fd);
      return FALSE;
    }
  close (fd);
  f->replace = TRUE;
  return TRUE;
}

/* The private folder ".tconv-XXXXXX" in the output folder, 0700, and the temporary file in
 * it, created exclusively. */
static gboolean
make_private (CliAtomic *f, GError **error)
{
  static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const char       *dot = strrchr (f->base, '.');
  struct stat       st;
  int               err = EEXIST;

  for (int attempt = 0; attempt < 100 && err == EEXIST; attempt++)
    {
      memcpy (f->dir_name, ".tconv-", 7);
      for (int i = 7; i < 13; i++)
        f->dir_name[i] = chars[g_random_int_range (0, sizeof chars - 1)];
      f->dir_name[13] = '\0';
      /* registered before it exists, so that no signal can orphan it */
      cleanup_remove (f->slot, FALSE);
      if ((f->slot = cleanup_add (f->parent_fd, f->dir_name)) < 0)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                       "cannot create output '%s': too many outputs open at once", f->path);
          return FALSE;
        }
      err = mkdirat (f->parent_fd, f->dir_name, 0700) == 0 ? 0 : errno;
    }
  if (err != 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot create output '%s': %s", f->path,
                   g_strerror (err));
      return FALSE;
    }
  f->dir_fd = openat (f->parent_fd, f->dir_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (f->dir_fd < 0 || fstat (f->dir_fd, &st) != 0 || st.st_uid != geteuid ()
      || (st.st_mode & 077) != 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "cannot create output '%s': its private temporary folder was tampered with",
                   f->path);
      return FALSE;
    }
  cleanup[f->slot].dir_fd = f->dir_fd;
  /* savers that pick a format by name see the output's extension (when short) */
  g_snprintf (f->temp_name, sizeof f->temp_name, "partial%s",
              dot != NULL && dot != f->base && strlen (dot) < sizeof f->temp_name - 8 ? dot : "");
  f->fd = openat (f->dir_fd, f->temp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0666);
  if (f->fd < 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot create output '%s': %s", f->path,
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static void
atomic_free (CliAtomic *f)
{
  if (f->fd >= 0)
    close (f->fd);
  cleanup_remove (f->slot, TRUE);
  if (f->dir_fd >= 0)
    close (f->dir_fd);
  if (f->parent_fd >= 0)
    close (f->parent_fd);
  g_free (f->path);
  g_free (f->base);
  g_free (f->temp);
  g_free (f);
}

CliAtomic *
cli_atomic_open (const char *path, GError **error)
{
  CliAtomic *f = g_new0 (CliAtomic, 1);
  gchar     *dir = g_path_get_dirname (path);
  gchar      proc[64];
  struct stat a, b;

  f->path = g_strdup (path);
  f->base = g_path_get_basename (path);
  f->parent_fd = f->dir_fd = f->fd = -1;
  f->slot = -1;
  if (*path == '\0' || g_str_has_suffix (path, "/") || strcmp (f->base, ".") == 0
      || strcmp (f->base, "..") == 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s' is not a file name: tconv writes only to a regular file or a "
                   "new name", path);
      goto fail;
    }
  f->parent_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (f->parent_fd < 0)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot create output '%s': %s", path,
                   g_strerror (errno));
      goto fail;
    }
  if (!check_target (f, error))
    goto fail;
  if (!make_private (f, error))
    goto fail;
  /* Savers that take a path get one through the open folder (/proc/self/fd/N/...): even
   * should the folder's name be moved and replaced meanwhile, they write where tconv made
   * it. Without /proc, its name in the output folder. */
  g_snprintf (proc, sizeof proc, "/proc/self/fd/%d", f->dir_fd);
  if (stat (proc, &a) == 0 && fstat (f->dir_fd, &b) == 0 && a.st_dev == b.st_dev
      && a.st_ino == b.st_ino)
    f->temp = g_build_filename (proc, f->temp_name, NULL);
  else
    f->temp = g_build_filename (dir, f->dir_name, f->temp_name, NULL);
  g_free (dir);
  return f;

fail:
  g_free (dir);
  atomic_free (f);
  return NULL;
}

const char *
cli_atomic_temp_path (CliAtomic *f)
{
  /* The saver creates the file itself (over an existing one GIO would write yet another
   * temporary file and rename it); inside the private folder nobody else can. */
  if (f->fd >= 0)
    {
      close (f->fd);
      f->fd = -1;
      unlinkat (f->dir_fd, f->temp_name, 0);
    }
  return f->temp;
}

gboolean
cli_atomic_write (CliAtomic *f, const void *data, gsize len, GError **error)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t w = write (f->fd, p, len > (1u << 30) ? (1u << 30) : len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot write '%s': %s", f->path,
                       w < 0 ? g_strerror (errno) : "no progress");
          return FALSE;
        }
      p += w;
      len -= (gsize) w;
    }
  return TRUE;
}

void
cli_atomic_abort (CliAtomic *f)
{
  if (f != NULL)
    atomic_free (f);
}

gboolean
cli_atomic_commit (CliAtomic *f, GError **error)
{
  struct stat st;
  const char *why = NULL;

  /* a saver wrote the file by name: it must be a regular file in the private folder */
  if (f->fd < 0)
    f->fd = openat (f->dir_fd, f->temp_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (f->fd < 0 || fstat (f->fd, &st) != 0)
    why = g_strerror (errno);
  else if (!S_ISREG (st.st_mode))
    why = "the saver did not write a regular file";
  /* the replaced file's permission bits (not set-user-ID and the like), and its owner and
   * group where the user may give them (root; a group the user is in) */
  else if (f->replace && fchmod (f->fd, f->old.st_mode & 0777) != 0)
    why = g_strerror (errno);
  if (why == NULL && f->replace && (st.st_uid != f->old.st_uid || st.st_gid != f->old.st_gid)
      && fchown (f->fd, f->old.st_uid, f->old.st_gid) != 0)
    (void) (fchown (f->fd, (uid_t) -1, f->old.st_gid) == 0);
  /* fsync so that a crash after the rename cannot leave an empty file under the final name
   * (and any write error the file system reports only now is heard) */
  if (why == NULL && fsync (f->fd) != 0)
    why = g_strerror (errno);
  if (why == NULL)
    {
      const int fd = f->fd;
      f->fd = -1;
      if (close (fd) != 0)
        why = g_strerror (errno);
    }
  if (why == NULL && renameat (f->dir_fd, f->temp_name, f->parent_fd, f->base) != 0)
    why = g_strerror (errno);
  if (why != NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR, "cannot write '%s': %s", f->path, why);
      atomic_free (f);
      return FALSE;
    }
  atomic_free (f);
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * What the savers can hold
 */

typedef struct
{
  const char *op;
  const char *name;     /* for messages */
  gint        max_side; /* 0: no limit of its own */
  gboolean    alpha;    /* stores an alpha channel */
  gboolean    only_u8;  /* stores 8 bits per sample at most */
  gboolean    no_float; /* stores float samples as 16-bit integers (clipped to 0..1) */
  gboolean    icc;      /* stores the colour space's ICC profile */
  gboolean    only_float; /* a floating-point format: integer samples do not belong there */
} SaverLimits;

/* JPEG: libjpeg refuses more than 65500 per side, and does so by exit(1) from inside the saver
 * (jpeg_std_error), after the file was created. WebP: libwebp's 14-bit size fields. GEGL's
 * JPEG and TIFF savers and tconv's PNG writer embed the space's profile; the others do not.
 * Radiance HDR stores a shared exponent and 8-bit mantissas (about 1 % precision): an 8- or
 * 16-bit image would come back changed by several levels. */
static const SaverLimits saver_limits[] = {
  { "gegl:jpg-save", "JPEG", 65500, FALSE, TRUE, TRUE, TRUE, FALSE },
  { "gegl:webp-save", "WebP", 16383, TRUE, TRUE, TRUE, FALSE, FALSE },
  { "gegl:ppm-save", "PPM", 0, FALSE, FALSE, TRUE, FALSE, FALSE },
  { "gegl:png-save", "PNG", 0, TRUE, FALSE, TRUE, TRUE, FALSE },
  { "gegl:tiff-save", "TIFF", 0, TRUE, FALSE, FALSE, TRUE, FALSE },
  { "gegl:rgbe-save", "Radiance HDR", 0, FALSE, FALSE, FALSE, FALSE, TRUE },
};

gboolean
cli_saver_check (const char *sub, const char *saver, const char *path, gint width, gint height,
                 const Babl *format, GError **error)
{
  const SaverLimits *l = NULL;
  const Babl        *type = babl_format_get_type (format, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (saver_limits); i++)
    if (strcmp (saver, saver_limits[i].op) == 0)
      l = &saver_limits[i];
  if (l == NULL)
    return TRUE;
  if (l->max_side > 0 && (width > l->max_side || height > l->max_side))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s' would be %dx%d pixels: %s holds at most %d pixels per side "
                   "(use .png or .tif, or a smaller --size)",
                   path, width, height, l->name, l->max_side);
      return FALSE;
    }
  if (l->only_float && type != babl_type ("float") && type != babl_type ("half"))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_ERROR,
                   "output '%s': %s is for floating-point images and the input has %s samples: "
                   "its 1 %% precision would change them (use .png or .tif)",
                   path, l->name, babl_get_name (type));
      return FALSE;
    }
  if (!l->alpha && babl_format_has_alpha (format))
    g_printerr ("tconv %s: warning: '%s': %s has no alpha channel; the transparency is "
                "dropped\n", sub, path, l->name);
  if (l->only_u8 && type != babl_type ("u8"))
    g_printerr ("tconv %s: warning: '%s': %s holds 8 bits per sample; the input's %s samples "
                "are reduced to 8 bits\n", sub, path, l->name, babl_get_name (type));
  else if (l->no_float && (type == babl_type ("float") || type == babl_type ("half")))
    g_printerr ("tconv %s: warning: '%s': %s holds no floating point; samples are stored as "
                "16-bit integers, values outside 0..1 clipped\n", sub, path, l->name);
  if (!l->icc && babl_format_get_space (format) != babl_space ("sRGB"))
    g_printerr ("tconv %s: warning: '%s': the %s saver stores no colour profile; the "
                "input's profile is dropped and viewers will assume sRGB\n", sub, path, l->name);
  return TRUE;
}
