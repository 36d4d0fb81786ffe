"""Tuples: the typed data classes plugins move through the vortex.

A tuple is a :class:`Tuple` subclass named ``<plugin>.<Name>`` by its ``tag``::

    from datetime import date
    from decimal import Decimal
    from peek.plugin import AwareDatetime, Tuple

    class Reading(Tuple, tag="weather.Reading"):
        station: str
        celsius: float
        taken: AwareDatetime          # datetimes must carry a time zone
        day: date | None = None
        price: Decimal = Decimal("0")
        raw: bytes = b""
        tags: list[str] = []
        extra: dict[str, int] = {}
        origin: "Station | None" = None   # a nested tuple: name its concrete type

Fields may be ``str``, ``int``, ``float``, ``bool``, :data:`AwareDatetime`,
``date``, ``Decimal``, ``bytes``, ``None`` (as ``X | None``), lists and
dicts (``dict[str, ...]``) of these, and nested tuples declared with their
concrete type (or a union of tuple types). Tuples are ``msgspec.Struct``
classes: keyword-only, compared by value, cheap to build.

A plugin registers the tuples it sends or receives, once per service, in its
``load`` hook: ``ctx.resources.vortex.register_tuples("weather", Reading)``.
Registration checks the name and the field types; a message naming a tuple
that no plugin registered is refused with :class:`UnknownTuple`.
"""

from __future__ import annotations

import datetime
from typing import Annotated, ClassVar

import msgspec

from peek.errors import PeekError

__all__ = [
    "AwareDatetime",
    "Tuple",
    "TupleDefinitionError",
    "TupleError",
    "UnknownTuple",
    "check_tuple_type",
    "tuple_name",
]

TAG_FIELD = "_t"

#: A ``datetime`` field that must carry a time zone (naive values are refused on decode).
AwareDatetime = Annotated[datetime.datetime, msgspec.Meta(tz=True)]


class Tuple(msgspec.Struct, kw_only=True, tag_field=TAG_FIELD):
    """Base of every tuple. Subclass with ``tag="<plugin>.<Name>"`` (see the module doc)."""

    __peek_tuple__: ClassVar[bool] = True


class TupleError(PeekError):
    """Base of the errors about tuples."""


class UnknownTuple(TupleError):
    """A payload names a tuple (``name``) that is not registered on this service."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown tuple {name!r}: no plugin registered it on this service")


class TupleDefinitionError(TupleError):
    """A tuple class cannot be registered; ``reason`` says why."""

    def __init__(self, cls: object, reason: str) -> None:
        self.cls = cls
        self.reason = reason
        name = getattr(cls, "__qualname__", repr(cls))
        super().__init__(f"tuple class {name} cannot be registered: {reason}")


def tuple_name(cls: type[Tuple]) -> str:
    """The registered name (``<plugin>.<Name>``) of a tuple class."""
    tag = cls.__struct_config__.tag
    return tag if isinstance(tag, str) else cls.__name__


_SCALARS = (
    msgspec.inspect.StrType,
    msgspec.inspect.IntType,
    msgspec.inspect.FloatType,
    msgspec.inspect.BoolType,
    msgspec.inspect.NoneType,
    msgspec.inspect.DateType,
    msgspec.inspect.DecimalType,
    msgspec.inspect.BytesType,
    msgspec.inspect.AnyType,
)


def check_tuple_type(plugin: str, cls: object) -> str:
    """Check that ``cls`` may be registered by ``plugin``; its name, or TupleDefinitionError."""
    if not (isinstance(cls, type) and issubclass(cls, Tuple)) or cls is Tuple:
        raise TupleDefinitionError(cls, "it is not a subclass of peek.plugin.Tuple")
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TupleDefinitionError(cls, f'give it a name: class X(Tuple, tag="{plugin}.X")')
    owner, dot, short = tag.partition(".")
    if owner != plugin or not dot or not short.isidentifier():
        raise TupleDefinitionError(cls, f"its name {tag!r} must be '{plugin}.<Name>'")
    try:
        info = msgspec.inspect.type_info(cls)
    except (TypeError, ValueError) as exc:
        raise TupleDefinitionError(cls, f"unsupported field type: {exc}") from None
    assert isinstance(info, msgspec.inspect.StructType)
    for field in info.fields:
        _check_field(cls, field.name, field.type)
    return tag


def _check_field(cls: type, name: str, t: msgspec.inspect.Type) -> None:
    if isinstance(t, msgspec.inspect.DateTimeType):
        if t.tz is not True:
            raise TupleDefinitionError(
                cls, f"field {name!r}: a datetime must be peek.plugin.AwareDatetime (with a zone)"
            )
        return
    if isinstance(t, _SCALARS):
        return
    if isinstance(t, msgspec.inspect.StructType):
        if not issubclass(t.cls, Tuple):
            raise TupleDefinitionError(cls, f"field {name!r}: nested structs must be tuples")
        return
    if isinstance(t, msgspec.inspect.UnionType):
        for member in t.types:
            _check_field(cls, name, member)
        return
    if isinstance(t, msgspec.inspect.ListType | msgspec.inspect.VarTupleType):
        _check_field(cls, name, t.item_type)
        return
    if isinstance(t, msgspec.inspect.DictType):
        if not isinstance(t.key_type, msgspec.inspect.StrType):
            raise TupleDefinitionError(cls, f"field {name!r}: dict keys must be str")
        _check_field(cls, name, t.value_type)
        return
    raise TupleDefinitionError(cls, f"field {name!r}: type {t!r} is not supported")
