"""Reads wfc's prompts and resources with the official MCP Python SDK, subscribes to an
instance's state and drives it, as a client of MCP's resources would: every listed resource
reads, the state read after the commits is the new one, and the subscription was notified.
Prints a JSON summary; exits non-zero (with the reason) on any failure.

Usage: resources.py WFC FIXTURES_DIR ROOT
"""

import asyncio
import json
import sys

import mcp.types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def data(result):
    """The `data` of wfc's answer envelope."""
    envelope = json.loads(result.content[0].text)
    if "data" not in envelope:
        raise AssertionError(f"refused: {envelope}")
    return envelope["data"]


async def main(wfc, fixtures, root):
    server = StdioServerParameters(command=wfc, args=["serve", "--dev", fixtures, "--root", root])
    updated = []

    async def on_message(message):
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(str(message.params.uri))

    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, message_handler=on_message) as session:
            await session.initialize()
            prompts = [prompt.name for prompt in (await session.list_prompts()).prompts]
            resources = (await session.list_resources()).resources
            for resource in resources:
                contents = (await session.read_resource(str(resource.uri))).contents
                if not contents or not getattr(contents[0], "text", ""):
                    raise AssertionError(f"{resource.uri} reads as nothing")
            instance = data(await session.call_tool("workflow_start", {"workflow": "serve:counter", "inputs": {"iterations": 2}}))["workflow_id"]
            state_uri = f"wfc://instances/{instance}/state"
            await session.subscribe_resource(state_uri)
            answer = data(await session.call_tool("workflow_get_next_step", {"workflow_id": instance}))
            while not answer.get("completed"):
                step = answer["steps"][-1]
                answer = data(await session.call_tool("workflow_submit_result", {"workflow_id": instance, "step_id": step["id"], "result": {"by": 1}}))
            for _ in range(100):
                if updated:
                    break
                await asyncio.sleep(0.05)
            state = json.loads((await session.read_resource(state_uri)).contents[0].text)
            if any(uri != state_uri for uri in updated):
                raise AssertionError(f"told of what it did not subscribe to: {updated}")
    print(json.dumps({"prompts": prompts, "resources": len(resources), "count": state["state"]["count"], "updated": len(updated)}))


if __name__ == "__main__":
    wfc, fixtures, root = sys.argv[1], sys.argv[2], sys.argv[3]
    asyncio.run(main(wfc, fixtures, root))
