"""The Peek plugin SDK: what plugin authors import.

A plugin subclasses :class:`PluginHook` per service, receives a
:class:`PluginContext` in every phase, publishes its API with
``ctx.publish(obj)``, uses others' with ``ctx.api("name")``, and contributes
routes and the like through the pluggy hooks in :mod:`peek.plugin.hookspecs`
marked with :data:`hookimpl`.
"""

from peek.plugin.context import PluginContext, ServerCalls, ServiceResources
from peek.plugin.errors import (
    ApiConflict,
    ApiNotDeclared,
    ApiUnavailable,
    CircularDependency,
    DependencyFailed,
    HookFailed,
    HookTimeout,
    ManifestError,
    MissingRequirement,
    PluginError,
    PluginNotInstalled,
    RequirementVersionMismatch,
    UnsupportedPeekVersion,
)
from peek.plugin.hook import PluginHook
from peek.plugin.hookspecs import hookimpl
from peek.plugin.tasks import (
    TaskCalls,
    TaskCrashed,
    TaskError,
    TaskFailed,
    TaskOptions,
    TaskTimeout,
    task,
)
from peek.plugin.tuples import (
    AwareDatetime,
    Tuple,
    TupleDefinitionError,
    TupleError,
    UnknownTuple,
    tuple_name,
)
from peek.plugin.vortex import (
    ActionError,
    ActionTimeout,
    Authoriser,
    Caller,
    Selector,
    Subscription,
    VortexApi,
    VortexError,
)

__all__ = [
    "ActionError",
    "ActionTimeout",
    "ApiConflict",
    "ApiNotDeclared",
    "ApiUnavailable",
    "Authoriser",
    "AwareDatetime",
    "Caller",
    "CircularDependency",
    "DependencyFailed",
    "HookFailed",
    "HookTimeout",
    "ManifestError",
    "MissingRequirement",
    "PluginContext",
    "PluginError",
    "PluginHook",
    "PluginNotInstalled",
    "RequirementVersionMismatch",
    "Selector",
    "ServerCalls",
    "ServiceResources",
    "Subscription",
    "TaskCalls",
    "TaskCrashed",
    "TaskError",
    "TaskFailed",
    "TaskOptions",
    "TaskTimeout",
    "Tuple",
    "TupleDefinitionError",
    "TupleError",
    "UnknownTuple",
    "UnsupportedPeekVersion",
    "VortexApi",
    "VortexError",
    "hookimpl",
    "task",
    "tuple_name",
]
