"""An MCP server over stdio that answers the handshake and tools/list properly (in two
pages: the second, after ``nextCursor``, lists ``later``), lists one tool with an invalid
input schema, and answers every tools/call with a malformed result
(``content`` not a list). Raw JSON-RPC lines: the mcp package cannot be made to misbehave."""

from __future__ import annotations

import json
import sys


def send(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


TOOLS = [
    {"name": "echo", "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}}},
    {"name": "broken", "inputSchema": {"type": "object", "properties": {"x": {"type": 12}}}},
]

for line in sys.stdin:
    msg = json.loads(line)
    mid, method = msg.get("id"), msg.get("method")
    if mid is None:
        continue  # a notification
    if method == "initialize":
        result: dict[str, object] = {
            "protocolVersion": msg["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bad", "version": "1"},
        }
    elif method == "tools/list" and (msg.get("params") or {}).get("cursor") == "page-2":
        result = {"tools": [{"name": "later", "inputSchema": {"type": "object"}}]}
    elif method == "tools/list":
        result = {"tools": TOOLS, "nextCursor": "page-2"}
    elif method == "tools/call":
        result = {"content": "not a list", "isError": False}
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no method"}})
        continue
    send({"jsonrpc": "2.0", "id": mid, "result": result})
