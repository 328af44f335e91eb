#!/usr/bin/env python3
"""Writes the conformance vectors of spec/PROTOCOL.md §9 into spec/vectors/*.json.

Python 3.11, standard library only. Run from anywhere: `python3 spec/vectors/generate.py`.

Every expected outcome here is written from the spec, not computed by any decoder: inputs are built
with the byte layouts of §3.1, §4.1, §4.2 and §4.3, and each expected error, offset and frame index is
spelled out beside the input with the rule that gives it (§6.5's table of detection offsets). A valid
vector's input is the encoding of its expected frames, so its frames are what the bytes were made
from. See README.md for the format and the runner contract.
"""

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent

PREFACE = b"\xffFCHAT/1\r\n"  # §4.1
assert len(PREFACE) == 10
DEFAULT_L = 1 << 20  # §6.1: the default limit
MIN_L = 64  # §6.1: the smallest limit
MAX_L = 2**31 - 1  # §6.1: the largest limit
HEADROOM = 24  # FC-15
LEGACY_HEADER = 4  # §3.1
TYPED_HEADER = 5  # §4.2

WELCOME, CHAT, ECHO, BROADCAST, PING, PONG, ERROR = range(0x80, 0x87)  # §4.3
AUTH = 0x88  # §4.3; 0x87 stays unassigned
MAX_TOKEN = 1024  # §4.4
UNAUTHORIZED = 9  # §4.7
NAMES = {
    WELCOME: "WELCOME",
    CHAT: "CHAT",
    ECHO: "ECHO",
    BROADCAST: "BROADCAST",
    PING: "PING",
    PONG: "PONG",
    ERROR: "ERROR",
    AUTH: "AUTH",
}
# §4.3: payload length bounds (min, max or None).
BOUNDS = {
    WELCOME: (12, 12),
    CHAT: (8, None),
    ECHO: (16, None),
    BROADCAST: (24, None),
    PING: (8, 8),
    PONG: (8, 8),
    ERROR: (2, None),
    AUTH: (1, 1 + MAX_TOKEN),
}
U64_MAX = 2**64 - 1


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def legacy(payload: bytes) -> bytes:
    """§3.1: length (text bytes only, FC-1), then the text."""
    return u32(len(payload)) + payload


def typed(frame_type: int, payload: bytes) -> bytes:
    """§4.2: type byte, length (payload bytes only, FC-5), then the payload."""
    return bytes([frame_type]) + u32(len(payload)) + payload


def header(frame_type: int, length: int) -> bytes:
    """A typed header alone, its length field free to lie."""
    return bytes([frame_type]) + u32(length)


# Frames as JSON objects (README.md, "Frames"), and their encodings (§3.1, §4.3).


def text_frame(text: str) -> dict:
    return {"type": "TEXT", "text": text}


def welcome(peer_id: int, max_frame_len: int) -> dict:
    return {"type": "WELCOME", "peer_id": peer_id, "max_frame_len": max_frame_len}


def chat(sent_at: int, text: str) -> dict:
    return {"type": "CHAT", "sent_at": sent_at, "text": text}


def echo(sent_at: int, relayed_at: int, text: str) -> dict:
    return {"type": "ECHO", "sent_at": sent_at, "relayed_at": relayed_at, "text": text}


def broadcast(sender: int, sent_at: int, relayed_at: int, text: str) -> dict:
    return {
        "type": "BROADCAST",
        "from": sender,
        "sent_at": sent_at,
        "relayed_at": relayed_at,
        "text": text,
    }


def ping(nonce: int) -> dict:
    return {"type": "PING", "nonce": nonce}


def pong(nonce: int) -> dict:
    return {"type": "PONG", "nonce": nonce}


def error_frame(code: int, reason: str) -> dict:
    return {"type": "ERROR", "code": code, "reason": reason}


def auth(scheme: int, token: str) -> dict:
    return {"type": "AUTH", "scheme": scheme, "token": token}


def encode(frame: dict) -> bytes:
    """The bytes of one frame, field after field as §3.1 and §4.3 lay them out."""
    kind = frame["type"]
    if kind == "TEXT":
        return legacy(frame["text"].encode())
    if kind == "WELCOME":
        return typed(WELCOME, u64(frame["peer_id"]) + u32(frame["max_frame_len"]))
    if kind == "CHAT":
        return typed(CHAT, u64(frame["sent_at"]) + frame["text"].encode())
    if kind == "ECHO":
        return typed(
            ECHO, u64(frame["sent_at"]) + u64(frame["relayed_at"]) + frame["text"].encode()
        )
    if kind == "BROADCAST":
        return typed(
            BROADCAST,
            u64(frame["from"])
            + u64(frame["sent_at"])
            + u64(frame["relayed_at"])
            + frame["text"].encode(),
        )
    if kind == "PING":
        return typed(PING, u64(frame["nonce"]))
    if kind == "PONG":
        return typed(PONG, u64(frame["nonce"]))
    if kind == "ERROR":
        return typed(ERROR, u16(frame["code"]) + frame["reason"].encode())
    if kind == "AUTH":
        return typed(AUTH, bytes([frame["scheme"]]) + frame["token"].encode())
    raise ValueError(kind)


def encode_all(frames: list) -> bytes:
    return b"".join(encode(frame) for frame in frames)


# Expected errors (README.md, "Errors"): the kind, its detail, the detection offset (§6.5) and the
# frame index (FC-20).


def decode_error(kind: str, offset: int, frame_index: int, **detail) -> dict:
    return {"kind": kind, **detail, "offset": offset, "frame_index": frame_index}


def bad_preface(index: int, found: int) -> dict:
    # FC-4: detected at the differing byte's offset + 1; an error in the preface has frame index 0.
    return decode_error(
        "BadPreface", index + 1, 0, index=index, expected=PREFACE[index], found=found
    )


def invalid_type(frame_type: int, offset: int, frame_index: int) -> dict:
    return decode_error("InvalidFrameType", offset, frame_index, frame_type=frame_type)


def unexpected_type(frame_type: int, receiver: str, offset: int, frame_index: int) -> dict:
    return decode_error(
        "UnexpectedFrameType", offset, frame_index, frame_type=frame_type, receiver=receiver
    )


def too_large(declared: int, limit: int, offset: int, frame_index: int) -> dict:
    return decode_error("FrameTooLarge", offset, frame_index, declared=declared, limit=limit)


def bad_length(frame_type: int, declared: int, offset: int, frame_index: int) -> dict:
    low, high = BOUNDS[frame_type]
    return decode_error(
        "BadLength", offset, frame_index, frame_type=frame_type, declared=declared, min=low, max=high
    )


def invalid_utf8(valid_up_to: int, offset: int, frame_index: int) -> dict:
    return decode_error("InvalidUtf8", offset, frame_index, valid_up_to=valid_up_to)


def truncated(part: str, received: int, expected: int, offset: int, frame_index: int) -> dict:
    return decode_error(
        "Truncated", offset, frame_index, part=part, received=received, expected=expected
    )


FILES: dict[str, dict] = {}
IDS: set[str] = set()


def add(file: str, vector: dict) -> None:
    assert vector["id"] not in IDS, vector["id"]
    IDS.add(vector["id"])
    FILES[file]["vectors"].append(vector)


def new_file(file: str, description: str) -> None:
    FILES[file] = {"description": description, "vectors": []}


def decode(
    file: str,
    vid: str,
    description: str,
    sections: list,
    tags: list,
    receiver: str,
    mode: str,
    data: bytes,
    frames: list,
    error: dict | None = None,
    finish: bool = True,
    limit: int = DEFAULT_L,
) -> None:
    """A decode vector whose input is built by hand."""
    assert receiver in ("client", "server") and mode in ("legacy", "typed", "detect")
    assert mode != "detect" or receiver == "server"
    end = "error" if error is not None else ("clean" if finish else "open")
    add(
        file,
        {
            "id": vid,
            "description": description,
            "sections": sections,
            "tags": tags,
            "type": "decode",
            "receiver": receiver,
            "mode": mode,
            "limit": limit,
            "input": data.hex(),
            "finish": finish,
            "expect": {"frames": frames, "end": end, "error": error},
            "canonical": False,
        },
    )


def valid(
    file: str,
    vid: str,
    description: str,
    sections: list,
    tags: list,
    receiver: str,
    mode: str,
    frames: list,
    limit: int = DEFAULT_L,
) -> None:
    """A decode vector whose input is the encoding of `frames` (after the preface when a typed
    client sends it): it must decode to exactly those frames and end cleanly, and an encoder of the
    sending side must write exactly that input (`canonical`)."""
    is_typed = mode == "typed" or (mode == "detect" and frames and frames[0]["type"] != "TEXT")
    data = encode_all(frames)
    if receiver == "server" and is_typed:
        data = PREFACE + data  # FC-3
    decode(file, vid, description, sections, tags, receiver, mode, data, frames, limit=limit)
    FILES[file]["vectors"][-1]["canonical"] = True


def encode_case(
    file: str,
    vid: str,
    description: str,
    sections: list,
    tags: list,
    sender: str,
    profile: str,
    steps: list,
    output: bytes,
    limit: int = DEFAULT_L,
) -> None:
    """An encode vector: one encoder, each step's frame in order, each accepted (error None) or
    refused with the error given; `output` is everything written, in order."""
    add(
        file,
        {
            "id": vid,
            "description": description,
            "sections": sections,
            "tags": tags,
            "type": "encode",
            "sender": sender,
            "profile": profile,
            "limit": limit,
            "frames": [frame for frame, _ in steps],
            "expect": {"errors": [error for _, error in steps], "output": output.hex()},
        },
    )


def ok(frames: list) -> list:
    """Encode steps that are all accepted."""
    return [(frame, None) for frame in frames]


def build_legacy() -> None:
    f = "legacy.json"
    new_file(f, "§3: the legacy profile, both receivers.")
    for receiver in ("client", "server"):
        valid(f, f"legacy-{receiver}-receives-one-text", "The seed's framing: 00 00 00 02 'hi'.",
              ["§3.1"], ["FC-1", "FC-2"], receiver, "legacy", [text_frame("hi")])
        valid(f, f"legacy-{receiver}-receives-a-zero-length-frame",
              "A length of 0 is a valid frame carrying the empty text.",
              ["§3.1"], ["FC-1"], receiver, "legacy", [text_frame("")])
    valid(f, "legacy-zero-length-frames-between-texts", "Empty texts between and after texts.",
          ["§3.1"], ["FC-1", "FC-18"], "client", "legacy",
          [text_frame(""), text_frame("a"), text_frame(""), text_frame(""), text_frame("b"), text_frame("")])
    valid(f, "legacy-multibyte-texts", "Two-, three- and four-byte UTF-8 characters, whole (FC-18: "
          "a runner cuts them across chunks).", ["§3.1", "§6.3", "§6.4"], ["FC-2", "FC-17", "FC-18"],
          "client", "legacy", [text_frame("héllo"), text_frame("€ ✓"), text_frame("🦀 \U0010ffff"), text_frame("\x00\x7f")])
    valid(f, "legacy-text-that-looks-like-a-header", "Text bytes are never read as a header.",
          ["§3.1"], ["FC-1"], "server", "legacy", [text_frame("\x00\x00\x00\x05"), text_frame("\x7f")])
    decode(f, "legacy-client-empty-stream-ends-cleanly", "No byte at all: a clean end.",
           ["§6.6"], ["FC-21"], "client", "legacy", b"", [])
    decode(f, "legacy-server-empty-stream-ends-cleanly", "No byte at all: a clean end.",
           ["§6.6"], ["FC-21"], "server", "legacy", b"", [])
    decode(f, "legacy-typed-frame-read-as-legacy-is-too-large",
           "A typed PING read by a legacy client: its type byte 0x84 is the high byte of a legacy "
           "length of at least 0x80000000, above any limit (§4.2).",
           ["§4.2", "§6.1"], ["FC-14", "FC-20"], "client", "legacy", encode(ping(1)), [],
           too_large(0x84000000, DEFAULT_L, 4, 0))
    decode(f, "legacy-preface-read-by-legacy-server-is-too-large",
           "A typed client's preface read by a legacy server: 0xff464348 exceeds any limit; the "
           "error names the server's legacy limit L − 24 (§4.1, FC-15).",
           ["§4.1", "§6.1"], ["FC-14", "FC-15"], "server", "legacy", PREFACE + encode(ping(1)), [],
           too_large(0xFF464348, DEFAULT_L - HEADROOM, 4, 0))
    data = legacy(b"one") + legacy(b"two") + legacy(b"") + u32(0xFFFFFFFF) + b"late"
    decode(f, "legacy-error-after-three-good-frames-has-frame-index-3",
           "Three frames, then a length of 0xffffffff: the error is in frame 3 (0-based), detected at "
           "the end of its header; the bytes after it are never read (FC-19).",
           ["§6.1", "§6.5"], ["FC-14", "FC-19", "FC-20"], "client", "legacy", data,
           [text_frame("one"), text_frame("two"), text_frame("")],
           too_large(0xFFFFFFFF, DEFAULT_L, 7 + 7 + 4 + 4, 3))


def build_utf8() -> None:
    f = "utf8.json"
    new_file(f, "§6.3: text fields must be well-formed UTF-8 (RFC 3629); valid_up_to.")
    cases = [
        ("lone-continuation-byte", b"\x80", 0),
        ("bad-byte-after-valid-prefix", b"ab\xff", 2),
        ("overlong-slash", b"\xc0\xaf", 0),
        ("overlong-three-bytes", b"a\xe0\x80\xaf", 1),
        ("surrogate-d800", b"\xed\xa0\x80", 0),
        ("above-u10ffff", b"ok\xf4\x90\x80\x80", 2),
        ("multibyte-char-cut-by-the-frame-end", "x€".encode()[:-1], 1),
        ("four-byte-char-missing-its-last-byte", "🦀".encode()[:-1], 0),
        ("f5-never-appears", b"\xf5\x80\x80\x80", 0),
    ]
    for name, text, valid_up_to in cases:
        data = legacy(text)
        decode(f, f"legacy-invalid-utf8-{name}",
               f"A legacy text {text.hex()}: InvalidUtf8 at the end of the frame, valid_up_to "
               f"{valid_up_to}.", ["§3.1", "§6.3"], ["FC-2", "FC-17", "FC-20"], "client", "legacy",
               data, [], invalid_utf8(valid_up_to, len(data), 0))
    # A character split across two frames is invalid in each: each text is validated on its own.
    euro = "€".encode()
    data = legacy(b"x" + euro[:2]) + legacy(euro[2:])
    decode(f, "legacy-char-split-across-two-frames-is-invalid",
           "The first two bytes of '€' end frame 0 and its last byte is frame 1: frame 0 is invalid "
           "at its own end, whatever follows.", ["§6.3"], ["FC-2", "FC-17"], "client", "legacy",
           data, [], invalid_utf8(1, 4 + 3, 0))
    data = legacy(b"fine") + legacy(b"fi\xffne") + legacy(b"never read")
    decode(f, "legacy-invalid-utf8-in-the-second-frame", "Frame 0 is good; frame 1 fails at its end.",
           ["§6.3", "§6.5"], ["FC-17", "FC-19", "FC-20"], "server", "legacy", data,
           [text_frame("fine")], invalid_utf8(2, 8 + 4 + 5, 1))
    # FC-9: every text field of the typed profile.
    data = typed(CHAT, u64(5) + b"h\xc3(")
    decode(f, "typed-chat-invalid-utf8", "A CHAT text with a 2-byte lead followed by '(': valid_up_to "
           "counts within the text field, not the payload.", ["§4.3", "§6.3"], ["FC-9", "FC-17"],
           "server", "typed", PREFACE + data, [], invalid_utf8(1, 10 + len(data), 0))
    data = typed(ECHO, u64(1) + u64(2) + b"abc\xed\xbf\xbf")
    decode(f, "typed-echo-invalid-utf8-surrogate", "An ECHO text ending in the surrogate U+DFFF.",
           ["§4.3", "§6.3"], ["FC-9", "FC-17"], "client", "typed", data, [],
           invalid_utf8(3, len(data), 0))
    data = encode(ping(1)) + typed(BROADCAST, u64(1) + u64(2) + u64(3) + b"\xfe")
    decode(f, "typed-broadcast-invalid-utf8-after-a-ping", "A BROADCAST text 0xfe, after a PING.",
           ["§4.3", "§6.3"], ["FC-9", "FC-17", "FC-20"], "client", "typed", data, [ping(1)],
           invalid_utf8(0, len(data), 1))
    data = typed(ERROR, u16(1) + b"bad \xe2\x82")
    decode(f, "typed-error-reason-invalid-utf8", "An ERROR reason whose last character is cut.",
           ["§4.3", "§6.3"], ["FC-9", "FC-17"], "client", "typed", data, [],
           invalid_utf8(4, len(data), 0))
    # The code field of ERROR and the fixed fields of CHAT are not text: any bytes are fine there.
    valid(f, "typed-fixed-fields-are-not-text", "Fixed fields full of 0xff bytes are not UTF-8 and "
          "need not be.", ["§4.3", "§6.3"], ["FC-9"], "client", "typed",
          [error_frame(0xFFFF, "ok"), echo(U64_MAX, U64_MAX, "ok")])


def build_typed() -> None:
    f = "typed.json"
    new_file(f, "§4.2–§4.6: the typed profile's frames, directions, lengths and skipped types.")
    # Every frame type, each way it may travel (§4.3's direction column).
    to_client = [
        welcome(7, DEFAULT_L),
        echo(1_700_000_000_000_000, 1_700_000_000_000_250, "hello"),
        broadcast(3, 1_700_000_000_000_000, 1_700_000_000_000_250, "hi all"),
        ping(0x0102030405060708),
        pong(U64_MAX),
        error_frame(8, "going away"),
    ]
    valid(f, "typed-client-receives-every-server-frame",
          "WELCOME, ECHO, BROADCAST, PING, PONG, ERROR from a server.",
          ["§4.2", "§4.3", "§4.4"], ["FC-5", "FC-10"], "client", "typed", to_client)
    to_server = [
        chat(1_700_000_000_000_000, "hello"),
        ping(1),
        pong(2),
        error_frame(1, "protocol error"),
    ]
    valid(f, "typed-server-receives-every-client-frame",
          "The preface, then CHAT, PING, PONG, ERROR from a client.",
          ["§4.1", "§4.2", "§4.3"], ["FC-3", "FC-5"], "server", "typed", to_server)
    for receiver, frames in (("client", to_client), ("server", to_server)):
        for frame in frames:
            valid(f, f"typed-{receiver}-receives-{frame['type'].lower()}",
                  f"One {frame['type']} frame, alone.", ["§4.2", "§4.3"], ["FC-5"], receiver,
                  "typed", [frame])
    valid(f, "typed-empty-texts", "Empty texts: ECHO, BROADCAST and ERROR at their minimum lengths "
          "16, 24 and 2.", ["§4.3"], ["FC-7", "FC-9"], "client", "typed",
          [echo(0, 0, ""), broadcast(0, 0, 0, ""), error_frame(0, "")])
    valid(f, "typed-empty-chat-text", "A CHAT at its minimum length 8: the empty text.",
          ["§4.3"], ["FC-7", "FC-9"], "server", "typed", [chat(0, "")])
    valid(f, "typed-timestamps-are-carried-unchanged", "0 (unknown), 1 and 2^64 − 1 microseconds, "
          "each field kept apart.", ["§4.5"], ["FC-10"], "client", "typed",
          [echo(0, U64_MAX, "t"), broadcast(U64_MAX, 1, 0, "t")])
    valid(f, "typed-server-timestamps-are-carried-unchanged", "A CHAT's sent_at of 2^64 − 1.",
          ["§4.5"], ["FC-10"], "server", "typed", [chat(U64_MAX, "t"), chat(0, "u")])
    valid(f, "typed-error-with-unknown-codes-is-accepted",
          "Codes 0, 9, 999 and 65535 (9, UNAUTHORIZED, was not in §4.7 when this vector was "
          "written): still valid ERROR frames, not decoding errors.",
          ["§4.7"], ["FC-12"], "client", "typed",
          [error_frame(0, ""), error_frame(9, "nine"), error_frame(999, "?"), error_frame(0xFFFF, "max")])
    valid(f, "typed-server-accepts-error-with-unknown-code", "A client's ERROR with code 4242.",
          ["§4.7"], ["FC-12"], "server", "typed", [error_frame(4242, "mystery")])
    valid(f, "typed-welcome-carries-any-max-frame-len", "max_frame_len 0 and 2^32 − 1 are carried as "
          "they are: the decoder does not judge them.", ["§4.3", "§4.4"], ["FC-5"], "client", "typed",
          [welcome(0, 0), welcome(U64_MAX, 0xFFFFFFFF)])
    valid(f, "typed-welcome-max-frame-len-out-of-range-is-not-an-error",
          "max_frame_len 63 and 2^31, just outside the limits of §6.1, are no decoding error; the "
          "ECHO after them is checked against the client's own L = 64, which accepts it.",
          ["§4.4", "§6.1"], ["FC-5", "FC-14"], "client", "typed",
          [welcome(1, MIN_L - 1), welcome(2, MAX_L + 1), echo(1, 2, "e" * (MIN_L - 16))],
          limit=MIN_L)

    # FC-11: unassigned and reserved types are skipped, counted, unreported.
    for frame_type in (0x87, 0x99, 0xAF, 0xB0, 0xBF):
        data = typed(frame_type, b"\xff\x00junk\x80") + typed(frame_type, b"") + encode(ping(5))
        decode(f, f"typed-client-skips-type-{frame_type:02x}",
               f"Two frames of type {frame_type:#04x} (7 payload bytes that are not UTF-8, then 0), "
               "then a PING: only the PING is reported.", ["§4.6"], ["FC-11", "FC-18"], "client",
               "typed", data, [ping(5)])
    data = PREFACE + typed(0xB7, b"x" * 9) + encode(chat(1, "after"))
    decode(f, "typed-server-skips-reserved-type", "A client may send 0xb0..=0xbf at any point after "
           "the preface.", ["§4.6"], ["FC-11"], "server", "typed", data, [chat(1, "after")])
    data = typed(0x87, b"abc") + encode(ping(1)) + typed(0xBF, b"") + bytes([0xC0]) + encode(ping(2))
    decode(f, "typed-skipped-frames-count-in-frame-indices",
           "Skip, PING, skip, then the invalid type 0xc0: the error is in frame 3.",
           ["§4.6", "§6.5"], ["FC-11", "FC-6", "FC-19", "FC-20"], "client", "typed", data, [ping(1)],
           invalid_type(0xC0, 8 + 13 + 5 + 1, 3))
    data = typed(0x90, b"\x00" * (MIN_L - 1)) + typed(0x91, b"\x01" * MIN_L) + header(0x92, MIN_L + 1)
    decode(f, "typed-skipped-frame-length-checked-against-the-limit",
           "A skipped frame's length is checked against L like any frame: L − 1 and L pass, L + 1 "
           "fails at the end of its header.", ["§4.6", "§6.1"], ["FC-11", "FC-14"], "client",
           "typed", data, [], too_large(MIN_L + 1, MIN_L, 5 + 63 + 5 + 64 + 5, 2), limit=MIN_L)

    # FC-6: type bytes outside 0x80..=0xbf, detected right after the type byte.
    for frame_type in (0x00, 0x01, 0x7F, 0xC0, 0xFE, 0xFF):
        decode(f, f"typed-client-invalid-type-{frame_type:02x}",
               f"Type {frame_type:#04x} is outside 0x80..=0xbf: detected at offset 1, before its "
               "length.", ["§4.2", "§6.2"], ["FC-6", "FC-16", "FC-20"], "client", "typed",
               bytes([frame_type]) + u32(8) + u64(0), [], invalid_type(frame_type, 1, 0))
        decode(f, f"typed-server-invalid-type-{frame_type:02x}",
               f"Type {frame_type:#04x} right after the preface: detected at offset 11.",
               ["§4.2", "§6.2"], ["FC-6", "FC-20"], "server", "typed",
               PREFACE + bytes([frame_type]) + u32(8) + u64(0), [], invalid_type(frame_type, 11, 0))
    decode(f, "typed-invalid-type-alone-at-the-end-is-not-truncated",
           "A lone 0x7f at the end of the stream: the type is judged as soon as it arrives, so the "
           "error is InvalidFrameType, not a truncated header.", ["§4.2", "§6.5", "§6.6"],
           ["FC-6", "FC-20"], "client", "typed", encode(pong(1)) + b"\x7f", [pong(1)],
           invalid_type(0x7F, 14, 1))
    decode(f, "typed-client-reads-a-legacy-stream", "A legacy frame's first byte (a length's high "
           "byte, below 0x80) is an invalid type (§4.2).", ["§4.2"], ["FC-6"], "client", "typed",
           legacy(b"hi"), [], invalid_type(0x00, 1, 0))

    # FC-8: known types whose direction excludes the receiver.
    for frame_type in (WELCOME, ECHO, BROADCAST):
        name = NAMES[frame_type].lower()
        low, _ = BOUNDS[frame_type]
        decode(f, f"typed-server-rejects-{name}",
               f"{NAMES[frame_type]} travels server → client only: UnexpectedFrameType at offset 11.",
               ["§4.3", "§6.2"], ["FC-8", "FC-20"], "server", "typed",
               PREFACE + header(frame_type, low) + b"\x00" * low, [],
               unexpected_type(frame_type, "server", 11, 0))
    decode(f, "typed-client-rejects-chat", "CHAT travels client → server only.", ["§4.3", "§6.2"],
           ["FC-8", "FC-20"], "client", "typed", encode(ping(1)) + encode(chat(1, "x")), [ping(1)],
           unexpected_type(CHAT, "client", 14, 1))
    decode(f, "typed-detect-server-rejects-welcome", "A detecting server is a server too.",
           ["§4.3", "§5"], ["FC-8", "FC-13"], "server", "detect",
           PREFACE + encode(welcome(1, 2)), [], unexpected_type(WELCOME, "server", 11, 0))

    # FC-7: a known type's length outside §4.3's bounds, detected at the end of the header.
    bad = {
        WELCOME: (0, 11, 13, 24),
        CHAT: (0, 7),
        ECHO: (0, 15),
        BROADCAST: (0, 23),
        PING: (0, 7, 9, 16),
        PONG: (0, 7, 9),
        ERROR: (0, 1),
    }
    for frame_type, lengths in bad.items():
        receivers = ["server"] if frame_type == CHAT else (
            ["client"] if frame_type in (WELCOME, ECHO, BROADCAST) else ["client", "server"]
        )
        for receiver in receivers:
            for length in lengths:
                prefix = PREFACE if receiver == "server" else b""
                data = prefix + header(frame_type, length) + b"\x00" * length
                decode(f, f"typed-{receiver}-bad-length-{NAMES[frame_type].lower()}-{length}",
                       f"{NAMES[frame_type]} with length {length}, outside {BOUNDS[frame_type]}: "
                       "BadLength at the end of the header, before any payload byte.",
                       ["§4.3", "§6.2"], ["FC-7", "FC-20"], receiver, "typed", data, [],
                       bad_length(frame_type, length, len(prefix) + 5, 0))

    # FC-16: one header breaking two rules always yields the same error.
    decode(f, "typed-order-invalid-type-before-its-length",
           "0xc0 with a length of 0xffffffff: the type is judged first.", ["§6.2"], ["FC-16"],
           "client", "typed", header(0xC0, 0xFFFFFFFF), [], invalid_type(0xC0, 1, 0))
    decode(f, "typed-order-direction-before-length",
           "ECHO to a server with a length of 0xffffffff: the direction is judged at the type byte.",
           ["§6.2"], ["FC-8", "FC-16"], "server", "typed", PREFACE + header(ECHO, 0xFFFFFFFF), [],
           unexpected_type(ECHO, "server", 11, 0))
    decode(f, "typed-order-limit-before-type-length",
           "PING with a length of 0xffffffff breaks both the limit and PING's exact 8: the limit "
           "comes first.", ["§6.2"], ["FC-14", "FC-16"], "client", "typed",
           header(PING, 0xFFFFFFFF), [], too_large(0xFFFFFFFF, DEFAULT_L, 5, 0))
    decode(f, "typed-order-limit-before-type-length-at-l-plus-1",
           "WELCOME (exactly 12) declaring L + 1 fails the limit, not BadLength.", ["§6.2"],
           ["FC-14", "FC-16"], "client", "typed", header(WELCOME, MIN_L + 1), [],
           too_large(MIN_L + 1, MIN_L, 5, 0), limit=MIN_L)
    decode(f, "typed-order-bad-length-within-the-limit",
           "WELCOME declaring L (within the limit, not 12): BadLength.", ["§6.2"],
           ["FC-7", "FC-16"], "client", "typed", header(WELCOME, MIN_L), [],
           bad_length(WELCOME, MIN_L, 5, 0), limit=MIN_L)
    data = encode(ping(1)) + bytes([0x00]) + encode(ping(2))
    decode(f, "typed-error-is-terminal", "After an invalid type no later frame is reported, though "
           "a valid PING follows.", ["§6.5"], ["FC-19", "FC-20"], "client", "typed", data,
           [ping(1)], invalid_type(0x00, 14, 1))


def build_limits() -> None:
    f = "limits.json"
    new_file(f, "§6.1: the limit L, exactly L and L + 1, 0xffffffff, and the server's relay headroom.")
    for limit in (MIN_L, 1000):
        valid(f, f"legacy-client-accepts-exactly-l-{limit}", f"A legacy text of exactly L = {limit}.",
              ["§6.1"], ["FC-14"], "client", "legacy", [text_frame("a" * limit)], limit=limit)
        decode(f, f"legacy-client-refuses-l-plus-1-{limit}",
               f"A legacy length of L + 1 = {limit + 1}: FrameTooLarge at the end of the header, "
               "before any payload byte (none is sent).", ["§6.1"], ["FC-14", "FC-20"], "client",
               "legacy", u32(limit + 1), [], too_large(limit + 1, limit, 4, 0), limit=limit)
    decode(f, "legacy-client-refuses-0xffffffff", "A declared 4 GiB length: refused from the header "
           "alone, costing nothing beyond it.", ["§6.1", "§6.7"], ["FC-14", "FC-22"], "client",
           "legacy", u32(0xFFFFFFFF) + b"abc", [], too_large(0xFFFFFFFF, DEFAULT_L, 4, 0))
    decode(f, "typed-client-refuses-0xffffffff", "An ECHO declaring 4 GiB.", ["§6.1", "§6.7"],
           ["FC-14", "FC-22"], "client", "typed", header(ECHO, 0xFFFFFFFF),
           [], too_large(0xFFFFFFFF, DEFAULT_L, 5, 0))
    decode(f, "typed-skipped-type-refuses-0xffffffff", "A skipped type declaring 4 GiB is refused "
           "too: skipping never starts.", ["§4.6", "§6.1", "§6.7"], ["FC-11", "FC-14", "FC-22"],
           "client", "typed", header(0xB0, 0xFFFFFFFF), [], too_large(0xFFFFFFFF, DEFAULT_L, 5, 0))
    decode(f, "legacy-max-limit-refuses-2-pow-31", "With the largest limit 2^31 − 1, a length of "
           "2^31 is too large.", ["§6.1"], ["FC-14"], "client", "legacy", u32(2**31), [],
           too_large(2**31, MAX_L, 4, 0), limit=MAX_L)
    decode(f, "legacy-max-limit-length-l-is-a-truncated-payload",
           "With L = 2^31 − 1, a length of exactly L passes the header check; the stream then ends "
           "after 3 payload bytes.", ["§6.1", "§6.6", "§6.7"], ["FC-14", "FC-21", "FC-22"], "client",
           "legacy", u32(MAX_L) + b"abc", [], truncated("payload", 3, MAX_L, 7, 0), limit=MAX_L)
    decode(f, "legacy-declared-l-withheld-is-open", "Length L declared, nothing sent: not an error "
           "until the stream ends.", ["§6.6", "§6.7"], ["FC-21", "FC-22"], "client", "legacy",
           u32(DEFAULT_L), [], finish=False)

    # FC-15: a server applies L − 24 to legacy frames and L − 16 to CHAT; L to everything else.
    limit = MIN_L
    legacy_limit = limit - HEADROOM
    chat_limit = limit - 16
    valid(f, "legacy-server-accepts-l-minus-24", "A legacy server with L = 64 accepts a text of 40.",
          ["§6.1"], ["FC-15"], "server", "legacy", [text_frame("b" * legacy_limit)], limit=limit)
    decode(f, "legacy-server-refuses-l-minus-23", "…and refuses 41, reporting the limit applied (40).",
           ["§6.1"], ["FC-15", "FC-14"], "server", "legacy", legacy(b"b" * (legacy_limit + 1)), [],
           too_large(legacy_limit + 1, legacy_limit, 4, 0), limit=limit)
    decode(f, "legacy-server-refuses-exactly-l", "A legacy text of exactly L is too large for a "
           "server: only a client accepts L.", ["§6.1"], ["FC-15"], "server", "legacy",
           legacy(b"b" * limit), [], too_large(limit, legacy_limit, 4, 0), limit=limit)
    valid(f, "detect-legacy-server-accepts-l-minus-24", "Detection gives the same headroom.",
          ["§5", "§6.1"], ["FC-13", "FC-15"], "server", "detect", [text_frame("c" * legacy_limit)],
          limit=limit)
    decode(f, "detect-legacy-server-refuses-l-minus-23", "…and refuses 41.", ["§5", "§6.1"],
           ["FC-13", "FC-15"], "server", "detect", legacy(b"c" * (legacy_limit + 1)), [],
           too_large(legacy_limit + 1, legacy_limit, 4, 0), limit=limit)
    valid(f, "typed-server-accepts-chat-of-l-minus-16", "A CHAT of length 48 (text 40) with L = 64.",
          ["§6.1"], ["FC-15"], "server", "typed", [chat(1, "d" * legacy_limit)], limit=limit)
    decode(f, "typed-server-refuses-chat-of-l-minus-15", "A CHAT of length 49: too large, limit 48.",
           ["§6.1"], ["FC-15", "FC-14"], "server", "typed",
           PREFACE + encode(chat(1, "d" * (legacy_limit + 1))), [],
           too_large(chat_limit + 1, chat_limit, 15, 0), limit=limit)
    valid(f, "typed-server-accepts-error-of-exactly-l", "Every other frame a server receives is "
          "checked against L: an ERROR of length 64.", ["§6.1"], ["FC-15"], "server", "typed",
          [error_frame(1, "e" * (limit - 2))], limit=limit)
    decode(f, "typed-server-refuses-error-of-l-plus-1", "An ERROR of length 65: limit 64.",
           ["§6.1"], ["FC-15", "FC-14"], "server", "typed",
           PREFACE + header(ERROR, limit + 1), [], too_large(limit + 1, limit, 15, 0), limit=limit)
    data = PREFACE + typed(0xB0, b"\x00" * limit) + header(0xB1, limit + 1)
    decode(f, "typed-server-skipped-types-use-l", "A server skips a reserved frame of length L and "
           "refuses L + 1 with limit L.", ["§4.6", "§6.1"], ["FC-11", "FC-15"], "server", "typed",
           data, [], too_large(limit + 1, limit, 10 + 5 + limit + 5, 1), limit=limit)
    for name, frame, length in (
        ("echo", echo(1, 2, "f" * (limit - 16)), limit),
        ("broadcast", broadcast(9, 1, 2, "g" * (limit - 24)), limit),
    ):
        valid(f, f"typed-client-accepts-{name}-of-exactly-l", f"A client checks {name.upper()} "
              "against L itself: length 64 passes.", ["§6.1"], ["FC-15", "FC-14"], "client", "typed",
              [frame], limit=limit)
    decode(f, "typed-client-refuses-echo-of-l-plus-1", "An ECHO of length 65 with L = 64.",
           ["§6.1"], ["FC-15", "FC-14"], "client", "typed", header(ECHO, limit + 1),
           [], too_large(limit + 1, limit, 5, 0), limit=limit)


def build_preface() -> None:
    f = "preface.json"
    new_file(f, "§4.1: the typed client's preface, as a typed server receives it.")
    decode(f, "preface-alone-ends-cleanly", "The 10 preface bytes and nothing else: a clean end.",
           ["§4.1", "§6.6"], ["FC-3", "FC-4", "FC-21"], "server", "typed", PREFACE, [])
    decode(f, "preface-empty-stream-ends-cleanly", "A server's stream that ends before any byte ends "
           "cleanly.", ["§6.6"], ["FC-21"], "server", "typed", b"", [])
    for index in range(len(PREFACE)):
        found = PREFACE[index] ^ 0x20
        data = PREFACE[:index] + bytes([found]) + PREFACE[index + 1:] + encode(ping(1))
        decode(f, f"preface-mismatch-at-byte-{index}",
               f"Byte {index} of the preface is {found:#04x}: BadPreface at offset {index + 1}, "
               "frame index 0; nothing after it is read.", ["§4.1", "§6.5"],
               ["FC-4", "FC-19", "FC-20"], "server", "typed", data, [], bad_preface(index, found))
    decode(f, "preface-missing-legacy-frame-instead", "A legacy frame where the preface should be: "
           "BadPreface at its first byte.", ["§4.1"], ["FC-4"], "server", "typed", legacy(b"hi"), [],
           bad_preface(0, 0x00))
    decode(f, "preface-lowercase-fchat", "'fchat' instead of 'FCHAT'.", ["§4.1"], ["FC-4"],
           "server", "typed", b"\xfffchat/1\r\n", [], bad_preface(1, ord("f")))
    decode(f, "preface-version-2", "FCHAT/2 is not this protocol's preface.", ["§4.1"], ["FC-4"],
           "server", "typed", b"\xffFCHAT/2\r\n", [], bad_preface(7, ord("2")))
    for received in range(1, len(PREFACE)):
        decode(f, f"preface-truncated-after-{received}",
               f"The stream ends after {received} preface bytes: Truncated preface {received}/10.",
               ["§4.1", "§6.6"], ["FC-4", "FC-21"], "server", "typed", PREFACE[:received], [],
               truncated("preface", received, 10, received, 0))
    decode(f, "preface-partial-is-open-without-finish", "9 preface bytes and no end of stream: the "
           "decoder waits.", ["§4.1", "§6.6"], ["FC-21"], "server", "typed", PREFACE[:9], [],
           finish=False)


def build_detect() -> None:
    f = "detect.json"
    new_file(f, "§5: a server deciding the profile from the first 4 bytes.")
    valid(f, "detect-typed-client", "The preface then a CHAT: typed.", ["§5", "§4.1"],
          ["FC-13", "FC-3", "FC-18"], "server", "detect", [chat(1, "typed"), ping(2)])
    valid(f, "detect-legacy-client", "00 00 00 02 'hi': legacy.", ["§5", "§3.1"],
          ["FC-13", "FC-18"], "server", "detect", [text_frame("hi"), text_frame("there")])
    valid(f, "detect-legacy-zero-length-first-frame", "00 00 00 00: a legacy empty text.",
          ["§5", "§3.1"], ["FC-13"], "server", "detect", [text_frame("")])
    decode(f, "detect-typed-preface-alone", "Only the preface: typed, and a clean end.", ["§5"],
           ["FC-13", "FC-21"], "server", "detect", PREFACE, [])
    decode(f, "detect-empty-stream-ends-cleanly", "No byte: a clean end, no profile needed.",
           ["§5", "§6.6"], ["FC-21"], "server", "detect", b"", [])
    for data in (b"\xff\x00\x00\x00", b"\xff\xff\xff\xff", b"\xffFC\x00", b"\xff\x46\x43\x49"):
        declared = int.from_bytes(data, "big")
        decode(f, f"detect-{data.hex()}-is-a-too-large-legacy-length",
               f"{data.hex()} is not the preface's start: a legacy length of {declared:#x}, above the "
               "server's legacy limit L − 24, detected at offset 4.", ["§5", "§6.1"],
               ["FC-13", "FC-14", "FC-15"], "server", "detect", data + b"rest", [],
               too_large(declared, DEFAULT_L - HEADROOM, 4, 0))
    for index in range(4, len(PREFACE)):
        found = 0x00
        data = PREFACE[:index] + bytes([found]) + PREFACE[index + 1:]
        decode(f, f"detect-preface-mismatch-at-byte-{index}",
               f"The first 4 bytes decide typed; byte {index} then differs: BadPreface.",
               ["§5", "§4.1"], ["FC-13", "FC-4"], "server", "detect", data, [],
               bad_preface(index, found))
    for received in range(4, len(PREFACE)):
        decode(f, f"detect-typed-preface-truncated-after-{received}",
               f"Typed decided, then the stream ends after {received} preface bytes.",
               ["§5", "§6.6"], ["FC-13", "FC-21"], "server", "detect", PREFACE[:received], [],
               truncated("preface", received, 10, received, 0))
    for data in (b"\xff", b"\xff\x46", b"\xff\x46\x43", b"\x00", b"\x00\x00\x00"):
        decode(f, f"detect-{len(data)}-bytes-{data.hex()}-then-end",
               f"{len(data)} byte(s) and the end: undecided, inside a header of 4 bytes (§5).",
               ["§5", "§6.6"], ["FC-13", "FC-21"], "server", "detect", data, [],
               truncated("header", len(data), 4, len(data), 0))
        decode(f, f"detect-{len(data)}-bytes-{data.hex()}-is-open",
               "Fewer than 4 bytes and no end of stream: undecided, waiting.", ["§5"], ["FC-13"],
               "server", "detect", data, [], finish=False)


def build_truncation() -> None:
    f = "truncation.json"
    new_file(f, "§6.6: the end of the stream inside a header or a payload, and with no end yet.")
    one = legacy(b"one")
    for received in (1, 2, 3):
        decode(f, f"legacy-header-truncated-after-{received}",
               f"A good frame, then {received} of 4 header bytes: Truncated header, frame 1.",
               ["§6.6"], ["FC-21", "FC-20"], "client", "legacy", one + b"\x00" * received,
               [text_frame("one")], truncated("header", received, 4, 7 + received, 1))
    decode(f, "legacy-payload-truncated", "Length 5, 3 text bytes, the end.", ["§6.6"], ["FC-21"],
           "client", "legacy", u32(5) + b"abc", [], truncated("payload", 3, 5, 7, 0))
    decode(f, "legacy-payload-truncated-before-any-byte", "A whole header, no payload byte.",
           ["§6.6"], ["FC-21"], "server", "legacy", u32(5), [], truncated("payload", 0, 5, 4, 0))
    decode(f, "legacy-payload-incomplete-is-open", "Length 5, 3 bytes, no end of stream: waiting.",
           ["§6.6"], ["FC-21"], "client", "legacy", one + u32(5) + b"abc", [text_frame("one")],
           finish=False)
    ping1 = encode(ping(1))
    for received in (1, 2, 4):
        decode(f, f"typed-header-truncated-after-{received}",
               f"A PING, then {received} of 5 header bytes.", ["§6.6"], ["FC-21"], "client",
               "typed", ping1 + encode(pong(2))[:received], [ping(1)],
               truncated("header", received, 5, 13 + received, 1))
    decode(f, "typed-server-header-truncated-after-the-preface", "The preface, then 3 header bytes: "
           "the offset counts the preface.", ["§6.6", "§2"], ["FC-21", "FC-20"], "server", "typed",
           PREFACE + encode(chat(1, "x"))[:3], [], truncated("header", 3, 5, 13, 0))
    decode(f, "typed-payload-truncated", "A PING header and 3 of its 8 payload bytes.", ["§6.6"],
           ["FC-21"], "client", "typed", ping1[:8], [], truncated("payload", 3, 8, 8, 0))
    decode(f, "typed-skipped-payload-truncated", "A skipped frame cut short is truncated too.",
           ["§4.6", "§6.6"], ["FC-11", "FC-21"], "client", "typed",
           header(0xA0, 10) + b"12345", [], truncated("payload", 5, 10, 10, 0))
    decode(f, "typed-chat-cut-inside-a-multibyte-char-is-truncated-not-invalid",
           "The stream ends in the middle of '€': the frame never completed, so its text was never "
           "judged (FC-17): Truncated, not InvalidUtf8.", ["§6.3", "§6.6"], ["FC-17", "FC-21"],
           "server", "typed", PREFACE + encode(chat(1, "a€"))[:-1], [],
           truncated("payload", 8 + 3, 8 + 4, 10 + 5 + 11, 0))
    decode(f, "typed-header-incomplete-is-open", "4 header bytes and no end: waiting.", ["§6.6"],
           ["FC-21"], "client", "typed", ping1 + ping1[:4], [ping(1)], finish=False)


def build_encoder() -> None:
    f = "encoder.json"
    new_file(f, "§7: frames to exact bytes, frames an encoder must refuse untouched, and the "
             "order of its refusals.")
    hi = text_frame("hi")
    encode_case(f, "encode-legacy-client-text", "A legacy client's 'hi': 00 00 00 02 68 69.",
                ["§3.1", "§7"], ["FC-1"], "client", "legacy", ok([hi]), encode(hi))
    encode_case(f, "encode-legacy-server-empty-text", "The empty text is 4 zero bytes.",
                ["§3.1", "§7"], ["FC-1"], "server", "legacy", ok([text_frame("")]), u32(0))
    frames = [chat(1, "hi"), ping(9), pong(10), error_frame(5, "slow"), chat(2, "")]
    encode_case(f, "encode-typed-client-writes-the-preface-once", "A typed client's encoder writes "
                "the preface before its first frame, once.", ["§4.1", "§7"],
                ["FC-3", "FC-25", "FC-5"], "client", "typed", ok(frames), PREFACE + encode_all(frames))
    frames = [welcome(42, DEFAULT_L), echo(1, 2, "hi"), broadcast(7, 1, 2, "yo"), ping(1), pong(2),
              error_frame(6, "full")]
    encode_case(f, "encode-typed-server-writes-no-preface", "A typed server's encoder writes every "
                "server frame, and no preface.", ["§4.1", "§4.3", "§7"], ["FC-5"], "server",
                "typed", ok(frames), encode_all(frames))
    frames = [echo(U64_MAX, 0, "€"), broadcast(U64_MAX, 0, U64_MAX, "")]
    encode_case(f, "encode-timestamps-unchanged", "Timestamps are written as given.",
                ["§4.5", "§7"], ["FC-10"], "server", "typed", ok(frames), encode_all(frames))

    def wrong_profile(frame_profile: str, stream_profile: str) -> dict:
        return {"kind": "WrongProfile", "frame": frame_profile, "stream": stream_profile}

    def wrong_direction(frame_type: int, sender: str) -> dict:
        return {"kind": "WrongDirection", "frame_type": frame_type, "sender": sender}

    def refused_too_large(payload_len: int, limit: int) -> dict:
        return {"kind": "TooLarge", "payload_len": payload_len, "limit": limit}

    encode_case(f, "encode-refuses-typed-frame-on-legacy-stream", "A PING on a legacy stream, "
                "between two texts: only the texts are written.", ["§7"], ["FC-24", "FC-23"],
                "client", "legacy", [(hi, None), (ping(1), wrong_profile("typed", "legacy")),
                                     (hi, None)], encode(hi) + encode(hi))
    encode_case(f, "encode-refuses-legacy-frame-on-typed-stream-before-the-preface",
                "A typed client's first frame is refused: nothing is written, not even the preface, "
                "which then precedes the next frame.", ["§7"], ["FC-24", "FC-23", "FC-25"],
                "client", "typed", [(hi, wrong_profile("legacy", "typed")), (ping(1), None)],
                PREFACE + encode(ping(1)))
    encode_case(f, "encode-refuses-legacy-frame-on-typed-server-stream", "TEXT from a typed server.",
                ["§7"], ["FC-24", "FC-23"], "server", "typed",
                [(ping(3), None), (hi, wrong_profile("legacy", "typed"))], encode(ping(3)))
    for frame in (welcome(1, 2), echo(1, 2, "x"), broadcast(1, 2, 3, "x")):
        frame_type = encode(frame)[0]
        encode_case(f, f"encode-client-refuses-{frame['type'].lower()}",
                    f"A client never sends {frame['type']}.", ["§4.3", "§7"], ["FC-24", "FC-23"],
                    "client", "typed",
                    [(ping(1), None), (frame, wrong_direction(frame_type, "client"))],
                    PREFACE + encode(ping(1)))
    encode_case(f, "encode-server-refuses-chat", "A server never sends CHAT.", ["§4.3", "§7"],
                ["FC-24", "FC-23"], "server", "typed",
                [(chat(1, "x"), wrong_direction(CHAT, "server"))], b"")
    limit = MIN_L
    # FC-24 with FC-15: the limit is the one the receiving side applies under the same L.
    encode_case(f, "encode-legacy-client-up-to-l-minus-24", "A legacy client's text of 40 with "
                "L = 64, then 41 refused: the server applies L − 24.", ["§6.1", "§7"],
                ["FC-24", "FC-15", "FC-23"], "client", "legacy",
                [(text_frame("a" * 40), None), (text_frame("a" * 41), refused_too_large(41, 40))],
                encode(text_frame("a" * 40)), limit=limit)
    encode_case(f, "encode-typed-client-chat-up-to-l-minus-16", "A CHAT of payload 48 with L = 64, "
                "then 49 refused.", ["§6.1", "§7"], ["FC-24", "FC-15", "FC-23"], "client", "typed",
                [(chat(0, "c" * 40), None), (chat(0, "c" * 41), refused_too_large(49, 48))],
                PREFACE + encode(chat(0, "c" * 40)), limit=limit)
    encode_case(f, "encode-typed-client-error-up-to-l", "Frames other than CHAT go up to L: an "
                "ERROR of 64, then 65 refused.", ["§6.1", "§7"], ["FC-24", "FC-15"], "client",
                "typed", [(error_frame(1, "r" * 62), None),
                          (error_frame(1, "r" * 63), refused_too_large(65, 64))],
                PREFACE + encode(error_frame(1, "r" * 62)), limit=limit)
    encode_case(f, "encode-legacy-server-up-to-l", "A server's legacy frames go to a client, which "
                "applies L: 64, then 65 refused.", ["§6.1", "§7"], ["FC-24", "FC-15"], "server",
                "legacy", [(text_frame("s" * 64), None),
                           (text_frame("s" * 65), refused_too_large(65, 64))],
                encode(text_frame("s" * 64)), limit=limit)
    encode_case(f, "encode-typed-server-broadcast-up-to-l", "A BROADCAST of 64, then 65 refused.",
                ["§6.1", "§7"], ["FC-24", "FC-23"], "server", "typed",
                [(broadcast(1, 2, 3, "b" * 40), None),
                 (broadcast(1, 2, 3, "b" * 41), refused_too_large(65, 64))],
                encode(broadcast(1, 2, 3, "b" * 40)), limit=limit)
    encode_case(f, "encode-refused-too-large-then-accepted", "A refused first CHAT, then a good "
                "one: the preface comes once, before the good one.", ["§7"],
                ["FC-23", "FC-24", "FC-25"], "client", "typed",
                [(chat(0, "x" * 41), refused_too_large(49, 48)), (chat(0, "x" * 40), None),
                 (chat(0, "y"), None)],
                PREFACE + encode(chat(0, "x" * 40)) + encode(chat(0, "y")), limit=limit)

    # FC-24: profile, then direction, then size; a frame breaking several is refused for the first.
    big = "z" * 100  # above every limit of L = 64, with or without headroom
    encode_case(f, "encode-order-profile-before-direction", "An ECHO from a legacy client breaks "
                "the profile and the direction: WrongProfile.", ["§7"], ["FC-24", "FC-23"],
                "client", "legacy", [(echo(1, 2, "x"), wrong_profile("typed", "legacy")), (hi, None)],
                encode(hi))
    encode_case(f, "encode-order-profile-before-size", "A legacy text of 100 bytes on a typed "
                "client's stream with L = 64 breaks the profile and the size: WrongProfile, and "
                "the preface waits for the next frame.", ["§7"], ["FC-24", "FC-23", "FC-25"],
                "client", "typed",
                [(text_frame(big), wrong_profile("legacy", "typed")), (chat(0, "ok"), None)],
                PREFACE + encode(chat(0, "ok")), limit=limit)
    encode_case(f, "encode-order-direction-before-size", "An ECHO of 100 text bytes from a typed "
                "client with L = 64 breaks the direction and the size: WrongDirection.", ["§7"],
                ["FC-24", "FC-23"], "client", "typed",
                [(ping(1), None), (echo(1, 2, big), wrong_direction(ECHO, "client"))],
                PREFACE + encode(ping(1)), limit=limit)
    encode_case(f, "encode-order-server-direction-before-size", "A CHAT of 100 text bytes from a "
                "typed server with L = 64: WrongDirection, not TooLarge.", ["§7"],
                ["FC-24", "FC-23"], "server", "typed",
                [(chat(1, big), wrong_direction(CHAT, "server")), (pong(4), None)],
                encode(pong(4)), limit=limit)
    encode_case(f, "encode-order-profile-before-direction-and-size", "A CHAT of 100 text bytes from "
                "a legacy server with L = 64 breaks all three rules: WrongProfile.", ["§7"],
                ["FC-24", "FC-23"], "server", "legacy",
                [(chat(1, big), wrong_profile("typed", "legacy")), (text_frame("s"), None)],
                encode(text_frame("s")), limit=limit)


def build_auth() -> None:
    f = "auth.json"
    new_file(f, "§4.3, §4.4, §4.7: the AUTH frame and the UNAUTHORIZED code.")
    prefix = len(PREFACE)
    valid(f, "auth-server-receives-auth-then-chat", "AUTH (BEARER) right after the preface, then a "
          "CHAT in the same stream, as a client sends them in one write.", ["§4.3", "§4.4"],
          ["FC-5", "FC-9"], "server", "typed", [auth(1, "s3cr3t-token"), chat(1, "hi")])
    valid(f, "auth-detect-server-receives-auth", "A detecting server decides typed on the preface "
          "and reads the AUTH after it.", ["§4.4", "§5"], ["FC-13"], "server", "detect",
          [auth(1, "tok"), chat(2, "after")])
    valid(f, "auth-token-empty-and-unknown-scheme", "An empty token (length 1) and scheme 255 are "
          "valid frames: judging them is the server's job (§8.9), not the decoder's.",
          ["§4.3", "§4.4"], ["FC-7"], "server", "typed", [auth(1, ""), auth(255, "x")])
    valid(f, "auth-token-of-the-maximum-length", "A token of 1024 bytes: length 1025, the table's "
          "maximum.", ["§4.3"], ["FC-7"], "server", "typed", [auth(1, "t" * MAX_TOKEN)])
    valid(f, "auth-token-multibyte-text", "A token is text: multi-byte characters are carried as "
          "they are.", ["§4.3"], ["FC-9"], "server", "typed", [auth(1, "clé-ключ")])
    for length in (0, 1 + MAX_TOKEN + 1):
        decode(f, f"auth-server-bad-length-{length}", f"AUTH with length {length}, outside "
               f"{BOUNDS[AUTH]}: BadLength at the end of the header, before any payload byte.",
               ["§4.3", "§6.2"], ["FC-7", "FC-20"], "server", "typed",
               PREFACE + header(AUTH, length) + b"\x00" * min(length, 8), [],
               bad_length(AUTH, length, prefix + 5, 0))
    decode(f, "auth-order-limit-before-type-length", "AUTH declaring L + 1 with L = 64: the limit "
           "is judged before AUTH's own bounds.", ["§6.2"], ["FC-14", "FC-16"], "server", "typed",
           PREFACE + header(AUTH, MIN_L + 1), [], too_large(MIN_L + 1, MIN_L, prefix + 5, 0),
           limit=MIN_L)
    decode(f, "auth-client-rejects-auth", "AUTH travels client → server only: a client reading "
           "one fails right after its type byte.", ["§4.3", "§6.2"], ["FC-8", "FC-20"], "client",
           "typed", encode(ping(1)) + encode(auth(1, "x")), [ping(1)],
           unexpected_type(AUTH, "client", 13 + 1, 1))
    data = PREFACE + typed(AUTH, b"\x01ab\xff")
    decode(f, "auth-token-invalid-utf8", "A token that is not UTF-8 fails at the end of its frame, "
           "with valid_up_to 2.", ["§4.3", "§6.3"], ["FC-9", "FC-17"], "server", "typed", data, [],
           invalid_utf8(2, len(data), 0))
    data = PREFACE + header(AUTH, 6) + b"\x01ab"
    decode(f, "auth-truncated-in-its-payload", "The stream ends 3 bytes into a 6-byte AUTH payload.",
           ["§6.6"], ["FC-21"], "server", "typed", data, [],
           truncated("payload", 3, 6, len(data), 0))
    decode(f, "auth-incomplete-waits", "The same bytes without an end of stream: the decoder waits.",
           ["§6.6"], ["FC-21"], "server", "typed", data, [], finish=False)
    valid(f, "auth-client-receives-unauthorized", "ERROR UNAUTHORIZED (9), a server's only frame "
          "to a client it does not admit.", ["§4.7"], ["FC-9"], "client", "typed",
          [error_frame(UNAUTHORIZED, "unauthorized")])
    encode_case(f, "encode-auth-after-the-preface", "A typed client's AUTH, then a CHAT: the "
                "preface, then both frames.", ["§4.3", "§7"], ["FC-25"], "client", "typed",
                ok([auth(1, "tok"), chat(1, "hi")]),
                PREFACE + encode(auth(1, "tok")) + encode(chat(1, "hi")))
    encode_case(f, "encode-refuses-auth-from-a-server", "AUTH from a server breaks the direction "
                "rule; nothing is written.", ["§7"], ["FC-24", "FC-23"], "server", "typed",
                [(auth(1, "x"), {"kind": "WrongDirection", "frame_type": AUTH,
                                 "sender": "server"}), (ping(1), None)], encode(ping(1)))
    encode_case(f, "encode-refuses-a-token-above-the-maximum", "A token of 1025 bytes would make "
                "a receiver fail with BadLength: refused as too large for AUTH's 1025.", ["§7"],
                ["FC-24", "FC-23"], "client", "typed",
                [(auth(1, "t" * (MAX_TOKEN + 1)), {"kind": "TooLarge",
                                                   "payload_len": MAX_TOKEN + 2,
                                                   "limit": MAX_TOKEN + 1}),
                 (auth(1, "t"), None)], PREFACE + encode(auth(1, "t")))


def main() -> None:
    build_legacy()
    build_utf8()
    build_typed()
    build_limits()
    build_preface()
    build_detect()
    build_truncation()
    build_encoder()
    build_auth()
    for name, content in FILES.items():
        text = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
        (HERE / name).write_text(text, encoding="utf-8")
    total = sum(len(content["vectors"]) for content in FILES.values())
    print(f"wrote {total} vectors in {len(FILES)} files")


if __name__ == "__main__":
    main()
