/* SPDX-License-Identifier: GPL-3.0-or-later */
/* .npy files in memory: a strict parser of the v1/v2/v3 preamble and its Python dict header,
 * conversion of the four float dtypes to native float32, and NumPy's own v1.0 header writer.
 * No I/O, no allocation; every offset and length is checked before the bytes behind it are read. */
#include "tconv-private.h"

#include <limits.h>
#include <string.h>

#define NPY_MAGIC_LEN    6u
#define NPY_PREAMBLE_V1  10u /* magic, major, minor, uint16 header length */
#define NPY_PREAMBLE_V2  12u /* magic, major, minor, uint32 header length */
#define NPY_ALIGN        64u /* numpy.lib.format.ARRAY_ALIGN */
#define NPY_GROWTH_DIGITS 21 /* numpy.lib.format.GROWTH_AXIS_MAX_DIGITS */
#define NPY_DIM_MAX      ((uint64_t) INT64_MAX) /* NumPy dimensions are npy_intp */
#define NPY_QUOTE_MAX    24u /* bytes of a bad value quoted in a message */

static const unsigned char npy_magic[NPY_MAGIC_LEN] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

/* ---------------------------------------------------------------------------------------------
 * Errors: line 1, column = 1-based byte offset in the file.
 */

#if defined(__GNUC__)
__attribute__ ((format (printf, 4, 5)))
#endif
static tconv_status
npy_fail (tconv_error *err, tconv_status status, size_t offset, const char *fmt, ...)
{
  if (err != NULL)
    {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (err->message, sizeof err->message, fmt, ap);
      va_end (ap);
      err->line = 1;
      err->column = offset < UINT_MAX ? (unsigned) offset + 1 : UINT_MAX;
    }
  return status;
}

/* Writes at most NPY_QUOTE_MAX bytes of @s as printable ASCII into @out (escaping quotes,
 * backslashes, control and non-ASCII bytes as \xNN), with "..." when cut. @out needs
 * 4 * NPY_QUOTE_MAX + 4 bytes. */
static const char *
npy_quote (const unsigned char *s, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";
  size_t            o = 0;

  for (size_t i = 0; i < n && i < NPY_QUOTE_MAX; i++)
    {
      unsigned char ch = s[i];
      if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '"' && ch != '\\')
        out[o++] = (char) ch;
      else
        {
          out[o++] = '\\';
          out[o++] = 'x';
          out[o++] = hex[ch >> 4];
          out[o++] = hex[ch & 15];
        }
    }
  if (n > NPY_QUOTE_MAX)
    {
      memcpy (out + o, "...", 3);
      o += 3;
    }
  out[o] = '\0';
  return out;
}

/* ---------------------------------------------------------------------------------------------
 * The header tokenizer. The header is the byte range [0, len) of @p; @base is its offset in the
 * file, so that errors report file columns.
 */

typedef struct npy_cursor
{
  const unsigned char *p;
  size_t               len;
  size_t               pos;
  size_t               base;
  tconv_error         *err;
} npy_cursor;

typedef enum npy_key
{
  NPY_KEY_DESCR,
  NPY_KEY_FORTRAN_ORDER,
  NPY_KEY_SHAPE,
  NPY_KEY_COUNT
} npy_key;

static const char *const npy_key_names[NPY_KEY_COUNT] = { "descr", "fortran_order", "shape" };

static size_t
npy_col (const npy_cursor *c, size_t pos)
{
  return c->base + pos;
}

static int
npy_at_end (const npy_cursor *c)
{
  return c->pos >= c->len;
}

/* Python's whitespace inside brackets: blanks, tabs, form feeds and line breaks. */
static void
npy_skip_space (npy_cursor *c)
{
  while (c->pos < c->len)
    {
      unsigned char ch = c->p[c->pos];
      if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\f')
        break;
      c->pos++;
    }
}

/* Describes what is at the cursor, for "expected X, found Y" messages; @out needs 16 bytes. */
static const char *
npy_found (const npy_cursor *c, char *out)
{
  unsigned char ch;

  if (npy_at_end (c))
    return strcpy (out, "end of header");
  ch = c->p[c->pos];
  if (ch == '\'')
    return strcpy (out, "\"'\"");
  if (ch >= 0x20 && ch < 0x7f)
    snprintf (out, 16, "'%c'", ch);
  else
    snprintf (out, 16, "byte 0x%02x", (unsigned) ch);
  return out;
}

static tconv_status
npy_expected (npy_cursor *c, const char *what)
{
  char found[16];

  return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, c->pos), "expected %s, found %s", what,
                   npy_found (c, found));
}

static tconv_status
npy_expect_char (npy_cursor *c, char ch, const char *what)
{
  if (npy_at_end (c) || c->p[c->pos] != (unsigned char) ch)
    return npy_expected (c, what);
  c->pos++;
  return TCONV_OK;
}

/* A quoted string without escapes: 'abc' or "abc". On success *s, *n are its contents. */
static tconv_status
npy_parse_string (npy_cursor *c, const char *what, const unsigned char **s, size_t *n)
{
  size_t        start = c->pos;
  unsigned char quote;

  if (npy_at_end (c) || (c->p[c->pos] != '\'' && c->p[c->pos] != '"'))
    return npy_expected (c, what);
  quote = c->p[c->pos++];
  while (c->pos < c->len && c->p[c->pos] != quote)
    {
      unsigned char ch = c->p[c->pos];
      if (ch == '\\')
        return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, c->pos),
                         "backslash in a string: escape sequences are not accepted");
      if (ch == '\n' || ch == '\r' || ch == '\0')
        break;
      c->pos++;
    }
  if (c->pos >= c->len || c->p[c->pos] != quote)
    return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, start),
                     "unterminated string: a string must close on the same line");
  *s = c->p + start + 1;
  *n = c->pos - start - 1;
  c->pos++;
  return TCONV_OK;
}

static int
npy_is_ident_char (unsigned char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_';
}

static int
npy_is_digit (unsigned char ch)
{
  return ch >= '0' && ch <= '9';
}

static tconv_status
npy_parse_bool (npy_cursor *c, int *value)
{
  size_t start = c->pos;
  size_t n;
  char   q[4 * NPY_QUOTE_MAX + 4];

  while (c->pos < c->len && npy_is_ident_char (c->p[c->pos]))
    c->pos++;
  n = c->pos - start;
  if (n == 4 && memcmp (c->p + start, "True", 4) == 0)
    *value = 1;
  else if (n == 5 && memcmp (c->p + start, "False", 5) == 0)
    *value = 0;
  else if (n == 0)
    {
      c->pos = start;
      return npy_expected (c, "True or False for fortran_order");
    }
  else
    return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, start),
                     "fortran_order %s: must be True or False",
                     npy_quote (c->p + start, n, q));
  return TCONV_OK;
}

/* A non-negative decimal integer as Python writes it: no sign, no leading zeros, no
 * underscores, no suffix. Values >= 2^63 (NumPy's npy_intp) or > SIZE_MAX are too large. */
static tconv_status
npy_parse_dim (npy_cursor *c, size_t *dim)
{
  size_t   start = c->pos;
  uint64_t v = 0;
  int      overflow = 0;
  char     q[4 * NPY_QUOTE_MAX + 4];

  if (!npy_at_end (c) && c->p[c->pos] == '-')
    {
      size_t end = c->pos + 1;
      while (end < c->len && npy_is_digit (c->p[end]))
        end++;
      if (end > c->pos + 1)
        return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, start),
                         "dimension %s: must be >= 0", npy_quote (c->p + start, end - start, q));
    }
  if (npy_at_end (c) || !npy_is_digit (c->p[c->pos]))
    return npy_expected (c, "a dimension (a non-negative integer)");

  while (c->pos < c->len && npy_is_digit (c->p[c->pos]))
    {
      unsigned d = (unsigned) (c->p[c->pos] - '0');
      if (v > (NPY_DIM_MAX - d) / 10)
        overflow = 1;
      else
        v = v * 10 + d;
      c->pos++;
    }
  /* "5.0", "0x10", "1_000", "5L", "5j", "1e3": anything glued to the digits. */
  if (c->pos < c->len && (npy_is_ident_char (c->p[c->pos]) || c->p[c->pos] == '.'))
    {
      size_t end = c->pos;
      while (end < c->len && (npy_is_ident_char (c->p[end]) || c->p[end] == '.'))
        end++;
      return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, start),
                       "dimension %s: must be a plain decimal integer",
                       npy_quote (c->p + start, end - start, q));
    }
  if (c->pos - start > 1 && c->p[start] == '0')
    return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, start),
                     "dimension %s: leading zeros are not allowed",
                     npy_quote (c->p + start, c->pos - start, q));
  if (overflow)
    return npy_fail (c->err, TCONV_ERR_TOO_LARGE, npy_col (c, start),
                     "dimension %s: must be < 2^63", npy_quote (c->p + start, c->pos - start, q));
  if (v > SIZE_MAX)
    return npy_fail (c->err, TCONV_ERR_TOO_LARGE, npy_col (c, start),
                     "dimension %llu: must be <= SIZE_MAX (%llu)", (unsigned long long) v,
                     (unsigned long long) SIZE_MAX);
  *dim = (size_t) v;
  return TCONV_OK;
}

/* A tuple of dimensions: (), (5,), (2, 3), (2, 3,). */
static tconv_status
npy_parse_shape (npy_cursor *c, size_t *shape, unsigned *ndim)
{
  size_t       open = c->pos;
  unsigned     n = 0;
  tconv_status st;

  if (npy_at_end (c) || c->p[c->pos] != '(')
    return npy_expected (c, "'(' opening the shape tuple");
  c->pos++;
  npy_skip_space (c);
  if (!npy_at_end (c) && c->p[c->pos] == ')')
    {
      c->pos++;
      *ndim = 0;
      return TCONV_OK;
    }
  for (;;)
    {
      size_t dim_pos = c->pos;
      size_t dim = 0;

      if ((st = npy_parse_dim (c, &dim)) != TCONV_OK)
        return st;
      if (n == TCONV_NPY_MAX_NDIM)
        return npy_fail (c->err, TCONV_ERR_TOO_LARGE, npy_col (c, dim_pos),
                         "shape with more than %u dimensions: ndim must be <= %u",
                         TCONV_NPY_MAX_NDIM, TCONV_NPY_MAX_NDIM);
      shape[n++] = dim;
      npy_skip_space (c);
      if (!npy_at_end (c) && c->p[c->pos] == ',')
        {
          c->pos++;
          npy_skip_space (c);
          if (!npy_at_end (c) && c->p[c->pos] == ')')
            {
              c->pos++;
              break;
            }
          continue;
        }
      if (!npy_at_end (c) && c->p[c->pos] == ')')
        {
          if (n == 1)
            return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, open),
                             "shape (%zu) is an integer, not a tuple: a 1-D shape is written "
                             "(%zu,)", shape[0], shape[0]);
          c->pos++;
          break;
        }
      return npy_expected (c, "',' or ')' in the shape tuple");
    }
  *ndim = n;
  return TCONV_OK;
}

static tconv_status
npy_parse_descr (npy_cursor *c, tconv_npy_dtype *dtype)
{
  static const struct
  {
    const char     *text;
    tconv_npy_dtype dtype;
  } known[] = {
    { "<f4", TCONV_NPY_F32_LE },
    { ">f4", TCONV_NPY_F32_BE },
    { "<f8", TCONV_NPY_F64_LE },
    { ">f8", TCONV_NPY_F64_BE },
  };
  size_t               start = c->pos;
  const unsigned char *s;
  size_t               n;
  tconv_status         st;
  char                 q[4 * NPY_QUOTE_MAX + 4];

  if ((st = npy_parse_string (c, "a string for descr", &s, &n)) != TCONV_OK)
    return st;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (n == 3 && memcmp (s, known[i].text, 3) == 0)
      {
        *dtype = known[i].dtype;
        return TCONV_OK;
      }
  return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, start),
                   "descr '%s': must be one of '<f4', '>f4', '<f8', '>f8'", npy_quote (s, n, q));
}

/* Formats @shape as a Python tuple into @out (at least 24 * TCONV_NPY_MAX_NDIM bytes). */
static const char *
npy_shape_text (const size_t *shape, unsigned ndim, char *out, size_t cap)
{
  size_t o = 0;

  o += (size_t) snprintf (out + o, cap - o, "(");
  for (unsigned i = 0; i < ndim && o < cap; i++)
    o += (size_t) snprintf (out + o, cap - o, i == 0 ? "%zu" : ", %zu", shape[i]);
  if (o < cap)
    snprintf (out + o, cap - o, ndim == 1 ? ",)" : ")");
  return out;
}

typedef struct npy_header
{
  tconv_npy_dtype dtype;
  int             fortran_order;
  unsigned        ndim;
  size_t          shape[TCONV_NPY_MAX_NDIM];
  size_t          key_pos[NPY_KEY_COUNT]; /* header offsets of the values, for messages */
} npy_header;

/* The whole header: a dict literal, then only blanks and newlines, the last byte '\n'. */
static tconv_status
npy_parse_dict (npy_cursor *c, npy_header *h)
{
  int          seen[NPY_KEY_COUNT] = { 0 };
  tconv_status st;
  char         q[4 * NPY_QUOTE_MAX + 4];

  if (npy_at_end (c) || c->p[c->pos] != '{')
    return npy_expected (c, "'{' at the start of the header");
  c->pos++;
  for (;;)
    {
      size_t               key_start;
      const unsigned char *s;
      size_t               n;
      unsigned             k;

      npy_skip_space (c);
      if (!npy_at_end (c) && c->p[c->pos] == '}')
        break;
      key_start = c->pos;
      if ((st = npy_parse_string (c, "a quoted key or '}'", &s, &n)) != TCONV_OK)
        return st;
      for (k = 0; k < NPY_KEY_COUNT; k++)
        if (strlen (npy_key_names[k]) == n && memcmp (npy_key_names[k], s, n) == 0)
          break;
      if (k == NPY_KEY_COUNT)
        return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, key_start),
                         "key '%s': must be one of 'descr', 'fortran_order', 'shape'",
                         npy_quote (s, n, q));
      if (seen[k])
        return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, key_start),
                         "key '%s' repeated: each key must appear once", npy_key_names[k]);
      seen[k] = 1;

      npy_skip_space (c);
      if ((st = npy_expect_char (c, ':', "':' after the key")) != TCONV_OK)
        return st;
      npy_skip_space (c);
      h->key_pos[k] = c->pos;
      if (k == NPY_KEY_DESCR)
        st = npy_parse_descr (c, &h->dtype);
      else if (k == NPY_KEY_FORTRAN_ORDER)
        st = npy_parse_bool (c, &h->fortran_order);
      else
        st = npy_parse_shape (c, h->shape, &h->ndim);
      if (st != TCONV_OK)
        return st;

      npy_skip_space (c);
      if (!npy_at_end (c) && c->p[c->pos] == ',')
        {
          c->pos++;
          continue;
        }
      if (!npy_at_end (c) && c->p[c->pos] == '}')
        break;
      return npy_expected (c, "',' or '}' after a value");
    }

  for (unsigned k = 0; k < NPY_KEY_COUNT; k++)
    if (!seen[k])
      return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, c->pos),
                       "key '%s' missing: the header needs 'descr', 'fortran_order' and "
                       "'shape'", npy_key_names[k]);
  c->pos++; /* the '}' */

  /* NumPy pads with blanks and ends with '\n'; nothing else may follow the dict. */
  while (c->pos < c->len && (c->p[c->pos] == ' ' || c->p[c->pos] == '\n'))
    c->pos++;
  if (!npy_at_end (c))
    {
      char found[16];
      return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, c->pos),
                       "%s after the closing '}': only blanks and newlines may follow",
                       npy_found (c, found));
    }
  if (c->p[c->len - 1] != '\n')
    return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, c->len - 1),
                     "header does not end with a newline: NumPy ends it with '\\n'");

  if (h->fortran_order && h->ndim > 1)
    return npy_fail (c->err, TCONV_ERR_PARSE, npy_col (c, h->key_pos[NPY_KEY_FORTRAN_ORDER]),
                     "fortran_order True with %u dimensions: only C order is accepted when "
                     "ndim >= 2", h->ndim);
  return TCONV_OK;
}

static size_t
npy_itemsize (tconv_npy_dtype dtype)
{
  return (dtype == TCONV_NPY_F64_LE || dtype == TCONV_NPY_F64_BE) ? 8 : 4;
}

tconv_status
tconv_npy_parse (const void  *bytes,
                 size_t       len,
                 tconv_npy   *npy,
                 tconv_error *err)
{
  const unsigned char *b = bytes;
  unsigned             major, minor;
  size_t               hoff, hlen, doff, avail, nbytes, count;
  npy_header           h;
  npy_cursor           c;
  tconv_status         st;
  char                 text[24 * TCONV_NPY_MAX_NDIM + 8];

  if (npy == NULL || (bytes == NULL && len != 0))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s is NULL: must point to %s",
                       npy == NULL ? "npy" : "bytes",
                       npy == NULL ? "a tconv_npy" : "the file bytes");

  /* Preamble: magic, version, header length; nothing past @len is ever read. */
  for (size_t i = 0; i < NPY_MAGIC_LEN; i++)
    {
      if (i == len)
        return npy_fail (err, TCONV_ERR_PARSE, len,
                         "truncated: file of %zu bytes ends inside the magic \\x93NUMPY", len);
      if (b[i] != npy_magic[i])
        return npy_fail (err, TCONV_ERR_PARSE, i,
                         "magic byte %zu is 0x%02x: a .npy file starts with \\x93NUMPY", i,
                         (unsigned) b[i]);
    }
  if (len < 8)
    return npy_fail (err, TCONV_ERR_PARSE, len,
                     "truncated: file of %zu bytes ends before the version", len);
  major = b[6];
  minor = b[7];
  if (major < 1 || major > 3 || minor != 0)
    return npy_fail (err, TCONV_ERR_PARSE, major < 1 || major > 3 ? 6 : 7,
                     "version %u.%u: must be 1.0, 2.0 or 3.0", major, minor);
  hoff = major == 1 ? NPY_PREAMBLE_V1 : NPY_PREAMBLE_V2;
  if (len < hoff)
    return npy_fail (err, TCONV_ERR_PARSE, len,
                     "truncated: file of %zu bytes ends inside the header length", len);
  if (major == 1)
    hlen = (size_t) b[8] | (size_t) b[9] << 8;
  else
    hlen = (size_t) ((uint32_t) b[8] | (uint32_t) b[9] << 8 | (uint32_t) b[10] << 16 |
                     (uint32_t) b[11] << 24);
  if (hlen > TCONV_NPY_MAX_HEADER)
    return npy_fail (err, TCONV_ERR_TOO_LARGE, 8, "header length %zu: must be <= %u", hlen,
                     TCONV_NPY_MAX_HEADER);
  if (hlen > len - hoff)
    return npy_fail (err, TCONV_ERR_PARSE, 8,
                     "header length %zu: extends past the end of the file (%zu bytes after "
                     "the preamble)", hlen, len - hoff);

  /* The dict. */
  memset (&h, 0, sizeof h);
  c = (npy_cursor) { .p = b + hoff, .len = hlen, .pos = 0, .base = hoff, .err = err };
  if ((st = npy_parse_dict (&c, &h)) != TCONV_OK)
    return st;

  /* Element count and byte size. As in NumPy, zero-length axes do not excuse an overflowing
   * product of the others. */
  nbytes = npy_itemsize (h.dtype);
  count = 1;
  for (unsigned i = 0; i < h.ndim; i++)
    {
      if (h.shape[i] == 0)
        count = 0;
      else if (!tconv_mul_size (nbytes, h.shape[i], &nbytes))
        return npy_fail (err, TCONV_ERR_TOO_LARGE, hoff + h.key_pos[NPY_KEY_SHAPE],
                         "shape %s: %zu-byte elements overflow size_t",
                         npy_shape_text (h.shape, h.ndim, text, sizeof text),
                         npy_itemsize (h.dtype));
    }
  if (count != 0)
    count = nbytes / npy_itemsize (h.dtype);
  else
    nbytes = 0;

  /* The payload must be exactly the array. */
  doff = hoff + hlen;
  avail = len - doff;
  if (avail < nbytes)
    return npy_fail (err, TCONV_ERR_PARSE, len,
                     "truncated: %zu bytes of data, expected %zu for shape %s", avail, nbytes,
                     npy_shape_text (h.shape, h.ndim, text, sizeof text));
  if (avail > nbytes)
    return npy_fail (err, TCONV_ERR_PARSE, doff + nbytes,
                     "trailing data: %zu bytes of data, expected %zu for shape %s", avail,
                     nbytes, npy_shape_text (h.shape, h.ndim, text, sizeof text));

  memset (npy, 0, sizeof *npy);
  npy->dtype = h.dtype;
  npy->ndim = h.ndim;
  memcpy (npy->shape, h.shape, h.ndim * sizeof h.shape[0]);
  npy->count = count;
  npy->data = b + doff;
  return TCONV_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Conversion. Elements are assembled from bytes in the file's order, so the host's byte order
 * and the payload's alignment do not matter; memcpy reinterprets the bits (float and integer
 * share one byte order on every supported platform).
 */

tconv_status
tconv_npy_to_float (const tconv_npy *npy, float *dst, size_t count, tconv_error *err)
{
  const unsigned char *src;
  size_t               itemsize;

  if (npy == NULL || (unsigned) npy->dtype > (unsigned) TCONV_NPY_F64_BE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, ".npy to float: NULL or unknown dtype");
  if (count != npy->count || (count != 0 && (dst == NULL || npy->data == NULL)))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       ".npy to float: count %zu: must equal the array's %zu, with non-NULL "
                       "data and destination", count, npy->count);
  itemsize = npy_itemsize (npy->dtype);
  if (count > SIZE_MAX / itemsize)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, ".npy to float: count %zu overflows",
                       count);
  src = npy->data;

  if (itemsize == 4)
    {
      int be = npy->dtype == TCONV_NPY_F32_BE;
      for (size_t i = 0; i < count; i++, src += 4)
        {
          uint32_t v = 0;
          for (unsigned j = 0; j < 4; j++)
            v |= (uint32_t) src[be ? j : 3 - j] << (8 * (3 - j));
          memcpy (&dst[i], &v, sizeof v);
        }
    }
  else
    {
      int be = npy->dtype == TCONV_NPY_F64_BE;
      for (size_t i = 0; i < count; i++, src += 8)
        {
          uint64_t v = 0;
          double   d;
          for (unsigned j = 0; j < 8; j++)
            v |= (uint64_t) src[be ? j : 7 - j] << (8 * (7 - j));
          memcpy (&d, &v, sizeof d);
          /* IEEE 754 conversion (C11 Annex F): round to nearest even, beyond the float range
           * to +-inf, NaN stays NaN. */
          dst[i] = (float) d;
        }
    }
  return TCONV_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Writing: byte for byte what numpy.lib.format.write_array_header_1_0 writes for a '<f4' C-order
 * array (NumPy >= 1.24 adds GROWTH_AXIS_MAX_DIGITS - len(str(shape[0])) blanks after the dict).
 */

tconv_status
tconv_npy_header (const size_t *shape,
                  unsigned      ndim,
                  char         *buf,
                  size_t        cap,
                  size_t       *header_len,
                  tconv_error  *err)
{
  /* Dict, shape of up to 8 x 19 digits, growth blanks: well under 320 bytes. */
  char   dict[320];
  char   text[24 * TCONV_NPY_MAX_NDIM + 8];
  size_t n, hlen, pad, total, nbytes = sizeof (float);
  int    w;

  if (header_len == NULL || ndim > TCONV_NPY_MAX_NDIM || (shape == NULL && ndim != 0))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       ".npy header: ndim %u: must be 0..%u, with a shape unless 0 (and a "
                       "header_len pointer)", ndim, TCONV_NPY_MAX_NDIM);
  for (unsigned i = 0; i < ndim; i++)
    if ((uint64_t) shape[i] > NPY_DIM_MAX ||
        (shape[i] != 0 && !tconv_mul_size (nbytes, shape[i], &nbytes)))
      return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                         ".npy header: dimension %u of %zu: the array's bytes overflow", i,
                         shape[i]);

  w = snprintf (dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }",
                npy_shape_text (shape, ndim, text, sizeof text));
  TCONV_ASSERT (w > 0 && (size_t) w < sizeof dict - NPY_GROWTH_DIGITS);
  n = (size_t) w;
  if (ndim > 0)
    {
      int digits = snprintf (text, sizeof text, "%zu", shape[0]);
      for (int i = digits; i < NPY_GROWTH_DIGITS; i++)
        dict[n++] = ' ';
    }

  hlen = n + 1; /* with the final '\n' */
  pad = NPY_ALIGN - (NPY_PREAMBLE_V1 + hlen) % NPY_ALIGN; /* NumPy's formula: 1..64 */
  total = NPY_PREAMBLE_V1 + hlen + pad;
  TCONV_ASSERT (hlen + pad <= 0xffffu && total % NPY_ALIGN == 0);
  *header_len = total;
  if (buf == NULL)
    return TCONV_OK;
  if (cap < total)
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       ".npy header: buffer of %zu bytes: needs %zu", cap, total);

  memcpy (buf, npy_magic, NPY_MAGIC_LEN);
  buf[6] = 1;
  buf[7] = 0;
  buf[8] = (char) ((hlen + pad) & 0xff);
  buf[9] = (char) ((hlen + pad) >> 8);
  memcpy (buf + NPY_PREAMBLE_V1, dict, n);
  memset (buf + NPY_PREAMBLE_V1 + n, ' ', pad);
  buf[total - 1] = '\n';
  return TCONV_OK;
}
