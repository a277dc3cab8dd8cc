/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tconv bench: kernel-only timings of the standard workloads next to two floors measured in
 * the same process: a STREAM-style bandwidth (the bytes a workload must read and write at the
 * best Scale rate over arrays no cache holds) and nearest-neighbour x s writing the same
 * output bytes (an up-sampler cannot beat a copy of the same size). See docs/bench.md.
 *
 * No file I/O is timed; buffers are allocated and touched before timing; each figure is the
 * median of repeated runs. Threads split the output into bands of rows, as the pipeline does. */
#define _DEFAULT_SOURCE /* madvise(), MADV_HUGEPAGE */
#include "tconv-cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct
{
  const char *name;
  const char *what;
  gsize       side, channels, stride, k;
  gboolean    u8;
  const char *preset; /* shipped kernel file to time, or NULL for the stand-in kernel */
} Workload;

static const Workload workloads[] = {
  { "W1", "2048x2048x4 float32, x2, K=4 depthwise", 2048, 4, 2, 4, FALSE, NULL },
  { "W2", "2048x2048x4 float32, x4, K=8 depthwise", 2048, 4, 4, 8, FALSE, NULL },
  { "W3", "2048x2048x3 uint8, x2 bilinear (K=4)", 2048, 3, 2, 4, TRUE, NULL },
  { "W4", "2048x2048x4 float32, x2, learned K=12", 2048, 4, 2, 12, FALSE, "learned-x2.tconv" },
};

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* ---- a minimal fork/join over row bands ---- */

typedef void (*BandFunc) (gpointer data, gsize first, gsize count);

typedef struct
{
  BandFunc func;
  gpointer data;
  gsize    first, count;
} Band;

static gpointer
band_thread (gpointer p)
{
  Band *b = p;
  b->func (b->data, b->first, b->count);
  return NULL;
}

static void
run_bands (BandFunc func, gpointer data, gsize total, int threads)
{
  Band     bands[64];
  GThread *th[64];
  gsize    at = 0;

  threads = CLAMP (threads, 1, 64);
  for (int i = 0; i < threads; i++)
    {
      gsize n = total / (gsize) threads + ((gsize) i < total % (gsize) threads);
      bands[i] = (Band) { func, data, at, n };
      at += n;
    }
  for (int i = 1; i < threads; i++)
    th[i] = g_thread_new ("bench", band_thread, &bands[i]);
  band_thread (&bands[0]);
  for (int i = 1; i < threads; i++)
    g_thread_join (th[i]);
}

/* ---- the floors ----
 * STREAM's "Scale" kernel (b = q a) over arrays of at least 4x the last-level cache, so that
 * neither array can be served from a cache: filled with non-constant values before timing (no
 * zero page, no page the kernel or hypervisor could merge), written with the ordinary vector
 * stores the compiler emits for the workloads (a multiply, so the loop cannot become a
 * memcpy() with non-temporal stores), best of several runs as STREAM reports, with the spread
 * printed. And a practical floor per workload: nearest-neighbour x s into the workload's own
 * output buffer, the same bytes, from its own input. */

#define STREAM_RUNS 10

typedef struct
{
  float *a, *b;
  gsize  n;
  float  q;
} Stream;

static void
stream_scale (gpointer data, gsize first, gsize count)
{
  Stream      *st = data;
  float       *restrict b = st->b + first;
  const float *restrict a = st->a + first;
  const float  q = st->q;

  /* vectorised like the workloads' inner loops: plain loads and stores */
  for (gsize i = 0; i < count; i++)
    b[i] = q * a[i];
}

/* Non-constant values in both arrays, on the threads that will run the kernel (each faults in
 * its own band's pages). */
static void
stream_fill (gpointer data, gsize first, gsize count)
{
  Stream *st = data;

  for (gsize i = first; i < first + count; i++)
    st->a[i] = (float) ((i * 2654435761u) >> 8 & 0xffffff) * (1.0f / 16777216.0f),
    st->b[i] = (float) i;
}

/* Arrays of gigabytes: huge pages where the system gives them on request, so that setting
 * them up takes a fraction of a second rather than a million page faults (none is timed). */
static float *
stream_alloc (gsize bytes)
{
  void *p = NULL;

  if (posix_memalign (&p, (gsize) 2 << 20, bytes) != 0)
    return NULL;
#ifdef MADV_HUGEPAGE
  madvise (p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

/* The last-level cache as the system reports it (the largest level given); 32 MiB when it
 * says nothing. */
static gsize
llc_bytes (void)
{
  long v = -1;

#ifdef _SC_LEVEL3_CACHE_SIZE
  v = sysconf (_SC_LEVEL3_CACHE_SIZE);
  if (v <= 0)
    v = sysconf (_SC_LEVEL2_CACHE_SIZE);
#endif
  return v > 0 ? (gsize) v : (gsize) 32 << 20;
}

typedef struct
{
  double best_gbs, median_gbs, worst_gbs;
  gsize  array_bytes, llc;
} StreamResult;

/* Bytes moved by Scale (one array read, one written) per second: best, median and worst of
 * STREAM_RUNS after one untimed run. FALSE when the arrays cannot be allocated. */
static gboolean
stream_measure (int threads, StreamResult *res)
{
  const long   pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
  const gsize  ram = pages > 0 && page > 0 ? (gsize) pages * (gsize) page : (gsize) 4 << 30;
  Stream       st = { .q = 1.0f };
  double       gbs[STREAM_RUNS];
  gsize        bytes;

  res->llc = llc_bytes ();
  bytes = MAX (4 * res->llc, (gsize) 256 << 20);
  /* two arrays within a quarter of RAM: on a machine whose cache is that large the figure
   * is then partly the cache's, which the report says */
  bytes = MIN (bytes, ram / 8);
  st.n = bytes / sizeof (float);
  res->array_bytes = st.n * sizeof (float);
  st.a = stream_alloc (res->array_bytes);
  st.b = stream_alloc (res->array_bytes);
  if (st.a == NULL || st.b == NULL)
    {
      free (st.a), free (st.b);
      return FALSE;
    }
  run_bands (stream_fill, &st, st.n, threads);
  run_bands (stream_scale, &st, st.n, threads); /* untimed: frequency, TLB */
  for (int r = 0; r < STREAM_RUNS; r++)
    {
      const double t0 = now_ms ();
      run_bands (stream_scale, &st, st.n, threads);
      gbs[r] = 2.0 * (double) res->array_bytes / ((now_ms () - t0) * 1e6);
      st.q = st.q == 1.0f ? 0.5f : 1.0f;
    }
  qsort (gbs, STREAM_RUNS, sizeof gbs[0], cmp_double);
  res->worst_gbs = gbs[0], res->median_gbs = gbs[STREAM_RUNS / 2];
  res->best_gbs = gbs[STREAM_RUNS - 1];
  free (st.a), free (st.b);
  return TRUE;
}

static double
median_ms (void (*once) (gpointer), gpointer data, int runs)
{
  double t[32];
  runs = CLAMP (runs, 1, 32);
  once (data); /* warm-up */
  for (int r = 0; r < runs; r++)
    {
      double t0 = now_ms ();
      once (data);
      t[r] = now_ms () - t0;
    }
  qsort (t, (size_t) runs, sizeof t[0], cmp_double);
  return t[runs / 2];
}

/* ---- workloads ---- */

typedef struct
{
  tconv_geometry g;
  float         *w;
  float         *in, *out;
  guint8        *in8, *out8;
  int            threads;
  /* the 8-bit path: its plan, and the input padded to the rows and columns it reads */
  tconv_u8_plan *plan;
  gpointer       plan_mem;
  gint64         row_lo, col_lo;
  gsize          rows, cols;
} Job;

static void
job_bands (gpointer data, gsize first, gsize count)
{
  Job           *j = data;
  const gsize    C = j->g.in_c;
  tconv_in_view  in = { .data = j->in, .h = j->g.in_h, .w = j->g.in_w, .c_stride = 1,
                        .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (j->g.in_w * C) };
  tconv_out_view out = { .data = j->out + first * j->g.out_w * C, .y0 = first, .x0 = 0,
                         .h = count, .w = j->g.out_w, .c_stride = 1,
                         .x_stride = (ptrdiff_t) C, .y_stride = (ptrdiff_t) (j->g.out_w * C) };
  if (count > 0)
    tconv_upsample (&j->g, j->w, NULL, &in, &out, NULL);
}

/* The 8-bit path as the pipeline runs it (core/tconv-u8.c): each thread takes bands of
 * BAND_ROWS output rows, expands the input rows a band reads into its own scratch, then
 * computes the band; 8-bit in and out, no float image in memory. */
#define BAND_ROWS 64 /* the pipeline's BAND_ROWS_TARGET */

static void
job_u8_bands (gpointer data, gsize first, gsize count)
{
  Job        *j = data;
  const gsize C = j->g.in_c, rf = tconv_u8_row_floats (j->plan), s = j->g.stride_h;
  const gsize R = (j->g.k_h + s - 1) / s, max_in = BAND_ROWS / s + R + 1;
  float      *exp = g_new (float, max_in * rf);
  const float **rows = g_new (const float *, max_in);

  for (gsize y0 = first; y0 < first + count; y0 += BAND_ROWS)
    {
      const gsize  y1 = MIN (y0 + BAND_ROWS, first + count);
      const gint64 lo = (gint64) ((y0 + j->g.pad_h) / s) - (gint64) (R - 1);
      const gint64 hi = (gint64) ((y1 - 1 + j->g.pad_h) / s);
      const gsize  n = (gsize) (hi - lo + 1);

      for (gsize r = 0; r < n; r++)
        {
          tconv_u8_expand (j->plan, j->in8 + (gsize) (lo + (gint64) r - j->row_lo) * j->cols * C,
                           exp + r * rf, NULL);
          rows[r] = exp + r * rf;
        }
      tconv_u8_rows (j->plan, rows, lo, n, y0, y1, j->out8 + y0 * j->g.out_w * C,
                     j->g.out_w * C, NULL);
    }
  g_free (exp);
  g_free (rows);
}

/* The plan and the padded input (zeros outside the image); FALSE when the path does not apply. */
static gboolean
job_u8_setup (Job *j)
{
  const gsize C = j->g.in_c, s = j->g.stride_h, R = (j->g.k_h + s - 1) / s;
  gsize       n, bytes;

  if (tconv_u8_columns (&j->g, &j->col_lo, &n, NULL) != TCONV_OK
      || tconv_u8_plan_size (&j->g, &bytes, NULL) != TCONV_OK)
    return FALSE;
  j->col_lo = MIN (j->col_lo, 0);
  j->cols = (gsize) (MAX (j->col_lo + (gint64) n, (gint64) j->g.in_w) - j->col_lo);
  j->plan_mem = g_malloc (bytes);
  if (tconv_u8_plan_init (&j->g, j->w, NULL, j->col_lo, j->cols, j->plan_mem, bytes, &j->plan,
                          NULL) != TCONV_OK)
    return FALSE;
  j->row_lo = -(gint64) R;
  j->rows = j->g.in_h + 2 * R + 1;
  j->in8 = g_malloc0 (j->rows * j->cols * C);
  for (gsize y = 0; y < j->g.in_h; y++)
    for (gsize q = 0; q < j->g.in_w * C; q++)
      j->in8[((y + R) * j->cols + (gsize) -j->col_lo) * C + q]
        = (guint8) ((y * j->g.in_w * C + q) * 2654435761u >> 24);
  return TRUE;
}

static void
job_once (gpointer data)
{
  Job *j = data;
  if (j->in8 != NULL)
    run_bands (job_u8_bands, j, j->g.out_h, j->threads);
  else
    run_bands (job_bands, j, j->g.out_h, j->threads);
}

/* Nearest-neighbour x s into the workload's output: each output row group is one input row
 * with every pixel repeated s times, copied to the group's other rows. */
static void
nn_bands (gpointer data, gsize first, gsize count)
{
  Job         *j = data;
  const gsize  s = j->g.stride_h, C = j->g.in_c, es = j->in8 != NULL ? 1 : sizeof (float);
  const gsize  px = C * es, in_row = j->g.in_w * px, out_row = j->g.out_w * px;
  const guint8 *in = j->in8 != NULL ? j->in8 : (const guint8 *) j->in;
  guint8       *out = j->out8 != NULL ? j->out8 : (guint8 *) j->out;

  for (gsize y = first; y < first + count; y++)
    {
      guint8       *o = out + y * out_row;
      const guint8 *i = in + MIN (y / s, j->g.in_h - 1) * in_row;
      const gsize   w = MIN (j->g.in_w, (j->g.out_w + s - 1) / s);

      if (y > first && y % s != 0)
        {
          memcpy (o, o - out_row, out_row);
          continue;
        }
      /* constant sizes, so each copy is a few moves */
      if (px == 16)
        for (gsize x = 0; x < w; x++)
          for (gsize r = 0; r < s && x * s + r < j->g.out_w; r++)
            memcpy (o + (x * s + r) * 16, i + x * 16, 16);
      else if (px == 3)
        {
          /* 4-byte stores that overlap the next pixel, which is written after: one move per
           * output pixel instead of two; the row's last input pixel exactly */
          for (gsize x = 0; x + 1 < w; x++)
            {
              guint32 v;

              memcpy (&v, i + x * 3, 4);
              for (gsize r = 0; r < s; r++)
                memcpy (o + (x * s + r) * 3, &v, 4);
            }
          for (gsize r = 0; w > 0 && r < s && (w - 1) * s + r < j->g.out_w; r++)
            memcpy (o + ((w - 1) * s + r) * 3, i + (w - 1) * 3, 3);
        }
      else
        for (gsize x = 0; x < w; x++)
          for (gsize r = 0; r < s && x * s + r < j->g.out_w; r++)
            memcpy (o + (x * s + r) * px, i + x * px, px);
    }
}

static void
nn_once (gpointer data)
{
  Job *j = data;
  run_bands (nn_bands, j, j->g.out_h, j->threads);
}

/* The shipped kernel @file (one kernel for every channel, or one per channel) as @C
 * per-channel weights of its own size; NULL with a message on stderr when it is missing or
 * unusable, so the caller falls back to the stand-in. */
static tconv_kernel *
load_preset (const char *file, const Workload *wl)
{
  gchar        *path = tconv_pipeline_preset_locate (file, cli_preset_installed ());
  tconv_kernel *kernel = NULL;
  GError       *error = NULL;

  if (path == NULL)
    {
      gchar **dirs = tconv_pipeline_preset_dirs (cli_preset_installed ()), *list = g_strjoinv (":", dirs);
      g_printerr ("bench: %s: %s not found in the preset path (%s); timing a tent K=%" G_GSIZE_FORMAT
                  " stand-in instead\n", wl->name, file, list, wl->k);
      g_strfreev (dirs), g_free (list);
      return NULL;
    }
  if (!cli_preset_load (path, (gint64) wl->stride, (gint64) wl->stride, &kernel, &error))
    {
      g_printerr ("bench: %s: %s; timing a tent K=%" G_GSIZE_FORMAT " stand-in instead\n",
                  wl->name, error->message, wl->k);
      g_clear_error (&error);
    }
  else if (kernel->channels != 1 && kernel->channels != wl->channels)
    {
      g_printerr ("bench: %s: %s has %" G_GSIZE_FORMAT " channel kernels, the workload %"
                  G_GSIZE_FORMAT " channels; timing a tent K=%" G_GSIZE_FORMAT " stand-in instead\n",
                  wl->name, path, kernel->channels, wl->channels, wl->k);
      g_clear_pointer (&kernel, tconv_kernel_free);
    }
  g_free (path);
  return kernel;
}

static void
make_kernel (float *w, gsize C, gsize k, gsize s)
{
  /* A smooth, phase-normalised tent-like kernel; the values do not change the timing. */
  for (gsize c = 0; c < C; c++)
    for (gsize y = 0; y < k; y++)
      for (gsize x = 0; x < k; x++)
        {
          double ty = 1.0 - fabs ((y + 0.5) - k / 2.0) / (k / 2.0);
          double tx = 1.0 - fabs ((x + 0.5) - k / 2.0) / (k / 2.0);
          w[(c * k + y) * k + x] = (float) (ty * tx * 4.0 / (double) (s * s));
        }
}

/* The median of @runs of nearest-neighbour x s over @j, and its spread (worst over best). */
static double
nearest_ms (Job *j, gint runs, double *spread)
{
  double t[32];

  runs = CLAMP (runs, 1, 32);
  nn_once (j);
  for (int r = 0; r < runs; r++)
    {
      const double t0 = now_ms ();
      nn_once (j);
      t[r] = now_ms () - t0;
    }
  qsort (t, (size_t) runs, sizeof t[0], cmp_double);
  *spread = 100.0 * (t[runs - 1] - t[0]) / t[0];
  return t[runs / 2];
}

/* Times one workload @wl (median of @runs) and prints its line against both floors: the
 * STREAM rate @sr and nearest-neighbour into the same output. */
static void
bench_workload (const Workload *wl, gint threads, gint runs, gboolean json,
                const StreamResult *sr)
{
  tconv_params    p;
  Job             j = { .threads = threads };
  tconv_kernel   *kernel = NULL;
  gchar          *what;

  tconv_params_init (&p);
  p.in_c = p.out_c = p.groups = (gint64) wl->channels;
  p.in_h = p.in_w = (gint64) wl->side;
  p.k_h = p.k_w = (gint64) wl->k;
  p.stride_h = p.stride_w = (gint64) wl->stride;
  p.pad_h = p.pad_w = (gint64) (wl->k - wl->stride) / 2;
  if (wl->preset != NULL && (kernel = load_preset (wl->preset, wl)) != NULL)
    {
      p.k_h = (gint64) kernel->k_h, p.k_w = (gint64) kernel->k_w;
      p.pad_h = (gint64) kernel->pad_h, p.pad_w = (gint64) kernel->pad_w;
      p.opad_h = (gint64) kernel->opad_h, p.opad_w = (gint64) kernel->opad_w;
    }
  if (tconv_geometry_init (&j.g, &p, NULL) != TCONV_OK)
    {
      tconv_kernel_free (kernel);
      return;
    }
  j.w = g_new (float, j.g.weight_len);
  if (kernel != NULL)
    {
      const gsize taps = j.g.k_h * j.g.k_w;
      for (gsize c = 0; c < wl->channels; c++)
        memcpy (j.w + c * taps, kernel->weights + (kernel->channels == 1 ? 0 : c * taps),
                taps * sizeof (float));
      what = g_strdup_printf ("2048x2048x4 float32, x2, %s K=%" G_GSIZE_FORMAT, kernel->name,
                              j.g.k_w);
    }
  else
    {
      make_kernel (j.w, wl->channels, wl->k, wl->stride);
      what = g_strdup (wl->preset != NULL ? "2048x2048x4 float32, x2, tent K=12 (stand-in)"
                                          : wl->what);
    }

  double in_bytes, out_bytes;
  if (wl->u8)
    {
      if (!job_u8_setup (&j))
        g_error ("bench: %s: the 8-bit path refused its own workload", wl->name);
      j.out8 = g_malloc (j.g.out_len);
      memset (j.out8, 0, j.g.out_len);
      in_bytes = (double) j.g.in_len, out_bytes = (double) j.g.out_len;
    }
  else
    {
      j.in = g_new (float, j.g.in_len);
      j.out = g_new (float, j.g.out_len);
      for (gsize q = 0; q < j.g.in_len; q++)
        j.in[q] = (float) ((q * 2654435761u >> 16) & 0xffff) / 65535.0f;
      memset (j.out, 0, j.g.out_len * sizeof (float));
      in_bytes = j.g.in_len * 4.0, out_bytes = j.g.out_len * 4.0;
    }
  const double ms = median_ms (job_once, &j, runs);
  const double floor_ms = (in_bytes + out_bytes) / sr->best_gbs / 1e6;
  double       nn_spread;
  const double nn_ms = nearest_ms (&j, runs, &nn_spread);
  /* useful flops: 2 per tap that meets a real input, (K/s)^2 taps per output value */
  const double taps = (double) (j.g.k_h * j.g.k_w) / (double) (wl->stride * wl->stride);
  const double gflops = 2.0 * taps * (double) j.g.out_len / (ms * 1e6);

  if (json)
    printf ("{\"workload\": \"%s\", \"what\": \"%s\", \"threads\": %d, \"median_ms\": %.2f, "
            "\"floor_ms\": %.2f, \"ratio\": %.3f, \"nearest_ms\": %.2f, "
            "\"nearest_ratio\": %.3f, \"nearest_spread_pct\": %.1f, \"gflops\": %.2f}\n",
            wl->name, what, threads, ms, floor_ms, ms / floor_ms, nn_ms, ms / nn_ms, nn_spread,
            gflops);
  else
    printf ("%-4s %-46s %9.2f %8.2f %7.2f %8.2f %7.2f %4.0f%% %7.1f\n", wl->name, what, ms,
            floor_ms, ms / floor_ms, nn_ms, ms / nn_ms, nn_spread, gflops);
  g_free (what);
  tconv_kernel_free (kernel);
  fflush (stdout);
  g_free (j.w), g_free (j.in), g_free (j.out), g_free (j.in8), g_free (j.out8);
  g_free (j.plan_mem);
}

int
cli_cmd_bench (int argc, char **argv)
{
  gboolean        json = FALSE;
  gint            threads = 0, runs = 9;
  gchar          *only = NULL;
  GOptionEntry    entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per line", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Timed runs per figure (median; default 9)", "N" },
    { "workload", 0, 0, G_OPTION_ARG_STRING, &only, "Only this workload (W1..W4)", "W" },
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new ("- kernel-only timings against the memory-bandwidth floor");
  GError         *error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_option_context_free (ctx);
      error->domain = CLI_ERROR, error->code = CLI_EXIT_USAGE;
      return cli_report ("bench", error);
    }
  g_option_context_free (ctx);
  if (argc > 1 || threads < 0 || threads > 64 || runs < 1 || runs > 32)
    {
      g_set_error (&error, CLI_ERROR, CLI_EXIT_USAGE,
                   argc > 1 ? "unexpected argument" : "--threads must be 0..64 and --runs 1..32");
      g_free (only);
      return cli_report ("bench", error);
    }
  if (only != NULL)
    {
      gboolean known = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS (workloads); i++)
        known |= g_ascii_strcasecmp (only, workloads[i].name) == 0;
      if (!known)
        {
          g_set_error (&error, CLI_ERROR, CLI_EXIT_USAGE,
                       "--workload '%s': expected one of W1..W%zu", only,
                       G_N_ELEMENTS (workloads));
          g_free (only);
          return cli_report ("bench", error);
        }
    }
  if (threads == 0)
    threads = (gint) g_get_num_processors ();

  StreamResult sr;
  if (!stream_measure (threads, &sr))
    {
      g_set_error (&error, CLI_ERROR, CLI_EXIT_ERROR,
                   "no memory for the STREAM arrays (2 x 4x the last-level cache)");
      g_free (only);
      return cli_report ("bench", error);
    }
  const double spread = 100.0 * (sr.best_gbs - sr.worst_gbs) / sr.best_gbs;

  /* write_gbs/read_gbs: the same figure, for readers of the old probe's keys */
  if (json)
    printf ("{\"probe\": \"stream-scale\", \"threads\": %d, \"array_mib\": %.0f, \"llc_mib\": %.0f, "
            "\"best_gbs\": %.2f, \"median_gbs\": %.2f, \"worst_gbs\": %.2f, \"spread_pct\": %.1f, "
            "\"write_gbs\": %.2f, \"read_gbs\": %.2f}\n",
            threads, sr.array_bytes / 1048576.0, sr.llc / 1048576.0, sr.best_gbs, sr.median_gbs,
            sr.worst_gbs, spread, sr.best_gbs, sr.best_gbs);
  else
    printf ("STREAM scale (%d threads, 2 arrays of %.0f MiB, last-level cache %.0f MiB%s): "
            "best %.1f GB/s, median %.1f, worst %.1f (spread %.0f %%)\n"
            "floors: STREAM = bytes read + written at the best STREAM rate; nearest = "
            "nearest-neighbour x s, same output bytes (median)\n\n"
            "%-4s %-46s %9s %8s %7s %8s %7s %5s %7s\n",
            threads, sr.array_bytes / 1048576.0, sr.llc / 1048576.0,
            sr.array_bytes < 4 * sr.llc ? ", arrays smaller than 4x the cache: capped at RAM/8" : "",
            sr.best_gbs, sr.median_gbs, sr.worst_gbs, spread, "", "workload", "median ms",
            "STREAM", "x", "nearest", "x", "nn sp", "GFLOP/s");

  for (gsize i = 0; i < G_N_ELEMENTS (workloads); i++)
    if (only == NULL || g_ascii_strcasecmp (only, workloads[i].name) == 0)
      bench_workload (&workloads[i], threads, runs, json, &sr);
  g_free (only);
  return CLI_EXIT_OK;
}
