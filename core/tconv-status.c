/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Status codes as text. The table is indexed by the enum; the static assertion keeps the two
 * in step when a status is added. */
#include "tconv.h"

#include <assert.h>

static const char *const status_strings[] = {
  [TCONV_OK] = "success",
  [TCONV_ERR_INVALID_ARG] = "invalid argument",
  [TCONV_ERR_TOO_LARGE] = "size too large",
  [TCONV_ERR_NO_MEMORY] = "out of memory",
  [TCONV_ERR_PARSE] = "malformed input",
  [TCONV_ERR_SINGULAR] = "singular least-squares system",
};

static_assert (sizeof status_strings / sizeof status_strings[0] == TCONV_STATUS_COUNT,
               "status_strings must cover every tconv_status");

const char *
tconv_status_string (tconv_status status)
{
  if ((unsigned) status >= TCONV_STATUS_COUNT)
    return "unknown status";
  return status_strings[status];
}
