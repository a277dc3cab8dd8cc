/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the .npy reader: tconv_npy_parse() on arbitrary bytes; on success
 * tconv_npy_to_float() into a bounded buffer and a round trip of the shape through
 * tconv_npy_header(). A broken invariant aborts, so replay.c reports it too. */
#include "tconv.h"
#include "tconv-npy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FLOATS 4096u /* larger arrays are parsed but not converted */
#define FUZZ_SENTINEL   12345.0f

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_check (int cond)
{
  if (!cond)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static float         out[FUZZ_MAX_FLOATS + 1];
  static unsigned char file[512 + 4 * FUZZ_MAX_FLOATS];
  tconv_npy            npy, back;
  tconv_error          err;
  tconv_status         st;
  size_t               itemsize, count = 1, hlen = 0;

  memset (&err, 0, sizeof err);
  st = tconv_npy_parse (data, size, &npy, &err);
  if (st != TCONV_OK)
    {
      fuzz_check (st == TCONV_ERR_PARSE || st == TCONV_ERR_TOO_LARGE);
      fuzz_check (err.line == 1 && err.column >= 1 && err.column <= size + 1);
      fuzz_check (memchr (err.message, '\0', sizeof err.message) != NULL);
      fuzz_check (err.message[0] != '\0');
      return 0;
    }

  /* The parse result is consistent with the bytes. */
  itemsize = npy.dtype == TCONV_NPY_F64_LE || npy.dtype == TCONV_NPY_F64_BE ? 8 : 4;
  fuzz_check (npy.ndim <= TCONV_NPY_MAX_NDIM);
  for (unsigned i = 0; i < npy.ndim; i++)
    count *= npy.shape[i]; /* cannot wrap: the parser bounded the byte size */
  fuzz_check (count == npy.count && count <= size / itemsize);
  fuzz_check ((const uint8_t *) npy.data >= data &&
              (const uint8_t *) npy.data + count * itemsize == data + size);

  /* Conversion writes exactly count floats and insists on the right count. */
  if (count <= FUZZ_MAX_FLOATS)
    {
      out[count] = FUZZ_SENTINEL;
      fuzz_check (tconv_npy_to_float (&npy, out, count, NULL) == TCONV_OK);
      fuzz_check (out[count] == FUZZ_SENTINEL);
    }
  fuzz_check (tconv_npy_to_float (&npy, out, count + 1, NULL) == TCONV_ERR_INVALID_ARG);

  /* The shape survives a write and a re-read as a '<f4' file. */
  st = tconv_npy_header (npy.shape, npy.ndim, (char *) file, 512, &hlen, NULL);
  fuzz_check (st == TCONV_OK && hlen % 64 == 0 && hlen <= 512 && file[hlen - 1] == '\n');
  if (count <= FUZZ_MAX_FLOATS)
    {
      memset (file + hlen, 0, count * 4);
      fuzz_check (tconv_npy_parse (file, hlen + count * 4, &back, NULL) == TCONV_OK);
      fuzz_check (back.dtype == TCONV_NPY_F32_LE && back.ndim == npy.ndim &&
                  back.count == count &&
                  memcmp (back.shape, npy.shape, sizeof npy.shape) == 0);
    }
  return 0;
}
