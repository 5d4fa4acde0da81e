"""A griffe extension for the API reference: the bases a user can look up.

A class such as `keras_binary.metrics.AUC` derives from private mixins
(`_KerasConfusionMetric`, `ContractMetric`) and from `keras.metrics.AUC`. The
reference shows only the bases that are public: a keras_binary base that is
not part of the public API is replaced by its own bases (recursively), and a
Keras base is written with its full path (`keras.metrics.AUC`, not `AUC`,
which would read as keras_binary's own).
"""

from __future__ import annotations

from typing import Any

import griffe

PACKAGE = "keras_binary"


def _public(path: str) -> bool:
    return not any(part.startswith("_") for part in path.split("."))


class PublicBases(griffe.Extension):
    """Rewrites each class's bases to public, fully qualified names."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path == PACKAGE:
            self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        for member in list(obj.members.values()):
            if member.is_alias:
                continue
            if member.is_class:
                member.bases = self._bases(member, set())
            if member.is_module or member.is_class:
                self._walk(member)

    def _bases(self, cls: griffe.Class, seen: set[str]) -> list[Any]:
        result: list[Any] = []
        for base in cls.bases:
            path = getattr(base, "canonical_path", None) or str(base)
            if path.startswith(f"{PACKAGE}."):
                exported = self._exported(cls, path)
                if exported is not None:
                    result.append(exported)
                    continue
                try:
                    target = cls.modules_collection[path]
                except KeyError:
                    result.append(str(base))
                    continue
                if path not in seen:
                    seen.add(path)
                    result.extend(b for b in self._bases(target, seen) if b not in result)
            else:
                result.append(str(base))
        return result

    def _exported(self, cls: griffe.Class, path: str) -> str | None:
        """The public path of a keras_binary class (`keras_binary.metrics.FBetaScore`), if it has one."""
        module, _, name = path.rpartition(".")
        parts = module.split(".")
        # The shortest public path: the package first, then each sub-package down to the module.
        for depth in range(1, len(parts) + 1):
            candidate = ".".join(parts[:depth])
            if not _public(candidate):
                break
            try:
                owner = cls.modules_collection[candidate]
            except KeyError:
                continue
            if name in (owner.exports or ()):
                return f"{candidate}.{name}"
        return None
