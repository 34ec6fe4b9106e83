/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "xml-read.h"

#include "ferry-error.h"

#include <libxml/parser.h>
#include <stdarg.h>
#include <string.h>

void ferry_xml_init(void)
{
    static gsize done;
    if (g_once_init_enter(&done)) {
        xmlInitParser(); /* libxml2's own setup is not thread-safe on first use */
        g_once_init_leave(&done, 1);
    }
}

xmlDocPtr ferry_xml_read(const char *xml, const char *what, const char *name, GError **error)
{
    gsize len = strlen(xml);
    if (len > G_MAXINT) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "%s is too large (%" G_GSIZE_FORMAT " bytes)",
                    what, len);
        return NULL;
    }
    ferry_xml_init();
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "out of memory parsing %s", what);
        return NULL;
    }
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml, (int)len, name, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strstrip(g_strdup(e && e->message ? e->message : "unknown error"));
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "%s is not well-formed XML: line %d: %s", what,
                    e ? e->line : 0, msg);
    } else if (doc->intSubset || doc->extSubset) {
        /* libvirt never writes one, and entities are a way to smuggle content past us. */
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s carries a <!DOCTYPE>, which libvirt never writes: remove it", what);
        g_clear_pointer(&doc, xmlFreeDoc);
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

char *ferry_xml_node_string(xmlDocPtr doc, xmlNodePtr node)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlNodeDump(buf, doc, node, 0, 0);
    char *xml = g_strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return xml;
}
