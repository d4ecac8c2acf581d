"""Thin adapters that expose patent_rag to frameworks other than LlamaIndex (LangChain, MCP, HTTP).

The LlamaIndex adapters live in the package itself (:mod:`patent_rag.llama_index`) because LlamaIndex
is the primary target; an adapter here wraps :class:`patent_rag.Encoder` and
:class:`patent_rag.PatentSearcher` without re-implementing them. None ships yet.
"""
