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
                self._keep_init(member)
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

    def _keep_init(self, cls: griffe.Class) -> None:
        """Gives a class the `__init__` it inherits from a base this extension hides.

        `merge_init_into_class` documents the signature of the `__init__`
        found along the class's bases; once a private base is replaced by its
        own bases, its `__init__` would no longer be found, and the class's
        `Args` would not match the signature shown.
        """
        if "__init__" in cls.members:
            return
        try:
            init = cls.all_members.get("__init__")
            init = init.final_target if init is not None and init.is_alias else init
        except Exception:  # noqa: BLE001 - a base griffe cannot resolve: leave the class as it is
            return
        if init is not None:
            cls.set_member("__init__", griffe.Alias("__init__", init, parent=cls))

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
