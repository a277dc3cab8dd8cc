/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the .tconv kernel parser: tconv_kernel_parse() and tconv_bank_parse()
 * on arbitrary bytes. A failure must be a well-formed TCONV_ERR_PARSE (position inside the
 * text, a UTF-8 message); a success must validate, write, parse back to the same kernel (bank)
 * bit for bit and write the same text again. A broken invariant aborts, so replay.c reports
 * it too. */
#include "tconv.h"
#include "tconv-bank.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_check (int cond)
{
  if (!cond)
    abort ();
}

/* Messages end up in GTK labels, which need valid UTF-8. */
static int
utf8_ok (const char *s)
{
  const unsigned char *u = (const unsigned char *) s;

  while (*u != 0)
    {
      size_t n = *u < 0x80 ? 1 : *u >= 0xC2 && *u < 0xE0 ? 2 : *u >= 0xE0 && *u < 0xF0 ? 3
                               : *u >= 0xF0 && *u < 0xF5 ? 4 : 0;
      if (n == 0)
        return 0;
      for (size_t i = 1; i < n; i++)
        if ((u[i] & 0xC0) != 0x80)
          return 0;
      u += n;
    }
  return 1;
}

static int
same_string (const char *a, const char *b)
{
  return (a == NULL || b == NULL) ? a == b : strcmp (a, b) == 0;
}

static int
kernels_equal (const tconv_kernel *a, const tconv_kernel *b)
{
  const size_t n = a->channels * a->k_h * a->k_w;

  return same_string (a->name, b->name) && same_string (a->description, b->description)
         && same_string (a->source, b->source) && same_string (a->degradation, b->degradation)
         && same_string (a->command, b->command) && same_string (a->comments, b->comments)
         && a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->k_h == b->k_h
         && a->k_w == b->k_w && a->pad_h == b->pad_h && a->pad_w == b->pad_w
         && a->opad_h == b->opad_h && a->opad_w == b->opad_w && a->channels == b->channels
         && a->provenance == b->provenance && (a->bias == NULL) == (b->bias == NULL)
         && (a->bias == NULL || memcmp (a->bias, b->bias, a->channels * sizeof (float)) == 0)
         && memcmp (a->weights, b->weights, n * sizeof (float)) == 0;
}

/* Writes @k into a new buffer of exactly the size the query reports. */
static char *
write_exact (const tconv_kernel *k, size_t *len)
{
  size_t need = 0, got = 0;
  char  *buf;

  fuzz_check (tconv_kernel_write (k, NULL, 0, &need, NULL) == TCONV_OK && need > 0);
  buf = malloc (need);
  fuzz_check (buf != NULL);
  /* One byte short must be refused, the exact size accepted (without a NUL). */
  fuzz_check (tconv_kernel_write (k, buf, need - 1, &got, NULL) == TCONV_ERR_TOO_LARGE && got == need);
  fuzz_check (tconv_kernel_write (k, buf, need, &got, NULL) == TCONV_OK && got == need);
  *len = need;
  return buf;
}

static void
check_parse_error (tconv_status st, const tconv_error *err, const uint8_t *data, size_t size)
{
  size_t newlines = 0;

  for (size_t i = 0; i < size; i++)
    newlines += data[i] == '\n';
  fuzz_check (st == TCONV_ERR_PARSE);
  fuzz_check (err->line >= 1 && err->line <= newlines + 1);
  fuzz_check (err->column >= 1 && err->column <= 65537 && err->column <= size + 1);
  fuzz_check (memchr (err->message, '\0', sizeof err->message) != NULL);
  fuzz_check (err->message[0] != '\0' && utf8_ok (err->message));
}

/* The same bytes as a kernel bank: write, parse back, the same text again. */
static void
fuzz_bank (const uint8_t *data, size_t size)
{
  tconv_bank  *b = NULL, *back = NULL;
  tconv_error  err;
  tconv_status st;
  size_t       len = 0, len2 = 0;
  char        *text, *text2;

  memset (&err, 0, sizeof err);
  st = tconv_bank_parse ((const char *) data, size, &b, &err);
  if (st != TCONV_OK)
    {
      fuzz_check (b == NULL);
      check_parse_error (st, &err, data, size);
      return;
    }
  fuzz_check (b != NULL && tconv_bank_validate (b, NULL) == TCONV_OK);
  fuzz_check (tconv_bank_write (b, NULL, 0, &len, NULL) == TCONV_OK && len > 0);
  text = malloc (len);
  fuzz_check (text != NULL && tconv_bank_write (b, text, len, &len, NULL) == TCONV_OK);
  fuzz_check (tconv_bank_parse (text, len, &back, NULL) == TCONV_OK);
  fuzz_check (back->classes == b->classes
              && memcmp (back->weights, b->weights,
                         b->classes * b->global->k_h * b->global->k_w * sizeof (float)) == 0
              && memcmp (back->fallback, b->fallback, b->classes) == 0);
  fuzz_check (tconv_bank_write (back, NULL, 0, &len2, NULL) == TCONV_OK && len2 == len);
  text2 = malloc (len2);
  fuzz_check (text2 != NULL && tconv_bank_write (back, text2, len2, &len2, NULL) == TCONV_OK);
  fuzz_check (memcmp (text, text2, len) == 0);
  free (text), free (text2);
  tconv_bank_free (b), tconv_bank_free (back);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  tconv_kernel *k = NULL, *back = NULL, *again = NULL;
  tconv_error   err;
  tconv_status  st;
  char         *text, *text2;
  size_t        len = 0, len2 = 0;

  fuzz_bank (data, size);
  memset (&err, 0, sizeof err);
  st = tconv_kernel_parse ((const char *) data, size, &k, &err);
  if (st != TCONV_OK)
    {
      /* The position is inside the text or just past its end. */
      fuzz_check (k == NULL);
      check_parse_error (st, &err, data, size);
      return 0;
    }

  fuzz_check (k != NULL && tconv_kernel_validate (k, NULL) == TCONV_OK);
  text = write_exact (k, &len);
  memset (&err, 0, sizeof err);
  fuzz_check (tconv_kernel_parse (text, len, &back, &err) == TCONV_OK);
  fuzz_check (kernels_equal (k, back));
  /* The written text is canonical: writing it again changes nothing. */
  text2 = write_exact (back, &len2);
  fuzz_check (len2 == len && memcmp (text, text2, len) == 0);
  /* A deep copy is equal too. */
  fuzz_check (tconv_kernel_copy (back, &again, NULL) == TCONV_OK && kernels_equal (k, again));

  free (text);
  free (text2);
  tconv_kernel_free (k);
  tconv_kernel_free (back);
  tconv_kernel_free (again);
  return 0;
}
