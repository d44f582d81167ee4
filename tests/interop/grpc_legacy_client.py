"""A client of the original chat.Chat/Ask that we did not write: Debian's grpcio.

Nothing is generated from the proto: the request is hand-encoded protobuf and
the call goes through grpc's generic channel.unary_stream, as an old client
built from chat.proto would send it on the wire.

Usage: python3 grpc_legacy_client.py HOST:PORT
Prints one JSON line per turn: {"turn", "pieces", "text", "conversationId", "parentId"}.
"""

import json
import sys

import grpc


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_askrequest(req):
    out = bytearray()
    for number, value in ((1, req["prompt"]), (2, req["conversation_id"]), (3, req["parent_id"])):
        data = value.encode("utf-8")
        if data:
            out += _varint((number << 3) | 2) + _varint(len(data)) + data
    return bytes(out)


def decode_askresponse(buf):
    i, response = 0, ""
    while i < len(buf):
        key, shift = 0, 0
        while True:
            b = buf[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        length, shift = 0, 0
        while True:
            b = buf[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        if key == (1 << 3) | 2:
            response = buf[i:i + length].decode("utf-8")
        i += length
    return response


def ask(stub, prompt, conversation_id, parent_id):
    pieces = list(stub({"prompt": prompt, "conversation_id": conversation_id, "parent_id": parent_id},
                       timeout=30))
    end = pieces[-1]
    if not end.startswith("<|end|>$"):
        raise SystemExit("no end marker: %r" % end)
    _, conv, parent = end.split("$")
    return {"pieces": len(pieces) - 1, "text": "".join(pieces[:-1]),
            "conversationId": conv, "parentId": parent}


def main():
    with grpc.insecure_channel(sys.argv[1]) as channel:
        stub = channel.unary_stream("/chat.Chat/Ask", request_serializer=encode_askrequest,
                                    response_deserializer=decode_askresponse)
        first = ask(stub, "hello from python", "new", "new")
        second = ask(stub, "and again", first["conversationId"], first["parentId"])
        third = ask(stub, "continue", second["conversationId"], "")
        branch = ask(stub, "a branch", first["conversationId"], first["parentId"])
        unknown = list(stub({"prompt": "x", "conversation_id": "missing", "parent_id": ""}, timeout=30))
        for turn, result in (("first", first), ("second", second), ("third", third), ("branch", branch)):
            print(json.dumps(dict(result, turn=turn)))
        print(json.dumps({"turn": "unknown", "pieces": unknown}))


if __name__ == "__main__":
    main()
