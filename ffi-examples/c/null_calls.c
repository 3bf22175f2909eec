/*
 * Calls every function of ducq.h with NULL pointers: each returns
 * DUCQ_ENULL or its documented value for NULL, and none crashes. Prints
 * one line per check; the exit status is the number of failed checks.
 */
#include <stdio.h>
#include <string.h>

#include "ducq.h"

static int failures;
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s (line %d)\n", what, __LINE__);                                         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define ENULL(call) CHECK((call) == DUCQ_ENULL, #call)

static ducq_loop_t apply(ducq_i *ducq, void *ctx) {
    (void)ducq;
    (void)ctx;
    return DUCQ_LOOP_CONTINUE;
}

static ducq_state exec(ducq_reactor *r, ducq_i *d, char *m, size_t s) {
    (void)r;
    (void)d;
    (void)m;
    (void)s;
    return DUCQ_OK;
}

int main(void) {
    char buf[8];
    size_t size = sizeof buf;
    ducq_msg msg;
    ducq_listen_ctx listen;
    ducq_vtbl empty_vtbl;
    ducq_proto_vtbl empty_proto;
    ducq_cmd_t no_name = {NULL, "doc", exec};
    ducq_cmd_t no_exec = {"x", "doc", NULL};
    ducq_reactor *r = ducq_reactor_new();
    ducq_i *d = ducq_new_tcp("127.0.0.1", "1");

    memset(&listen, 0, sizeof listen);
    memset(&empty_vtbl, 0, sizeof empty_vtbl);
    memset(&empty_proto, 0, sizeof empty_proto);

    /* states and version: never NULL */
    CHECK(ducq_state_tostr(-4) && strcmp(ducq_state_tostr(-4), "null parameter") == 0, "tostr");
    CHECK(strcmp(ducq_state_short(99), "UNKNOWN") == 0, "short");
    CHECK(strcmp(ducq_version(), DUCQ_VERSION) == 0, "version");

    /* client handles */
    CHECK(ducq_new_tcp(NULL, "1") == NULL, "ducq_new_tcp(NULL, port)");
    CHECK(ducq_new_tcp("h", NULL) == NULL, "ducq_new_tcp(host, NULL)");
    CHECK(ducq_new_ws_client(NULL, "1") == NULL, "ducq_new_ws_client(NULL, port)");
    CHECK(ducq_new_ws_client("h", NULL) == NULL, "ducq_new_ws_client(host, NULL)");
    CHECK(ducq_new_vtbl(NULL, NULL) == NULL, "ducq_new_vtbl(NULL)");
    CHECK(ducq_new_tls(NULL, "1", NULL) == NULL, "ducq_new_tls(NULL, port, ca)");
    CHECK(ducq_new_tls("h", NULL, NULL) == NULL, "ducq_new_tls(host, NULL, ca)");
    CHECK(ducq_new_tls("h", "1", "no such ca file") == NULL, "ducq_new_tls(missing CA file)");
    CHECK(ducq_new_unix(NULL) == NULL, "ducq_new_unix(NULL)");
    CHECK(ducq_new_vtbl(&empty_vtbl, NULL) == NULL, "ducq_new_vtbl(no send/recv)");
    ENULL(ducq_conn(NULL));
    ENULL(ducq_close(NULL));
    ducq_free(NULL);
    ENULL(ducq_send(NULL, "x", &size));
    ENULL(ducq_send(d, "x", NULL));
    size = 1;
    ENULL(ducq_send(d, NULL, &size));
    ENULL(ducq_recv(NULL, buf, &size));
    ENULL(ducq_recv(d, NULL, &size));
    ENULL(ducq_recv(d, buf, NULL));
    ENULL(ducq_receive(NULL, buf, &size));
    ENULL(ducq_receive(d, NULL, &size));
    ENULL(ducq_receive(d, buf, NULL));
    ENULL(ducq_parts(NULL));
    ENULL(ducq_end(NULL));
    ENULL(ducq_send_ack(NULL, DUCQ_OK));
    ENULL(ducq_emit(NULL, "c", "r", NULL, 0, false));
    ENULL(ducq_emit(d, NULL, "r", NULL, 0, false));
    ENULL(ducq_emit(d, "c", NULL, NULL, 0, false));
    ENULL(ducq_emit(d, "c", "r", NULL, 3, false));
    ENULL(ducq_pub(NULL, "r", "p", 1));
    ENULL(ducq_pub(d, NULL, "p", 1));
    ENULL(ducq_pub(d, "r", NULL, 1));
    ENULL(ducq_publish(NULL, "r", "p"));
    ENULL(ducq_publish(d, NULL, "p"));
    ENULL(ducq_publish(d, "r", NULL));
    ENULL(ducq_sub(NULL, "r", NULL));
    ENULL(ducq_sub(d, NULL, NULL));
    CHECK(ducq_id(NULL) == NULL, "ducq_id(NULL)");
    CHECK(!ducq_eq(NULL, d) && !ducq_eq(d, NULL), "ducq_eq(NULL)");
    CHECK(ducq_copy(NULL) == NULL, "ducq_copy(NULL)");
    ENULL(ducq_timeout(NULL, 1));
    ENULL(ducq_reuseaddr(NULL));
    CHECK(ducq_last_error(NULL) == NULL, "ducq_last_error(NULL)");
    ENULL(ducq_listen(NULL, &listen));
    ENULL(ducq_listen(d, NULL));

    /* an unconnected handle */
    CHECK(ducq_send_ack(d, DUCQ_OK) == DUCQ_ECONNCLOSED, "send on an unconnected handle");
    size = sizeof buf;
    CHECK(ducq_recv(d, buf, &size) == DUCQ_ECONNCLOSED, "recv on an unconnected handle");
    CHECK(ducq_close(d) == DUCQ_OK, "close on an unconnected handle");
    {
        ducq_i *ws = ducq_new_ws_client("127.0.0.1", "1");
        CHECK(ws && strcmp(ducq_id(ws), "WS:127.0.0.1:1") == 0, "id of an unconnected WS handle");
        CHECK(ducq_pub(ws, "r", "p", 1) == DUCQ_ECONNCLOSED, "pub on an unconnected WS handle");
        ducq_free(ws);
    }

    /* messages */
    ENULL(ducq_parse_message(NULL, 3, &msg));
    ENULL(ducq_parse_message("a b", 3, NULL));
    ENULL(ducq_parse_command(NULL, 3, buf, &size));
    ENULL(ducq_parse_command("a b", 3, NULL, &size));
    ENULL(ducq_parse_command("a b", 3, buf, NULL));
    ENULL(ducq_parse_route(NULL, 3, buf, &size));
    ENULL(ducq_parse_payload(NULL, 3, buf, &size));
    ENULL(ducq_classify(NULL, 3));
    ENULL(ducq_nack_state(NULL, 3));
    CHECK(!ducq_route_cmp(NULL, "a") && !ducq_route_cmp("a", NULL), "ducq_route_cmp(NULL)");
    CHECK(ducq_route_cmp("a/*", "a/b"), "ducq_route_cmp matches");

    /* reactor */
    ducq_reactor_free(NULL);
    {
        ducq_reactor *plain = ducq_reactor_new_with_log(NULL, NULL);
        CHECK(plain != NULL, "ducq_reactor_new_with_log(NULL, NULL)");
        ducq_reactor_free(plain);
    }
    ENULL(ducq_reactor_set_log_level(NULL, DUCQ_LOG_OFF));
    ENULL(ducq_reactor_listen_tcp(NULL, "127.0.0.1:0", NULL));
    ENULL(ducq_reactor_listen_tcp(r, NULL, NULL));
    ENULL(ducq_reactor_listen_http(NULL, "127.0.0.1:0", NULL));
    ENULL(ducq_reactor_listen_http(r, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(NULL, "127.0.0.1:0", &empty_proto, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(r, NULL, &empty_proto, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(r, "127.0.0.1:0", NULL, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(r, "127.0.0.1:0", &empty_proto, NULL, NULL));
    ENULL(ducq_buf_append(NULL, "x", 1));
    ENULL(ducq_loop(NULL));
    ENULL(ducq_loop_once(NULL, 0));
    CHECK(ducq_reactor_fd(NULL) == -1, "ducq_reactor_fd(NULL)");
    CHECK(ducq_reactor_fd(r) >= 0, "ducq_reactor_fd");
    CHECK(ducq_reactor_timeout_ms(NULL) == -1, "ducq_reactor_timeout_ms(NULL)");
    ducq_reactor_stop(NULL);
    ENULL(ducq_reactor_loop(NULL, apply, NULL));
    ENULL(ducq_reactor_loop(r, NULL, NULL));
    ENULL(ducq_reactor_subscribe(NULL, d, "r"));
    ENULL(ducq_reactor_subscribe(r, NULL, "r"));
    ENULL(ducq_reactor_subscribe(r, d, NULL));
    CHECK(ducq_reactor_subscribe(r, d, "r") == DUCQ_ENOTFOUND, "subscribe a client handle");
    ENULL(ducq_reactor_delete(NULL, d));
    ENULL(ducq_reactor_delete(r, NULL));
    ENULL(ducq_reactor_publish(NULL, "r", "p", 1));
    ENULL(ducq_reactor_publish(r, NULL, "p", 1));
    ENULL(ducq_reactor_publish(r, "r", NULL, 1));
    ENULL(ducq_get_last_msg(NULL, "r", buf, &size));
    ENULL(ducq_get_last_msg(r, NULL, buf, &size));
    ENULL(ducq_get_last_msg(r, "r", NULL, &size));
    ENULL(ducq_get_last_msg(r, "r", buf, NULL));
    ENULL(ducq_set_last_msg(NULL, "r", "m", 1));
    ENULL(ducq_set_last_msg(r, NULL, "m", 1));
    ENULL(ducq_set_last_msg(r, "r", NULL, 1));
    ENULL(ducq_reactor_log(NULL, DUCQ_LOG_INFO, "f", NULL, "t"));
    ENULL(ducq_reactor_log(r, DUCQ_LOG_INFO, NULL, NULL, "t"));
    ENULL(ducq_reactor_log(r, DUCQ_LOG_INFO, "f", NULL, NULL));
    ENULL(ducq_reactor_add_command(NULL, &no_name));
    ENULL(ducq_reactor_add_command(r, NULL));
    ENULL(ducq_reactor_add_command(r, &no_name));
    ENULL(ducq_reactor_add_command(r, &no_exec));
    ENULL(ducq_reactor_load_commands(NULL, ".", NULL));
    ENULL(ducq_reactor_load_commands(r, NULL, NULL));
    CHECK(ducq_reactor_get_dispatcher(NULL) == NULL, "ducq_reactor_get_dispatcher(NULL)");
    ENULL(ducq_dispatcher_add(NULL, "."));
    ENULL(ducq_dispatcher_add(ducq_reactor_get_dispatcher(r), NULL));
    CHECK(ducq_dispatcher_add(ducq_reactor_get_dispatcher(r), "no such lua path") == DUCQ_EFILE,
          "ducq_dispatcher_add(missing path)");

    ENULL(ducq_reactor_listen_tls(NULL, "127.0.0.1:0", "c", "k", NULL, NULL));
    ENULL(ducq_reactor_listen_tls(r, NULL, "c", "k", NULL, NULL));
    ENULL(ducq_reactor_listen_https(r, "127.0.0.1:0", NULL, "k", NULL, NULL));
    ENULL(ducq_reactor_listen_https(r, "127.0.0.1:0", "c", NULL, NULL, NULL));
    ENULL(ducq_reactor_listen_unix(NULL, "p", -1));
    ENULL(ducq_reactor_listen_unix(r, NULL, -1));
    ENULL(ducq_reactor_add_user(NULL, "u", NULL, "", "", 0));
    ENULL(ducq_reactor_add_user(r, NULL, NULL, "", "", 0));
    ENULL(ducq_reactor_add_user(r, "u", NULL, NULL, "", 0));
    ENULL(ducq_reactor_load_config(NULL, "f"));
    ENULL(ducq_reactor_load_config(r, NULL));
    ENULL(ducq_reactor_reload(NULL));
    CHECK(ducq_reactor_reload(r) == DUCQ_ENOIMPL, "ducq_reactor_reload without a file");
    ENULL(ducq_hash_password(NULL, buf, sizeof buf));
    ENULL(ducq_hash_password("pw", NULL, 0));

    /* the broker state through the idle reactor */
    CHECK(ducq_set_last_msg(r, "r", "pub r\nm", 7) == DUCQ_OK, "set last");
    size = sizeof buf;
    CHECK(ducq_get_last_msg(r, "r", buf, &size) == DUCQ_OK && size == 7, "get last");
    size = 2;
    CHECK(ducq_get_last_msg(r, "r", buf, &size) == DUCQ_EMSGSIZE && size == 8, "get last, short");

    ducq_free(d);
    ducq_reactor_free(r);
    printf("%d failed\n", failures);
    return failures;
}
