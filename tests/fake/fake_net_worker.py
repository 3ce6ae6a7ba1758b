#!/usr/bin/python3
"""A hostile net-worker for tests/integration/test_hostile_ipc.py.

The real supervisor starts this file instead of nixfleet-agent-net when a
test assembles a libexec directory holding it (as nixfleet-agent-net), the
real exec-worker and a file named "scenario" that names what to do.  The
supervisor passes no environment worth reading, so the scenario comes from
that file beside us.  We append "<pid> <scenario>" to "runs" at start and
write what we measured to "result.<pid>" (JSON).

fd 3 is the channel to the supervisor, fd 4 the one to the exec-worker;
the framing is common/ipc.h's: type, len, id, flags, all uint32 LE.
"""

import json
import os
import select
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))

IPC_VERSION = 1
HDR = struct.Struct("<IIII")
IPC_F_FD = 1

HELLO = 0x0001
NS_CONNECT, NS_STATE, NS_PONG = 0x1001, 0x1002, 0x1003
SN_CONFIG, SN_CA_BEGIN, SN_CA_CHUNK, SN_CA_END = 0x1101, 0x1102, 0x1103, 0x1104
SN_CONNECTED, SN_PING, SN_SHUTDOWN = 0x1105, 0x1106, 0x1107
SN_PEER = 0x1110
NE_FACTS_REQ, EN_FACTS = 0x3001, 0x3101
NS_SIGN, SN_SIGNED, SN_SIO_CONFIG = 0x1004, 0x1108, 0x1118
NE_STATS_REQ, EN_STATS = 0x3020, 0x3120
SIGNED_SIZE, STATS_SIZE = 520, 7984
ROLE_SUP, ROLE_NET, ROLE_EXEC = 1, 2, 3
FACTS_SIZE = 2760


def frame(type_, payload=b"", id_=0, flags=0):
    return HDR.pack(type_, HDR.size + len(payload), id_, flags) + payload


def hello(role=ROLE_NET):
    return frame(HELLO, struct.pack("<IIII", IPC_VERSION, role, os.getpid(), 0))


def state(code, detail):
    d = detail if isinstance(detail, bytes) else detail.encode()
    if len(d) < 256:
        d = d + b"\0" * (256 - len(d))
    return frame(NS_STATE, struct.pack("<II", code, 0) + d[:256])


def connect(endpoint=1, timeout_ms=1000):
    return frame(NS_CONNECT, struct.pack("<II", endpoint, timeout_ms))


class Chan:
    """One channel: send frames, collect the peer's frames."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self.buf = b""
        self.frames = []        # (type, id, payload, time)
        self.eof = False
        self.nfds = 0           # descriptors received (and closed)

    def send(self, data, fds=()):
        self.sock.setblocking(True)
        try:
            if fds:
                socket.send_fds(self.sock, [data], list(fds))
            else:
                self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def pump(self, timeout):
        """Read what arrives within timeout; False once the peer is gone."""
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return True
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 4)
        except BlockingIOError:
            return True
        except OSError:
            self.eof = True
            return False
        for fd in fds:
            os.close(fd)
        self.nfds += len(fds)
        if not data:
            self.eof = True
            return False
        self.buf += data
        while len(self.buf) >= HDR.size:
            t, ln, i, _ = HDR.unpack_from(self.buf)
            if ln < HDR.size or len(self.buf) < ln:
                break
            self.frames.append((t, i, self.buf[HDR.size:ln], time.monotonic()))
            self.buf = self.buf[ln:]
        return True

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = pred()
            if v:
                return v
            if not self.pump(min(0.05, end - time.monotonic())):
                return pred()
            if self is not SUP[0] and SUP[0] is not None:
                SUP[0].pump(0)
            answer_pings()
        return pred()

    def count(self, type_):
        return sum(1 for f in self.frames if f[0] == type_)


SUP = [None, 0]     # the supervisor's channel, frames already looked at


def answer_pings():
    """Play the part of a live net-worker: answer every PING once."""
    sup = SUP[0]
    if sup is None or sup.eof:
        return
    for t, i, _, _ in sup.frames[SUP[1]:]:
        if t == SN_PING:
            try:
                sup.send(frame(NS_PONG, id_=i))
            except OSError:
                return
    SUP[1] = len(sup.frames)


def configured(sup):
    return sup.wait(lambda: sup.count(SN_CA_END) > 0, 10)


def idle(sup, seconds):
    """Stay alive, answering pings, until the supervisor goes away."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and sup.pump(0.1):
        answer_pings()


def result(**kw):
    path = os.path.join(HERE, "result.%d" % os.getpid())
    with open(path + ".tmp", "w") as f:
        json.dump(kw, f)
    os.rename(path + ".tmp", path)


# ---------------------------------------------------------------- scenarios
# Each gets the two channels after nothing was sent on either.

def s_status_inject(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(state(2, "evil\nWATCHDOG=1\nREADY=1\nMAINPID=1\n\x1b]0;x\x07"))
    sup.send(state(1, b"\r\nSTOPPING=1\xc2\x9b"))
    idle(sup, 30)


def s_state_code(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(state(99, "weird"))
    idle(sup, 30)


def s_state_unterminated(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(state(1, b"A" * 256))
    idle(sup, 30)


def s_state_short(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(frame(NS_STATE, struct.pack("<II", 1, 0) + b"x\0"))
    idle(sup, 30)


def s_fd_flagged(sup, ex):
    """A descriptor on a frame that says it carries one."""
    sup.send(hello())
    configured(sup)
    r, w = os.pipe()
    raw = state(1, "with a descriptor")
    raw = HDR.pack(NS_STATE, len(raw), 0, IPC_F_FD) + raw[HDR.size:]
    sup.send(raw, fds=[r])
    os.close(r)
    os.close(w)
    idle(sup, 30)


def s_fd_unflagged(sup, ex):
    sup.send(hello())
    configured(sup)
    r, w = os.pipe()
    sup.send(frame(NS_PONG, id_=0), fds=[w])
    os.close(r)
    os.close(w)
    idle(sup, 30)


def s_fd_hello(sup, ex):
    r, w = os.pipe()
    sup.send(hello(), fds=[r])
    os.close(r)
    os.close(w)
    idle(sup, 30)


def s_wrong_role(sup, ex):
    sup.send(hello(ROLE_EXEC))
    idle(sup, 30)


def s_sup_role(sup, ex):
    sup.send(hello(ROLE_SUP))
    idle(sup, 30)


def s_no_hello(sup, ex):
    sup.send(connect())
    idle(sup, 30)


def s_second_hello(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(hello())
    idle(sup, 30)


def s_connect_flood(sup, ex):
    """Ask again the moment each answer arrives: faster than any backoff."""
    sup.send(hello())
    configured(sup)
    # The result is written as we go: the drop is followed by SIGTERM.
    for asked in range(1, 201):
        have = sup.count(SN_CONNECTED)
        try:
            sup.send(connect(1, 1000))
        except OSError:
            break
        result(asked=asked, answered=have)
        if not sup.wait(lambda: sup.count(SN_CONNECTED) > have, 5):
            break
    result(asked=asked, answered=sup.count(SN_CONNECTED))
    idle(sup, 30)


def s_sign_flood(sup, ex):
    """socketio: signatures asked for faster than any backoff."""
    sup.send(hello())
    configured(sup)
    for asked in range(1, 201):
        try:
            sup.send(frame(NS_SIGN, id_=asked))
        except OSError:
            break
        result(asked=asked, answered=sup.count(SN_SIGNED))
        sup.pump(0)
    idle(sup, 30)


def s_sign_payload(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(frame(NS_SIGN, b"x" * 8, id_=1))
    idle(sup, 30)


def s_sign_answer(sup, ex):
    """socketio: two signatures, 300 ms apart; what the net-worker got."""
    sup.send(hello())
    configured(sup)
    out = []
    for n, i in enumerate((5, 6)):
        sup.send(frame(NS_SIGN, id_=i))
        sup.wait(lambda: sup.count(SN_SIGNED) > n, 5)
        time.sleep(0.3)
    for t, i, p, _ in sup.frames:
        if t == SN_SIGNED and len(p) == SIGNED_SIZE:
            ts, = struct.unpack_from("<q", p)
            out.append({"id": i, "ts": ts,
                        "query": p[8:].split(b"\0")[0].decode()})
    ex.send(hello())
    ex.wait(lambda: ex.count(HELLO) > 0, 5)
    ex.send(frame(NE_STATS_REQ))
    ex.wait(lambda: ex.count(EN_STATS) > 0, 5)
    stats = [len(p) for t, _, p, _ in ex.frames if t == EN_STATS]
    received = b"".join(p for _, _, p, _ in sup.frames)
    result(signed=out, now=int(time.time() * 1000),
           types=sorted(set("%04x" % t for t, _, _, _ in sup.frames)),
           secret_seen=b"sio-secret-key" in received, stats=stats)
    idle(sup, 30)


def s_stats_burst(sup, ex):
    """500 stats requests at once: a few whole samples, the channel up."""
    sup.send(hello())
    configured(sup)
    ex.send(hello())
    ex.wait(lambda: ex.count(HELLO) > 0, 5)
    ex.send(b"".join(frame(NE_STATS_REQ) for _ in range(500)))
    t0 = time.monotonic()
    ex.wait(lambda: ex.count(EN_STATS) > 0, 5)
    first = time.monotonic() - t0
    ex.wait(lambda: False, 1.5)
    result(first_s=first, answers=ex.count(EN_STATS), exec_up=not ex.eof,
           sizes=sorted(set(len(p) for t, _, p, _ in ex.frames
                            if t == EN_STATS)))
    idle(sup, 30)


def s_connect_paced(sup, ex):
    """The real net-worker's floor: 150 ms between attempts is fine."""
    sup.send(hello())
    configured(sup)
    for _ in range(20):
        have = sup.count(SN_CONNECTED)
        sup.send(connect(1, 1000))
        sup.wait(lambda: sup.count(SN_CONNECTED) > have, 5)
        time.sleep(0.15)
    result(answered=sup.count(SN_CONNECTED))
    idle(sup, 30)


def s_connect_timeout(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(connect(1, 0xffffffff))
    idle(sup, 30)


def s_connect_endpoint(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(connect(77, 1000))
    idle(sup, 30)


def s_connect_twice(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(connect(1, 1000) + connect(1, 1000))
    idle(sup, 30)


SN_KEYSRC_CONFIG = 0x1128


def s_keysrc_connect(sup, ex):
    """The key source: its configuration arrives before the CA; a connect
    for it and one for the dashboard may be in flight together."""
    sup.send(hello())
    configured(sup)
    kc = [f[2] for f in sup.frames if f[0] == SN_KEYSRC_CONFIG]
    flags, port, timeout_ms, ca_size = struct.unpack_from("<IIII", kc[0])
    host = kc[0][16:16 + 256].split(b"\0")[0].decode()
    path = kc[0][16 + 256:].split(b"\0")[0].decode()
    order = [f[0] for f in sup.frames]
    have = sup.count(SN_CONNECTED)
    sup.send(connect(2, 3000) + connect(1, 1000))
    sup.wait(lambda: sup.count(SN_CONNECTED) >= have + 2, 10)
    answers = [struct.unpack_from("<Ii", f[2]) for f in sup.frames
               if f[0] == SN_CONNECTED]
    result(n=len(kc), flags=flags, port=port, timeout_ms=timeout_ms,
           ca_size=ca_size, host=host, path=path, fds=sup.nfds,
           before_ca=order.index(SN_KEYSRC_CONFIG) < order.index(SN_CA_BEGIN),
           answers=answers)
    idle(sup, 30)


def s_keysrc_twice(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(connect(2, 3000) + connect(2, 3000))
    idle(sup, 30)


def s_state_id(sup, ex):
    sup.send(hello())
    configured(sup)
    raw = state(1, "an id where none belongs")
    sup.send(HDR.pack(NS_STATE, len(raw), 7, 0) + raw[HDR.size:])
    idle(sup, 30)


def s_oversized(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(HDR.pack(NS_STATE, 1 << 20, 0, 0) + b"\0" * 64)
    idle(sup, 30)


def s_unknown_type(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(frame(SN_PING))        # a type of the other direction
    idle(sup, 30)


def s_pong_ahead(sup, ex):
    sup.send(hello())
    configured(sup)
    sup.send(frame(NS_PONG, id_=1000))
    idle(sup, 30)


def s_log_forge(sup, ex):
    sup.send(hello())
    configured(sup)
    sys.stderr.write("<3>supervisor: fake\n")
    sys.stderr.write("<4>net: \x1b]0;pwned\x07\x1b[2Jescape test\x9b\n")
    sys.stderr.flush()
    for _ in range(5000):
        sys.stderr.write("<4>net: the same warning again\n")
    sys.stderr.write("<6>net: flood over\n")
    sys.stderr.flush()
    idle(sup, 30)


def s_facts_burst(sup, ex):
    """1,000 facts requests at once: answered promptly, nothing stalls."""
    sup.send(hello())
    configured(sup)
    ex.send(hello())
    ex.wait(lambda: ex.count(HELLO) > 0, 10)
    # The exec-worker answers the first request once configured.
    ex.send(frame(NE_FACTS_REQ))
    first = ex.wait(lambda: ex.count(EN_FACTS) > 0, 10)
    before = ex.count(EN_FACTS)
    t0 = time.monotonic()
    ex.send(frame(NE_FACTS_REQ) * 1000)
    t_sent = time.monotonic()
    got = ex.wait(lambda: ex.count(EN_FACTS) > before, 5)
    t_answer = None
    if got:
        t_answer = [f[3] for f in ex.frames if f[0] == EN_FACTS][before] - t_sent
    ex.wait(lambda: False, 3)
    sizes = set(len(f[2]) for f in ex.frames if f[0] == EN_FACTS)
    result(first=bool(first), send_s=t_sent - t0, answer_s=t_answer,
           t_sent=t_sent,
           answers=ex.count(EN_FACTS) - before, sizes=sorted(sizes),
           exec_up=not ex.eof and ex.pump(0))
    idle(sup, 30)


def s_close_peer(sup, ex):
    """Our end of the exec channel goes away: the exec-worker waits for a
    new one, in vain, exits, and the supervisor hands us a channel to the
    new one (IPC_SN_PEER and a descriptor)."""
    sup.send(hello())
    configured(sup)
    ex.wait(lambda: ex.count(HELLO) > 0, 10)
    ex.sock.close()
    sup.wait(lambda: sup.count(SN_PEER) > 0, 30)
    result(peer=sup.count(SN_PEER), fds=sup.nfds)
    idle(sup, 30)


def s_good(sup, ex):
    sup.send(hello())
    configured(sup)
    ex.send(hello())
    idle(sup, 30)


def main():
    try:
        with open(os.path.join(HERE, "scenario")) as f:
            name = f.read().strip()
    except OSError:
        name = "good"
    with open(os.path.join(HERE, "runs"), "a") as f:
        f.write("%d %s\n" % (os.getpid(), name))
    sup, ex = Chan(3), Chan(4)
    SUP[0] = sup
    globals()["s_" + name](sup, ex)


if __name__ == "__main__":
    main()
