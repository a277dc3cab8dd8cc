/* The tconv command: one file per subcommand, shared helpers in tconv-io.c.
 * Exit codes: 0 success, 1 runtime error (bad file, I/O), 2 usage error (bad option). */
#ifndef TCONV_CLI_H
#define TCONV_CLI_H

#include <glib.h>

#include "tconv.h"

#define TCONV_EXIT_OK    0
#define TCONV_EXIT_ERROR 1
#define TCONV_EXIT_USAGE 2

G_BEGIN_DECLS

/* Error domain for the CLI; the code is the exit status to use. */
#define TCONV_CLI_ERROR (tconv_cli_error_quark ())
GQuark tconv_cli_error_quark (void);

int tconv_cmd_apply (int argc, char **argv);
int tconv_cmd_matrix (int argc, char **argv);
int tconv_cmd_bench (int argc, char **argv);

/* Prints "tconv SUB: message" to stderr and returns the exit code carried by @error. */
int tconv_report (const char *sub, GError *error);

/* Parses "N" or "A,B" into two non-negative-or-not integers (signed: the core names the rule
 * a negative value breaks). */
gboolean tconv_parse_pair (const char *option, const char *text, gint64 *a, gint64 *b,
                           GError **error);
gboolean tconv_parse_int (const char *option, const char *text, gint64 lo, gint64 hi,
                          gint64 *value, GError **error);

/* Reads a whole regular file of at most @max_bytes. */
gboolean tconv_read_file (const char *path, gsize max_bytes, gchar **contents, gsize *len,
                          GError **error);

/* An .npy file as native floats. */
typedef struct
{
  unsigned ndim;
  gsize    shape[TCONV_NPY_MAX_NDIM];
  gsize    count;
  float   *data;
} TconvArray;

gboolean tconv_array_load (const char *path, const char *what, TconvArray *array,
                           GError **error);
void     tconv_array_clear (TconvArray *array);

/* Refuses to write @output when it names the same file as any of the NULL-terminated
 * @inputs (so a typo can never destroy an input). */
gboolean tconv_check_not_input (const char *output, const char *const *inputs, GError **error);

/* Atomic output: data goes to a hidden temporary file in the destination's folder, which is
 * renamed over @path only when complete; on any failure, or SIGINT/SIGTERM/SIGHUP, the
 * temporary file is removed, so no partial output ever exists under @path. */
typedef struct TconvAtomic TconvAtomic;
TconvAtomic *tconv_atomic_open (const char *path, GError **error);
gboolean     tconv_atomic_write (TconvAtomic *file, const void *data, gsize len, GError **error);
gboolean     tconv_atomic_commit (TconvAtomic *file, GError **error); /* frees @file */
void         tconv_atomic_abort (TconvAtomic *file);                   /* frees @file; NULL ok */
/* The temporary path, for writers (GEGL savers) that want a file name rather than bytes. */
const char  *tconv_atomic_temp_path (TconvAtomic *file);

/* Writes a float32 C-order array as .npy, atomically. */
gboolean tconv_npy_save (const char *path, const gsize *shape, unsigned ndim, const float *data,
                         GError **error);

G_END_DECLS

#endif /* TCONV_CLI_H */
