"""A real DNS server on a loopback UDP port, for the custom-domain tests.

It answers TXT queries from a dict the test fills (name -> values) and says
NXDOMAIN for anything else, with dnspython's own message classes: the code
under test sends real queries over the network and parses real answers.
"""

import socket
import threading
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@contextmanager
def dns_server():
    """``with dns_server() as (port, records)``: set ``records["name."] = ["value"]``."""
    records: dict[str, list[str]] = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stopping = threading.Event()

    def serve():
        while not stopping.is_set():
            try:
                wire, client = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            values = records.get(question.name.to_text().lower())
            if values is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                response.answer.append(dns.rrset.from_text_list(
                    question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT,
                    [f'"{value}"' for value in values]))
            sock.sendto(response.to_wire(), client)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], records
    finally:
        stopping.set()
        thread.join()
        sock.close()
