/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The GeglBuffer side of learning (core/tconv-selflearn.h does the arithmetic): the pixels a
 * learner sees, and the "self" kernel of an image, for the tconv command and the plug-in. */
#ifndef TCONV_PIPELINE_LEARN_H
#define TCONV_PIPELINE_LEARN_H

#include <gegl.h>

#include "tconv.h"
#include "tconv-selflearn.h"

G_BEGIN_DECLS

/**
 * tconv_pipeline_buffer_rgb:
 * @what:   names the buffer in messages, e.g. "image 'a.png'".
 * @rgb:    (out) (transfer full): interleaved R'G'B' floats, @width x @height; g_free() it.
 *
 * The pixels of @buffer's extent as R'G'B' in the buffer's own colour space (alpha dropped,
 * grey expanded): the values the file stores, as PIL and the benchmark read them. Read as
 * u16 and scaled here, because integer-to-integer conversions in babl are exact (an 8-bit v
 * becomes v * 257) whereas its float paths may be approximations chosen per machine, and
 * learning must not depend on that. Errors (TCONV_PIPELINE_ERROR_FAILED): an empty buffer,
 * no memory.
 */
gboolean tconv_pipeline_buffer_rgb (GeglBuffer  *buffer,
                                    const gchar *what,
                                    gfloat     **rgb,
                                    gsize       *width,
                                    gsize       *height,
                                    GError     **error);

/**
 * tconv_pipeline_learn_self:
 * @stride_h, @stride_w: must be equal, TCONV_SELF_MIN_STRIDE..TCONV_SELF_MAX_STRIDE.
 * @kernel: (out) (transfer full): the kernel tconv_self_learn() learns from @input's pixels
 *          (tconv_pipeline_buffer_rgb()).
 *
 * Errors are TCONV_PIPELINE_ERROR: INVALID for strides out of range (the caller's), FAILED
 * for an input too small for the kernel, or memory.
 */
gboolean tconv_pipeline_learn_self (GeglBuffer    *input,
                                    gint64         stride_h,
                                    gint64         stride_w,
                                    tconv_kernel **kernel,
                                    GError       **error);

G_END_DECLS

#endif /* TCONV_PIPELINE_LEARN_H */
