/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading XML that may come from anywhere (a hook's stdin, a file an administrator edits):
 * no network access, no entity substitution, no DOCTYPE; and writing a piece of it back. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

/* libxml2's own set-up, once, thread-safely. */
void ferry_xml_init(void);
/* The document, or InvalidArgument saying what is wrong with @xml, prefixed by @what ("the
 * domain XML"); @name is the document's name in libxml2's messages. */
xmlDocPtr ferry_xml_read(const char *xml, const char *what, const char *name, GError **error);
/* @node of @doc with its children, as text (unindented, no declaration); "" for a NULL @node. */
char *ferry_xml_node_string(xmlDocPtr doc, xmlNodePtr node);

G_END_DECLS
