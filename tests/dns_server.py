#!/usr/bin/env python3
"""A small authoritative DNS server for the tests (PyPI dnslib): answers UDP queries on
127.0.0.1:PORT from a zone file in zone-file syntax that it reads again for every query,
so a test changes the records by rewriting the file. Usage: dns_server.py PORT ZONE_FILE.
Prints "ready" once it listens."""

import sys
import time

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class ZoneFile(BaseResolver):
    def __init__(self, path):
        self.path = path

    def resolve(self, request, handler):
        reply = request.reply()
        try:
            with open(self.path) as f:
                records = RR.fromZone(f.read())
        except Exception as e:  # a half-written file: try again
            print("zone:", e, flush=True)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        q = request.q
        for rr in records:
            if rr.rname == q.qname and (q.qtype == rr.rtype or q.qtype == QTYPE.ANY):
                reply.add_answer(rr)
        if not reply.rr:
            reply.header.rcode = RCODE.NXDOMAIN
        print(QTYPE[q.qtype], q.qname, len(reply.rr), flush=True)
        return reply


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    server = DNSServer(ZoneFile(path), port=port, address="127.0.0.1",
                       logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"))
    server.start_thread()
    print("ready", flush=True)
    while server.isAlive():
        time.sleep(0.2)


if __name__ == "__main__":
    main()
