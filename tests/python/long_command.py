"""Drives `serve:long_command` with the official MCP Python SDK, as a client with a short
request timeout would: the server answers within its bound (`--answer-within`) while the
command runs, progress notifications arrive meanwhile, and the question after the command is
reached and answered. Prints a JSON summary; exits non-zero (with the reason) on any failure.

Usage: long_command.py WFC FIXTURES_DIR ROOT SECONDS
"""

import asyncio
import json
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

# The client's own patience: the server must answer within it every time.
REQUEST_TIMEOUT = 4.0


def data(result):
    """The `data` of wfc's answer envelope."""
    envelope = json.loads(result.content[0].text)
    if "data" not in envelope:
        raise AssertionError(f"refused: {envelope}")
    return envelope["data"]


async def main(wfc, fixtures, root, seconds):
    server = StdioServerParameters(command=wfc, args=["serve", "--dev", fixtures, "--root", root, "--answer-within", "2"])
    progress, logs = [], []

    async def on_progress(done, total, message):
        progress.append(message)

    async def on_log(params):
        logs.append(params.data)

    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, logging_callback=on_log) as session:
            await session.initialize()
            started = data(await session.call_tool("workflow_start", {"workflow": "serve:long_command", "inputs": {"seconds": seconds}}))
            instance = started["workflow_id"]
            began = time.monotonic()
            answers = 0
            while True:
                asked = time.monotonic()
                answer = data(await session.call_tool("workflow_get_next_step", {"workflow_id": instance}, read_timeout_seconds=REQUEST_TIMEOUT, progress_callback=on_progress))
                answers += 1
                waited = time.monotonic() - asked
                if waited >= REQUEST_TIMEOUT:
                    raise AssertionError(f"an answer took {waited:.1f} s")
                if answer.get("running") is None:
                    break
                if time.monotonic() - began > seconds + 30:
                    raise AssertionError(f"the command never ended: {answer}")
            steps = [step["id"] for step in answer["steps"]]
            if steps != ["confirm"]:
                raise AssertionError(f"expected the question after the command, got {answer}")
            again = data(await session.call_tool("workflow_get_next_step", {"workflow_id": instance}))
            if [step["id"] for step in again["steps"]] != ["confirm"]:
                raise AssertionError(f"asked again, the question must come back: {again}")
            done = data(await session.call_tool("workflow_submit_result", {"workflow_id": instance, "step_id": "confirm", "result": "python"}))
            if not done.get("completed"):
                raise AssertionError(f"not completed: {done}")
            state = data(await session.call_tool("workflow_state_read", {"workflow_id": instance}))["state"]
    print(json.dumps({"answers": answers, "progress": progress, "logs": logs, "state": state}))


if __name__ == "__main__":
    wfc, fixtures, root, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    asyncio.run(main(wfc, fixtures, root, seconds))
