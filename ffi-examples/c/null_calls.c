/*
 * Calls every function of ducq.h with NULL pointers (and handles that are
 * not what a function expects): each returns DUCQ_ENULL or its documented
 * value, and none crashes. Prints one line per failed check; the exit
 * status is the number of failed checks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ducq_reactor.h"

static int failures;
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s (line %d)\n", what, __LINE__);                                         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define ENULL(call) CHECK((call) == DUCQ_ENULL, #call)

static ducq_loop_t apply(ducq_i *ducq, char *route, void *ctx) {
    (void)ducq;
    (void)route;
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

static void accept_none(ducq_reactor *r, int fd, void *ctx) {
    (void)r;
    (void)fd;
    (void)ctx;
}

/* ducq_log_tofile takes a va_list: called through a variadic helper. */
static int log_tofile(struct ducq_file_logger *logger, const char *fmt, ...) {
    va_list args;
    int rc;
    va_start(args, fmt);
    rc = ducq_log_tofile(logger, DUCQ_LOG_INFO, "f", "s", fmt, args);
    va_end(args);
    return rc;
}

/* A protocol object whose table is all NULL: every call answers. */
struct empty_proto {
    ducq_vtbl *tbl;
};

int main(void) {
    char buf[8];
    char text[32] = "";
    size_t size = sizeof buf;
    ducq_msg_parts parts;
    struct ducq_msg msg;
    struct ducq_listen_ctx listen;
    ducq_listen_ex_ctx listen_ex;
    ducq_socket_vtbl empty_socket;
    ducq_proto_vtbl empty_proto;
    ducq_vtbl empty_table;
    struct empty_proto foreign;
    ducq_cmd_t no_name = {NULL, "doc", exec};
    ducq_cmd_t no_exec = {"x", "doc", NULL};
    ducq_cmd_t core = {"pub", "doc", exec};
    ducq_reactor *r = ducq_reactor_new();
    ducq_dispatcher *disp = ducq_reactor_get_dispatcher(r);
    ducq_i *d = ducq_new_tcp("127.0.0.1", "1");
    ducq_i *ws_out = NULL;

    memset(&listen, 0, sizeof listen);
    memset(&listen_ex, 0, sizeof listen_ex);
    memset(&empty_socket, 0, sizeof empty_socket);
    memset(&empty_proto, 0, sizeof empty_proto);
    memset(&empty_table, 0, sizeof empty_table);
    foreign.tbl = &empty_table;

    /* states, levels and version: never NULL */
    CHECK(ducq_state_tostr(-4) && strcmp(ducq_state_tostr(-4), "null parameter") == 0, "tostr");
    CHECK(strcmp(ducq_state_short(99), "UNKNOWN") == 0, "short");
    CHECK(strcmp(ducq_version(), DUCQ_VERSION) == 0, "version");
    CHECK(strcmp(ducq_level_tostr((enum ducq_log_level)42), "unknown") == 0, "level_tostr");
    CHECK(ducq_getnow(NULL, 4) == NULL, "ducq_getnow(NULL)");
    CHECK(ducq_getnow(text, 2) == text && text[0] == '\0', "ducq_getnow, short buffer");
    {
        struct ducq_file_logger nowhere = {NULL, 0};
        CHECK(log_tofile(&nowhere, "%d", 1) == 0, "ducq_log_tofile to no file");
    }

    /* client handles */
    CHECK(ducq_new_tcp(NULL, "1") == NULL, "ducq_new_tcp(NULL, port)");
    CHECK(ducq_new_tcp("h", NULL) == NULL, "ducq_new_tcp(host, NULL)");
    CHECK(ducq_new_ws_client(NULL, "1") == NULL, "ducq_new_ws_client(NULL, port)");
    CHECK(ducq_new_http_client("h", NULL) == NULL, "ducq_new_http_client(host, NULL)");
    CHECK(ducq_new_socket(NULL, NULL) == NULL, "ducq_new_socket(NULL)");
    CHECK(ducq_new_socket(&empty_socket, NULL) == NULL, "ducq_new_socket(no send/recv)");
    CHECK(ducq_new_socket_ctx(NULL, text, 4) == NULL, "ducq_new_socket_ctx(NULL)");
    CHECK(ducq_new_socket_ctx(&empty_socket, text, 4) == NULL,
          "ducq_new_socket_ctx(no send/recv)");
    CHECK(ducq_new_ws_socket(NULL, text, 4, "h", "1") == NULL, "ducq_new_ws_socket(NULL)");
    CHECK(ducq_new_ws_socket(&empty_socket, text, 4, "h", "1") == NULL,
          "ducq_new_ws_socket(no send/recv)");
    CHECK(ducq_new_tcp_connection(-1) == NULL, "ducq_new_tcp_connection(-1)");
    CHECK(ducq_new_ws_connection(-1) == NULL, "ducq_new_ws_connection(-1)");
    CHECK(ducq_new_http_connection(-1) == NULL, "ducq_new_http_connection(-1)");
    ENULL(ducq_new_ws_upgrade_from_http(NULL, 3, text));
    ENULL(ducq_new_ws_upgrade_from_http(&ws_out, 3, NULL));
    CHECK(ws_out == NULL, "ducq_new_ws_upgrade_from_http writes nothing on failure");
    CHECK(ducq_buffer(NULL) == NULL && ducq_buffer(d) == NULL, "ducq_buffer: not a WebSocket");
    ENULL(ducq_tcp_apply(3, NULL, NULL));
    CHECK(ducq_new_tls(NULL, "1", NULL) == NULL, "ducq_new_tls(NULL, port, ca)");
    CHECK(ducq_new_tls("h", NULL, NULL) == NULL, "ducq_new_tls(host, NULL, ca)");
    CHECK(ducq_new_tls("h", "1", "no such ca file") == NULL, "ducq_new_tls(missing CA file)");
    CHECK(ducq_new_unix(NULL) == NULL, "ducq_new_unix(NULL)");
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
    ENULL(ducq_emit(NULL, "c", "r", NULL, 0));
    ENULL(ducq_emit(d, NULL, "r", NULL, 0));
    ENULL(ducq_emit(d, "c", NULL, NULL, 0));
    ENULL(ducq_emit(d, "c", "r", NULL, 3));
    ENULL(ducq_emit_ex(NULL, "c", "r", NULL, 0, true));
    ENULL(ducq_pub(NULL, "r", "p", 1));
    ENULL(ducq_pub(d, NULL, "p", 1));
    ENULL(ducq_pub(d, "r", NULL, 1));
    ENULL(ducq_publish(NULL, "r", "p", 1));
    ENULL(ducq_sub(NULL, "r", NULL));
    ENULL(ducq_sub(d, NULL, NULL));
    ENULL(ducq_set_reconnect(NULL, NULL));
    CHECK(ducq_set_reconnect(d, NULL) == DUCQ_OK, "ducq_set_reconnect(d, NULL)");
    {
        uint64_t qid;
        uint32_t count;
        ENULL(ducq_enqueue(NULL, "q", "p", 1, &qid));
        ENULL(ducq_enqueue(d, NULL, "p", 1, &qid));
        ENULL(ducq_enqueue(d, "q", NULL, 1, &qid));
        ENULL(ducq_enqueue(d, "q", "p", 1, NULL));
        ENULL(ducq_consume(NULL, "q", 1));
        ENULL(ducq_consume(d, NULL, 1));
        ENULL(ducq_next_delivery(NULL, &qid, &count, buf, &size));
        ENULL(ducq_next_delivery(d, NULL, &count, buf, &size));
        ENULL(ducq_next_delivery(d, &qid, NULL, buf, &size));
        ENULL(ducq_next_delivery(d, &qid, &count, NULL, &size));
        ENULL(ducq_next_delivery(d, &qid, &count, buf, NULL));
        ENULL(ducq_queue_ack(NULL, "q", 1));
        ENULL(ducq_queue_ack(d, NULL, 1));
        ENULL(ducq_request(NULL, "r", "p", 1, 1, buf, &size));
        ENULL(ducq_request(d, NULL, "p", 1, 1, buf, &size));
        ENULL(ducq_request(d, "r", NULL, 1, 1, buf, &size));
        ENULL(ducq_request(d, "r", "p", 1, 1, NULL, &size));
        ENULL(ducq_request(d, "r", "p", 1, 1, buf, NULL));
    }
    CHECK(ducq_id(NULL) == NULL, "ducq_id(NULL)");
    CHECK(!ducq_eq(NULL, d) && !ducq_eq(d, NULL), "ducq_eq(NULL)");
    CHECK(ducq_copy(NULL) == NULL, "ducq_copy(NULL)");
    ENULL(ducq_timeout(NULL, 1));
    ENULL(ducq_set_limits(NULL, 1, 1));
    ENULL(ducq_reuseaddr(NULL));
    CHECK(ducq_last_error(NULL) == NULL, "ducq_last_error(NULL)");
    ENULL(ducq_listen(NULL, &listen));
    ENULL(ducq_listen(d, NULL));
    ENULL(ducq_listen_ex(NULL, &listen_ex));
    ENULL(ducq_listen_ex(d, NULL));

    /* an unconnected handle */
    CHECK(ducq_send_ack(d, DUCQ_OK) == DUCQ_ECONNCLOSED, "send on an unconnected handle");
    size = sizeof buf;
    CHECK(ducq_recv(d, buf, &size) == DUCQ_ECONNCLOSED, "recv on an unconnected handle");
    CHECK(ducq_close(d) == DUCQ_OK, "close on an unconnected handle");
    CHECK(ducq_reuseaddr(d) == DUCQ_OK, "reuseaddr");
    CHECK(ducq_set_limits(d, 0, 0) == DUCQ_OK, "set_limits, keeping both");
    {
        ducq_i *ws = ducq_new_ws_client("127.0.0.1", "1");
        ducq_i *http = ducq_new_http_client("127.0.0.1", "1");
        CHECK(ws && strcmp(ducq_id(ws), "WS:127.0.0.1:1") == 0, "id of an unconnected WS handle");
        CHECK(ducq_pub(ws, "r", "p", 1) == DUCQ_ECONNCLOSED, "pub on an unconnected WS handle");
        CHECK(ducq_buffer(ws) != NULL, "ducq_buffer of a WebSocket handle");
        CHECK(http && strcmp(ducq_id(http), "HTTP:127.0.0.1:1") == 0, "id of an HTTP handle");
        CHECK(ducq_conn(http) == DUCQ_ENOIMPL, "the HTTP client is not implemented");
        ducq_free(ws);
        ducq_free(http);
    }

    /* an object whose table is all NULL */
    CHECK(ducq_conn((ducq_i *)&foreign) == DUCQ_ENOIMPL, "conn, NULL entry");
    size = sizeof buf;
    CHECK(ducq_recv((ducq_i *)&foreign, buf, &size) == DUCQ_ENOIMPL, "recv, NULL entry");
    CHECK(ducq_id((ducq_i *)&foreign) == NULL, "id, NULL entry");
    CHECK(ducq_copy((ducq_i *)&foreign) == NULL, "copy, NULL entry");
    CHECK(ducq_set_limits((ducq_i *)&foreign, 1, 1) == DUCQ_ENOIMPL, "set_limits, not ducq's");
    CHECK(!ducq_eq((ducq_i *)&foreign, d), "eq, NULL entry");
    ducq_free((ducq_i *)&foreign);

    /* messages */
    CHECK(ducq_parse_command(NULL, NULL) == NULL, "ducq_parse_command(NULL)");
    CHECK(ducq_parse_route(NULL, NULL) == NULL, "ducq_parse_route(NULL)");
    CHECK(ducq_parse_payload(NULL) == NULL, "ducq_parse_payload(NULL)");
    CHECK(ducq_ack_to_state(NULL) == DUCQ_EMSGINV, "ducq_ack_to_state(NULL)");
    msg = ducq_parse_msg(NULL);
    CHECK(!msg.command && !msg.route && !msg.payload, "ducq_parse_msg(NULL)");
    ENULL(ducq_split_msg(NULL, 3, &parts));
    ENULL(ducq_split_msg("a b", 3, NULL));
    ENULL(ducq_copy_command(NULL, 3, buf, &size));
    ENULL(ducq_copy_command("a b", 3, NULL, &size));
    ENULL(ducq_copy_command("a b", 3, buf, NULL));
    ENULL(ducq_copy_route(NULL, 3, buf, &size));
    ENULL(ducq_copy_payload(NULL, 3, buf, &size));
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
    ENULL(ducq_reactor_set_log_text(NULL, NULL, NULL));
    ducq_reactor_set_log(NULL, NULL, NULL);
    CHECK(!ducq_reactor_allow_log_route(NULL, true), "ducq_reactor_allow_log_route(NULL)");
    ENULL(ducq_reactor_listen_tcp(NULL, "127.0.0.1:0", NULL));
    ENULL(ducq_reactor_listen_tcp(r, NULL, NULL));
    ENULL(ducq_reactor_listen_http(NULL, "127.0.0.1:0", NULL));
    ENULL(ducq_reactor_listen_http(r, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(NULL, "127.0.0.1:0", &empty_proto, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(r, NULL, &empty_proto, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(r, "127.0.0.1:0", NULL, NULL, NULL));
    ENULL(ducq_reactor_listen_proto(r, "127.0.0.1:0", &empty_proto, NULL, NULL));
    ENULL(ducq_buf_append(NULL, "x", 1));
    ducq_loop(NULL);
    ENULL(ducq_reactor_run(NULL));
    ENULL(ducq_loop_once(NULL, 0));
    CHECK(ducq_reactor_fd(NULL) == -1, "ducq_reactor_fd(NULL)");
    CHECK(ducq_reactor_fd(r) >= 0, "ducq_reactor_fd");
    CHECK(ducq_reactor_timeout_ms(NULL) == -1, "ducq_reactor_timeout_ms(NULL)");
    ducq_reactor_stop(NULL);
    CHECK(ducq_reactor_loop(NULL, apply, NULL) == DUCQ_LOOP_BREAK, "ducq_reactor_loop(NULL)");
    CHECK(ducq_reactor_loop(r, NULL, NULL) == DUCQ_LOOP_BREAK, "ducq_reactor_loop(r, NULL)");
    CHECK(ducq_reactor_loop(r, apply, NULL) == DUCQ_LOOP_CONTINUE, "ducq_reactor_loop, no client");
    ENULL(ducq_reactor_subscribe(NULL, d, "r"));
    ENULL(ducq_reactor_subscribe(r, NULL, "r"));
    ENULL(ducq_reactor_subscribe(r, d, NULL));
    CHECK(ducq_reactor_subscribe(r, d, "r") == DUCQ_ENOTFOUND, "subscribe a client handle");
    CHECK(!ducq_reactor_delete(NULL, d) && !ducq_reactor_delete(r, NULL), "ducq_reactor_delete(NULL)");
    CHECK(!ducq_reactor_delete(r, d), "delete a client handle");
    ENULL(ducq_reactor_publish(NULL, "r", "p", 1));
    ENULL(ducq_reactor_publish(r, NULL, "p", 1));
    ENULL(ducq_reactor_publish(r, "r", NULL, 1));
    CHECK(ducq_get_last_msg(NULL, "r") == NULL, "ducq_get_last_msg(NULL)");
    CHECK(ducq_get_last_msg(r, NULL) == NULL, "ducq_get_last_msg(r, NULL)");
    ENULL(ducq_copy_last_msg(NULL, "r", buf, &size));
    ENULL(ducq_copy_last_msg(r, NULL, buf, &size));
    ENULL(ducq_copy_last_msg(r, "r", NULL, &size));
    ENULL(ducq_copy_last_msg(r, "r", buf, NULL));
    ENULL(ducq_set_last_msg(NULL, "r", "m"));
    ENULL(ducq_set_last_msg(r, NULL, "m"));
    ENULL(ducq_set_last_msg(r, "r", NULL));
    ENULL(ducq_store_last_msg(NULL, "r", "m", 1));
    ENULL(ducq_store_last_msg(r, "r", NULL, 1));
    ENULL(ducq_reactor_log_text(NULL, DUCQ_LOG_INFO, "f", NULL, "t"));
    ENULL(ducq_reactor_log_text(r, DUCQ_LOG_INFO, NULL, NULL, "t"));
    ENULL(ducq_reactor_log_text(r, DUCQ_LOG_INFO, "f", NULL, NULL));
    CHECK(ducq_reactor_log(NULL, DUCQ_LOG_INFO, "f", NULL, "%d", 1) == DUCQ_ENULL, "log(NULL)");
    CHECK(ducq_reactor_log(r, DUCQ_LOG_INFO, NULL, NULL, "t") == DUCQ_ENULL, "log(no function)");
    CHECK(ducq_new_client_it(NULL) == NULL, "ducq_new_client_it(NULL)");
    CHECK(ducq_next(NULL, NULL) == NULL, "ducq_next(NULL)");
    ducq_client_it_free(NULL);
    ENULL(ducq_reactor_add_client(NULL, 3, d));
    ENULL(ducq_reactor_add_client(r, 3, NULL));
    CHECK(ducq_reactor_add_client(r, 3, d) == DUCQ_EMSGINV, "add a client handle");
    ENULL(ducq_reactor_add_server(NULL, 3, accept_none, NULL));
    ENULL(ducq_reactor_add_server(r, 3, NULL, NULL));
    CHECK(ducq_reactor_add_server(r, -1, accept_none, NULL) == DUCQ_EMSGINV, "add_server(-1)");
    ENULL(ducq_reactor_add_command(NULL, &no_name));
    ENULL(ducq_reactor_add_command(r, NULL));
    ENULL(ducq_reactor_add_command(r, &no_name));
    ENULL(ducq_reactor_add_command(r, &no_exec));
    CHECK(ducq_reactor_add_command(r, &core) == DUCQ_EMSGINV, "a core command cannot be replaced");
    ENULL(ducq_reactor_load_commands(NULL, ".", NULL));
    ENULL(ducq_reactor_load_commands(r, NULL, NULL));
    CHECK(ducq_reactor_get_dispatcher(NULL) == NULL, "ducq_reactor_get_dispatcher(NULL)");
    CHECK(ducq_dispatcher_new(NULL) == NULL, "ducq_dispatcher_new(NULL)");
    CHECK(ducq_dispatcher_new(r) == disp, "ducq_dispatcher_new is the reactor's");
    ducq_dispatcher_free(NULL);
    ducq_dispatcher_free(disp);
    ENULL(ducq_dispatcher_load_commands_path(NULL, "."));
    ENULL(ducq_dispatcher_add(NULL, "."));
    ENULL(ducq_dispatcher_add(disp, NULL));
    CHECK(ducq_dispatcher_add(disp, "no such lua path") == DUCQ_EFILE,
          "ducq_dispatcher_add(missing path)");
    ducq_dispatcher_accept_notify(NULL, -1, NULL);
    ENULL(ducq_dispatch(NULL, d, buf, 1));
    ENULL(ducq_dispatch(disp, NULL, buf, 1));
    CHECK(ducq_dispatch(disp, d, buf, 1) == DUCQ_ENOTFOUND, "dispatch for a client handle");
    CHECK(ducq_dispatcher_count_cmds(NULL) == -1, "ducq_dispatcher_count_cmds(NULL)");
    CHECK(ducq_dispatcher_count_cmds(disp) == 0, "ducq_dispatcher_count_cmds");

    ENULL(ducq_reactor_listen_tls(NULL, "127.0.0.1:0", "c", "k", NULL, NULL));
    ENULL(ducq_reactor_listen_tls(r, NULL, "c", "k", NULL, NULL));
    ENULL(ducq_reactor_listen_https(r, "127.0.0.1:0", NULL, "k", NULL, NULL));
    ENULL(ducq_reactor_listen_https(r, "127.0.0.1:0", "c", NULL, NULL, NULL));
    CHECK(ducq_reactor_listen_mqtts(r, "127.0.0.1:0", "/nonexistent.pem", "k", NULL, NULL) ==
              DUCQ_EFILE,
          "mqtts with a missing certificate");
    ENULL(ducq_reactor_listen_mqtts(r, NULL, "c", "k", NULL, NULL));
    ENULL(ducq_reactor_listen_mqtt(NULL, "127.0.0.1:0", NULL));
    ENULL(ducq_reactor_listen_mqtt(r, NULL, NULL));
    ENULL(ducq_reactor_listen_unix(NULL, "p", -1));
    ENULL(ducq_reactor_listen_unix(r, NULL, -1));
    ENULL(ducq_reactor_add_user(NULL, "u", NULL, "", "", 0));
    ENULL(ducq_reactor_add_user(r, NULL, NULL, "", "", 0));
    ENULL(ducq_reactor_add_user(r, "u", NULL, NULL, "", 0));
    ENULL(ducq_reactor_set_anonymous(NULL, "", ""));
    ENULL(ducq_reactor_set_anonymous(r, NULL, ""));
    ENULL(ducq_reactor_set_anonymous(r, "", NULL));
    ENULL(ducq_reactor_load_config(NULL, "f"));
    ENULL(ducq_reactor_load_config(r, NULL));
    ENULL(ducq_reactor_reload(NULL));
    CHECK(ducq_reactor_reload(r) == DUCQ_ENOIMPL, "ducq_reactor_reload without a file");
    ENULL(ducq_hash_password(NULL, buf, sizeof buf));
    ENULL(ducq_hash_password("pw", NULL, 0));
    CHECK(ducq_hash_password("pw", buf, sizeof buf) == DUCQ_EMAX, "a PHC string needs room");
    ENULL(ducq_authenticate(NULL, "u", "p"));
    ENULL(ducq_authenticate(d, NULL, "p"));
    ENULL(ducq_authenticate(d, "u", NULL));
    CHECK(ducq_authenticate(d, "", "p") == DUCQ_EMSGINV, "ducq_authenticate with no user");
    CHECK(ducq_authenticate(d, "u", "p") == DUCQ_ECONNCLOSED, "authenticate, not connected");

    /* the broker state through the idle reactor */
    CHECK(ducq_store_last_msg(r, "r", "pub r\nm", 7) == DUCQ_OK, "store last");
    size = sizeof buf;
    CHECK(ducq_copy_last_msg(r, "r", buf, &size) == DUCQ_OK && size == 7, "copy last");
    size = 2;
    CHECK(ducq_copy_last_msg(r, "r", buf, &size) == DUCQ_EMSGSIZE && size == 8, "copy last, short");
    CHECK(strcmp(ducq_get_last_msg(r, "none"), "ACK") == 0, "no last message: ACK");

    ducq_free(d);
    ducq_reactor_free(r);
    printf("%d failed\n", failures);
    return failures;
}
