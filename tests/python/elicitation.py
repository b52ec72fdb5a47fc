"""Drives `release:checklist` with the official MCP Python SDK as a client that shows forms
(an `elicitation_callback`): the sign-off question is asked of the person through the client
(accepted on one instance, cancelled on another), and the agent gets only what follows.
Prints a JSON summary; exits non-zero (with the reason) on any failure.

Usage: elicitation.py WFC ROOT
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


async def main(wfc, root):
    server = StdioServerParameters(command=wfc, args=["serve", "--root", root, "--store", "memory"])
    replies = [types.ElicitResult(action="accept", content={"answer": "approve"}), types.ElicitResult(action="cancel")]
    forms = []

    async def on_form(context, params):
        forms.append(params.message)
        return replies.pop(0)

    async def to_question(session):
        started = data(await session.call_tool("workflow_start", {"workflow": "release:checklist", "inputs": {"version": "2.0.0", "test_command": "true"}}))
        instance = started["workflow_id"]
        await session.call_tool("workflow_get_next_step", {"workflow_id": instance})
        await session.call_tool("workflow_submit_result", {"workflow_id": instance, "step_id": "bump_version", "result": {"files": []}})
        return instance, data(await session.call_tool("workflow_submit_result", {"workflow_id": instance, "step_id": "record_bump", "result": {"files": []}}))

    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, elicitation_callback=on_form) as session:
            await session.initialize()
            _, accepted = await to_question(session)
            _, cancelled = await to_question(session)
    print(json.dumps({
        "forms": forms,
        "accepted_next": [step["id"] for step in accepted.get("steps") or []],
        "accepted_elicited": accepted.get("elicited"),
        "cancelled_status": cancelled["status"],
        "cancelled_error": cancelled.get("error"),
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
