/* Reading XML that may come from anywhere (a hook's stdin, a file an administrator edits):
 * no network access, no entity substitution, no DOCTYPE. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

/* libxml2's own set-up, once, thread-safely. */
void ferry_xml_init(void);
/* The document, or InvalidArgument saying what is wrong with @xml, prefixed by @what ("the
 * domain XML"); @name is the document's name in libxml2's messages. */
xmlDocPtr ferry_xml_read(const char *xml, const char *what, const char *name, GError **error);

/* Sets an InvalidArgument error (what a parser says of bad input) and returns FALSE. */
gboolean ferry_xml_invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

G_END_DECLS
