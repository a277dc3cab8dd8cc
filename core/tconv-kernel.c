/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernels: lifetime (new, copy, free), string fields, and tconv_kernel_validate(), the one
 * place that states every invariant of a tconv_kernel. Analytic kernels and the analysis live
 * in tconv-analytic.c; the text format in tconv-preset.c. */
#include "tconv-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Shared with tconv-preset.c; declared in tconv-private.h. */

/**
 * tconv_utf8_decode:
 * @s: at least one byte.
 * @n: bytes available at @s (>= 1).
 * @cp: (out): the code point.
 * @why: (out): on failure, a short reason ("overlong encoding", ...).
 *
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
 *
 * Returns: the length of the character, 1..4, or 0 when @s does not start a valid one.
 */
size_t
tconv_utf8_decode (const unsigned char *s, size_t n, uint32_t *cp, const char **why)
{
  unsigned char b = s[0];
  size_t        need;
  uint32_t      c, min;

  if (b < 0x80)
    {
      *cp = b;
      return 1;
    }
  if (b < 0xC0)
    {
      *why = "continuation byte without a lead byte";
      return 0;
    }
  if (b < 0xE0)
    {
      need = 2;
      c = b & 0x1Fu;
      min = 0x80;
    }
  else if (b < 0xF0)
    {
      need = 3;
      c = b & 0x0Fu;
      min = 0x800;
    }
  else if (b < 0xF8)
    {
      need = 4;
      c = b & 0x07u;
      min = 0x10000;
    }
  else
    {
      *why = "byte never used in UTF-8";
      return 0;
    }

  for (size_t i = 1; i < need; i++)
    {
      if (i >= n || (s[i] & 0xC0) != 0x80)
        {
          *why = "truncated sequence";
          return 0;
        }
      c = (c << 6) | (s[i] & 0x3Fu);
    }
  if (c < min)
    {
      *why = "overlong encoding";
      return 0;
    }
  if (c >= 0xD800 && c <= 0xDFFF)
    {
      *why = "UTF-16 surrogate";
      return 0;
    }
  if (c > 0x10FFFF)
    {
      *why = "code point above U+10FFFF";
      return 0;
    }
  *cp = c;
  return need;
}

/* C0 controls, DEL and the C1 controls U+0080..U+009F. */
static bool
is_control (uint32_t cp)
{
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

static char *
dup_string (const char *s)
{
  size_t n = strlen (s) + 1;
  char  *d = malloc (n);

  if (d != NULL)
    memcpy (d, s, n);
  return d;
}

/* A string field: at most TCONV_KERNEL_TEXT_MAX bytes of valid UTF-8 without control
 * characters, except '\n' when @newline_ok. */
static tconv_status
check_text (tconv_error *err, const char *field, const char *s, bool newline_ok)
{
  const unsigned char *u = (const unsigned char *) s;
  size_t               n = strlen (s);

  if (n > TCONV_KERNEL_TEXT_MAX)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s of %zu bytes: at most %u allowed",
                       field, n, TCONV_KERNEL_TEXT_MAX);
  for (size_t i = 0; i < n;)
    {
      const char *why = NULL;
      uint32_t    cp;
      size_t      len = tconv_utf8_decode (u + i, n - i, &cp, &why);

      if (len == 0)
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "%s: invalid UTF-8 at byte %zu (%s)", field, i, why);
      if (is_control (cp) && !(newline_ok && cp == '\n'))
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "%s: control character U+%04X at byte %zu: not allowed", field,
                           (unsigned) cp, i);
      i += len;
    }
  return TCONV_OK;
}

static tconv_status
check_side (tconv_error *err, const char *what, size_t v, size_t lo, size_t hi)
{
  if (v < lo || v > hi)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s %zu: expected %zu..%zu", what, v,
                       lo, hi);
  return TCONV_OK;
}

/* Ranges of the sizes, before anything is read through them. */
static tconv_status
check_shape (const tconv_kernel *k, tconv_error *err)
{
  tconv_status st;

  if ((st = check_side (err, "channels", k->channels, 1, TCONV_KERNEL_MAX_CHANNELS))
      || (st = check_side (err, "k_h", k->k_h, 1, TCONV_MAX_KERNEL_SIDE))
      || (st = check_side (err, "k_w", k->k_w, 1, TCONV_MAX_KERNEL_SIDE)))
    return st;
  if (k->weights == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "weights: NULL");
  return TCONV_OK;
}

tconv_status
tconv_kernel_new (size_t channels, size_t k_h, size_t k_w, tconv_kernel **kernel,
                  tconv_error *err)
{
  tconv_kernel *k;

  if (kernel == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "tconv_kernel_new: kernel is NULL");
  *kernel = NULL;
  if (channels < 1 || channels > TCONV_KERNEL_MAX_CHANNELS)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel channels %zu: must be 1..%u",
                       channels, TCONV_KERNEL_MAX_CHANNELS);
  if (k_h < 1 || k_h > TCONV_MAX_KERNEL_SIDE || k_w < 1 || k_w > TCONV_MAX_KERNEL_SIDE)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "kernel %zux%zu: each side must be 1..%u", k_h, k_w, TCONV_MAX_KERNEL_SIDE);

  k = calloc (1, sizeof *k);
  if (k == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "kernel: out of memory");
  k->channels = channels;
  k->k_h = k_h;
  k->k_w = k_w;
  k->stride_h = k->stride_w = 1;
  k->provenance = TCONV_PROVENANCE_ANALYTIC;
  /* At most 64 * 256 * 256 floats: no overflow. calloc gives +0.0f. */
  k->weights = calloc (channels * k_h * k_w, sizeof (float));
  k->name = dup_string ("unnamed");
  k->description = dup_string ("");
  if (k->weights == NULL || k->name == NULL || k->description == NULL)
    {
      tconv_kernel_free (k);
      return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0,
                         "kernel of %zu x %zu x %zu floats: out of memory", channels, k_h, k_w);
    }
  *kernel = k;
  return TCONV_OK;
}

void
tconv_kernel_free (tconv_kernel *kernel)
{
  if (kernel == NULL)
    return;
  free (kernel->name);
  free (kernel->description);
  free (kernel->weights);
  free (kernel->bias);
  free (kernel->source);
  free (kernel->degradation);
  free (kernel->command);
  free (kernel->comments);
  free (kernel);
}

tconv_status
tconv_kernel_set_string (char **field, const char *value)
{
  char *copy = NULL;

  if (field == NULL)
    return TCONV_ERR_INVALID_ARG;
  /* Copy before freeing: @value may be *@field itself. */
  if (value != NULL && (copy = dup_string (value)) == NULL)
    return TCONV_ERR_NO_MEMORY;
  free (*field);
  *field = copy;
  return TCONV_OK;
}

tconv_status
tconv_kernel_copy (const tconv_kernel *kernel, tconv_kernel **copy, tconv_error *err)
{
  tconv_kernel *c;
  size_t        n;
  tconv_status  st;

  if (copy == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "tconv_kernel_copy: copy is NULL");
  *copy = NULL;
  if (kernel == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "tconv_kernel_copy: kernel is NULL");
  if ((st = check_shape (kernel, err)) != TCONV_OK)
    return st;

  if ((st = tconv_kernel_new (kernel->channels, kernel->k_h, kernel->k_w, &c, err)) != TCONV_OK)
    return st;
  n = kernel->channels * kernel->k_h * kernel->k_w;
  memcpy (c->weights, kernel->weights, n * sizeof (float));
  c->stride_h = kernel->stride_h;
  c->stride_w = kernel->stride_w;
  c->pad_h = kernel->pad_h;
  c->pad_w = kernel->pad_w;
  c->opad_h = kernel->opad_h;
  c->opad_w = kernel->opad_w;
  c->provenance = kernel->provenance;
  if (kernel->bias != NULL)
    {
      c->bias = malloc (kernel->channels * sizeof (float));
      if (c->bias == NULL)
        {
          tconv_kernel_free (c);
          return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "kernel copy: out of memory");
        }
      memcpy (c->bias, kernel->bias, kernel->channels * sizeof (float));
    }
  if ((st = tconv_kernel_set_string (&c->name, kernel->name))
      || (st = tconv_kernel_set_string (&c->description, kernel->description))
      || (st = tconv_kernel_set_string (&c->source, kernel->source))
      || (st = tconv_kernel_set_string (&c->degradation, kernel->degradation))
      || (st = tconv_kernel_set_string (&c->command, kernel->command))
      || (st = tconv_kernel_set_string (&c->comments, kernel->comments)))
    {
      tconv_kernel_free (c);
      return tconv_fail (err, st, 0, 0, "kernel copy: %s", tconv_status_string (st));
    }
  *copy = c;
  return TCONV_OK;
}

tconv_status
tconv_kernel_validate (const tconv_kernel *k, tconv_error *err)
{
  tconv_status st;
  size_t       n, name_len;

  if (k == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "kernel: NULL");
  if ((st = check_shape (k, err)))
    return st;
  if ((st = check_side (err, "stride_h", k->stride_h, 1, TCONV_MAX_STRIDE))
      || (st = check_side (err, "stride_w", k->stride_w, 1, TCONV_MAX_STRIDE))
      || (st = check_side (err, "pad_h", k->pad_h, 0, k->k_h - 1))
      || (st = check_side (err, "pad_w", k->pad_w, 0, k->k_w - 1))
      || (st = check_side (err, "opad_h", k->opad_h, 0, k->stride_h - 1))
      || (st = check_side (err, "opad_w", k->opad_w, 0, k->stride_w - 1)))
    return st;
  if ((unsigned) k->provenance >= TCONV_PROVENANCE_COUNT)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "provenance %d: expected 0..%d",
                       (int) k->provenance, TCONV_PROVENANCE_COUNT - 1);

  if (k->name == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "name: NULL");
  name_len = strlen (k->name);
  if (name_len < 1 || name_len > TCONV_KERNEL_NAME_MAX)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "name of %zu bytes: expected 1..%u",
                       name_len, TCONV_KERNEL_NAME_MAX);
  for (size_t i = 0; i < name_len; i++)
    {
      unsigned char c = (unsigned char) k->name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "name: byte 0x%02X at %zu not allowed, expected [a-z0-9._-]", c, i);
    }
  if (k->description == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "description: NULL");
  if ((st = check_text (err, "description", k->description, false))
      || (k->source != NULL && (st = check_text (err, "source", k->source, false)))
      || (k->degradation != NULL
          && (st = check_text (err, "degradation", k->degradation, false)))
      || (k->command != NULL && (st = check_text (err, "command", k->command, false)))
      || (k->comments != NULL && (st = check_text (err, "comments", k->comments, true))))
    return st;

  n = k->channels * k->k_h * k->k_w;
  for (size_t i = 0; i < n; i++)
    if (!isfinite (k->weights[i]))
      return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "weights[%zu] %g: must be finite", i,
                         (double) k->weights[i]);
  if (k->bias != NULL)
    for (size_t i = 0; i < k->channels; i++)
      if (!isfinite (k->bias[i]))
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bias[%zu] %g: must be finite", i,
                           (double) k->bias[i]);
  return TCONV_OK;
}
