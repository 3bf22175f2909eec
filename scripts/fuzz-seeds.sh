#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/, one
# small file per input, from real ducq traffic (PROTOCOL.md). Rerun it after
# editing; it replaces the folder. It only writes files, it runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{tcp_decoder,message_parse,route_match,classify}

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
