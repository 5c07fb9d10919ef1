/* netlib.c - dlopen() of libcurl and libmicrohttpd on first use (netlib.h). */
#define NETLIB_NO_MACROS
#include <curl/curl.h>
#include <microhttpd.h>

#include "netlib.h"
#include "sonames.h"   /* build/sonames.h, written by etc/sonames.sh */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(sizeof CC_LIBCURL_SONAME > 1, "build/sonames.h names no soname for libcurl");
_Static_assert(sizeof CC_LIBMICROHTTPD_SONAME > 1, "build/sonames.h names no soname for libmicrohttpd");

netlib_curl_api netlib_curl;
netlib_mhd_api netlib_mhd;

typedef struct {
    const char *name;
    void **slot;
} symbol;

/* Every symbol or nothing: a library missing one is refused whole, the
 * table left as it was (empty), and the handle closed. */
static int load(const char *what, const char *env, const char *soname, const symbol *syms, size_t n, int *loaded,
                char *why, size_t len)
{
    if (*loaded) return 0;
    const char *file = getenv(env);
    if (!file || !*file) file = soname;
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, len, "cannot load %s (%s): %s", what, file, dlerror());
        return -1;
    }
    void *found[32];
    for (size_t i = 0; i < n; i++) {
        dlerror();
        found[i] = dlsym(h, syms[i].name);
        if (!found[i]) {
            snprintf(why, len, "cannot load %s (%s): it has no %s", what, file, syms[i].name);
            dlclose(h);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) *syms[i].slot = found[i];
    *loaded = 1;   /* the handle stays open for the life of the process */
    return 0;
}

/* POSIX makes a function pointer and void * interchangeable for dlsym. */
#define NETLIB_SYMBOL(table, f) {#f, (void **)&table.f},

int netlib_load_curl(char *why, size_t len)
{
    static int loaded;
#define CURL_SYMBOL(f) NETLIB_SYMBOL(netlib_curl, f)
    static const symbol syms[] = {NETLIB_CURL_FUNCTIONS(CURL_SYMBOL)};
    _Static_assert(sizeof syms / sizeof syms[0] <= 32, "room for the symbols");
    return load("libcurl", "CARECAST_LIBCURL", CC_LIBCURL_SONAME, syms, sizeof syms / sizeof syms[0], &loaded, why,
                len);
}

int netlib_load_mhd(char *why, size_t len)
{
    static int loaded;
#define MHD_SYMBOL(f) NETLIB_SYMBOL(netlib_mhd, f)
    static const symbol syms[] = {NETLIB_MHD_FUNCTIONS(MHD_SYMBOL)};
    _Static_assert(sizeof syms / sizeof syms[0] <= 32, "room for the symbols");
    return load("libmicrohttpd", "CARECAST_LIBMICROHTTPD", CC_LIBMICROHTTPD_SONAME, syms, sizeof syms / sizeof syms[0],
                &loaded, why, len);
}
