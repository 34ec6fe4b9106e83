/* virt-ferry's error domain for the hook's rewriter. Its quark lives in plugin/ferry-error.c,
 * together with the mapping of libvirt's errors, which would link libvirt into a program that
 * must start fast and never calls libvirt. Same name, same quark (as tools/cli-error.c). */
#include "ferry-error.h"

G_DEFINE_QUARK(virt-ferry-error-quark, ferry_error)
