/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kernel banks: lifetime and validation (tconv-bank.h); the classifier is in
 * tconv-bank-classify.c. */
#include "tconv-bank.h"
#include "tconv-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PHASE_SUM_TOL 1e-6

/* ---------------------------------------------------------------------------------------------
 * Classifier
 */

static tconv_status
check_thresholds (const double *t, size_t n, double hi, const char *what, tconv_error *err)
{
  for (size_t i = 0; i < n; i++)
    {
      if (!isfinite (t[i]) || t[i] < 0.0 || t[i] > hi)
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "%s threshold %zu (%g): must be finite and in [0, %g]", what, i + 1,
                           t[i], hi);
      if (i > 0 && !(t[i] > t[i - 1]))
        return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                           "%s thresholds %zu and %zu (%g, %g): must be strictly increasing",
                           what, i, i + 1, t[i - 1], t[i]);
    }
  return TCONV_OK;
}

tconv_status
tconv_bank_classifier_validate (const tconv_bank_classifier *c, tconv_error *err)
{
  const size_t bins[3] = { c != NULL ? c->angles : 0, c != NULL ? c->strengths : 0,
                           c != NULL ? c->coherences : 0 };
  static const char *const names[3] = { "angles", "strengths", "coherences" };
  tconv_status st;

  if (c == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank classifier is NULL");
  for (int i = 0; i < 3; i++)
    if (bins[i] < 1 || bins[i] > TCONV_BANK_MAX_BINS)
      return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "%s %zu: must be 1..%u", names[i],
                         bins[i], TCONV_BANK_MAX_BINS);
  if (bins[0] * bins[1] * bins[2] > TCONV_BANK_MAX_CLASSES)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "classes %zu x %zu x %zu = %zu: at most %u", bins[0], bins[1], bins[2],
                       bins[0] * bins[1] * bins[2], TCONV_BANK_MAX_CLASSES);
  if (!(c->sigma > 0.0 && c->sigma <= TCONV_BANK_MAX_SIGMA))
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "window sigma %g: must be in (0, %g]", c->sigma, TCONV_BANK_MAX_SIGMA);
  if ((st = check_thresholds (c->strength_thresholds, c->strengths - 1, HUGE_VAL, "strength",
                              err)))
    return st;
  return check_thresholds (c->coherence_thresholds, c->coherences - 1, 1.0, "coherence", err);
}

/* ---------------------------------------------------------------------------------------------
 * Banks
 */

static tconv_status
check_bank_geometry (const tconv_kernel *g, tconv_error *err)
{
  tconv_status st;

  if (g == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank: global kernel is NULL");
  if ((st = tconv_kernel_validate (g, err)))
    return st;
  if (g->stride_h != g->stride_w || g->stride_h < 2)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank stride %zu x %zu: must be square and at least 2", g->stride_h,
                       g->stride_w);
  if (g->k_h + g->opad_h != 2 * g->pad_h + g->stride_h
      || g->k_w + g->opad_w != 2 * g->pad_w + g->stride_w)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank geometry size %zu x %zu, padding %zu x %zu, output padding "
                       "%zu x %zu: must give exactly stride-times output (k + opad - 2 pad = s)",
                       g->k_h, g->k_w, g->pad_h, g->pad_w, g->opad_h, g->opad_w);
  if (g->channels != 1 || g->bias != NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank kernels: one channel and no bias (found %zu channels%s)",
                       g->channels, g->bias != NULL ? " and a bias" : "");
  return TCONV_OK;
}

tconv_status
tconv_bank_new (const tconv_kernel *global, const tconv_bank_classifier *classifier,
                tconv_bank **bank, tconv_error *err)
{
  tconv_bank  *b;
  size_t       classes, plane, n;
  tconv_status st;

  if (bank == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank_new: bank is NULL");
  if ((st = check_bank_geometry (global, err)) || (st = tconv_bank_classifier_validate (classifier, err)))
    return st;
  classes = classifier->angles * classifier->strengths * classifier->coherences;
  plane = global->k_h * global->k_w;
  n = classes * plane; /* at most 4096 * 65536: fits */
  b = calloc (1, sizeof *b);
  if (b == NULL)
    return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank_new: out of memory");
  b->classifier = *classifier;
  b->classes = classes;
  b->weights = malloc (n * sizeof (float));
  b->fallback = calloc (classes, 1);
  b->samples = calloc (classes, sizeof (uint64_t));
  if (b->weights == NULL || b->fallback == NULL || b->samples == NULL
      || tconv_kernel_copy (global, &b->global, err) != TCONV_OK)
    {
      tconv_bank_free (b);
      return tconv_fail (err, TCONV_ERR_NO_MEMORY, 0, 0, "bank_new: out of memory");
    }
  for (size_t c = 0; c < classes; c++)
    memcpy (b->weights + c * plane, global->weights, plane * sizeof (float));
  *bank = b;
  return TCONV_OK;
}

void
tconv_bank_free (tconv_bank *bank)
{
  if (bank == NULL)
    return;
  tconv_kernel_free (bank->global);
  free (bank->weights);
  free (bank->fallback);
  free (bank->samples);
  free (bank);
}

const float *
tconv_bank_class_weights (const tconv_bank *bank, size_t class_index)
{
  if (bank == NULL || class_index >= bank->classes)
    return NULL;
  return bank->weights + class_index * bank->global->k_h * bank->global->k_w;
}

/* Every phase of @w (one k_h x k_w kernel of stride s) sums to 1. */
static tconv_status
check_phase_sums (const tconv_kernel *g, const float *w, const char *what, size_t index,
                  tconv_error *err)
{
  const size_t s = g->stride_h;

  for (size_t ry = 0; ry < s; ry++)
    for (size_t rx = 0; rx < s; rx++)
      {
        double sum = 0.0;
        for (size_t y = ry; y < g->k_h; y += s)
          for (size_t x = rx; x < g->k_w; x += s)
            sum += (double) w[y * g->k_w + x];
        if (!(fabs (sum - 1.0) <= PHASE_SUM_TOL))
          return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                             "%s %zu, phase (%zu, %zu): taps sum to %.9g; every phase must sum "
                             "to 1 within %g so that flat areas stay flat",
                             what, index, ry, rx, sum, PHASE_SUM_TOL);
      }
  return TCONV_OK;
}

tconv_status
tconv_bank_check_class (const tconv_bank *bank, size_t c, tconv_error *err)
{
  const size_t plane = bank->global->k_h * bank->global->k_w;
  const float *w = bank->weights + c * plane;

  for (size_t i = 0; i < plane; i++)
    if (!isfinite (w[i]))
      return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "class %zu, weight %zu: not finite",
                         c, i);
  if (bank->fallback[c] > 1)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "class %zu: fallback flag %u must be 0 or 1", c, bank->fallback[c]);
  if (bank->fallback[c] && memcmp (w, bank->global->weights, plane * sizeof (float)) != 0)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "class %zu is marked fallback but its weights differ from the global "
                       "kernel's", c);
  return check_phase_sums (bank->global, w, "class", c, err);
}

tconv_status
tconv_bank_validate (const tconv_bank *bank, tconv_error *err)
{
  tconv_status st;

  if (bank == NULL || bank->weights == NULL || bank->fallback == NULL)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0, "bank or its arrays are NULL");
  if ((st = check_bank_geometry (bank->global, err))
      || (st = tconv_bank_classifier_validate (&bank->classifier, err)))
    return st;
  if (bank->classes != bank->classifier.angles * bank->classifier.strengths
                        * bank->classifier.coherences)
    return tconv_fail (err, TCONV_ERR_INVALID_ARG, 0, 0,
                       "bank of %zu classes: the classifier makes %zu", bank->classes,
                       bank->classifier.angles * bank->classifier.strengths
                         * bank->classifier.coherences);
  if ((st = check_phase_sums (bank->global, bank->global->weights, "global kernel", 0, err)))
    return st;
  for (size_t c = 0; c < bank->classes; c++)
    if ((st = tconv_bank_check_class (bank, c, err)))
      return st;
  return TCONV_OK;
}
