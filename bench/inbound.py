#!/usr/bin/env python3
"""Signed Meta webhook payloads for bench/inbound, one line each:
"sha256=<HMAC-SHA256 of BODY with SECRET>\\tBODY", BODY a compact
Meta-shaped webhook (cloud-api.md section 4) holding one inbound text
message with a wamid of its own.

  inbound.py OUT COUNT PHONE_NUMBER_ID SECRET new FIRST
      COUNT new customers: wa_ids FIRST, FIRST+1, ...
  inbound.py OUT COUNT PHONE_NUMBER_ID SECRET existing FIRST POOL
      COUNT messages from customers drawn at random from the POOL wa_ids
      FIRST .. FIRST+POOL-1
  inbound.py OUT COUNT PHONE_NUMBER_ID SECRET delivered FIRST
      COUNT "delivered" statuses (no message) for the outbound wamids
      wamid.OUT<FIRST>, wamid.OUT<FIRST+1>, ...

The wamids carry a tag of the file's own, so files made apart never share
one (a repeated wamid would be a cheap duplicate, not a message).
"""
import hashlib
import hmac
import json
import os
import random
import sys
import time

FIRST = ["Sheena", "Ana", "Luis", "Mei", "Omar", "Priya", "Jonas", "Fatima",
         "Kenji", "Olga", "Tariq", "Chloe", "Marco", "Aisha", "Pedro", "Lena"]
LAST = ["Nelson", "Silva", "Garcia", "Wang", "Haddad", "Patel", "Berg",
        "Khan", "Sato", "Ivanova", "Aziz", "Martin", "Rossi", "Bello"]
WORDS = ["hi", "is", "my", "order", "on", "its", "way", "thanks", "where",
         "the", "parcel", "can", "I", "change", "address", "please", "when",
         "does", "it", "arrive", "color", "size", "refund", "great"]


def payload(pnid, wa_id, wamid, ts, rnd):
    name = "%s %s" % (FIRST[wa_id % len(FIRST)], LAST[wa_id % len(LAST)])
    text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 12)))
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": pnid},
            "contacts": [{"profile": {"name": name}, "wa_id": str(wa_id)}],
            "messages": [{"from": str(wa_id), "id": wamid,
                          "timestamp": str(ts), "type": "text",
                          "text": {"body": text.capitalize() + "?"}}]}}]}]}


def status(pnid, wamid, ts):
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": pnid},
            "statuses": [{"id": wamid, "status": "delivered",
                          "timestamp": str(ts),
                          "recipient_id": "4915200000000",
                          "pricing": {"billable": True,
                                      "pricing_model": "PMP",
                                      "category": "service",
                                      "type": "free_customer_service"}}]}}]}]}


def main(argv):
    if len(argv) < 7 or argv[5] not in ("new", "existing", "delivered") or \
            (argv[5] == "existing" and len(argv) < 8):
        sys.exit(__doc__)
    out, count, pnid, secret, mode = argv[1], int(argv[2]), argv[3], \
        argv[4].encode(), argv[5]
    first = int(argv[6])
    pool = int(argv[7]) if mode == "existing" else count
    rnd = random.Random(first ^ count)
    tag = os.urandom(6).hex().upper()
    ts = int(time.time())
    with open(out + ".tmp", "w") as f:
        for i in range(count):
            if mode == "delivered":
                obj = status(pnid, "wamid.OUT%d" % (first + i), ts)
            else:
                wa_id = first + i if mode == "new" else \
                    first + rnd.randrange(pool)
                wamid = "wamid.HBgL%s%s%08d" % (wa_id, tag, i)
                obj = payload(pnid, wa_id, wamid, ts, rnd)
            body = json.dumps(obj, separators=(",", ":")).encode()
            sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
            f.write("sha256=%s\t%s\n" % (sig, body.decode()))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main(sys.argv)
