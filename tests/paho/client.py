"""A paho-mqtt client for the MQTT interoperability tests (tests/mqtt_paho.rs).

    client.py PORT sub ID TOPIC QOS COUNT [options]
    client.py PORT pub TOPIC PAYLOAD QOS [options]

Options: --v5, --keep-session (clean session 0 / session expiry 300 s),
--expiry N (with --keep-session and --v5: session expiry N s instead),
--will-delay N (MQTT 5 will delay interval),
--noack (leave QoS 1 messages unacknowledged and drop the connection,
without DISCONNECT, after COUNT messages), --retain, --user K=V,
--will TOPIC=PAYLOAD (sub only), --msg-expiry N (pub, MQTT 5: Message
Expiry Interval N s), --show-expiry (sub: each line ends with
|expiry=N, the interval received, or |expiry=none).

`sub` prints SUBSCRIBED once the SUBACK came, then one line per message:
topic|payload|qos|retain|dup|user properties. Only 127.0.0.1 is used; a
run never lasts more than 10 seconds.
"""

import os
import signal
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def option(args, name):
    if name in args:
        i = args.index(name)
        return args[i + 1]
    return None


def make_client(client_id, args, manual_ack=False):
    v5 = "--v5" in args
    keep = "--keep-session" in args
    kwargs = dict(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    if not v5:
        kwargs["clean_session"] = not keep
    client = mqtt.Client(**kwargs)
    will = option(args, "--will")
    if will:
        topic, payload = will.split("=", 1)
        will_props = None
        delay = option(args, "--will-delay")
        if v5 and delay:
            will_props = Properties(PacketTypes.WILLMESSAGE)
            will_props.WillDelayInterval = int(delay)
        client.will_set(topic, payload, qos=1, properties=will_props)
    connect_props = None
    if v5 and keep:
        connect_props = Properties(PacketTypes.CONNECT)
        connect_props.SessionExpiryInterval = int(option(args, "--expiry") or 300)
    return client, v5, keep, connect_props


def user_props(msg):
    props = getattr(msg, "properties", None)
    pairs = getattr(props, "UserProperty", None) if props is not None else None
    return ",".join("%s=%s" % kv for kv in (pairs or []))


def sub(port, client_id, topic, qos, count, args):
    noack = "--noack" in args
    client, v5, keep, connect_props = make_client(client_id, args, manual_ack=noack)
    seen = []

    def on_connect(c, userdata, flags, reason, properties):
        say("CONNECTED session_present=%d" % int(flags.session_present))
        c.subscribe(topic, qos=qos)

    def on_subscribe(c, userdata, mid, reasons, properties):
        say("SUBSCRIBED %s" % ",".join(str(int(getattr(r, "value", r))) for r in reasons))

    def on_message(c, userdata, msg):
        line = "%s|%s|%d|%d|%d|%s" % (msg.topic, msg.payload.decode("utf-8", "replace"),
                                      msg.qos, int(msg.retain), int(msg.dup), user_props(msg))
        if "--show-expiry" in args:
            props = getattr(msg, "properties", None)
            left = getattr(props, "MessageExpiryInterval", None) if props is not None else None
            line += "|expiry=%s" % ("none" if left is None else left)
        say(line)
        seen.append(msg)
        if len(seen) >= count:
            if noack:
                # Gone without PUBACK or DISCONNECT: a dropped connection.
                os._exit(0)
            c.disconnect()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    if v5:
        client.connect("127.0.0.1", port, keepalive=30, clean_start=not keep,
                       properties=connect_props)
    else:
        client.connect("127.0.0.1", port, keepalive=30)
    client.loop_forever()


def pub(port, topic, payload, qos, args):
    client, v5, _, connect_props = make_client("", args)
    props = None
    user = option(args, "--user")
    expiry = option(args, "--msg-expiry")
    if v5 and (user or expiry):
        props = Properties(PacketTypes.PUBLISH)
        if user:
            props.UserProperty = [tuple(user.split("=", 1))]
        if expiry:
            props.MessageExpiryInterval = int(expiry)
    if v5:
        client.connect("127.0.0.1", port, keepalive=30, properties=connect_props)
    else:
        client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    info = client.publish(topic, payload, qos=qos, retain="--retain" in args,
                          properties=props)
    info.wait_for_publish(timeout=5)
    if not info.is_published():
        say("NOT PUBLISHED")
        sys.exit(1)
    client.disconnect()
    client.loop_stop()
    say("PUBLISHED")


def main():
    signal.alarm(10)
    port = int(sys.argv[1])
    cmd = sys.argv[2]
    rest = sys.argv[3:]
    if cmd == "sub":
        client_id, topic, qos, count = rest[0], rest[1], int(rest[2]), int(rest[3])
        sub(port, client_id, topic, qos, count, rest[4:])
    elif cmd == "pub":
        topic, payload, qos = rest[0], rest[1], int(rest[2])
        pub(port, topic, payload, qos, rest[3:])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
