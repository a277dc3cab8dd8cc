/* SPDX-License-Identifier: GPL-3.0-or-later */
/* .npy parsing, conversion and header writing. Valid files built by hand and by NumPy (the
 * literals below were written by numpy 1.24 np.save / write_array_header_1_0), malformed files
 * that must fail with the right status and column, and a seeded mutation sweep. Every file is
 * parsed from a malloc block of exactly its size, so that sanitizers catch any over-read. */
#include "test-util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Building files
 */

typedef struct npy_file
{
  unsigned char *bytes;
  size_t         len;
  size_t         hoff; /* offset of the header text */
  size_t         hlen; /* length of the header text */
} npy_file;

static void
npy_file_clear (npy_file *f)
{
  free (f->bytes);
  f->bytes = NULL;
  f->len = 0;
}

/* Exactly @len bytes in their own block (NULL for 0), copied from @src. */
static npy_file
npy_raw (const void *src, size_t len)
{
  npy_file f = { NULL, len, 0, 0 };
  if (len != 0)
    {
      f.bytes = test_malloc (len);
      memcpy (f.bytes, src, len);
    }
  return f;
}

/* A file of version @major.0 with @header as the header text, verbatim, then @payload_len
 * bytes of payload (a byte pattern, or @payload when not NULL). */
static npy_file
npy_make_verbatim (unsigned major, const char *header, size_t hlen, const void *payload,
                   size_t payload_len)
{
  npy_file f;
  size_t   hoff = major == 1 ? 10 : 12;

  f.len = hoff + hlen + payload_len;
  f.bytes = test_malloc (f.len);
  f.hoff = hoff;
  f.hlen = hlen;
  memcpy (f.bytes, "\x93NUMPY", 6);
  f.bytes[6] = (unsigned char) major;
  f.bytes[7] = 0;
  f.bytes[8] = (unsigned char) (hlen & 0xff);
  f.bytes[9] = (unsigned char) ((hlen >> 8) & 0xff);
  if (major != 1)
    {
      f.bytes[10] = (unsigned char) ((hlen >> 16) & 0xff);
      f.bytes[11] = (unsigned char) ((hlen >> 24) & 0xff);
    }
  memcpy (f.bytes + hoff, header, hlen);
  for (size_t i = 0; i < payload_len; i++)
    f.bytes[hoff + hlen + i] = payload != NULL ? ((const unsigned char *) payload)[i]
                                               : (unsigned char) (i * 37 + 11);
  return f;
}

/* As NumPy pads: @dict, blanks and a final '\n' so that the data starts at a multiple of
 * @align (64 now, 16 in old NumPy; 0 means no padding, just the '\n'). */
static npy_file
npy_make_aligned (unsigned major, const char *dict, size_t align, const void *payload,
                  size_t payload_len)
{
  size_t   hoff = major == 1 ? 10 : 12;
  size_t   n = strlen (dict);
  size_t   pad = align == 0 ? 0 : (align - (hoff + n + 1) % align) % align;
  char    *text = test_malloc (n + pad + 1);
  npy_file f;

  memcpy (text, dict, n);
  memset (text + n, ' ', pad);
  text[n + pad] = '\n';
  f = npy_make_verbatim (major, text, n + pad + 1, payload, payload_len);
  free (text);
  return f;
}

static npy_file
npy_make (unsigned major, const char *dict, size_t payload_len)
{
  return npy_make_aligned (major, dict, 64, NULL, payload_len);
}

/* 1-based column of the first @needle in the header text of @f, 0 when absent. */
static unsigned
npy_col_of (const npy_file *f, const char *needle)
{
  size_t n = strlen (needle);

  for (size_t i = 0; i + n <= f->hlen; i++)
    if (memcmp (f->bytes + f->hoff + i, needle, n) == 0)
      return (unsigned) (f->hoff + i + 1);
  return 0;
}

static const char *
st_name (tconv_status st)
{
  static const char *const names[] = { "OK", "INVALID_ARG", "TOO_LARGE", "NO_MEMORY", "PARSE",
                                       "SINGULAR" };
  return (unsigned) st < sizeof names / sizeof names[0] ? names[st] : "?";
}

/* Parses @f expecting @want; on failure also the column (when @col is not 0) and a message
 * fragment (when @msg is not NULL). Checks that @npy is untouched on failure. */
static void
expect_parse (const char *edge, const npy_file *f, tconv_status want, unsigned col,
              const char *msg)
{
  tconv_npy    npy, before;
  tconv_error  err;
  tconv_status st;

  memset (&npy, 0xa5, sizeof npy);
  before = npy;
  memset (&err, 0, sizeof err);
  st = tconv_npy_parse (f->bytes, f->len, &npy, &err);
  CHECK (st == want, "%s: status %s, want %s (%s)", edge, st_name (st), st_name (want),
         st == TCONV_OK ? "no error" : err.message);
  if (st != TCONV_OK && want != TCONV_OK)
    {
#ifdef NPY_SHOW
      test_diag ("%-45s %-9s 1:%-4u %s", edge, st_name (st), err.column, err.message);
#endif
      CHECK (memcmp (&npy, &before, sizeof npy) == 0, "%s: npy untouched on failure", edge);
      CHECK (err.line == 1 && err.column >= 1 && err.column <= f->len + 1 &&
               memchr (err.message, '\0', sizeof err.message) != NULL && err.message[0] != '\0',
             "%s: error at 1:%u within the file (%s)", edge, err.column, err.message);
      if (col != 0)
        CHECK (err.column == col, "%s: column %u, want %u (%s)", edge, err.column, col,
               err.message);
      if (msg != NULL)
        CHECK (strstr (err.message, msg) != NULL, "%s: message \"%s\" mentions \"%s\"", edge,
               err.message, msg);
    }
}

/* Parses @f, which must be valid, into @npy. */
static int
parse_ok (const char *edge, const npy_file *f, tconv_npy *npy)
{
  tconv_error  err;
  tconv_status st;

  memset (&err, 0, sizeof err);
  st = tconv_npy_parse (f->bytes, f->len, npy, &err);
  CHECK (st == TCONV_OK, "%s: parses (%s at 1:%u: %s)", edge, st_name (st), err.column,
         err.message);
  return st == TCONV_OK;
}

static int
shape_is (const tconv_npy *npy, unsigned ndim, const size_t *shape)
{
  size_t count = 1;

  if (npy->ndim != ndim)
    return 0;
  for (unsigned i = 0; i < ndim; i++)
    {
      if (npy->shape[i] != shape[i])
        return 0;
      count *= shape[i];
    }
  for (unsigned i = ndim; i < TCONV_NPY_MAX_NDIM; i++)
    if (npy->shape[i] != 0)
      return 0;
  return npy->count == count;
}

/* Parses a valid file and checks dtype, shape and that the payload is its tail. */
static void
expect_valid (const char *edge, const npy_file *f, tconv_npy_dtype dtype, unsigned ndim,
              const size_t *shape)
{
  tconv_npy npy;
  size_t    itemsize = dtype == TCONV_NPY_F64_LE || dtype == TCONV_NPY_F64_BE ? 8 : 4;

  if (!parse_ok (edge, f, &npy))
    return;
  CHECK (npy.dtype == dtype, "%s: dtype %d, want %d", edge, (int) npy.dtype, (int) dtype);
  CHECK (shape_is (&npy, ndim, shape), "%s: ndim %u count %zu as expected", edge, npy.ndim,
         npy.count);
  CHECK ((const unsigned char *) npy.data + npy.count * itemsize == f->bytes + f->len,
         "%s: payload is the last count * itemsize bytes", edge);
}

/* ---------------------------------------------------------------------------------------------
 * Files written by NumPy
 */

/* np.save (np.array ([[1.5, -2.0, 0.1], [3.0, 1e30, -0.0]], dtype='<f4')) */
static const char numpy_f4_2x3[] =
  "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } "
  "                                                         \n"
  "\000\000\300?\000\000\000\300\315\314\314=\000\000@@\312\362Iq\000\000\000\200";

/* np.save (np.array ([1.5, -2.0, 0.1], dtype='>f8')) */
static const char numpy_f8be_3[] =
  "\x93NUMPY\001\000v\000{'descr': '>f8', 'fortran_order': False, 'shape': (3,), } "
  "                                                           \n?\370\000\000\000\000"
  "\000\000\300\000\000\000\000\000\000\000?\271\231\231\231\231\231\232";

static void
numpy_file_f4_c_order (void)
{
  npy_file    f = npy_raw (numpy_f4_2x3, sizeof numpy_f4_2x3 - 1);
  size_t      shape[] = { 2, 3 };
  const float want[] = { 1.5f, -2.0f, 0.1f, 3.0f, 1e30f, -0.0f };
  float       got[6];
  tconv_npy   npy;

  expect_valid ("numpy_file_f4_c_order", &f, TCONV_NPY_F32_LE, 2, shape);
  if (parse_ok ("numpy_file_f4_c_order", &f, &npy))
    {
      CHECK_STATUS (tconv_npy_to_float (&npy, got, 6, NULL));
      CHECK (memcmp (got, want, sizeof want) == 0, "numpy_file_f4_c_order: values bit-exact");
      CHECK (signbit (got[5]), "numpy_file_f4_c_order: -0.0 keeps its sign");
    }
  npy_file_clear (&f);
}

static void
numpy_file_f8_big_endian (void)
{
  npy_file  f = npy_raw (numpy_f8be_3, sizeof numpy_f8be_3 - 1);
  size_t    shape[] = { 3 };
  float     got[3];
  tconv_npy npy;

  expect_valid ("numpy_file_f8_big_endian", &f, TCONV_NPY_F64_BE, 1, shape);
  if (parse_ok ("numpy_file_f8_big_endian", &f, &npy))
    {
      CHECK_STATUS (tconv_npy_to_float (&npy, got, 3, NULL));
      CHECK (got[0] == 1.5f && got[1] == -2.0f && got[2] == (float) 0.1,
             "numpy_file_f8_big_endian: values %g %g %.9g", (double) got[0], (double) got[1],
             (double) got[2]);
    }
  npy_file_clear (&f);
}

/* ---------------------------------------------------------------------------------------------
 * Valid variants
 */

#define DICT_2X3 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

static void
versions_1_2_3 (void)
{
  size_t shape[] = { 2, 3 };

  for (unsigned major = 1; major <= 3; major++)
    {
      npy_file f = npy_make (major, DICT_2X3, 24);
      char     edge[32];
      snprintf (edge, sizeof edge, "version_%u_0", major);
      expect_valid (edge, &f, TCONV_NPY_F32_LE, 2, shape);
      CHECK (f.len % 64 == 24, "%s: data 64-aligned", edge);
      npy_file_clear (&f);
    }
}

static void
key_orders_all_permutations (void)
{
  static const char *const items[3] = { "'descr': '<f8'", "'fortran_order': False",
                                         "'shape': (4,)" };
  static const unsigned perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
                                        { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
  size_t shape[] = { 4 };

  for (unsigned p = 0; p < 6; p++)
    {
      char     dict[128];
      npy_file f;
      snprintf (dict, sizeof dict, "{%s, %s, %s}", items[perms[p][0]], items[perms[p][1]],
                items[perms[p][2]]);
      f = npy_make (1, dict, 32);
      expect_valid (dict, &f, TCONV_NPY_F64_LE, 1, shape);
      npy_file_clear (&f);
    }
}

static void
spacing_compact_and_generous (void)
{
  static const char *const dicts[] = {
    "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
    "{'descr':'<f4','fortran_order':False,'shape':(2,3),}",
    "{  'descr'  :  '<f4'  ,\t'fortran_order'\t:\tFalse ,\n 'shape' :\r\n(\n2 ,\f3\n) ,\n}",
    ("{\n    'shape': (\n        2,\n        3,\n    ),\n    'fortran_order': False,\n"
     "    'descr': '<f4',\n}"),
  };
  size_t shape[] = { 2, 3 };

  for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++)
    {
      npy_file f = npy_make (1, dicts[i], 24);
      char     edge[48];
      snprintf (edge, sizeof edge, "spacing_variant_%zu", i);
      expect_valid (edge, &f, TCONV_NPY_F32_LE, 2, shape);
      npy_file_clear (&f);
    }
}

static void
double_quotes_and_mixed_quotes (void)
{
  size_t   shape[] = { 2, 3 };
  npy_file f = npy_make (1, "{\"descr\": \"<f4\", 'fortran_order': False, \"shape\": (2, 3)}", 24);

  expect_valid ("double_quotes_and_mixed_quotes", &f, TCONV_NPY_F32_LE, 2, shape);
  npy_file_clear (&f);
}

static void
no_trailing_comma (void)
{
  size_t   shape[] = { 2, 3 };
  npy_file f = npy_make (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24);

  expect_valid ("no_trailing_comma", &f, TCONV_NPY_F32_LE, 2, shape);
  npy_file_clear (&f);
}

static void
old_numpy_16_byte_padding (void)
{
  size_t   shape[] = { 2, 3 };
  npy_file f = npy_make_aligned (1, DICT_2X3, 16, NULL, 24);

  CHECK ((f.len - 24) % 16 == 0 && (f.len - 24) % 64 != 0,
         "old_numpy_16_byte_padding: data offset %zu is 16- but not 64-aligned", f.len - 24);
  expect_valid ("old_numpy_16_byte_padding", &f, TCONV_NPY_F32_LE, 2, shape);
  npy_file_clear (&f);

  f = npy_make_aligned (1, DICT_2X3, 0, NULL, 24);
  expect_valid ("no_padding_only_newline", &f, TCONV_NPY_F32_LE, 2, shape);
  npy_file_clear (&f);
}

static void
trailing_blank_and_newline_padding (void)
{
  static const char text[] = DICT_2X3 "   \n  \n\n";
  size_t            shape[] = { 2, 3 };
  npy_file          f = npy_make_verbatim (1, text, sizeof text - 1, NULL, 24);

  expect_valid ("trailing_blank_and_newline_padding", &f, TCONV_NPY_F32_LE, 2, shape);
  npy_file_clear (&f);
}

static void
scalar_shape_empty_tuple (void)
{
  const unsigned char payload[4] = { 0x00, 0x00, 0x28, 0x40 }; /* 2.625f LE */
  npy_file  f = npy_make_aligned (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                                  64, payload, 4);
  tconv_npy npy;
  float     v = 0.0f;

  expect_valid ("scalar_shape_empty_tuple", &f, TCONV_NPY_F32_LE, 0, NULL);
  if (parse_ok ("scalar_shape_empty_tuple", &f, &npy))
    {
      CHECK (npy.count == 1, "scalar_shape_empty_tuple: count %zu == 1", npy.count);
      CHECK_STATUS (tconv_npy_to_float (&npy, &v, 1, NULL));
      CHECK (v == 2.625f, "scalar_shape_empty_tuple: value %g", (double) v);
    }
  npy_file_clear (&f);

  /* (  ) with blanks inside is still the empty tuple; fortran_order True is fine for it. */
  f = npy_make (1, "{'descr': '<f4', 'fortran_order': True, 'shape': (  ), }", 4);
  expect_valid ("scalar_fortran_true", &f, TCONV_NPY_F32_LE, 0, NULL);
  npy_file_clear (&f);
}

static void
one_d_shapes (void)
{
  static const char *const dicts[] = {
    "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': ( 5 , ), }",
    "{'descr': '<f4', 'fortran_order': True, 'shape': (5,), }",
  };
  size_t shape[] = { 5 };

  for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++)
    {
      npy_file f = npy_make (1, dicts[i], 20);
      expect_valid (dicts[i], &f, TCONV_NPY_F32_LE, 1, shape);
      npy_file_clear (&f);
    }
}

static void
four_d_and_max_ndim (void)
{
  size_t   s4[] = { 8, 1, 4, 4 };
  size_t   s8[] = { 1, 2, 1, 3, 1, 2, 1, 2 };
  npy_file f = npy_make (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 1, 4, 4), }",
                         8 * 16 * 4);

  expect_valid ("four_d_conv_transpose_weight", &f, TCONV_NPY_F32_LE, 4, s4);
  npy_file_clear (&f);

  f = npy_make (2, "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 2, 1, 3, 1, 2, 1, 2,)}",
                24 * 8);
  expect_valid ("eight_d_max_ndim_trailing_comma", &f, TCONV_NPY_F64_BE, 8, s8);
  npy_file_clear (&f);
}

static void
zero_length_axes (void)
{
  size_t    s1[] = { 0 };
  size_t    s3[] = { 3, 0, 2 };
  npy_file  f = npy_make (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 0);
  tconv_npy npy;

  expect_valid ("zero_length_1d", &f, TCONV_NPY_F32_LE, 1, s1);
  if (parse_ok ("zero_length_1d", &f, &npy))
    CHECK (tconv_npy_to_float (&npy, NULL, 0, NULL) == TCONV_OK,
           "zero_length_1d: to_float of 0 elements into NULL");
  npy_file_clear (&f);

  f = npy_make (3, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 0, 2), }", 0);
  expect_valid ("zero_length_middle_axis", &f, TCONV_NPY_F64_LE, 3, s3);
  npy_file_clear (&f);

#if SIZE_MAX >= UINT64_MAX
  {
    /* NumPy's rule: a zero axis does not excuse an overflowing product of the others. */
    size_t s2[] = { 4611686018427387903u, 0 };
    f = npy_make (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387903, 0)}",
                  0);
    expect_valid ("zero_axis_beside_largest_dimension", &f, TCONV_NPY_F32_LE, 2, s2);
    npy_file_clear (&f);
    f = npy_make (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0)}",
                  0);
    expect_parse ("zero_axis_does_not_excuse_overflow", &f, TCONV_ERR_TOO_LARGE,
                  npy_col_of (&f, "(46"), "overflow");
    npy_file_clear (&f);
  }
#endif
}

static void
header_length_limit_exact (void)
{
  /* A header of exactly TCONV_NPY_MAX_HEADER bytes (v2 and v1) is accepted; one more is not. */
  char  *text = test_malloc (TCONV_NPY_MAX_HEADER + 1);
  size_t n = strlen (DICT_2X3);
  size_t shape[] = { 2, 3 };

  memcpy (text, DICT_2X3, n);
  memset (text + n, ' ', TCONV_NPY_MAX_HEADER + 1 - n);
  for (unsigned major = 1; major <= 2; major++)
    {
      npy_file f;
      text[TCONV_NPY_MAX_HEADER - 1] = '\n';
      f = npy_make_verbatim (major, text, TCONV_NPY_MAX_HEADER, NULL, 24);
      expect_valid (major == 1 ? "header_length_10000_v1" : "header_length_10000_v2", &f,
                    TCONV_NPY_F32_LE, 2, shape);
      npy_file_clear (&f);
      text[TCONV_NPY_MAX_HEADER - 1] = ' ';
      text[TCONV_NPY_MAX_HEADER] = '\n';
      f = npy_make_verbatim (major, text, TCONV_NPY_MAX_HEADER + 1, NULL, 24);
      expect_parse (major == 1 ? "header_length_10001_v1" : "header_length_10001_v2", &f,
                    TCONV_ERR_TOO_LARGE, 9, "header length 10001: must be <= 10000");
      npy_file_clear (&f);
    }
  free (text);
}

/* ---------------------------------------------------------------------------------------------
 * Conversion
 */

static void
big_endian_f4_values (void)
{
  /* 1.0f, -0.5f, 2^-149 (smallest subnormal), +inf, big-endian. */
  const unsigned char payload[16] = { 0x3f, 0x80, 0, 0, 0xbf, 0, 0, 0,
                                      0, 0, 0, 1, 0x7f, 0x80, 0, 0 };
  npy_file  f = npy_make_aligned (1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }",
                                  64, payload, sizeof payload);
  tconv_npy npy;
  float     got[4];

  if (parse_ok ("big_endian_f4_values", &f, &npy))
    {
      CHECK (npy.dtype == TCONV_NPY_F32_BE, "big_endian_f4_values: dtype");
      CHECK_STATUS (tconv_npy_to_float (&npy, got, 4, NULL));
      CHECK (got[0] == 1.0f && got[1] == -0.5f && got[2] == ldexpf (1.0f, -149) &&
               isinf (got[3]) && got[3] > 0,
             "big_endian_f4_values: %g %g %g %g", (double) got[0], (double) got[1],
             (double) got[2], (double) got[3]);
    }
  npy_file_clear (&f);
}

/* Little- or big-endian bytes of @v. */
static void
put_f8 (unsigned char *dst, double v, int big_endian)
{
  uint64_t u;
  memcpy (&u, &v, 8);
  for (unsigned j = 0; j < 8; j++)
    dst[big_endian ? 7 - j : j] = (unsigned char) (u >> (8 * j));
}

static void
f8_rounding_to_float (void)
{
  /* Each double and the float it must become (IEEE round to nearest, ties to even). */
  const double in[] = {
    1.0 + 0x1p-24,             /* halfway between 1 and 1 + 2^-23: ties to even, 1 */
    1.0 + 0x1p-24 + 0x1p-50,   /* just above halfway: up */
    1.0 + 3 * 0x1p-24,         /* halfway between 1 + 2^-23 and 1 + 2^-22: to even, up */
    0.1,
    -1e300,                    /* beyond the float range: -inf */
    1e300,
    (double) FLT_MAX + 0x1p100, /* above FLT_MAX but below the rounding boundary: FLT_MAX */
    1e-50,                     /* underflows to +0 */
    0x1p-149,                  /* smallest float subnormal, exact */
    -0.0,
  };
  const float want[] = {
    1.0f, 1.0f + 0x1p-23f, 1.0f + 0x1p-22f, 0.1f, -INFINITY, INFINITY, FLT_MAX, 0.0f,
    0x1p-149f, -0.0f,
  };
  const size_t n = sizeof in / sizeof in[0];

  for (int be = 0; be <= 1; be++)
    {
      unsigned char payload[sizeof in + 8];
      char          dict[96];
      float         got[sizeof in / sizeof in[0] + 1];
      npy_file      f;
      tconv_npy     npy;
      int           same = 1;

      for (size_t i = 0; i < n; i++)
        put_f8 (payload + 8 * i, in[i], be);
      put_f8 (payload + 8 * n, NAN, be);
      snprintf (dict, sizeof dict, "{'descr': '%cf8', 'fortran_order': False, 'shape': (%zu,), }",
                be ? '>' : '<', n + 1);
      f = npy_make_aligned (1, dict, 64, payload, sizeof payload);
      if (parse_ok (be ? "f8_rounding_big_endian" : "f8_rounding_little_endian", &f, &npy))
        {
          CHECK_STATUS (tconv_npy_to_float (&npy, got, n + 1, NULL));
          for (size_t i = 0; i < n; i++)
            if (memcmp (&got[i], &want[i], sizeof (float)) != 0)
              {
                same = 0;
                test_diag ("f8 element %zu: %.17g -> %.9g, want %.9g", i, in[i], (double) got[i],
                           (double) want[i]);
              }
          CHECK (same, "f8_rounding_%s: every double rounds as IEEE says",
                 be ? "big_endian" : "little_endian");
          CHECK (isnan (got[n]), "f8_rounding_%s: NaN stays NaN",
                 be ? "big_endian" : "little_endian");
        }
      npy_file_clear (&f);
    }
}

static void
unaligned_payload (void)
{
  /* The same f8 file placed at offsets 0..7 of a block: the payload is never 8-aligned for some;
   * UBSan's alignment check would catch a direct load. */
  unsigned char payload[3 * 8];
  const double  v[3] = { 0.25, -3.5, 1024.0 };

  for (unsigned i = 0; i < 3; i++)
    put_f8 (payload + 8 * i, v[i], 0);
  for (size_t shift = 0; shift < 8; shift++)
    {
      npy_file       f = npy_make_aligned (1, "{'descr': '<f8', 'fortran_order': False, "
                                              "'shape': (3,), }", 0, payload, sizeof payload);
      unsigned char *block = test_malloc (f.len + shift);
      tconv_npy      npy;
      float          got[3];
      tconv_status   st;

      memcpy (block + shift, f.bytes, f.len);
      st = tconv_npy_parse (block + shift, f.len, &npy, NULL);
      CHECK (st == TCONV_OK, "unaligned_payload shift %zu: parses", shift);
      if (st == TCONV_OK)
        {
          CHECK_STATUS (tconv_npy_to_float (&npy, got, 3, NULL));
          CHECK (got[0] == 0.25f && got[1] == -3.5f && got[2] == 1024.0f,
                 "unaligned_payload shift %zu: values", shift);
        }
      free (block);
      npy_file_clear (&f);
    }
}

static void
to_float_rejects_bad_arguments (void)
{
  npy_file  f = npy_raw (numpy_f4_2x3, sizeof numpy_f4_2x3 - 1);
  tconv_npy npy;
  float    *dst = test_alloc_poisoned (7);
  int       untouched = 1;

  if (parse_ok ("to_float_rejects_bad_arguments", &f, &npy))
    {
      CHECK (tconv_npy_to_float (&npy, dst, 5, NULL) == TCONV_ERR_INVALID_ARG,
             "to_float_count_too_small: invalid argument");
      CHECK (tconv_npy_to_float (&npy, dst, 7, NULL) == TCONV_ERR_INVALID_ARG,
             "to_float_count_too_large: invalid argument");
      CHECK (tconv_npy_to_float (&npy, NULL, 6, NULL) == TCONV_ERR_INVALID_ARG,
             "to_float_null_dst: invalid argument");
      CHECK (tconv_npy_to_float (NULL, dst, 6, NULL) == TCONV_ERR_INVALID_ARG,
             "to_float_null_npy: invalid argument");
      npy.dtype = (tconv_npy_dtype) 7;
      CHECK (tconv_npy_to_float (&npy, dst, 6, NULL) == TCONV_ERR_INVALID_ARG,
             "to_float_unknown_dtype: invalid argument");
      npy.dtype = TCONV_NPY_F32_LE;
      npy.data = NULL;
      CHECK (tconv_npy_to_float (&npy, dst, 6, NULL) == TCONV_ERR_INVALID_ARG,
             "to_float_null_data: invalid argument");
      for (int i = 0; i < 7; i++)
        untouched &= isnan (dst[i]);
      CHECK (untouched, "to_float_rejects_bad_arguments: nothing written on failure");
    }
  free (dst);
  npy_file_clear (&f);
}

/* ---------------------------------------------------------------------------------------------
 * Malformed files
 */

typedef struct bad_case
{
  const char  *edge;
  unsigned     major;
  const char  *dict;    /* padded to 64 with blanks and '\n' */
  size_t       payload; /* bytes of payload */
  tconv_status want;
  const char  *at;      /* the column is that of the first occurrence in the header */
  const char  *msg;     /* fragment of the message */
} bad_case;

#define PARSE TCONV_ERR_PARSE
#define LARGE TCONV_ERR_TOO_LARGE

static const bad_case bad_cases[] = {
  /* Dict syntax */
  { "header_not_a_dict", 1, "['descr', '<f4']", 0, PARSE, "[", "expected '{'" },
  { "header_leading_blank", 1, " " DICT_2X3, 24, PARSE, " ", "expected '{'" },
  { "dict_unclosed", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", 24, PARSE,
    NULL, "end of header" },
  { "key_unquoted", 1, "{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24, PARSE,
    "descr", "expected a quoted key" },
  { "key_colon_missing", 1, "{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, "'<f4'", "expected ':'" },
  { "items_comma_missing", 1, "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, "'fortran", "expected ',' or '}'" },
  { "items_double_comma", 1, "{'descr': '<f4',, 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, ", '", "expected a quoted key or '}', found ','" },
  { "items_leading_comma", 1, "{, 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, ",", "expected a quoted key" },
  { "string_unterminated", 1, "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, NULL, NULL },
  { "string_newline_inside", 1, "{'descr': '<f\n4', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, "'<f", "unterminated string" },
  { "string_backslash_escape", 1, "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2, 3)}",
    24, PARSE, "\\", "backslash" },
  { "string_prefix_bytes", 1, "{'descr': b'<f4', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, "b'", "expected a string for descr" },
  { "string_concatenation", 1, "{'descr': '<' 'f4', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, NULL, "descr '<'" },
  { "comment_in_dict", 1, "{'descr': '<f4', # c\n 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, "#", "expected a quoted key" },
  { "nul_byte_in_header", 1, "{'descr': '<f4',\0 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, NULL, "found byte 0x00" },
  /* Keys */
  { "key_unknown", 1, "{'descr': '<f4', 'dtype': 'f4', 'fortran_order': False, 'shape': (2, 3)}",
    24, PARSE, "'dtype'", "key 'dtype': must be one of" },
  { "key_wrong_case", 1, "{'descr': '<f4', 'fortran_order': False, 'Shape': (2, 3)}", 24, PARSE,
    "'Shape'", "key 'Shape'" },
  { "key_duplicate", 1, "{'descr': '<f4', 'shape': (2, 3), 'fortran_order': False, "
    "'shape': (2, 3)}", 24, PARSE, "'shape': (2, 3)}", "repeated" },
  { "key_missing_fortran_order", 1, "{'descr': '<f4', 'shape': (2, 3), }", 24, PARSE, "}",
    "key 'fortran_order' missing" },
  { "key_missing_descr", 1, "{'fortran_order': False, 'shape': (2, 3)}", 24, PARSE, "}",
    "key 'descr' missing" },
  { "dict_empty", 1, "{}", 0, PARSE, "}", "missing" },
  { "key_utf8_in_v3", 3, "{'descr': '<f4', 'fortran_order': False, 'shap\xc3\xa9': (2, 3)}", 24,
    PARSE, "'shap", "shap\\xc3\\xa9" },
  /* descr */
  { "descr_int32", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3)}", 24, PARSE,
    "'<i4'", "descr '<i4': must be one of" },
  { "descr_not_applicable_byte_order", 1, "{'descr': '|f4', 'fortran_order': False, "
    "'shape': (2, 3)}", 24, PARSE, "'|f4'", "descr '|f4'" },
  { "descr_native_byte_order", 1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3)}",
    24, PARSE, "'=f4'", "descr '=f4'" },
  { "descr_half", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3)}", 12, PARSE,
    "'<f2'", "descr '<f2'" },
  { "descr_unicode_string", 1, "{'descr': '<U5', 'fortran_order': False, 'shape': (2, 3)}", 120,
    PARSE, "'<U5'", "descr '<U5'" },
  { "descr_object_pickle", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3)}", 48,
    PARSE, "'|O'", "descr '|O'" },
  { "descr_name_float32", 1, "{'descr': 'float32', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, "'float32'", "descr 'float32'" },
  { "descr_trailing_blank", 1, "{'descr': '<f4 ', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, "'<f4 '", "descr '<f4 '" },
  { "descr_empty", 1, "{'descr': '', 'fortran_order': False, 'shape': (2, 3)}", 24, PARSE, "''",
    "descr ''" },
  { "descr_structured_list", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, "
    "'shape': (2, 3)}", 24, PARSE, "[", "expected a string for descr, found '['" },
  { "descr_long_value_quoted_cut", 1, "{'descr': '<f4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', "
    "'fortran_order': False, 'shape': (2, 3)}", 24, PARSE, "'<f4a", "aaa...'" },
  /* fortran_order */
  { "fortran_order_true_2d", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", 24,
    PARSE, "True", "fortran_order True with 2 dimensions" },
  { "fortran_order_true_4d_shape_first", 1, "{'shape': (1, 2, 1, 3), 'fortran_order': True, "
    "'descr': '<f4'}", 24, PARSE, "True", "with 4 dimensions" },
  { "fortran_order_integer", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", 24, PARSE,
    "0,", "True or False" },
  { "fortran_order_string", 1, "{'descr': '<f4', 'fortran_order': 'False', 'shape': (2, 3)}", 24,
    PARSE, "'False'", "True or False" },
  { "fortran_order_lowercase", 1, "{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}", 24,
    PARSE, "false", "fortran_order false: must be True or False" },
  { "fortran_order_identifier_prefix", 1, "{'descr': '<f4', 'fortran_order': Falsey, "
    "'shape': (2, 3)}", 24, PARSE, "Falsey", "fortran_order Falsey" },
  { "fortran_order_none", 1, "{'descr': '<f4', 'fortran_order': None, 'shape': (2, 3)}", 24, PARSE,
    "None", "fortran_order None" },
  /* shape */
  { "shape_list", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", 24, PARSE,
    "[", "expected '('" },
  { "shape_integer_not_tuple", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': 6}", 24,
    PARSE, "6", "expected '('" },
  { "shape_parenthesised_integer", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5)}",
    20, PARSE, "(5)", "written (5,)" },
  { "shape_negative", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 0, PARSE,
    "-1", "dimension -1: must be >= 0" },
  { "shape_plus_sign", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (+2, 3)}", 24, PARSE,
    "+", "expected a dimension" },
  { "shape_float", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3)}", 24, PARSE,
    "2.0", "dimension 2.0: must be a plain decimal integer" },
  { "shape_hex", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0x2, 3)}", 24, PARSE,
    "0x2", "dimension 0x2" },
  { "shape_underscore", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1_0,)}", 40, PARSE,
    "1_0", "dimension 1_0" },
  { "shape_python2_long", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}", 24,
    PARSE, "2L", "dimension 2L" },
  { "shape_leading_zero", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (02, 3)}", 24,
    PARSE, "02", "leading zeros" },
  { "shape_bool_dimension", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (True,)}", 4,
    PARSE, "True", "expected a dimension" },
  { "shape_string_dimension", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ('2', 3)}",
    24, PARSE, "'2'", "expected a dimension" },
  { "shape_lone_comma", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", 0, PARSE,
    ",)", "expected a dimension" },
  { "shape_double_comma", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,3)}", 24,
    PARSE, ",3", "expected a dimension" },
  { "shape_comma_missing", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", 24,
    PARSE, "3)", "expected ',' or ')'" },
  { "shape_unclosed", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}", 24, PARSE,
    "}", "expected ',' or ')'" },
  { "shape_nested_tuple", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ((2, 3),)}", 24,
    PARSE, "(2", "expected a dimension" },
  { "shape_nine_dimensions", 1, "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 9)}", 4, LARGE, "9)", "ndim must be <= 8" },
  { "shape_dimension_2_pow_63", 1, "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (9223372036854775808,)}", 0, LARGE, "922",
    "dimension 9223372036854775808: must be < 2^63" },
  { "shape_dimension_2_pow_64", 1, "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (18446744073709551616,)}", 0, LARGE, "184", "must be < 2^63" },
  { "shape_dimension_40_digits", 1, "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (1234567890123456789012345678901234567890,)}", 0, LARGE, "123", "..." },
#if SIZE_MAX >= UINT64_MAX
  { "shape_dimension_2_pow_63_minus_1_bytes_overflow", 1, "{'descr': '<f4', "
    "'fortran_order': False, 'shape': (9223372036854775807,)}", 0, LARGE,
    "(92", "shape (9223372036854775807,): 4-byte elements overflow size_t" },
  { "shape_product_overflow", 1, "{'descr': '<f8', 'fortran_order': False, "
    "'shape': (4294967296, 4294967296)}", 0, LARGE, "(42", "overflow size_t" },
  { "shape_product_overflow_by_itemsize", 1, "{'descr': '<f8', 'fortran_order': False, "
    "'shape': (2305843009213693952,)}", 0, LARGE, "(23", "8-byte elements" },
#endif
  /* payload */
  { "payload_truncated_by_one", 1, DICT_2X3, 23, PARSE, NULL,
    "truncated: 23 bytes of data, expected 24" },
  { "payload_missing", 1, DICT_2X3, 0, PARSE, NULL, "truncated: 0 bytes of data, expected 24" },
  { "payload_f8_sized_as_f4", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}", 24,
    PARSE, NULL, "truncated: 24 bytes of data, expected 48" },
  { "payload_scalar_missing", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 0, PARSE,
    NULL, "expected 4" },
  { "payload_trailing_byte", 1, DICT_2X3, 25, PARSE, NULL, "trailing data: 25 bytes" },
  { "payload_trailing_after_empty_array", 1, "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (0, 3)}", 1, PARSE, NULL, "trailing data: 1 bytes of data, expected 0" },
};

static void
malformed_header_dicts (void)
{
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
    {
      const bad_case *c = &bad_cases[i];
      npy_file        f;
      unsigned        col = 0;
      size_t          dict_len = strlen (c->dict);

      /* "nul_byte_in_header" carries a NUL; build it from the literal's full extent. */
      if (strcmp (c->edge, "nul_byte_in_header") == 0)
        {
          static const char nul_dict[] =
            "{'descr': '<f4',\0 'fortran_order': False, 'shape': (2, 3)}";
          char text[128 - 10];
          dict_len = sizeof nul_dict - 1;
          memcpy (text, nul_dict, dict_len);
          memset (text + dict_len, ' ', sizeof text - dict_len - 1);
          text[sizeof text - 1] = '\n';
          f = npy_make_verbatim (1, text, sizeof text, NULL, c->payload);
          col = (unsigned) (10 + 16 + 1);
        }
      else
        f = npy_make (c->major, c->dict, c->payload);

      if (c->at != NULL)
        {
          col = npy_col_of (&f, c->at);
          CHECK (col != 0, "%s: marker \"%s\" found in the header", c->edge, c->at);
        }
      else if (strncmp (c->edge, "payload_", 8) == 0)
        {
          /* truncated: at the end of the file; trailing: at the first extra byte */
          col = strstr (c->msg, "trailing") != NULL ? (unsigned) (f.hoff + f.hlen + 1 +
                                                                  (c->payload - 1))
                                                    : (unsigned) (f.len + 1);
          if (strcmp (c->edge, "payload_trailing_byte") == 0)
            col = (unsigned) (f.hoff + f.hlen + 24 + 1);
        }
      expect_parse (c->edge, &f, c->want, col, c->msg);
      npy_file_clear (&f);
    }
}

static void
malformed_trailer (void)
{
  /* After the '}' only blanks and newlines, and the header's last byte is '\n'. */
  static const char no_newline[] = DICT_2X3 "      ";
  static const char tab_pad[] = DICT_2X3 "  \t\n";
  static const char garbage[] = DICT_2X3 " x\n";
  static const char second_dict[] = DICT_2X3 "{}\n";
  static const char cr_end[] = DICT_2X3 "   \r";
  npy_file          f;

  f = npy_make_verbatim (1, no_newline, sizeof no_newline - 1, NULL, 24);
  expect_parse ("header_without_final_newline", &f, PARSE, (unsigned) (10 + f.hlen),
                "does not end with a newline");
  npy_file_clear (&f);
  f = npy_make_verbatim (1, tab_pad, sizeof tab_pad - 1, NULL, 24);
  expect_parse ("header_tab_in_padding", &f, PARSE, npy_col_of (&f, "\t"),
                "only blanks and newlines");
  npy_file_clear (&f);
  f = npy_make_verbatim (1, garbage, sizeof garbage - 1, NULL, 24);
  expect_parse ("header_garbage_after_dict", &f, PARSE, npy_col_of (&f, "x"), "'x' after");
  npy_file_clear (&f);
  f = npy_make_verbatim (2, second_dict, sizeof second_dict - 1, NULL, 24);
  expect_parse ("header_second_dict", &f, PARSE, npy_col_of (&f, "{}"), NULL);
  npy_file_clear (&f);
  f = npy_make_verbatim (1, cr_end, sizeof cr_end - 1, NULL, 24);
  expect_parse ("header_ends_with_cr", &f, PARSE, npy_col_of (&f, "\r"), NULL);
  npy_file_clear (&f);
  f = npy_make_verbatim (1, DICT_2X3, strlen (DICT_2X3), NULL, 24);
  expect_parse ("header_ends_at_brace", &f, PARSE, (unsigned) (10 + f.hlen), "newline");
  npy_file_clear (&f);
}

static void
malformed_preamble (void)
{
  static const unsigned char lower[] = "\223numpy\001\000\000\000";
  static const unsigned char v1_short_len[] = "\223NUMPY\001\000v";
  static const unsigned char v2_short_len[] = "\223NUMPY\002\000v\000\000";
  npy_file                   f = npy_make (1, DICT_2X3, 24);
  npy_file                   g;

  g = npy_raw (NULL, 0);
  expect_parse ("file_empty", &g, PARSE, 1, "truncated");
  g = npy_raw (f.bytes, 4);
  expect_parse ("file_ends_inside_magic", &g, PARSE, 5, "truncated: file of 4 bytes");
  npy_file_clear (&g);
  g = npy_raw (f.bytes, 7);
  expect_parse ("file_ends_inside_version", &g, PARSE, 8, "before the version");
  npy_file_clear (&g);
  g = npy_raw (v1_short_len, sizeof v1_short_len - 1);
  expect_parse ("v1_ends_inside_header_length", &g, PARSE, 10, "header length");
  npy_file_clear (&g);
  g = npy_raw (v2_short_len, sizeof v2_short_len - 1);
  expect_parse ("v2_ends_inside_header_length", &g, PARSE, 12, "header length");
  npy_file_clear (&g);
  g = npy_raw (lower, sizeof lower - 1);
  expect_parse ("magic_lowercase", &g, PARSE, 2, "magic byte 1 is 0x6e");
  npy_file_clear (&g);

  g = npy_raw (f.bytes, f.len);
  g.bytes[0] = 'x';
  expect_parse ("magic_first_byte", &g, PARSE, 1, "a .npy file starts with \\x93NUMPY");
  memcpy (g.bytes, f.bytes, f.len);
  g.bytes[5] = 'y';
  expect_parse ("magic_last_byte", &g, PARSE, 6, "magic byte 5");

  {
    static const unsigned char versions[][2] = { { 0, 0 }, { 4, 0 }, { 255, 0 }, { 1, 1 },
                                                 { 2, 1 }, { 3, 255 } };
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
      {
        char edge[40];
        memcpy (g.bytes, f.bytes, f.len);
        g.bytes[6] = versions[i][0];
        g.bytes[7] = versions[i][1];
        snprintf (edge, sizeof edge, "version_%u_%u_rejected", versions[i][0], versions[i][1]);
        expect_parse (edge, &g, PARSE,
                      versions[i][0] >= 1 && versions[i][0] <= 3 ? 8 : 7,
                      "must be 1.0, 2.0 or 3.0");
      }
  }

  /* Header length checked against the file before any header byte is read. */
  memcpy (g.bytes, f.bytes, f.len);
  g.bytes[8] = 0xff;
  g.bytes[9] = 0x00;
  expect_parse ("header_length_past_end_v1", &g, PARSE, 9, "header length 255: extends past");
  memcpy (g.bytes, f.bytes, f.len);
  g.bytes[8] = 0;
  g.bytes[9] = 0;
  expect_parse ("header_length_zero", &g, PARSE, 11, "expected '{'");
  memcpy (g.bytes, f.bytes, f.len);
  g.bytes[8] = 40;
  expect_parse ("header_length_cuts_the_dict", &g, PARSE, 0, NULL);
  npy_file_clear (&g);
  npy_file_clear (&f);

  {
    /* 12 bytes only: a huge declared length must fail on the limit, reading nothing else. */
    unsigned char hdr[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xe0, 0x2e, 0, 0 };
    g = npy_raw (hdr, sizeof hdr);
    expect_parse ("header_length_12000_v2", &g, LARGE, 9, "header length 12000: must be <= 10000");
    g.bytes[8] = g.bytes[9] = g.bytes[10] = g.bytes[11] = 0xff;
    expect_parse ("header_length_4294967295_v2", &g, LARGE, 9, "header length 4294967295");
    g.bytes[6] = 3;
    expect_parse ("header_length_4294967295_v3", &g, LARGE, 9, NULL);
    g.bytes[6] = 1;
    expect_parse ("header_length_65535_v1", &g, LARGE, 9, "header length 65535");
    npy_file_clear (&g);
  }
}

static void
parse_rejects_bad_arguments (void)
{
  npy_file    f = npy_raw (numpy_f4_2x3, sizeof numpy_f4_2x3 - 1);
  tconv_npy   npy;
  tconv_error err;

  CHECK (tconv_npy_parse (NULL, 10, &npy, &err) == TCONV_ERR_INVALID_ARG,
         "parse_null_bytes_with_length: invalid argument");
  CHECK (tconv_npy_parse (f.bytes, f.len, NULL, &err) == TCONV_ERR_INVALID_ARG,
         "parse_null_npy: invalid argument");
  CHECK (tconv_npy_parse (f.bytes, f.len - 1, &npy, NULL) == TCONV_ERR_PARSE,
         "parse_null_err: errors without a tconv_error");

  memset (&err, 0x5a, sizeof err);
  {
    tconv_error before = err;
    CHECK (tconv_npy_parse (f.bytes, f.len, &npy, &err) == TCONV_OK &&
             memcmp (&err, &before, sizeof err) == 0,
           "parse_success_leaves_error_untouched");
  }
  npy_file_clear (&f);
}

/* ---------------------------------------------------------------------------------------------
 * Sweeps
 */

static void
every_prefix_is_rejected (void)
{
  npy_file f = npy_raw (numpy_f4_2x3, sizeof numpy_f4_2x3 - 1);
  int      all = 1;

  for (size_t n = 0; n < f.len; n++)
    {
      npy_file    g = npy_raw (f.bytes, n);
      tconv_npy   npy;
      tconv_error err;
      if (tconv_npy_parse (g.bytes, g.len, &npy, &err) != TCONV_ERR_PARSE)
        {
          all = 0;
          test_diag ("prefix of %zu bytes not rejected as malformed", n);
        }
      npy_file_clear (&g);
    }
  CHECK (all, "every_prefix_is_rejected: %zu prefixes", f.len);
  npy_file_clear (&f);
}

static void
random_mutations_stay_safe (void)
{
  /* Seeded byte mutations of valid files: any outcome but a crash or a broken invariant. */
  static const char *const seeds[] = {
    numpy_f4_2x3,
    numpy_f8be_3,
  };
  static const size_t seed_len[] = { sizeof numpy_f4_2x3 - 1, sizeof numpy_f8be_3 - 1 };
  static const char   alphabet[] = "{}()[],:'\" \n\t0123456789-TrueFalse<>f48descrshape_order\x93";
  test_rng            rng;
  int                 ok = 1;
  unsigned            n_ok = 0, n_parse = 0, n_large = 0;

  test_rng_init (&rng, 20240611);
  for (int iter = 0; iter < 20000; iter++)
    {
      size_t         which = (size_t) (iter & 1);
      size_t         len = seed_len[which];
      unsigned char  buf[512];
      int            n_mut = (int) test_rng_range (&rng, 1, 4);
      npy_file       g;
      tconv_npy      npy;
      tconv_error    err;
      tconv_status   st;

      memcpy (buf, seeds[which], len);
      for (int m = 0; m < n_mut; m++)
        {
          size_t pos = (size_t) test_rng_range (&rng, 0, (int64_t) len - 1);
          switch (test_rng_range (&rng, 0, 3))
            {
            case 0:
              buf[pos] = (unsigned char) test_rng_next (&rng);
              break;
            case 1:
              buf[pos] = (unsigned char) alphabet[test_rng_range (&rng, 0,
                                                                  sizeof alphabet - 2)];
              break;
            case 2: /* delete a byte */
              memmove (buf + pos, buf + pos + 1, len - pos - 1);
              len--;
              break;
            default: /* insert a byte */
              if (len < sizeof buf)
                {
                  memmove (buf + pos + 1, buf + pos, len - pos);
                  buf[pos] = (unsigned char) alphabet[test_rng_range (&rng, 0,
                                                                      sizeof alphabet - 2)];
                  len++;
                }
              break;
            }
        }
      g = npy_raw (buf, len);
      memset (&err, 0, sizeof err);
      st = tconv_npy_parse (g.bytes, g.len, &npy, &err);
      if (st == TCONV_OK)
        {
          size_t itemsize = npy.dtype == TCONV_NPY_F64_LE || npy.dtype == TCONV_NPY_F64_BE ? 8 : 4;
          float  out[64];
          n_ok++;
          if (npy.ndim > TCONV_NPY_MAX_NDIM || npy.count > 64 ||
              (const unsigned char *) npy.data + npy.count * itemsize != g.bytes + g.len ||
              tconv_npy_to_float (&npy, out, npy.count, NULL) != TCONV_OK)
            ok = 0;
        }
      else if (st == TCONV_ERR_PARSE || st == TCONV_ERR_TOO_LARGE)
        {
          if (st == TCONV_ERR_PARSE)
            n_parse++;
          else
            n_large++;
          if (err.line != 1 || err.column < 1 || err.column > g.len + 1 ||
              memchr (err.message, '\0', sizeof err.message) == NULL)
            ok = 0;
        }
      else
        ok = 0;
      if (!ok)
        {
          test_diag ("mutation %d (seed %llu) broke an invariant: %s", iter,
                     (unsigned long long) rng.seed, err.message);
          npy_file_clear (&g);
          break;
        }
      npy_file_clear (&g);
    }
  CHECK (ok, "random_mutations_stay_safe: %u valid, %u malformed, %u too large (seed %llu)", n_ok,
         n_parse, n_large, (unsigned long long) rng.seed);
}

/* ---------------------------------------------------------------------------------------------
 * Header writer
 */

typedef struct numpy_header
{
  unsigned    ndim;
  size_t      shape[TCONV_NPY_MAX_NDIM];
  const char *bytes; /* write_array_header_1_0 output, 128 bytes */
} numpy_header;

static const numpy_header numpy_headers[] = {
  { 3, { 3, 4, 5 },
    "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5"
    "), }                                                       \n" },
  { 1, { 5 },
    "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (5,), } "
    "                                                           \n" },
  { 0, { 0 },
    "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (), }   "
    "                                                           \n" },
  { 4, { 8, 1, 4, 4 },
    "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (8, 1, 4"
    ", 4), }                                                    \n" },
  { 3, { 12345, 67890, 3 },
    "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (12345, "
    "67890, 3), }                                               \n" },
  { 8, { 1, 2, 3, 4, 5, 6, 7, 8 },
    "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3"
    ", 4, 5, 6, 7, 8), }                                        \n" },
  { 1, { 0 },
    "\x93NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (0,), } "
    "                                                           \n" },
};

static void
header_matches_numpy_bytes (void)
{
  for (size_t i = 0; i < sizeof numpy_headers / sizeof numpy_headers[0]; i++)
    {
      const numpy_header *h = &numpy_headers[i];
      char                buf[256];
      size_t              len = 0, diff = 0;

      memset (buf, 0x7e, sizeof buf);
      CHECK_STATUS (tconv_npy_header (h->ndim == 0 ? NULL : h->shape, h->ndim, buf, sizeof buf,
                                      &len, NULL));
      while (diff < 128 && buf[diff] == h->bytes[diff])
        diff++;
      CHECK (len == 128 && diff == 128 && buf[128] == 0x7e,
             "header_matches_numpy_bytes: ndim %u shape[0] %zu: length %zu, first difference at "
             "byte %zu, nothing written past the header", h->ndim, h->shape[0], len, diff);
    }
}

static void
header_round_trip_through_parser (void)
{
  test_rng rng;
  int      ok = 1;

  test_rng_init (&rng, 77);
  for (int iter = 0; iter < 300 && ok; iter++)
    {
      unsigned  ndim = (unsigned) test_rng_range (&rng, 0, TCONV_NPY_MAX_NDIM);
      size_t    shape[TCONV_NPY_MAX_NDIM];
      size_t    count = 1, hlen = 0;
      char      head[256];
      float    *values, *back;
      npy_file  f;
      tconv_npy npy;

      for (unsigned i = 0; i < ndim; i++)
        {
          /* mostly 1..3, sometimes 0 or a wide first axis */
          if (test_rng_range (&rng, 0, 12) == 0)
            shape[i] = 0;
          else
            shape[i] = (size_t) test_rng_range (&rng, 1, i == 0 ? 300 : 3);
          count *= shape[i];
        }
      if (tconv_npy_header (shape, ndim, head, sizeof head, &hlen, NULL) != TCONV_OK
          || hlen != 128 ||
          head[hlen - 1] != '\n')
        {
          ok = 0;
          test_diag ("round trip %d: header failed or misaligned (%zu bytes)", iter, hlen);
          break;
        }
      values = test_malloc ((count + 1) * sizeof (float));
      back = test_alloc_poisoned (count + 1);
      test_rng_fill (&rng, values, count);
      {
        unsigned char *payload = test_malloc (count * 4 + 1);
        for (size_t i = 0; i < count; i++)
          {
            uint32_t u;
            memcpy (&u, &values[i], 4);
            for (unsigned j = 0; j < 4; j++)
              payload[4 * i + j] = (unsigned char) (u >> (8 * j));
          }
        f.len = hlen + count * 4;
        f.bytes = test_malloc (f.len);
        memcpy (f.bytes, head, hlen);
        memcpy (f.bytes + hlen, payload, count * 4);
        free (payload);
      }
      if (tconv_npy_parse (f.bytes, f.len, &npy, NULL) != TCONV_OK ||
          npy.dtype != TCONV_NPY_F32_LE || !shape_is (&npy, ndim, shape) ||
          tconv_npy_to_float (&npy, back, count, NULL) != TCONV_OK ||
          (count != 0 && memcmp (back, values, count * sizeof (float)) != 0))
        {
          ok = 0;
          test_diag ("round trip %d: ndim %u count %zu did not come back", iter, ndim, count);
        }
      free (values);
      free (back);
      npy_file_clear (&f);
    }
  CHECK (ok, "header_round_trip_through_parser: 300 random shapes (seed %llu)",
         (unsigned long long) rng.seed);
}

static void
header_size_query_and_small_buffer (void)
{
  size_t shape[3] = { 3, 4, 5 };
  size_t len = 0;
  char   buf[128];
  int    untouched = 1;

  CHECK (tconv_npy_header (shape, 3, NULL, 0, &len, NULL) == TCONV_OK && len == 128,
         "header_size_query_null_buffer: %zu bytes", len);
  memset (buf, 0x7e, sizeof buf);
  len = 0;
  CHECK (tconv_npy_header (shape, 3, buf, 127, &len, NULL) == TCONV_ERR_TOO_LARGE && len == 128,
         "header_buffer_one_byte_short: too large, needs %zu", len);
  for (size_t i = 0; i < sizeof buf; i++)
    untouched &= buf[i] == 0x7e;
  CHECK (untouched, "header_buffer_one_byte_short: nothing written");
  CHECK (tconv_npy_header (shape, 3, buf, 128, &len, NULL) == TCONV_OK && len == 128,
         "header_buffer_exact: fits");
}

static void
header_rejects_bad_arguments (void)
{
  size_t shape[TCONV_NPY_MAX_NDIM + 1] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  size_t len = 0;
  char   buf[256];

  CHECK (tconv_npy_header (shape, TCONV_NPY_MAX_NDIM + 1, buf, sizeof buf, &len, NULL) ==
           TCONV_ERR_INVALID_ARG,
         "header_nine_dimensions: invalid argument");
  CHECK (tconv_npy_header (NULL, 2, buf, sizeof buf, &len, NULL) == TCONV_ERR_INVALID_ARG,
         "header_null_shape: invalid argument");
  CHECK (tconv_npy_header (shape, 2, buf, sizeof buf, NULL, NULL) == TCONV_ERR_INVALID_ARG,
         "header_null_length: invalid argument");
#if SIZE_MAX >= UINT64_MAX
  {
    size_t big[2] = { (size_t) 1 << 63, 1 };
    size_t largest[1] = { ((size_t) 1 << 62) - 1 };
    size_t over[2] = { (size_t) 1 << 62, 0 };
    CHECK (tconv_npy_header (big, 1, buf, sizeof buf, &len, NULL) == TCONV_ERR_TOO_LARGE,
           "header_dimension_2_pow_63: too large");
    CHECK (tconv_npy_header (over, 2, buf, sizeof buf, &len, NULL) == TCONV_ERR_TOO_LARGE,
           "header_bytes_overflow_beside_zero_axis: too large, as the parser says");
    CHECK (tconv_npy_header (largest, 1, buf, sizeof buf, &len, NULL) == TCONV_OK && len == 128 &&
             memcmp (buf + 10 + 49, " (4611686018427387903,), }", 26) == 0,
           "header_largest_f4_dimension: written");
  }
#endif
}

int
main (void)
{
  test_begin ("test-npy");

  numpy_file_f4_c_order ();
  numpy_file_f8_big_endian ();
  versions_1_2_3 ();
  key_orders_all_permutations ();
  spacing_compact_and_generous ();
  double_quotes_and_mixed_quotes ();
  no_trailing_comma ();
  old_numpy_16_byte_padding ();
  trailing_blank_and_newline_padding ();
  scalar_shape_empty_tuple ();
  one_d_shapes ();
  four_d_and_max_ndim ();
  zero_length_axes ();
  header_length_limit_exact ();

  big_endian_f4_values ();
  f8_rounding_to_float ();
  unaligned_payload ();
  to_float_rejects_bad_arguments ();

  malformed_preamble ();
  malformed_header_dicts ();
  malformed_trailer ();
  parse_rejects_bad_arguments ();

  every_prefix_is_rejected ();
  random_mutations_stay_safe ();

  header_matches_numpy_bytes ();
  header_round_trip_through_parser ();
  header_size_query_and_small_buffer ();
  header_rejects_bad_arguments ();

  return test_end ();
}
