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
 * The plan at strides other than 2 (stride 2 has its own layout, below): the lanes of a
 * vector are the s phases px of one output row of an owner's block, C channels each (lane
 * px C + c), which is how those s pixels lie in an interleaved output row. Per class, output
 * row phase py and window pixel (wy, wx) (offsets d = dlo + index from the owner), a vector
 * holds each lane's tap, zero where the kernel has none. The window pixels are "expanded"
 * (their C values repeated s times), so an owner's output row py is a sum of rw x rw vector
 * products in a fixed order, with no sum across lanes: the same operations for every owner
 * wherever it lies, and pixels outside the window never read. Vectors hold 8 or 16 floats
 * (the fewer that hold s C lanes); lanes past s C are dropped.
 */

#define PLAN_LANES     8u  /* floats per plan_v8 */
#define PLAN_MAX_LANES 16u /* s C at most */
#define PLAN_CHUNK     64u /* owners per expansion: rw rows of PLAN_CHUNK + rw - 1 pixels (at
                            * most 88 KB of stack) */
#define PLAN_EX_ROW    ((PLAN_CHUNK + TCONV_BANK_PLAN_MAX_WINDOW - 1) * PLAN_MAX_LANES \
                        + PLAN_MAX_LANES)
#define PAIR_PHASES    4u /* s = 2: the phases of one owner, half a vector */
#define PAIR_EX_PLANE  ((PLAN_CHUNK + TCONV_BANK_PLAN_MAX_WINDOW) * PAIR_PHASES)
_Static_assert (4 * PAIR_EX_PLANE <= PLAN_EX_ROW, "four channel planes fit in an expanded row");
/* s = 2: a window row's values, one plane of CX_ROW floats per channel (zero past the row's
 * pixels, so vectors may read on), from which the layouts below and the anti-ringing's corner
 * ranges are made; and a row of those ranges, CORNER_ROW floats per channel */
#define CX_ROW     112u
#define CORNER_ROW 96u
_Static_assert (CORNER_ROW >= PLAN_CHUNK + TCONV_BANK_PLAN_MAX_WINDOW + 2 + 7
                  && CX_ROW >= PLAN_CHUNK + TCONV_BANK_PLAN_MAX_WINDOW - 1 + 16,
                "a chunk's corner ranges, in whole vectors, and the values they read fit");
#define TWIN_MAX_WINDOW 8u /* the x86-64-v4 stride-2 layout: windows up to 8 pixels */
/* a whole number of 64-byte lines, so that the vectors of every plane lie in one line each */
#define TWIN_PLANE      (((PLAN_CHUNK + TWIN_MAX_WINDOW + 1) * 2 * PAIR_PHASES + 15) / 16 * 16)
_Static_assert (TWIN_MAX_WINDOW * 4 * TWIN_PLANE <= TCONV_BANK_PLAN_MAX_WINDOW * PLAN_EX_ROW,
                "a ring of x86-64-v4 rows fits in the expanded rows' space");
/* With a sink: the s output rows of one owner row of a chunk, s <= PLAN_MAX_LANES since s C
 * is (64 KB of stack) */
#define PLAN_PIECE (PLAN_MAX_LANES * PLAN_CHUNK * PLAN_MAX_LANES)

struct tconv_bank_plan
{
  size_t       s, C, classes, rw, vec; /* vec: 8 or 16 floats per tap, >= s C */
  int64_t      dlo;
  unsigned     paths;
  /* [class][py][wy][wx][vec]; at s = 2, [class][wy][wx][4 phases], or with twin (the
   * x86-64-v4 path, windows up to TWIN_MAX_WINDOW) [class][wy][wx / 2][wx % 2][4 phases],
   * zero past the window */
  const float *filters;
  int          twin;
  /* Anti-ringing inside the gather (fused, when the 2 x 2 input pixels around every output
   * pixel lie in the window): for row phase py the first of its two input rows is window row
   * limit_row[py]; lane L's first input column is window column limit_col, or limit_col + 1
   * where limit_mask[L] is 0. */
  int          fused;
  size_t       limit_row[PLAN_MAX_LANES], limit_col;
  int32_t      limit_mask[PLAN_MAX_LANES];
  int          limit_split; /* s = 2: column phase 1 reads from limit_col + 1 */
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
  if (C < 1 || C > 4 || g->stride_h * C > PLAN_MAX_LANES)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank plan: %zu channels at stride %zu: the plan holds 1..4 channels "
                       "and at most %u values per block row", C, g->stride_h, PLAN_MAX_LANES);
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
  /* at most 4096 classes x 16 row phases x 17^2 x 16 floats: fits in size_t on 64-bit, checked */
  if (g->stride_h == 2 ? !tconv_mul4_size (bank->classes, *rw, (*rw + 1) / 2 * 2, PAIR_PHASES,
                                           floats)
                       : !tconv_mul4_size (bank->classes, g->stride_h, *rw * *rw,
                                           g->stride_h * C > PLAN_LANES ? PLAN_MAX_LANES
                                                                        : PLAN_LANES, floats))
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

/* The weight of class @c, row phase @py, column phase @px at window pixel (@wy, @wx). */
static float
plan_tap (const tconv_bank *bank, const tconv_bank_plan *p, size_t c, size_t py, size_t px,
          size_t wy, size_t wx)
{
  const tconv_kernel *g = bank->global;
  const int64_t ky = (int64_t) py + (int64_t) g->pad_h - (int64_t) p->s * (p->dlo + (int64_t) wy);
  const int64_t kx = (int64_t) px + (int64_t) g->pad_w - (int64_t) p->s * (p->dlo + (int64_t) wx);

  if (ky < 0 || ky >= (int64_t) g->k_h || kx < 0 || kx >= (int64_t) g->k_w)
    return 0.0f;
  return bank->weights[(c * g->k_h + (size_t) ky) * g->k_w + (size_t) kx];
}

/* The first of the two input rows (columns) around output phase @phi, as an offset from the
 * owner: floor ((2 phi + 2 pad - k + 1) / 2 s), tconv_antiring()'s rule for output s j + phi. */
static int64_t
around (size_t phi, size_t pad, size_t k, size_t s)
{
  return tconv_floor_div (2 * (int64_t) phi + 2 * (int64_t) pad - (int64_t) k + 1,
                          2 * (int64_t) s);
}

/* Whether anti-ringing can run inside the gather, and where it reads (tconv_bank_plan). The
 * column offsets of the s phases span at most two values, as 2 phi spans less than 2 s. */
static void
plan_limits (const tconv_kernel *g, tconv_bank_plan *p)
{
  const int64_t last = (int64_t) p->rw - 2; /* the first of two window rows or columns */
  int64_t       cmin = INT64_MAX, cmax = INT64_MIN;

  p->fused = 1;
  for (size_t py = 0; py < p->s; py++)
    {
      const int64_t r = around (py, g->pad_h, g->k_h, p->s) - p->dlo;
      p->fused &= r >= 0 && r <= last;
      p->limit_row[py] = r >= 0 ? (size_t) r : 0;
    }
  for (size_t px = 0; px < p->s; px++)
    {
      const int64_t c = around (px, g->pad_w, g->k_w, p->s) - p->dlo;
      cmin = c < cmin ? c : cmin;
      cmax = c > cmax ? c : cmax;
    }
  p->fused &= cmin >= 0 && cmax <= last;
  p->limit_col = cmin >= 0 ? (size_t) cmin : 0;
  for (size_t L = 0; L < PLAN_MAX_LANES; L++)
    p->limit_mask[L] = L >= p->s * p->C
                         || around (L / p->C, g->pad_w, g->k_w, p->s) - p->dlo == cmin ? -1 : 0;
  p->limit_split = p->s == 2 && p->limit_mask[p->C] == 0;
}

tconv_status
tconv_bank_plan_init (const tconv_bank *bank, size_t C, void *mem, size_t bytes,
                      tconv_bank_plan **plan, tconv_error *err)
{
  size_t           need, rw, floats;
  int64_t          dlo;
  tconv_bank_plan *p;
  float           *f;
  tconv_status     st;

  if ((st = tconv_bank_plan_size (bank, C, &need, err)))
    return st;
  if (mem == NULL || plan == NULL || bytes < need)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank plan: memory of %zu bytes (needs %zu) or plan is NULL", bytes, need);
  plan_shape (bank, C, &rw, &dlo, &floats, NULL);
  p = mem;
  f = (float *) (void *) (((uintptr_t) (p + 1) + 63) & ~(uintptr_t) 63);
  *p = (tconv_bank_plan) { .s = bank->global->stride_h, .C = C, .classes = bank->classes,
                            .rw = rw, .dlo = dlo, .filters = f,
                            .vec = bank->global->stride_h * C > PLAN_LANES ? PLAN_MAX_LANES
                                                                           : PLAN_LANES };
  memset (f, 0, floats * sizeof (float));
#ifdef TCONV_HAVE_CLONES
  p->paths = tconv_cpu_paths () & (TCONV_CPU_CLONES | TCONV_CPU_V4);
#endif
  plan_limits (bank->global, p);
  p->twin = p->s == 2 && (p->paths & TCONV_CPU_V4) && rw <= TWIN_MAX_WINDOW;
  if (p->twin)
    {
      for (size_t c = 0; c < bank->classes; c++)
        for (size_t wy = 0; wy < rw; wy++)
          for (size_t wx = 0; wx < (rw + 1) / 2 * 2; wx++, f += PAIR_PHASES)
            for (size_t ph = 0; ph < PAIR_PHASES && wx < rw; ph++)
              f[ph] = plan_tap (bank, p, c, ph / 2, ph % 2, wy, wx);
      *plan = p;
      return TCONV_OK;
    }
  if (p->s == 2)
    {
      for (size_t c = 0; c < bank->classes; c++)
        for (size_t wy = 0; wy < rw; wy++)
          for (size_t wx = 0; wx < rw; wx++, f += PAIR_PHASES)
            for (size_t ph = 0; ph < PAIR_PHASES; ph++)
              f[ph] = plan_tap (bank, p, c, ph / 2, ph % 2, wy, wx);
      *plan = p;
      return TCONV_OK;
    }
  for (size_t c = 0; c < bank->classes; c++)
    for (size_t py = 0; py < p->s; py++)
      for (size_t wy = 0; wy < rw; wy++)
        for (size_t wx = 0; wx < rw; wx++, f += p->vec)
          for (size_t px = 0; px < p->s; px++)
            for (size_t ch = 0; ch < C; ch++)
              f[px * C + ch] = plan_tap (bank, p, c, py, px, wy, wx);
  *plan = p;
  return TCONV_OK;
}

typedef struct plan_job
{
  const tconv_bank_plan      *p;
  const tconv_geometry       *geom;
  const tconv_in_view        *in;
  const tconv_bank_class_map *map;
  const tconv_out_view       *out;
  const tconv_bank_sink      *sink;     /* NULL: the values stay in @out */
  float                       antiring; /* > 0: limit inside the gather (p->fused, wide) */
  float                       after;    /* > 0: with @sink, tconv_antiring() on each piece */
} plan_job;

/* Four floats as one value: a pixel of up to four channels. */
typedef float plan_v4 __attribute__ ((vector_size (4 * sizeof (float))));

/* Eight floats as one value (GCC and clang vector extension): whole AVX vectors in the
 * x86-64-v3 clone, SSE pairs in the portable build; comparisons give -1 (true) or 0. */
typedef float   plan_v8 __attribute__ ((vector_size (PLAN_LANES * sizeof (float))));
typedef int32_t plan_m8 __attribute__ ((vector_size (PLAN_LANES * sizeof (int32_t))));
/* Sixteen: the x86-64-v4 layout's vectors (twin_block()). */
typedef float plan_v16 __attribute__ ((vector_size (16 * sizeof (float))));

static inline __attribute__ ((always_inline)) plan_v8
select8 (plan_m8 m, plan_v8 a, plan_v8 b)
{
  return (plan_v8) ((m & (plan_m8) a) | (~m & (plan_m8) b));
}

static inline __attribute__ ((always_inline)) plan_v8
load8 (const float *p)
{
  plan_v8 v;
  memcpy (&v, p, sizeof v);
  return v;
}

/* Keeps a vector in a register: GCC otherwise folds an input used by several multiply-adds
 * into each of them as a memory operand, and those loads, not the multiply-adds, bound the
 * x86-64-v4 loop. Only where the optimiser has removed the code of the layouts other paths
 * do not use: an unoptimised build keeps it, and the constraint asks for an AVX-512 register
 * (clang checks that even in such code, and does not need the hint). */
#if defined(__OPTIMIZE__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#define KEEP_IN_REGISTER(v) __asm__ ("" : "+v"(v))
#else
#define KEEP_IN_REGISTER(v) ((void) 0)
#endif

static inline __attribute__ ((always_inline)) plan_v16
load16 (const float *p)
{
  plan_v16 v;
  memcpy (&v, p, sizeof v);
  return v;
}

/* @n pixels of LR row @iy from column @ix0 into @row: each pixel's C values S times (zero
 * outside the view), then zeros for the lanes a vector reads past the last. Each copy is
 * stored as four floats, the next copy (or the zeros) overwriting what lies past its C; the
 * pixel is assembled in a register, as a load of what was just stored piece by piece would
 * wait for the stores. */
static inline __attribute__ ((always_inline)) void
expand_row (const tconv_in_view *in, int64_t iy, int64_t ix0, size_t n, size_t S, size_t C,
            float *row)
{
  const int row_in = iy >= in->y0 && iy < in->y0 + (int64_t) in->h;

  for (size_t t = 0; t < n; t++)
    {
      const int64_t ix = ix0 + (int64_t) t - in->x0;
      plan_v4       v = { 0.0f, 0.0f, 0.0f, 0.0f };
      if (row_in && ix >= 0 && ix < (int64_t) in->w)
        {
          const float    *px = in->data + (iy - in->y0) * in->y_stride + ix * in->x_stride;
          const ptrdiff_t cs = in->c_stride;
          v = (plan_v4) { px[0], C > 1 ? px[cs] : 0.0f, C > 2 ? px[2 * cs] : 0.0f,
                          C > 3 ? px[3 * cs] : 0.0f };
        }
      for (size_t r = 0; r < S; r++)
        memcpy (row + (t * S + r) * C, &v, sizeof v);
    }
  memset (row + n * S * C, 0, PLAN_MAX_LANES * sizeof (float));
}

/* Output row y (in the region) of owner jx's block: its S C lanes, or those inside. */
static inline __attribute__ ((always_inline)) void
store_block_row (const tconv_out_view *out, size_t y, size_t jx, size_t S, size_t C,
                 const float *lanes)
{
  float *orow = out->data + (ptrdiff_t) (y - out->y0) * out->y_stride;

  if (jx * S >= out->x0 && jx * S + S <= out->x0 + out->w && out->x_stride == (ptrdiff_t) C
      && (out->c_stride == 1 || C == 1))
    {
      memcpy (orow + (ptrdiff_t) (jx * S - out->x0) * (ptrdiff_t) C, lanes,
              S * C * sizeof (float));
      return;
    }
  for (size_t px = 0; px < S; px++)
    {
      const size_t x = jx * S + px;
      if (x < out->x0 || x >= out->x0 + out->w)
        continue;
      for (size_t c = 0; c < C; c++)
        orow[(ptrdiff_t) (x - out->x0) * out->x_stride + (ptrdiff_t) c * out->c_stride]
          = lanes[px * C + c];
    }
}

/* Lanes of output row phase @py (vector @v) limited towards the range of their 2 x 2 input
 * pixels by @A, with tconv_antiring()'s comparisons (the rows' range per column, then the
 * columns'). @rows: the expanded window rows, @at: the owner's first window pixel in them;
 * @SC: floats per expanded pixel. */
static inline __attribute__ ((always_inline)) plan_v8
limit8 (const tconv_bank_plan *p, const float *const *rows, size_t at, size_t py, size_t v,
        size_t SC, plan_v8 x, float A)
{
  const size_t off = at + p->limit_col * SC + v * PLAN_LANES;
  const float *r0 = rows[p->limit_row[py]] + off, *r1 = rows[p->limit_row[py] + 1] + off;
  plan_m8      m;
  plan_v8      lo[2], hi[2], t;

  memcpy (&m, p->limit_mask + v * PLAN_LANES, sizeof m);
  for (size_t col = 0; col < 2; col++)
    {
      const plan_v8 a = select8 (m, load8 (r0 + col * SC), load8 (r0 + (col + 1) * SC));
      const plan_v8 d = select8 (m, load8 (r1 + col * SC), load8 (r1 + (col + 1) * SC));
      lo[col] = select8 (a < d, a, d);
      hi[col] = select8 (a > d, a, d);
    }
  lo[0] = select8 (lo[0] < lo[1], lo[0], lo[1]);
  hi[0] = select8 (hi[0] > hi[1], hi[0], hi[1]);
  t = select8 (x > hi[0], hi[0], select8 (x < lo[0], lo[0], x));
  return x - A * (x - t);
}

/* Owner jx's block (its rows inside the region): per tap one expanded pixel, NV vectors of
 * eight lanes, times the S row phases' weights. @rows: the expanded window rows, @at: the
 * owner's first window pixel in them. On the x86-64-v3 path (@wide) the window columns are
 * summed in K interleaved partial sums (columns wx = k mod K), added in order at the end, so
 * that about six independent chains of multiply-adds hide their latency; the portable
 * build's vectors are register pairs already, and more sums would not fit in its sixteen
 * registers. K is a constant of each (S, NV) and path, so every pixel sums in the same
 * order. */
static inline __attribute__ ((always_inline)) void
owner_block (const tconv_bank_plan *p, const tconv_out_view *out, const float *const *rows,
             size_t at, size_t jy, size_t jx, uint16_t c, float A, int wide, size_t RW, size_t S,
             size_t C, size_t NV)
{
  const size_t VEC = NV * PLAN_LANES;
  const size_t K = !wide || S * NV >= 6 ? 1 : S * NV >= 3 ? 2 : 3;
  const float *f = p->filters + (size_t) c * S * RW * RW * VEC;
  plan_v8      acc[PLAN_MAX_LANES][PLAN_MAX_LANES / PLAN_LANES][3];
  float        lanes[PLAN_MAX_LANES];

  for (size_t py = 0; py < S; py++)
    for (size_t v = 0; v < NV; v++)
      for (size_t k = 0; k < K; k++)
        acc[py][v][k] = (plan_v8) { 0 };
  for (size_t wy = 0; wy < RW; wy++)
#pragma GCC unroll 7
    for (size_t wx = 0; wx < RW; wx++)
      for (size_t v = 0; v < NV; v++)
        {
          const plan_v8 x = load8 (rows[wy] + at + wx * S * C + v * PLAN_LANES);
          for (size_t py = 0; py < S; py++)
            acc[py][v][wx % K] += x * load8 (f + ((py * RW + wy) * RW + wx) * VEC
                                             + v * PLAN_LANES);
        }
  for (size_t py = 0; py < S; py++)
    {
      const size_t y = jy * S + py;
      if (y < out->y0 || y >= out->y0 + out->h)
        continue;
      for (size_t v = 0; v < NV; v++)
        {
          plan_v8 sum = acc[py][v][0];
          for (size_t k = 1; k < K; k++)
            sum += acc[py][v][k];
          if (wide && A > 0.0f)
            sum = limit8 (p, rows, at, py, v, S * C, sum, A);
          memcpy (lanes + v * PLAN_LANES, &sum, sizeof sum);
        }
      store_block_row (out, y, jx, S, C, lanes);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Stride 2: two owners per vector. A vector holds one channel of the four phases of owner jx
 * (lanes 0-3, lane 2 py + px) and of owner jx + 1 (lanes 4-7). A window pixel's weights are
 * the two owners' classes' four taps side by side, loaded once for all C channels; each
 * channel's window rows hold every pixel four times, so one load gives both owners' value.
 * Every lane is used and no sum crosses lanes.
 */

/* Positions t and t + 1 of channel @c of fetch_row()'s layouts, pixels t .. t + 2 being
 * @v0, @v1, @v2. */
static inline __attribute__ ((always_inline)) void
fetch_put (float v0, float v1, float v2, size_t t, size_t c, int twin, float *cx, float *row)
{
  if (twin)
    {
      const plan_v16 x = { v0, v1, v2 };
      const plan_v16 y = __builtin_shufflevector (x, x, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                                  2, 2);
      memcpy (row + c * TWIN_PLANE + 2 * PAIR_PHASES * t, &y, sizeof y);
    }
  else
    {
      const plan_v8 x = { v0, v1 };
      const plan_v8 y = __builtin_shufflevector (x, x, 0, 0, 0, 0, 1, 1, 1, 1);
      memcpy (row + c * PAIR_EX_PLANE + PAIR_PHASES * t, &y, sizeof y);
    }
  cx[c * CX_ROW + t] = v0;
  cx[c * CX_ROW + t + 1] = v1;
}

/* Channel @c of the pixels at @x, @C interleaved floats each: the first's value four times,
 * the second's eight, the third's four (twin layout), or the first's and the second's four
 * times each (pair layout). A constant shuffle once inlined with constant C and c. */
#define TWIN_IDX(p, q, r) p, p, p, p, q, q, q, q, q, q, q, q, r, r, r, r
#define PAIR_IDX(p, q)    p, p, p, p, q, q, q, q
static inline __attribute__ ((always_inline)) plan_v16
twin_of (plan_v16 x, size_t C, size_t c)
{
  switch (C * 4 + c)
    {
    case 4: return __builtin_shufflevector (x, x, TWIN_IDX (0, 1, 2));
    case 8: return __builtin_shufflevector (x, x, TWIN_IDX (0, 2, 4));
    case 9: return __builtin_shufflevector (x, x, TWIN_IDX (1, 3, 5));
    case 12: return __builtin_shufflevector (x, x, TWIN_IDX (0, 3, 6));
    case 13: return __builtin_shufflevector (x, x, TWIN_IDX (1, 4, 7));
    case 14: return __builtin_shufflevector (x, x, TWIN_IDX (2, 5, 8));
    case 16: return __builtin_shufflevector (x, x, TWIN_IDX (0, 4, 8));
    case 17: return __builtin_shufflevector (x, x, TWIN_IDX (1, 5, 9));
    case 18: return __builtin_shufflevector (x, x, TWIN_IDX (2, 6, 10));
    default: return __builtin_shufflevector (x, x, TWIN_IDX (3, 7, 11));
    }
}

static inline __attribute__ ((always_inline)) plan_v8
pair_of (plan_v8 x, size_t C, size_t c)
{
  switch (C * 4 + c)
    {
    case 4: return __builtin_shufflevector (x, x, PAIR_IDX (0, 1));
    case 8: return __builtin_shufflevector (x, x, PAIR_IDX (0, 2));
    case 9: return __builtin_shufflevector (x, x, PAIR_IDX (1, 3));
    case 12: return __builtin_shufflevector (x, x, PAIR_IDX (0, 3));
    case 13: return __builtin_shufflevector (x, x, PAIR_IDX (1, 4));
    case 14: return __builtin_shufflevector (x, x, PAIR_IDX (2, 5));
    case 16: return __builtin_shufflevector (x, x, PAIR_IDX (0, 4));
    case 17: return __builtin_shufflevector (x, x, PAIR_IDX (1, 5));
    case 18: return __builtin_shufflevector (x, x, PAIR_IDX (2, 6));
    default: return __builtin_shufflevector (x, x, PAIR_IDX (3, 7));
    }
}
#undef TWIN_IDX
#undef PAIR_IDX

/* @n pixels of LR row @iy from column @ix0, zero outside the view and from pixel n on, into
 * the compact row @cx (one plane of CX_ROW floats per channel, zero at least 16 pixels on)
 * and the stride-2 layout @row: the twin layout (@twin; per channel a plane of TWIN_PLANE
 * floats, at 8 t pixel t's value four times, then pixel t + 1's, for t <= n + 1) or the pair
 * layout (PAIR_EX_PLANE floats, pixel t's value four times at 4 t, for t <= n). Each vector
 * of the layout is made in registers and stored whole, as the gather loads it: a load of
 * what was just stored piece by piece would wait for the stores. Positions two at a time,
 * checked against the view only where a pixel may lie outside it; from interleaved pixels
 * (the pipeline's) by one vector load for all channels where it reads only pixels inside. */
static inline __attribute__ ((always_inline)) void
fetch_row (const tconv_in_view *in, int64_t iy, int64_t ix0, size_t n, size_t C, int twin,
           float *cx, float *row)
{
  const ptrdiff_t xs = in->x_stride, cs = in->c_stride;
  const size_t    last = twin ? n + 1 : n; /* the layout's last position */
  const float    *src = in->data;          /* pixel a, when a < b */
  const plan_v8   zero = { 0 };
  size_t          a = 0, b = 0;            /* the pixels inside the view: a .. b - 1 */
  float           v0[4];
  size_t          t = 0;

  if (iy >= in->y0 && iy < in->y0 + (int64_t) in->h)
    {
      const int64_t lo = in->x0 - ix0, hi = in->x0 + (int64_t) in->w - ix0;
      a = lo <= 0 ? 0 : lo < (int64_t) n ? (size_t) lo : n;
      b = hi <= (int64_t) a ? a : hi < (int64_t) n ? (size_t) hi : n;
      if (a < b)
        src = in->data + (iy - in->y0) * in->y_stride + ((int64_t) a + ix0 - in->x0) * xs;
    }
#define PIXEL(t, c)                                                                         \
  ((t) - a < b - a ? src[(ptrdiff_t) ((t) - a) * xs + (ptrdiff_t) (c) * cs] : 0.0f)
  for (size_t c = 0; c < C; c++)
    v0[c] = PIXEL (t, c);
  for (; t + 1 <= last && t < a; t += 2)
    for (size_t c = 0; c < C; c++)
      {
        const float v1 = PIXEL (t + 1, c), v2 = PIXEL (t + 2, c);
        fetch_put (v0[c], v1, v2, t, c, twin, cx, row);
        v0[c] = v2;
      }
  if (xs == (ptrdiff_t) C && cs == 1)
    {
      const size_t span = twin ? 16 : PLAN_LANES; /* floats a load reads */
      for (; t + 1 <= last && (t - a) * C + span <= (b - a) * C; t += 2)
        for (size_t c = 0; c < C; c++)
          if (twin)
            {
              const plan_v16 x = load16 (src + (t - a) * C), y = twin_of (x, C, c);
              memcpy (row + c * TWIN_PLANE + 2 * PAIR_PHASES * t, &y, sizeof y);
              cx[c * CX_ROW + t] = x[c];
              cx[c * CX_ROW + t + 1] = x[C + c];
            }
          else
            {
              const plan_v8 x = load8 (src + (t - a) * C), y = pair_of (x, C, c);
              memcpy (row + c * PAIR_EX_PLANE + PAIR_PHASES * t, &y, sizeof y);
              cx[c * CX_ROW + t] = x[c];
              cx[c * CX_ROW + t + 1] = x[C + c];
            }
      for (size_t c = 0; c < C; c++)
        v0[c] = PIXEL (t, c);
    }
  for (; t + 1 <= last && t + 2 < b; t += 2)
    {
      const float *px = src + (ptrdiff_t) (t + 1 - a) * xs;
      for (size_t c = 0; c < C; c++)
        {
          const float v1 = px[(ptrdiff_t) c * cs], v2 = px[xs + (ptrdiff_t) c * cs];
          fetch_put (v0[c], v1, v2, t, c, twin, cx, row);
          v0[c] = v2;
        }
    }
  for (; t + 1 <= last; t += 2)
    for (size_t c = 0; c < C; c++)
      {
        const float v1 = PIXEL (t + 1, c), v2 = PIXEL (t + 2, c);
        fetch_put (v0[c], v1, v2, t, c, twin, cx, row);
        v0[c] = v2;
      }
  for (size_t c = 0; c < C && t <= last; c++)
    if (twin)
      {
        const plan_v8 x = { v0[c], PIXEL (t + 1, c) };
        const plan_v8 y = __builtin_shufflevector (x, x, 0, 0, 0, 0, 1, 1, 1, 1);
        memcpy (row + c * TWIN_PLANE + 2 * PAIR_PHASES * t, &y, sizeof y);
      }
    else
      {
        const plan_v4 y = { v0[c], v0[c], v0[c], v0[c] };
        memcpy (row + c * PAIR_EX_PLANE + PAIR_PHASES * t, &y, sizeof y);
      }
#undef PIXEL
  for (size_t c = 0; c < C; c++)
    {
      memcpy (cx + c * CX_ROW + n, &zero, sizeof zero);
      memcpy (cx + c * CX_ROW + n + PLAN_LANES, &zero, sizeof zero);
    }
}

/* Four floats at @a, then four at @b: one shuffle on the x86-64-v3 path (@wide); in the
 * portable build, where a vector is a register pair, the pair itself (GCC would take the
 * shuffle through memory). */
static inline __attribute__ ((always_inline)) plan_v8
pair8 (const float *a, const float *b, int wide)
{
  union
  {
    plan_v8 v;
    plan_v4 h[2];
  } u;

  memcpy (&u.h[0], a, sizeof u.h[0]);
  memcpy (&u.h[1], b, sizeof u.h[1]);
  if (wide)
    return __builtin_shufflevector (u.h[0], u.h[1], 0, 1, 2, 3, 4, 5, 6, 7);
  return u.v;
}

/* Ranges of one LR row pair's 2 x 2 corners (tconv_antiring()'s comparisons: the rows' range
 * per column, then the columns'): @lo[x] and @hi[x] of the pixels at columns x and x + 1 of
 * the compact rows @top and @bottom, for x < @n rounded up to whole vectors. */
static inline __attribute__ ((always_inline)) void
corner_row (const float *top, const float *bottom, size_t n, float *lo, float *hi)
{
  for (size_t x = 0; x < n; x += PLAN_LANES)
    {
      plan_v8 l[2], h[2];
      for (size_t k = 0; k < 2; k++)
        {
          const plan_v8 a = load8 (top + x + k), d = load8 (bottom + x + k);
          l[k] = select8 (a < d, a, d);
          h[k] = select8 (a > d, a, d);
        }
      l[0] = select8 (l[0] < l[1], l[0], l[1]);
      h[0] = select8 (h[0] > h[1], h[0], h[1]);
      memcpy (lo + x, &l[0], sizeof l[0]);
      memcpy (hi + x, &h[0], sizeof h[0]);
    }
}

/* Where an owner row's anti-ringing reads: per row phase py and channel, the corner ranges
 * of its LR row pair from the first corner of owner 0 of the chunk (plan_rows_body()). */
typedef struct pair_corners
{
  const float *lo[2][4], *hi[2][4];
} pair_corners;

/* @x, channel @c of owners @t and t + 1 of the chunk, limited towards the range of each
 * lane's 2 x 2 input pixels by @A. Lane 2 py + px of owner t reads the corner t + px of row
 * phase py's ranges where the two column phases have neighbouring corners (@split), else
 * corner t. */
static inline __attribute__ ((always_inline)) plan_v8
pair_limit (const pair_corners *corners, size_t c, size_t t, plan_v8 x, float A, int split)
{
  plan_v4 a, d, e, f;
  plan_v8 lo, hi, r;

  memcpy (&a, corners->lo[0][c] + t, sizeof a);
  memcpy (&d, corners->lo[1][c] + t, sizeof d);
  memcpy (&e, corners->hi[0][c] + t, sizeof e);
  memcpy (&f, corners->hi[1][c] + t, sizeof f);
  if (split)
    {
      lo = __builtin_shufflevector (a, d, 0, 1, 4, 5, 1, 2, 5, 6);
      hi = __builtin_shufflevector (e, f, 0, 1, 4, 5, 1, 2, 5, 6);
    }
  else
    {
      lo = __builtin_shufflevector (a, d, 0, 0, 4, 4, 1, 1, 5, 5);
      hi = __builtin_shufflevector (e, f, 0, 0, 4, 4, 1, 1, 5, 5);
    }
  r = select8 (x > hi, hi, select8 (x < lo, lo, x));
  return x - A * (x - r);
}

/* Three channels of owners jx and jx + 1 stored as the two output rows they make, twelve
 * interleaved floats each, when those rows lie whole in an interleaved region; else 0. */
static inline __attribute__ ((always_inline)) int
pair_store3 (const tconv_out_view *out, size_t jy, size_t jx, const plan_v8 *v)
{
  float  *o;
  plan_v8 r, g, b, rg, t[3];

  if (jx * 2 < out->x0 || jx * 2 + 4 > out->x0 + out->w || jy * 2 < out->y0
      || jy * 2 + 2 > out->y0 + out->h || out->x_stride != 3 || out->c_stride != 1)
    return 0;
  /* row 0 (lanes 0, 1, 4, 5) to the low half, row 1 to the high half */
  r = __builtin_shufflevector (v[0], v[0], 0, 1, 4, 5, 2, 3, 6, 7);
  g = __builtin_shufflevector (v[1], v[1], 0, 1, 4, 5, 2, 3, 6, 7);
  b = __builtin_shufflevector (v[2], v[2], 0, 1, 4, 5, 2, 3, 6, 7);
  /* per half: r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3 */
  rg = __builtin_shufflevector (r, g, 0, 8, 0, 1, 4, 12, 4, 5);
  t[0] = __builtin_shufflevector (rg, b, 0, 1, 8, 3, 4, 5, 12, 7);
  rg = __builtin_shufflevector (r, g, 9, 1, 2, 10, 13, 5, 6, 14);
  t[1] = __builtin_shufflevector (rg, b, 0, 9, 2, 3, 4, 13, 6, 7);
  rg = __builtin_shufflevector (r, g, 2, 3, 11, 3, 6, 7, 15, 7);
  t[2] = __builtin_shufflevector (rg, b, 10, 1, 2, 11, 14, 5, 6, 15);
  o = out->data + (ptrdiff_t) (jy * 2 - out->y0) * out->y_stride
      + (ptrdiff_t) (jx * 2 - out->x0) * 3;
  for (size_t k = 0; k < 3; k++)
    {
      const plan_v4 lo = __builtin_shufflevector (t[k], t[k], 0, 1, 2, 3);
      const plan_v4 hi = __builtin_shufflevector (t[k], t[k], 4, 5, 6, 7);
      memcpy (o + 4 * k, &lo, sizeof lo);
      memcpy (o + out->y_stride + 4 * k, &hi, sizeof hi);
    }
  return 1;
}

/* The sums @v (one per channel) of owners j and j + 1 (@m of them, 1 or 2; owner @t of the
 * chunk and the next): limited (@corners, pair_limit()) and stored. */
static inline __attribute__ ((always_inline)) void
pair_finish (const tconv_bank_plan *p, const tconv_out_view *out, const pair_corners *corners,
             size_t t, size_t jy, size_t j, plan_v8 *v, size_t m, float A, int wide, size_t C)
{
  float lanes[2 * 4];

  if (wide && A > 0.0f)
    for (size_t c = 0; c < C; c++)
      v[c] = pair_limit (corners, c, t, v[c], A, p->limit_split);
  if (C == 3 && m == 2 && pair_store3 (out, jy, j, v))
    return;
  for (size_t h = 0; h < m; h++)
    for (size_t py = 0; py < 2; py++)
      {
        const size_t y = jy * 2 + py;
        if (y < out->y0 || y >= out->y0 + out->h)
          continue;
        for (size_t px = 0; px < 2; px++)
          for (size_t c = 0; c < C; c++)
            lanes[px * C + c] = v[c][4 * h + 2 * py + px];
        store_block_row (out, y, j + h, 2, C, lanes);
      }
}

/* Owners jx .. jx + @m - 1 (m <= 2 NP; classes @cls) as NP pairs: their blocks' rows inside
 * the region. @rows: the window rows (channel planes PAIR_EX_PLANE apart); owner jx is owner
 * @i of the chunk, its first window pixel at PAIR_PHASES i in them; @corners: anti-ringing's
 * corners. Each window pixel's load serves every pair (pair q's window starts 2 q pixels
 * on). Window columns are summed in K interleaved partial sums (wx mod K),
 * added in order at the end, for enough independent chains on the x86-64-v3 path (@wide);
 * K depends only on C and the path, not on NP, so every pixel sums in the same order
 * wherever it lies. */
static inline __attribute__ ((always_inline)) void
pair_block (const tconv_bank_plan *p, const tconv_out_view *out, const float *const *rows,
            const pair_corners *corners, size_t i, size_t jy, size_t jx, const uint16_t *cls,
            size_t m, float A, int wide, size_t RW, size_t C, size_t NP)
{
  const size_t K = !wide ? 1 : C == 1 ? 4 : C == 2 ? 2 : 1, at = i * PAIR_PHASES;
  const float *f[3][2];
  plan_v8      acc[3][4][4], v[4];

  for (size_t q = 0; q < 2 * NP; q++)
    f[q / 2][q % 2] = p->filters + (size_t) cls[q < m ? q : 0] * RW * RW * PAIR_PHASES;
  for (size_t pp = 0; pp < NP; pp++)
    for (size_t c = 0; c < C; c++)
      for (size_t k = 0; k < K; k++)
        acc[pp][c][k] = (plan_v8) { 0 };
  for (size_t wy = 0; wy < RW; wy++)
    {
      const float *x[4];
      for (size_t c = 0; c < C; c++)
        x[c] = rows[wy] + c * PAIR_EX_PLANE + at;
#pragma GCC unroll 11
      for (size_t t = 0; t < RW + 2 * (NP - 1); t++)
        {
          plan_v8 in[4];
          for (size_t c = 0; c < C; c++)
            in[c] = load8 (x[c] + t * PAIR_PHASES);
          for (size_t pp = 0; pp < NP; pp++)
            {
              const size_t wx = t - 2 * pp, tap = (wy * RW + wx) * PAIR_PHASES;
              plan_v8      w;
              if (t < 2 * pp || wx >= RW)
                continue;
              w = pair8 (f[pp][0] + tap, f[pp][1] + tap, wide);
              for (size_t c = 0; c < C; c++)
                acc[pp][c][wx % K] += w * in[c];
            }
        }
    }
  for (size_t pp = 0; pp < NP && 2 * pp < m; pp++)
    {
      for (size_t c = 0; c < C; c++)
        {
          v[c] = acc[pp][c][0];
          for (size_t k = 1; k < K; k++)
            v[c] += acc[pp][c][k];
        }
      pair_finish (p, out, corners, i + 2 * pp, jy, jx + 2 * pp, v,
                   m - 2 * pp < 2 ? m - 2 * pp : 2, A, wide, C);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Stride 2 on x86-64-v4 ("twin" layout): sixteen lanes, two owners (jx: lanes 0-7, jx + 1:
 * lanes 8-15) times two neighbouring window columns (2 k, 2 k + 1: four lanes each) times the
 * four phases. A window pixel pair's weights are two eight-float loads, one per owner's class;
 * the rows hold each pixel's value four times and its right neighbour's four times, so one
 * load gives both owners' two columns. Per window row each lane sums columns 2 k (or 2 k + 1)
 * in the order of k; an owner's phase adds its two column-parity lanes at the end, after all
 * rows, which leaves it in pair layout for pair_finish(). Half the multiply-adds of the pair
 * layout's, as AVX-512 multiply-adds are twice as wide.
 */

/* Eight floats at @a, then eight at @b. */
static inline __attribute__ ((always_inline)) plan_v16
twin16 (const float *a, const float *b)
{
  plan_v8 lo, hi;

  memcpy (&lo, a, sizeof lo);
  memcpy (&hi, b, sizeof hi);
  return __builtin_shufflevector (lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/* Owners jx .. jx + @m - 1 (m <= 2 NP; classes @cls) as NP pairs: their blocks' rows inside
 * the region. @rows: the window rows in twin layout, @at: owner jx's first window pixel in
 * them, owner @at of the chunk; @corners: anti-ringing's corners. Each window pixel pair's
 * load serves every pair of owners (pair q's window starts 2 q pixels on). */
static inline __attribute__ ((always_inline)) void
twin_block (const tconv_bank_plan *p, const tconv_out_view *out, const float *const *rows,
            const pair_corners *corners, size_t at, size_t jy, size_t jx, const uint16_t *cls,
            size_t m, float A, size_t RW, size_t C, size_t NP)
{
  const size_t WP = (RW + 1) / 2, TAPS = 2 * PAIR_PHASES; /* column pairs; floats of one */
  const float *f[8][2];
  plan_v16     acc[8][4];
  plan_v8      v[4];

  for (size_t q = 0; q < 2 * NP; q++)
    f[q / 2][q % 2] = p->filters + (size_t) cls[q < m ? q : 0] * RW * WP * TAPS;
  for (size_t pp = 0; pp < NP; pp++)
    for (size_t c = 0; c < C; c++)
      acc[pp][c] = (plan_v16) { 0 };
  for (size_t wy = 0; wy < RW; wy++)
    {
      const float *x[4];
      for (size_t c = 0; c < C; c++)
        x[c] = rows[wy] + c * TWIN_PLANE + at * TAPS;
#pragma GCC unroll 11
      for (size_t t = 0; t < WP + NP - 1; t++)
        {
          plan_v16 in[4];
          for (size_t c = 0; c < C; c++)
            {
              in[c] = load16 (x[c] + 2 * t * TAPS);
              KEEP_IN_REGISTER (in[c]);
            }
          for (size_t pp = 0; pp < NP; pp++)
            {
              const size_t k = t - pp, tap = (wy * WP + k) * TAPS;
              plan_v16     w;
              if (t < pp || k >= WP)
                continue;
              w = twin16 (f[pp][0] + tap, f[pp][1] + tap);
              for (size_t c = 0; c < C; c++)
                acc[pp][c] += w * in[c];
            }
        }
    }
  for (size_t pp = 0; pp < NP && 2 * pp < m; pp++)
    {
      for (size_t c = 0; c < C; c++)
        {
          const plan_v16 a = acc[pp][c];
          v[c] = __builtin_shufflevector (a, a, 0, 1, 2, 3, 8, 9, 10, 11)
                 + __builtin_shufflevector (a, a, 4, 5, 6, 7, 12, 13, 14, 15);
        }
      pair_finish (p, out, corners, at + 2 * pp, jy, jx + 2 * pp, v,
                   m - 2 * pp < 2 ? m - 2 * pp : 2, A, 1, C);
    }
}

/* Owners jx0 .. jx0 + @n - 1 of owner row jy in twin layout: NP pairs at a time, enough
 * independent sums to hide the multiply-add latency within 32 registers, then single
 * pairs. */
static inline __attribute__ ((always_inline)) void
twin_chunk (const plan_job *j, const float *const *rows, const pair_corners *corners,
            size_t jy, size_t jx0, const uint16_t *cls, size_t n, size_t RW, size_t C)
{
  const size_t NP = C == 1 ? 8 : C == 2 ? 4 : C == 3 ? 4 : 2;
  size_t       i = 0;

  for (; i + 2 * NP <= n; i += 2 * NP)
    twin_block (j->p, j->out, rows, corners, i, jy, jx0 + i, cls + i, 2 * NP, j->antiring, RW,
                C, NP);
  for (; i < n; i += 2)
    twin_block (j->p, j->out, rows, corners, i, jy, jx0 + i, cls + i, n - i < 2 ? n - i : 2,
                j->antiring, RW, C, 1);
}

/* Owners jx0 .. jx0 + @n - 1 of owner row jy at stride 2: NP pairs at a time, as many as keep
 * their sums and a window pixel's loads in sixteen registers (one in the portable build,
 * whose vectors are register pairs), then single pairs. */
static inline __attribute__ ((always_inline)) void
pair_chunk (const plan_job *j, const float *const *rows, const pair_corners *corners,
            size_t jy, size_t jx0, const uint16_t *cls, size_t n, int wide, size_t RW, size_t C)
{
  const size_t NP = !wide ? 1 : C == 4 ? 2 : 3;
  size_t       i = 0;

  for (; i + 2 * NP <= n; i += 2 * NP)
    pair_block (j->p, j->out, rows, corners, i, jy, jx0 + i, cls + i, 2 * NP, j->antiring, wide,
                RW, C, NP);
  for (; i < n; i += 2)
    pair_block (j->p, j->out, rows, corners, i, jy, jx0 + i, cls + i, n - i < 2 ? n - i : 2,
                j->antiring, wide, RW, C, 1);
}

/* The part of @out in owner row jy's output rows and the columns of owners jx0 .. jx0 + @n - 1,
 * as a view on @piece (rows S n C floats apart). */
static inline __attribute__ ((always_inline)) tconv_out_view
piece_view (const tconv_out_view *out, size_t jy, size_t jx0, size_t n, size_t S, size_t C,
            float *piece)
{
  const size_t y0 = jy * S > out->y0 ? jy * S : out->y0;
  const size_t x0 = jx0 * S > out->x0 ? jx0 * S : out->x0;
  const size_t y1 = jy * S + S < out->y0 + out->h ? jy * S + S : out->y0 + out->h;
  const size_t x1 = (jx0 + n) * S < out->x0 + out->w ? (jx0 + n) * S : out->x0 + out->w;

  return (tconv_out_view) { piece, y0, x0, y1 - y0, x1 - x0, 1, (ptrdiff_t) (S * n * C),
                            (ptrdiff_t) C };
}

/* A finished piece: limited if the gather did not, then handed to the sink row by row. */
static void
hand_over (const plan_job *j, const tconv_out_view *piece)
{
  if (j->after > 0.0f)
    {
      const tconv_status st = tconv_antiring (j->geom, j->in, piece, j->after, NULL);
      (void) st; /* the piece lies inside the checked region */
    }
  for (size_t r = 0; r < piece->h; r++)
    j->sink->rows (j->sink->user, piece->y0 + r, piece->x0, piece->w,
                   piece->data + (ptrdiff_t) r * piece->y_stride);
}

/* Anti-ringing's corners for owner row @jy of a chunk of @n owners (@corners): each row
 * phase's LR row pair's corner ranges, from the compact window rows @cx (plan_rows_body());
 * a ring of two rows of ranges, LR row pair Y in slot Y mod 2 (@corner_y: the pair each slot
 * holds), so that each is computed once as the owner rows move down. */
static inline __attribute__ ((always_inline)) void
row_corners (const tconv_bank_plan *p, const float *cx, size_t jy, size_t jy0, size_t n,
             size_t RW, size_t C, float (*corner)[2][4][CORNER_ROW], int64_t *corner_y,
             pair_corners *corners)
{
  for (size_t py = 0; py < 2; py++)
    {
      const size_t  wy = p->limit_row[py];
      const int64_t Y = (int64_t) jy + p->dlo + (int64_t) wy;
      const size_t  slot = (size_t) (Y & 1);
      if (corner_y[slot] != Y)
        {
          const float *top = cx + (jy - jy0 + wy) % RW * 4 * CX_ROW;
          const float *bottom = cx + (jy - jy0 + wy + 1) % RW * 4 * CX_ROW;
          for (size_t c = 0; c < C; c++)
            corner_row (top + c * CX_ROW, bottom + c * CX_ROW, n + p->limit_col + 4,
                        corner[slot][0][c], corner[slot][1][c]);
          corner_y[slot] = Y;
        }
      for (size_t c = 0; c < C; c++)
        {
          corners->lo[py][c] = corner[slot][0][c] + p->limit_col;
          corners->hi[py][c] = corner[slot][1][c] + p->limit_col;
        }
    }
}

/* In column chunks of PLAN_CHUNK owners, down the owner rows: each LR row is read once per
 * chunk into a ring of RW rows (LR row iy in slot iy mod RW), at stride 2 as compact rows
 * (for anti-ringing's corners) made into channel planes of pixels repeated four times for
 * pair_chunk() or twin_chunk(), else as pixels repeated S times for owner_block(). With a
 * sink each owner row's output goes to a piece of stack, handed over while it is in the
 * cache. */
static inline __attribute__ ((always_inline)) void
plan_rows_body (const plan_job *j, int wide, size_t RW, size_t S, size_t C)
{
  const tconv_out_view *out = j->out;
  const size_t          y1 = out->y0 + out->h, x1 = out->x0 + out->w, jy0 = out->y0 / S;
  const size_t          NV = S * C > PLAN_LANES ? 2 : 1;
  const int64_t         dlo = j->p->dlo;
  const int             twin = S == 2 && wide == 2, limit = S == 2 && j->antiring > 0.0f;
  const size_t          slot = twin ? 4 * TWIN_PLANE : PLAN_EX_ROW;
  _Alignas (64) float    ex[TCONV_BANK_PLAN_MAX_WINDOW * PLAN_EX_ROW];
  float                 cx[TCONV_BANK_PLAN_MAX_WINDOW * 4 * CX_ROW];
  float                 corner[2][2][4][CORNER_ROW]; /* [slot][lo, hi][channel] */
  float                 piece[PLAN_PIECE];
  const float          *rows[TCONV_BANK_PLAN_MAX_WINDOW];
  int64_t               corner_y[2];
  pair_corners          corners;
  tconv_out_view        pv;
  plan_job              pj = *j;

  for (size_t jx0 = out->x0 / S; jx0 * S < x1; jx0 += PLAN_CHUNK)
    {
      const size_t n = (x1 + S - 1) / S - jx0 < PLAN_CHUNK ? (x1 + S - 1) / S - jx0 : PLAN_CHUNK;
      corner_y[0] = corner_y[1] = INT64_MIN;
      for (size_t jy = jy0; jy * S < y1; jy++)
        {
          const uint16_t *cls = j->map->data + ((int64_t) jy - j->map->y0) * j->map->stride
                                + ((int64_t) jx0 - j->map->x0);
          for (size_t wy = jy == jy0 ? 0 : RW - 1; wy < RW; wy++)
            {
              const int64_t iy = (int64_t) jy + dlo + (int64_t) wy;
              const size_t  r = (size_t) (iy - (int64_t) jy0 - dlo) % RW;
              if (S == 2)
                fetch_row (j->in, iy, (int64_t) jx0 + dlo, n + RW - 1, C, twin,
                           cx + r * 4 * CX_ROW, ex + r * slot);
              else
                expand_row (j->in, iy, (int64_t) jx0 + dlo, n + RW - 1, S, C, ex + r * slot);
            }
          for (size_t wy = 0; wy < RW; wy++)
            rows[wy] = ex + (jy - jy0 + wy) % RW * slot;
          if (limit)
            row_corners (j->p, cx, jy, jy0, n, RW, C, corner, corner_y, &corners);
          if (j->sink != NULL)
            {
              pv = piece_view (out, jy, jx0, n, S, C, piece);
              pj.out = &pv;
            }
          if (twin)
            twin_chunk (&pj, rows, &corners, jy, jx0, cls, n, RW, C);
          else if (S == 2)
            pair_chunk (&pj, rows, &corners, jy, jx0, cls, n, wide, RW, C);
          else
            for (size_t i = 0; i < n; i++)
              owner_block (j->p, pj.out, rows, i * S * C, jy, jx0 + i, cls[i], j->antiring, wide,
                           RW, S, C, NV);
          if (j->sink != NULL)
            hand_over (j, &pv);
        }
    }
}

/* The shipped banks' 7x7 window at x2, x3 and x4 with 1..4 channels unrolled; anything else
 * generic. */
#define PLAN_CASE(j, wide, rw_, s_, c_)                                                    \
  if ((j)->p->rw == rw_ && (j)->p->s == s_ && (j)->p->C == c_)                             \
    plan_rows_body ((j), wide, rw_, s_, c_);                                               \
  else

#define PLAN_DISPATCH(j, w)                                                                \
  PLAN_CASE (j, w, 7, 2, 1) PLAN_CASE (j, w, 7, 2, 2)                                      \
  PLAN_CASE (j, w, 7, 2, 3) PLAN_CASE (j, w, 7, 2, 4) PLAN_CASE (j, w, 7, 3, 1)            \
  PLAN_CASE (j, w, 7, 3, 2) PLAN_CASE (j, w, 7, 3, 3) PLAN_CASE (j, w, 7, 3, 4)            \
  PLAN_CASE (j, w, 7, 4, 1) PLAN_CASE (j, w, 7, 4, 2) PLAN_CASE (j, w, 7, 4, 3)            \
  PLAN_CASE (j, w, 7, 4, 4)                                                                \
  plan_rows_body ((j), w, (j)->p->rw, (j)->p->s, (j)->p->C)

static void
plan_rows_portable (const plan_job *j)
{
  PLAN_DISPATCH (j, 0);
}

#ifdef TCONV_HAVE_CLONES
TCONV_TARGET_V3 static void
plan_rows_v3 (const plan_job *j)
{
  PLAN_DISPATCH (j, 1);
}

/* Stride 2 in twin layout (plan->twin): the shipped 7x7 window unrolled. */
#define TWIN_CASE(j, c_)                                                                    \
  if ((j)->p->rw == 7 && (j)->p->C == c_)                                                   \
    plan_rows_body ((j), 2, 7, 2, c_);                                                      \
  else

TCONV_TARGET_V4 static void
plan_rows_v4 (const plan_job *j)
{
  TWIN_CASE (j, 1) TWIN_CASE (j, 2) TWIN_CASE (j, 3) TWIN_CASE (j, 4)
  plan_rows_body (j, 2, j->p->rw, 2, j->p->C);
}
#endif

/* The plan's loop for @out, or for @sink with @out the region (its data unused). */
static tconv_status
plan_upsample (const tconv_bank *bank, const tconv_bank_plan *plan, const tconv_geometry *geom,
               const tconv_in_view *in, const tconv_bank_class_map *map,
               const tconv_out_view *out, const tconv_bank_sink *sink, float antiring,
               tconv_error *err)
{
  /* anti-ringing inside the gather on the x86-64-v3 path only: in the portable build the
   * vector comparisons cost more than tconv_antiring()'s separate pass */
  int      fuse = 0;
  plan_job j = { plan, geom, in, map, out, sink, 0.0f, 0.0f };

  if (plan->s != geom->stride_h || plan->C != geom->in_c || plan->classes != bank->classes)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank upsample: the plan is for stride %zu, %zu channels, %zu classes",
                       plan->s, plan->C, plan->classes);
#ifdef TCONV_HAVE_CLONES
  if (plan->paths & TCONV_CPU_CLONES)
    fuse = plan->fused;
#endif
  j.antiring = fuse ? antiring : 0.0f;
  j.after = sink != NULL && !fuse ? antiring : 0.0f;
#ifdef TCONV_HAVE_CLONES
  if (plan->paths & TCONV_CPU_CLONES)
    {
      if (plan->twin)
        plan_rows_v4 (&j);
      else
        plan_rows_v3 (&j);
    }
  else
#endif
    plan_rows_portable (&j);
  if (fuse || sink != NULL || antiring == 0.0f)
    return TCONV_OK;
  return tconv_antiring (geom, in, out, antiring, err);
}

tconv_status
tconv_bank_upsample (const tconv_bank *bank, const tconv_bank_plan *plan,
                     const tconv_geometry *geom, const tconv_in_view *in,
                     const tconv_bank_class_map *map, const tconv_out_view *out, float antiring,
                     tconv_error *err)
{
  gather       g;
  int64_t      lo, hi;
  tconv_status st = tconv_bank_check_args (bank, geom, in, map, out, err);

  if (st)
    return st;
  if ((st = tconv_antiring_check_strength (antiring, err)))
    return st;
  if (plan != NULL)
    return plan_upsample (bank, plan, geom, in, map, out, NULL, antiring, err);
  g = (gather) { geom, in, out, geom->stride_h, geom->in_c, INT64_MAX, INT64_MIN };
  for (size_t phx = 0; phx < g.s; phx++)
    {
      tap_range (phx, geom->pad_w, geom->k_w, g.s, &lo, &hi);
      g.dx_lo = lo < g.dx_lo ? lo : g.dx_lo;
      g.dx_hi = hi > g.dx_hi ? hi : g.dx_hi;
    }
  gather_rows (bank, &g, map);
  return antiring > 0.0f ? tconv_antiring (geom, in, out, antiring, err) : TCONV_OK;
}

tconv_status
tconv_bank_upsample_to (const tconv_bank *bank, const tconv_bank_plan *plan,
                        const tconv_geometry *geom, const tconv_in_view *in,
                        const tconv_bank_class_map *map, size_t y0, size_t x0, size_t h,
                        size_t w, const tconv_bank_sink *sink, float antiring, tconv_error *err)
{
  float                dummy = 0.0f;
  const tconv_out_view region = { &dummy, y0, x0, h, w, 1, 0, 0 };
  tconv_status         st;

  if (plan == NULL || sink == NULL || sink->rows == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank upsample to a sink: the plan or the sink is NULL");
  if ((st = tconv_bank_check_args (bank, geom, in, map, &region, err))
      || (st = tconv_antiring_check_strength (antiring, err)))
    return st;
  return plan_upsample (bank, plan, geom, in, map, &region, sink, antiring, err);
}
