"""``patent-rag mcp`` end to end: the console script as a subprocess, spoken to over stdio by the MCP
SDK's own client, against an index built in a temporary folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from patent_rag.encoding.encoder import Encoder
from patent_rag.ingest import ingest_documents
from patent_rag.stores import open_store
from tests.test_mcp_server import CUTOFF, QUERY, mcp_documents

SCRIPT = Path(sys.executable).with_name("patent-rag")


@pytest.fixture(scope="module")
def index(minilm_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Edge index, closed so that the server process can open it."""
    location = str(tmp_path_factory.mktemp("mcp-stdio") / "index")
    store = open_store(location)
    ingest_documents(mcp_documents(full=False), store=store, encoder=minilm_encoder)
    store.close()
    yield location


def test_stdio_server_answers_a_host(index: str, tmp_path: Path) -> None:
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    parameters = StdioServerParameters(
        command=str(SCRIPT), args=["mcp", "--index", index], env={**os.environ, "NO_COLOR": "1"}
    )
    stderr = tmp_path / "stderr.txt"

    async def run() -> tuple[list[str], dict[str, Any] | None, bool]:
        with stderr.open("w") as errlog:
            async with Client(stdio_client(parameters, errlog=errlog)) as client:
                tools = [tool.name for tool in (await client.list_tools()).tools]
                result = await client.call_tool("prior_art", {"publication_number": QUERY, "top_k": 5})
                bad = await client.call_tool("get_patent", {"publication_number": "US1234567B2"})
                return tools, result.structured_content, bool(bad.is_error)

    tools, data, bad_is_error = anyio.run(run)
    assert sorted(tools) == ["claim_chart", "get_patent", "index_info", "prior_art", "search_patents"]
    assert data is not None and data["publication_number"] == QUERY and data["before"] == CUTOFF.isoformat()
    numbers = [hit["publication_number"] for hit in data["hits"]]
    assert numbers and QUERY not in numbers and "US7315219B2" in numbers
    assert bad_is_error
    log = stderr.read_text()
    assert "patent-rag MCP server on stdio: 6 patents" in log and "Traceback" not in log
