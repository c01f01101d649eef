"""An agent whose tool comes from a real MCP server process (stdio), through the runtime's
tool registry: the mock LLM asks for the tool, the server answers, the agent replies."""

from __future__ import annotations

import sys
from pathlib import Path

from support.agents import fast_config

from agentrt.agent import Agent
from agentrt.runtime import Runtime
from agentrt.tools import MCPTools

SERVER = str(Path(__file__).parents[1] / "tools" / "mcp_demo_server.py")


class Adder(Agent):
    tools = ("demo_add",)


async def test_an_agent_calls_an_mcp_tool() -> None:
    demo = MCPTools("demo", command=(sys.executable, SERVER, "stdio"), health_interval=30)
    async with Runtime(fast_config(), tools=[demo]) as rt:
        await rt.spawn(Adder, id="a")
        reply = await rt.ask("a", '[[tool:demo_add {"a": 2, "b": 40}]]')
        assert reply.tool_calls == 1
        assert reply.text == "tool result: 42"
        bad = await rt.ask("a", '[[tool:demo_add {"a": "two"}]]')
        assert "argument 'a': expected an integer" in bad.text
        assert rt.tools.stats()["mcp"]["demo"]["calls"] == 1
