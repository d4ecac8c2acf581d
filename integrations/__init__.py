"""Thin adapters that expose patent_rag to frameworks other than LlamaIndex (LangChain, MCP, HTTP).

The LlamaIndex adapters live in the package itself (``patent_rag.PatentEmbedding``,
``patent_rag.PriorArtRetriever``) because LlamaIndex is the primary target; an adapter here wraps
:class:`patent_rag.Encoder` and :class:`patent_rag.PriorArtRetriever` without re-implementing them.
None ships yet.
"""
