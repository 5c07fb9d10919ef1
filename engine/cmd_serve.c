/* cmd_serve.c - `carecast serve [--listen HOST:PORT]`: the HTTP endpoints
 * of serve.h until SIGTERM or SIGINT, then exit 0.
 *
 * It listens on --listen, else serve.listen, else 127.0.0.1:8025.  A
 * non-loopback address is refused unless it is exactly the configured
 * serve.listen: exposing the endpoints is a decision for the
 * configuration, not for a command-line typo. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "serve.h"

#define DEFAULT_LISTEN "127.0.0.1:8025"

cc_code cmd_serve(cli *c)
{
    const char *listen = cli_option(c, "--listen");
    if (cli_no_unknown_options(c, "serve") != 0) return CC_ERR_USAGE;
    if (c->argc) {
        fprintf(stderr, "carecast serve: unexpected argument '%s'\n", c->argv[0]);
        return CC_ERR_USAGE;
    }
    const char *configured = c->cfg.serve.listen && *c->cfg.serve.listen ? c->cfg.serve.listen : NULL;
    if (!listen) listen = configured ? configured : DEFAULT_LISTEN;

    struct sockaddr_storage addr;
    socklen_t addrlen = 0;
    int loopback = 0;
    char err[256];
    if (serve_parse_listen(listen, &addr, &addrlen, &loopback, err, sizeof err) != CC_OK) {
        fprintf(stderr, "carecast serve: --listen: %s\n", err);
        return CC_ERR_USAGE;
    }
    if (!loopback && !(configured && strcmp(listen, configured) == 0)) {
        fprintf(stderr,
                "carecast serve: refusing to listen on %s, which is not a loopback address; "
                "set `serve: {listen: \"%s\"}` in the configuration to allow it\n",
                listen, listen);
        return CC_ERR_USAGE;
    }
    if (!c->cfg.serve.secret || !*c->cfg.serve.secret)
        fprintf(stderr, "carecast serve: warning: serve.secret is not set (serve.secret_env or "
                        "serve.secret_file): delivery reports and inbound SMS are refused with 403\n");
    if (!c->cfg.unsubscribe.secret || !*c->cfg.unsubscribe.secret)
        fprintf(stderr, "carecast serve: warning: unsubscribe.secret is not set: one-click unsubscribe "
                        "answers 404\n");

    /* The server records into an existing customer database; it does not
     * create one. */
    if (access(c->cfg.database, F_OK) != 0) {
        fprintf(stderr, "carecast serve: database '%s' does not exist\n", c->cfg.database);
        return CC_ERR_NOT_FOUND;
    }
    cc_code rc = cli_open_db(c);
    if (rc != CC_OK) return rc;

    /* Block the stop signals before the server's thread starts, so that it
     * inherits the mask and only sigwait() below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    serve_server *sv = NULL;
    rc = serve_start(c->db, &c->cfg, &addr, c->verbosity, &sv, err, sizeof err);
    if (rc != CC_OK) {
        fprintf(stderr, "carecast serve: %s: %s\n", listen, err);
        pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
        return rc == CC_ERR_IO ? CC_ERR_USAGE : rc;
    }
    cli_log(c, 1, "serve: listening on http://%s/ (SIGTERM or Ctrl-C stops)", listen);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    cli_log(c, 1, "serve: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    serve_stop(sv);
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
    return CC_OK;
}
