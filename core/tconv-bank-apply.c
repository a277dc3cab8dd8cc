/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The kernel bank's fast gather (tconv-bank.h) and the argument checks it shares with the
 * oracle. Per owner LR pixel, one output row of its s x s block at a time: for each tap row
 * and tap column the s weights of that row of phases are contiguous in the class kernel, so
 * the inner loop runs over phases and channels. Every output pixel sums its taps in the same
 * order (tap rows, then tap columns, ascending) whatever region it is computed in. */
#include "tconv-bank.h"
#include "tconv-private.h"

#include <inttypes.h>
#include <string.h>

/* Largest s * channels a block row holds on the stack: 64 phases of 64 channels. */
#define ROW_MAX (TCONV_MAX_STRIDE * TCONV_KERNEL_MAX_CHANNELS)

static tconv_status
check_map (const tconv_bank *bank, const tconv_bank_class_map *map, const tconv_out_view *out,
           size_t s, tconv_error *err)
{
  const int64_t jy0 = (int64_t) (out->y0 / s), jy1 = (int64_t) ((out->y0 + out->h - 1) / s);
  const int64_t jx0 = (int64_t) (out->x0 / s), jx1 = (int64_t) ((out->x0 + out->w - 1) / s);

  if (map->data == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank class map: data is NULL");
  if (map->y0 > jy0 || map->x0 > jx0 || map->y0 + (int64_t) map->h <= jy1
      || map->x0 + (int64_t) map->w <= jx1 || map->stride < (ptrdiff_t) map->w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank class map rows %" PRId64 "..%" PRId64 ", columns %" PRId64
                       "..%" PRId64 ": must cover the owners, rows %" PRId64 "..%" PRId64
                       ", columns %" PRId64 "..%" PRId64,
                       map->y0, map->y0 + (int64_t) map->h - 1, map->x0,
                       map->x0 + (int64_t) map->w - 1, jy0, jy1, jx0, jx1);
  for (int64_t y = jy0; y <= jy1; y++)
    for (int64_t x = jx0; x <= jx1; x++)
      {
        uint16_t c = map->data[(y - map->y0) * map->stride + (x - map->x0)];
        if (c >= bank->classes)
          return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                             "bank class map: class %u at (%" PRId64 ", %" PRId64
                             "): the bank has %zu classes", c, y, x, bank->classes);
      }
  return TCONV_OK;
}

tconv_status
tconv_bank_check_args (const tconv_bank *bank, const tconv_geometry *geom,
                       const tconv_in_view *in, const tconv_bank_class_map *map,
                       const tconv_out_view *out, tconv_error *err)
{
  const tconv_kernel *g;
  tconv_status        st;

  if (bank == NULL || bank->global == NULL || geom == NULL || map == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank upsample: a pointer is NULL");
  g = bank->global;
  if (geom->groups != geom->in_c || geom->out_c != geom->in_c || geom->dil_h != 1
      || geom->dil_w != 1 || geom->k_h != g->k_h || geom->k_w != g->k_w
      || geom->stride_h != g->stride_h || geom->stride_w != g->stride_w
      || geom->pad_h != g->pad_h || geom->pad_w != g->pad_w || geom->opad_h != g->opad_h
      || geom->opad_w != g->opad_w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank upsample: the geometry must be depthwise (groups = channels) with "
                       "the bank's size, stride and padding");
  if (geom->in_c > TCONV_KERNEL_MAX_CHANNELS)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank upsample: %zu channels: at most %u", geom->in_c,
                       TCONV_KERNEL_MAX_CHANNELS);
  if ((st = tconv_check_views (geom, g->weights, in, out, err)))
    return st;
  return check_map (bank, map, out, geom->stride_h, err);
}

/* Tap offsets d (input = owner + d) that reach phase @phi: k > phi + pad - s d >= 0. */
static void
tap_range (size_t phi, size_t pad, size_t k, size_t s, int64_t *lo, int64_t *hi)
{
  int64_t top = (int64_t) phi + (int64_t) pad;
  *hi = tconv_floor_div (top, (int64_t) s);
  *lo = -tconv_floor_div ((int64_t) k - 1 - top, (int64_t) s);
}

typedef struct gather
{
  const tconv_geometry *geom;
  const tconv_in_view  *in;
  const tconv_out_view *out;
  size_t                s, C;
  int64_t               dx_lo, dx_hi; /* tap columns reaching any phase */
} gather;

/* Output row y = s jy + phy, columns of owner jx, into acc[phase x][channel]. */
static void
owner_row (const gather *g, const float *K, int64_t jy, size_t phy, int64_t jx, float *acc)
{
  const size_t s = g->s, C = g->C, k_w = g->geom->k_w, pad_w = g->geom->pad_w;
  int64_t      dy_lo, dy_hi;

  memset (acc, 0, s * C * sizeof (float));
  tap_range (phy, g->geom->pad_h, g->geom->k_h, s, &dy_lo, &dy_hi);
  for (int64_t dy = dy_lo; dy <= dy_hi; dy++)
    {
      const int64_t iy = jy + dy - g->in->y0;
      const float  *krow = K + ((int64_t) phy + (int64_t) g->geom->pad_h - (int64_t) s * dy)
                                 * (int64_t) k_w;
      if (iy < 0 || iy >= (int64_t) g->in->h)
        continue;
      for (int64_t dx = g->dx_lo; dx <= g->dx_hi; dx++)
        {
          const int64_t ix = jx + dx - g->in->x0;
          const int64_t kx0 = (int64_t) pad_w - (int64_t) s * dx; /* tap of phase 0 */
          const float  *px;
          float         v[TCONV_KERNEL_MAX_CHANNELS];
          if (ix < 0 || ix >= (int64_t) g->in->w)
            continue;
          px = g->in->data + iy * g->in->y_stride + ix * g->in->x_stride;
          for (size_t c = 0; c < C; c++)
            v[c] = px[(ptrdiff_t) c * g->in->c_stride];
          for (size_t phx = 0; phx < s; phx++)
            {
              const int64_t kx = kx0 + (int64_t) phx;
              if (kx < 0 || kx >= (int64_t) k_w)
                continue;
              for (size_t c = 0; c < C; c++)
                acc[phx * C + c] += krow[kx] * v[c];
            }
        }
    }
}

static void
gather_rows (const tconv_bank *bank, const gather *g, const tconv_bank_class_map *map)
{
  const tconv_out_view *out = g->out;
  const size_t          s = g->s, C = g->C, plane = g->geom->k_h * g->geom->k_w;
  float                 acc[ROW_MAX];

  for (size_t y = out->y0; y < out->y0 + out->h; y++)
    {
      const int64_t jy = (int64_t) (y / s);
      const size_t  phy = y % s;
      float        *orow = out->data + (ptrdiff_t) (y - out->y0) * out->y_stride;
      for (size_t x = out->x0; x < out->x0 + out->w;)
        {
          const int64_t   jx = (int64_t) (x / s);
          const uint16_t  c = map->data[(jy - map->y0) * map->stride + (jx - map->x0)];
          const size_t    last = (size_t) jx * s + s; /* one past the block's columns */
          owner_row (g, bank->weights + (size_t) c * plane, jy, phy, jx, acc);
          for (; x < last && x < out->x0 + out->w; x++)
            {
              float *o = orow + (ptrdiff_t) (x - out->x0) * out->x_stride;
              for (size_t ch = 0; ch < C; ch++)
                o[(ptrdiff_t) ch * out->c_stride] = acc[(x % s) * C + ch];
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * The plan: per class and phase (py, px), rw rows of rw * C floats, tap (dy, dx) of the window
 * (offsets d = dlo + index from the owner) repeated for each channel, zero where the kernel has
 * no tap. An owner's window (rw rows of rw pixels, C channels) is copied once, zero outside the
 * view, and every phase is an element-wise product summed over the rows, then per channel
 * over the row: the same operations for every owner wherever it lies.
 *
 * Rows are padded to a multiple of 8 floats (PLAN_LANES) so that the products run in whole
 * vectors held in registers; the padding lanes of a window row may hold whatever follows it in
 * the image (even NaN) as they are never summed into a channel.
 */

#define PLAN_LANES 8u
#define PLAN_ROW(rw, C) (((rw) * (C) + PLAN_LANES - 1) / PLAN_LANES * PLAN_LANES)
#define PLAN_MAX_ROW PLAN_ROW (TCONV_BANK_PLAN_MAX_WINDOW, 4u)

struct tconv_bank_plan
{
  size_t       s, C, classes, rw, row, phase; /* row = PLAN_ROW (rw, C), phase = rw * row */
  size_t       spare; /* pixels right of a window that its padded rows read */
  int64_t      dlo;
  unsigned     paths;
  const float *filters; /* classes * s * s * phase */
};

static void
window_range (const tconv_geometry *g, size_t pad, size_t k, int64_t *lo, int64_t *hi)
{
  int64_t a, b;
  *lo = INT64_MAX, *hi = INT64_MIN;
  for (size_t phi = 0; phi < g->stride_h; phi++)
    {
      tap_range (phi, pad, k, g->stride_h, &a, &b);
      *lo = a < *lo ? a : *lo;
      *hi = b > *hi ? b : *hi;
    }
}

static tconv_status
plan_shape (const tconv_bank *bank, size_t C, size_t *rw, int64_t *dlo, size_t *floats,
            tconv_error *err)
{
  const tconv_kernel *g = bank != NULL ? bank->global : NULL;
  tconv_geometry      geo = { 0 };
  int64_t             lo, hi, lo2, hi2;

  if (g == NULL || bank->weights == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank plan: the bank is NULL");
  if (C < 1 || C > 4)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank plan: %zu channels: the plan holds 1..4", C);
  geo.stride_h = g->stride_h;
  window_range (&geo, g->pad_h, g->k_h, &lo, &hi);
  window_range (&geo, g->pad_w, g->k_w, &lo2, &hi2);
  lo = lo2 < lo ? lo2 : lo;
  hi = hi2 > hi ? hi2 : hi;
  if (hi - lo + 1 > (int64_t) TCONV_BANK_PLAN_MAX_WINDOW)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank plan: a window of %" PRId64 " pixels: at most %u", hi - lo + 1,
                       TCONV_BANK_PLAN_MAX_WINDOW);
  *rw = (size_t) (hi - lo + 1);
  *dlo = lo;
  /* at most 4096 classes x 64^2 phases x 17^2 x 4 floats: fits in size_t on 64-bit, checked */
  if (!tconv_mul4_size (bank->classes, g->stride_h * g->stride_w, *rw, PLAN_ROW (*rw, C),
                        floats))
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0, "bank plan: too large");
  return TCONV_OK;
}

tconv_status
tconv_bank_plan_size (const tconv_bank *bank, size_t channels, size_t *bytes, tconv_error *err)
{
  size_t       rw, floats;
  int64_t      dlo;
  tconv_status st;

  if (bytes == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank plan: bytes is NULL");
  if ((st = plan_shape (bank, channels, &rw, &dlo, &floats, err)))
    return st;
  if (floats > (SIZE_MAX - sizeof (tconv_bank_plan) - 64) / sizeof (float))
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0, "bank plan: too large");
  *bytes = sizeof (tconv_bank_plan) + 64 + floats * sizeof (float);
  return TCONV_OK;
}

tconv_status
tconv_bank_plan_init (const tconv_bank *bank, size_t C, void *mem, size_t bytes,
                      tconv_bank_plan **plan, tconv_error *err)
{
  const tconv_kernel *g;
  size_t              need, rw, floats;
  int64_t             dlo;
  tconv_bank_plan    *p;
  float              *f;
  tconv_status        st;

  if ((st = tconv_bank_plan_size (bank, C, &need, err)))
    return st;
  if (mem == NULL || plan == NULL || bytes < need)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank plan: memory of %zu bytes (needs %zu) or plan is NULL", bytes, need);
  plan_shape (bank, C, &rw, &dlo, &floats, NULL);
  g = bank->global;
  p = mem;
  f = (float *) (void *) (((uintptr_t) (p + 1) + 63) & ~(uintptr_t) 63);
  *p = (tconv_bank_plan) { g->stride_h, C, bank->classes, rw, PLAN_ROW (rw, C),
                            rw * PLAN_ROW (rw, C), (PLAN_ROW (rw, C) - rw * C + C - 1) / C,
                            dlo, 0, f };
  memset (f, 0, floats * sizeof (float));
#ifdef TCONV_HAVE_CLONES
  p->paths = tconv_cpu_paths () & TCONV_CPU_CLONES;
#endif
  for (size_t c = 0; c < bank->classes; c++)
    for (size_t py = 0; py < p->s; py++)
      for (size_t px = 0; px < p->s; px++)
        for (size_t wy = 0; wy < rw; wy++)
          for (size_t wx = 0; wx < rw; wx++)
            {
              const int64_t ky = (int64_t) py + (int64_t) g->pad_h - (int64_t) p->s * (dlo + (int64_t) wy);
              const int64_t kx = (int64_t) px + (int64_t) g->pad_w - (int64_t) p->s * (dlo + (int64_t) wx);
              const float   w = ky >= 0 && ky < (int64_t) g->k_h && kx >= 0 && kx < (int64_t) g->k_w
                                  ? bank->weights[(c * g->k_h + (size_t) ky) * g->k_w + (size_t) kx]
                                  : 0.0f;
              for (size_t ch = 0; ch < C; ch++)
                f[(((c * p->s + py) * p->s + px) * rw + wy) * p->row + wx * C + ch] = w;
            }
  *plan = p;
  return TCONV_OK;
}

/* The owner's window: rw rows of row floats, zero outside the view and in the padding. */
static void
copy_window (const tconv_bank_plan *p, const tconv_in_view *in, int64_t jy, int64_t jx,
             float *win)
{
  for (size_t wy = 0; wy < p->rw; wy++)
    {
      const int64_t iy = jy + p->dlo + (int64_t) wy - in->y0;
      for (size_t i = p->rw * p->C; i < p->row; i++)
        win[wy * p->row + i] = 0.0f;
      for (size_t wx = 0; wx < p->rw; wx++)
        {
          const int64_t ix = jx + p->dlo + (int64_t) wx - in->x0;
          float        *d = win + wy * p->row + wx * p->C;
          if (iy < 0 || iy >= (int64_t) in->h || ix < 0 || ix >= (int64_t) in->w)
            for (size_t c = 0; c < p->C; c++)
              d[c] = 0.0f;
          else
            for (size_t c = 0; c < p->C; c++)
              d[c] = in->data[iy * in->y_stride + ix * in->x_stride + (ptrdiff_t) c * in->c_stride];
        }
    }
}

/* Eight floats as one value (GCC and clang vector extension): the compiler keeps a padded row
 * in registers, whole AVX vectors in the x86-64-v3 clone, SSE pairs in the portable build. */
typedef float plan_v8 __attribute__ ((vector_size (PLAN_LANES * sizeof (float))));

static inline __attribute__ ((always_inline)) plan_v8
load8 (const float *p)
{
  plan_v8 v;
  memcpy (&v, p, sizeof v);
  return v;
}

/* One phase of one owner: the window (rows @rows[wy]) times the phase filter, summed per
 * channel. @RW and @C are constants where the caller specialises them, so the loops unroll. */
static inline __attribute__ ((always_inline)) void
phase_dot (size_t RW, size_t C, const float *const *rows, const float *f, float *o,
           ptrdiff_t cs)
{
  const size_t row = PLAN_ROW (RW, C), nv = row / PLAN_LANES;
  plan_v8      acc[PLAN_MAX_ROW / PLAN_LANES];
  float        lane[PLAN_MAX_ROW];

  for (size_t v = 0; v < nv; v++)
    acc[v] = load8 (rows[0] + v * PLAN_LANES) * load8 (f + v * PLAN_LANES);
  for (size_t wy = 1; wy < RW; wy++)
    for (size_t v = 0; v < nv; v++)
      acc[v] += load8 (rows[wy] + v * PLAN_LANES) * load8 (f + wy * row + v * PLAN_LANES);
  memcpy (lane, acc, row * sizeof (float));
  for (size_t c = 0; c < C; c++)
    {
      float sum = lane[c];
      for (size_t wx = 1; wx < RW; wx++)
        sum += lane[wx * C + c];
      o[(ptrdiff_t) c * cs] = sum;
    }
}

typedef struct plan_job
{
  const tconv_bank_plan      *p;
  const tconv_in_view        *in;
  const tconv_bank_class_map *map;
  const tconv_out_view       *out;
} plan_job;

/* The rows of an owner's window: straight into the view when the window, and the pixels its
 * padded rows read beyond it, lie inside it and the channels are interleaved (the values are
 * the same either way), else copied into @win with zeros outside. */
static inline __attribute__ ((always_inline)) void
window_rows (const tconv_bank_plan *p, const tconv_in_view *in, int64_t jy, int64_t jx,
             float *win, const float **rows)
{
  const int64_t y0 = jy + p->dlo - in->y0, x0 = jx + p->dlo - in->x0;

  if (in->x_stride == (ptrdiff_t) p->C && (in->c_stride == 1 || p->C == 1) && y0 >= 0
      && x0 >= 0 && y0 + (int64_t) p->rw <= (int64_t) in->h
      && x0 + (int64_t) (p->rw + p->spare) <= (int64_t) in->w)
    {
      for (size_t wy = 0; wy < p->rw; wy++)
        rows[wy] = in->data + (y0 + (int64_t) wy) * in->y_stride + x0 * in->x_stride;
      return;
    }
  copy_window (p, in, jy, jx, win);
  for (size_t wy = 0; wy < p->rw; wy++)
    rows[wy] = win + wy * p->row;
}

static inline __attribute__ ((always_inline)) void
plan_rows_body (const plan_job *j, size_t RW, size_t C)
{
  const tconv_bank_plan *p = j->p;
  const tconv_out_view  *out = j->out;
  const size_t           s = p->s, y1 = out->y0 + out->h, x1 = out->x0 + out->w;
  float                  win[TCONV_BANK_PLAN_MAX_WINDOW * PLAN_MAX_ROW];
  const float           *rows[TCONV_BANK_PLAN_MAX_WINDOW];

  for (size_t jy = out->y0 / s; jy * s < y1; jy++)
    for (size_t jx = out->x0 / s; jx * s < x1; jx++)
      {
        const uint16_t c = j->map->data[((int64_t) jy - j->map->y0) * j->map->stride
                                        + ((int64_t) jx - j->map->x0)];
        window_rows (p, j->in, (int64_t) jy, (int64_t) jx, win, rows);
        for (size_t py = 0; py < s; py++)
          {
            const size_t y = jy * s + py;
            if (y < out->y0 || y >= y1)
              continue;
            for (size_t px = 0; px < s; px++)
              {
                const size_t x = jx * s + px;
                if (x < out->x0 || x >= x1)
                  continue;
                phase_dot (RW, C, rows, p->filters + ((c * s + py) * s + px) * p->phase,
                           out->data + (ptrdiff_t) (y - out->y0) * out->y_stride
                             + (ptrdiff_t) (x - out->x0) * out->x_stride,
                           out->c_stride);
              }
          }
      }
}

/* The shipped banks' 7x7 window with 1..4 channels unrolled; anything else generic. */
#define PLAN_DISPATCH(j)                                                                   \
  do                                                                                       \
    {                                                                                      \
      const size_t rw_ = (j)->p->rw, c_ = (j)->p->C;                                       \
      if (rw_ == 7 && c_ == 1)                                                             \
        plan_rows_body ((j), 7, 1);                                                        \
      else if (rw_ == 7 && c_ == 2)                                                        \
        plan_rows_body ((j), 7, 2);                                                        \
      else if (rw_ == 7 && c_ == 3)                                                        \
        plan_rows_body ((j), 7, 3);                                                        \
      else if (rw_ == 7 && c_ == 4)                                                        \
        plan_rows_body ((j), 7, 4);                                                        \
      else                                                                                 \
        plan_rows_body ((j), rw_, c_);                                                     \
    }                                                                                      \
  while (0)

static void
plan_rows_portable (const plan_job *j)
{
  PLAN_DISPATCH (j);
}

#ifdef TCONV_HAVE_CLONES
TCONV_TARGET_V3 static void
plan_rows_v3 (const plan_job *j)
{
  PLAN_DISPATCH (j);
}
#endif

tconv_status
tconv_bank_upsample (const tconv_bank *bank, const tconv_bank_plan *plan,
                     const tconv_geometry *geom, const tconv_in_view *in,
                     const tconv_bank_class_map *map, const tconv_out_view *out,
                     tconv_error *err)
{
  gather       g;
  int64_t      lo, hi;
  tconv_status st = tconv_bank_check_args (bank, geom, in, map, out, err);

  if (st)
    return st;
  if (plan != NULL)
    {
      const plan_job j = { plan, in, map, out };
      if (plan->s != geom->stride_h || plan->C != geom->in_c || plan->classes != bank->classes)
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "bank upsample: the plan is for stride %zu, %zu channels, %zu "
                           "classes", plan->s, plan->C, plan->classes);
#ifdef TCONV_HAVE_CLONES
      if (plan->paths & TCONV_CPU_CLONES)
        {
          plan_rows_v3 (&j);
          return TCONV_OK;
        }
#endif
      plan_rows_portable (&j);
      return TCONV_OK;
    }
  g = (gather) { geom, in, out, geom->stride_h, geom->in_c, INT64_MAX, INT64_MIN };
  for (size_t phx = 0; phx < g.s; phx++)
    {
      tap_range (phx, geom->pad_w, geom->k_w, g.s, &lo, &hi);
      g.dx_lo = lo < g.dx_lo ? lo : g.dx_lo;
      g.dx_hi = hi > g.dx_hi ? hi : g.dx_hi;
    }
  gather_rows (bank, &g, map);
  return TCONV_OK;
}
