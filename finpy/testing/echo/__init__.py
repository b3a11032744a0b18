"""The Echo gRPC service of :mod:`finpy.testing`, shipped as generated code.

``echo.proto`` (package ``finpy.testing.echo``) has one method per call shape:
``Echo`` (unary), ``Expand`` (server streaming: ``count`` replies), ``Collect`` (client
streaming: joins the messages) and ``Chat`` (bidirectional: echoes each request). Every
``EchoReply`` carries the name of the backend that produced it in ``server``.

Regenerate ``echo_pb2.py``, ``echo_pb2.pyi`` and ``echo_pb2_grpc.py`` after editing the
proto with ``python -m finpy.testing.echo.regenerate``.
"""

from finpy.testing.echo.echo_pb2 import EchoReply, EchoRequest
from finpy.testing.echo.echo_pb2_grpc import EchoServicer, EchoStub, add_EchoServicer_to_server
from finpy.testing.echo.service import EchoService

__all__ = [
    "EchoReply",
    "EchoRequest",
    "EchoService",
    "EchoServicer",
    "EchoStub",
    "add_EchoServicer_to_server",
]
