"""The ergonomic surface: make a stub in one call, or decorate a stub class.

::

    from finpy_protocols import grpc as fgrpc

    # one call: a stub whose channel is a finpy Channel
    users = fgrpc.client(UsersStub, "dns:///users.svc:50051", timeout=1.0,
                         methods={"GetUser": finpy.MethodConfig(idempotent=True, timeout=0.2)})
    await users.GetUser(req)
    await fgrpc.aclose(users)

    # a decorated stub class: construct it from a target
    @fgrpc.stub(timeout=1.0, methods={"GetUser": finpy.MethodConfig(idempotent=True)})
    class Users(UsersStub):
        pass

    users = Users("dns:///users.svc:50051")          # or Users(existing_channel)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from finpy.errors import ConfigurationError
from finpy.method import MethodConfig
from finpy.resolver.resolution import Resolution
from finpy_protocols.grpc.channel import Channel

__all__ = ["aclose", "channel_of", "client", "stub"]

StubT = TypeVar("StubT")
ClassT = TypeVar("ClassT", bound=type)

_ATTR = "finpy_channel"


def client(
    stub_class: Callable[[Any], StubT], target: str | Resolution, **channel_options: Any
) -> StubT:
    """``stub_class(Channel(target, **channel_options))``, remembering the channel.

    ``channel_options`` are those of :class:`Channel`.  Close the stub's channel
    with :func:`aclose` (or ``await channel_of(stub).close()``).
    """
    if not callable(stub_class):
        raise ConfigurationError(f"stub_class must be a generated stub class, got {stub_class!r}")
    channel = Channel(target, **channel_options)
    instance = stub_class(channel)
    try:
        setattr(instance, _ATTR, channel)
    except AttributeError as e:  # a stub class with __slots__
        raise ConfigurationError(f"cannot attach a finpy channel to {stub_class!r}: {e}") from None
    return instance


def channel_of(stub_instance: object) -> Channel:
    """The finpy :class:`Channel` behind a stub made by :func:`client` or :func:`stub`."""
    channel = getattr(stub_instance, _ATTR, None)
    if not isinstance(channel, Channel):
        raise ConfigurationError(f"{stub_instance!r} was not made by finpy_protocols.grpc")
    return channel


async def aclose(stub_instance: object) -> None:
    """Close the finpy channel behind a stub."""
    await channel_of(stub_instance).close()


def stub(
    *,
    methods: Mapping[str, MethodConfig] | None = None,
    **channel_defaults: Any,
) -> Callable[[ClassT], ClassT]:
    """Class decorator: the stub class can then be built from a target.

    ``Decorated(target, **overrides)`` makes a :class:`Channel` with the
    decorator's defaults, then ``overrides``; per-method ``methods`` merge
    (the constructor's win field by field).  ``Decorated(channel)`` still
    accepts any ``grpc.aio.Channel``.
    """
    methods = dict(methods or {})
    for pattern, cfg in methods.items():
        if not isinstance(cfg, MethodConfig):
            raise ConfigurationError(
                f"methods[{pattern!r}] must be a finpy.MethodConfig, got {cfg!r}"
            )

    def decorate(cls: ClassT) -> ClassT:
        original_init: Any = cls.__init__  # type: ignore[misc]

        @functools.wraps(original_init)
        def __init__(self: Any, target: Any, **overrides: Any) -> None:
            if isinstance(target, (str, Resolution)):
                merged = dict(methods)
                for pattern, cfg in dict(overrides.pop("methods", None) or {}).items():
                    merged[pattern] = cfg.merged_over(merged[pattern]) if pattern in merged else cfg
                options = {**channel_defaults, **overrides}
                channel = Channel(target, methods=merged, **options)
                original_init(self, channel)
                setattr(self, _ATTR, channel)
            else:
                if overrides:
                    raise ConfigurationError(
                        f"options {sorted(overrides)} need a target string, not an existing channel"
                    )
                original_init(self, target)
                if isinstance(target, Channel):
                    setattr(self, _ATTR, target)

        cls.__init__ = __init__  # type: ignore[misc]
        cls.finpy_methods = dict(methods)  # type: ignore[attr-defined]
        return cls

    return decorate
