/* render.c - template lookup, front matter and the compiled-template cache
 * (render.h).  Every file is read and compiled at most once per process. */
#include "render.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ydoc.h"

typedef struct {
    char *path;
    int missing;         /* the file does not exist */
    int broken;          /* it does not compile */
    tpl *subject, *body;
    size_t out_len;      /* the longest output so far: the next buffer starts that big */
    tpl_needs *needs;    /* what subject and body read, made at the first render */
} cached;

/* A (name, suffix, locale) already looked up: which file answered (an
 * index in files, or -1 when none exists), so a message costs no path
 * building and no string search over every file. */
typedef struct {
    char *name, *locale;
    const char *suffix;  /* one of the static suffix strings */
    long hit;
} resolved;

struct render_set {
    char *dir;
    cached *files;
    size_t n;
    resolved *res;
    size_t nres, capres;
    cached *partials;     /* partials/NAME.liquid, compiled on first use */
    size_t np;
};

render_set *render_open(const char *templates_dir)
{
    render_set *rs = xcalloc(1, sizeof *rs);
    rs->dir = xstrdup(templates_dir);
    return rs;
}

void render_close(render_set *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->files[i].path);
        tpl_free(rs->files[i].subject);
        tpl_free(rs->files[i].body);
        tpl_needs_free(rs->files[i].needs);
    }
    free(rs->files);
    for (size_t i = 0; i < rs->nres; i++) {
        free(rs->res[i].name);
        free(rs->res[i].locale);
    }
    free(rs->res);
    for (size_t i = 0; i < rs->np; i++) {
        free(rs->partials[i].path);
        tpl_free(rs->partials[i].body);
    }
    free(rs->partials);
    free(rs->dir);
    free(rs);
}

void rendered_free(rendered *r)
{
    free(r->subject);
    free(r->text);
    free(r->html);
    memset(r, 0, sizeof *r);
}

/* A template must be UTF-8 text: a NUL byte or an invalid sequence (a
 * file saved as GBK) is reported at its line and column; 0 when clean. */
static int bad_bytes(const char *path, const char *text, size_t len, cc_diags *diags)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = text[i] ? cc_utf8_decode((const unsigned char *)text + i, len - i, &cp) : 0;
        if (!l) {
            if (text[i])
                cc_diag(diags, path, line, col, "error: invalid UTF-8 (byte 0x%02X); save the template as UTF-8",
                        (unsigned char)text[i]);
            else
                cc_diag(diags, path, line, col, "error: the template contains a NUL byte");
            return 1;
        }
        if (text[i] == '\n') line++, col = 1;
        else col++;
        i += l;
    }
    return 0;
}

/* Split "---\nsubject: ...\n---\nbody" front matter.  Returns the body
 * start and sets *subject (owned) and *subject_line. */
static const char *front_matter(const char *path, const char *text, char **subject, int *subject_line,
                                int *body_line, cc_diags *diags, int *bad)
{
    *subject = NULL;
    *body_line = 1;
    if (strncmp(text, "---\n", 4) != 0 && strncmp(text, "---\r\n", 5) != 0) return text;
    const char *start = strchr(text, '\n') + 1;
    if (strncmp(start, "---", 3) == 0) {
        cc_diag(diags, path, 2, 1, "error: the front matter is empty: write 'subject: ...' between the '---' lines");
        *bad = 1;
        return text;
    }
    const char *end = strstr(start, "\n---");
    if (!end) {
        cc_diag(diags, path, 1, 1, "error: front matter opened with '---' is never closed");
        *bad = 1;
        return text;
    }
    /* Parsed with the opening '---' line left empty, so the lines the
     * YAML parser reports are the template file's own. */
    char *fm = xasprintf("\n%.*s", (int)(end - start + 1), start);
    ynode *root = ydoc_parse(path, fm, strlen(fm), diags);
    free(fm);
    if (!root) {
        *bad = 1;
        return text;
    }
    if (root->kind != YN_MAP) {
        cc_diag(diags, path, root->line, root->col,
                "error: front matter is 'key: value' lines, such as 'subject: Happy birthday'");
        ydoc_free(root);
        *bad = 1;
        return text;
    }
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->value;
        const ynode *v = root->items[i];
        if (!strcmp(k, "subject") && (v->kind != YN_SCALAR || ydoc_is_null(v) || !v->value[0])) {
            cc_diag(diags, path, v->line, v->col, "error: the subject must be one line of text, not %s",
                    v->kind != YN_SCALAR ? ydoc_kind_name(v->kind) : "empty");
            *bad = 1;
        } else if (!strcmp(k, "subject")) {
            *subject = xstrdup(v->value);
            *subject_line = v->line;
        } else {
            cc_diag(diags, path, root->keys[i]->line, root->keys[i]->col,
                    "error: unknown front matter key '%s' (allowed: subject)", k);
            *bad = 1;
        }
    }
    ydoc_free(root);
    const char *body = end + 4;
    while (*body == '-') body++;
    if (*body == '\r') body++;
    if (*body == '\n') body++;
    for (const char *p = text; p < body; p++) *body_line += *p == '\n';
    return body;
}

static cached *load(render_set *rs, const char *path, int email, cc_diags *diags)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!strcmp(rs->files[i].path, path)) return &rs->files[i];
    rs->files = xrealloc(rs->files, (rs->n + 1) * sizeof *rs->files);
    cached *c = &rs->files[rs->n++];
    memset(c, 0, sizeof *c);
    c->path = xstrdup(path);
    size_t len = 0;
    char *text = cc_read_file(path, &len);
    if (!text) {
        c->missing = 1;
        return c;
    }
    if (bad_bytes(path, text, len, diags)) {
        c->broken = 1;
        free(text);
        return c;
    }
    /* A byte order mark (Windows editors) is no part of the text: it would
     * hide the front matter and, in an SMS, force UCS-2 for nothing. */
    const char *src = strncmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;
    char *subject = NULL;
    int subject_line = 1, body_line = 1, bad = 0;
    const char *body = email ? front_matter(path, src, &subject, &subject_line, &body_line, diags, &bad) : src;
    if (email && !bad && !subject) {
        cc_diag(diags, path, 1, 1, "error: an email template starts with front matter: ---\\nsubject: ...\\n---");
        bad = 1;
    }
    if (!bad && subject) {
        c->subject = tpl_compile(path, subject_line, subject, diags);
        if (!c->subject) bad = 1;
    }
    if (!bad) {
        c->body = tpl_compile(path, body_line, body, diags);
        if (!c->body) bad = 1;
    }
    c->broken = bad;
    free(subject);
    free(text);
    return c;
}

/* The candidate paths for a channel suffix, most specific first. */
static int candidates(const render_set *rs, const char *name, const char *suffix, const char *locale,
                      char *out[3])
{
    int n = 0;
    if (locale && *locale) {
        out[n++] = xasprintf("%s/%s.%s.%s", rs->dir, name, locale, suffix);
        const char *dash = strchr(locale, '-');
        if (dash) out[n++] = xasprintf("%s/%s.%.*s.%s", rs->dir, name, (int)(dash - locale), locale, suffix);
    }
    out[n++] = xasprintf("%s/%s.%s", rs->dir, name, suffix);
    return n;
}

static cached *find_uncached(render_set *rs, const char *name, const char *suffix, const char *locale, int email,
                             cc_diags *diags)
{
    char *paths[3];
    int n = candidates(rs, name, suffix, locale, paths);
    cached *hit = NULL;
    for (int i = 0; i < n; i++) {
        if (!hit) {
            cached *c = load(rs, paths[i], email, diags);
            if (!c->missing) hit = c;
        }
        free(paths[i]);
    }
    return hit;
}

/* `suffix` must be one of the static strings below (compared by address). */
static cached *find(render_set *rs, const char *name, const char *suffix, const char *locale, int email,
                    cc_diags *diags)
{
    const char *loc = locale ? locale : "";
    for (size_t i = rs->nres; i-- > 0;) {
        const resolved *r = &rs->res[i];
        if (r->suffix == suffix && !strcmp(r->name, name) && !strcmp(r->locale, loc))
            return r->hit < 0 ? NULL : &rs->files[r->hit];
    }
    cached *c = find_uncached(rs, name, suffix, locale, email, diags);
    if (rs->nres == rs->capres) {
        rs->capres = rs->capres ? rs->capres * 2 : 16;
        rs->res = xrealloc(rs->res, rs->capres * sizeof *rs->res);
    }
    resolved *r = &rs->res[rs->nres++];
    r->name = xstrdup(name);
    r->locale = xstrdup(loc);
    r->suffix = suffix;
    r->hit = c ? (long)(c - rs->files) : -1;
    return c;
}

/* {% render 'NAME' %} and {% include 'NAME' %} read partials/NAME.liquid
 * from the templates folder.  Names are plain relative paths: nothing
 * outside the folder can be reached. */
static const tpl *load_partial(void *arg, const char *name, int *missing, cc_diags *diags)
{
    render_set *rs = arg;
    *missing = 1;
    if (!*name || name[0] == '/' || strstr(name, "..") || strchr(name, '\\')) return NULL;
    for (size_t i = 0; i < rs->np; i++)
        if (!strcmp(rs->partials[i].path, name)) {
            *missing = rs->partials[i].missing;
            return rs->partials[i].body;
        }
    rs->partials = xrealloc(rs->partials, (rs->np + 1) * sizeof *rs->partials);
    cached *c = &rs->partials[rs->np++];
    memset(c, 0, sizeof *c);
    c->path = xstrdup(name);
    char *path = xasprintf("%s/partials/%s.liquid", rs->dir, name);
    size_t len = 0;
    char *text = cc_read_file(path, &len);
    if (!text) {
        c->missing = 1;
    } else if (bad_bytes(path, text, len, diags)) {
        c->broken = 1;
        *missing = 0;
    } else {
        c->body = tpl_compile(path, 1, strncmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text, diags);
        c->broken = !c->body;
        *missing = 0;
    }
    free(text);
    free(path);
    return c->body;
}

/* A care task (the `task` channel) is written for staff, not for the
 * customer, so it has its own file, NAME.task.liquid, shaped like an email
 * template: front matter with `subject:` (the task's title), then the
 * body.  It has no HTML part. */
static const char SUFFIX_EMAIL[] = "email.liquid", SUFFIX_TASK[] = "task.liquid", SUFFIX_SMS[] = "sms.liquid",
                  SUFFIX_HTML[] = "email.html.liquid";

static const char *channel_suffix(const char *channel)
{
    return !strcmp(channel, "email") ? SUFFIX_EMAIL : !strcmp(channel, "task") ? SUFFIX_TASK : SUFFIX_SMS;
}

/* What the subject and body of a file read of the variables: only those
 * are built into Liquid values for each message. */
static const tpl_needs *needs_of(cached *c)
{
    if (!c->needs) {
        c->needs = tpl_needs_new();
        tpl_needs_add(c->needs, c->subject);
        tpl_needs_add(c->needs, c->body);
    }
    return c->needs;
}

/* Render one template of a message into a new string, the buffer sized
 * from the longest earlier output of the same file. */
static cc_code render_part(render_set *rs, cached *c, const tpl *t, const tpl_vars *vars, int html, char **out,
                           cc_diags *diags)
{
    cc_buf b = CC_BUF_INIT;
    if (c->out_len) cc_buf_reserve(&b, c->out_len);
    if (tpl_render_needs(t, vars, needs_of(c), html, load_partial, rs, &b, diags) != CC_OK) {
        cc_buf_free(&b);
        return CC_ERR_INPUT;
    }
    if (b.len > c->out_len) c->out_len = b.len;
    *out = cc_buf_take(&b);
    return CC_OK;
}

cc_code render_message(render_set *rs, const char *name, const char *channel, const char *locale,
                       const tpl_vars *vars, rendered *out, cc_diags *diags)
{
    memset(out, 0, sizeof *out);
    int email = !strcmp(channel, "email"), task = !strcmp(channel, "task");
    cached *c = find(rs, name, channel_suffix(channel), locale, email || task, diags);
    if (!c) return CC_ERR_NOT_FOUND;
    if (c->broken) return CC_ERR_INPUT;
    if (render_part(rs, c, c->body, vars, 0, &out->text, diags) != CC_OK) return CC_ERR_INPUT;
    if (email || task) {
        /* The subject is short: no size hint from the body. */
        cc_buf s = CC_BUF_INIT;
        if (tpl_render_needs(c->subject, vars, needs_of(c), 0, load_partial, rs, &s, diags) != CC_OK) {
            cc_buf_free(&s);
            rendered_free(out);
            return CC_ERR_INPUT;
        }
        /* A subject is one line whatever the data says. */
        for (char *p = s.data; p && *p; p++)
            if (*p == '\r' || *p == '\n') *p = ' ';
        out->subject = cc_buf_take(&s);
        cached *h = task ? NULL : find(rs, name, SUFFIX_HTML, locale, 0, diags);
        if (h && h->broken) {
            rendered_free(out);
            return CC_ERR_INPUT;
        }
        if (h && render_part(rs, h, h->body, vars, 1, &out->html, diags) != CC_OK) {
            rendered_free(out);
            return CC_ERR_INPUT;
        }
    }
    return CC_OK;
}

int render_exists(render_set *rs, const char *name, const char *channel)
{
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".%s", channel_suffix(channel));
    char *plain = xasprintf("%s/%s%s", rs->dir, name, suffix);
    int found = access(plain, F_OK) == 0;
    free(plain);
    if (found) return 1;
    DIR *d = opendir(rs->dir);
    if (!d) return 0;
    struct dirent *e;
    size_t nl = strlen(name), sl = strlen(suffix);
    while (!found && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        found = l > nl + sl && !strncmp(e->d_name, name, nl) && e->d_name[nl] == '.' &&
                !strcmp(e->d_name + l - sl, suffix);
    }
    closedir(d);
    return found;
}

typedef struct {
    render_set *rs;
    cc_diags *diags;
    int bad;
} partial_check;

/* A partial named with a string literal must exist and compile. */
static void check_partial(void *arg, const char *file, const char *name, int line, int col)
{
    partial_check *pc = arg;
    int missing = 0;
    const tpl *t = load_partial(pc->rs, name, &missing, pc->diags);
    if (!t && missing) {
        cc_diag(pc->diags, file, line, col, "error: no partial '%s' (%s/partials/%s.liquid)", name, pc->rs->dir, name);
        pc->bad = 1;
    } else if (!t) {
        pc->bad = 1;   /* its compile error was reported when it was first loaded */
    }
}

cc_code render_check(render_set *rs, const char *name, const char *channel, cc_diags *diags,
                     void (*check)(void *, const char *, const char *, int, int), void *arg)
{
    partial_check pc = {rs, diags, 0};
    int email = !strcmp(channel, "email"), task = !strcmp(channel, "task");
    char first[16];
    snprintf(first, sizeof first, ".%s", channel_suffix(channel));
    const char *suffixes[2] = {first, email ? ".email.html.liquid" : NULL};
    DIR *d = opendir(rs->dir);
    if (!d) return CC_ERR_NOT_FOUND;
    cc_code rc = CC_OK;
    struct dirent *e;
    size_t nl = strlen(name);
    while ((e = readdir(d))) {
        for (int s = 0; s < 2 && suffixes[s]; s++) {
            size_t l = strlen(e->d_name), sl = strlen(suffixes[s]);
            if (l < nl + sl || strncmp(e->d_name, name, nl) != 0 || strcmp(e->d_name + l - sl, suffixes[s]) != 0)
                continue;
            /* NAME.suffix or NAME.LOCALE.suffix, not NAME2.suffix */
            const char *mid = e->d_name + nl;
            if (mid != e->d_name + l - sl && *mid != '.') continue;
            if (s == 0 && email && strstr(e->d_name, ".email.html.liquid")) continue;
            char *path = xasprintf("%s/%s", rs->dir, e->d_name);
            cached *c = load(rs, path, s == 0 && (email || task), diags);
            if (c->broken) {
                rc = CC_ERR_INPUT;
            } else {
                tpl_each_path(c->body, NULL, check_partial, &pc);
                if (check && c->subject) tpl_each_path(c->subject, check, NULL, arg);
                if (check) tpl_each_path(c->body, check, NULL, arg);
            }
            free(path);
        }
    }
    closedir(d);
    if (pc.bad) rc = CC_ERR_INPUT;
    return rc;
}
