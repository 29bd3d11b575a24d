"""The HTTP frontend of the reference pipeline: FastAPI on uvicorn.

``create_app`` (app.py) builds the ASGI app; ``serve`` (serve.py) runs it. A wish is
answered 202 only once durably enqueued through a group commit (batcher.py); bad input gets
an RFC 9457 problem naming the field (problems.py, body.py); every response carries strict
security headers (security.py).
"""
