#!/usr/bin/env python3
"""Writes the cluster bus's conformance vectors (spec/PROTOCOL.md §11.2) into bus.json.

Python 3.11, standard library only. Run from anywhere: `python3 spec/vectors/bus/generate.py`.

As for the vectors of §3 to §7 (../generate.py), every expected outcome is written here from the
spec, not computed by any decoder: inputs are built with the layouts of §11.2 and §4.2-§4.3, and
each expected error is spelled out beside its input with the rule that gives it. See README.md for
the format and the runner contract.
"""

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent

VERSION = 0x01  # FC-38
MESSAGE, HEARTBEAT = 0x01, 0x02  # §11.2
HEADER = 26  # version, kind, node, epoch, seq
FRAME_HEADER = 5  # §4.2
BROADCAST_FIXED = 24  # §4.3: from, sent_at, relayed_at
BROADCAST, CHAT, ECHO = 0x83, 0x81, 0x82  # §4.3
DEFAULT_L = 1 << 20  # §6.1
MIN_L = 64  # §6.1
U64_MAX = 2**64 - 1

NODE = 0x0102030405060708
EPOCH = 1_700_000_000_000_000
SENT, RELAYED = 1_700_000_000_000_100, 1_700_000_000_000_250


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def peer(node: int, local: int) -> int:
    """FC-41: the node's high 32 bits, then its own count."""
    return (node & 0xFFFF_FFFF_0000_0000) | local


def header(kind: int, seq: int, node: int = NODE, epoch: int = EPOCH, version: int = VERSION) -> bytes:
    return bytes([version, kind]) + u64(node) + u64(epoch) + u64(seq)


def broadcast(text: bytes, sender: int, declared: int | None = None) -> bytes:
    payload = u64(sender) + u64(SENT) + u64(RELAYED) + text
    length = len(payload) if declared is None else declared
    return bytes([BROADCAST]) + length.to_bytes(4, "big") + payload


def message(seq: int, text: str, sender: int | None = None) -> dict:
    return {"kind": "message", "node": NODE, "epoch": EPOCH, "seq": seq,
            "from": peer(NODE, 7) if sender is None else sender,
            "sent_at": SENT, "relayed_at": RELAYED, "text": text}


def heartbeat(last_seq: int) -> dict:
    return {"kind": "heartbeat", "node": NODE, "epoch": EPOCH, "last_seq": last_seq}


VECTORS = []


def decode(vid, description, tags, data, limit, envelope=None, error=None, canonical=False):
    assert (envelope is None) != (error is None)
    VECTORS.append({
        "id": vid, "description": description, "sections": ["§11.2"], "tags": tags,
        "type": "decode", "limit": limit, "input": data.hex(),
        "expect": {"envelope": envelope, "error": error}, "canonical": canonical,
    })


def encode(vid, description, tags, envelope, limit, output=b"", error=None):
    VECTORS.append({
        "id": vid, "description": description, "sections": ["§11.2"], "tags": tags,
        "type": "encode", "limit": limit, "envelope": envelope,
        "expect": {"error": error, "output": output.hex()},
    })


def frame_error(kind: str, offset: int, **detail) -> dict:
    """The inner frame's error, in ../README.md's form; offsets count from the frame's first byte."""
    return {"type": "Frame", "frame": {"kind": kind, **detail, "offset": offset, "frame_index": 0}}


def build() -> None:
    sender = peer(NODE, 7)
    hello = header(MESSAGE, 1) + broadcast(b"hello", sender)

    # Valid envelopes: each input is the encoding of its expected envelope.
    decode("bus-message", "A message: header, then one BROADCAST frame, nothing after it.",
           ["FC-38", "FC-39", "FC-40", "FC-41"], hello, DEFAULT_L, message(1, "hello"), canonical=True)
    decode("bus-message-empty-text", "A BROADCAST of exactly its 24 fixed bytes: an empty text.",
           ["FC-39"], header(MESSAGE, 2) + broadcast(b"", sender), DEFAULT_L, message(2, ""),
           canonical=True)
    decode("bus-message-multibyte-text", "A text of 2-, 3- and 4-byte UTF-8 characters.",
           ["FC-39"], header(MESSAGE, 3) + broadcast("é✓😀".encode(), sender), DEFAULT_L,
           message(3, "é✓😀"), canonical=True)
    decode("bus-message-largest-seq", "seq 2^64 − 1: any non-zero number is valid.",
           ["FC-40"], header(MESSAGE, U64_MAX) + broadcast(b"x", sender), DEFAULT_L,
           message(U64_MAX, "x"), canonical=True)
    text = "a" * (MIN_L - BROADCAST_FIXED)
    decode("bus-message-frame-of-exactly-l", "L = 64 and a BROADCAST payload of exactly 64 bytes.",
           ["FC-39"], header(MESSAGE, 1) + broadcast(text.encode(), sender), MIN_L,
           message(1, text), canonical=True)
    decode("bus-message-from-first-peer-of-node", "from = the node's tag and a count of 0: in range.",
           ["FC-41"], header(MESSAGE, 1) + broadcast(b"x", peer(NODE, 0)), DEFAULT_L,
           message(1, "x", peer(NODE, 0)), canonical=True)
    decode("bus-heartbeat", "A heartbeat after 42 messages: the header alone.", ["FC-38"],
           header(HEARTBEAT, 42), DEFAULT_L, heartbeat(42), canonical=True)
    decode("bus-heartbeat-before-any-message", "A heartbeat with seq 0: nothing published yet.",
           ["FC-38"], header(HEARTBEAT, 0), DEFAULT_L, heartbeat(0), canonical=True)

    # FC-38: the header.
    decode("bus-empty", "No byte at all: shorter than the 26-byte header.", ["FC-38"], b"",
           DEFAULT_L, error={"type": "Short", "len": 0, "needed": HEADER})
    decode("bus-header-one-byte-short", "25 bytes of a heartbeat: one short of the header.",
           ["FC-38"], header(HEARTBEAT, 1)[:25], DEFAULT_L,
           error={"type": "Short", "len": 25, "needed": HEADER})
    decode("bus-short-before-version", "One byte, a bad version: the length is checked first.",
           ["FC-38"], bytes([0x02]), DEFAULT_L, error={"type": "Short", "len": 1, "needed": HEADER})
    decode("bus-version-0", "Version 0.", ["FC-38"], header(HEARTBEAT, 1, version=0), DEFAULT_L,
           error={"type": "UnsupportedVersion", "version": 0})
    decode("bus-version-2", "Version 2, otherwise a valid message: not read further.", ["FC-38"],
           header(MESSAGE, 1, version=2) + broadcast(b"hello", sender), DEFAULT_L,
           error={"type": "UnsupportedVersion", "version": 2})
    decode("bus-bad-version-before-bad-kind", "Version 0xff and kind 0: the version is checked first.",
           ["FC-38"], header(0x00, 1, version=0xFF), DEFAULT_L,
           error={"type": "UnsupportedVersion", "version": 0xFF})
    decode("bus-kind-0", "Kind 0.", ["FC-38"], header(0x00, 1), DEFAULT_L,
           error={"type": "UnknownKind", "kind": 0})
    decode("bus-kind-3", "Kind 3.", ["FC-38"], header(0x03, 1), DEFAULT_L,
           error={"type": "UnknownKind", "kind": 3})
    decode("bus-heartbeat-trailing-byte", "A heartbeat and one byte more.", ["FC-38"],
           header(HEARTBEAT, 1) + b"\x00", DEFAULT_L, error={"type": "TrailingBytes", "extra": 1})
    decode("bus-heartbeat-with-a-frame", "A heartbeat followed by a BROADCAST: heartbeats have no body.",
           ["FC-38"], header(HEARTBEAT, 1) + broadcast(b"hi", sender), DEFAULT_L,
           error={"type": "TrailingBytes", "extra": FRAME_HEADER + BROADCAST_FIXED + 2})

    # FC-40: the number.
    decode("bus-message-seq-0", "A message numbered 0, otherwise valid.", ["FC-40"],
           header(MESSAGE, 0) + broadcast(b"hello", sender), DEFAULT_L, error={"type": "ZeroSequence"})
    decode("bus-seq-0-before-body", "seq 0 and no body: seq is checked before the body.",
           ["FC-40"], header(MESSAGE, 0), DEFAULT_L, error={"type": "ZeroSequence"})

    # FC-39: the body.
    decode("bus-message-without-body", "A message header and nothing after it.", ["FC-39"],
           header(MESSAGE, 1), DEFAULT_L, error={"type": "Short", "len": HEADER, "needed": HEADER + FRAME_HEADER})
    decode("bus-message-cut-frame-header", "A message and 4 bytes of a frame header.", ["FC-39"],
           header(MESSAGE, 1) + broadcast(b"hi", sender)[:4], DEFAULT_L,
           error={"type": "Short", "len": HEADER + 4, "needed": HEADER + FRAME_HEADER})
    chat = bytes([CHAT]) + (8 + 5).to_bytes(4, "big") + u64(SENT) + b"hello"
    decode("bus-message-carries-chat", "A CHAT frame instead of a BROADCAST.", ["FC-39"],
           header(MESSAGE, 1) + chat, DEFAULT_L, error={"type": "WrongFrameType", "frame_type": CHAT})
    echo = bytes([ECHO]) + (16 + 5).to_bytes(4, "big") + u64(SENT) + u64(RELAYED) + b"hello"
    decode("bus-message-carries-echo", "An ECHO frame instead of a BROADCAST.", ["FC-39"],
           header(MESSAGE, 1) + echo, DEFAULT_L, error={"type": "WrongFrameType", "frame_type": ECHO})
    decode("bus-message-carries-unassigned-type", "A frame of unassigned type 0x87: not skipped here.",
           ["FC-39"], header(MESSAGE, 1) + bytes([0x87, 0, 0, 0, 0]), DEFAULT_L,
           error={"type": "WrongFrameType", "frame_type": 0x87})
    legacy = (5).to_bytes(4, "big") + b"hello"
    decode("bus-message-carries-legacy-frame", "A legacy frame: its first byte 0x00 is no BROADCAST.",
           ["FC-39"], header(MESSAGE, 1) + legacy, DEFAULT_L,
           error={"type": "WrongFrameType", "frame_type": 0})
    decode("bus-message-frame-too-large", "L = 64, a BROADCAST declaring 65 bytes (and carrying them).",
           ["FC-39"], header(MESSAGE, 1) + broadcast(b"a" * (MIN_L - BROADCAST_FIXED + 1), sender), MIN_L,
           error=frame_error("FrameTooLarge", FRAME_HEADER, declared=MIN_L + 1, limit=MIN_L))
    decode("bus-message-frame-declares-4-gib", "A BROADCAST declaring 0xffffffff bytes: refused at its header.",
           ["FC-39"], header(MESSAGE, 1) + bytes([BROADCAST, 0xFF, 0xFF, 0xFF, 0xFF]), DEFAULT_L,
           error=frame_error("FrameTooLarge", FRAME_HEADER, declared=0xFFFFFFFF, limit=DEFAULT_L))
    decode("bus-message-frame-bad-length", "A BROADCAST of 23 bytes, below its 24 fixed ones.", ["FC-39"],
           header(MESSAGE, 1) + bytes([BROADCAST]) + (23).to_bytes(4, "big") + bytes(23), DEFAULT_L,
           error=frame_error("BadLength", FRAME_HEADER, frame_type=BROADCAST, declared=23,
                             min=BROADCAST_FIXED, max=None))
    decode("bus-message-invalid-utf8", "A text 'ab' then 0xff: InvalidUtf8 at the end of the frame.",
           ["FC-39"], header(MESSAGE, 1) + broadcast(b"ab\xff", sender), DEFAULT_L,
           error=frame_error("InvalidUtf8", FRAME_HEADER + BROADCAST_FIXED + 3, valid_up_to=2))
    decode("bus-message-utf8-cut", "A text ending in the first 2 bytes of a 3-byte character.",
           ["FC-39"], header(MESSAGE, 1) + broadcast("x✓".encode()[:3], sender), DEFAULT_L,
           error=frame_error("InvalidUtf8", FRAME_HEADER + BROADCAST_FIXED + 3, valid_up_to=1))
    decode("bus-message-frame-truncated", "A BROADCAST declaring 30 bytes, of which 27 are there.",
           ["FC-39"], header(MESSAGE, 1) + broadcast(b"abc", sender, declared=30), DEFAULT_L,
           error=frame_error("Truncated", FRAME_HEADER + 27, part="payload", received=27, expected=30))
    decode("bus-message-trailing-byte", "A valid message and one byte more.", ["FC-39"],
           hello + b"\x00", DEFAULT_L, error={"type": "TrailingBytes", "extra": 1})
    decode("bus-message-two-frames", "Two BROADCAST frames: a message carries exactly one.", ["FC-39"],
           hello + broadcast(b"again", sender), DEFAULT_L,
           error={"type": "TrailingBytes", "extra": FRAME_HEADER + BROADCAST_FIXED + 5})
    decode("bus-frame-error-before-from", "Invalid UTF-8 and a foreign from: the frame is checked first.",
           ["FC-39", "FC-41"], header(MESSAGE, 1) + broadcast(b"\xff", 7), DEFAULT_L,
           error=frame_error("InvalidUtf8", FRAME_HEADER + BROADCAST_FIXED + 1, valid_up_to=0))

    # FC-41: the sender's range.
    decode("bus-message-foreign-peer", "from = 7, outside the node's range (tag 0x01020304).",
           ["FC-41"], header(MESSAGE, 1) + broadcast(b"hi", 7), DEFAULT_L,
           error={"type": "ForeignPeerId", "from": 7, "node": NODE})
    other = peer(0x0102030500000000, 7)
    decode("bus-message-peer-of-next-tag", "from in the range of tag 0x01020305, one above the node's.",
           ["FC-41"], header(MESSAGE, 1) + broadcast(b"hi", other), DEFAULT_L,
           error={"type": "ForeignPeerId", "from": other, "node": NODE})

    # Encoding: what a node may publish (the refusals leave the output untouched).
    encode("bus-encode-message", "A message, to the bytes of bus-message.", ["FC-39", "FC-40", "FC-41"],
           message(1, "hello"), DEFAULT_L, hello)
    encode("bus-encode-heartbeat", "A heartbeat, to the bytes of bus-heartbeat.", ["FC-38"],
           heartbeat(42), DEFAULT_L, header(HEARTBEAT, 42))
    encode("bus-encode-refuses-seq-0", "A message numbered 0 is refused.", ["FC-40"],
           message(0, "hello"), DEFAULT_L, error={"type": "ZeroSequence"})
    encode("bus-encode-refuses-foreign-peer", "A sender outside the node's range is refused.", ["FC-41"],
           message(1, "hello", 7), DEFAULT_L, error={"type": "ForeignPeerId", "from": 7, "node": NODE})
    encode("bus-encode-refuses-frame-too-large", "L = 64 and a 41-byte text: a 65-byte BROADCAST.",
           ["FC-39"], message(1, "a" * 41), MIN_L,
           error={"type": "Frame", "frame": {"kind": "TooLarge", "payload_len": 65, "limit": MIN_L}})


def main() -> None:
    build()
    ids = [v["id"] for v in VECTORS]
    assert len(ids) == len(set(ids)), "vector ids are unique"
    content = {"description": "§11.2: the cluster bus's envelope, valid and malformed, decoded and encoded.",
               "vectors": VECTORS}
    text = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    (HERE / "bus.json").write_text(text, encoding="utf-8")
    print(f"wrote {len(VECTORS)} vectors")


if __name__ == "__main__":
    main()
