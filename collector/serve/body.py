"""Reading a request body with a size limit: 413 as soon as the limit is passed, never the whole body."""

from __future__ import annotations

from fastapi import HTTPException, Request


def too_large(limit: int) -> HTTPException:
    """The 413 error for a body over ``limit`` bytes."""
    return HTTPException(status_code=413, detail=f"request body larger than {limit} bytes")


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body of ``request``; 413 when ``Content-Length`` says more than ``limit`` bytes (nothing is
    read) or as soon as the streamed body passes it (chunked uploads, or a lying header)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(status_code=400, detail="invalid Content-Length header") from None
        if size > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
