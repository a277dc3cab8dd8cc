/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An LD_PRELOAD allocator that fails on request, for tests/robustness/test-faults.sh:
 *   TCONV_FAIL_MALLOC_ABOVE=BYTES  every allocation larger than BYTES returns NULL (ENOMEM)
 *   TCONV_FAIL_MALLOC_AFTER=N      every allocation after the first N returns NULL
 * Each failure is counted; with TCONV_FAIL_MALLOC_REPORT set, the count and the largest request
 * go to stderr at exit ("failing-malloc: N allocations failed, largest request M bytes"), so a
 * test can tell that the fault really happened, and measure what start-up needs.
 * The real allocator is glibc's (__libc_malloc and friends), so no dlsym() is needed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t size);
extern void *__libc_memalign (size_t alignment, size_t size);
extern void  __libc_free (void *p);

static _Atomic int       configured; /* 0 no, 1 in progress, 2 yes */
static size_t            fail_above = SIZE_MAX;
static unsigned long     fail_after = (unsigned long) -1;
static _Atomic unsigned long n_calls;
static _Atomic unsigned long n_failed;
static _Atomic size_t        largest;

static unsigned long
parse (const char *s, unsigned long fallback)
{
  unsigned long v = 0;

  if (s == NULL || *s == '\0')
    return fallback;
  for (; *s >= '0' && *s <= '9'; s++)
    v = v * 10 + (unsigned long) (*s - '0');
  return v;
}

static int
append_number (char *buf, int len, unsigned long long n)
{
  char digits[24];
  int  k = 0;

  do
    digits[k++] = (char) ('0' + n % 10);
  while ((n /= 10) > 0);
  while (k > 0)
    buf[len++] = digits[--k];
  return len;
}

static void
report (void)
{
  /* no stdio: it may allocate */
  static const char a[] = "failing-malloc: ", b[] = " allocations failed, largest request ",
                    c[] = " bytes\n";
  char              buf[160];
  int               len = 0;

  memcpy (buf, a, sizeof a - 1), len += (int) sizeof a - 1;
  len = append_number (buf, len, atomic_load (&n_failed));
  memcpy (buf + len, b, sizeof b - 1), len += (int) sizeof b - 1;
  len = append_number (buf, len, atomic_load (&largest));
  memcpy (buf + len, c, sizeof c - 1), len += (int) sizeof c - 1;
  if (write (STDERR_FILENO, buf, (size_t) len) < 0)
    return;
}

static void
configure (void)
{
  int expected = 0;

  if (atomic_load (&configured) == 2)
    return;
  if (!atomic_compare_exchange_strong (&configured, &expected, 1))
    return; /* another thread is at it: no failures until it is done */
  fail_above = (size_t) parse (getenv ("TCONV_FAIL_MALLOC_ABOVE"), (unsigned long) SIZE_MAX);
  fail_after = parse (getenv ("TCONV_FAIL_MALLOC_AFTER"), (unsigned long) -1);
  if (getenv ("TCONV_FAIL_MALLOC_REPORT") != NULL)
    atexit (report);
  atomic_store (&configured, 2);
}

/* Whether this allocation of @size bytes fails. */
static int
should_fail (size_t size)
{
  unsigned long n;

  configure ();
  if (atomic_load (&configured) != 2)
    return 0;
  n = atomic_fetch_add (&n_calls, 1) + 1;
  for (size_t l = atomic_load (&largest); size > l && size != SIZE_MAX;)
    if (atomic_compare_exchange_weak (&largest, &l, size))
      break;
  if (size > fail_above || n > fail_after)
    {
      atomic_fetch_add (&n_failed, 1);
      errno = ENOMEM;
      return 1;
    }
  return 0;
}

void *
malloc (size_t size)
{
  return should_fail (size) ? NULL : __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
  size_t total;

  if (__builtin_mul_overflow (n, size, &total))
    total = SIZE_MAX;
  return should_fail (total) ? NULL : __libc_calloc (n, size);
}

void *
realloc (void *p, size_t size)
{
  return should_fail (size) ? NULL : __libc_realloc (p, size);
}

void
free (void *p)
{
  __libc_free (p);
}

void *
memalign (size_t alignment, size_t size)
{
  return should_fail (size) ? NULL : __libc_memalign (alignment, size);
}

void *
aligned_alloc (size_t alignment, size_t size)
{
  return memalign (alignment, size);
}

int
posix_memalign (void **out, size_t alignment, size_t size)
{
  void *p;

  if (alignment < sizeof (void *) || (alignment & (alignment - 1)) != 0)
    return EINVAL;
  if (should_fail (size))
    return ENOMEM;
  p = __libc_memalign (alignment, size);
  if (p == NULL)
    return ENOMEM;
  *out = p;
  return 0;
}

void *
valloc (size_t size)
{
  return memalign ((size_t) sysconf (_SC_PAGESIZE), size);
}

void *
pvalloc (size_t size)
{
  const size_t page = (size_t) sysconf (_SC_PAGESIZE);
  return memalign (page, (size + page - 1) / page * page);
}
