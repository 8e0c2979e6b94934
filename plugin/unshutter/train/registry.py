"""A tiny name -> class registry so YAML configs pick components by ``type:``.

Example::

    @ARCH_REGISTRY.register()
    class FlowUNet(nn.Module): ...

    net = ARCH_REGISTRY.build({"type": "FlowUNet", "base": 16})
"""

from __future__ import annotations

from typing import Any, Callable


class Registry:
    """Maps names to classes or factories; :meth:`build` instantiates from a dict."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Callable[..., Any]] = {}

    def register(self, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(obj: Callable[..., Any]) -> Callable[..., Any]:
            key = name or obj.__name__
            if key in self._items:
                raise ValueError(f"{self.kind} {key!r} registered twice")
            self._items[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        try:
            return self._items[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} type {name!r}; known: {', '.join(sorted(self._items))}") from None

    def build(self, spec: dict[str, Any]) -> Any:
        if "type" not in spec:
            raise ValueError(f"{self.kind} spec needs a 'type:' key, got {sorted(spec)}")
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        cls = self.get(str(spec["type"]))
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"{self.kind} {spec['type']}: bad options: {exc}") from None

    def names(self) -> list[str]:
        return sorted(self._items)


ARCH_REGISTRY = Registry("arch")
