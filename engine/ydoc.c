/* ydoc.c - builds the located YAML tree of ydoc.h from libyaml events. */
#include "ydoc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YDOC_MAX_DEPTH 64

static ynode *node_new(ynode_kind kind, const yaml_mark_t *mark)
{
    ynode *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    return n;
}

void ydoc_free(ynode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        ydoc_free(n->items[i]);
        if (n->keys) ydoc_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->value);
    free(n);
}

static void append(ynode *parent, ynode *key, ynode *value)
{
    parent->items = xrealloc(parent->items, (parent->n + 1) * sizeof *parent->items);
    if (parent->kind == YN_MAP)
        parent->keys = xrealloc(parent->keys, (parent->n + 1) * sizeof *parent->keys);
    parent->items[parent->n] = value;
    if (parent->kind == YN_MAP) parent->keys[parent->n] = key;
    parent->n++;
}

typedef struct {
    yaml_parser_t parser;
    const char *file;
    cc_diags *diags;
    const char *text;   /* the source, to look at the character an error points at */
    size_t len;
} builder;

static void event_error(builder *b)
{
    yaml_parser_t *p = &b->parser;
    const yaml_mark_t *m = p->context ? &p->context_mark : &p->problem_mark;
    const yaml_mark_t *pm = &p->problem_mark;
    if (p->problem && pm->index < b->len && b->text[pm->index] == '\t')
        /* libyaml's words for a tab ("cannot start any token") don't say
         * what to change. */
        cc_diag(b->diags, b->file, (int)pm->line + 1, (int)pm->column + 1,
                "error: invalid YAML: a tab character; indent with spaces");
    else if (p->problem && p->context && (m->line != pm->line || m->column != pm->column))
        /* An unclosed [ or { is reported where the parser gave up; say
         * where it was opened, which is where the fix goes. */
        cc_diag(b->diags, b->file, (int)pm->line + 1, (int)pm->column + 1,
                "error: invalid YAML: %s %s started at line %d, column %d", p->problem, p->context,
                (int)m->line + 1, (int)m->column + 1);
    else if (p->problem)
        cc_diag(b->diags, b->file, (int)pm->line + 1, (int)pm->column + 1,
                "error: invalid YAML: %s%s%s", p->problem, p->context ? " " : "",
                p->context ? p->context : "");
    else
        cc_diag(b->diags, b->file, (int)m->line + 1, (int)m->column + 1, "error: invalid YAML");
}

/* Parse one node whose first event is `ev` (consumed by the caller). */
static ynode *build(builder *b, yaml_event_t *ev, int depth)
{
    if (depth > YDOC_MAX_DEPTH) {
        cc_diag(b->diags, b->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "error: YAML nested too deeply");
        return NULL;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        cc_diag(b->diags, b->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "error: YAML aliases (*name) are not supported here");
        return NULL;
    case YAML_SCALAR_EVENT: {
        if (ev->data.scalar.anchor) {
            cc_diag(b->diags, b->file, (int)ev->start_mark.line + 1,
                    (int)ev->start_mark.column + 1,
                    "error: YAML anchors (&name) are not supported here");
            return NULL;
        }
        ynode *n = node_new(YN_SCALAR, &ev->start_mark);
        n->value = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (strlen(n->value) != ev->data.scalar.length) {
            cc_diag(b->diags, b->file, n->line, n->col, "error: NUL byte in a YAML value");
            ydoc_free(n);
            return NULL;
        }
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        return n;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor =
            is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        if (anchor) {
            cc_diag(b->diags, b->file, (int)ev->start_mark.line + 1,
                    (int)ev->start_mark.column + 1,
                    "error: YAML anchors (&name) are not supported here");
            return NULL;
        }
        ynode *n = node_new(is_map ? YN_MAP : YN_SEQ, &ev->start_mark);
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(&b->parser, &e)) {
                event_error(b);
                ydoc_free(n);
                return NULL;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e);
                return n;
            }
            ynode *key = NULL;
            if (is_map) {
                key = build(b, &e, depth + 1);
                yaml_event_delete(&e);
                if (!key) {
                    ydoc_free(n);
                    return NULL;
                }
                if (key->kind != YN_SCALAR) {
                    cc_diag(b->diags, b->file, key->line, key->col,
                            "error: a key must be a plain name");
                    ydoc_free(key);
                    ydoc_free(n);
                    return NULL;
                }
                if (ydoc_get(n, key->value)) {
                    cc_diag(b->diags, b->file, key->line, key->col,
                            "error: duplicate key '%s'", key->value);
                    ydoc_free(key);
                    ydoc_free(n);
                    return NULL;
                }
                if (!yaml_parser_parse(&b->parser, &e)) {
                    event_error(b);
                    ydoc_free(key);
                    ydoc_free(n);
                    return NULL;
                }
            }
            ynode *value = build(b, &e, depth + 1);
            yaml_event_delete(&e);
            if (!value) {
                ydoc_free(key);
                ydoc_free(n);
                return NULL;
            }
            append(n, key, value);
        }
    }
    default:
        cc_diag(b->diags, b->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "error: unexpected YAML structure");
        return NULL;
    }
}

ynode *ydoc_parse(const char *file, const char *text, size_t len, cc_diags *diags)
{
    builder b = {.file = file, .diags = diags, .text = text, .len = len};
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        /* Located like any other error: line and column (in characters). */
        int line = 1, col = 1;
        for (const char *q = text; q < nul; q++) {
            if (*q == '\n') line++, col = 1;
            else if (((unsigned char)*q & 0xC0) != 0x80) col++;
        }
        cc_diag(diags, file, line, col, "error: the file contains a NUL byte");
        return NULL;
    }
    /* libyaml checks the encoding of its whole input before it parses,
     * and then reports an invalid byte at 1:1; say where it is. */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = cc_utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (l) {
            i += l;
            continue;
        }
        int line = 1, col = 1;
        for (size_t q = 0; q < i; q++) {
            if (text[q] == '\n') line++, col = 1;
            else if (((unsigned char)text[q] & 0xC0) != 0x80) col++;
        }
        cc_diag(diags, file, line, col, "error: invalid UTF-8 (byte 0x%02X); save the file as UTF-8",
                (unsigned char)text[i]);
        return NULL;
    }
    yaml_parser_initialize(&b.parser);
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    ynode *root = NULL;
    int docs = 0, ok = 1;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&b.parser, &e)) {
            event_error(&b);
            ok = 0;
            break;
        }
        yaml_event_type_t t = e.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1) {
                cc_diag(diags, file, (int)e.start_mark.line + 1, (int)e.start_mark.column + 1,
                        "error: only one YAML document per file");
                yaml_event_delete(&e);
                ok = 0;
                break;
            }
        } else if (t != YAML_STREAM_START_EVENT && t != YAML_DOCUMENT_END_EVENT) {
            root = build(&b, &e, 0);
            if (!root) ok = 0;
        }
        yaml_event_delete(&e);
        if (!ok) break;
    }
    yaml_parser_delete(&b.parser);
    if (!ok) {
        ydoc_free(root);
        return NULL;
    }
    if (!root) {
        yaml_mark_t m = {0, 0, 0};
        root = node_new(YN_MAP, &m);
    } else if (root->kind == YN_SCALAR && ydoc_is_null(root)) {
        int l = root->line, c = root->col;
        ydoc_free(root);
        yaml_mark_t m = {0, (size_t)(l - 1), (size_t)(c - 1)};
        root = node_new(YN_MAP, &m);
    }
    return root;
}

ynode *ydoc_get(const ynode *map, const char *key)
{
    if (!map || map->kind != YN_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->value, key) == 0) return map->items[i];
    return NULL;
}

const char *ydoc_kind_name(ynode_kind k)
{
    return k == YN_SCALAR ? "a value" : k == YN_SEQ ? "a list" : "a map";
}

int ydoc_is_null(const ynode *n)
{
    return n && n->kind == YN_SCALAR && !n->quoted &&
           (n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0);
}
