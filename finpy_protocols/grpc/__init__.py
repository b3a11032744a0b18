"""finpy for gRPC: a drop-in ``grpc.aio.Channel``, a stub factory and a stub decorator.

Generated stubs run unchanged on a :class:`Channel`; every call then goes
through finpy's client stack and load balancer over the endpoints of a
resolved target.  finpy's own failures are ``grpc.aio.AioRpcError``\\s with the
right status code (:class:`FinpyRpcError`); server failures pass through
untouched.
"""

from finpy_protocols.grpc.calls import (
    StreamStreamCall,
    StreamUnaryCall,
    UnaryStreamCall,
    UnaryUnaryCall,
)
from finpy_protocols.grpc.channel import Channel
from finpy_protocols.grpc.classifier import GrpcClassifier
from finpy_protocols.grpc.errors import FinpyRpcError, status_code_of, to_rpc_error
from finpy_protocols.grpc.health import HealthCheck
from finpy_protocols.grpc.request import (
    CallShape,
    GrpcRequest,
    GrpcResponse,
    StreamResponse,
    UnaryResponse,
)
from finpy_protocols.grpc.server import (
    IncomingCall,
    ServerInterceptor,
    SyncServerInterceptor,
    current_incoming_call,
    run_async,
)
from finpy_protocols.grpc.stub import aclose, channel_of, client, stub
from finpy_protocols.grpc.transport import GrpcChannelConfig, GrpcTransport

__all__ = [
    "CallShape",
    "Channel",
    "FinpyRpcError",
    "GrpcChannelConfig",
    "GrpcClassifier",
    "GrpcRequest",
    "GrpcResponse",
    "GrpcTransport",
    "HealthCheck",
    "IncomingCall",
    "ServerInterceptor",
    "StreamResponse",
    "StreamStreamCall",
    "StreamUnaryCall",
    "SyncServerInterceptor",
    "UnaryResponse",
    "UnaryStreamCall",
    "UnaryUnaryCall",
    "aclose",
    "channel_of",
    "client",
    "current_incoming_call",
    "run_async",
    "status_code_of",
    "stub",
    "to_rpc_error",
]
