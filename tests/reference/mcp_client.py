"""Drives `ctxpack mcp` with the official MCP Python SDK, for tests/cli/mcp.rs.

Reads a JSON object on stdin: {"command": [...], "cwd": DIR, "env": {...}, "steps": [...]}.
Each step is one of:

  {"op": "list"}                             the tools, with their schemas and annotations
  {"op": "call", "tool": T, "args": {...}}   a tool call: is_error, its texts, structured content
  {"op": "page", "id": ID, "size": N}         read_pack by tokens, N at a time, to the end
  {"op": "page_lines", "id": ID, "size": N}   read_pack by lines, N at a time, to the end
  {"op": "race", "tool": T, "args": {...}, "fifo": PATH, "write": TEXT}
                                              starts the call (which reads the FIFO, so it
                                              cannot end before TEXT is written), lists the
                                              tools, and only then writes TEXT: whether the list
                                              was answered while the call waited

and prints a JSON list with one result per step. The server is started by the SDK's stdio
client, as a coding agent starts it.
"""

import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def result_of(res):
    return {
        "is_error": bool(res.is_error),
        "texts": [c.text for c in res.content if getattr(c, "type", "") == "text"],
        "structured": res.structured_content,
    }


async def page(session, doc_id, size, unit):
    joined, pages, start = [], 0, 0 if unit == "token" else 1
    while True:
        args = {"id": doc_id}
        if unit == "token":
            args.update({"start_token": start, "end_token": start + size})
        else:
            args.update({"start_line": start, "end_line": start + size - 1})
        res = await session.call_tool("read_pack", args)
        if res.is_error:
            return {"error": res.content[0].text, "pages": pages}
        joined.append(res.content[0].text)
        pages += 1
        note = res.content[1].text
        if "the end" in note:
            return {"text": "".join(joined), "pages": pages, "last_note": note}
        next_key = '"start_token": ' if unit == "token" else '"start_line": '
        start = int(note.split(next_key)[1].split("}")[0])


async def run(spec):
    params = StdioServerParameters(
        command=spec["command"][0],
        args=spec["command"][1:],
        cwd=spec.get("cwd"),
        env=spec.get("env"),
    )
    out = []
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out.append({"protocol": init.protocol_version, "server": init.server_info.name})
            for step in spec["steps"]:
                op = step["op"]
                if op == "list":
                    tools = await session.list_tools()
                    out.append(
                        [
                            {
                                "name": t.name,
                                "schema": t.input_schema,
                                "read_only": bool(t.annotations and t.annotations.read_only_hint),
                                "description": t.description,
                            }
                            for t in tools.tools
                        ]
                    )
                elif op == "call":
                    res = await session.call_tool(step["tool"], step.get("args", {}))
                    out.append(result_of(res))
                elif op == "page":
                    out.append(await page(session, step["id"], step["size"], "token"))
                elif op == "page_lines":
                    out.append(await page(session, step["id"], step["size"], "line"))
                elif op == "race":
                    holder = {}

                    async def held_call():
                        holder["result"] = await session.call_tool(step["tool"], step["args"])

                    def release():
                        with open(step["fifo"], "w") as fifo:
                            fifo.write(step["write"])

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(held_call)
                        # Long enough for the call to be sent; it then waits for the FIFO.
                        await anyio.sleep(0.5)
                        listed = False
                        # A hang guard, not a measure: a server whose loop the call blocks would
                        # never answer.
                        with anyio.move_on_after(120):
                            await session.list_tools()
                            listed = "result" not in holder
                        await anyio.to_thread.run_sync(release)
                    out.append({"listed_while_waiting": listed, "result": result_of(holder["result"])})
                else:
                    raise SystemExit(f"unknown step {op!r}")
    return out


def main():
    spec = json.load(sys.stdin)
    print(json.dumps(anyio.run(run, spec)))


if __name__ == "__main__":
    main()
