/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The .tconv text format: random kernels round-trip bit for bit, hand-written files parse to
 * the values they spell, and every file of the malformed catalogue in tests/data/bad-kernels
 * fails with TCONV_ERR_PARSE at the line:column listed in its expected.txt. */
#define _POSIX_C_SOURCE 200809L /* opendir(), to find catalogue files missing from the index */

#include "test-util.h"

#include <dirent.h>
#include <float.h>
#include <locale.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

static char *
dup_str (const char *s)
{
  size_t n = strlen (s) + 1;
  char  *d = test_malloc (n);
  memcpy (d, s, n);
  return d;
}

/* Writes @k into a fresh NUL-terminated buffer; NULL (and a failed check) on error. */
static char *
write_text (const tconv_kernel *k, size_t *len)
{
  size_t       need = 0, got = 0;
  char        *buf;
  tconv_status st = tconv_kernel_write (k, NULL, 0, &need, NULL);

  if (st != TCONV_OK)
    {
      CHECK (0, "write size query -> %s", tconv_status_string (st));
      return NULL;
    }
  buf = test_malloc (need + 1);
  st = tconv_kernel_write (k, buf, need + 1, &got, NULL);
  if (st != TCONV_OK || got != need || buf[need] != '\0')
    {
      CHECK (0, "write -> %s, len %zu (query said %zu)", tconv_status_string (st), got, need);
      free (buf);
      return NULL;
    }
  *len = need;
  return buf;
}

static bool
same_string (const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp (a, b) == 0;
}

/* Field by field, floats by their bits. Describes the first difference in @why. */
static bool
kernels_equal (const tconv_kernel *a, const tconv_kernel *b, char *why, size_t why_len)
{
  size_t n;

#define DIFF(...) (snprintf (why, why_len, __VA_ARGS__), false)
  if (!same_string (a->name, b->name))
    return DIFF ("name");
  if (!same_string (a->description, b->description))
    return DIFF ("description");
  if (!same_string (a->source, b->source))
    return DIFF ("source");
  if (!same_string (a->degradation, b->degradation))
    return DIFF ("degradation");
  if (!same_string (a->command, b->command))
    return DIFF ("command");
  if (!same_string (a->comments, b->comments))
    return DIFF ("comments");
  if (a->stride_h != b->stride_h || a->stride_w != b->stride_w)
    return DIFF ("stride");
  if (a->k_h != b->k_h || a->k_w != b->k_w)
    return DIFF ("size");
  if (a->pad_h != b->pad_h || a->pad_w != b->pad_w)
    return DIFF ("padding");
  if (a->opad_h != b->opad_h || a->opad_w != b->opad_w)
    return DIFF ("output padding");
  if (a->channels != b->channels)
    return DIFF ("channels");
  if (a->provenance != b->provenance)
    return DIFF ("provenance");
  if ((a->bias == NULL) != (b->bias == NULL)
      || (a->bias != NULL && memcmp (a->bias, b->bias, a->channels * sizeof (float)) != 0))
    return DIFF ("bias");
  n = a->channels * a->k_h * a->k_w;
  for (size_t i = 0; i < n; i++)
    if (memcmp (&a->weights[i], &b->weights[i], sizeof (float)) != 0)
      return DIFF ("weights[%zu]: %.9g vs %.9g", i, (double) a->weights[i],
                   (double) b->weights[i]);
#undef DIFF
  return true;
}

static tconv_kernel *
parse_ok (const char *text, const char *what)
{
  tconv_kernel *k = NULL;
  tconv_error   err = { 0 };
  tconv_status  st = tconv_kernel_parse (text, strlen (text), &k, &err);

  CHECK (st == TCONV_OK && k != NULL, "%s parses -> %s (%u:%u: %s)", what,
         tconv_status_string (st), err.line, err.column, st == TCONV_OK ? "" : err.message);
  return k;
}

/* ---------------------------------------------------------------------------------------------
 * Random kernels
 */

/* A finite float: random bits (subnormals included), short decimals, or an edge value. */
static float
random_float (test_rng *rng)
{
  static const float edges[] = { 0.0f, -0.0f, 1.0f, -1.0f, 0.1f, 1.0f / 3.0f, 10.0f, 1e10f,
                                 FLT_MIN, -FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MAX,
                                 -FLT_MAX, 0.0625f, 0.5625f, 123456792.0f, 1e-5f };
  float    f;
  uint32_t bits;

  switch (test_rng_range (rng, 0, 3))
    {
    case 0:
      return edges[test_rng_range (rng, 0, sizeof edges / sizeof edges[0] - 1)];
    case 1:
      return (float) test_rng_signed (rng);
    case 2:
      return (float) ((double) test_rng_range (rng, -99999, 99999) / 1000.0);
    default:
      do
        {
          bits = (uint32_t) test_rng_next (rng);
          memcpy (&f, &bits, sizeof f);
        }
      while (!isfinite (f));
      return f;
    }
}

/* Up to @max_len bytes of UTF-8 built from pieces that stress the escaping and the encoding;
 * '\n' only when @newlines. */
static char *
random_text (test_rng *rng, size_t max_len, bool newlines)
{
  static const char *const pieces[] = { "a", "Z", " ", "  ", "\"", "\\", "\\\"", "#", "# ",
                                        "é", "×", "日本", "🙂", "ß", "0.5", "end", "weights",
                                        "'", "x=1", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf" };
  size_t n = (size_t) test_rng_range (rng, 0, 12), len = 0;
  char  *s = test_malloc (max_len + 1);

  for (size_t i = 0; i < n; i++)
    {
      const char *p = pieces[test_rng_range (rng, 0, sizeof pieces / sizeof pieces[0] - 1)];
      size_t      pl;

      if (newlines && test_rng_range (rng, 0, 4) == 0)
        p = "\n";
      pl = strlen (p);
      if (len + pl > max_len)
        break;
      memcpy (s + len, p, pl);
      len += pl;
    }
  s[len] = '\0';
  return s;
}

static tconv_kernel *
random_kernel (test_rng *rng)
{
  static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
  tconv_kernel     *k = NULL;
  size_t            channels, k_h, k_w, n, name_len;

  channels = test_rng_range (rng, 0, 1) ? 1 : (size_t) test_rng_range (rng, 2, 4);
  if (test_rng_range (rng, 0, 40) == 0)
    channels = TCONV_KERNEL_MAX_CHANNELS;
  k_h = (size_t) test_rng_range (rng, 1, 7);
  k_w = (size_t) test_rng_range (rng, 1, 7);
  if (test_rng_range (rng, 0, 40) == 0)
    k_w = TCONV_MAX_KERNEL_SIDE;
  if (tconv_kernel_new (channels, k_h, k_w, &k, NULL) != TCONV_OK)
    abort ();

  k->stride_h = (size_t) test_rng_range (rng, 1, 4);
  k->stride_w = test_rng_range (rng, 0, 20) == 0 ? TCONV_MAX_STRIDE
                                                 : (size_t) test_rng_range (rng, 1, 4);
  k->pad_h = (size_t) test_rng_range (rng, 0, (int64_t) k_h - 1);
  k->pad_w = (size_t) test_rng_range (rng, 0, (int64_t) k_w - 1);
  k->opad_h = (size_t) test_rng_range (rng, 0, (int64_t) k->stride_h - 1);
  k->opad_w = (size_t) test_rng_range (rng, 0, (int64_t) k->stride_w - 1);
  k->provenance = (tconv_provenance) test_rng_range (rng, 0, TCONV_PROVENANCE_COUNT - 1);

  n = channels * k_h * k_w;
  for (size_t i = 0; i < n; i++)
    k->weights[i] = random_float (rng);
  if (test_rng_range (rng, 0, 1))
    {
      k->bias = test_malloc (channels * sizeof (float));
      for (size_t i = 0; i < channels; i++)
        k->bias[i] = random_float (rng);
    }

  name_len = (size_t) test_rng_range (rng, 1, TCONV_KERNEL_NAME_MAX);
  free (k->name);
  k->name = test_malloc (name_len + 1);
  for (size_t i = 0; i < name_len; i++)
    k->name[i] = name_chars[test_rng_range (rng, 0, sizeof name_chars - 2)];
  k->name[name_len] = '\0';

  free (k->description);
  k->description = random_text (rng, 200, false);
  if (test_rng_range (rng, 0, 1))
    k->source = random_text (rng, 200, false);
  if (test_rng_range (rng, 0, 1))
    k->degradation = random_text (rng, 200, false);
  if (test_rng_range (rng, 0, 1))
    k->command = random_text (rng, 200, false);
  if (test_rng_range (rng, 0, 1))
    k->comments = random_text (rng, 300, true);
  return k;
}

static void
roundtrip_random_kernels (test_rng *rng)
{
  int failures = 0;

  for (int iter = 0; iter < 400; iter++)
    {
      tconv_kernel *k = random_kernel (rng), *back = NULL;
      tconv_error   err = { 0 };
      size_t        len = 0, len2 = 0;
      char         *text, *text2 = NULL, why[128] = "";
      tconv_status  st;

      if (tconv_kernel_validate (k, &err) != TCONV_OK)
        {
          CHECK (0, "random kernel %d invalid: %s", iter, err.message);
          failures++;
          tconv_kernel_free (k);
          continue;
        }
      text = write_text (k, &len);
      if (text == NULL)
        {
          failures++;
          tconv_kernel_free (k);
          continue;
        }
      st = tconv_kernel_parse (text, len, &back, &err);
      if (st != TCONV_OK)
        {
          test_diag ("iter %d: %u:%u: %s", iter, err.line, err.column, err.message);
          failures++;
        }
      else if (!kernels_equal (k, back, why, sizeof why))
        {
          test_diag ("iter %d: parse(write(k)) differs in %s", iter, why);
          failures++;
        }
      else if ((text2 = write_text (back, &len2)) == NULL || len2 != len
               || memcmp (text, text2, len) != 0)
        {
          test_diag ("iter %d: write(parse(text)) != text", iter);
          failures++;
        }
      if (failures == 1 && st == TCONV_OK && why[0] != '\0')
        test_diag ("text:\n%s", text);
      free (text);
      free (text2);
      tconv_kernel_free (k);
      tconv_kernel_free (back);
    }
  CHECK (failures == 0, "400 random kernels round-trip bit for bit, text and kernel (seed %llu)",
         (unsigned long long) rng->seed);
}

/* Many raw bit patterns through one big kernel: every finite float prints and reads back. */
static void
roundtrip_float_bits (test_rng *rng)
{
  tconv_kernel *k = NULL, *back = NULL;
  const size_t  n = 16 * 128 * 128;
  size_t        len = 0, bad = n;
  char         *text;

  if (tconv_kernel_new (16, 128, 128, &k, NULL) != TCONV_OK)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      uint32_t bits;
      float    f;
      do
        {
          bits = (uint32_t) test_rng_next (rng);
          /* A quarter of them subnormal or zero, which is where converters go wrong. */
          if (i % 4 == 0)
            bits &= 0x807FFFFFu;
          memcpy (&f, &bits, sizeof f);
        }
      while (!isfinite (f));
      k->weights[i] = f;
    }
  text = write_text (k, &len);
  if (text != NULL && tconv_kernel_parse (text, len, &back, NULL) == TCONV_OK)
    for (size_t i = 0; i < n && bad == n; i++)
      if (memcmp (&k->weights[i], &back->weights[i], sizeof (float)) != 0)
        bad = i;
  CHECK (back != NULL && bad == n, "%zu random float bit patterns round-trip (%zu bytes)%s", n,
         len, bad < n ? ": mismatch" : "");
  if (back != NULL && bad < n)
    test_diag ("weights[%zu]: wrote %a, read %a", bad, (double) k->weights[bad],
               (double) back->weights[bad]);
  free (text);
  tconv_kernel_free (k);
  tconv_kernel_free (back);
}

/* ---------------------------------------------------------------------------------------------
 * Hand-written files
 */

static const char bilinear_text[] =
  "tconv-kernel 1\n"
  "# Bilinear x2: output pixel centres aligned with input pixel centres.\n"
  "# Per axis 0.25 0.75 0.75 0.25; k + opad - 2 pad = 4 + 0 - 2 = 2.\n"
  "name bilinear-x2\n"
  "description \"Bilinear \\\"tent\\\" ×2, back\\\\slash\"\n"
  "stride 2 2\n"
  "size 4 4\n"
  "padding 1 1\n"
  "output-padding 0 0\n"
  "channels 1\n"
  "provenance analytic\n"
  "weights\n"
  "0.0625 0.1875 0.1875 0.0625\n"
  "0.1875 0.5625 0.5625 0.1875\n"
  "0.1875 0.5625 0.5625 0.1875\n"
  "0.0625 0.1875 0.1875 0.0625\n"
  "end\n";

static void
bilinear_handwritten (void)
{
  static const float axis[4] = { 0.25f, 0.75f, 0.75f, 0.25f };
  tconv_kernel      *k = parse_ok (bilinear_text, "bilinear x2");
  bool               ok = true;
  size_t             len = 0;
  char              *text;

  if (k == NULL)
    return;
  CHECK (strcmp (k->name, "bilinear-x2") == 0, "name");
  CHECK (strcmp (k->description, "Bilinear \"tent\" ×2, back\\slash") == 0,
         "description unescaped: [%s]", k->description);
  CHECK (k->stride_h == 2 && k->stride_w == 2 && k->k_h == 4 && k->k_w == 4 && k->pad_h == 1
           && k->pad_w == 1 && k->opad_h == 0 && k->opad_w == 0 && k->channels == 1,
         "geometry");
  CHECK (k->k_h + k->opad_h - 2 * k->pad_h == k->stride_h, "k + opad - 2 pad == stride");
  CHECK (k->provenance == TCONV_PROVENANCE_ANALYTIC && k->bias == NULL && k->source == NULL
           && k->degradation == NULL && k->command == NULL,
         "optional fields absent");
  CHECK (k->comments != NULL
           && strcmp (k->comments,
                      "Bilinear x2: output pixel centres aligned with input pixel centres.\n"
                      "Per axis 0.25 0.75 0.75 0.25; k + opad - 2 pad = 4 + 0 - 2 = 2.")
                == 0,
         "comments kept, joined by newline");
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      ok = ok && k->weights[y * 4 + x] == axis[y] * axis[x];
  CHECK (ok, "weights are the outer product of 0.25 0.75 0.75 0.25");

  text = write_text (k, &len);
  CHECK (text != NULL && len == strlen (bilinear_text) && strcmp (text, bilinear_text) == 0,
         "canonical text: write(parse(text)) == text");
  if (text != NULL && strcmp (text, bilinear_text) != 0)
    test_diag ("wrote:\n%s", text);
  free (text);
  tconv_kernel_free (k);
}

/* CRLF, indentation, tabs between numbers, blank lines, comments among the rows, optional
 * keys left out, no final newline: parses, and writes the canonical form. */
static void
noncanonical_handwritten (void)
{
  static const char text[] = "tconv-kernel 1\r\n"
                             "\r\n"
                             "name   box-x2 \r\n"
                             "   stride\t2 2\r\n"
                             "size 2 2\r\n"
                             "padding 0 0\r\n"
                             "channels 1\r\n"
                             "  # indented comment, with a trailing space \r\n"
                             "provenance imported\r\n"
                             "command \"\"\r\n"
                             "weights\r\n"
                             "#\r\n"
                             "  1\t1.0e0\r\n"
                             "\r\n"
                             "#comment between rows\r\n"
                             "1E0 100e-2\r\n"
                             "end\r\n"
                             "\r\n"
                             "  \t";
  static const char canonical[] = "tconv-kernel 1\n"
                                  "# indented comment, with a trailing space \n"
                                  "#\n"
                                  "# comment between rows\n"
                                  "name box-x2\n"
                                  "description \"\"\n"
                                  "stride 2 2\n"
                                  "size 2 2\n"
                                  "padding 0 0\n"
                                  "output-padding 0 0\n"
                                  "channels 1\n"
                                  "provenance imported\n"
                                  "command \"\"\n"
                                  "weights\n"
                                  "1 1\n"
                                  "1 1\n"
                                  "end\n";
  tconv_kernel *k = NULL, *back;
  size_t        len = 0;
  char         *out, why[128];

  CHECK (tconv_kernel_parse (text, sizeof text - 1, &k, NULL) == TCONV_OK && k != NULL,
         "non-canonical file (CRLF, tabs, blank lines, no final LF) parses");
  if (k == NULL)
    return;
  CHECK (k->description != NULL && k->description[0] == '\0', "description defaults to \"\"");
  CHECK (k->command != NULL && k->command[0] == '\0' && k->source == NULL,
         "empty command kept, absent source NULL");
  CHECK (k->opad_h == 0 && k->opad_w == 0, "output-padding defaults to 0 0");
  out = write_text (k, &len);
  CHECK (out != NULL && strcmp (out, canonical) == 0, "written in canonical form");
  if (out != NULL && strcmp (out, canonical) != 0)
    test_diag ("wrote:\n%s", out);
  back = out != NULL ? parse_ok (out, "canonical form") : NULL;
  CHECK (back != NULL && kernels_equal (k, back, why, sizeof why), "and reads back the same");
  free (out);
  tconv_kernel_free (k);
  tconv_kernel_free (back);
}

static void
per_channel (void)
{
  static const char text[] = "tconv-kernel 1\n"
                             "name rgb-learned.v2\n"
                             "description \"learned on photos\"\n"
                             "stride 3 2\n"
                             "size 3 2\n"
                             "padding 0 0\n"
                             "output-padding 2 1\n"
                             "channels 3\n"
                             "bias 0.5 -0 1e-3\n"
                             "provenance learned\n"
                             "source \"train/*.png\"\n"
                             "degradation \"box 3x2, linear light\"\n"
                             "command \"tconv learn --stride 3,2 train/\"\n"
                             "weights\n"
                             "channel 0\n"
                             "1 2\n"
                             "3 4\n"
                             "5 6\n"
                             "# blue is next but one\n"
                             "channel 1\n"
                             "-1 -2\n"
                             "-3 -4\n"
                             "-5 -6\n"
                             "channel 2\n"
                             "0.5 1.5\n"
                             "2.5 3.5\n"
                             "4.5 5.5\n"
                             "end\n";
  tconv_kernel *k = parse_ok (text, "per-channel kernel");
  bool          ok = true;
  size_t        len = 0;
  char         *out;

  if (k == NULL)
    return;
  CHECK (k->channels == 3 && k->k_h == 3 && k->k_w == 2 && k->stride_h == 3 && k->stride_w == 2
           && k->opad_h == 2 && k->opad_w == 1,
         "per-channel geometry");
  CHECK (k->bias != NULL && k->bias[0] == 0.5f && k->bias[1] == 0.0f && signbit (k->bias[1])
           && k->bias[2] == 1e-3f,
         "bias, -0 keeps its sign");
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 6; i++)
      {
        float want = c == 0 ? (float) (i + 1) : c == 1 ? (float) -(i + 1) : (float) i + 0.5f;
        ok = ok && k->weights[c * 6 + i] == want;
      }
  CHECK (ok, "weights laid out channel-major, then row-major");
  CHECK (k->provenance == TCONV_PROVENANCE_LEARNED && strcmp (k->source, "train/*.png") == 0
           && strcmp (k->degradation, "box 3x2, linear light") == 0
           && strcmp (k->command, "tconv learn --stride 3,2 train/") == 0,
         "provenance strings");
  CHECK (k->comments != NULL && strcmp (k->comments, "blue is next but one") == 0,
         "comment inside the weights kept");
  out = write_text (k, &len);
  CHECK (out != NULL && strstr (out, "channel 2\n0.5 1.5\n") != NULL
           && strstr (out, "bias 0.5 -0 0.001\n") != NULL,
         "written with channel lines and shortest numbers");
  free (out);
  tconv_kernel_free (k);
}

/* Numbers the scanner must accept, with the float each one means. */
static void
numbers_accepted (void)
{
  static const struct
  {
    const char *text;
    float       want;
  } cases[] = {
    { "0", 0.0f },
    { "-0", -0.0f },
    { "-0.0e-0", -0.0f },
    { "1E+2", 100.0f },
    { "0.1", 0.1f },
    { "-1.25e-3", -1.25e-3f },
    { "3.4028235e38", FLT_MAX },
    { "3.40282356e38", FLT_MAX }, /* just below the overflow threshold */
    { "1.4e-45", FLT_TRUE_MIN },
    { "1e-50", 0.0f },            /* underflow rounds to zero */
    { "1.17549435e-38", FLT_MIN },
    { "123456789012345678901234567890", 1.23456789e29f },
    { "0.000000000000000000000000000000000000000000001401298464324817", FLT_TRUE_MIN },
    { "16777217", 16777216.0f },  /* ties to even */
  };
  int bad = 0;

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      char          text[512];
      tconv_kernel *k = NULL;
      tconv_status  st;

      snprintf (text, sizeof text,
                "tconv-kernel 1\nname n\nstride 1 1\nsize 1 1\npadding 0 0\nchannels 1\n"
                "provenance analytic\nweights\n%s\nend\n",
                cases[i].text);
      st = tconv_kernel_parse (text, strlen (text), &k, NULL);
      if (st != TCONV_OK || memcmp (&k->weights[0], &cases[i].want, sizeof (float)) != 0)
        {
          test_diag ("'%s' -> %s %a", cases[i].text, tconv_status_string (st),
                     k != NULL ? (double) k->weights[0] : 0.0);
          bad++;
        }
      tconv_kernel_free (k);
    }
  CHECK (bad == 0, "number scanner: exact conversions, subnormals, underflow, ties");
}

/* Numbers next to the limits that the scanner must refuse (the catalogue has the rest). */
static void
numbers_refused (void)
{
  static const char *const cases[] = { "3.40282357e38", "-3.40282357e38",
                                       "1e99999999999999999999", "1e-", "1.e5", "-.5", "00",
                                       "1e5.5", "--1", "1_000", "nan(0x1)", "0X1P0", "1f",
                                       "\xef\xbc\x91" /* fullwidth digit one */ };
  int bad = 0;

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      char          text[512];
      tconv_kernel *k = NULL;
      tconv_error   err = { 0 };
      tconv_status  st;

      /* Row "0 X": the bad number is the second token, at 9:3. */
      snprintf (text, sizeof text,
                "tconv-kernel 1\nname n\nstride 1 1\nsize 1 2\npadding 0 0\nchannels 1\n"
                "provenance analytic\nweights\n0 %s\nend\n",
                cases[i]);
      st = tconv_kernel_parse (text, strlen (text), &k, &err);
      if (st != TCONV_ERR_PARSE || k != NULL || err.line != 9 || err.column != 3)
        {
          test_diag ("'%s' -> %s %u:%u %s", cases[i], tconv_status_string (st), err.line,
                     err.column, err.message);
          bad++;
        }
      tconv_kernel_free (k);
    }
  CHECK (bad == 0, "number scanner refuses overflow at the rounding threshold and bad syntax");
}

/* The parser reads @len bytes and not one more, whatever follows them in memory. */
static void
length_not_terminator (void)
{
  size_t        n = strlen (bilinear_text);
  char         *buf = test_malloc (n + 8);
  tconv_kernel *k = NULL;
  tconv_error   err = { 0 };
  tconv_status  st;

  memcpy (buf, bilinear_text, n);
  memcpy (buf + n, "garbage", 8);
  CHECK (tconv_kernel_parse (buf, n, &k, NULL) == TCONV_OK, "bytes after len are not read");
  tconv_kernel_free (k);
  k = NULL;
  /* Cut inside "end": the last line is "en". */
  st = tconv_kernel_parse (buf, n - 2, &k, &err);
  CHECK (st == TCONV_ERR_PARSE && k == NULL && err.line == 17 && err.column == 1,
         "len cutting 'end' short is an error at 17:1 (%u:%u %s)", err.line, err.column,
         err.message);
  free (buf);
}

static void
parse_arguments (void)
{
  tconv_kernel *k = (tconv_kernel *) &k; /* anything but NULL: must come back NULL */
  tconv_error   err = { 0 };
  tconv_status  st;
  char         *big;

  CHECK (tconv_kernel_parse ("x", 1, NULL, NULL) == TCONV_ERR_INVALID_ARG, "NULL kernel");
  CHECK (tconv_kernel_parse (NULL, 5, &k, NULL) == TCONV_ERR_INVALID_ARG && k == NULL,
         "NULL text with a length");
  k = (tconv_kernel *) &k;
  CHECK (tconv_kernel_parse (NULL, 0, &k, &err) == TCONV_ERR_PARSE && k == NULL
           && err.line == 1 && err.column == 1,
         "NULL text of length 0 is an empty file");
  big = test_malloc (TCONV_KERNEL_FILE_MAX + 1u);
  memset (big, ' ', TCONV_KERNEL_FILE_MAX + 1u);
  st = tconv_kernel_parse (big, TCONV_KERNEL_FILE_MAX + 1u, &k, &err);
  CHECK (st == TCONV_ERR_PARSE && k == NULL && strstr (err.message, "at most") != NULL,
         "file over TCONV_KERNEL_FILE_MAX refused: %s", err.message);
  free (big);
}

static void
write_buffer_sizes (void)
{
  tconv_kernel *k = parse_ok (bilinear_text, "bilinear");
  size_t        need = 0, len = 0, n = strlen (bilinear_text);
  tconv_status  st;
  char         *buf;

  if (k == NULL)
    return;
  st = tconv_kernel_write (k, NULL, 0, &need, NULL);
  CHECK (st == TCONV_OK && need == n, "size query with NULL buf: %zu", need);
  buf = test_malloc (n + 1);
  memset (buf, 'Z', n + 1);
  CHECK (tconv_kernel_write (k, buf, n - 1, &len, NULL) == TCONV_ERR_TOO_LARGE && len == n
           && buf[0] == 'Z',
         "cap one short: TCONV_ERR_TOO_LARGE, len = size needed, buffer untouched");
  CHECK (tconv_kernel_write (k, buf, n, &len, NULL) == TCONV_OK && len == n && buf[n] == 'Z'
           && memcmp (buf, bilinear_text, n) == 0,
         "cap == len: written without a NUL");
  CHECK (tconv_kernel_write (k, buf, n + 1, &len, NULL) == TCONV_OK && buf[n] == '\0',
         "cap == len + 1: NUL added");
  CHECK (tconv_kernel_write (NULL, buf, n + 1, &len, NULL) == TCONV_ERR_INVALID_ARG
           && tconv_kernel_write (k, buf, n + 1, NULL, NULL) == TCONV_ERR_INVALID_ARG,
         "NULL kernel or len");
  free (buf);
  tconv_kernel_free (k);
}

/* A kernel whose text would exceed TCONV_KERNEL_FILE_MAX is refused by the writer, since the
 * parser would refuse the file: 64 x 256 x 256 weights of "0.25 " make 20 MiB. */
static void
write_refuses_oversized (void)
{
  tconv_kernel *k = NULL, *back = NULL;
  const size_t  n = 64u * 256u * 256u;
  size_t        len = 0;
  char         *text;
  tconv_status  st;

  if (tconv_kernel_new (64, 256, 256, &k, NULL) != TCONV_OK)
    abort ();
  for (size_t i = 0; i < n; i++)
    k->weights[i] = 0.25f;
  st = tconv_kernel_write (k, NULL, 0, &len, NULL);
  CHECK (st == TCONV_ERR_TOO_LARGE && len > TCONV_KERNEL_FILE_MAX,
         "writer refuses a text of %zu bytes (limit %u)", len, TCONV_KERNEL_FILE_MAX);
  /* The largest kernel with short numbers fits: "0 " is 2 bytes. */
  for (size_t i = 0; i < n; i++)
    k->weights[i] = 0.0f;
  st = tconv_kernel_write (k, NULL, 0, &len, NULL);
  CHECK (st == TCONV_OK && len < TCONV_KERNEL_FILE_MAX, "64 x 256 x 256 zeros fit: %zu bytes",
         len);
  k->weights[n - 1] = -1.5f;
  text = write_text (k, &len);
  st = text != NULL ? tconv_kernel_parse (text, len, &back, NULL) : TCONV_ERR_NO_MEMORY;
  CHECK (st == TCONV_OK && back->weights[n - 1] == -1.5f && back->weights[n - 2] == 0.0f,
         "and the largest kernel parses back");
  free (text);
  tconv_kernel_free (back);
  tconv_kernel_free (k);
}

/* Whatever the locale's decimal point, the text uses '.'. */
static void
locale_independent (void)
{
  static const char *const locales[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "ps_AF.UTF-8",
                                         "de_DE", "C.UTF-8" };
  const char             *used = NULL;
  tconv_kernel           *k, *back = NULL;
  size_t                  len = 0;
  char                   *text, why[128];

  for (size_t i = 0; i < sizeof locales / sizeof locales[0] && used == NULL; i++)
    used = setlocale (LC_ALL, locales[i]);
  k = parse_ok (bilinear_text, "bilinear under a locale");
  if (k != NULL)
    {
      k->weights[0] = 1.5f;
      text = write_text (k, &len);
      CHECK (text != NULL && strstr (text, "1.5 0.1875") != NULL
               && tconv_kernel_parse (text, len, &back, NULL) == TCONV_OK
               && kernels_equal (k, back, why, sizeof why),
             "locale %s: '.' written and read%s", used != NULL ? used : "C",
             used != NULL && strcmp (used, "C.UTF-8") != 0 ? ""
                                                         : " # SKIP no locale with a ',' point");
      free (text);
    }
  tconv_kernel_free (k);
  tconv_kernel_free (back);
  setlocale (LC_ALL, "C");
}

/* ---------------------------------------------------------------------------------------------
 * Lifetime and validation
 */

static void
kernel_lifetime (void)
{
  tconv_kernel *k = NULL, *c = NULL;
  tconv_error   err = { 0 };
  char          why[128];
  bool          zero = true;

  CHECK (tconv_kernel_new (0, 3, 3, &k, NULL) == TCONV_ERR_INVALID_ARG && k == NULL
           && tconv_kernel_new (1, 257, 3, &k, NULL) == TCONV_ERR_INVALID_ARG
           && tconv_kernel_new (65, 3, 3, &k, NULL) == TCONV_ERR_INVALID_ARG
           && tconv_kernel_new (1, 1, 1, NULL, NULL) == TCONV_ERR_INVALID_ARG,
         "kernel_new refuses sizes out of range");
  CHECK (tconv_kernel_new (2, 3, 4, &k, NULL) == TCONV_OK && k != NULL, "kernel_new");
  if (k == NULL)
    return;
  for (size_t i = 0; i < 24; i++)
    zero = zero && k->weights[i] == 0.0f && !signbit (k->weights[i]);
  CHECK (zero && strcmp (k->name, "unnamed") == 0 && k->description[0] == '\0'
           && k->stride_h == 1 && k->stride_w == 1 && k->pad_h == 0 && k->opad_w == 0
           && k->bias == NULL && k->provenance == TCONV_PROVENANCE_ANALYTIC,
         "kernel_new defaults");
  CHECK (tconv_kernel_validate (k, &err) == TCONV_OK, "new kernel is valid");

  CHECK (tconv_kernel_set_string (&k->source, "a \"source\"") == TCONV_OK
           && strcmp (k->source, "a \"source\"") == 0,
         "set_string");
  CHECK (tconv_kernel_set_string (&k->source, k->source) == TCONV_OK
           && strcmp (k->source, "a \"source\"") == 0,
         "set_string with its own value");
  CHECK (tconv_kernel_set_string (&k->command, NULL) == TCONV_OK && k->command == NULL
           && tconv_kernel_set_string (NULL, "x") == TCONV_ERR_INVALID_ARG,
         "set_string NULL value / NULL field");
  k->bias = test_malloc (2 * sizeof (float));
  k->bias[0] = 1.0f;
  k->bias[1] = -0.0f;
  k->weights[5] = 0.25f;
  CHECK (tconv_kernel_copy (k, &c, NULL) == TCONV_OK && c != NULL
           && kernels_equal (k, c, why, sizeof why) && c->weights != k->weights
           && c->bias != k->bias && c->source != k->source,
         "copy is deep and equal");
  tconv_kernel_free (c);
  CHECK (tconv_kernel_copy (NULL, &c, NULL) == TCONV_ERR_INVALID_ARG && c == NULL,
         "copy of NULL");
  tconv_kernel_free (k);
  tconv_kernel_free (NULL);
}

/* Each mutation breaks one invariant; validate names it and write refuses the kernel. */
static void
validate_rejects (void)
{
  static const char *const expect[] = {
    "weights[3]",  "bias[1]",     "name",       "name",        "description", "comments",
    "opad_w",      "pad_h",       "stride_h",   "source",      "degradation", "command",
    "description", "provenance",  "channels",   "name",
  };
  int n_cases = (int) (sizeof expect / sizeof expect[0]);

  for (int i = 0; i < n_cases; i++)
    {
      tconv_kernel *k = NULL;
      tconv_error   err = { 0 };
      size_t        len;
      char         *long_text;
      tconv_status  st;

      if (tconv_kernel_new (2, 3, 3, &k, NULL) != TCONV_OK)
        abort ();
      k->stride_h = k->stride_w = 2;
      switch (i)
        {
        case 0: k->weights[3] = NAN; break;
        case 1:
          k->bias = test_malloc (2 * sizeof (float));
          k->bias[0] = 0.0f;
          k->bias[1] = -INFINITY;
          break;
        case 2: tconv_kernel_set_string (&k->name, "Bilinear"); break;
        case 3: tconv_kernel_set_string (&k->name, ""); break;
        case 4: tconv_kernel_set_string (&k->description, "two\nlines"); break;
        case 5: tconv_kernel_set_string (&k->comments, "a\ttab"); break;
        case 6: k->opad_w = 2; break;
        case 7: k->pad_h = 3; break;
        case 8: k->stride_h = 65; break;
        case 9: tconv_kernel_set_string (&k->source, "bad \xc0\xaf utf-8"); break;
        case 10: tconv_kernel_set_string (&k->degradation, "C1 \xc2\x85"); break;
        case 11: tconv_kernel_set_string (&k->command, "cr\r"); break;
        case 12:
          long_text = test_malloc (TCONV_KERNEL_TEXT_MAX + 2);
          memset (long_text, 'a', TCONV_KERNEL_TEXT_MAX + 1);
          long_text[TCONV_KERNEL_TEXT_MAX + 1] = '\0';
          tconv_kernel_set_string (&k->description, long_text);
          free (long_text);
          break;
        case 13: k->provenance = TCONV_PROVENANCE_COUNT; break;
        case 14: k->channels = 0; break;
        default: free (k->name); k->name = NULL; break;
        }
      st = tconv_kernel_validate (k, &err);
      CHECK (st == TCONV_ERR_INVALID_ARG && strstr (err.message, expect[i]) != NULL
               && tconv_kernel_write (k, NULL, 0, &len, NULL) == TCONV_ERR_INVALID_ARG,
             "validate case %d: %s", i, err.message);
      if (i == 14)
        k->channels = 2; /* so that free sees a sane kernel (it does not read sizes anyway) */
      tconv_kernel_free (k);
    }
}

/* ---------------------------------------------------------------------------------------------
 * The malformed catalogue
 */


static char *
read_file (const char *path, size_t *len)
{
  FILE  *f = fopen (path, "rb");
  char  *buf = NULL;
  size_t cap = 0, n = 0;

  if (f == NULL)
    return NULL;
  for (;;)
    {
      if (n == cap)
        {
          cap = cap ? 2 * cap : 4096;
          buf = realloc (buf, cap);
          if (buf == NULL)
            abort ();
        }
      size_t got = fread (buf + n, 1, cap - n, f);
      n += got;
      if (got == 0)
        break;
    }
  fclose (f);
  *len = n;
  return buf;
}

/* The examples in presets/README.md parse, and are in canonical form. */
static void
readme_examples (const char *root)
{
  char   path[4200];
  size_t len = 0;
  char  *doc, *p;
  int    n = 0;

  snprintf (path, sizeof path, "%s/presets/README.md", root);
  doc = read_file (path, &len);
  CHECK (doc != NULL, "read %s", path);
  if (doc == NULL)
    return;
  doc = realloc (doc, len + 1);
  if (doc == NULL)
    abort ();
  doc[len] = '\0';
  for (p = doc; (p = strstr (p, "```\ntconv-kernel 1\n")) != NULL;)
    {
      char         *start = p + 4, *end = strstr (start, "```"), *out;
      tconv_kernel *k = NULL;
      tconv_error   err = { 0 };
      size_t        out_len = 0;
      tconv_status  st;

      if (end == NULL)
        break;
      n++;
      st = tconv_kernel_parse (start, (size_t) (end - start), &k, &err);
      CHECK (st == TCONV_OK, "README example %d parses (%u:%u %s)", n, err.line, err.column,
             st == TCONV_OK ? "" : err.message);
      if (k != NULL && (out = write_text (k, &out_len)) != NULL)
        {
          CHECK (out_len == (size_t) (end - start) && memcmp (out, start, out_len) == 0,
                 "README example %d is in canonical form", n);
          free (out);
        }
      tconv_kernel_free (k);
      p = end + 3;
    }
  CHECK (n >= 2, "README has %d examples", n);
  free (doc);
}

typedef struct entry
{
  char *file;
  bool  seen;
} entry;

static void
malformed_catalogue (const char *root)
{
  char        dir[4096], path[4352], line[1024];
  FILE       *index;
  entry       entries[512];
  int         n_entries = 0, n_ok = 0;

  snprintf (dir, sizeof dir, "%s/tests/data/bad-kernels", root);
  snprintf (path, sizeof path, "%s/expected.txt", dir);
  index = fopen (path, "r");
  CHECK (index != NULL, "open %s", path);
  if (index == NULL)
    return;

  while (fgets (line, sizeof line, index) != NULL)
    {
      char          file[256], substring[512] = "";
      unsigned      want_line, want_col;
      int           used = 0;
      size_t        len = 0, sl;
      char         *text;
      tconv_kernel *k = (tconv_kernel *) &k;
      tconv_error   err = { 0 };
      tconv_status  st;

      line[strcspn (line, "\n")] = '\0';
      if (line[0] == '#' || line[0] == '\0')
        continue;
      if (sscanf (line, "%255s %u:%u %n", file, &want_line, &want_col, &used) != 3 || used == 0)
        {
          CHECK (0, "expected.txt: malformed line '%s'", line);
          continue;
        }
      snprintf (substring, sizeof substring, "%s", line + used);
      sl = strlen (substring);
      CHECK (sl > 0, "%s: the index gives a message substring", file);
      if (n_entries < 512)
        entries[n_entries++] = (entry) { dup_str (file), false };

      snprintf (path, sizeof path, "%s/%s", dir, file);
      text = read_file (path, &len);
      if (text == NULL)
        {
          CHECK (0, "%s: cannot read", path);
          continue;
        }
      st = tconv_kernel_parse (text, len, &k, &err);
      if (st == TCONV_ERR_PARSE && k == NULL && err.line == want_line && err.column == want_col
          && strstr (err.message, substring) != NULL)
        n_ok++;
      else
        CHECK (0, "%s: got %s %u:%u '%s', expected %u:%u '%s'", file, tconv_status_string (st),
               err.line, err.column, err.message, want_line, want_col, substring);
      if (st == TCONV_OK)
        tconv_kernel_free (k);
      free (text);
    }
  fclose (index);
  CHECK (n_ok == n_entries && n_entries >= 35,
         "%d of %d malformed files fail at the expected line:column with the expected message",
         n_ok, n_entries);

  /* Every .tconv file in the folder must be in the index, or it would silently not run. */
  {
    DIR           *d = opendir (dir);
    struct dirent *e;
    int            unlisted = 0;

    CHECK (d != NULL, "list %s", dir);
    while (d != NULL && (e = readdir (d)) != NULL)
      {
        size_t nl = strlen (e->d_name);
        bool   found = false;

        if (nl < 6 || strcmp (e->d_name + nl - 6, ".tconv") != 0)
          continue;
        for (int i = 0; i < n_entries && !found; i++)
          found = strcmp (entries[i].file, e->d_name) == 0;
        if (!found)
          {
            test_diag ("%s is not listed in expected.txt", e->d_name);
            unlisted++;
          }
      }
    if (d != NULL)
      closedir (d);
    CHECK (unlisted == 0, "every catalogue file is listed in expected.txt");
  }
  for (int i = 0; i < n_entries; i++)
    free (entries[i].file);
}

int
main (void)
{
  const char *root = getenv ("TCONV_SOURCE_ROOT");
  test_rng    rng;

  test_begin ("test-preset");
  if (root == NULL || *root == '\0')
    {
      test_diag ("TCONV_SOURCE_ROOT is not set; looking for tests/data in the current directory");
      root = ".";
    }
  test_rng_init (&rng, 20240611);
  test_diag ("seed %llu (set TCONV_TEST_SEED to repeat)", (unsigned long long) rng.seed);

  bilinear_handwritten ();
  noncanonical_handwritten ();
  per_channel ();
  numbers_accepted ();
  numbers_refused ();
  length_not_terminator ();
  parse_arguments ();
  write_buffer_sizes ();
  write_refuses_oversized ();
  locale_independent ();
  kernel_lifetime ();
  validate_rejects ();
  roundtrip_random_kernels (&rng);
  roundtrip_float_bits (&rng);
  readme_examples (root);
  malformed_catalogue (root);
  return test_end ();
}
