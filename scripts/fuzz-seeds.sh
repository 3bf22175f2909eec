#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/, one
# small file per input, from real ducq traffic (PROTOCOL.md). Rerun it after
# editing; it replaces the folder. It only writes files (and a temporary
# folder it removes); it starts no server and opens no socket.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{tcp_decoder,message_parse,route_match,classify}
mkdir -p "$seeds"/{ws_handshake,ws_frame,http_request,reactor_input,c_vtable,tls_input}
mkdir -p "$seeds"/{ws_handshake,ws_frame,http_request,reactor_input,c_vtable,mqtt_packet,mqtt_connection}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# seed TARGET NAME BYTES: BYTES is a printf format (\n, \0 and \xHH work).
seed() { printf "$3" >"$seeds/$1/$2"; }

# --- tcp_decoder: byte 0 is the max body, byte 1 the split seed, then the
# stream. '~' = 126-byte max, ' ' = 32-byte max; split '0' = chunks of 1..4,
# '~' = chunks of 1..8, '\x01' = one byte at a time.
# tcp NAME CONFIG BODY...: frames each BODY (a printf format) with its length.
tcp() {
    local name=$1 config=$2 body
    shift 2
    {
        printf "$config"
        for body in "$@"; do
            printf '%d\n' "$(printf "$body" | wc -c)"
            printf "$body"
        done
    } >"$seeds/tcp_decoder/$name"
}
tcp hello          '~0' 'hello'
tcp two-frames     '~~' 'hello' 'abc'
tcp pub            '~\x01' 'pub a/b\nxyz'
tcp sub-last-add   '~0' 'sub a/*\nlast add'
tcp nul-body       '~~' '\0\0\0\0' 'a\0b'
tcp nack           '~0' 'NACK *\n15\nmessage invalid'
tcp parts          '~~' 'PARTS' '"lscmd","list commands"\n' '"pub","publish"\n' 'END'
tcp ping-pong      '~0' 'PING _\nping' 'PONG _\nping'
tcp too-big-kept   ' 0' 'pub big/route\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' 'ok'
seed tcp_decoder leading-zeros  '~00003\na\0b'
seed tcp_decoder zero-length    '~00\n'
seed tcp_decoder bad-sign       '~0-5\nhello'
seed tcp_decoder bad-space      '~0 5\nhello'
seed tcp_decoder bad-cr         '~05\r\nhello'
seed tcp_decoder bad-empty      '~0\nabc'
seed tcp_decoder too-big-split  ' \x0146\npub big/route\nxxxxxxxx'
seed tcp_decoder huge-length    '~099999999999999999999\nxx'
seed tcp_decoder long-header    '~00000000000000000000000000000000000000000000000000000000000000000005\nhello'

# --- message_parse: one message body each.
seed message_parse pub          'pub a/b\nx'
seed message_parse publish      'publish sensors/t1\n21.5'
seed message_parse sub-last-add 'sub a/*\nlast add'
seed message_parse unsubscribe  'unsubscribe a/b\n'
seed message_parse unsub        'unsub x\nTCP:127.0.0.1:5000'
seed message_parse ping         'PING _\nping'
seed message_parse lscmd        'lscmd'
seed message_parse epoch-nl     'epoch\n'
seed message_parse route-spaces 'pub a b c\nmulti\nline'
seed message_parse nul-payload  'pub r\n\0x\0'
seed message_parse nul-route    'pub a\0b\nx'
seed message_parse no-newline   'pub route'
seed message_parse empty-cmd    ' r\np'
seed message_parse nack         'NACK *\n17\ncommand unknown'

# --- route_match: the pattern, a newline, the route (PROTOCOL.md §7 table).
seed route_match exact          'a/b\na/b'
seed route_match exact-longer   'a/b\na/bc'
seed route_match case           'a/b\nA/b'
seed route_match star-tail      'a/*\na/b/c'
seed route_match star-empty     'a/*\na/'
seed route_match star-short     'a/*\na'
seed route_match star-only      '*\nanything'
seed route_match star-middle    'a/*/c\na//c'
seed route_match star-backtrack '*/c\na/b/c'
seed route_match star-bang      'route/*!\nroute/subroute'
seed route_match literal-star   'a/b\na/*'
seed route_match many-stars     'a*b*c\naxbxbxc'
seed route_match star-a         '*a\nbab'
seed route_match worst          '*a*a*a*a*b\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'

# --- classify: what a client receives.
seed classify ack               'ACK'
seed classify parts             'PARTS'
seed classify end               'END'
seed classify ping              'PING _\nping'
seed classify pong              'PONG _\nping'
seed classify nack-15           'NACK *\n15\nmessage invalid'
seed classify nack-17           'NACK *\n17\ncommand unknown'
seed classify nack-negative     'NACK *\n-16\nmessage too big'
seed classify nack-big          'NACK *\n99999999999999999999\nx'
seed classify nack-bare         'NACK'
seed classify data              'pub a/b\nhello'
seed classify lsconn-line       'TCP:127.0.0.1:5000,a/*\n'

# --- helpers for binary protocols. Each prints bytes on stdout.
# hexbyte N: the byte N.
hexbyte() { printf "\\x$(printf %02x "$1")"; }

# frame_len N MASKBIT: a WebSocket length field (7, 16 or 64 bits).
frame_len() {
    local n=$1 m=$2
    if [ "$n" -lt 126 ]; then
        hexbyte $((m | n))
    elif [ "$n" -lt 65536 ]; then
        hexbyte $((m | 126)); hexbyte $((n >> 8)); hexbyte $((n & 255))
    else
        hexbyte $((m | 127))
        for shift in 56 48 40 32 24 16 8 0; do hexbyte $(((n >> shift) & 255)); done
    fi
}

# wsmask B0 KEY FORMAT: a client frame, first byte B0 (FIN, opcode), masked
# with the 8-hex-digit KEY, payload given as a printf format.
wsmask() {
    local b0=$1 key=$2 i
    printf "$3" >"$tmp/payload"
    local -a p k
    # read stops at the end of input with a non-zero status: expected.
    read -r -d '' -a p < <(od -An -v -tu1 "$tmp/payload") || true
    k=($((16#${key:0:2})) $((16#${key:2:2})) $((16#${key:4:2})) $((16#${key:6:2})))
    hexbyte "$b0"
    frame_len "${#p[@]}" 128
    for i in 0 1 2 3; do hexbyte "${k[i]}"; done
    for i in "${!p[@]}"; do hexbyte $((p[i] ^ k[i % 4])); done
}

# wsplain B0 FORMAT: a server frame (unmasked).
wsplain() {
    printf "$2" >"$tmp/payload"
    hexbyte "$1"
    frame_len "$(wc -c <"$tmp/payload")" 0
    cat "$tmp/payload"
}

# tcpframe FORMAT: a length-framed TCP message.
tcpframe() {
    printf "$1" >"$tmp/payload"
    printf '%d\n' "$(wc -c <"$tmp/payload")"
    cat "$tmp/payload"
}

# record CONTROL: a reactor_input record holding stdin (at most 255 bytes).
record() {
    cat >"$tmp/record"
    hexbyte "$1"
    hexbyte "$(wc -c <"$tmp/record")"
    cat "$tmp/record"
}

# The RFC 6455 sample request, and what the ducq client and a browser send.
RFC_REQ='GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n'
DUCQ_REQ='GET / HTTP/1.1\r\nHost: 127.0.0.1:59091\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: q2XUvzCbuS+8vFBbsKX+yQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
BROWSER_REQ='GET / HTTP/1.1\r\nHost: 192.168.1.2:59091\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nUpgrade: websocket\r\nOrigin: http://192.168.1.2:8000\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n'

# --- ws_handshake: byte 0 the head cap (16 + 4 x byte: '\xff' = 1036,
# 'd' = 416, '\x08' = 48), byte 1 the split seed, then the request.
hs() { { printf "$2"; printf "$3"; } >"$seeds/ws_handshake/$1"; }
hs rfc-sample        '\xff\x01' "$RFC_REQ"
hs ducq-client       '\xff~'    "$DUCQ_REQ"
hs browser           '\xff0'    "$BROWSER_REQ"
hs lowercase         'd~'       'GET / HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n'
hs bare-lf           '\xff0'    'GET / HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n'
hs leading-crlf      '\xff0'    "\\r\\n$DUCQ_REQ"
hs key-25-chars      '\xff0'    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n'
hs key-twice         '\xff0'    'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
hs version-8         '\xff0'    'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'
hs no-connection     '\xff0'    'GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
hs post              '\xff0'    'POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
hs http-1-0          '\xff0'    'GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
hs over-cap          '\x08\x01' "$DUCQ_REQ"
hs plain-get         '\xff0'    'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n'
{ printf '\xff~'; printf "$DUCQ_REQ"; wsmask 129 37fa213d 'sub a/*\n'
  wsmask 137 01020304 'p'; wsmask 136 0a0b0c0d '\x03\xe8bye'; } >"$seeds/ws_handshake/with-frames"

# --- ws_frame: byte 0 the largest message, byte 1 the split seed, byte 2
# the side ('0': server reading client frames, '1': client reading server
# frames), then frames. 'd' = 100-byte messages, '\xff' = 255.
wsf() { local name=$1 config=$2; shift 2; { printf "$config"; "$@"; } >"$seeds/ws_frame/$name"; }
wsf rfc-hello        '\xff\x010' wsmask 129 37fa213d 'Hello'
wsf pub-sub          'd~0'  eval "wsmask 129 11223344 'sub a/*\n'; wsmask 129 55667788 'pub a/b\nhello'"
wsf fragments        '\xff00' eval "wsmask 1 01020304 'pub a/b\nhel'; wsmask 137 01020304 'ping'; wsmask 0 05060708 'lo '; wsmask 128 090a0b0c 'world'"
wsf binary           '\xff~0' wsmask 130 a1b2c3d4 'pub r\n\0\x01\x02\xff'
wsf len-16           '\xff~0' wsmask 130 00000000 "$(printf 'x%.0s' {1..200})"
wsf too-big          ' 00'  wsmask 129 01010101 'pub a/b\nthis message is longer than thirty-two bytes'
wsf len-64           '\xff00' printf '\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00\x01\x02\x03\x04xx'
wsf len-top-bit      '\xff00' printf '\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01\x01\x02\x03\x04'
wsf close-1000       '\xff00' eval "wsmask 136 01020304 '\x03\xe8'; wsmask 129 01020304 'after'"
wsf close-empty      '\xff00' wsmask 136 01020304 ''
wsf close-bad-code   '\xff00' wsmask 136 01020304 '\x03\xed'
wsf close-bad-utf8   '\xff00' wsmask 136 01020304 '\x03\xe8\xff'
wsf unmasked         '\xff00' printf '\x81\x02hi'
wsf reserved-bit     '\xff00' wsmask 193 01020304 'x'
wsf long-ping        '\xff00' wsmask 137 01020304 "$(printf 'p%.0s' {1..126})"
wsf fragmented-ping  '\xff00' wsmask 9 01020304 'x'
wsf lone-continue    '\xff00' wsmask 128 01020304 'x'
wsf server-frames    '\xff01' eval "wsplain 129 'ACK'; wsplain 129 'PARTS'; wsplain 129 '\"lscmd\",\"list commands\"\n'; wsplain 129 'END'; wsplain 137 'ping'; wsplain 136 '\x03\xe8'"
wsf server-masked    '\xff01' wsmask 129 01020304 'ACK'

# --- http_request: byte 0 the limits (low nibble: head cap 32 + 64 x n;
# high nibble: body cap 8 x n), byte 1 the split seed, then the requests.
hr() { { printf "$2"; printf "$3"; } >"$seeds/http_request/$1"; }
hr curl-pub      '\xff0' 'POST /pub/sensors%%2Ft1 HTTP/1.1\r\nHost: 127.0.0.1:59091\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Length: 4\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n21.5'
hr curl-expect   '\xff\x01' 'POST /pub/a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\nhello world'
hr last          '\xff~' 'GET /last/sensors%%2Ft1 HTTP/1.1\r\nHost: x\r\n\r\n'
hr last-odd      '\xff~' 'GET /last/abc HTTP/1.1\r\nHost: x\r\n\r\n'
hr sse           '\xff0' 'GET /sub/sensors%%2F%%2A HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n'
hr lscmd         '\xff0' 'GET /lscmd HTTP/1.1\r\nHost: x\r\n\r\n'
hr lsconn        '\xff0' 'GET /lsconn?pretty HTTP/1.1\r\nHost: x\r\n\r\n'
hr cmd-epoch     '\xff0' 'POST /cmd/epoch HTTP/1.1\r\nContent-Length: 0\r\n\r\n'
hr cmd-route     '\xff0' 'POST /cmd/PING/a%%20b HTTP/1.1\r\nContent-Length: 4\r\n\r\nping'
hr cmd-pong      '\xff0' 'POST /cmd/PONG/a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx'
hr cmd-binary    '\xff0' 'POST /cmd/bin HTTP/1.1\r\nContent-Length: 0\r\n\r\n'
hr chunked       '\xff\x01' 'POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n'
hr pipelined     '\xff~' 'POST /pub/a HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /lscmd HTTP/1.1\r\n\r\nGET /last/a HTTP/1.1\r\nConnection: close\r\n\r\nGET /lscmd HTTP/1.1\r\n\r\n'
hr options       '\xff0' 'OPTIONS /pub/a HTTP/1.1\r\nOrigin: http://x\r\nAccess-Control-Request-Method: POST\r\n\r\n'
hr http-1-0      '\xff0' 'GET /lscmd HTTP/1.0\r\n\r\nGET /lscmd HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
hr not-found     '\xff0' 'GET /nope HTTP/1.1\r\n\r\nGET /pub/a HTTP/1.1\r\n\r\n'
hr bad-percent   '\xff0' 'POST /pub/a%%zz HTTP/1.1\r\nContent-Length: 0\r\n\r\n'
hr body-too-big  '\x1f0' 'POST /pub/a HTTP/1.1\r\nContent-Length: 100\r\n\r\n'
hr head-too-big  '\xf0\x01' 'GET /lscmd HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n'
hr chunk-too-big '\x1f0' 'POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\n'
hr gzip          '\xff0' 'POST /pub/a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'
hr te-and-cl     '\xff0' 'POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n'
hr two-cl        '\xff0' 'POST /pub/a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx'
hr upgrade-bad   '\xff0' 'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
# A crash the target found (fixed): malformed only past the chunk-line bound.
hr found-chunk-past-bound '!\x01' "POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;eHTTP/1.1 100 $(printf '\\xff%.0s' {1..38})Continue\r\n\r\n\rx\xc0\r \n"
{ printf '\xff~'; printf "$DUCQ_REQ"; wsmask 129 01020304 'sub a\n'; wsmask 129 01020304 'lscmd'
  wsmask 137 01020304 'p'; } >"$seeds/http_request/upgrade"

# --- reactor_input: records [control][length][bytes]; control bits 0-1
# pick the connection, bit 2 opens it on the HTTP port.
ri() { cat >"$seeds/reactor_input/$1"; }
{ tcpframe 'sub a/*\n' | record 0; tcpframe 'pub a/b\nhello' | record 1
  tcpframe 'lsconn' | record 0; tcpframe 'pub a/c\nbye' | record 1; } | ri tcp-pub-sub
{ for m in lscmd help epoch time 'PING _\nping' 'PONG _\nping' 'sub a\nlast' 'sub *\nlast add' \
    'unsubscribe a\n' 'unsub a\nTCP:127.0.0.1:1' 'unsub a\n' nope 'pub\n' 'publish r\nx'; do
    tcpframe "$m"; done | record 0; } | ri tcp-commands
{ tcpframe 'sub a/b\n' | record 0
  printf 'POST /pub/a%%2Fb HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi' | record 5; } | ri http-pub-tcp-sub
{ printf 'GET /sub/a HTTP/1.1\r\n\r\n' | record 4; tcpframe 'pub a\nline 1\nline 2' | record 1; } | ri sse-tcp-pub
{ printf "$DUCQ_REQ" | record 4; { wsmask 129 01020304 'sub r\n'; wsmask 137 01020304 'p'; } | record 4
  tcpframe 'pub r\nto ws' | record 1; wsmask 136 01020304 '\x03\xe8' | record 4; } | ri ws-sub-tcp-pub
{ printf 'GET /lscmd HTTP/1.1\r\n\r\nGET /last/a HTTP/1.1\r\n\r\n' | record 4
  printf 'POST /cmd/lsconn HTTP/1.1\r\nContent-Length: 0\r\n\r\n' | record 4; } | ri http-pipelined
printf '5\nhel' | record 0 | ri tcp-partial
printf -- '-5\nhello' | record 0 | ri tcp-bad-length
{ printf '300\n'; printf 'x%.0s' {1..200}; } | record 0 | ri tcp-too-big
printf '0\n' | record 0 | ri tcp-zero

# --- c_vtable: byte 0 the largest message, byte 1 the number of scripted
# decode calls, 4 bytes per call (result, consumed claim, message length / 2,
# reply bytes), then the stream. Results: 0-99 nothing, 100-199 message,
# 200-239 close, 240+ garbage; claims 200+ are huge.
cv() { { printf "$2"; printf "$3"; } >"$seeds/c_vtable/$1"; }
cv line-protocol '\xc8\x03' '\x64\x06\x05\x00\x64\x06\x05\x02\x00\x00\x00\x00pub a\nhello\nworld'
cv overclaim     '\xc8\x02' '\x64\xc8\x05\x00\x00\xf9\x00\x00pub a\nx'
cv message-none  '\x10\x02' '\x64\x00\x05\x00\x64\x01\xff\x00abc'
cv garbage-int   '\xc8\x03' '\xf0\x01\x00\x00\xfc\x01\x00\x00\xfe\x02\x00\x00abc'
cv close         '\xc8\x02' '\xc8\x00\x00\x10\x64\x01\x01\x01bye'

# --- tls_input: byte 0 the mode (0 raw bytes to the TLS port, 1 inside a
# TLS session, 2 the body of an `auth` frame inside TLS), then the payload.
tl() { { printf "$2"; printf "$3"; } >"$seeds/tls_input/$1"; }
tl raw-plain-ducq      '\x00' '6\nlscmd'
tl raw-plain-http      '\x00' 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
tl raw-bad-handshake   '\x00' '\x16\x03\x01\x00\x08\xff\x00\x00\x04\x01\x02\x03\x04'
tl raw-truncated-hello '\x00' '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'
tl raw-alert           '\x00' '\x15\x03\x03\x00\x02\x02\x28'
tl tls-pub-sub         '\x01' '11\nsub open/*\n13\npub open/a\nhi'
tl tls-denied-pub      '\x01' '12\npub closed\nx'
tl tls-auth-then-pub   '\x01' '8\nauth u\np12\npub closed\nx'
tl tls-bad-frame       '\x01' 'x\nabc'
tl auth-good           '\x02' 'u\np'
tl auth-wrong          '\x02' 'u\nwrong'
tl auth-unknown        '\x02' 'nobody\np'
tl auth-no-newline     '\x02' 'u'
tl auth-empty-user     '\x02' '\np'
# --- mqtt_packet: byte 0 the version (even 3.1.1, odd 5; its high bits a
# small maximum packet size, 0 = 1 MiB), byte 1 the split seed, then the
# packets a client sends (OASIS MQTT 3.1.1 / 5.0).
mq() { { printf "$2"; printf "$3"; } >"$seeds/mqtt_packet/$1"; }
mq connect-311     '\x00\x00' '\x10\x0e\x00\x04MQTT\x04\x02\x04\xb0\x00\x02c1'
mq connect-5-props '\x01\x10' '\x10\x1a\x00\x04MQTT\x05\x02\x00\x3c\x08\x11\x00\x00\x0e\x10\x21\x00\x0a\x00\x04dev1'
mq connect-will    '\x00\x01' '\x10\x23\x00\x04MQTT\x04\xee\x00\x3c\x00\x01c\x00\x03d/s\x00\x07offline\x00\x01u\x00\x02pw'
mq connect-31      '\x00\x00' '\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02c1'
mq session-311     '\x00\x30' '\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1\x82\x08\x00\x01\x00\x03a/#\x01\x30\x05\x00\x01thi\x32\x07\x00\x01t\x00\x07hi\x40\x02\x00\x01\xa2\x07\x00\x02\x00\x03a/#\xc0\x00\xe0\x00'
mq publish-qos2    '\x00\x00' '\x34\x07\x00\x01t\x00\x09hi\x62\x02\x00\x09'
mq publish-5-alias '\x01\x00' '\x30\x0a\x00\x01t\x03\x23\x00\x01hi\x30\x07\x00\x00\x03\x23\x00\x01'
mq publish-5-user  '\x01\x21' '\x31\x13\x00\x01t\x0d\x26\x00\x01k\x00\x01v\x03\x00\x04texthi'
mq subscribe-5     '\x01\x00' '\x82\x0e\x00\x01\x02\x0b\x07\x00\x03a/+\x2d\x00\x01b\x00'
mq shared-sub      '\x01\x00' '\x82\x13\x00\x02\x00\x00\x0d$share/g/a/#\x01'
mq acks-5          '\x01\x00' '\x40\x02\x00\x05\x50\x03\x00\x05\x10\x62\x08\x00\x05\x92\x04\x1f\x00\x01x\x70\x02\x00\x05'
mq disconnect-5    '\x01\x00' '\xe0\x07\x04\x05\x11\x00\x00\x00\x00'
mq auth-5          '\x01\x00' '\xf0\x09\x18\x07\x15\x00\x04SCRM'
mq too-large       '\x08\x00' '\x30\x80\x80\x80\x01'
mq varint-5-bytes  '\x00\x00' '\x30\xff\xff\xff\xff\x7f'
mq bad-flags       '\x00\x00' '\x62\x02\x00\x01\x36\x00'
mq property-twice  '\x01\x00' '\x10\x17\x00\x04MQTT\x05\x02\x00\x3c\x06\x21\x00\x01\x21\x00\x01\x00\x01c'

# --- mqtt_connection: byte 0 the mode (bit 0: MQTT 5; bit 1: no CONNECT put
# first; bit 2: the broker refuses publications), byte 1 the split seed,
# then the packets after CONNECT.
mc() { { printf "$2"; printf "$3"; } >"$seeds/mqtt_connection/$1"; }
mc session-311   '\x00\x30' '\x82\x08\x00\x01\x00\x03a/#\x01\x30\x05\x00\x01thi\x32\x07\x00\x01t\x00\x07hi\x40\x02\x00\x01\xa2\x07\x00\x02\x00\x03a/#\xc0\x00\xe0\x00'
mc qos2-5        '\x01\x00' '\x34\x08\x00\x01t\x00\x09\x00hi\x34\x08\x00\x01t\x00\x09\x00hi\x62\x02\x00\x09'
mc refused-5     '\x05\x00' '\x32\x08\x00\x01t\x00\x02\x00hi'
mc subscribe-5   '\x01\x10' '\x82\x13\x00\x01\x02\x0b\x07\x00\x03a/+\x2d\x00\x01b\x00\x00\x01#\x01'
mc alias-5       '\x01\x00' '\x30\x09\x00\x01t\x03\x23\x00\x01hi\x30\x06\x00\x00\x03\x23\x00\x01'
mc connect-raw   '\x02\x00' '\x10\x0e\x00\x04MQTT\x04\x02\x04\xb0\x00\x02c1\xc0\x00'
mc before-connect '\x02\x00' '\x30\x05\x00\x01thi'
mc connect-5-junk '\x02\x00' '\x10\x0e\x00\x04MQTT\x05\x00\x0b\x04\x00\x00\x01\x2au\x00'
