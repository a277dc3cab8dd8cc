/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The tconv command: one file per subcommand, shared helpers in tconv-io.c.
 * Exit codes: 0 success, 1 runtime error (bad file, I/O), 2 usage error (bad option). */
#ifndef TCONV_CLI_H
#define TCONV_CLI_H

#include <gegl.h>
#include <glib.h>
#include <sys/stat.h>

#include "tconv.h"
#include "tconv-npy.h"
#include "tconv-pipeline-presets.h"
#include "tconv-pipeline-util.h"
#include "tconv-pipeline-learn.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

G_BEGIN_DECLS

/* Error domain for the CLI; the code is the exit status to use. */
#define CLI_ERROR (cli_error_quark ())
GQuark cli_error_quark (void);

int cli_cmd_apply (int argc, char **argv);
int cli_cmd_matrix (int argc, char **argv);
int cli_cmd_upscale (int argc, char **argv);
int cli_cmd_bench (int argc, char **argv);
int cli_cmd_learn (int argc, char **argv);

/* The kernel for --kernel NAME|FILE: a file when @name contains '/' or ends in .tconv (its
 * stride must equal @stride_h/@stride_w when those are > 0); else the preset NAME-xS.tconv of
 * the preset search path (pipeline/tconv-pipeline-presets.h; "learned" at stride 3 is
 * learned-x3.tconv), else the analytic kernel NAME generated at @stride_h x @stride_w (<= 0:
 * 2). NULL or "" is the default: learned at x2, x3 and x4 (when the presets are found),
 * bicubic otherwise. Unknown names list the known ones. (tconv-kernels.c) */
gboolean cli_kernel_lookup (const char *name, gint64 stride_h, gint64 stride_w,
                                  tconv_kernel **kernel, GError **error);
/* A kernel bank named by @name (path or preset), or *bank NULL when @name is no bank. */
gboolean cli_bank_find (const char *name, gint64 stride_h, gint64 stride_w, tconv_bank **bank,
                        gchar **path, GError **error);

int cli_cmd_kernel (int argc, char **argv);

/* Writes @k as a .tconv file, atomically, after tconv_kernel_validate() (tconv-kernel-cmd.c). */
gboolean cli_kernel_write (const tconv_kernel *k, const char *path, GError **error);
gboolean cli_bank_write (const tconv_bank *bank, const char *path, GError **error);

/* ---- presets (pipeline/tconv-pipeline-presets.h, through tconv-kernels.c) ----
 * The command's installed preset folders, for the shared search path: <bindir>/../share/tconv
 * next to the running binary (a relocated install), then the configured install folder. */
const gchar *const *cli_preset_installed (void);

/* A pipeline error (TCONV_PIPELINE_ERROR) as the command reports it: INVALID is a usage error
 * (exit 2), the rest runtime errors (exit 1). Other domains are left alone. */
void cli_error_from_pipeline (GError *error);

/* The pipeline's preset functions over the command's folders, with command exit codes. */
gboolean cli_preset_load (const char *path, gint64 stride_h, gint64 stride_w,
                          tconv_kernel **kernel, GError **error);
gboolean cli_preset_find (const char *name, gint64 stride_h, gint64 stride_w,
                          tconv_kernel **kernel, gchar **path, GError **error);

/* The heatmap of `tconv kernel show --png` (tconv-kernel-png.c): the kernel and its phases as
 * coloured cells of @cell pixels (0: chosen from the kernel size), written as an 8-bit RGB PNG
 * through GEGL, atomically. @width/@height (nullable) receive the image size. */
/* Writes @w x @h 8-bit RGB pixels (rows of 3 w bytes) as a PNG, atomically. */
gboolean cli_png_save_rgb8 (const guchar *px, int w, int h, const char *path, GError **error);
gboolean cli_kernel_png (const tconv_kernel *kernel, const char *path, int cell, int *width,
                           int *height, GError **error);
/* The largest |phase sum - 1| of a bank's class (tconv-kernel-png.c). */
double   cli_bank_class_deviation (const tconv_bank *bank, gsize class_index);
gboolean cli_bank_png (const tconv_bank *bank, const char *path, int cell, int *width,
                       int *height, GError **error);

/* Prints "tconv SUB: message" to stderr and returns the exit code carried by @error. */
int cli_report (const char *sub, GError *error);

/* Parses "N" or "A,B" into two non-negative-or-not integers (signed: the core names the rule
 * a negative value breaks). */
gboolean cli_parse_pair (const char *option, const char *text, gint64 *a, gint64 *b,
                           GError **error);
gboolean cli_parse_int (const char *option, const char *text, gint64 lo, gint64 hi,
                          gint64 *value, GError **error);

/* Opens @path for reading and fills @st; -1 with an error naming the path unless it is a
 * regular file. */
int cli_open_regular (const char *path, struct stat *st, GError **error);

/* Reads a whole regular file of at most @max_bytes. */
gboolean cli_read_file (const char *path, gsize max_bytes, gchar **contents, gsize *len,
                          GError **error);

/* ---- image files (tconv-image.c) ----
 * An input image, read in three steps so that every check comes before the costly one:
 * cli_source_probe() needs no GEGL (a readable, non-empty regular file and its first
 * bytes); cli_source_open() picks the loader from those bytes, never from the file's name,
 * and reads the size and pixel format from the header; cli_source_read() decodes the
 * pixels. A loader's warnings during open or read make them fail with the file's name and
 * the warning. Should a decoder end the process itself (libjpeg's exit() on a broken
 * header), an exit handler still prints "tconv SUB: cannot read 'PATH': ...". */
typedef struct CliInput CliInput; /* checks and tconv's own decoders (tconv-input.h) */
typedef struct
{
  const char   *sub;  /* the subcommand, for that last message; not owned */
  const char   *path; /* not owned: must outlive the source */
  GeglNode     *graph, *load;
  const gchar  *loader; /* e.g. "gegl:png-load", set by cli_source_open() */
  GeglRectangle box;    /* the image's extent, set by cli_source_open() */
  const Babl   *format; /* of the decoded pixels, from the header */
  guchar        head[64];
  gsize         head_len;
  guint64       file_size; /* bytes, from cli_source_probe() */
  CliInput     *input;     /* from cli_source_open() to cli_source_clear() */
  gchar        *load_path; /* what GEGL's loader opens: /proc/self/fd/N of the checked file */
} CliSource;

/* Fills @source from @path (errors: cannot open, not a regular file, empty). No GEGL needed. */
gboolean cli_source_probe (CliSource *source, const char *sub, const char *path,
                             GError **error);
/* After cli_source_probe(), before GEGL starts (so that a tiny file claiming a huge image is
 * refused at once): for a file whose first bytes name its format, the checks of
 * tconv-input.h that need no GEGL; the header read where tconv decodes the format itself.
 * Optional: cli_source_open() runs it when it was not. */
gboolean cli_source_check (CliSource *source, GError **error);
/* GEGL initialised: the loader, box and format, after the checks of tconv-input.h (the file
 * opened again without blocking and kept open for the loader, claims of pixels against
 * bytes, payloads walked; JPEG and Radiance HDR headers read by tconv's own decoders, TIFF's
 * fixes). On failure nothing is left to clear. */
gboolean cli_source_open (CliSource *source, GError **error);
/* After cli_source_open(): the decoded pixels (a new reference), or NULL when the loader
 * warned (truncated or corrupt data) or gave nothing. */
GeglBuffer *cli_source_read (CliSource *source, GError **error);
/* Frees the graph of cli_source_open(); safe on a probed-only or cleared source. */
void cli_source_clear (CliSource *source);

/* PNG input decoded by libpng on its own thread (tconv-png-read.c), for the common kinds of
 * file only. _start() after cli_source_probe(), before GEGL starts: NULL when the file is
 * not a PNG. _finish() joins the thread and frees @read (both may be NULL); given the
 * source after cli_source_open(), it returns the pixels as GEGL's loader would give them,
 * or NULL: then cli_source_read() decodes (any other kind of PNG, any libpng warning or
 * error, a format other than the header's). With @source NULL it only joins and frees. */
typedef struct CliPngRead CliPngRead;
CliPngRead *cli_png_read_start (const CliSource *source, gboolean streamed);
GeglBuffer   *cli_png_read_finish (CliPngRead *read, const CliSource *source);

/* Streamed PNG input (@streamed at _start()): after cli_source_open(), a buffer of the
 * whole image in the source's format whose rows arrive in order, or NULL as _finish() (then
 * _finish (read, NULL) and cli_source_read()). Rows [0, @rows) may be read once
 * cli_png_read_need() returned TRUE (FALSE: the decoder failed or warned, and GEGL's loader
 * should decode instead); rows below @below must not be read after cli_png_read_release()
 * (their memory is given back); the decoder holds at most @rows rows from there
 * (cli_png_read_set_window()). cli_png_read_complete(): TRUE when the whole file, end
 * included, decoded without a warning. Unref the buffer before _finish (read, NULL). */
GeglBuffer *cli_png_read_stream (CliPngRead *read, const CliSource *source);
void        cli_png_read_set_window (CliPngRead *read, gsize rows);
gboolean    cli_png_read_need (CliPngRead *read, gsize rows);
void        cli_png_read_release (CliPngRead *read, gsize below);
gboolean    cli_png_read_complete (CliPngRead *read);

/* Collects the g_log warnings, criticals and errors of any thread (each distinct message
 * once) from _begin() to _end(), instead of printing them. _end() returns them joined by
 * "; " (free it), or NULL when there were none. Not nested. */
void   cli_log_capture_begin (void);
gchar *cli_log_capture_end (void);
/* A GPrintFunc for g_set_printerr_handler() that adds to the capture: savers report write
 * errors (ENOSPC, EFBIG) only through g_printerr() and then finish "successfully". */
void   cli_log_capture_printerr (const gchar *message);

/* gegl_init() and gegl_exit() for the subcommands, without babl's shared conversion cache
 * (see tconv-image.c: loading it costs seconds and hundreds of MB). */
void cli_gegl_start (void);
void cli_gegl_stop (void);

/* Makes GEGL register the file handlers of every loader and saver it has (they register when
 * their class is first used) without printing its fallback warnings, so that
 * gegl_operation_handlers_get_loader()/_get_saver() know them all. GEGL initialised. */
void cli_gegl_handlers_init (void);

/* An .npy file as native floats. */
typedef struct
{
  unsigned ndim;
  gsize    shape[TCONV_NPY_MAX_NDIM];
  gsize    count;
  float   *data;
} CliArray;

gboolean cli_array_load (const char *path, const char *what, CliArray *array,
                           GError **error);
void     cli_array_clear (CliArray *array);

/* Refuses to write @output when it names the same file as any of the NULL-terminated
 * @inputs (so a typo can never destroy an input). */
gboolean cli_check_not_input (const char *output, const char *const *inputs, GError **error);

/* Output files (tconv-output.c), the same rule for every writer. @path must be a new name or
 * an existing regular file with a single link that the user may open for writing (else an
 * error naming the path and the rule: symbolic links, devices such as /dev/null, FIFOs,
 * sockets and folders are refused). The data goes to a temporary file created exclusively
 * in a private 0700 folder ".tconv-XXXXXX" made in the output folder; _commit() gives it the
 * replaced file's permission bits (and owner and group where allowed), fsyncs it and renames
 * it over @path. On any failure, on every catchable fatal signal and at exit() the private
 * folder is removed, so no partial output ever exists under @path. */
typedef struct CliAtomic CliAtomic;
CliAtomic *cli_atomic_open (const char *path, GError **error);
gboolean     cli_atomic_write (CliAtomic *file, const void *data, gsize len, GError **error);
gboolean     cli_atomic_commit (CliAtomic *file, GError **error); /* frees @file */
void         cli_atomic_abort (CliAtomic *file);                   /* frees @file; NULL ok */
/* For writers (GEGL savers) that want a file name rather than bytes: closes and removes the
 * temporary file, so that the saver creates it anew, and returns its path (inside the private
 * folder, through /proc/self/fd when there is one). */
const char  *cli_atomic_temp_path (CliAtomic *file);

/* Before any work: refuses (an error naming the size and the limit) an output of @width x
 * @height that @saver (a GEGL saver operation) cannot write, and warns on stderr, as "tconv
 * @sub: warning: ...", when it would drop @format's alpha, bit depth or float range. */
gboolean cli_saver_check (const char *sub, const char *saver, const char *path, gint width,
                          gint height, const Babl *format, GError **error);

/* Installs the handlers that remove registered folders on fatal signals and at exit();
 * called first thing in main(). Signals the caller ignores stay ignored; SIGXFSZ is ignored
 * so that a file-size limit becomes a write error (EFBIG). */
void cli_cleanup_init (void);
/* Registers the absolute @path of a private folder for removal (with everything in it, three
 * levels deep) on a signal; returns a slot for _remove_folder(), or -1. */
int  cli_cleanup_add_folder (const char *path);
/* Removes the folder of @slot now and forgets it (-1: nothing). */
void cli_cleanup_remove_folder (int slot);

/* GEGL's swap in a private folder "tconv-XXXXXX" inside the one GEGL would use (GEGL_SWAP,
 * else $XDG_CACHE_HOME/gegl-0.4/swap), registered for removal: a run killed by a signal
 * leaves no swap file. _begin() before gegl_init(), _end() after gegl_exit(). Nothing when
 * GEGL_SWAP is "RAM". */
void cli_swap_begin (void);
void cli_swap_end (void);

/* Writes @buffer as a PNG into @file (tconv-png.c): the pixels and colour chunks of
 * gegl:png-save (8-bit for u8 buffers, else 16-bit), rows filtered "up" and deflated at zlib
 * @level on @threads threads. With @pixels (nullable) the rows are read from there instead,
 * in @buffer's format, @stride bytes apart; @buffer then only gives the format and size. */
gboolean cli_png_write (GeglBuffer *buffer, const guint8 *pixels, gsize stride,
                          CliAtomic *file, gint threads, gint level, GError **error);

/* Streamed PNG output (tconv-png.c), the same bytes as cli_png_write(): rows arrive in
 * bands of @band_rows (the last may be shorter) into a ring of @ring_rows rows (whole bands)
 * returned in @ring, @rowstride bytes apart, in @format: the band from row y0 goes at
 * @ring + (y0 mod @ring_rows) x @rowstride. Before filling rows up to @y1 the
 * producer calls cli_png_stream_wait_room() (FALSE: writing failed; abort), after it
 * cli_png_stream_rows_done(). _end() writes the rest of the file (or reports the first
 * error) and frees the stream; _abort() stops and frees it (NULL ok). @file stays the
 * caller's to commit or abort. */
typedef struct CliPngStream CliPngStream;
CliPngStream *cli_png_stream_begin (const Babl *format, gint width, gint height, gint band_rows,
                                    CliAtomic *file, gint threads, gint level, guint8 **ring,
                                    gsize *ring_rows, gsize *rowstride, GError **error);
gboolean      cli_png_stream_wait_room (CliPngStream *stream, gint y1);
void          cli_png_stream_rows_done (CliPngStream *stream, gint y1);
gboolean      cli_png_stream_end (CliPngStream *stream, GError **error);
void          cli_png_stream_abort (CliPngStream *stream);

/* Writes a float32 C-order array as .npy, atomically. */
gboolean cli_npy_save (const char *path, const gsize *shape, unsigned ndim, const float *data,
                         GError **error);

G_END_DECLS

#endif /* TCONV_CLI_H */
