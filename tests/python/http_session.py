"""Speaks to `wfc serve --http` with the official MCP Python SDK, logging everything the SDK
logs at WARNING and above to stderr: initialize, list the tools, call one, and end the session.
A quiet pair prints only the JSON summary.

Usage: http_session.py MCP_URL
"""

import asyncio
import json
import logging
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url):
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            listed = json.loads((await session.call_tool("workflow_list", {})).content[0].text)
    print(json.dumps({"tools": len(tools), "workflows": listed["data"]["count"]}))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main(sys.argv[1]))
