/* ydoc.h - a YAML document as a small tree that remembers where each node
 * was written, so config and campaign checks can say FILE:LINE:COL.
 *
 * Built from libyaml's event stream.  Anchors/aliases are refused (rules
 * and config have no use for them, and they allow "billion laughs" input);
 * so are multi-document streams.  Lines and columns are 1-based. */
#ifndef CC_YDOC_H
#define CC_YDOC_H

#include "cc.h"

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } ynode_kind;

typedef struct ynode {
    ynode_kind kind;
    int line, col;
    char *value;            /* YN_SCALAR: the text */
    int quoted;             /* YN_SCALAR: written in quotes (so "null" is text) */
    size_t n;               /* YN_SEQ: items; YN_MAP: pairs */
    struct ynode **items;   /* YN_SEQ items, or YN_MAP values */
    struct ynode **keys;    /* YN_MAP keys (scalars) */
} ynode;

/* Parse `text` (named `file` in messages).  On error a located message is
 * added to `diags` and NULL returned.  An empty document gives an empty map. */
ynode *ydoc_parse(const char *file, const char *text, size_t len, cc_diags *diags);
void ydoc_free(ynode *n);

/* Map lookup; NULL when absent or `map` is not a map. */
ynode *ydoc_get(const ynode *map, const char *key);
const char *ydoc_kind_name(ynode_kind k);
/* 1 for a plain (unquoted) scalar that YAML reads as null: ~, null, empty. */
int ydoc_is_null(const ynode *n);

#endif
