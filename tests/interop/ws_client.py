"""Drives EasyBackend's WebSocket transport with a client we did not write
(Debian's python3-websockets), the way the original project's clients did.

Usage: ws_client.py <ws-url> <token> [<ca-file>]   (a CA file for wss:// URLs)
Asserts as it goes; on success prints one JSON line with the ids it saw and
exits 0.
"""

import asyncio
import json
import ssl
import sys

import websockets


async def legacy_answer(ws):
    text = ""
    while True:
        frame = await asyncio.wait_for(ws.recv(), 10)
        if frame.startswith("<|end|>$") or frame.startswith("<|err|>$"):
            return text, frame
        text += frame


async def json_answer(ws, ask_id, aside):
    text = ""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("id") != ask_id:
            aside.append(frame)
            continue
        if frame["type"] == "delta":
            text += frame["text"]
        else:
            return text, frame


async def main(url, token, cafile):
    headers = {"Authorization": "Bearer " + token}
    tls = ssl.create_default_context(cafile=cafile) if cafile else None
    async with websockets.connect(url, extra_headers=headers, ssl=tls) as ws:
        # The original protocol, multi-turn, with $ and newlines and multi-byte text.
        prompt = "cost: $3 and $$\nnext line: 你好 🚀"
        await ws.send("<|ask|>$new$new$" + prompt)
        text, end = await legacy_answer(ws)
        assert end.startswith("<|end|>$"), end
        _, conversation_id, parent_id = end.split("$")
        assert "I received 1 message (user)" in text, text
        assert "cost: $3 and $$ next line: 你好 🚀" in text, text

        await ws.send("<|ask|>$%s$%s$second turn" % (conversation_id, parent_id))
        text, end = await legacy_answer(ws)
        assert end.startswith("<|end|>$%s$" % conversation_id), end
        assert "I received 3 messages" in text, text
        second_parent = end.split("$")[2]

        # A malformed frame gets <|err|> and the socket stays usable.
        await ws.send("not a protocol frame")
        err = await asyncio.wait_for(ws.recv(), 10)
        assert err.startswith("<|err|>$"), err

        # JSON: a branch from the first answer, and a new conversation, at once.
        await ws.send(json.dumps({
            "type": "ask", "id": "branch", "conversation_id": conversation_id,
            "parent_id": parent_id, "prompt": "branch ✨",
        }))
        await ws.send(json.dumps({"type": "ask", "id": "fresh", "prompt": "fresh"}))
        aside = []
        branch_text, branch_done = await json_answer(ws, "branch", aside)
        assert branch_done["type"] == "done", branch_done
        assert branch_done["conversation_id"] == conversation_id
        assert "I received 3 messages" in branch_text, branch_text
        fresh = [f for f in aside if f.get("id") == "fresh"]
        if not fresh or fresh[-1]["type"] == "delta":
            _, fresh_done = await json_answer(ws, "fresh", [])
        else:
            fresh_done = fresh[-1]
        assert fresh_done["type"] == "done", fresh_done
        assert fresh_done["conversation_id"] != conversation_id

        # A bad JSON frame gets an error frame with id null.
        await ws.send("{oops")
        bad = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert bad == {**bad, "type": "error", "id": None, "code": "invalid_argument"}, bad

        # Cancel mid-stream.
        await ws.send(json.dumps({"type": "ask", "id": "c", "prompt": "slow one"}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "delta" and first["id"] == "c", first
        await ws.send(json.dumps({"type": "cancel", "id": "c"}))
        _, canceled = await json_answer(ws, "c", [])
        assert canceled["type"] == "error" and canceled["code"] == "canceled", canceled

    print(json.dumps({
        "conversation_id": conversation_id,
        "first_parent": parent_id,
        "second_parent": second_parent,
        "branch_parent": branch_done["parent_id"],
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
