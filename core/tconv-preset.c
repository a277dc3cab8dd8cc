/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The .tconv kernel text format (presets/README.md). The parser is strict and reports the
 * line:column of the first offending byte or token; the writer's output parses back to the
 * same kernel bit for bit. Neither depends on the C locale: numbers are scanned here and
 * handed to strtof() without a decimal point, and printed floats get their point normalised. */
#include "tconv-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Defined in tconv-kernel.c. */

#define TCONV_LINE_MAX   65536u /* bytes per line, without its LF or CRLF */
#define TCONV_NUMBER_MAX 64u    /* characters per number token */
#define SHOW_MAX         40     /* bytes of a bad token quoted in a message */

/* ---------------------------------------------------------------------------------------------
 * Numbers
 */

typedef enum number_result
{
  NUMBER_OK,
  NUMBER_SYNTAX,
  NUMBER_NONFINITE,
  NUMBER_HEX,
  NUMBER_PLUS,
  NUMBER_COMMA,
  NUMBER_TOO_LONG,
  NUMBER_RANGE
} number_result;

static bool
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

static bool
starts_with_ci (const char *s, size_t n, const char *word)
{
  size_t w = strlen (word);

  if (n < w)
    return false;
  for (size_t i = 0; i < w; i++)
    if ((s[i] | 0x20) != word[i])
      return false;
  return true;
}

/* Scans @s (@n bytes, no blanks) as -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, the JSON
 * number grammar, and converts it to the nearest float. The digits are rewritten without a
 * decimal point ("-1.25e-3" -> "-125e-5") so that strtof() cannot see a locale's point. */
static number_result
scan_float (const char *s, size_t n, float *out)
{
  char   buf[TCONV_NUMBER_MAX + 16];
  size_t i = 0, b = 0, frac = 0, sign_len;
  long   exp10 = 0;
  bool   exp_neg = false;
  char  *end;
  float  f;

  if (n > TCONV_NUMBER_MAX)
    return NUMBER_TOO_LONG;
  if (memchr (s, ',', n) != NULL)
    return NUMBER_COMMA;
  sign_len = (n > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (starts_with_ci (s + sign_len, n - sign_len, "nan")
      || starts_with_ci (s + sign_len, n - sign_len, "inf"))
    return NUMBER_NONFINITE;
  if (n - sign_len >= 2 && s[sign_len] == '0' && (s[sign_len + 1] | 0x20) == 'x')
    return NUMBER_HEX;
  if (n > 0 && s[0] == '+')
    return NUMBER_PLUS;

  if (i < n && s[i] == '-')
    buf[b++] = s[i++];
  if (i >= n || !is_digit (s[i]))
    return NUMBER_SYNTAX;
  if (s[i] == '0')
    {
      i++;
      if (i < n && is_digit (s[i]))
        return NUMBER_SYNTAX; /* leading zero */
    }
  else
    while (i < n && is_digit (s[i]))
      buf[b++] = s[i++];
  if (i < n && s[i] == '.')
    {
      i++;
      if (i >= n || !is_digit (s[i]))
        return NUMBER_SYNTAX;
      while (i < n && is_digit (s[i]))
        {
          /* Leading zeros of the fraction of "0.00x" carry no digit. */
          if (s[i] != '0' || b > sign_len)
            buf[b++] = s[i];
          frac++;
          i++;
        }
    }
  if (i < n && (s[i] == 'e' || s[i] == 'E'))
    {
      i++;
      if (i < n && (s[i] == '+' || s[i] == '-'))
        exp_neg = s[i++] == '-';
      if (i >= n || !is_digit (s[i]))
        return NUMBER_SYNTAX;
      /* Saturate: beyond 10^100000 every value is 0 or out of range anyway. */
      while (i < n && is_digit (s[i]))
        {
          if (exp10 < 100000)
            exp10 = exp10 * 10 + (s[i] - '0');
          i++;
        }
    }
  if (i != n)
    return NUMBER_SYNTAX;

  if (b == sign_len)
    buf[b++] = '0';
  /* b <= 1 + 64 and frac <= 64, so buf has room for "e-100064". */
  snprintf (buf + b, sizeof buf - b, "e%ld", (exp_neg ? -exp10 : exp10) - (long) frac);
  f = strtof (buf, &end);
  TCONV_ASSERT (*end == '\0');
  /* Underflow to a subnormal or zero is fine (strtof rounds correctly); overflow is not. */
  if (!isfinite (f))
    return NUMBER_RANGE;
  *out = f;
  return NUMBER_OK;
}

/* "%.Ng" of @f with whatever a locale uses as decimal point turned into '.'; its length. */
static size_t
print_float (float f, int prec, char out[32])
{
  char   tmp[320]; /* room for any double, though a float needs 16 */
  size_t j = 0;
  bool   in_point = false;

  snprintf (tmp, sizeof tmp, "%.*g", prec, (double) f);
  for (const char *c = tmp; *c != '\0' && j < 31; c++)
    {
      if (is_digit (*c) || *c == '-' || *c == '+' || *c == 'e')
        {
          out[j++] = *c;
          in_point = false;
        }
      else if (!in_point)
        {
          out[j++] = '.';
          in_point = true;
        }
    }
  out[j] = '\0';
  return j;
}

static bool
reads_back (const char *s, size_t n, float f)
{
  float back;
  return scan_float (s, n, &back) == NUMBER_OK && memcmp (&back, &f, sizeof f) == 0;
}

/* The shortest text that scans back to exactly @f, so that 0.1f prints as 0.1 and 10.0f as
 * 10: the fewest significant digits N (1..9; 9 always do for a float) for which "%.Ng" reads
 * back. If N digits read back so do N + 1 (the nearest N + 1 digit decimal is at least as
 * close), so N is found by bisection. When that text is in exponent form, the plain form
 * with the digits up to the units may be shorter ("10" rather than "1e+01"). */
static void
format_float (float f, char out[32])
{
  char        alt[32];
  const char *e;
  size_t      n, alt_n;
  int         lo = 1, hi = 9, exp10;

  while (lo < hi)
    {
      int mid = (lo + hi) / 2;
      n = print_float (f, mid, out);
      if (reads_back (out, n, f))
        hi = mid;
      else
        lo = mid + 1;
    }
  n = print_float (f, lo, out);
  TCONV_ASSERT (reads_back (out, n, f));

  /* %g picked the exponent form because the exponent X >= N; with N = X + 1 it is plain. */
  if (strchr (out, 'e') == NULL)
    return;
  e = strchr (out, 'e') + 1;
  if (*e == '-')
    return; /* x < 1e-4: %g has no plain form for it */
  exp10 = 0;
  for (e += *e == '+'; is_digit (*e); e++)
    exp10 = exp10 * 10 + (*e - '0'); /* two digits at most for a float */
  if (exp10 < lo || exp10 >= 9)
    return;
  alt_n = print_float (f, exp10 + 1, alt);
  if (alt_n < n && reads_back (alt, alt_n, f))
    memcpy (out, alt, alt_n + 1);
}

/* ---------------------------------------------------------------------------------------------
 * Parser: lines, tokens, values
 */

typedef struct parser
{
  const unsigned char *text;
  size_t               len;
  size_t               next;     /* offset of the next line */
  unsigned             line_no;  /* current line, 1-based; 0 before the first */
  const char          *line;     /* current line, without LF / CRLF */
  size_t               line_len;
  size_t               cur;      /* cursor in the line */
  bool                 ended_lf; /* the current line ended with LF */
  tconv_error         *err;
  tconv_kernel        *k;
  char                *comments;
  size_t               comments_len;
  bool                 have_comments;
  bool                 want_bank;   /* tconv_bank_parse(): version 2 expected */
} parser;

#if defined(__GNUC__)
__attribute__ ((format (printf, 3, 4)))
#endif
static tconv_status
fail_at (parser *p, size_t col_index, const char *fmt, ...)
{
  if (p->err != NULL)
    {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (p->err->message, sizeof p->err->message, fmt, ap);
      va_end (ap);
      p->err->line = p->line_no;
      p->err->column = (unsigned) col_index + 1;
    }
  return TCONV_ERR_PARSE;
}

/* Error at the end of the text: after the last line, or at its end without a final LF. */
#if defined(__GNUC__)
__attribute__ ((format (printf, 2, 3)))
#endif
static tconv_status
fail_eof (parser *p, const char *fmt, ...)
{
  if (p->err != NULL)
    {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (p->err->message, sizeof p->err->message, fmt, ap);
      va_end (ap);
      if (p->line_no == 0 || p->ended_lf)
        {
          p->err->line = p->line_no + 1;
          p->err->column = 1;
        }
      else
        {
          p->err->line = p->line_no;
          p->err->column = (unsigned) p->line_len + 1;
        }
    }
  return TCONV_ERR_PARSE;
}

/* Length of a token quoted in a message: at most SHOW_MAX bytes, cut at a UTF-8 boundary. */
static int
show_len (const char *tok, size_t len)
{
  if (len <= SHOW_MAX)
    return (int) len;
  len = SHOW_MAX;
  while (len > 0 && ((unsigned char) tok[len] & 0xC0) == 0x80)
    len--;
  return (int) len;
}

#define SHOW(tok, len) show_len ((tok), (len)), (tok), ((len) > SHOW_MAX ? "..." : "")

/* Advances to the next line and checks its bytes: at most TCONV_LINE_MAX of them, UTF-8, no
 * NUL, no control character but tab, LF or CRLF line ends. Returns 1 with the line set, 0 at
 * the end of the text, -1 after an error. */
static int
next_line (parser *p, tconv_status *st)
{
  const unsigned char *start, *nl;
  size_t               avail, n;

  if (p->next >= p->len)
    return 0;
  start = p->text + p->next;
  avail = p->len - p->next;
  nl = memchr (start, '\n', avail);
  n = nl != NULL ? (size_t) (nl - start) : avail;
  p->next += nl != NULL ? n + 1 : n;
  p->line_no++;
  p->line = (const char *) start;
  p->cur = 0;
  p->ended_lf = nl != NULL;
  if (nl != NULL && n > 0 && start[n - 1] == '\r')
    n--;
  p->line_len = n;

  for (size_t i = 0; i < n;)
    {
      unsigned char c = start[i];
      const char   *why = NULL;
      uint32_t      cp;
      size_t        len;

      if (i >= TCONV_LINE_MAX)
        {
          *st = fail_at (p, TCONV_LINE_MAX, "line longer than %u bytes: not allowed",
                         TCONV_LINE_MAX);
          return -1;
        }
      if (c == '\0')
        {
          *st = fail_at (p, i, "NUL byte: not allowed in a text file");
          return -1;
        }
      if (c == '\r')
        {
          *st = fail_at (p, i, "carriage return without line feed: lines end with LF or CRLF");
          return -1;
        }
      if (c < 0x80)
        {
          if ((c < 0x20 && c != '\t') || c == 0x7F)
            {
              *st = fail_at (p, i, "control character U+%04X: not allowed", c);
              return -1;
            }
          i++;
          continue;
        }
      len = tconv_utf8_decode (start + i, n - i, &cp, &why);
      if (len == 0)
        {
          *st = fail_at (p, i, "invalid UTF-8 at byte 0x%02X: %s", c, why);
          return -1;
        }
      if (cp <= 0x9F)
        {
          *st = fail_at (p, i, "control character U+%04X: not allowed", (unsigned) cp);
          return -1;
        }
      i += len;
    }
  return 1;
}

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

static void
skip_blanks (parser *p)
{
  while (p->cur < p->line_len && is_blank (p->line[p->cur]))
    p->cur++;
}

/* Next blank-delimited token of the line; its length, 0 at the end of the line (then *@col is
 * the end of the line). */
static size_t
next_token (parser *p, const char **tok, size_t *col)
{
  size_t start;

  skip_blanks (p);
  start = p->cur;
  while (p->cur < p->line_len && !is_blank (p->line[p->cur]))
    p->cur++;
  *tok = p->line + start;
  *col = start;
  return p->cur - start;
}

static bool
token_is (const char *tok, size_t len, const char *word)
{
  return len == strlen (word) && memcmp (tok, word, len) == 0;
}

static bool
looks_numeric (const char *tok, size_t len)
{
  return len > 0 && (is_digit (tok[0]) || tok[0] == '-' || tok[0] == '+' || tok[0] == '.');
}

/* Counts the tokens left on the line without consuming them. */
static size_t
count_tokens (parser *p)
{
  size_t      saved = p->cur, n = 0, col;
  const char *tok;

  while (next_token (p, &tok, &col) > 0)
    n++;
  p->cur = saved;
  return n;
}

static tconv_status
expect_eol (parser *p, const char *after)
{
  const char *tok;
  size_t      col, len = next_token (p, &tok, &col);

  if (len > 0)
    return fail_at (p, col, "unexpected '%.*s%s' after %s: expected the end of the line",
                    SHOW (tok, len), after);
  return TCONV_OK;
}

/* Reads the next line that is neither blank nor a comment, keeping the comments. Returns 1,
 * 0 at the end of the text, -1 after an error (in *@st). */
static int next_content_line (parser *p, tconv_status *st);

static tconv_status
add_comment (parser *p)
{
  size_t hash = p->cur, start, n;
  char  *grown;

  start = hash + 1;
  if (start < p->line_len && p->line[start] == ' ')
    start++;
  n = p->line_len - start;
  for (size_t i = start; i < p->line_len; i++)
    if (p->line[i] == '\t')
      return fail_at (p, i, "tab in a comment: control characters are not allowed, use spaces");
  /* comments_len + '\n' + n, checked against the limit before anything is allocated. */
  if ((p->have_comments ? p->comments_len + 1 : 0) + n > TCONV_KERNEL_TEXT_MAX)
    return fail_at (p, hash, "comments longer than %u bytes in total: not allowed",
                    TCONV_KERNEL_TEXT_MAX);
  if (p->comments == NULL)
    {
      p->comments = malloc (TCONV_KERNEL_TEXT_MAX + 1);
      if (p->comments == NULL)
        return TCONV_ERR_NO_MEMORY;
    }
  grown = p->comments;
  if (p->have_comments)
    grown[p->comments_len++] = '\n';
  memcpy (grown + p->comments_len, p->line + start, n);
  p->comments_len += n;
  grown[p->comments_len] = '\0';
  p->have_comments = true;
  return TCONV_OK;
}

static int
next_content_line (parser *p, tconv_status *st)
{
  for (;;)
    {
      int r = next_line (p, st);

      if (r <= 0)
        return r;
      skip_blanks (p);
      if (p->cur == p->line_len)
        continue;
      if (p->line[p->cur] == '#')
        {
          if ((*st = add_comment (p)) != TCONV_OK)
            return -1;
          continue;
        }
      return 1;
    }
}

/* An unsigned decimal integer without sign or leading zeros, in lo..hi. */
static bool
scan_uint (const char *tok, size_t len, size_t lo, size_t hi, size_t *out)
{
  size_t v = 0;

  if (len == 0 || (tok[0] == '0' && len > 1))
    return false;
  for (size_t i = 0; i < len; i++)
    {
      if (!is_digit (tok[i]))
        return false;
      /* Saturate past hi: "99999999999999999999" must not wrap into range. */
      if (v <= hi)
        v = v * 10 + (size_t) (tok[i] - '0');
    }
  if (v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

/* @n (1 or 2) integers after @key, the i-th in lo[i]..hi[i]; @hint follows the range in
 * messages. */
static tconv_status
parse_uints (parser *p, const char *key, size_t n, const size_t *lo, const size_t *hi,
             const char *hint, size_t *out)
{
  const char *tok;
  size_t      col, len;

  for (size_t i = 0; i < n; i++)
    {
      len = next_token (p, &tok, &col);
      if (len == 0)
        return fail_at (p, col, "%s: expected %zu integer%s, found %zu", key, n,
                        n == 1 ? "" : "s", i);
      if (!scan_uint (tok, len, lo[i], hi[i], &out[i]))
        return fail_at (p, col, "%s %.*s%s: expected an integer %zu..%zu%s", key,
                        SHOW (tok, len), lo[i], hi[i], hint);
    }
  len = next_token (p, &tok, &col);
  if (len > 0)
    {
      size_t more = count_tokens (p);
      return fail_at (p, col, "%s: expected %zu integer%s, found %zu", key, n,
                      n == 1 ? "" : "s", n + 1 + more);
    }
  return TCONV_OK;
}

static tconv_status
number_error (parser *p, size_t col, const char *tok, size_t len, number_result r)
{
  switch (r)
    {
    case NUMBER_NONFINITE:
      return fail_at (p, col, "'%.*s%s': NaN and infinity are not allowed, weights are finite",
                      SHOW (tok, len));
    case NUMBER_HEX:
      return fail_at (p, col, "'%.*s%s': hexadecimal numbers are not allowed, use decimal",
                      SHOW (tok, len));
    case NUMBER_PLUS:
      return fail_at (p, col, "'%.*s%s': a leading '+' is not allowed", SHOW (tok, len));
    case NUMBER_COMMA:
      return fail_at (p, col, "'%.*s%s': numbers are separated by spaces, not commas",
                      SHOW (tok, len));
    case NUMBER_TOO_LONG:
      return fail_at (p, col, "number of %zu characters: at most %u allowed", len,
                      TCONV_NUMBER_MAX);
    case NUMBER_RANGE:
      return fail_at (p, col, "'%.*s%s': outside the float range (magnitude at most "
                      "3.40282347e+38)", SHOW (tok, len));
    case NUMBER_SYNTAX:
    case NUMBER_OK:
    default:
      return fail_at (p, col, "'%.*s%s': expected a decimal number such as 0.5 or -1.25e-3",
                      SHOW (tok, len));
    }
}

/* Exactly @n numbers to the end of the line; @what names them in messages. */
static tconv_status
parse_floats (parser *p, const char *what, size_t n, float *out)
{
  const char *tok;
  size_t      col, len;

  for (size_t i = 0; i < n; i++)
    {
      number_result r;

      len = next_token (p, &tok, &col);
      if (len == 0)
        return fail_at (p, col, "%s: expected %zu number%s, found %zu", what, n,
                        n == 1 ? "" : "s", i);
      if ((r = scan_float (tok, len, &out[i])) != NUMBER_OK)
        return number_error (p, col, tok, len, r);
    }
  len = next_token (p, &tok, &col);
  if (len > 0)
    {
      size_t more = count_tokens (p);
      return fail_at (p, col, "%s: expected %zu number%s, found %zu", what, n,
                      n == 1 ? "" : "s", n + 1 + more);
    }
  return TCONV_OK;
}

/* A double-quoted string: only \" and \\ are escapes; no tab (nor any other control
 * character, which next_line() already refused). */
static tconv_status
parse_string (parser *p, const char *key, char **out)
{
  size_t quote, n = 0;
  char  *s;

  skip_blanks (p);
  quote = p->cur;
  if (p->cur >= p->line_len)
    return fail_at (p, quote, "%s: expected a quoted string", key);
  if (p->line[p->cur] != '"')
    {
      const char *tok;
      size_t      col, len = next_token (p, &tok, &col);
      return fail_at (p, col, "%s: expected a quoted string, found '%.*s%s'", key,
                      SHOW (tok, len));
    }
  p->cur++;

  /* The decoded text is never longer than the rest of the line. */
  s = malloc (p->line_len - p->cur + 1);
  if (s == NULL)
    return TCONV_ERR_NO_MEMORY;
  for (;;)
    {
      char c;

      if (p->cur >= p->line_len)
        {
          free (s);
          return fail_at (p, quote, "unterminated string: no closing '\"' on this line");
        }
      c = p->line[p->cur];
      if (c == '"')
        {
          p->cur++;
          break;
        }
      if (c == '\t')
        {
          free (s);
          return fail_at (p, p->cur, "tab in a string: control characters are not allowed");
        }
      if (c == '\\')
        {
          char e = p->cur + 1 < p->line_len ? p->line[p->cur + 1] : '\0';

          if (e != '"' && e != '\\')
            {
              tconv_status st;

              if (p->cur + 1 >= p->line_len)
                st = fail_at (p, quote, "unterminated string: no closing '\"' on this line");
              else if ((unsigned char) e < 0x80)
                st = fail_at (p, p->cur, "unknown escape '\\%c': only \\\" and \\\\ are allowed",
                              e);
              else
                st = fail_at (p, p->cur,
                              "unknown escape: '\\' before a non-ASCII character; only \\\" and "
                              "\\\\ are allowed");
              free (s);
              return st;
            }
          p->cur++;
          c = e;
        }
      s[n++] = c;
      p->cur++;
    }
  s[n] = '\0';
  if (n > TCONV_KERNEL_TEXT_MAX)
    {
      free (s);
      return fail_at (p, quote, "%s: string of %zu bytes: at most %u allowed", key, n,
                      TCONV_KERNEL_TEXT_MAX);
    }
  *out = s;
  return expect_eol (p, "the string");
}

static tconv_status
parse_name (parser *p)
{
  const char *tok;
  size_t      col, len = next_token (p, &tok, &col);

  if (len == 0)
    return fail_at (p, col, "name: expected a name of [a-z0-9._-]");
  for (size_t i = 0; i < len; i++)
    {
      char c = tok[i];
      if (!((c >= 'a' && c <= 'z') || is_digit (c) || c == '.' || c == '_' || c == '-'))
        {
          /* Quote the whole character; the line is valid UTF-8 by now. */
          const char *why;
          uint32_t    cp;
          size_t      clen = tconv_utf8_decode ((const unsigned char *) tok + i, len - i, &cp,
                                                &why);
          return fail_at (p, col + i, "name '%.*s%s': '%.*s' not allowed, names are "
                          "[a-z0-9._-]", SHOW (tok, len), (int) clen, tok + i);
        }
    }
  if (len > TCONV_KERNEL_NAME_MAX)
    return fail_at (p, col, "name of %zu bytes: at most %u allowed", len, TCONV_KERNEL_NAME_MAX);
  p->k->name = malloc (len + 1);
  if (p->k->name == NULL)
    return TCONV_ERR_NO_MEMORY;
  memcpy (p->k->name, tok, len);
  p->k->name[len] = '\0';
  return expect_eol (p, "the name");
}

static tconv_status
parse_provenance (parser *p)
{
  static const char *const names[TCONV_PROVENANCE_COUNT] = {
    [TCONV_PROVENANCE_ANALYTIC] = "analytic",
    [TCONV_PROVENANCE_IMPORTED] = "imported",
    [TCONV_PROVENANCE_LEARNED] = "learned",
  };
  const char *tok;
  size_t      col, len = next_token (p, &tok, &col);

  for (int i = 0; i < TCONV_PROVENANCE_COUNT; i++)
    if (token_is (tok, len, names[i]))
      {
        p->k->provenance = (tconv_provenance) i;
        return expect_eol (p, "the provenance");
      }
  if (len == 0)
    return fail_at (p, col, "provenance: expected analytic, imported or learned");
  return fail_at (p, col, "provenance '%.*s%s': expected analytic, imported or learned",
                  SHOW (tok, len));
}

/* The keys of the header, in the order they must appear. */
enum
{
  KEY_NAME,
  KEY_DESCRIPTION,
  KEY_STRIDE,
  KEY_SIZE,
  KEY_PADDING,
  KEY_OUTPUT_PADDING,
  KEY_CHANNELS,
  KEY_BIAS,
  KEY_PROVENANCE,
  KEY_SOURCE,
  KEY_DEGRADATION,
  KEY_COMMAND,
  KEY_WEIGHTS,
  KEY_COUNT
};

static const struct
{
  const char *name;
  bool        required;
} keys[KEY_COUNT] = {
  [KEY_NAME] = { "name", true },
  [KEY_DESCRIPTION] = { "description", false },
  [KEY_STRIDE] = { "stride", true },
  [KEY_SIZE] = { "size", true },
  [KEY_PADDING] = { "padding", true },
  [KEY_OUTPUT_PADDING] = { "output-padding", false },
  [KEY_CHANNELS] = { "channels", true },
  [KEY_BIAS] = { "bias", false },
  [KEY_PROVENANCE] = { "provenance", true },
  [KEY_SOURCE] = { "source", false },
  [KEY_DEGRADATION] = { "degradation", false },
  [KEY_COMMAND] = { "command", false },
  [KEY_WEIGHTS] = { "weights", true },
};

static tconv_status
parse_key_value (parser *p, int key)
{
  tconv_kernel *k = p->k;
  size_t        v[2], lo[2], hi[2];
  tconv_status  st;

  switch (key)
    {
    case KEY_NAME:
      return parse_name (p);
    case KEY_DESCRIPTION:
      return parse_string (p, "description", &k->description);
    case KEY_STRIDE:
      lo[0] = lo[1] = 1;
      hi[0] = hi[1] = TCONV_MAX_STRIDE;
      if ((st = parse_uints (p, "stride", 2, lo, hi, "", v)))
        return st;
      k->stride_h = v[0];
      k->stride_w = v[1];
      return TCONV_OK;
    case KEY_SIZE:
      lo[0] = lo[1] = 1;
      hi[0] = hi[1] = TCONV_MAX_KERNEL_SIDE;
      if ((st = parse_uints (p, "size", 2, lo, hi, "", v)))
        return st;
      k->k_h = v[0];
      k->k_w = v[1];
      return TCONV_OK;
    case KEY_PADDING:
      lo[0] = lo[1] = 0;
      hi[0] = k->k_h - 1;
      hi[1] = k->k_w - 1;
      if ((st = parse_uints (p, "padding", 2, lo, hi, " (less than the size)", v)))
        return st;
      k->pad_h = v[0];
      k->pad_w = v[1];
      return TCONV_OK;
    case KEY_OUTPUT_PADDING:
      lo[0] = lo[1] = 0;
      hi[0] = k->stride_h - 1;
      hi[1] = k->stride_w - 1;
      if ((st = parse_uints (p, "output-padding", 2, lo, hi, " (less than the stride)", v)))
        return st;
      k->opad_h = v[0];
      k->opad_w = v[1];
      return TCONV_OK;
    case KEY_CHANNELS:
      lo[0] = 1;
      hi[0] = TCONV_KERNEL_MAX_CHANNELS;
      if ((st = parse_uints (p, "channels", 1, lo, hi, "", v)))
        return st;
      k->channels = v[0];
      return TCONV_OK;
    case KEY_BIAS:
      k->bias = malloc (k->channels * sizeof (float));
      if (k->bias == NULL)
        return TCONV_ERR_NO_MEMORY;
      {
        char what[48];
        snprintf (what, sizeof what, "bias (channels %zu)", k->channels);
        return parse_floats (p, what, k->channels, k->bias);
      }
    case KEY_PROVENANCE:
      return parse_provenance (p);
    case KEY_SOURCE:
      return parse_string (p, "source", &k->source);
    case KEY_DEGRADATION:
      return parse_string (p, "degradation", &k->degradation);
    case KEY_COMMAND:
      return parse_string (p, "command", &k->command);
    case KEY_WEIGHTS:
    default:
      return expect_eol (p, "'weights'");
    }
}

static int
find_key (const char *tok, size_t len)
{
  for (int i = 0; i < KEY_COUNT; i++)
    if (token_is (tok, len, keys[i].name))
      return i;
  return -1;
}

/* The header: version line, then keys in order, up to and including 'weights'. */
static tconv_status
parse_header (parser *p)
{
  unsigned     seen[KEY_COUNT] = { 0 };
  int          last = -1, r;
  const char  *tok;
  size_t       col, len;
  tconv_status st = TCONV_OK;

  r = next_line (p, &st);
  if (r < 0)
    return st;
  if (r == 0)
    return fail_eof (p, "empty file: expected 'tconv-kernel 1' on the first line");
  if (p->line_len >= 3 && memcmp (p->line, "\xEF\xBB\xBF", 3) == 0)
    return fail_at (p, 0, "UTF-8 byte order mark: not allowed, the file must start with "
                    "'tconv-kernel 1'");
  len = next_token (p, &tok, &col);
  if (!token_is (tok, len, "tconv-kernel"))
    /* not quoted: a path given by mistake (-k /etc/shadow) must not have its content
     * printed in an error message */
    return fail_at (p, col, "not a .tconv kernel file: its first line does not start with "
                    "'tconv-kernel' (the content is not shown)");
  len = next_token (p, &tok, &col);
  if (len == 0)
    return fail_at (p, col, "expected a version after 'tconv-kernel': this reader knows 1");
  if (token_is (tok, len, "2") && !p->want_bank)
    return fail_at (p, col, "version 2 is a kernel bank (several kernels chosen per pixel): "
                    "read it as a bank, not as one kernel");
  if (token_is (tok, len, "1") && p->want_bank)
    return fail_at (p, col, "version 1 is a single kernel, not a kernel bank (version 2)");
  if (!token_is (tok, len, "1") && !token_is (tok, len, "2"))
    return fail_at (p, col, "version %.*s%s: this reader knows versions 1 (a kernel) and 2 "
                    "(a kernel bank)", SHOW (tok, len));
  if ((st = expect_eol (p, "the version")))
    return st;

  for (;;)
    {
      int key;

      r = next_content_line (p, &st);
      if (r < 0)
        return st;
      if (r == 0)
        {
          int want = last + 1;
          while (!keys[want].required)
            want++;
          return fail_eof (p, "unexpected end of file: expected key '%s'", keys[want].name);
        }
      len = next_token (p, &tok, &col);
      key = find_key (tok, len);
      if (key < 0)
        {
          if (looks_numeric (tok, len))
            return fail_at (p, col, "found a number where a key was expected (no 'weights' "
                            "line before the rows?)");
          if (token_is (tok, len, "end") || token_is (tok, len, "channel"))
            {
              int want = last + 1;
              while (!keys[want].required)
                want++;
              return fail_at (p, col, "missing key '%s' before '%s'", keys[want].name,
                              token_is (tok, len, "end") ? "end" : "channel");
            }
          return fail_at (p, col, "unknown key '%.*s%s'", SHOW (tok, len));
        }
      if (seen[key] != 0)
        return fail_at (p, col, "duplicate key '%s': already given on line %u", keys[key].name,
                        seen[key]);
      if (key < last)
        return fail_at (p, col, "key '%s' out of order: it must come before '%s' (line %u)",
                        keys[key].name, keys[last].name, seen[last]);
      for (int j = last + 1; j < key; j++)
        if (keys[j].required)
          return fail_at (p, col, "missing key '%s' before '%s'", keys[j].name,
                          keys[key].name);
      seen[key] = p->line_no;
      last = key;
      if ((st = parse_key_value (p, key)))
        return st;
      if (key == KEY_WEIGHTS)
        return TCONV_OK;
    }
}

/* After 'weights': per channel an optional 'channel I' line (required when channels > 1,
 * refused when 1), k_h rows of k_w numbers; then 'end' and nothing but blank lines. */
static tconv_status
parse_weights (parser *p)
{
  tconv_kernel *k = p->k;
  const size_t  plane = k->k_h * k->k_w;
  char          what[96], where[48];
  const char   *tok;
  size_t        col, len;
  tconv_status  st = TCONV_OK;
  int           r;

  /* Bounded by 64 * 256 * 256 floats, 16 MiB. */
  k->weights = malloc (k->channels * plane * sizeof (float));
  if (k->weights == NULL)
    return TCONV_ERR_NO_MEMORY;

  for (size_t c = 0; c < k->channels; c++)
    {
      where[0] = '\0';
      if (k->channels > 1)
        {
          size_t lo = 0, hi = k->channels - 1, idx, idx_at;

          snprintf (where, sizeof where, " of channel %zu", c);
          r = next_content_line (p, &st);
          if (r < 0)
            return st;
          if (r == 0)
            return fail_eof (p, "unexpected end of file: expected 'channel %zu'", c);
          len = next_token (p, &tok, &col);
          if (!token_is (tok, len, "channel"))
            return fail_at (p, col, "expected 'channel %zu' before the rows of channel %zu "
                            "(channels %zu), found '%.*s%s'", c, c, k->channels,
                            SHOW (tok, len));
          /* Peek at the index token for its column. */
          idx_at = p->cur;
          next_token (p, &tok, &col);
          p->cur = idx_at;
          if ((st = parse_uints (p, "channel", 1, &lo, &hi, "", &idx)))
            return st;
          if (idx != c)
            return fail_at (p, col, "channel %zu: expected channel %zu, blocks come in order "
                            "0..%zu", idx, c, k->channels - 1);
        }
      for (size_t y = 0; y < k->k_h; y++)
        {
          r = next_content_line (p, &st);
          if (r < 0)
            return st;
          if (r == 0)
            return fail_eof (p, "unexpected end of file: expected %zu rows of weights%s, "
                             "found %zu", k->k_h, where, y);
          len = next_token (p, &tok, &col);
          if (k->channels == 1 && y == 0 && token_is (tok, len, "channel"))
            return fail_at (p, col, "'channel' line with channels 1: only per-channel kernels "
                            "number their blocks");
          if (token_is (tok, len, "end") || token_is (tok, len, "channel"))
            return fail_at (p, col, "expected %zu rows of weights%s, found %zu", k->k_h, where,
                            y);
          p->cur = col;
          snprintf (what, sizeof what, "weights row %zu%s", y + 1, where);
          if ((st = parse_floats (p, what, k->k_w, k->weights + c * plane + y * k->k_w)))
            return st;
        }
    }

  r = next_content_line (p, &st);
  if (r < 0)
    return st;
  if (r == 0)
    return fail_eof (p, "unexpected end of file: expected 'end'");
  len = next_token (p, &tok, &col);
  if (!token_is (tok, len, "end"))
    {
      if (looks_numeric (tok, len))
        return fail_at (p, col, "expected 'end' after %zu rows of weights%s, found another row",
                        k->k_h, where);
      if (token_is (tok, len, "channel"))
        return fail_at (p, col, "expected 'end' after channel %zu: channels is %zu",
                        k->channels - 1, k->channels);
      return fail_at (p, col, "expected 'end', found '%.*s%s'", SHOW (tok, len));
    }
  return expect_eol (p, "'end'");
}

/* After the last 'end': nothing but blank lines. */
static tconv_status
expect_blank_rest (parser *p)
{
  tconv_status st = TCONV_OK;
  int          r;

  while ((r = next_line (p, &st)) > 0)
    {
      skip_blanks (p);
      if (p->cur < p->line_len)
        return fail_at (p, p->cur, "text after 'end': nothing but blank lines may follow it");
    }
  return r < 0 ? st : TCONV_OK;
}

/* The parsed global kernel's loose ends: an empty description, the comments buffer. */
static tconv_status
finish_kernel (parser *p)
{
  if (p->k->description == NULL)
    {
      p->k->description = malloc (1);
      if (p->k->description == NULL)
        return TCONV_ERR_NO_MEMORY;
      p->k->description[0] = '\0';
    }
  if (p->have_comments)
    {
      /* Give back the unused part of the TCONV_KERNEL_TEXT_MAX buffer. */
      char *shrunk = realloc (p->comments, p->comments_len + 1);
      p->k->comments = shrunk != NULL ? shrunk : p->comments;
      p->comments = NULL;
      p->have_comments = false;
    }
  return TCONV_OK;
}

static tconv_status parse_bank_section (parser *p, tconv_bank **bank);

/* Either kind of file: a kernel (@bank NULL) or a bank (@kernel NULL). */
static tconv_status
parse_text (const char *text, size_t len, tconv_kernel **kernel, tconv_bank **bank,
            tconv_error *err)
{
  parser       p;
  tconv_status st;

  if (len > TCONV_KERNEL_FILE_MAX)
    return tconv_fail (err, TCONV_ERR_PARSE, 1, 1, "file of %zu bytes: at most %u allowed",
                       len, TCONV_KERNEL_FILE_MAX);
  memset (&p, 0, sizeof p);
  p.text = (const unsigned char *) text;
  p.len = len;
  p.err = err;
  p.want_bank = bank != NULL;
  p.k = calloc (1, sizeof *p.k);
  if (p.k == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "kernel_parse: out of memory");

  st = parse_header (&p);
  if (st == TCONV_OK)
    st = parse_weights (&p);
  if (st == TCONV_OK)
    st = finish_kernel (&p);
  if (st == TCONV_OK && bank != NULL)
    st = parse_bank_section (&p, bank);
  if (st == TCONV_OK)
    st = expect_blank_rest (&p);
  if (st == TCONV_ERR_NO_MEMORY)
    tconv_fail (err, st, 0, 0, "kernel_parse: out of memory");
  free (p.comments);
  if (st != TCONV_OK || bank != NULL)
    {
      tconv_kernel_free (p.k);
      if (st != TCONV_OK && bank != NULL)
        {
          tconv_bank_free (*bank);
          *bank = NULL;
        }
      return st;
    }
  TCONV_ASSERT (tconv_kernel_validate (p.k, NULL) == TCONV_OK);
  *kernel = p.k;
  return TCONV_OK;
}

tconv_status
tconv_kernel_parse (const char *text, size_t len, tconv_kernel **kernel, tconv_error *err)
{
  if (kernel == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel_parse: kernel is NULL");
  *kernel = NULL;
  if (text == NULL && len > 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel_parse: text is NULL");
  return parse_text (text, len, kernel, NULL, err);
}

/* ---------------------------------------------------------------------------------------------
 * Writer
 */

/* Counts every byte; stores them only while @buf has room (the second pass). Remembers the
 * last float printed: kernels repeat values (zeros above all), and printing is the cost. */
typedef struct sink
{
  char  *buf;
  size_t cap;
  size_t len;
  bool   have_last;
  float  last;
  char   last_text[32];
} sink;

static void
put (sink *s, const char *str, size_t n)
{
  if (s->buf != NULL && n <= s->cap - s->len)
    memcpy (s->buf + s->len, str, n);
  s->len += n;
}

static void
put_str (sink *s, const char *str)
{
  put (s, str, strlen (str));
}

static void
put_size (sink *s, size_t v)
{
  char tmp[32];
  put (s, tmp, (size_t) snprintf (tmp, sizeof tmp, "%zu", v));
}

static void
put_pair (sink *s, const char *key, size_t a, size_t b)
{
  put_str (s, key);
  put_str (s, " ");
  put_size (s, a);
  put_str (s, " ");
  put_size (s, b);
  put_str (s, "\n");
}

static void
put_floats (sink *s, const float *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      if (!s->have_last || memcmp (&s->last, &v[i], sizeof (float)) != 0)
        {
          format_float (v[i], s->last_text);
          s->last = v[i];
          s->have_last = true;
        }
      if (i > 0)
        put_str (s, " ");
      put_str (s, s->last_text);
    }
  put_str (s, "\n");
}

static void
put_string (sink *s, const char *key, const char *str)
{
  put_str (s, key);
  put_str (s, " \"");
  for (const char *c = str; *c != '\0'; c++)
    {
      if (*c == '"' || *c == '\\')
        put_str (s, "\\");
      put (s, c, 1);
    }
  put_str (s, "\"\n");
}

static void
emit (const tconv_kernel *k, unsigned version, sink *s)
{
  static const char *const provenance[TCONV_PROVENANCE_COUNT] = {
    [TCONV_PROVENANCE_ANALYTIC] = "analytic",
    [TCONV_PROVENANCE_IMPORTED] = "imported",
    [TCONV_PROVENANCE_LEARNED] = "learned",
  };
  const size_t plane = k->k_h * k->k_w;

  put_str (s, version == 2 ? "tconv-kernel 2\n" : "tconv-kernel 1\n");
  if (k->comments != NULL)
    {
      const char *line = k->comments;
      for (;;)
        {
          const char *nl = strchr (line, '\n');
          size_t      n = nl != NULL ? (size_t) (nl - line) : strlen (line);

          put_str (s, n > 0 ? "# " : "#");
          put (s, line, n);
          put_str (s, "\n");
          if (nl == NULL)
            break;
          line = nl + 1;
        }
    }
  put_str (s, "name ");
  put_str (s, k->name);
  put_str (s, "\n");
  put_string (s, "description", k->description);
  put_pair (s, "stride", k->stride_h, k->stride_w);
  put_pair (s, "size", k->k_h, k->k_w);
  put_pair (s, "padding", k->pad_h, k->pad_w);
  put_pair (s, "output-padding", k->opad_h, k->opad_w);
  put_str (s, "channels ");
  put_size (s, k->channels);
  put_str (s, "\n");
  if (k->bias != NULL)
    {
      put_str (s, "bias ");
      put_floats (s, k->bias, k->channels);
    }
  put_str (s, "provenance ");
  put_str (s, provenance[k->provenance]);
  put_str (s, "\n");
  if (k->source != NULL)
    put_string (s, "source", k->source);
  if (k->degradation != NULL)
    put_string (s, "degradation", k->degradation);
  if (k->command != NULL)
    put_string (s, "command", k->command);
  put_str (s, "weights\n");
  for (size_t c = 0; c < k->channels; c++)
    {
      if (k->channels > 1)
        {
          put_str (s, "channel ");
          put_size (s, c);
          put_str (s, "\n");
        }
      for (size_t y = 0; y < k->k_h; y++)
        put_floats (s, k->weights + c * plane + y * k->k_w, k->k_w);
    }
  put_str (s, "end\n");
}

tconv_status
tconv_kernel_write (const tconv_kernel *kernel, char *buf, size_t cap, size_t *len,
                    tconv_error *err)
{
  sink         s = { 0 };
  tconv_status st;

  if (kernel == NULL || len == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel write: kernel or len is NULL");
  if ((st = tconv_kernel_validate (kernel, err)) != TCONV_OK)
    return st == TCONV_ERR_NO_MEMORY ? st : TCONV_ERR_INVALID_ARG;

  /* Measure first, so that a short @buf is left untouched. */
  emit (kernel, 1, &s);
  *len = s.len;
  if (s.len > TCONV_KERNEL_FILE_MAX) /* tconv_kernel_parse() would refuse it */
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "kernel text of %zu bytes: must be at most %u", s.len,
                       TCONV_KERNEL_FILE_MAX);
  if (buf == NULL)
    return TCONV_OK;
  if (cap < s.len)
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "kernel write: buffer of %zu bytes: needs %zu", cap, s.len);

  s = (sink) { .buf = buf, .cap = cap };
  emit (kernel, 1, &s);
  TCONV_ASSERT (s.len == *len);
  if (s.len < cap)
    buf[s.len] = '\0';
  return TCONV_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Kernel banks (version 2): the global kernel as above, then
 *   bank ANGLES STRENGTHS COHERENCES
 *   window-sigma SIGMA
 *   strength-thresholds T1 ... (STRENGTHS - 1 numbers, strictly increasing)
 *   coherence-thresholds T1 ... (COHERENCES - 1 numbers in [0, 1], strictly increasing)
 *   class I trained|fallback SAMPLES, then k_h rows of k_w numbers, for I = 0, 1, ...
 *   end
 */

/* The next content line must start with @key; the cursor is left after it. */
static tconv_status
expect_key (parser *p, const char *key)
{
  const char  *tok;
  size_t       col, len;
  tconv_status st = TCONV_OK;
  int          r = next_content_line (p, &st);

  if (r < 0)
    return st;
  if (r == 0)
    return fail_eof (p, "unexpected end of file: expected '%s'", key);
  len = next_token (p, &tok, &col);
  if (!token_is (tok, len, key))
    return fail_at (p, col, "expected '%s', found '%.*s%s'", key, SHOW (tok, len));
  return TCONV_OK;
}

/* @n thresholds after @key, strictly increasing, in [0, @hi]. */
static tconv_status
parse_thresholds (parser *p, const char *key, size_t n, double hi, double *out)
{
  const char  *tok;
  size_t       col, len;
  tconv_status st;

  if ((st = expect_key (p, key)))
    return st;
  for (size_t i = 0; i < n; i++)
    {
      float         f;
      number_result r;

      len = next_token (p, &tok, &col);
      if (len == 0)
        return fail_at (p, col, "%s: expected %zu numbers, found %zu", key, n, i);
      if ((r = scan_float (tok, len, &f)) != NUMBER_OK)
        return number_error (p, col, tok, len, r);
      if (f < 0.0f || (double) f > hi)
        return fail_at (p, col, "%s %.*s%s: must be in [0, %g]", key, SHOW (tok, len), hi);
      if (i > 0 && !((double) f > out[i - 1]))
        return fail_at (p, col, "%s %.*s%s: thresholds must be strictly increasing", key,
                        SHOW (tok, len));
      out[i] = f;
    }
  len = next_token (p, &tok, &col);
  if (len > 0)
    return fail_at (p, col, "%s: expected %zu numbers, found more", key, n);
  return TCONV_OK;
}

static tconv_status
parse_classifier (parser *p, tconv_bank_classifier *c)
{
  static const size_t lo[3] = { 1, 1, 1 };
  static const size_t hi[3] = { TCONV_BANK_MAX_BINS, TCONV_BANK_MAX_BINS, TCONV_BANK_MAX_BINS };
  size_t              bins[3];
  float               sigma;
  tconv_status        st;

  memset (c, 0, sizeof *c);
  if ((st = expect_key (p, "bank"))
      || (st = parse_uints (p, "bank", 3, lo, hi, " (angles, strengths, coherences)", bins)))
    return st;
  if (bins[0] * bins[1] * bins[2] > TCONV_BANK_MAX_CLASSES)
    return fail_at (p, 0, "bank %zu x %zu x %zu = %zu classes: at most %u", bins[0], bins[1],
                    bins[2], bins[0] * bins[1] * bins[2], TCONV_BANK_MAX_CLASSES);
  c->angles = bins[0];
  c->strengths = bins[1];
  c->coherences = bins[2];
  if ((st = expect_key (p, "window-sigma")) || (st = parse_floats (p, "window-sigma", 1, &sigma)))
    return st;
  if (!(sigma > 0.0f && sigma <= TCONV_BANK_MAX_SIGMA))
    return fail_at (p, 13, "window-sigma %g: must be in (0, %g]", (double) sigma,
                    TCONV_BANK_MAX_SIGMA);
  c->sigma = sigma;
  if ((st = parse_thresholds (p, "strength-thresholds", c->strengths - 1, 3.4e38,
                              c->strength_thresholds)))
    return st;
  return parse_thresholds (p, "coherence-thresholds", c->coherences - 1, 1.0,
                           c->coherence_thresholds);
}

/* 'class I trained|fallback SAMPLES' and the class's rows. */
static tconv_status
parse_class (parser *p, tconv_bank *b, size_t index)
{
  const tconv_kernel *g = b->global;
  float              *w = b->weights + index * g->k_h * g->k_w;
  const char         *tok;
  size_t              col, len, v, at;
  char                what[64];
  tconv_status        st;
  tconv_error         why;

  if ((st = expect_key (p, "class")))
    return st;
  at = p->line_no;
  len = next_token (p, &tok, &col);
  if (!scan_uint (tok, len, 0, b->classes - 1, &v) || v != index)
    return fail_at (p, col, "class '%.*s%s': expected class %zu (classes come in order "
                    "0..%zu)", SHOW (tok, len), index, b->classes - 1);
  len = next_token (p, &tok, &col);
  if (!token_is (tok, len, "trained") && !token_is (tok, len, "fallback"))
    return fail_at (p, col, "class %zu: expected 'trained' or 'fallback', found '%.*s%s'",
                    index, SHOW (tok, len));
  b->fallback[index] = token_is (tok, len, "fallback");
  len = next_token (p, &tok, &col);
  if (!scan_uint (tok, len, 0, (size_t) 1 << 62, &v))
    return fail_at (p, col, "class %zu: expected its training sample count, found '%.*s%s'",
                    index, SHOW (tok, len));
  b->samples[index] = v;
  if ((st = expect_eol (p, "the sample count")))
    return st;
  for (size_t y = 0; y < g->k_h; y++)
    {
      int r = next_content_line (p, &st);
      if (r < 0)
        return st;
      if (r == 0)
        return fail_eof (p, "unexpected end of file: expected %zu rows of class %zu", g->k_h,
                         index);
      snprintf (what, sizeof what, "class %zu row %zu", index, y + 1);
      if ((st = parse_floats (p, what, g->k_w, w + y * g->k_w)))
        return st;
    }
  /* Phase sums and the fallback rule, reported at the class line. */
  if (tconv_bank_check_class (b, index, &why) != TCONV_OK)
    {
      p->line_no = (unsigned) at;
      return fail_at (p, 0, "%s", why.message);
    }
  return TCONV_OK;
}

static tconv_status
parse_bank_section (parser *p, tconv_bank **bank)
{
  tconv_bank_classifier c;
  tconv_error           why;
  tconv_status          st;
  unsigned              bank_line;

  *bank = NULL;
  if ((st = parse_classifier (p, &c)))
    return st;
  bank_line = p->line_no;
  if (tconv_bank_new (p->k, &c, bank, &why) != TCONV_OK)
    {
      p->line_no = bank_line;
      return fail_at (p, 0, "%s", why.message);
    }
  for (size_t i = 0; i < (*bank)->classes; i++)
    if ((st = parse_class (p, *bank, i)))
      return st;
  if ((st = expect_key (p, "end")))
    return st;
  return expect_eol (p, "'end'");
}

tconv_status
tconv_bank_parse (const char *text, size_t len, tconv_bank **bank, tconv_error *err)
{
  if (bank == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank_parse: bank is NULL");
  *bank = NULL;
  if (text == NULL && len > 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank_parse: text is NULL");
  return parse_text (text, len, NULL, bank, err);
}

int
tconv_text_is_bank (const char *text, size_t len)
{
  static const char head[] = "tconv-kernel 2";
  const size_t      n = sizeof head - 1;

  if (text == NULL || len < n || memcmp (text, head, n) != 0)
    return 0;
  return len == n || text[n] == '\n' || text[n] == '\r' || text[n] == ' ' || text[n] == '\t'
         || text[n] == '#';
}

static void
put_thresholds (sink *s, const char *key, const double *t, size_t n)
{
  put_str (s, key);
  for (size_t i = 0; i < n; i++)
    {
      char text[32];
      format_float ((float) t[i], text);
      put_str (s, " ");
      put_str (s, text);
    }
  put_str (s, "\n");
}

static void
emit_bank (const tconv_bank *b, sink *s)
{
  const tconv_kernel *g = b->global;
  const size_t        plane = g->k_h * g->k_w;
  float               sigma = (float) b->classifier.sigma;

  emit (g, 2, s);
  put_str (s, "bank ");
  put_size (s, b->classifier.angles);
  put_str (s, " ");
  put_size (s, b->classifier.strengths);
  put_str (s, " ");
  put_size (s, b->classifier.coherences);
  put_str (s, "\n");
  put_str (s, "window-sigma ");
  put_floats (s, &sigma, 1);
  put_thresholds (s, "strength-thresholds", b->classifier.strength_thresholds,
                  b->classifier.strengths - 1);
  put_thresholds (s, "coherence-thresholds", b->classifier.coherence_thresholds,
                  b->classifier.coherences - 1);
  for (size_t c = 0; c < b->classes; c++)
    {
      put_str (s, "class ");
      put_size (s, c);
      put_str (s, b->fallback[c] ? " fallback " : " trained ");
      put_size (s, b->samples != NULL ? (size_t) b->samples[c] : 0);
      put_str (s, "\n");
      for (size_t y = 0; y < g->k_h; y++)
        put_floats (s, b->weights + c * plane + y * g->k_w, g->k_w);
    }
  put_str (s, "end\n");
}

tconv_status
tconv_bank_write (const tconv_bank *bank, char *buf, size_t cap, size_t *len, tconv_error *err)
{
  sink         s = { 0 };
  tconv_status st;

  if (bank == NULL || len == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank write: bank or len is NULL");
  if ((st = tconv_bank_validate (bank, err)) != TCONV_OK)
    return st;
  emit_bank (bank, &s);
  *len = s.len;
  if (s.len > TCONV_KERNEL_FILE_MAX)
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "bank text of %zu bytes: must be at most %u", s.len,
                       TCONV_KERNEL_FILE_MAX);
  if (buf == NULL)
    return TCONV_OK;
  if (cap < s.len)
    return tconv_fail (err, TCONV_ERR_TOO_LARGE, 0, 0,
                       "bank write: buffer of %zu bytes: needs %zu", cap, s.len);
  s = (sink) { .buf = buf, .cap = cap };
  emit_bank (bank, &s);
  TCONV_ASSERT (s.len == *len);
  if (s.len < cap)
    buf[s.len] = '\0';
  return TCONV_OK;
}
