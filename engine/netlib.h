/* netlib.h - libcurl and libmicrohttpd, opened with dlopen() when a
 * command first needs them.
 *
 * Only the SMS gateways (libcurl) and `carecast serve` (libmicrohttpd) use
 * them, and together they pull in some thirty more libraries (two TLS
 * stacks, Kerberos, LDAP, HTTP/2, IDN...) whose loading and symbol binding
 * cost about 3 ms at every start: more than planning a small campaign.
 * carecast runs from cron and scripts many times a day, so `plan`,
 * `report`, `send` over SMTP and the rest start without them.
 *
 * A file that calls either library includes this header after the
 * library's own.  Each function it calls is then a macro reading the
 * function from the table netlib_load_curl()/netlib_load_mhd() filled,
 * typed with the library's own prototype, so the code still reads as
 * plain libcurl or libmicrohttpd.  The load must have succeeded before
 * the first call: http_batch_new() and serve_start() do it.
 *
 * The library files are those carecast was built against (their sonames,
 * found by the Makefile); CARECAST_LIBCURL and CARECAST_LIBMICROHTTPD name
 * other files to load instead (a libcurl built with other options, say). */
#ifndef CC_NETLIB_H
#define CC_NETLIB_H

#include <stddef.h>

/* 0 when loaded (again: a no-op); -1 with the reason in `why`. */
int netlib_load_curl(char *why, size_t len);
int netlib_load_mhd(char *why, size_t len);

#ifdef CURLINC_CURL_H
#define NETLIB_CURL_FUNCTIONS(X)                                                                              \
    X(curl_global_init) X(curl_global_cleanup) X(curl_easy_init) X(curl_easy_cleanup)                         \
    X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_strerror)                                                 \
    X(curl_slist_append) X(curl_slist_free_all) X(curl_multi_init) X(curl_multi_cleanup)                      \
    X(curl_multi_add_handle) X(curl_multi_remove_handle) X(curl_multi_socket_action)                          \
    X(curl_multi_info_read) X(curl_multi_setopt) X(curl_multi_strerror)
#define NETLIB_FIELD(f) __typeof__(&f) f;
typedef struct {
    NETLIB_CURL_FUNCTIONS(NETLIB_FIELD)
} netlib_curl_api;
#undef NETLIB_FIELD
extern netlib_curl_api netlib_curl;
#ifndef NETLIB_NO_MACROS
/* curl.h's type-checking wrappers are function-like macros of these names */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init (netlib_curl.curl_global_init)
#define curl_global_cleanup (netlib_curl.curl_global_cleanup)
#define curl_easy_init (netlib_curl.curl_easy_init)
#define curl_easy_cleanup (netlib_curl.curl_easy_cleanup)
#define curl_easy_setopt (netlib_curl.curl_easy_setopt)
#define curl_easy_getinfo (netlib_curl.curl_easy_getinfo)
#define curl_easy_strerror (netlib_curl.curl_easy_strerror)
#define curl_slist_append (netlib_curl.curl_slist_append)
#define curl_slist_free_all (netlib_curl.curl_slist_free_all)
#define curl_multi_init (netlib_curl.curl_multi_init)
#define curl_multi_cleanup (netlib_curl.curl_multi_cleanup)
#define curl_multi_add_handle (netlib_curl.curl_multi_add_handle)
#define curl_multi_remove_handle (netlib_curl.curl_multi_remove_handle)
#define curl_multi_socket_action (netlib_curl.curl_multi_socket_action)
#define curl_multi_info_read (netlib_curl.curl_multi_info_read)
#define curl_multi_setopt (netlib_curl.curl_multi_setopt)
#define curl_multi_strerror (netlib_curl.curl_multi_strerror)
#endif
#endif

#ifdef MHD_VERSION
#define NETLIB_MHD_FUNCTIONS(X)                                                                               \
    X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_lookup_connection_value) X(MHD_add_response_header)          \
    X(MHD_queue_response) X(MHD_get_connection_info) X(MHD_destroy_response) X(MHD_create_response_from_buffer)
#define NETLIB_FIELD(f) __typeof__(&f) f;
typedef struct {
    NETLIB_MHD_FUNCTIONS(NETLIB_FIELD)
} netlib_mhd_api;
#undef NETLIB_FIELD
extern netlib_mhd_api netlib_mhd;
#ifndef NETLIB_NO_MACROS
#define MHD_start_daemon (netlib_mhd.MHD_start_daemon)
#define MHD_stop_daemon (netlib_mhd.MHD_stop_daemon)
#define MHD_lookup_connection_value (netlib_mhd.MHD_lookup_connection_value)
#define MHD_add_response_header (netlib_mhd.MHD_add_response_header)
#define MHD_queue_response (netlib_mhd.MHD_queue_response)
#define MHD_get_connection_info (netlib_mhd.MHD_get_connection_info)
#define MHD_destroy_response (netlib_mhd.MHD_destroy_response)
#define MHD_create_response_from_buffer (netlib_mhd.MHD_create_response_from_buffer)
#endif
#endif

#endif
