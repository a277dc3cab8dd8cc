#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# meson test --wrap for the valgrind run: C test programs run under valgrind; interpreters
# (the Python CLI tests) run as they are and put valgrind on tconv through TCONV_WRAPPER.
case "$1" in
  */python3*|*/sh|*/bash) exec "$@" ;;
esac
exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --suppressions="$(dirname "$0")/valgrind.supp" "$@"
